package simulate

import (
	"cmp"
	"context"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/events"
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
	members := smallConfig(t, 30, 90, 7).Members
	if diff := diffLines(lines(decisions(t, a.Store, members)), lines(decisions(t, b.Store, members))); diff != "" {
		t.Errorf("decisions differ between two runs of one config:\n%s", diff)
	}
}

// A broadcast fires at its schedule's times and enters the members its
// audience holds for (V2 and up with 100 points: members who paid
// 12,000 a month before); each gets the step at their own 10:00.
func TestRunBroadcast(t *testing.T) {
	cfg := smallConfig(t, 12, 40, 5)
	cfg.Journeys = shipped(t, cfg.Program, "member_day")
	b := scriptedBehaviour{testBehaviour: testBehaviour{seed: 5}, plans: map[string][]events.Envelope{}}
	for i, m := range cfg.Members {
		m.Registered = start.Add(time.Duration(i) * 2 * time.Hour)
		cfg.Members[i] = m
		if i%2 == 0 {
			b.plans[m.ID] = []events.Envelope{order(m.ID, m.ID+"-big", m.Registered.Add(time.Hour), 12000)}
		}
	}
	cfg.Behaviour = b
	out, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range out.Emails {
		got[e.MemberID] = true
		loc, err := time.LoadLocation(cmp.Or(cfgMember(cfg, e.MemberID).Timezone, "Asia/Shanghai"))
		if err != nil {
			t.Fatal(err)
		}
		if l := e.At.In(loc); e.Journey != "member_day" || l.Month() != time.April || l.Day() != 8 || l.Hour() < 10 {
			t.Errorf("email %+v at %s local, want member_day on 8 April from 10:00", e, l)
		}
	}
	for i, m := range cfg.Members {
		if want := i%2 == 0 && m.Consent; got[m.ID] != want {
			t.Errorf("member %s (big order %t, consent %t) emailed: %t", m.ID, i%2 == 0, m.Consent, got[m.ID])
		}
	}
}

func cfgMember(cfg Config, id string) Member {
	for _, m := range cfg.Members {
		if m.ID == id {
			return m
		}
	}
	return Member{}
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

// A workflow that panics fails the run with its error; the process goes
// on (the API serves simulations).
func TestRunReportsAPanickingWorkflow(t *testing.T) {
	cfg := smallConfig(t, 3, 3, 1)
	cfg.Behaviour = panicking{cfg.Behaviour}
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "panic: behaviour broke") {
		t.Errorf("err = %v, want the panic", err)
	}
}

// panicking panics when asked how a member reacts to an email, which
// happens inside a workflow's activity.
type panicking struct{ Behaviour }

func (panicking) OnEmail(Member, Email) Reaction { panic("behaviour broke") }
