package asmgroup_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/mail/asmgroup"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      map[string]int
		wantErr   string
	}{
		{name: "groups", doc: `{"activation": 12345, "newsletter": 678}`, want: map[string]int{"activation": 12345, "newsletter": 678}},
		{name: "empty document", doc: " ", want: map[string]int{}},
		{name: "empty object", doc: `{}`, want: map[string]int{}},
		{name: "null", doc: `null`, want: map[string]int{}},
		{name: "array", doc: `[]`, wantErr: "JSON object"},
		{name: "string id", doc: `{"a": "1"}`, wantErr: "JSON object"},
		{name: "fractional id", doc: `{"a": 1.5}`, wantErr: "JSON object"},
		{name: "not JSON", doc: `x`, wantErr: "JSON object"},
		{name: "zero id", doc: `{"a": 0}`, wantErr: `group "a": needs a name and an id above 0`},
		{name: "empty name", doc: `{"": 1}`, wantErr: `group "": needs a name`},
		{name: "shared id", doc: `{"b": 1, "a": 1}`, wantErr: `groups "a" and "b" share ASM group id 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := asmgroup.Parse(tc.doc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("groups = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestByID(t *testing.T) {
	got := asmgroup.ByID(map[string]int{"activation": 12345, "newsletter": 678})
	if want := map[int]string{12345: "activation", 678: "newsletter"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ByID = %v, want %v", got, want)
	}
}
