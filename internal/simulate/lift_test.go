package simulate

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// TestSimulatedLiftRecoversTheTrueEffect is issue 13's check: a simulated
// journey with a known true effect whose lift report — built from the
// simulation's store by the code GET /v1/journeys/{name}/lift runs
// (journeys.BuildLiftReport over the store's lift counters) — recovers it
// inside its 95% interval over several seeds, and whose held-out members
// got nothing.
//
// The journey is the shipped activation with holdout: 50%, simulated for
// 40 days over about 2,000 members who all register during them (those
// registered before could not enter it), and the report's window is 14
// days, so the members enrolled in the first 25 days count. The members
// are the default behaviour model's except that a journey email's own
// click never converts (email.convert 0): the only difference the
// journey makes is the treatment, +5 points of goal conversion for a
// member who gets an enrollment's first email.
//
// The true lift of the report (treated against holdout, intention to
// treat) is less than 0.05, for two reasons the model makes exact:
//   - the effect reaches only treated members who are sent the welcome
//     email: not those without marketing consent (a fifth of the cohort)
//     nor those who ordered before it went out (a quiet-hours deferral);
//     their share s is read from the store;
//   - a member the treatment makes order would, at the holdout's rate
//     p0, have reached the goal within the window anyway: the treatment
//     draw is independent of the member's own orders, so it adds
//     0.05·(1−p0) to those it reaches.
//
// So the true lift is 0.05·s·(1−p0), about 0.037, with p0 the holdout's
// conversion rate, whose own error moves it by a twentieth as much — far
// inside the interval's half-width (about 0.035 here). The treatment's
// conversion comes within 3 days of the welcome, which goes out within a
// day of enrollment: inside the window. Five seeds take about 30 s; -short
// runs two.
func TestSimulatedLiftRecoversTheTrueEffect(t *testing.T) {
	seeds := []int64{1, 2, 3, 4, 5}
	if testing.Short() {
		seeds = seeds[:2]
	}
	const (
		members = 2000
		days    = 40
		window  = 14
		effect  = 0.05
	)
	p := program(t)
	checks, err := Checks(p)
	if err != nil {
		t.Fatal(err)
	}
	src, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	def, err := journey.Decode(append(src["activation"], "holdout: 50%\n"...), checks)
	if err != nil {
		t.Fatal(err)
	}
	params := DefaultBehaviour()
	params.Email.Convert = 0
	params.Treatment = map[string]float64{def.Name: effect}

	covered := 0
	for _, seed := range seeds {
		ctx := context.Background()
		// Only members who register during the simulation can enter
		// activation: the cohort is the generated one's new members.
		var cohort []Member
		for _, m := range Generate(2*members, seed, goldenStart, days, p) {
			if !m.Registered.Before(goldenStart) {
				cohort = append(cohort, m)
			}
		}
		_, o, err := Simulate(ctx, Request{Program: p, Journeys: []journey.Definition{def}, Cohort: cohort,
			Start: goldenStart, Days: days, Seed: seed, Behaviour: params})
		if err != nil {
			t.Fatal(err)
		}
		cohorts, err := o.Store.LiftCohorts(ctx, def.Name)
		if err != nil {
			t.Fatal(err)
		}
		end := goldenStart.AddDate(0, 0, days)
		r := journeys.BuildLiftReport(def.Name, cohorts, &def, window, end, p.Currency)
		if r.Control != string(loyalty.ArmHoldout) || r.Lift == nil || r.Lift.CI95 == nil {
			t.Fatalf("seed %d: no lift against the holdout: %+v", seed, r)
		}
		treated, held := r.Arms[loyalty.ArmTreated], r.Arms[loyalty.ArmHoldout]

		// The counted treated members (enrolled on CohortsThrough or
		// before) and those of them sent the welcome; every held-out
		// member, counted or not, got nothing.
		var counted, welcomed, heldOut, rewarded int
		for _, m := range o.Config.Members {
			enrs, err := o.Store.ListEnrollments(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, enr := range enrs {
				if enr.Journey != def.Name {
					continue
				}
				switch {
				case enr.Arm == loyalty.ArmTreated && store.LiftDay(enr.StartedAt) <= r.CohortsThrough:
					counted++
					if sentWelcome(t, o.Store, enr) {
						welcomed++
					}
					if len(journeyEntries(t, o.Store, enr)) > 0 {
						rewarded++
					}
				case enr.Arm.HeldOut():
					heldOut++
					checkGotNothing(t, o.Store, enr)
				}
			}
		}
		if int64(counted) != treated.Members {
			t.Fatalf("seed %d: %d treated enrollments through %s, the report counts %d", seed, counted, r.CohortsThrough, treated.Members)
		}
		if heldOut == 0 || held.Members == 0 {
			t.Fatalf("seed %d: nobody held out", seed)
		}
		// The ledger check below sees the journey's rewards where there
		// are some: the treated got the welcome coupon.
		if rewarded == 0 {
			t.Fatalf("seed %d: no treated member has a ledger entry of %s", seed, def.Name)
		}
		s := float64(welcomed) / float64(counted)
		truth := effect * s * (1 - held.ConversionRate)
		ci := *r.Lift.CI95
		in := ci[0] <= truth && truth <= ci[1]
		if in {
			covered++
		}
		t.Logf("seed %d: treated %d (%.1f%% welcomed, %.1f%% converted), holdout %d (%.1f%%); true lift %+.4f, estimated %+.4f, 95%% CI [%+.4f, %+.4f] %s; %s",
			seed, treated.Members, 100*s, 100*treated.ConversionRate, held.Members, 100*held.ConversionRate,
			truth, r.Lift.ConversionLift, ci[0], ci[1], map[bool]string{true: "holds it", false: "MISSES it"}[in], r.Lift.Verdict.Text)
		if math.IsNaN(truth) || s < 0.5 {
			t.Fatalf("seed %d: only %.0f%% of the treated were sent the welcome", seed, 100*s)
		}
	}
	// A 95% interval misses in one run of 20; of five seeds one miss is
	// allowed (two or more happen by chance in about 2% of runs).
	if need := len(seeds) - len(seeds)/5; covered < need {
		t.Errorf("the interval held the true lift in %d of %d seeds, want at least %d", covered, len(seeds), need)
	}
}

// sentWelcome reports whether the enrollment's first email was sent.
func sentWelcome(t *testing.T, st store.Store, enr loyalty.Enrollment) bool {
	t.Helper()
	sends, err := st.ListSends(context.Background(), enr.MemberID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sends {
		if s.Journey == enr.Journey && s.Enrollment == enr.Number && s.Step == "welcome" && s.Status == store.SendSent {
			return true
		}
	}
	return false
}

// checkGotNothing checks that a held-out enrollment has a held_out
// timeline entry, no send row and no ledger entry of the journey.
func checkGotNothing(t *testing.T, st store.Store, enr loyalty.Enrollment) {
	t.Helper()
	ctx := context.Background()
	sends, err := st.ListSends(ctx, enr.MemberID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sends {
		if s.Journey == enr.Journey {
			t.Errorf("held-out %s of %s has a send row %s (%s)", enr.MemberID, enr.Journey, s.Key, s.Status)
		}
	}
	for _, e := range journeyEntries(t, st, enr) {
		t.Errorf("held-out %s of %s has a ledger entry %s (%s)", enr.MemberID, enr.Journey, e.Key, e.Reason)
	}
	tl, _, err := st.ListTimeline(ctx, enr.MemberID, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	heldOut := false
	for _, e := range tl {
		if e.Journey == enr.Journey && e.Enrollment == enr.Number {
			switch e.Kind {
			case "held_out":
				heldOut = true
			case "sent", "reward_granted":
				t.Errorf("held-out %s of %s: timeline %s %s", enr.MemberID, enr.Journey, e.Kind, e.Step)
			}
		}
	}
	if !heldOut {
		t.Errorf("held-out %s of %s has no held_out timeline entry", enr.MemberID, enr.Journey)
	}
}

// journeyEntries are the member's ledger entries a step of the
// enrollment's journey made (keyed by its step key).
func journeyEntries(t *testing.T, st store.Store, enr loyalty.Enrollment) []loyalty.Entry {
	t.Helper()
	entries, err := st.ListEntries(context.Background(), enr.MemberID, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []loyalty.Entry
	for _, e := range entries {
		// The key is the step key and what the entry did
		// ("…#welcome#2027#coupon.issue").
		for k := e.Key; ; {
			if _, j, _, _, _, ok := engine.ParseKey(k); ok && j == enr.Journey {
				out = append(out, e)
				break
			}
			i := strings.LastIndexByte(k, '#')
			if i < 0 {
				break
			}
			k = k[:i]
		}
	}
	return out
}
