package activities_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// memberIn is the first of prefix-0, prefix-1, … the stable hash puts in
// arm, for a journey holdout of journeyPct and a programme-wide one of
// programmePct: tests pick members by the same decision the engine takes.
func memberIn(t *testing.T, arm loyalty.Arm, prefix, journeyName string, journeyPct, programmePct int64) string {
	t.Helper()
	for i := range 1000 {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if engine.Holdout(id, journeyName, decimal.NewFromInt(journeyPct), decimal.NewFromInt(programmePct)) == arm {
			return id
		}
	}
	t.Fatalf("no member in %s among 1000", arm)
	return ""
}

// heldOutWinback publishes the win-back journey with a 50% holdout and
// returns a lapsed member in its holdout and one treated.
func heldOutWinback(w *scanWorld, last time.Time) (held, treated string) {
	w.publish(shipped(w.t, "winback", "priority: 10", "priority: 10\nholdout: 50%"))
	held = memberIn(w.t, loyalty.ArmHoldout, "h", "winback", 50, 0)
	treated = memberIn(w.t, loyalty.ArmTreated, "t", "winback", 50, 0)
	w.lapsed(held, last)
	w.lapsed(treated, last)
	return held, treated
}

// gotNothing fails unless the member has no send row, no email, no coupon,
// no boost and no points.
func (w *scanWorld) gotNothing(id string) {
	w.t.Helper()
	if rows := w.sends(id); len(rows) != 0 {
		w.t.Errorf("%s has send rows %+v", id, rows)
	}
	for _, m := range w.mailer.messages() {
		if m.MemberID == id {
			w.t.Errorf("%s was emailed %s", id, m.Template)
		}
	}
	if cps := w.coupons(id); len(cps) != 0 {
		w.t.Errorf("%s has coupons %+v", id, cps)
	}
	if acc, err := w.st.GetAccount(context.Background(), id); err == nil && (len(acc.Boosts) != 0 || len(acc.Lots) != 0) {
		w.t.Errorf("%s has boosts %+v, lots %+v", id, acc.Boosts, acc.Lots)
	}
}

func TestHoldoutCalendarScan(t *testing.T) {
	last := cst(2026, 9, 24, 12, 0)
	number := 20260924
	d60, d120, d365 := cst(2026, 11, 23, 10, 30), cst(2027, 1, 22, 10, 30), cst(2027, 9, 24, 10, 30)
	w := newScanWorld(t)
	held, treated := heldOutWinback(w, last)

	var total map[string]int
	for _, at := range []time.Time{d60, d60.Add(time.Hour), d120, d120.Add(time.Hour), d365, d365.Add(time.Hour)} {
		// Each step's hour is scanned twice: the second run meets both
		// members again inside its catch-up window.
		counts, _ := w.scan("winback", at)
		total = addCounts(total, counts)
	}
	if total["held_out"] != 3 || total["sent"] != 3 || total["rewarded"] != 2 {
		t.Errorf("counts = %v, want 3 held out, 3 sent, 2 rewarded", total)
	}
	w.gotNothing(held)
	if n := len(w.sends(treated)); n != 3 {
		t.Errorf("treated member has %d send rows, want 3", n)
	}
	e := w.enrollment(held, "winback", number)
	if e.Arm != loyalty.ArmHoldout || e.Status != loyalty.EnrollmentCompleted {
		t.Errorf("held-out enrollment = %+v, want completed in the holdout arm", e)
	}
	if e := w.enrollment(treated, "winback", number); e.Arm != loyalty.ArmTreated {
		t.Errorf("treated enrollment arm = %q", e.Arm)
	}
	want := []string{"enrolled", "held_out d60 holdout", "held_out d120 holdout", "held_out d365 holdout", "completed d365 completed"}
	if got := w.timeline(held); !slices.Equal(got, want) {
		t.Errorf("held-out timeline = %q, want %q", got, want)
	}
}

