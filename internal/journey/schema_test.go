package journey

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// schemaFile is the journey schema editors and these tests read.
var schemaFile = filepath.Join("..", "..", "templates", "journeys", "journey.schema.json")

// loadSchema compiles the journey schema, and returns its document too.
func loadSchema(tb testing.TB) (*jsonschema.Schema, map[string]any) {
	tb.Helper()
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		tb.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("%s is not JSON: %v", schemaFile, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	id := doc.(map[string]any)["$id"].(string)
	if err := c.AddResource(id, doc); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		tb.Fatalf("compile %s: %v", schemaFile, err)
	}
	return s, doc.(map[string]any)
}

// instance turns a source into the JSON value an editor validates: JSON
// as it is, YAML through its node tree (dates stay text, as in YAML 1.2).
// ok is false for sources that are no single JSON value: broken YAML,
// several documents, aliases, keys given twice, custom tags, infinities.
func instance(src []byte) (v any, ok bool) {
	trimmed := bytes.TrimLeft(src, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid(src) {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
		return v, err == nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc, next yaml.Node
	if err := dec.Decode(&doc); err != nil || len(doc.Content) != 1 {
		return nil, false
	}
	if err := dec.Decode(&next); err == nil {
		return nil, false
	}
	return nodeValue(doc.Content[0])
}

// nodeValue is instance for one node.
func nodeValue(n *yaml.Node) (any, bool) {
	if n.Anchor != "" {
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, false
			}
			if _, dup := m[k.Value]; dup {
				return nil, false
			}
			v, ok := nodeValue(n.Content[i+1])
			if !ok {
				return nil, false
			}
			m[k.Value] = v
		}
		return m, true
	case yaml.SequenceNode:
		l := []any{}
		for _, item := range n.Content {
			v, ok := nodeValue(item)
			if !ok {
				return nil, false
			}
			l = append(l, v)
		}
		return l, true
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			return n.Value, true
		case "!!bool":
			var b bool
			return b, n.Decode(&b) == nil
		case "!!null":
			return nil, true
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, false
			}
			return json.Number(strconv.FormatInt(i, 10)), true
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, false
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
		}
	}
	return nil, false
}

// at follows a JSON pointer-ish path of keys into the schema document.
func at(tb testing.TB, doc any, keys ...string) any {
	tb.Helper()
	for _, k := range keys {
		m, ok := doc.(map[string]any)
		if !ok {
			tb.Fatalf("schema: %s is not an object", strings.Join(keys, "/"))
		}
		doc, ok = m[k]
		if !ok {
			tb.Fatalf("schema: no %s", strings.Join(keys, "/"))
		}
	}
	return doc
}

// TestSchemaPatternsMatchGo holds the schema's patterns, lists and bounds
// to the ones Parse and Validate use.
func TestSchemaPatternsMatchGo(t *testing.T) {
	_, doc := loadSchema(t)
	step := []string{"$defs", "step", "properties"}
	strs := func(l []string) []any {
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out
	}
	tests := []struct {
		path []string
		want any
	}{
		{[]string{"properties", "name", "pattern"}, NamePattern},
		{append(step, "id", "pattern"), StepIDPattern},
		{[]string{"$defs", "target", "pattern"}, StepIDPattern},
		{[]string{"$defs", "dateRule", "properties", "attribute", "pattern"}, AttributePattern},
		{[]string{"$defs", "dateRule", "properties", "attribute", "examples"}, strs(MemberDates)},
		{append(step, "update", "properties", "set", "propertyNames", "pattern"), AttributePattern},
		{append(step, "update", "properties", "set", "propertyNames", "not", "enum"), strs(MemberDates)},
		{append(step, "send", "properties", "vars", "propertyNames", "pattern"), VarPattern},
		{[]string{"$defs", "clock", "pattern"}, ClockPattern},
		{[]string{"$defs", "offset", "pattern"}, DurationPattern},
		{[]string{"$defs", "duration", "pattern"}, strings.Replace(DurationPattern, "^-?", "^", 1)},
		{[]string{"properties", "trigger", "properties", "broadcast", "properties", "date", "pattern"}, DatePattern},
		{[]string{"properties", "trigger", "properties", "broadcast", "properties", "weekday", "enum"}, strs(Weekdays)},
		{[]string{"properties", "trigger", "properties", "broadcast", "properties", "every", "enum"}, strs([]string{EveryOnce, EveryDay, EveryWeek, EveryMonth})},
		{append(step, "split", "items", "properties", "weight", "maximum"), json.Number(strconv.Itoa(MaxWeight))},
		{[]string{"properties", "steps", "maxItems"}, json.Number(strconv.Itoa(MaxSteps))},
		{append(step, "reward", "properties", "boost", "properties", "days", "maximum"), json.Number(strconv.Itoa(int(MaxSpan / Day)))},
	}
	for _, tc := range tests {
		if got := at(t, doc, tc.path...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("schema %s = %v, Go has %v", strings.Join(tc.path, "/"), got, tc.want)
		}
	}
}

