package journeys_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/templates"
)

const liftJourney = `
name: offer_test
holdout: 50%
trigger: { api: {} }
goal: { event: review.posted }
steps:
  - id: ab
    split: [ { weight: 1, goto: a }, { weight: 1, goto: b } ]
  - id: a
    send: { email: activation_nudge }
    goto: end
  - id: b
    send: { email: activation_last_nudge }
`

var liftStart = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

type nopRunner struct{}

func (nopRunner) StartEnrollment(context.Context, journeys.Start) error           { return nil }
func (nopRunner) SignalEnrollment(context.Context, string, journeys.Signal) error { return nil }

// liftWorld is the enroller, the ledger and the lift counter over one
// memstore, with liftJourney published, on a clock the test sets.
type liftWorld struct {
	t   *testing.T
	st  *memstore.Store
	ldg *ledger.Service
	svc *journeys.Service
	enr *journeys.Enroller
	def journey.Definition
	now time.Time
}

func newLiftWorld(t *testing.T, src string) *liftWorld {
	t.Helper()
	w := &liftWorld{t: t, st: memstore.New(), now: liftStart}
	clock := func() time.Time { return w.now }
	w.ldg = ledgerfix.Service(t, w.st)
	w.ldg.Now = clock
	cat, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	svc, eng, err := journeys.New(w.st, w.ldg.Rules.Program, cat)
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = clock
	w.svc = svc
	w.enr = &journeys.Enroller{Store: w.st, Engine: eng, Runner: nopRunner{}, Now: clock}
	p, err := svc.Publish(context.Background(), []byte(src), "test")
	if err != nil {
		t.Fatal(err)
	}
	if w.def, err = svc.Version(context.Background(), p.Name, p.Version); err != nil {
		t.Fatal(err)
	}
	return w
}

// enter enrols the member (saving a projection first) at the world's
// clock and returns the enrollment.
func (w *liftWorld) enter(id string) loyalty.Enrollment {
	w.t.Helper()
	ctx := context.Background()
	if _, err := w.st.GetMember(ctx, id); err != nil {
		if err := w.st.SaveMember(ctx, loyalty.Member{ID: id, Version: 1, Consent: loyalty.Consent{EmailMarketing: true}}, "reg-"+id); err != nil {
			w.t.Fatal(err)
		}
	}
	doc, err := w.ldg.Document(ctx, id, w.now)
	if err != nil {
		w.t.Fatal(err)
	}
	st, err := w.st.GetJourney(ctx, w.def.Name)
	if err != nil {
		w.t.Fatal(err)
	}
	got, err := w.enr.Enter(ctx, journeys.Entry{Live: journeys.Live{State: st, Definition: w.def}, Member: doc, Number: journeys.Number(w.def, w.now), Anchor: w.now})
	if err != nil || got.Refused != "" {
		w.t.Fatalf("enter %s: %+v, %v", id, got, err)
	}
	return got.Enrollment
}