// A held-out member is never deferred: a scan in quiet hours starts a
// deferral workflow for the treated member only, and a deferral that asks
// again for the held-out member's step (a workflow of a stale request)
// still sends nothing.
func TestHoldoutIsNeverDeferredNorSentLater(t *testing.T) {
	last := cst(2026, 9, 24, 12, 0)
	w := newScanWorld(t)
	held, treated := heldOutWinback(w, last)
	counts, _ := w.scan("winback", cst(2026, 11, 23, 22, 30))
	if counts["deferred"] != 1 || counts["held_out"] != 1 {
		t.Fatalf("counts = %v, want one deferred and one held out", counts)
	}
	calls := w.starter.recorded()
	if len(calls) != 1 || calls[0].Args[0].(activities.JourneyDeferredStepInput).Request.MemberID != treated {
		t.Fatalf("deferral starts = %+v, want the treated member's only", calls)
	}
	// The deferral's RunStep, as JourneyDeferredStep runs it at 09:00,
	// for both members — retried, as an activity may be.
	w.now = cst(2026, 11, 24, 9, 0)
	def := w.live("winback")
	for _, id := range []string{treated, held, held} {
		req := activities.StepRequest{MemberID: id, Journey: "winback", Version: def.Version, Enrollment: 20260924, Step: "d60",
			At: w.now, Ref: cst(2026, 11, 23, 10, 0)}
		val, err := w.env.ExecuteActivity((&activities.Activities{}).RunStep, req)
		if err != nil {
			t.Fatal(err)
		}
		var res activities.StepResult
		if err := val.Get(&res); err != nil {
			t.Fatal(err)
		}
		if got := res.HeldOut; got != (id == held) {
			t.Errorf("%s: held out = %v", id, got)
		}
	}
	if n := len(w.mailer.to(engine.Key(treated, "winback", 20260924, "d60", 2026))); n != 1 {
		t.Errorf("treated member got %d emails at 09:00, want 1", n)
	}
	w.gotNothing(held)
	heldOut := 0
	for _, d := range w.timeline(held) {
		if d == "held_out d60 holdout" {
			heldOut++
		}
	}
	// One entry for the scan's decision and one for the 09:00 one (its
	// retry writes nothing more).
	if heldOut != 2 {
		t.Errorf("held-out timeline = %q, want two held_out d60 entries", w.timeline(held))
	}
}

// The arm is kept with the enrollment: a new version without a holdout
// does not start sending to members held out by the version they
// entered on. A re-entry of the same member into a version that holds
// out the same share takes the same arm again.
func TestHoldoutKeptAcrossVersionsAndReentries(t *testing.T) {
	last := cst(2026, 9, 24, 12, 0)
	w := newScanWorld(t)
	held, _ := heldOutWinback(w, last)
	w.scan("winback", cst(2026, 11, 23, 10, 30))
	// v3: no holdout. The open enrollment stays on its version and arm.
	w.publish(shipped(t, "winback", "priority: 10", "priority: 11"))
	w.scan("winback", cst(2027, 1, 22, 10, 30))
	w.gotNothing(held)
	if e := w.enrollment(held, "winback", 20260924); e.Arm != loyalty.ArmHoldout {
		t.Errorf("arm after a new version = %q", e.Arm)
	}

	// Back to a 50% holdout; the member orders, lapses again and re-enters:
	// a new enrollment, the same arm.
	w.publish(shipped(t, "winback", "priority: 10", "priority: 12\nholdout: 50%"))
	again := cst(2027, 2, 1, 12, 0)
	w.relapse(held, again)
	w.scan("winback", cst(2027, 4, 2, 10, 30))
	e := w.enrollment(held, "winback", 20270201)
	if e.Arm != loyalty.ArmHoldout {
		t.Fatalf("re-entry = %+v, want the holdout arm again", e)
	}
	w.gotNothing(held)
}

