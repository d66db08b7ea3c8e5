package journey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// Root is the path of the document as a whole in problems.
const Root = "$"

// Position is where a path's value starts in the source (1-based).
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	// text is the column where a one-line scalar's value appears
	// verbatim in the source (past an opening quote), 0 when escapes,
	// folding or several lines mean the value is not written as is.
	text int
}

// Positions maps each path of a parsed source to where its value is, so
// that problems found later (Validate) can point at their line.
type Positions map[string]Position

// Parse reads one journey from YAML or JSON strictly: unknown keys, keys
// given twice, values of the wrong type, durations and shares that do not
// read, anchors and several documents are problems naming the path and
// the expected type, returned together as a *ValidationError whose
// problems carry line and column. Parse checks the shape only; Validate
// checks the rules.
func Parse(src []byte) (Definition, error) {
	d, _, err := ParseWithPositions(src)
	return d, err
}

// ParseWithPositions is Parse that also returns where every path of src
// is, for Positions.Locate.
func ParseWithPositions(src []byte) (Definition, Positions, error) {
	root, p := parseNode(src)
	if p != nil {
		return Definition{}, nil, &ValidationError{Problems: []Problem{*p}}
	}
	dec := decoder{pos: Positions{}, lines: strings.Split(string(src), "\n")}
	var def Definition
	dec.value(root, Root, reflect.ValueOf(&def).Elem())
	if len(dec.problems) > 0 {
		ps := problems{list: dec.problems}
		return Definition{}, dec.pos, ps.err()
	}
	return def, dec.pos, nil
}

// Decode reads and validates one journey: Parse, then Validate, with every
// problem pointing at its line. It is what publishing and the validate
// endpoint run; the definition is returned even when it does not validate,
// for the caller to show.
func Decode(src []byte, c Checks) (Definition, error) {
	d, pos, err := ParseWithPositions(src)
	if err != nil {
		return Definition{}, err
	}
	return d, pos.Locate(d.Validate(c))
}

// Locate fills in the line and column of the problems of a
// *ValidationError that have none, from the nearest path that has a
// position (a missing key points at the mapping that lacks it). Other
// errors are returned as they are.
func (pos Positions) Locate(err error) error {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &ValidationError{Problems: make([]Problem, len(ve.Problems))}
	for i, p := range ve.Problems {
		if p.Line == 0 {
			path := p.Path
			for {
				if at, ok := pos[path]; ok {
					p.Line, p.Column = at.Line, at.Column
					if path == p.Path && p.ExprColumn > 0 && at.text > 0 {
						p.Column = at.text + p.ExprColumn - 1
					}
					break
				}
				parent, ok := parentPath(path)
				if !ok {
					break
				}
				path = parent
			}
		}
		out.Problems[i] = p
	}
	return out
}

// parentPath drops the last segment of a path: "steps[2].wait" →
// "steps[2]" → "steps" → "$".
func parentPath(path string) (string, bool) {
	if path == Root || path == "" {
		return "", false
	}
	cut := 0 // where the last segment starts
	for i := 0; i < len(path); {
		switch path[i] {
		case '.':
			cut = i
			i++
		case '[':
			cut = i
			if strings.HasPrefix(path[i:], `["`) {
				q, err := strconv.QuotedPrefix(path[i+1:])
				if err != nil {
					return Root, true
				}
				i += 1 + len(q)
			}
			for i < len(path) && path[i] != ']' {
				i++
			}
			i++
		default:
			i++
		}
	}
	if cut == 0 {
		return Root, true
	}
	return path[:cut], true
}

// plainKey is a map key written after a dot in paths; others are quoted.
var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// keyPath is the path of key under path.
func keyPath(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == Root {
		return key
	}
	return path + "." + key
}

// yamlLine finds the line of yaml.v3's syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserErrors are the syntax errors yaml.v3's parser (not its scanner)
// reports: it gives their line 0-based, one less than the line meant.
var parserErrors = map[string]bool{
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected key":              true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
}

// maxJSONDepth bounds the nesting of JSON sources: a journey is a few
// levels deep, and a deeply nested body must not cost a deep recursion.
const maxJSONDepth = 32

