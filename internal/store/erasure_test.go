package store_test

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// freeText are the string fields of the types below that hold text a
// person wrote or a decision explained: RedactJSON replaces the
// member's values inside them.
var freeText = map[string]bool{"reason": true, "location": true, "why": true}

// TestRedactionKnowsEveryField: every field of what RedactJSON redacts —
// the events' data, the journal's parameters, ledger and timeline
// entries — is personal (removed), an identifier (kept as it is) or
// free text (values replaced inside). A field added to one of them
// without a decision fails here, rather than being rewritten by chance
// or leaking.
func TestRedactionKnowsEveryField(t *testing.T) {
	types := []reflect.Type{
		reflect.TypeFor[events.Envelope](),
		reflect.TypeFor[loyalty.Recorded](), reflect.TypeFor[loyalty.CouponInput](), reflect.TypeFor[loyalty.BoostInput](),
		reflect.TypeFor[loyalty.Adjustment](), reflect.TypeFor[loyalty.Effect](), reflect.TypeFor[loyalty.Entry](),
		reflect.TypeFor[store.TimelineEntry](),
	}
	for _, typ := range events.Types() {
		types = append(types, events.DataType(typ))
	}
	for _, typ := range types {
		fields(typ, func(path, name string, leaf reflect.Type) {
			personal, id := store.PersonalKey(name), store.IdentifierKey(name)
			switch {
			case personal && id:
				t.Errorf("%s.%s is both personal and an identifier", typ, path)
			case personal || id:
			case freeText[name] && leaf.Kind() == reflect.String:
			case name == "params" || name == "data" || name == "values":
				// Raw JSON or a map: redacted field by field inside.
			default:
				t.Errorf("%s.%s (%s) is neither personal, an identifier nor free text: add it to the lists in internal/store/erasure.go", typ, path, leaf)
			}
		})
	}
}

// fields calls f with the JSON name of every leaf field of typ, at any
// depth; a type that encodes itself (time, decimal, date) is a leaf.
func fields(typ reflect.Type, f func(path, name string, leaf reflect.Type)) {
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		for i := range typ.NumField() {
			sf := typ.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" || !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			ft := sf.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !encodesItself(ft) {
				walk(ft, prefix+name+".")
				continue
			}
			f(prefix+name, name, ft)
		}
	}
	walk(typ, "")
}

func encodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(reflect.TypeFor[json.Marshaler]()) || p.Implements(reflect.TypeFor[json.Unmarshaler]()) ||
		p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// TestRedactJSONKeepsEventsDecodable redacts every sample event for a
// member whose values hide inside the event's identifiers, types, dates
// and amounts (a name "Ted" is in "member.profile_updated", "Tom" in
// "shopify.customer.7"): the result still decodes as the same event
// (id, type, member, time), with no personal field left.
func TestRedactJSONKeepsEventsDecodable(t *testing.T) {
	for _, typ := range events.Types() {
		t.Run(string(typ), func(t *testing.T) {
			raw, err := events.Sample(typ)
			if err != nil {
				t.Fatal(err)
			}
			env, _, err := store.DecodeRecorded(raw)
			if err != nil {
				t.Fatalf("sample does not decode: %v", err)
			}
			// Every identifier of the sample, cut to pieces of three and
			// more characters, is a value to look for.
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			var pieces []loyalty.Member
			var collect func(v any)
			collect = func(v any) {
				switch x := v.(type) {
				case map[string]any:
					for _, e := range x {
						collect(e)
					}
				case []any:
					for _, e := range x {
						collect(e)
					}
				case string:
					for _, w := range strings.FieldsFunc(x, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == ':' }) {
						pieces = append(pieces, loyalty.Member{Name: w})
					}
				}
			}
			collect(m)
			pieces = append(pieces, loyalty.Member{Name: "Ted", Email: "Ted@example.com", Phone: "tom", Birthday: "202"})
			p := store.NewPersonalData(pieces...)
			red, _ := p.RedactJSON(raw)
			got, data, err := store.DecodeRecorded(red)
			if err != nil {
				t.Fatalf("redacted %s does not decode: %v", red, err)
			}
			if got.ID != env.ID || got.Type != env.Type || got.MemberID != env.MemberID || !got.OccurredAt.Equal(env.OccurredAt) {
				t.Errorf("redacted envelope = %s %s %s %s, want %s %s %s %s", got.ID, got.Type, got.MemberID, got.OccurredAt, env.ID, env.Type, env.MemberID, env.OccurredAt)
			}
			if d, ok := data.(*events.MemberRegisteredData); ok && (d.Email != "" || d.Name != "" || d.Phone != "" || d.Birthday != nil) {
				t.Errorf("redacted registration keeps personal fields: %+v", d)
			}
			if d, ok := data.(*events.MemberProfileUpdatedData); ok && (d.Email != nil || d.Name != nil || d.Phone != nil || d.Birthday != nil) {
				t.Errorf("redacted profile update keeps personal fields: %+v", d)
			}
		})
	}
}

// TestRedactJSONFreeText: values are replaced inside free text and
// fields of unknown shapes, whatever their case, and nothing else.
func TestRedactJSONFreeText(t *testing.T) {
	p := store.NewPersonalData(loyalty.Member{Email: "Lin@Example.com", Name: "Ted"})
	raw := `{"id":"evt-ted-1","type":"member.unsubscribed","member_id":"m-ted","occurred_at":"2026-03-01T00:00:00Z",` +
		`"data":{"reason":"Ted asked: mail lin@example.com no more","group":"updated"},"extra":{"tags":["vip","TED"]}}`
	red, changed := p.RedactJSON([]byte(raw))
	want := `{"data":{"group":"updated","reason":"[erased] asked: mail [erased] no more"},"extra":{"tags":["vip","[erased]"]},` +
		`"id":"evt-ted-1","member_id":"m-ted","occurred_at":"2026-03-01T00:00:00Z","type":"member.unsubscribed"}`
	if !changed || string(red) != want {
		t.Errorf("RedactJSON = %s, %v\nwant %s", red, changed, want)
	}
	if again, changed := p.RedactJSON(red); changed || string(again) != string(red) {
		t.Errorf("RedactJSON of its own result = %s, %v; want nothing to change", again, changed)
	}
}