// event applies an event as dispatch does — the ledger, then the lift
// counter over the member's document — at its own time.
func (w *liftWorld) event(id string, typ events.Type, evID string, at time.Time, data any) {
	w.t.Helper()
	ctx := context.Background()
	raw, err := json.Marshal(data)
	if err != nil {
		w.t.Fatal(err)
	}
	env := events.Envelope{ID: evID, Version: 1, Type: typ, OccurredAt: at, MemberID: id, Data: raw}
	m, err := w.st.GetMember(ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	acc, err := w.ldg.ApplyEventTo(ctx, &m, env, data)
	if err != nil {
		w.t.Fatal(err)
	}
	doc, err := w.ldg.DocumentOf(ctx, m, acc, at)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.enr.Lift().Event(ctx, w.svc.Version, doc, &env, data, acc); err != nil {
		w.t.Fatal(err)
	}
}

func (w *liftWorld) order(id, orderID, amount string, at time.Time, coupon string) {
	w.t.Helper()
	a := decimal.RequireFromString(amount)
	w.event(id, events.OrderPaid, "evt-"+orderID, at, &events.OrderPaidData{OrderID: orderID, Amount: a, Currency: "CNY", CouponCode: coupon,
		Payments: []events.Payment{{Method: events.PaymentCard, Amount: a}}})
}

func (w *liftWorld) review(id, evID string, at time.Time) {
	w.t.Helper()
	w.event(id, events.ReviewPosted, evID, at, &events.ReviewPostedData{ReviewID: evID, Rating: 5})
}

func (w *liftWorld) cohorts() map[store.LiftCell]store.LiftCohort {
	w.t.Helper()
	cs, err := w.st.LiftCohorts(context.Background(), w.def.Name)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[store.LiftCell]store.LiftCohort{}
	for _, c := range cs {
		out[c.LiftCell] = c
	}
	return out
}

// memberIn finds a member id in the arm (and, treated, on split path
// path of step ab, or any path when path < 0).
func memberIn(t *testing.T, def journey.Definition, arm loyalty.Arm, path int, prefix string) string {
	t.Helper()
	ab, _ := def.Step("ab")
	for i := range 1000 {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if engine.Holdout(id, def.Name, def.Holdout.Decimal(), decimal.Zero) != arm {
			continue
		}
		if p, _ := engine.Split(ab, id, def.Name); path >= 0 && p != path {
			continue
		}
		return id
	}
	t.Fatalf("no member in %s on path %d", arm, path)
	return ""
}

func TestLiftCountsEnrollmentsByArmAndPath(t *testing.T) {
	w := newLiftWorld(t, liftJourney)
	day := store.LiftDay(liftStart)
	treatedA := memberIn(t, w.def, loyalty.ArmTreated, 0, "ta")
	treatedB := memberIn(t, w.def, loyalty.ArmTreated, 1, "tb")
	held := memberIn(t, w.def, loyalty.ArmHoldout, -1, "h")
	for _, id := range []string{treatedA, treatedB, held} {
		w.enter(id)
		w.enter(id) // a redelivered trigger
	}
	got := w.cohorts()
	want := map[store.LiftCell]int64{
		{Arm: loyalty.ArmTreated, Day: day}:                                 2,
		{Arm: loyalty.ArmTreated, Path: store.SplitPath("ab", 0), Day: day}: 1,
		{Arm: loyalty.ArmTreated, Path: store.SplitPath("ab", 1), Day: day}: 1,
		{Arm: loyalty.ArmHoldout, Day: day}:                                 1,
	}
	if len(got) != len(want) {
		t.Errorf("cohorts = %+v, want %v", got, want)
	}
	for cell, n := range want {
		if got[cell].Members != n {
			t.Errorf("%+v: %d members, want %d", cell, got[cell].Members, n)
		}
	}
}

// A goal counts once per enrollment, on the day of the earliest goal
// event, whichever arrives first; events from the trigger's moment or
// before, or LiftDays or more after the start, are no outcome.
func TestLiftGoalsAndWindowBounds(t *testing.T) {
	w := newLiftWorld(t, liftJourney)
	id := memberIn(t, w.def, loyalty.ArmHoldout, -1, "h")
	w.enter(id)
	cell := store.LiftCell{Arm: loyalty.ArmHoldout, Day: store.LiftDay(liftStart)}
	w.review(id, "r-9", liftStart.Add(9*24*time.Hour+time.Hour))
	w.review(id, "r-3", liftStart.Add(3*24*time.Hour+time.Hour)) // earlier, arriving later
	w.review(id, "r-3", liftStart.Add(3*24*time.Hour+time.Hour)) // redelivered
	w.review(id, "r-20", liftStart.Add(20*24*time.Hour))
	co := w.cohorts()[cell]
	if co.Days[3].Goals != 1 || len(co.Days) != 1 {
		t.Errorf("days = %+v, want one goal on day 3", co.Days)
	}
	// Orders: at the trigger's moment (not news), on day 89 (counted),
	// on day 90 (outside the window).
	w.order(id, "o-0", "100", liftStart, "")
	w.order(id, "o-89", "200", liftStart.Add(89*24*time.Hour+23*time.Hour), "")
	w.order(id, "o-90", "300", liftStart.Add(90*24*time.Hour), "")
	co = w.cohorts()[cell]
	if o := co.Days[89]; o.Orders != 1 || !o.Revenue.Equal(decimal.NewFromInt(200)) || len(co.Days) != 2 {
		t.Errorf("days = %+v, want the day-89 order only", co.Days)
	}
	// The refund of the order from the trigger's moment is not counted;
	// one of the day-89 order is, on its own day.
	w.event(id, events.OrderRefunded, "evt-rf-0", liftStart.Add(10*24*time.Hour), &events.OrderRefundedData{OrderID: "o-0", RefundID: "rf-0", Amount: decimal.NewFromInt(100), Currency: "CNY"})
	w.event(id, events.OrderRefunded, "evt-rf-89", liftStart.Add(89*24*time.Hour+23*time.Hour+time.Minute), &events.OrderRefundedData{OrderID: "o-89", RefundID: "rf-89", Amount: decimal.NewFromInt(50), Currency: "CNY"})
	co = w.cohorts()[cell]
	if o := co.Days[89]; !o.Revenue.Equal(decimal.NewFromInt(150)) || len(co.Days) != 2 {
		t.Errorf("days after refunds = %+v, want 200 − 50 on day 89 and nothing on day 10", co.Days)
	}
}

// Reward costs: the journey's coupon when redeemed (face value, added
// back to the order's revenue), points when granted, and the extra
// points of the journey's boost on an order; a coupon of another
// enrollment is not this one's cost.
func TestLiftRewardCosts(t *testing.T) {
	w := newLiftWorld(t, liftJourney)
	ctx := context.Background()
	id := memberIn(t, w.def, loyalty.ArmTreated, 0, "t")
	enr := w.enter(id)
	key := engine.Key(id, w.def.Name, enr.Number, "a", liftStart.Year())
	c, err := w.ldg.IssueCoupon(ctx, id, key, "C15", "offer")
	if err != nil {
		t.Fatal(err)
	}
	other, err := w.ldg.IssueCoupon(ctx, id, engine.Key(id, "winback", 20260101, "d60", 2026), "FREE25", "winback")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ldg.GrantBoost(ctx, id, key, decimal.NewFromInt(3), 14, "offer"); err != nil {
		t.Fatal(err)
	}
	lift := w.enr.Lift()
	if err := lift.Points(ctx, w.def, enr, key, 20, liftStart.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := lift.Points(ctx, w.def, enr, key, 20, liftStart.Add(2*time.Hour)); err != nil { // a retry
		t.Fatal(err)
	}
	// Day 1: 400 paid with the journey's C15, during its ×3 boost: 4
	// units, 12 points against 4 without it — 8 boost points.
	w.order(id, "o-1", "400", liftStart.Add(24*time.Hour+time.Hour), c.Code)
	// Day 2: 100 with another journey's FREE25, still in the boost: an
	// order whose coupon is not this journey's cost (nor added back to its
	// revenue); the boost's 3 − 1 points are.
	w.order(id, "o-2", "100", liftStart.Add(2*24*time.Hour+time.Hour), other.Code)
	d := decimal.RequireFromString
	for _, cell := range []store.LiftCell{
		{Arm: loyalty.ArmTreated, Day: store.LiftDay(liftStart)},
		{Arm: loyalty.ArmTreated, Path: store.SplitPath("ab", 0), Day: store.LiftDay(liftStart)},
	} {
		co := w.cohorts()[cell]
		if o := co.Days[0]; o.Points != 20 || !o.PointsCost.Equal(d("20")) {
			t.Errorf("%+v day 0 = %+v, want 20 points at 1 each", cell, o)
		}
		if o := co.Days[1]; o.Orders != 1 || !o.Revenue.Equal(d("415")) || o.Coupons != 1 || !o.CouponCost.Equal(d("15")) || o.BoostPoints != 8 || !o.BoostCost.Equal(d("8")) {
			t.Errorf("%+v day 1 = %+v, want 400 + 15, C15 at 15, 8 boost points", cell, o)
		}
		if o := co.Days[2]; o.Orders != 1 || !o.Revenue.Equal(d("100")) || o.Coupons != 0 || !o.CouponCost.IsZero() || o.BoostPoints != 2 || !o.Cost().Equal(d("2")) {
			t.Errorf("%+v day 2 = %+v, want an order of 100, no coupon of this journey's, 2 boost points", cell, o)
		}
	}
}

// The report: only cohorts whose window is over, outcomes of days below
// the window, the journey's holdout as the control, split paths against
// it and each other.
func TestBuildLiftReport(t *testing.T) {
	d := decimal.RequireFromString
	day := func(s string, members int64, days map[int]store.LiftOutcome, arm loyalty.Arm, path string) store.LiftCohort {
		return store.LiftCohort{LiftCell: store.LiftCell{Arm: arm, Path: path, Day: s}, Members: members, Days: days}
	}
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	cohorts := []store.LiftCohort{
		// 2026-05-10 is the last day a 30-day window is over for at 06-10 12:00.
		day("2026-05-01", 600, map[int]store.LiftOutcome{0: {Goals: 30, Orders: 40, Revenue: d("4000"), Coupons: 10, CouponCost: d("150")}, 29: {Goals: 30}, 30: {Goals: 99, Orders: 99}}, loyalty.ArmTreated, ""),
		day("2026-05-10", 400, map[int]store.LiftOutcome{5: {Goals: 40, Orders: 60, Revenue: d("6000"), Points: 100, PointsCost: d("100")}}, loyalty.ArmTreated, ""),
		day("2026-05-11", 999, map[int]store.LiftOutcome{1: {Goals: 999}}, loyalty.ArmTreated, ""),
		day("2026-05-01", 100, map[int]store.LiftOutcome{3: {Goals: 5, Orders: 8, Revenue: d("500")}}, loyalty.ArmHoldout, ""),
		day("2026-05-01", 40, map[int]store.LiftOutcome{3: {Goals: 1}}, loyalty.ArmProgrammeHoldout, ""),
		day("2026-05-01", 500, map[int]store.LiftOutcome{0: {Goals: 60}}, loyalty.ArmTreated, store.SplitPath("ab", 0)),
		day("2026-05-10", 500, map[int]store.LiftOutcome{0: {Goals: 40}}, loyalty.ArmTreated, store.SplitPath("ab", 1)),
	}
	live := journey.Definition{Steps: []journey.Step{{ID: "ab", Split: []journey.Path{{Weight: 1, Goto: "a"}, {Weight: 1, Goto: "b"}}}}}
	r := journeys.BuildLiftReport("offer_test", cohorts, &live, 30, now, "CNY")
	if r.CohortsThrough != "2026-05-10" || r.PendingMembers != 999 || r.Window != "30d" || r.Control != "holdout" {
		t.Errorf("report header = %+v", r)
	}
	// Treated: 1000 members, 100 goals (30 + 30 + 40; day 30 is out),
	// 100 orders, 10,000 revenue, cost 150 + 100.
	tr := r.Arms[loyalty.ArmTreated]
	if tr.Members != 1000 || tr.Conversions != 100 || tr.Orders != 100 || !tr.Revenue.Equal(d("10000")) || !tr.RewardCost.Equal(d("250")) ||
		tr.CouponsRedeemed != 10 || tr.PointsGranted != 100 || !tr.RevenuePerMember.Equal(d("10")) {
		t.Errorf("treated = %+v", tr)
	}
	if h := r.Arms[loyalty.ArmHoldout]; h.Members != 100 || h.Conversions != 5 || !h.Revenue.Equal(d("500")) {
		t.Errorf("holdout = %+v", h)
	}
	// Treated 10% against the holdout's 5%: +5 points, 50 incremental
	// conversions; revenue 10,000 − 500·10 = 5,000; ROI (5,000 − 250)/250 = 19.
	l := r.Lift
	if l == nil || l.Control != "holdout" || l.ConversionLift < 0.0499 || l.ConversionLift > 0.0501 || !l.IncrementalRevenue.Equal(d("5000")) || l.ROI == nil || *l.ROI != 19 {
		t.Fatalf("lift = %+v", l)
	}
	if len(r.Splits) != 1 || r.Splits[0].Step != "ab" || len(r.Splits[0].Paths) != 2 || len(r.Splits[0].Comparisons) != 1 {
		t.Fatalf("splits = %+v", r.Splits)
	}
	p0, p1 := r.Splits[0].Paths[0], r.Splits[0].Paths[1]
	if p0.Goto != "a" || p0.Treated.Members != 500 || p0.Treated.Conversions != 60 || p0.VsControl == nil || p1.Treated.Conversions != 40 {
		t.Errorf("paths = %+v, %+v", p0, p1)
	}
	if c := r.Splits[0].Comparisons[0]; c.Treated != "path 1" || c.Control != "path 0" || c.ConversionLift > -0.0399 || c.ConversionLift < -0.0401 {
		t.Errorf("path 1 against path 0 = %+v", c)
	}

	// Without the journey's holdout, the programme's is the control.
	r = journeys.BuildLiftReport("offer_test", cohorts[:3:3], nil, 30, now, "CNY")
	if r.Control != "" || r.Lift != nil {
		t.Errorf("no holdout: control %q, lift %+v", r.Control, r.Lift)
	}
	r = journeys.BuildLiftReport("offer_test", append(cohorts[:3:3], cohorts[4]), nil, 30, now, "CNY")
	if r.Control != "programme_holdout" || r.Lift == nil || r.Lift.Control != "programme holdout" {
		t.Errorf("programme holdout only: control %q, lift %+v", r.Control, r.Lift)
	}
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]int{"1d": 1, "30d": 30, "90d": 90, "07d": 7} {
		if got, err := journeys.ParseWindow(in); err != nil || got != want {
			t.Errorf("ParseWindow(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0d", "91d", "30", "4w", "-1d", "1.5d", "d", "100000000000000000000d"} {
		if _, err := journeys.ParseWindow(in); err == nil || err.Error() != "window: must be whole days from 1d to 90d, like 30d" {
			t.Errorf("ParseWindow(%q) = %v", in, err)
		}
	}
}

// A journey with a known true effect: members convert at 10% held out
// and at 15% treated (+5 points), at a random day within the window.
// Through the enroller, the lift counters and the report, the 95%
// interval must hold the true +5 points in (about) 95% of seeds — here
// at least 18 of 20, which a correct interval fails with probability
// 7.5% (binomial 20, 0.95) and these fixed seeds never do — and the
// estimates must centre on it.
func TestLiftRecoversAKnownEffect(t *testing.T) {
	if testing.Short() {
		t.Skip("20 simulated journeys of 2,000 members")
	}
	const seeds, members, trueLift = 20, 2000, 0.05
	covered, significant := 0, 0
	sum := 0.0
	for seed := range uint64(seeds) {
		w := newLiftWorld(t, liftJourney)
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		for i := range members {
			id := fmt.Sprintf("s%d-m%d", seed, i)
			w.now = liftStart.Add(time.Duration(rng.IntN(24*60)) * time.Minute)
			enr := w.enter(id)
			p := 0.10
			if enr.Arm == loyalty.ArmTreated {
				p += trueLift
			}
			if rng.Float64() < p {
				at := enr.StartedAt.Add(time.Duration(rng.IntN(29*24*60)) * time.Minute)
				w.review(id, "rv-"+id, at)
			}
		}
		r := journeys.BuildLiftReport(w.def.Name, mustCohorts(t, w), &w.def, 30, liftStart.AddDate(0, 0, 40), "CNY")
		l := r.Lift
		if l == nil || l.CI95 == nil {
			t.Fatalf("seed %d: no lift: %+v", seed, r)
		}
		if r.Arms[loyalty.ArmTreated].Members+r.Arms[loyalty.ArmHoldout].Members != members {
			t.Fatalf("seed %d: arms %+v do not add up to %d", seed, r.Arms, members)
		}
		if l.CI95[0] <= trueLift && trueLift <= l.CI95[1] {
			covered++
		}
		if l.Verdict.Status == "significant" {
			significant++
		}
		sum += l.ConversionLift
		t.Logf("seed %2d: treated %d, holdout %d, lift %+.4f, 95%% CI [%+.4f, %+.4f], %s", seed,
			r.Arms[loyalty.ArmTreated].Members, r.Arms[loyalty.ArmHoldout].Members, l.ConversionLift, l.CI95[0], l.CI95[1], l.Verdict.Text)
	}
	mean := sum / seeds
	t.Logf("covered %d of %d, significant %d, mean lift %+.4f", covered, seeds, significant, mean)
	if covered < 18 {
		t.Errorf("the interval held the true lift in %d of %d seeds, want at least 18", covered, seeds)
	}
	// The mean of 20 estimates has a standard error of about 0.0033.
	if mean < trueLift-0.01 || mean > trueLift+0.01 {
		t.Errorf("mean estimated lift %.4f, want %.2f ± 0.01", mean, trueLift)
	}
	// About 1,000 members per arm: the power to see +5 points is about 0.94.
	if significant < 15 {
		t.Errorf("significant in %d of %d seeds, want at least 15", significant, seeds)
	}
}

func mustCohorts(t *testing.T, w *liftWorld) []store.LiftCohort {
	t.Helper()
	cs, err := w.st.LiftCohorts(context.Background(), w.def.Name)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
