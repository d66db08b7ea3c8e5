package infra

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// CloudFormation YAML uses short-form tags (!Ref, !GetAtt, !Sub, !If, ...)
// that no Go type knows. Decoding into yaml.Node keeps them as node tags, so
// these helpers read templates node by node and render intrinsic functions
// as short strings ("Ref:Table", "GetAtt:Table.Arn", "Sub:${Table.Arn}/x").

// repoRoot is the repository root; go test runs in the package directory.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatalf("resolve repository root: %v", err)
	}
	return root
}

// skipUnlessRequired skips the test for a tool or checkout this machine
// lacks, or fails it under MEMBERFLOW_REQUIRE_LOCAL=1 (make test, CI) so
// a check cannot pass by not running.
func skipUnlessRequired(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("MEMBERFLOW_REQUIRE_LOCAL") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// loadCFN parses a CloudFormation/SAM template and returns its top mapping.
func loadCFN(tb testing.TB, path string) *yaml.Node {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read template: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		tb.Fatalf("parse %s: %v", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || deref(doc.Content[0]).Kind != yaml.MappingNode {
		tb.Fatalf("%s: top level is not a single YAML mapping", path)
	}
	return deref(doc.Content[0])
}

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

type pair struct {
	key string
	val *yaml.Node
}

// pairs lists a mapping's entries in file order (duplicates included); nil
// for anything that is not a mapping.
func pairs(n *yaml.Node) []pair {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, pair{key: deref(n.Content[i]).Value, val: deref(n.Content[i+1])})
	}
	return out
}

// get walks mapping keys; nil when any step is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		var next *yaml.Node
		for _, p := range pairs(n) {
			if p.key == k {
				next = p.val
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// items returns a sequence's items, or the node itself for a single value
// (IAM's Action and Resource accept both); nil for a missing node.
func items(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.SequenceNode && !isShortTag(n) {
		out := make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			out[i] = deref(c)
		}
		return out
	}
	return []*yaml.Node{n}
}

func isShortTag(n *yaml.Node) bool {
	return strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!")
}

// intrinsic reports the CloudFormation function a node is ("Ref",
// "Fn::GetAtt", ...) and its argument, for both the short tag form and the
// long one-key-mapping form.
func intrinsic(n *yaml.Node) (fn string, arg *yaml.Node, ok bool) {
	n = deref(n)
	if n == nil {
		return "", nil, false
	}
	if isShortTag(n) {
		name := strings.TrimPrefix(n.Tag, "!")
		if name != "Ref" && name != "Condition" {
			name = "Fn::" + name
		}
		arg := *n
		arg.Tag = ""
		return name, &arg, true
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := deref(n.Content[0]).Value
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, deref(n.Content[1]), true
		}
	}
	return "", nil, false
}

// render turns a value into a comparable string: plain scalars as they are,
// Ref as "Ref:X", GetAtt as "GetAtt:X.Attr", Sub as "Sub:<template string>",
// anything else as "<fn>:..." or "<sequence>"/"<mapping>".
func render(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return ""
	}
	if fn, arg, ok := intrinsic(n); ok {
		switch fn {
		case "Ref":
			return "Ref:" + arg.Value
		case "Fn::GetAtt":
			if arg.Kind == yaml.SequenceNode {
				parts := make([]string, 0, len(arg.Content))
				for _, c := range arg.Content {
					parts = append(parts, render(c))
				}
				return "GetAtt:" + strings.Join(parts, ".")
			}
			return "GetAtt:" + arg.Value
		case "Fn::Sub":
			if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
				return "Sub:" + deref(arg.Content[0]).Value
			}
			return "Sub:" + arg.Value
		default:
			return strings.TrimPrefix(fn, "Fn::") + ":..."
		}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value
	case yaml.SequenceNode:
		return "<sequence>"
	case yaml.MappingNode:
		return "<mapping>"
	}
	return ""
}