// parseNode reads src into one YAML node tree. JSON is YAML, except that
// yaml.v3 refuses some valid JSON (the escapes \/ and surrogate pairs), so
// a source that is a valid JSON object is read by encoding/json instead.
func parseNode(src []byte) (*yaml.Node, *Problem) {
	trimmed := bytes.TrimLeft(src, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid(src) {
		n, err := jsonNode(src)
		if err != nil {
			return nil, &Problem{Path: Root, Rule: err.Error()}
		}
		return n, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	err := dec.Decode(&doc)
	switch {
	case errors.Is(err, io.EOF):
		return nil, &Problem{Path: Root, Rule: "the document is empty"}
	case err != nil:
		p := &Problem{Path: Root, Rule: "is not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Rule = "is not valid YAML: " + m[2]
			if parserErrors[m[2]] {
				p.Line++
			}
		}
		return nil, p
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		p := &Problem{Path: Root, Rule: "a journey is one document: remove the second one (after ---)"}
		if err == nil {
			p.Line = next.Line
		}
		return nil, p
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Problem{Path: Root, Rule: "the document is empty"}
	}
	return doc.Content[0], nil
}

// jsonNode reads a JSON document into a YAML node tree with the positions
// of its values.
func jsonNode(src []byte) (*yaml.Node, error) {
	j := jsonReader{src: src, dec: json.NewDecoder(bytes.NewReader(src))}
	j.dec.UseNumber()
	n, err := j.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := j.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("a journey is one JSON object: remove what follows it")
	}
	return n, nil
}

// jsonReader turns encoding/json tokens into YAML nodes.
type jsonReader struct {
	src []byte
	dec *json.Decoder
}

// value reads the next JSON value.
func (j *jsonReader) value(depth int) (*yaml.Node, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("is nested more than %d levels deep", maxJSONDepth)
	}
	start := int(j.dec.InputOffset())
	for start < len(j.src) && strings.IndexByte(" \t\r\n,:", j.src[start]) >= 0 {
		start++
	}
	line, col := lineColumn(j.src, start)
	tok, err := j.dec.Token()
	if err != nil {
		return nil, fmt.Errorf("is not valid JSON: %w", err)
	}
	n := &yaml.Node{Line: line, Column: col}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
		} else {
			n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
		}
		for j.dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := j.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, k)
			}
			v, err := j.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
		if _, err := j.dec.Token(); err != nil {
			return nil, fmt.Errorf("is not valid JSON: %w", err)
		}
	case string:
		n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "!!str", t, yaml.DoubleQuotedStyle
	case json.Number:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!int", t.String()
		if strings.ContainsAny(n.Value, ".eE") {
			n.Tag = "!!float"
		}
	case bool:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!bool", strconv.FormatBool(t)
	case nil:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!null", "null"
	}
	return n, nil
}

// lineColumn is the 1-based line and column (in characters) of offset.
func lineColumn(src []byte, offset int) (line, col int) {
	offset = min(offset, len(src))
	before := src[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[lineStart:]) + 1
}

// decoder walks a node tree into the model's types by their yaml tags,
// collecting every problem instead of stopping at the first.
type decoder struct {
	problems []Problem
	pos      Positions
	lines    []string
}

// fail records a problem at n.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Path: path, Rule: fmt.Sprintf(format, args...), Line: n.Line, Column: n.Column})
}

var (
	durationType = reflect.TypeFor[Duration]()
	percentType  = reflect.TypeFor[Percent]()
	eventsType   = reflect.TypeFor[Events]()
	decimalType  = reflect.TypeFor[decimal.Decimal]()
	casesType    = reflect.TypeFor[[]Case]()
	pathsType    = reflect.TypeFor[[]Path]()
)

// value decodes n at path into v.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	d.record(n, path)
	switch {
	case n.Kind == yaml.AliasNode || n.Anchor != "":
		d.fail(n, path, "anchors and aliases (&name, *name) are not supported: write the value out")
		return
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		if t := v.Type(); t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && (t.Elem().NumField() == 0 || t == reflect.TypeFor[*EndStep]()) {
			// api: and end: carry nothing, and YAML reads them as null.
			d.fail(n, path, "is empty: write {} after it, like end: {}")
			return
		}
		d.fail(n, path, "is empty: give a value or remove the key")
		return
	}
	switch v.Type() {
	case durationType:
		x, err := durationNode(n)
		if err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(x))
		return
	case percentType:
		x, err := percentNode(n)
		if err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(x))
		return
	case eventsType:
		d.events(n, path, v.Addr().Interface().(*Events))
		return
	case decimalType:
		x, err := decimalNode(n)
		if err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(x))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		x := reflect.New(v.Type().Elem())
		d.value(n, path, x.Elem())
		v.Set(x)
	case reflect.Struct:
		d.mapping(n, path, v)
	case reflect.Slice:
		d.sequence(n, path, v)
	case reflect.Map:
		d.stringMap(n, path, v)
	case reflect.String:
		s, ok := d.str(n, path)
		if ok {
			v.SetString(s)
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.fail(n, path, "must be a whole number, not %s", describe(n))
			return
		}
		var x int
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "must be a whole number, not %q", n.Value)
			return
		}
		v.SetInt(int64(x))
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.fail(n, path, "must be true or false, not %s", describe(n))
			return
		}
		var x bool
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "must be true or false, not %q", n.Value)
			return
		}
		v.SetBool(x)
	default:
		// Every type of the model is handled above; a new one must be
		// added there, and this says so in the first test that meets it.
		d.fail(n, path, "cannot be read (type %s)", v.Type())
	}
}

