package simulate

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/journey"
)

// goldenRuns are the shipped journeys' golden simulations: each journey
// alone over 300 members for long enough to show its later steps (the
// hourly scans cost the simulator time per simulated day, so no longer),
// and the five lifecycles together (their contact-policy collisions).
// Their reports are testdata/<name>.md and .json; go test
// ./internal/simulate -run TestGoldenReports -update re-records them.
var goldenRuns = []struct {
	name      string
	journeys  []string
	members   int
	days      int
	behaviour string // overrides of the default model, as a --behaviour file
}{
	{"activation", []string{"activation"}, 300, 120, ""},
	{"trial", []string{"trial"}, 300, 180, ""},
	{"birthday", []string{"birthday"}, 300, 120, ""},
	{"tier_expiry", []string{"tier_expiry"}, 300, 120, ""},
	{"winback", []string{"winback"}, 300, 180, ""},
	// The member day's audience has 100 points or more, 10,000 CNY of
	// orders at the programme's 1 point per 100: big spenders only.
	{"member_day", []string{"member_day"}, 300, 120, "spend: { v: 2000 }\norders: { alpha: 10 }\n"},
	{"svip_upsell", []string{"svip_upsell"}, 300, 180, ""},
	{"lifecycles", []string{"activation", "birthday", "tier_expiry", "trial", "winback"}, 300, 120, ""},
}

// goldenStart is a Friday, midnight in Shanghai.
var goldenStart = time.Date(2027, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))

func TestGoldenReports(t *testing.T) {
	p := program(t)
	checks, err := Checks(p)
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, g := range goldenRuns {
		for _, n := range g.journeys {
			covered[n] = true
		}
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			var defs []journey.Definition
			for _, n := range g.journeys {
				d, err := journey.Decode(shipped[n], checks)
				if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
				defs = append(defs, d)
			}
			params, err := LoadBehaviour([]byte(g.behaviour))
			if err != nil {
				t.Fatal(err)
			}
			r, o, err := Simulate(context.Background(), Request{Program: p, Journeys: defs, Members: g.members,
				Start: goldenStart, Days: g.days, Seed: 1, Behaviour: params})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s", g.name, r.FinalLine(o.Elapsed))
			if r.Totals.Enrolled == 0 {
				t.Errorf("nobody entered %v in %d days", g.journeys, g.days)
			}
			var md, js bytes.Buffer
			if err := r.WriteMarkdown(&md); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			golden(t, g.name+".md", md.Bytes())
			golden(t, g.name+".json", js.Bytes())
		})
	}
	for name := range shipped {
		if !covered[name] {
			t.Errorf("the shipped journey %s has no golden report", name)
		}
	}
}