// renderAll renders each item of a value or sequence.
func renderAll(n *yaml.Node) []string {
	var out []string
	for _, it := range items(n) {
		out = append(out, render(it))
	}
	return out
}

// resourcesOfType lists logical ids of the given type in file order.
func resourcesOfType(tpl *yaml.Node, typ string) []string {
	var ids []string
	for _, p := range pairs(get(tpl, "Resources")) {
		if render(get(p.val, "Type")) == typ {
			ids = append(ids, p.key)
		}
	}
	return ids
}

// iamStatement is one statement of an IAM policy, rendered.
type iamStatement struct {
	where     string // for messages
	effect    string
	actions   []string
	resources []string
	hasNot    bool // NotAction / NotResource present
}

// statementsOf reads the statements of a policy document node (a mapping
// with Statement) or of a bare Statement list.
func statementsOf(where string, doc *yaml.Node) []iamStatement {
	var out []iamStatement
	for i, st := range items(get(doc, "Statement")) {
		s := iamStatement{
			where:     where + " statement " + strconv.Itoa(i),
			effect:    render(get(st, "Effect")),
			actions:   renderAll(get(st, "Action")),
			resources: renderAll(get(st, "Resource")),
			hasNot:    get(st, "NotAction") != nil || get(st, "NotResource") != nil,
		}
		if sid := render(get(st, "Sid")); sid != "" {
			s.where = where + " statement " + sid
		}
		out = append(out, s)
	}
	return out
}

// grants folds Allow statements into lower-cased action -> resources, and
// reports statements that grant on "*" or use wildcards or Not* elements.
func grants(sts []iamStatement) (map[string][]string, []string) {
	got := map[string][]string{}
	var problems []string
	for _, s := range sts {
		if s.hasNot {
			problems = append(problems, s.where+": NotAction/NotResource is not allowed")
		}
		for _, r := range s.resources {
			if r == "*" {
				problems = append(problems, s.where+`: Resource "*"`)
			}
		}
		if len(s.resources) == 0 {
			problems = append(problems, s.where+": no Resource")
		}
		for _, a := range s.actions {
			if strings.Contains(a, "*") {
				problems = append(problems, s.where+": wildcard action "+a)
			}
		}
		if s.effect != "Allow" {
			continue
		}
		for _, a := range s.actions {
			got[strings.ToLower(a)] = union(got[strings.ToLower(a)], s.resources)
		}
	}
	return got, problems
}

// compareGrants checks that got grants exactly the actions of want, each on
// exactly the resources listed there.
func compareGrants(t *testing.T, who string, want, got map[string][]string) {
	t.Helper()
	// IAM action names are case-insensitive; messages use the table's spelling.
	wantLower := map[string][]string{}
	spelling := map[string]string{}
	for a, rs := range want {
		wantLower[strings.ToLower(a)] = rs
		spelling[strings.ToLower(a)] = a
	}
	for _, a := range sortedKeys(wantLower) {
		rs, ok := got[a]
		if !ok {
			t.Errorf("%s: IAM action %s missing (the code uses it)", who, spelling[a])
			continue
		}
		missing, extra := setDiff(wantLower[a], rs)
		for _, r := range missing {
			t.Errorf("%s: %s not granted on %s", who, spelling[a], r)
		}
		for _, r := range extra {
			t.Errorf("%s: %s granted on %s, which the expectation table does not list", who, spelling[a], r)
		}
	}
	for _, a := range sortedKeys(got) {
		if _, ok := wantLower[a]; !ok {
			t.Errorf("%s: IAM action %s granted but not in the expectation table (least privilege: remove it, or add it to the table if the code needs it)", who, a)
		}
	}
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// setDiff returns what want has that got lacks, and what got has beyond want.
func setDiff(want, got []string) (missing, extra []string) {
	in := func(xs []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x] = true
		}
		return m
	}
	w, g := in(want), in(got)
	for x := range w {
		if !g[x] {
			missing = append(missing, x)
		}
	}
	for x := range g {
		if !w[x] {
			extra = append(extra, x)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
