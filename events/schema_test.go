package events

import (
	"reflect"
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
	// every event (see BenchmarkIngest); only the envelope itself stays
	// a reference.
	reg, err := compileRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range Types() {
		refs := refsLeft(reg.docs[schemaBase+schemaFile(typ)])
		if len(refs) != 1 || refs[0] != envelopeFile {
			t.Errorf("%s: $refs left %v, want only %q", typ, refs, envelopeFile)
		}
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