// TestSchemaDescribesEveryKey checks what editors rely on: every key has a
// description to show, and every object refuses keys it does not list.
func TestSchemaDescribesEveryKey(t *testing.T) {
	_, doc := loadSchema(t)
	var walk func(path string, n any)
	walk = func(path string, n any) {
		switch n := n.(type) {
		case map[string]any:
			if props, ok := n["properties"].(map[string]any); ok && n["type"] == "object" {
				if n["additionalProperties"] != false {
					t.Errorf("%s: additionalProperties is not false", path)
				}
				for k, p := range props {
					if d, _ := p.(map[string]any)["description"].(string); d == "" {
						t.Errorf("%s/properties/%s has no description", path, k)
					}
				}
			}
			for k, v := range n {
				walk(path+"/"+k, v)
			}
		case []any:
			for i, v := range n {
				walk(fmt.Sprintf("%s/%d", path, i), v)
			}
		}
	}
	walk("#", doc)
}

// TestSchemaAgreesWithGo validates every document the tests use against
// the schema: the valid ones pass both; a structural mistake (a key, a
// type, a pattern, a range, a missing or extra part) fails both; a
// mistake only Go can see (the catalog, CEL, the graph) passes the schema.
func TestSchemaAgreesWithGo(t *testing.T) {
	s, _ := loadSchema(t)
	check := func(t *testing.T, src []byte, wantValid bool) {
		t.Helper()
		v, ok := instance(src)
		if !ok {
			t.Fatalf("not a JSON value:\n%s", src)
		}
		err := s.Validate(v)
		switch {
		case wantValid && err != nil:
			t.Errorf("the schema refuses it: %v", err)
		case !wantValid && err == nil:
			t.Error("the schema accepts it")
		}
	}
	for _, name := range baseNames() {
		t.Run("base-"+name, func(t *testing.T) { check(t, []byte(bases[name]), true) })
	}
	for _, name := range fixtures {
		t.Run("fixture-"+name, func(t *testing.T) { check(t, fixture(t, name), true) })
	}
	for _, tc := range validCases {
		t.Run("valid-"+tc.name, func(t *testing.T) { check(t, edit(t, tc.name, bases[tc.base], tc.from, tc.to), true) })
	}
	for _, tc := range ruleCases {
		t.Run("rule-"+tc.name, func(t *testing.T) { check(t, edit(t, tc.name, bases[tc.base], tc.from, tc.to), !tc.schema) })
	}
	for _, tc := range parseCases {
		if !tc.schema {
			if _, ok := instance([]byte(tc.src)); ok && !slices.Contains([]string{"duration-overflow"}, tc.name) {
				t.Errorf("parse-%s: the schema could see it; mark it schema: true", tc.name)
			}
			continue
		}
		t.Run("parse-"+tc.name, func(t *testing.T) { check(t, []byte(tc.src), false) })
	}
	// A document the schema refuses is one Go refuses too (with
	// structural checks only: no catalog, programme or CEL).
	for _, tc := range ruleCases {
		if !tc.schema {
			continue
		}
		src := edit(t, tc.name, bases[tc.base], tc.from, tc.to)
		if _, err := Decode(src, Checks{}); err == nil {
			t.Errorf("rule-%s: the schema refuses it but Decode(Checks{}) accepts it", tc.name)
		}
	}
}
