package events

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewInternal(t *testing.T) {
	at := time.Date(2026, 12, 5, 19, 0, 0, 0, time.FixedZone("CST", 8*3600))
	env, err := NewInternal(MemberSegmentChanged, "rfm:3:m-1001", "m-1001", at, MemberSegmentChangedData{From: "loyal", To: "at_risk"})
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != MemberSegmentChanged || env.ID != "rfm:3:m-1001" || env.MemberID != "m-1001" || !env.OccurredAt.Equal(at) || env.Version != 1 {
		t.Errorf("envelope = %+v", env)
	}
	if got, want := string(env.Raw), `{"data":{"from":"loyal","to":"at_risk"},"id":"rfm:3:m-1001","member_id":"m-1001","occurred_at":"2026-12-05T11:00:00Z","type":"member.segment_changed","version":1}`; got != want {
		t.Errorf("Raw = %s\nwant  %s", got, want)
	}
	if !strings.HasPrefix(env.Digest, "sha256:") {
		t.Errorf("Digest = %q", env.Digest)
	}
	// The same arguments give the same bytes and digest: a retried
	// recording is a duplicate, not a conflict.
	again, err := NewInternal(MemberSegmentChanged, "rfm:3:m-1001", "m-1001", at.UTC(), MemberSegmentChangedData{From: "loyal", To: "at_risk"})
	if err != nil || string(again.Raw) != string(env.Raw) || again.Digest != env.Digest {
		t.Errorf("again = %s %s (%v), want the same bytes and digest", again.Raw, again.Digest, err)
	}
	other, _ := NewInternal(MemberSegmentChanged, "rfm:3:m-1001", "m-1001", at, MemberSegmentChangedData{From: "", To: "at_risk"})
	if other.Digest == env.Digest {
		t.Error("other content, same digest")
	}
	data, err := env.DecodeData()
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := data.(*MemberSegmentChangedData); !ok || d.From != "loyal" || d.To != "at_risk" {
		t.Errorf("DecodeData = %#v", data)
	}
	// First scoring: from is "".
	if _, err := NewInternal(MemberSegmentChanged, "rfm:1:m-1", "m-1", at, MemberSegmentChangedData{To: "new"}); err != nil {
		t.Errorf("from \"\": %v", err)
	}
}

func TestNewInternalRefusesWhatItsSchemaRefuses(t *testing.T) {
	at := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		typ      Type
		id       string
		data     any
		field    string
		contains string
	}{
		{"a segment that is no code", MemberSegmentChanged, "rfm:1:m-1", MemberSegmentChangedData{To: "At Risk"}, "data.to", "must be a segment code"},
		{"an id with #", MemberSegmentChanged, "rfm#1", MemberSegmentChangedData{To: "new"}, "id", "must be 1 to 128 characters"},
		{"an unknown field", MemberSegmentChanged, "rfm:1:m-1", map[string]string{"to": "new", "from": "", "why": "x"}, "data.why", "is not allowed"},
		{"a field missing", MemberSegmentChanged, "rfm:1:m-1", map[string]string{"to": "new"}, "data.from", "is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewInternal(tc.typ, tc.id, "m-1", at, tc.data)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if !slices.ContainsFunc(ve.Problems, func(p Problem) bool { return p.Field == tc.field && strings.Contains(p.Rule, tc.contains) }) {
				t.Errorf("problems = %+v, want %s %q", ve.Problems, tc.field, tc.contains)
			}
		})
	}
	if _, err := NewInternal(OrderPaid, "x", "m-1", at, OrderPaidData{}); err == nil {
		t.Error("a storefront type was built as an internal event")
	}
}

// TestInternalTypesAreNotTheStorefronts: a storefront cannot send an
// internal event; Types and ParseType do not list it.
func TestInternalTypesAreNotTheStorefronts(t *testing.T) {
	for _, typ := range InternalTypes() {
		if slices.Contains(Types(), typ) {
			t.Errorf("%s is among the storefront types", typ)
		}
		if _, err := ParseType(string(typ)); err == nil {
			t.Errorf("ParseType(%s) succeeded", typ)
		}
		body := `{"id":"rfm:1:m-1","type":"` + string(typ) + `","occurred_at":"2026-12-05T00:00:00Z","member_id":"m-1","data":{"from":"","to":"new"}}`
		_, err := ParseBatch([]byte(body))
		var ve *ValidationError
		if !errors.As(err, &ve) || !slices.ContainsFunc(ve.Problems, func(p Problem) bool { return p.Field == "type" && strings.Contains(p.Rule, "must be one of") }) {
			t.Errorf("ParseBatch of %s = %v, want type refused", typ, err)
		}
		if !IsInternal(typ) || DataType(typ) == nil {
			t.Errorf("%s: IsInternal %v, DataType %v", typ, IsInternal(typ), DataType(typ))
		}
	}
	if IsInternal(OrderPaid) {
		t.Error("order.paid is internal")
	}
}

// TestEveryInternalTypeHasASchema: each internal type's schema compiles
// and names the type; no schema is there without a type.
func TestEveryInternalTypeHasASchema(t *testing.T) {
	reg, err := compileInternal()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, typ := range InternalTypes() {
		if reg.byType[typ] == nil {
			t.Errorf("%s: no compiled schema", typ)
		}
		want = append(want, schemaFile(typ))
	}
	if got := dirFiles(t, internalSchemaFiles, "schemas/internal"); !slices.Equal(got, want) {
		t.Errorf("schemas/internal holds %v, want %v", got, want)
	}
}
