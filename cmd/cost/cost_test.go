package main

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

func TestActedOn(t *testing.T) {
	tests := []struct {
		name   string
		counts map[string]int
		want   int
	}{
		{"nothing", nil, 0},
		{"sent and deferred", map[string]int{"entered": 3, "rewarded": 3, "sent": 2, "deferred": 1, "completed": 2}, 3},
		{"skips of every reason", map[string]int{"sent": 1, "skipped:no_consent": 2, "skipped:contact_policy": 1}, 4},
		{"no step due", map[string]int{"not_due": 5, "done_before": 3, "not_enrolled:audience": 2}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := actedOn(tc.counts); got != tc.want {
				t.Errorf("actedOn(%v) = %d, want %d", tc.counts, got, tc.want)
			}
		})
	}
}

func TestReplaceOnce(t *testing.T) {
	tests := []struct {
		name, src string
		want      string
		wantErr   bool
	}{
		{"once", "a: { for: 3d }", "a: { for: 2s }", false},
		{"missing", "a: { for: 4d }", "", true},
		{"twice", "{ for: 3d } { for: 3d }", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := replaceOnce(tc.src, "{ for: 3d }", "{ for: 2s }")
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("replaceOnce(%q) = %q, %v; want %q, error %t", tc.src, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestShortenedShippedJourneys checks that the shipped activation and
// trial still hold the delays make cost shortens, and that the results
// parse with the delays in seconds.
func TestShortenedShippedJourneys(t *testing.T) {
	shipped, err := shippedJourneys()
	if err != nil {
		t.Fatal(err)
	}
	short, err := shortened(shipped)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		activation: {"delay: { for: 2s }"},
		trial:      {"offset: -4s", "offset: -2s", "delay: { for: 2s }", "offset: 2h"},
	} {
		if _, err := journey.Parse([]byte(short[name])); err != nil {
			t.Errorf("shortened %s does not parse: %v", name, err)
		}
		for _, w := range want {
			if !strings.Contains(short[name], w) {
				t.Errorf("shortened %s lacks %q", name, w)
			}
		}
	}
	for _, name := range calendarNames {
		if short[name] != shipped[name] {
			t.Errorf("the calendar journey %s was changed", name)
		}
	}
	up, err := shortUpsell()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(up, "timeout: "+upsellWait.String()) {
		t.Errorf("svip_upsell's wait is not shortened: %s", up)
	}
}

// TestScanPasses counts the hourly runs that read a member's partition:
// a 24-hour catch-up and a day of slack each side make every step's
// partition read by 4 × 24 runs.
func TestScanPasses(t *testing.T) {
	tests := []struct {
		journey string
		want    float64
	}{
		{birthday, 96},
		{tierExpiry, 3 * 96}, // d30, d7, d1: windows six or more days apart
		{winback, 3 * 96},    // d60, d120, d365
	}
	for _, tc := range tests {
		t.Run(tc.journey, func(t *testing.T) {
			src, err := fs.ReadFile(templates.Journeys, journeys.ShippedDir+"/"+tc.journey+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			def, err := journey.Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := scanPasses(def, workflows.DefaultCatchUp)
			if err != nil || got != tc.want {
				t.Errorf("scanPasses(%s) = %v, %v; want %v", tc.journey, got, err, tc.want)
			}
		})
	}
	t.Run("a journey not run inside its scan", func(t *testing.T) {
		def := journey.Definition{Name: "x", Trigger: journey.Trigger{Event: "member.registered"}}
		if _, err := scanPasses(def, 24*time.Hour); err == nil {
			t.Error("scanPasses of an event-triggered journey gave no error")
		}
	})
}

func TestRoundCents(t *testing.T) {
	tests := []struct {
		in, want float64
	}{{4.104, 4.10}, {4.106, 4.11}, {3.97, 3.97}}
	for _, tc := range tests {
		if got := roundCents(tc.in); got != tc.want {
			t.Errorf("roundCents(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCalendarJourneys(t *testing.T) {
	shipped, err := shippedJourneys()
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]journeys.Live{}
	for name, src := range shipped {
		def, err := journey.Parse([]byte(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		live[name] = journeys.Live{Definition: def}
	}
	set := func(names ...string) []journeys.Live {
		var out []journeys.Live
		for _, n := range names {
			out = append(out, live[n])
		}
		return out
	}
	extra := live[birthday]
	extra.Definition.Name = "anniversary"
	tests := []struct {
		name    string
		live    []journeys.Live
		want    []string
		wantErr bool
	}{
		{"the shipped set, in the report's order", set(winback, activation, tierExpiry, trial, birthday), calendarNames, false},
		{"one missing", set(activation, birthday, winback), nil, true},
		{"a scanned journey the model does not know", append(set(birthday, tierExpiry, winback), extra), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defs, err := calendarJourneys(tc.live)
			var got []string
			for _, d := range defs {
				got = append(got, d.Name)
			}
			if (err != nil) != tc.wantErr || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("calendarJourneys = %v, %v; want %v, error %t", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
