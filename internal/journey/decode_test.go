package journey

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

var update = flag.Bool("update", false, "rewrite testdata/*.canonical.json")

// parseCase is a source Parse must refuse, with the problem it must name.
// schema says whether the document can be given to the JSON Schema (it is
// YAML that reads as one JSON value) and so must be refused there too.
type parseCase struct {
	name, src    string
	path, rule   string
	line, column int
	schema       bool
}

// parseCases are Parse's rules. The edits of kitchenSink are written out
// with strings.Replace so the seeds test can list them as documents.
var parseCases = []parseCase{
	{"unknown-step-key", strings.Replace(kitchenSink, "    wait: { event", "    wiat: { event", 1), "steps[2].wiat", "unknown key (did you mean wait?)", 30, 5, true},
	{"unknown-top-key", "colour: red\n" + kitchenSink, "colour", "unknown key", 1, 1, true},
	{"unknown-key-far-from-any", strings.Replace(kitchenSink, "  once: false\n", "  xyzzy_plugh: 1\n", 1), "entry.xyzzy_plugh", "the keys here are audience, cooldown, once", 11, 3, true},
	{"version-in-source", "version: 3\n" + kitchenSink, "version", "given when the journey is published", 1, 1, true},
	{"priority-text", strings.Replace(kitchenSink, "priority: 10", "priority: high", 1), "priority", "must be a whole number, not text", 4, 11, true},
	{"priority-fraction", strings.Replace(kitchenSink, "priority: 10", "priority: 10.5", 1), "priority", "must be a whole number, not a number", 4, 11, true},
	{"name-number", strings.Replace(kitchenSink, "name: kitchen_sink", "name: 123", 1), "name", `must be text, not a number: quote it ("123")`, 2, 7, true},
	{"steps-mapping", "name: x_y\ntrigger: { api: {} }\nsteps: { id: a }\n", "steps", "must be a list, not a mapping", 3, 8, true},
	{"trigger-list", "name: x_y\ntrigger: [api]\nsteps: [{ id: a, end: {} }]\n", "trigger", "must be a mapping (key: value), not a list", 2, 10, true},
	{"once-yes", strings.Replace(kitchenSink, "once: false", "once: yes", 1), "entry.once", "must be true or false, not text", 11, 9, true},
	{"duration-words", strings.Replace(kitchenSink, "cooldown: 90d", "cooldown: 90 days", 1), "entry.cooldown", `"90 days" is not a duration like 90s, 72h or 30d`, 12, 13, true},
	{"duration-number", strings.Replace(kitchenSink, "delay: { for: 3d }", "delay: { for: 3 }", 1), "steps[1].delay.for", "must be a duration like 90s, 72h or 30d, not a number", 28, 19, true},
	{"duration-overflow", strings.Replace(kitchenSink, "cooldown: 90d", "cooldown: 99999999999999999999d", 1), "entry.cooldown", "is too long: at most 106751d", 12, 13, false},
	{"duration-plus", strings.Replace(kitchenSink, "cooldown: 90d", "cooldown: +90d", 1), "entry.cooldown", "is not a duration", 12, 13, true},
	{"holdout-no-percent", strings.Replace(kitchenSink, "holdout: 5%", `holdout: "5"`, 1), "holdout", `must be a share like 5%, not "5"`, 5, 10, true},
	{"holdout-over-100", strings.Replace(kitchenSink, "holdout: 5%", "holdout: 150%", 1), "holdout", "not between 0% and 100%", 5, 10, true},
	{"multiplier-words", strings.Replace(kitchenSink, `multiplier: "1.5"`, "multiplier: double", 1), "steps[5].reward.boost.multiplier", `must be a number like 2 or 1.5, not "double"`, 40, 48, true},
	{"multiplier-huge", strings.Replace(kitchenSink, `multiplier: "1.5"`, "multiplier: 1e999999999", 1), "steps[5].reward.boost.multiplier", "must be a number like 2 or 1.5", 40, 48, true},
	{"wait-event-mapping", strings.Replace(kitchenSink, "event: [subscription.trial_started, order.paid]", "event: { type: order.paid }", 1), "steps[2].wait.event", "must be an event type or a list of them, not a mapping", 30, 20, true},
	{"wait-event-number", strings.Replace(kitchenSink, "event: [subscription.trial_started, order.paid]", "event: [order.paid, 7]", 1), "steps[2].wait.event[1]", "must be text, not a number", 30, 33, true},
	{"null-value", strings.Replace(kitchenSink, "description: Every step kind", "description:", 1), "description", "is empty: give a value or remove the key", 3, 13, true},
	{"end-null", "name: x_y\ntrigger: { api: {} }\nsteps:\n  - id: a\n    end:\n", "steps[0].end", "write {} after it", 5, 9, true},
	{"key-twice", strings.Replace(kitchenSink, "priority: 10\n", "priority: 10\npriority: 20\n", 1), "priority", "is given twice", 5, 1, false},
	{"var-twice", strings.Replace(kitchenSink, "vars: { headline:", "vars: { headline: x, headline:", 1), "steps[0].send.vars.headline", "is given twice", 24, 50, false},
	{"alias", strings.Replace(kitchenSink, "cooldown: 90d", "cooldown: &c 90d", 1), "entry.cooldown", "anchors and aliases", 12, 13, false},
	{"var-number", strings.Replace(kitchenSink, `vars: { headline: "'Hello ' + member.name" }`, "vars: { headline: 3 }", 1), "steps[0].send.vars.headline", `must be text, not a number: quote it ("3")`, 24, 47, true},
	{"when-bool", strings.Replace(kitchenSink, `when: "event.data.amount >= 500"`, "when: true", 1), "trigger.when", "must be text, not true/false", 8, 9, true},
	{"var-name-number", strings.Replace(kitchenSink, "vars: { headline:", "vars: { 7: x, headline:", 1), "steps[0].send.vars", "names must be text, not a number", 24, 37, true},
	{"custom-tag", strings.Replace(kitchenSink, "email: welcome", "email: !tmpl welcome", 1), "steps[0].send.email", "must be text, not a value tagged !tmpl", 24, 20, false},
	{"yaml-syntax", "name: kitchen_sink\ntrigger: { api: {}\nsteps: []\n", Root, "is not valid YAML", 2, 0, false},
	{"empty", "# nothing here\n", Root, "the document is empty", 0, 0, false},
	{"two-documents", kitchenSink + "---\nname: other\n", Root, "a journey is one document", 50, 0, false},
	{"top-level-list", "- name: x\n", Root, "must be a mapping (key: value), not a list", 1, 1, true},
	{"top-level-text", "just words\n", Root, "must be a mapping (key: value), not text", 1, 1, true},
	{"json-unknown-key", "{\n  \"name\": \"j_s\",\n  \"trigger\": {\"api\": {}},\n  \"steps\": [{\"id\": \"a\", \"end\": {}, \"note\": \"x\"}]\n}\n", "steps[0].note", "unknown key (the keys here are", 4, 36, true},
	{"json-wrong-type", "{\"name\": \"j_s\", \"priority\": \"high\", \"trigger\": {\"api\": {}}, \"steps\": [{\"id\": \"a\", \"end\": {}}]}", "priority", "must be a whole number, not text", 1, 29, true},
	{"json-too-deep", `{"name": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, Root, "nested more than 32 levels deep", 0, 0, true},
}

func TestParseNamesPathAndType(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, want a *ValidationError", err)
			}
			i := slices.IndexFunc(ve.Problems, func(p Problem) bool { return p.Path == tc.path && strings.Contains(p.Rule, tc.rule) })
			if i < 0 {
				t.Fatalf("no problem %s: …%s…; got\n%s", tc.path, tc.rule, listProblems(ve.Problems))
			}
			if p := ve.Problems[i]; p.Line != tc.line || p.Column != tc.column {
				t.Errorf("%s at %d:%d, want %d:%d", p, p.Line, p.Column, tc.line, tc.column)
			}
		})
	}
}

func TestParseReadsTheLanguage(t *testing.T) {
	d, err := Parse(fixture(t, "svip_upsell"))
	if err != nil {
		t.Fatal(err)
	}
	want := Definition{
		Name:        "svip_upsell",
		Description: "Offer SVIP to big spenders who did not start a trial",
		Priority:    50,
		Trigger:     Trigger{Event: "order.paid", When: "event.data.amount >= 500 && member.paid.status != 'active'"},
		Entry:       Entry{Audience: "member.consent.email_marketing", Cooldown: Duration(90 * Day)},
		Goal:        &Goal{Event: "subscription.converted", Within: Duration(30 * Day), Exit: true},
		Exit:        []ExitRule{{Event: "member.unsubscribed"}},
		Steps: []Step{
			{ID: "wait_trial", Wait: &Wait{Event: Events{"subscription.trial_started"}, Timeout: Duration(2 * Day), OnEvent: End, OnTimeout: "check"}},
			{ID: "check", Branch: []Case{{When: "member.tier in ['V3', 'V4']", Goto: "offer"}, {Goto: End}}},
			{ID: "offer", Send: &Send{Email: "svip_offer"}, Reward: &Reward{Coupon: "FREE25"}, Expires: Duration(3 * Day)},
		},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Parse =\n%s\nwant\n%s", d.Canonical(), want.Canonical())
	}

	md, err := Parse(fixture(t, "member_day"))
	if err != nil {
		t.Fatal(err)
	}
	if b := md.Trigger.Broadcast; b == nil || b.Every != EveryMonth || b.Day != 8 || b.At != "10:00" {
		t.Errorf("member_day trigger = %+v", md.Trigger)
	}
	if r := md.Steps[0].Reward; r == nil || r.Boost == nil || !r.Boost.Multiplier.Equal(decimal.NewFromInt(2)) || r.Boost.Days != 1 || md.Steps[0].Send.Email != "member_day" {
		t.Errorf("member_day step = %+v", md.Steps[0])
	}
}

// jsonVariant is kitchenSink's canonical JSON re-indented with tabs, with
// an escaped slash and a surrogate pair: valid JSON that yaml.v3 alone
// would refuse.
func jsonVariant(tb testing.TB) []byte {
	tb.Helper()
	y, err := Parse([]byte(kitchenSink))
	if err != nil {
		tb.Fatal(err)
	}
	j := bytes.ReplaceAll(y.Canonical(), []byte("  "), []byte("\t"))
	return bytes.Replace(j, []byte(`"Every step kind"`), []byte(`"Every step kind \ud83d\ude00 and\/or"`), 1)
}

func TestJSONIsReadLikeYAML(t *testing.T) {
	y, err := Parse([]byte(kitchenSink))
	if err != nil {
		t.Fatal(err)
	}
	j := jsonVariant(t)
	d, err := Parse(j)
	if err != nil {
		t.Fatalf("Parse(JSON): %v\n%s", err, j)
	}
	if d.Description != "Every step kind 😀 and/or" {
		t.Errorf("description = %q", d.Description)
	}
	d.Description = y.Description
	if !reflect.DeepEqual(d, y) {
		t.Errorf("JSON reads as\n%s\nYAML as\n%s", d.Canonical(), y.Canonical())
	}
}

// TestCanonicalRoundTrip checks that every valid document reads back equal
// from its canonical JSON and from the JSON a workflow input is pinned as.
func TestCanonicalRoundTrip(t *testing.T) {
	srcs := map[string][]byte{}
	for _, name := range baseNames() {
		srcs["base-"+name] = []byte(bases[name])
	}
	for _, name := range fixtures {
		srcs["fixture-"+name] = fixture(t, name)
	}
	for name, src := range srcs {
		t.Run(name, func(t *testing.T) {
			d, err := Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			c := d.Canonical()
			back, err := Parse(c)
			if err != nil {
				t.Fatalf("canonical JSON does not parse: %v\n%s", err, c)
			}
			if !reflect.DeepEqual(back, d) {
				t.Errorf("canonical JSON reads back as\n%s\nwant\n%s", back.Canonical(), c)
			}
			if !bytes.Equal(back.Canonical(), c) {
				t.Error("canonical JSON is not stable")
			}

			d.Version = 7
			pinned, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var fromPin Definition
			if err := json.Unmarshal(pinned, &fromPin); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fromPin, d) {
				t.Errorf("pinned JSON reads back as\n%+v\nwant\n%+v", fromPin, d)
			}
			if bytes.Contains(d.Canonical(), []byte(`"version"`)) {
				t.Error("the canonical JSON carries the version")
			}
		})
	}
}

// TestCanonicalGolden keeps the canonical form of svip_upsell in
// testdata: a change of key order or spelling changes every journey's
// canonical JSON, which makes start-up publish every journey anew.
func TestCanonicalGolden(t *testing.T) {
	d, err := Parse(fixture(t, "svip_upsell"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "svip_upsell.canonical.json")
	if *update {
		if err := os.WriteFile(golden, d.Canonical(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Canonical(); !bytes.Equal(got, want) {
		t.Errorf("canonical JSON changed (go test -run TestCanonicalGolden -update if that is meant):\n%s", got)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30d", 30 * Day, ""},
		{"-30d", -30 * Day, ""},
		{"72h", 72 * time.Hour, ""},
		{"90s", 90 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"1.5h", 90 * time.Minute, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{"-0d", 0, ""},
		{"106751d", 106751 * Day, ""},
		{"106752d", 0, "too long"},
		{"99999999999999999999d", 0, "too long"},
		{"9223372036854775807ns", time.Duration(1<<63 - 1), ""},
		{"9223372036854775808ns", 0, "too long"},
		{"+1h", 0, "not a duration"},
		{"1.5d", 0, "not a duration"},
		{"1d12h", 0, "not a duration"},
		{"", 0, "not a duration"},
		{"3 days", 0, "not a duration"},
		{"30D", 0, "not a duration"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			d, err := ParseDuration(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseDuration(%q) = %s, %v; want an error saying %q", tc.in, d, err, tc.err)
				}
				return
			}
			if err != nil || d.D() != tc.want {
				t.Fatalf("ParseDuration(%q) = %s, %v; want %s", tc.in, d.D(), err, tc.want)
			}
			if back, err := ParseDuration(d.String()); err != nil || back != d {
				t.Errorf("%s reads back as %s, %v", d, back.D(), err)
			}
		})
	}
}

func TestParsePercent(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"5%", "5%", ""},
		{"2.5%", "2.5%", ""},
		{"0%", "0%", ""},
		{"100.0%", "100%", ""},
		{"5", "5%", ""},
		{"101%", "", "between 0% and 100%"},
		{"-1%", "", "not a share"},
		{"five%", "", "not a share"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePercent(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParsePercent(%q) = %s, %v; want an error saying %q", tc.in, p, err, tc.err)
				}
				return
			}
			if err != nil || p.String() != tc.want {
				t.Fatalf("ParsePercent(%q) = %s, %v; want %s", tc.in, p, err, tc.want)
			}
		})
	}
}

func TestEventsJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Events
		out  string
	}{
		{`"order.paid"`, Events{"order.paid"}, `"order.paid"`},
		{`["order.paid"]`, Events{"order.paid"}, `"order.paid"`},
		{`["order.paid","order.refunded"]`, Events{"order.paid", "order.refunded"}, `["order.paid","order.refunded"]`},
	} {
		var e Events
		if err := json.Unmarshal([]byte(tc.in), &e); err != nil || !reflect.DeepEqual(e, tc.want) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", tc.in, e, err, tc.want)
		}
		if b, err := json.Marshal(e); err != nil || string(b) != tc.out {
			t.Errorf("Marshal(%v) = %s, %v; want %s", e, b, err, tc.out)
		}
	}
	var e Events
	if err := json.Unmarshal([]byte(`{"type":"x"}`), &e); err == nil {
		t.Error("Unmarshal of an object: no error")
	}
}

func TestParentPath(t *testing.T) {
	for in, want := range map[string]string{
		"steps[2].wait.timeout":      "steps[2].wait",
		"steps[2]":                   "steps",
		"steps":                      Root,
		`steps[0].send.vars["a.b]"]`: "steps[0].send.vars",
		`x["]"].y`:                   `x["]"]`,
	} {
		if got, ok := parentPath(in); !ok || got != want {
			t.Errorf("parentPath(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := parentPath(Root); ok {
		t.Error("the root has a parent")
	}
}
