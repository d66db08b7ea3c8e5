package journey

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
)

// problemPath is what every problem's path looks like: the document, or a
// key followed by indexes, keys and quoted keys.
var problemPath = regexp.MustCompile(`^(\$|[A-Za-z_][A-Za-z0-9_]*)(\[[0-9]+\]|\.[A-Za-z_][A-Za-z0-9_]*|\["(\\.|[^"\\])*"\])*$`)

// checkProblems fails unless err is a *ValidationError whose problems each
// name a path and a rule, without duplicates.
func checkProblems(t *testing.T, what string, err error) []Problem {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) == 0 {
		t.Fatalf("%s: %v (%T), want a *ValidationError with problems", what, err, err)
	}
	for i, p := range ve.Problems {
		if !problemPath.MatchString(p.Path) || strings.TrimSpace(p.Rule) == "" {
			t.Fatalf("%s: problem %q names no path or no rule", what, p)
		}
		if slices.Contains(ve.Problems[:i], p) {
			t.Fatalf("%s: problem %q is reported twice", what, p)
		}
	}
	return ve.Problems
}

// FuzzParseJourney checks Parse and Validate on any source: they never
// panic; every problem names a path and a rule; a source that parses
// gets a line for every problem Decode reports; and a valid definition
// reads back equal from its canonical JSON and from the JSON a workflow
// input pins, validates again, and keeps the graph's promises (targets
// are steps or end; calendar offsets never go back in time).
func FuzzParseJourney(f *testing.F) {
	c := testChecks()
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := Parse(src)
		if err != nil {
			checkProblems(t, "Parse", err)
			return
		}
		verr := d.Validate(c)
		_, derr := Decode(src, c)
		if (verr == nil) != (derr == nil) {
			t.Fatalf("Validate = %v, but Decode = %v", verr, derr)
		}
		if verr != nil {
			checkProblems(t, "Validate", verr)
			for _, p := range checkProblems(t, "Decode", derr) {
				if p.Line < 1 || p.Column < 1 {
					t.Fatalf("Decode: problem %q has no position (%d:%d)", p, p.Line, p.Column)
				}
			}
			return
		}

		canonical := d.Canonical()
		back, err := Parse(canonical)
		if err != nil {
			t.Fatalf("canonical JSON does not parse: %v\n%s", err, canonical)
		}
		if !reflect.DeepEqual(back, d) {
			t.Fatalf("canonical JSON reads back differently:\n%s\nwant\n%s", back.Canonical(), canonical)
		}
		if !bytes.Equal(back.Canonical(), canonical) {
			t.Fatalf("canonical JSON is not stable:\n%s\n%s", back.Canonical(), canonical)
		}
		if err := back.Validate(c); err != nil {
			t.Fatalf("the canonical JSON no longer validates: %v", err)
		}
		pinned, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var fromPin Definition
		if err := json.Unmarshal(pinned, &fromPin); err != nil || !reflect.DeepEqual(fromPin, d) {
			t.Fatalf("pinned JSON reads back as %+v, %v", fromPin, err)
		}

		for _, s := range d.Steps {
			for _, to := range d.Targets(s.ID) {
				if to != End && d.Index(to) < 0 {
					t.Fatalf("step %s goes to %q, which is no step", s.ID, to)
				}
			}
		}
		offsets := d.StepOffsets()
		if d.CalendarRunnable() != (offsets != nil) {
			t.Fatalf("CalendarRunnable = %v with offsets %v", d.CalendarRunnable(), offsets)
		}
		if offsets != nil {
			n := 0
			for _, s := range d.Steps {
				if k := s.Kind(); k == KindSend || k == KindReward {
					n++
				}
			}
			if len(offsets) != n || !slices.IsSorted(offsets) {
				t.Fatalf("offsets %v for %d send/reward steps", offsets, n)
			}
		}
	})
}

// seedName makes a test's name a seed file name.
func seedName(prefix, name string) string {
	return prefix + "-" + strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzParseJourney equal to the
// documents the tests read: the fixtures, the bases, every edit of the
// rule tables, Parse's cases and the JSON forms. go test
// ./internal/journey -run TestFuzzSeeds -update-seeds rewrites it.
func TestFuzzSeeds(t *testing.T) {
	var seeds []fuzzseed.Seed
	add := func(name string, src []byte) { seeds = append(seeds, fuzzseed.New(name, src)) }
	for _, name := range fixtures {
		add(seedName("fixture", name), fixture(t, name))
	}
	for _, name := range baseNames() {
		add(seedName("base", name), []byte(bases[name]))
		d, err := Parse([]byte(bases[name]))
		if err != nil {
			t.Fatal(err)
		}
		add(seedName("canonical", name), d.Canonical())
	}
	add("json-tabs-and-escapes", jsonVariant(t))
	for _, tc := range validCases {
		add(seedName("valid", tc.name), edit(t, tc.name, bases[tc.base], tc.from, tc.to))
	}
	for _, tc := range ruleCases {
		add(seedName("rule", tc.name), edit(t, tc.name, bases[tc.base], tc.from, tc.to))
	}
	for _, tc := range parseCases {
		add(seedName("parse", tc.name), []byte(tc.src))
	}
	fuzzseed.Check(t, "FuzzParseJourney", seeds)
}