// str reads a string. An unquoted date ("2027-01-08") is a timestamp to
// YAML 1.1 but a string to JSON and to the schema, so it is one here too.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!str" || n.ShortTag() == "!!timestamp") {
		return n.Value, true
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" && strings.HasPrefix(n.ShortTag(), "!!") {
		d.fail(n, path, "must be text, not %s: quote it (%q)", describe(n), n.Value)
	} else {
		d.fail(n, path, "must be text, not %s", describe(n))
	}
	return "", false
}

// events reads one event type or a list of them.
func (d *decoder) events(n *yaml.Node, path string, e *Events) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		*e = Events{n.Value}
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "must be an event type or a list of them, not %s", describe(n))
		return
	}
	var out Events
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.record(item, p)
		if s, ok := d.str(item, p); ok {
			out = append(out, s)
		}
	}
	*e = out
}

// mapping reads a struct from a mapping by the fields' yaml tags.
func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping (key: value), not %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be words, not %s", describe(k))
			continue
		}
		kp := keyPath(path, k.Value)
		if seen[k.Value] {
			d.fail(k, kp, "is given twice")
			continue
		}
		seen[k.Value] = true
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, kp, "%s", unknownKey(path, k.Value, fields))
			continue
		}
		d.value(val, kp, v.Field(idx))
	}
}

// unknownKey says a key is unknown, suggesting the key meant.
func unknownKey(path, key string, fields map[string]int) string {
	if path == Root && key == "version" {
		return "unknown key: the version is given when the journey is published; remove it"
	}
	// One slip (a letter wrong, missing, extra or two swapped) in a
	// short key, two in a longer one.
	best, bestDist := "", 2
	if len(key) > 4 {
		bestDist = 3
	}
	var known []string
	for name := range fields {
		known = append(known, name)
		if dist := editDistance(key, name); dist < bestDist || (dist == bestDist && name < best) {
			best, bestDist = name, dist
		}
	}
	if best != "" {
		return "unknown key (did you mean " + best + "?)"
	}
	slices.Sort(known)
	return "unknown key (the keys here are " + strings.Join(known, ", ") + ")"
}

// sequence reads a list.
func (d *decoder) sequence(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "must be a list, not %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		// An empty branch or split is a step of that kind with nothing in
		// it (which Validate reports); any other empty list is no list,
		// so that the canonical JSON, which leaves it out, reads back
		// equal.
		if v.Type() == casesType || v.Type() == pathsType {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.value(item, fmt.Sprintf("%s[%d]", path, i), s.Index(i))
	}
	v.Set(s)
}

// stringMap reads a mapping of text to text (vars, set, body).
func (d *decoder) stringMap(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping (name: expression), not %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.fail(k, path, "names must be text, not %s", describe(k))
			continue
		}
		kp := keyPath(path, k.Value)
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.fail(k, kp, "is given twice")
			continue
		}
		d.record(val, kp)
		if val.Kind == yaml.AliasNode || val.Anchor != "" {
			d.fail(val, kp, "anchors and aliases (&name, *name) are not supported: write the value out")
			continue
		}
		if s, ok := d.str(val, kp); ok {
			m.SetMapIndex(reflect.ValueOf(k.Value), reflect.ValueOf(s))
		}
	}
	v.Set(m)
}

// record keeps where path's value is, and where a one-line scalar's text
// is verbatim, for CEL columns.
func (d *decoder) record(n *yaml.Node, path string) {
	if d.pos == nil {
		return
	}
	at := Position{Line: n.Line, Column: n.Column}
	if n.Kind == yaml.ScalarNode && n.Value != "" && !strings.Contains(n.Value, "\n") && n.Line >= 1 && n.Line <= len(d.lines) {
		start := n.Column
		switch n.Style {
		case 0, yaml.FlowStyle:
		case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
			start++
		default:
			start = 0
		}
		if start > 0 && strings.HasPrefix(runeSuffix(d.lines[n.Line-1], start-1), n.Value) {
			at.text = start
		}
	}
	d.pos[path] = at
}

// runeSuffix is s from its n-th character on ("" when shorter).
func runeSuffix(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[i:]
		}
		n--
	}
	return ""
}

// describe names what a node is, for "must be X, not Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!null":
		return "empty"
	case "!!bool":
		return "true/false"
	case "!!int", "!!float":
		return "a number"
	case "!!str", "!!timestamp":
		return "text"
	}
	return "a value tagged " + n.Tag
}

// yamlFields maps the yaml names of t's fields to their indexes; "-"
// fields (Version) are not read.
func yamlFields(t reflect.Type) map[string]int {
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = i
	}
	return fields
}

// editDistance is the optimal string alignment distance of two short
// keys: Levenshtein's, with two letters swapped counting as one slip.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
