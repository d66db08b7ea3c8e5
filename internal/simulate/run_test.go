package simulate

import (
	"context"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var start = time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC)

func smallConfig(t testing.TB, members, days int, seed int64) Config {
	p := program(t)
	return Config{Program: p, Journeys: shipped(t, p), Members: testCohort(members, start, days, seed),
		Start: start, Days: days, Seed: seed, Behaviour: testBehaviour{seed: seed}}
}

func TestRunSmallCohort(t *testing.T) {
	cfg := smallConfig(t, 40, 120, 1)
	var days []int
	cfg.Progress = func(p Progress) { days = append(days, p.Day) }
	out, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	byJourney := map[string]int{}
	for _, e := range out.Emails {
		byJourney[e.Journey]++
	}
	t.Logf("emails %d by journey %v; actions %d (%s)", len(out.Emails), byJourney, out.Actions, out.ActionKinds)
	if len(days) != cfg.Days || days[0] != 1 || days[len(days)-1] != cfg.Days {
		t.Errorf("progress days = %v, want 1..%d", days, cfg.Days)
	}
	if byJourney["activation"] == 0 {
		t.Errorf("no activation emails: %v", byJourney)
	}
}

func TestRunIsDeterministic(t *testing.T) {
	a, err := Run(context.Background(), smallConfig(t, 30, 90, 7))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), smallConfig(t, 30, 90, 7))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Emails) == 0 {
		t.Fatal("no emails")
	}
	if !reflect.DeepEqual(a.Emails, b.Emails) {
		t.Errorf("emails differ between two runs of one config")
	}
	if a.ActionKinds != b.ActionKinds {
		t.Errorf("actions %s, then %s", a.ActionKinds, b.ActionKinds)
	}
}

// BenchmarkSimulateYear is the speed target: all five lifecycles
// for 10,000 members over 365 days (at most 60 s on 2 cores).
func BenchmarkSimulateYear(b *testing.B) {
	benchmarkYear(b, 10_000)
}

func benchmarkYear(b *testing.B, members int) {
	cfg := smallConfig(b, members, 365, 1)
	b.ResetTimer()
	for b.Loop() {
		out, err := Run(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(out.Emails)), "emails")
		b.ReportMetric(float64(out.Actions), "actions")
	}
}

func BenchmarkSimulateYear1000(b *testing.B) { benchmarkYear(b, 1000) }

// A run ends every workflow still waiting (enrollments mid-delay at the
// end of the period) and its goroutines with them.
func TestRunLeavesNoGoroutines(t *testing.T) {
	before := goruntime.NumGoroutine()
	cfg := smallConfig(t, 20, 10, 3)
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if goruntime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%d goroutines after the run, %d before", goruntime.NumGoroutine(), before)
}

func TestRunRefusesAnIncompleteConfig(t *testing.T) {
	ok := smallConfig(t, 2, 2, 1)
	for _, c := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Program = nil }, "config program: is required"},
		{func(c *Config) { c.Behaviour = nil }, "config behaviour: is required"},
		{func(c *Config) { c.Days = 0 }, "config days: is 0, must be at least 1"},
		{func(c *Config) { c.Members = append(c.Members, c.Members[0]) }, "members[2].id: m-00001 is given twice"},
		{func(c *Config) { c.Journeys = append(c.Journeys, c.Journeys[0]) }, "journeys[5].name: activation is given twice"},
	} {
		cfg := ok
		cfg.Members = slices.Clone(ok.Members)
		cfg.Journeys = slices.Clone(ok.Journeys)
		c.change(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
}