// The programme-wide holdout keeps a member out of every journey, with
// no holdout of the journey's own.
func TestProgrammeHoldout(t *testing.T) {
	w := newScanWorld(t)
	w.ledger.Rules.Program.Holdout = decimal.NewFromInt(50) // the engine reads the same programme
	held := memberIn(t, loyalty.ArmProgrammeHoldout, "p", "winback", 0, 50)
	treated := memberIn(t, loyalty.ArmTreated, "q", "winback", 0, 50)
	w.lapsed(held, cst(2026, 9, 24, 12, 0))
	w.lapsed(treated, cst(2026, 9, 24, 12, 0))
	counts, _ := w.scan("winback", cst(2026, 11, 23, 10, 30))
	if counts["held_out"] != 1 || counts["sent"] != 1 {
		t.Errorf("counts = %v", counts)
	}
	w.gotNothing(held)
	if got := w.timeline(held); !slices.Contains(got, "held_out d60 programme_holdout") {
		t.Errorf("timeline = %q", got)
	}
	if e := w.enrollment(held, "winback", 20260924); e.Arm != loyalty.ArmProgrammeHoldout {
		t.Errorf("arm = %q", e.Arm)
	}
}

func addCounts(into, from map[string]int) map[string]int {
	if into == nil {
		into = map[string]int{}
	}
	for k, v := range from {
		into[k] += v
	}
	return into
}

// The step executor keeps the lift counters it alone sees: points a
// reward grants (treated members only, so the holdout's cost is nil) and
// a goal found by goal.check before a step (both arms alike).
func TestLiftFromTheStepExecutor(t *testing.T) {
	w := newScanWorld(t)
	w.publish(shipped(t, "winback",
		"priority: 10", "priority: 10\nholdout: 50%\ngoal: { check: \"member.order_count > 1\", exit: true }",
		"reward: { coupon: C15 }", "reward: { coupon: C15, points: 10 }"))
	held := memberIn(t, loyalty.ArmHoldout, "h", "winback", 50, 0)
	treated := memberIn(t, loyalty.ArmTreated, "t", "winback", 50, 0)
	last := cst(2026, 9, 24, 12, 0)
	w.lapsed(held, last)
	w.lapsed(treated, last)
	w.scan("winback", cst(2026, 11, 23, 10, 30))
	w.scan("winback", cst(2026, 11, 23, 11, 30)) // the next hour meets them again
	// Both order again (their last order stays where the index has it).
	for _, id := range []string{held, treated} {
		m, err := w.st.GetMember(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		m.OrderCount = 2
		w.save(m)
	}
	w.scan("winback", cst(2027, 1, 22, 10, 30))

	cohorts, err := w.st.LiftCohorts(context.Background(), "winback")
	if err != nil {
		t.Fatal(err)
	}
	byArm := map[loyalty.Arm]store.LiftCohort{}
	for _, c := range cohorts {
		byArm[c.Arm] = c
	}
	tr, ho := byArm[loyalty.ArmTreated], byArm[loyalty.ArmHoldout]
	if len(cohorts) != 2 || tr.Members != 1 || ho.Members != 1 || tr.Day != "2026-11-23" {
		t.Fatalf("cohorts = %+v", cohorts)
	}
	if o := tr.Days[0]; o.Points != 10 || !o.PointsCost.Equal(decimal.NewFromInt(10)) {
		t.Errorf("treated day 0 = %+v, want 10 points at the point value", o)
	}
	// d120 is 60 days after the d60 entry.
	if tr.Days[60].Goals != 1 || ho.Days[60].Goals != 1 {
		t.Errorf("goals: treated %+v, holdout %+v; want one on day 60 each", tr.Days, ho.Days)
	}
	if len(ho.Days) != 1 {
		t.Errorf("holdout days = %+v, want its goal only", ho.Days)
	}
	if e := w.enrollment(treated, "winback", 20260924); e.Status != loyalty.EnrollmentExited || e.Reason != activities.ReasonConverted {
		t.Errorf("treated enrollment = %+v", e)
	}
}
