package events

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// refsLeft lists the $ref values under node.
func refsLeft(node any) []string {
	var refs []string
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if s, ok := v.(string); ok && k == "$ref" {
				refs = append(refs, s)
			}
			refs = append(refs, refsLeft(v)...)
		}
	case []any:
		for _, v := range n {
			refs = append(refs, refsLeft(v)...)
		}
	}
	return refs
}

func TestCompiledSchemasHaveTheDefinitionsInlined(t *testing.T) {
	// Every field would otherwise cost a $ref hop in the validator, on
	// every event (see BenchmarkIngest), and so would the envelope.
	reg, err := compileRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range Types() {
		if refs := refsLeft(reg.docs[schemaBase+schemaFile(typ)]); len(refs) != 0 {
			t.Errorf("%s: $refs left %v, want none", typ, refs)
		}
	}
}

// TestMergedEnvelopeSameVerdicts holds the schemas with the envelope merged
// in to the problems the schemas as written find, on every seed body of
// FuzzParseBatch (accepted and refused ones alike).
func TestMergedEnvelopeSameVerdicts(t *testing.T) {
	merged, err := compileSchemas(true)
	if err != nil {
		t.Fatal(err)
	}
	asWritten, err := compileSchemas(false)
	if err != nil {
		t.Fatal(err)
	}
	if refs := refsLeft(asWritten.docs[schemaBase+schemaFile(OrderPaid)]); len(refs) != 1 || refs[0] != envelopeFile {
		t.Fatalf("unmerged order.paid schema refers to %v, want only %q", refs, envelopeFile)
	}
	files, err := filepath.Glob("testdata/fuzz/FuzzParseBatch/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seeds: %v", err)
	}
	bodies := make([][]byte, 0, len(files)+2)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, quoted, ok := strings.Cut(string(b), "[]byte(")
		body, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(quoted), ")")))
		if !ok || err != nil {
			t.Fatalf("%s: not a []byte seed: %v", f, err)
		}
		bodies = append(bodies, []byte(body))
	}
	// The envelope's own complaints, all at once.
	bodies = append(bodies, []byte(`{"type":"order.paid","id":"a b","version":2,"occurred_at":"yesterday","member_id":"","data":[],"extra":1}`),
		[]byte(`[{"type":"nope"},{"type":"member.registered","data":{"email":"x"}},{}]`))
	checked := 0
	for _, body := range bodies {
		_, insts, batch, ok := splitBody(body)
		if !ok {
			continue
		}
		for i, inst := range insts {
			prefix := elemPrefix(batch, i)
			got := newValidationError(merged.check(inst, prefix)).Problems
			want := newValidationError(asWritten.check(inst, prefix)).Problems
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s:\nmerged envelope: %v\nas written:      %v", body, got, want)
			}
			if len(want) > 0 {
				checked++
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d refused events compared", checked)
	}
}

func TestInlineDefs(t *testing.T) {
	docs := map[string]any{
		schemaBase + "a.json": map[string]any{
			"$defs": map[string]any{
				"money": map[string]any{"type": "string", "pattern": "^[0-9]+$", "x-rule": "must be money"},
				"line":  map[string]any{"type": "object", "properties": map[string]any{"amount": map[string]any{"$ref": "#/$defs/money"}}},
			},
		},
	}
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"a definition with a description beside it",
			map[string]any{"$ref": "a.json#/$defs/money", "description": "the total"},
			map[string]any{"type": "string", "pattern": "^[0-9]+$", "x-rule": "must be money", "description": "the total"}},
		{"nested references resolve against their own file",
			map[string]any{"$ref": "a.json#/$defs/line"},
			map[string]any{"type": "object", "properties": map[string]any{"amount": map[string]any{"type": "string", "pattern": "^[0-9]+$", "x-rule": "must be money"}}}},
		{"a validating keyword beside the reference keeps it, naming its file",
			map[string]any{"$ref": "#/$defs/money", "pattern": "^1"},
			map[string]any{"$ref": "a.json#/$defs/money", "pattern": "^1"}},
		{"a whole document stays a reference",
			map[string]any{"$ref": "a.json"},
			map[string]any{"$ref": "a.json"}},
		{"an unknown definition is left to the compiler",
			map[string]any{"$ref": "a.json#/$defs/nope"},
			map[string]any{"$ref": "a.json#/$defs/nope"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := inlineDefs(docs, schemaBase+"a.json", tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("inlineDefs = %v, want %v", got, tc.want)
			}
		})
	}
	// Nothing is changed in place.
	if line := docs[schemaBase+"a.json"].(map[string]any)["$defs"].(map[string]any)["line"]; !strings.Contains(refsLeft(line)[0], "money") {
		t.Error("inlineDefs changed the definitions it read")
	}
}
