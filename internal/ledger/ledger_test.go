package ledger_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
)

// world is a ledger over an in-memory store with a settable clock; events
// go through the projection and the ledger like dispatch sends them.
type world struct {
	t   *testing.T
	st  *memstore.Store
	svc *ledger.Service
	now time.Time
	n   int
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, st: memstore.New(), now: time.Date(2026, 11, 23, 14, 0, 0, 0, cst)}
	w.svc = newService(t, w.st)
	w.svc.Now = func() time.Time { return w.now }
	return w
}

func (w *world) send(member string, typ events.Type, data any) {
	w.t.Helper()
	w.n++
	env := events.Envelope{ID: member + "-" + string(typ) + "-" + decimal.NewFromInt(int64(w.n)).String(), Version: 1, Type: typ, OccurredAt: w.now, MemberID: member}
	run(w.t, w.st, w.svc, []genEvent{{env: env, data: data}})
}

func (w *world) register(member, email, code string) {
	w.t.Helper()
	w.send(member, events.MemberRegistered, &events.MemberRegisteredData{Email: email, Name: member, ReferralCode: code, Consent: events.Consent{EmailMarketing: true}})
}

func (w *world) pay(member, order, amount string) {
	w.t.Helper()
	a := decimal.RequireFromString(amount)
	w.send(member, events.OrderPaid, &events.OrderPaidData{OrderID: order, Amount: a, Currency: "CNY", Payments: []events.Payment{{Method: events.PaymentCard, Amount: a}}})
}

func (w *world) view(member string) loyalty.View {
	w.t.Helper()
	m, err := w.st.GetMember(context.Background(), member)
	if err != nil {
		w.t.Fatal(err)
	}
	v, err := w.svc.View(context.Background(), m)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

func (w *world) rules(member string) []string {
	w.t.Helper()
	es, err := w.svc.Entries(context.Background(), member, 1000, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[len(es)-1-i] = e.Rule
	}
	return out
}

func TestReferralAcrossMembers(t *testing.T) {
	w := newWorld(t)
	w.register("alice", "alice@example.com", "")
	code := w.view("alice").Referral.Code
	w.register("bob", "bob@example.com", code)
	if v := w.view("bob"); v.Referral.ReferredBy != "alice" || len(v.Coupons) != 1 || v.Coupons[0].Kind != "FREE25" {
		t.Fatalf("bob = %+v", v)
	}
	w.pay("bob", "o1", "300")

	// Reads show bob's points released on time, but alice's reward is a
	// change to another account: the sweep makes it.
	w.now = time.Date(2026, 12, 1, 1, 0, 0, 0, cst)
	if v := w.view("bob"); v.Points.Available != 3 {
		t.Errorf("bob after the window = %+v", v.Points)
	}
	day := w.svc.Rules.Program.Day(time.Date(2026, 12, 1, 0, 0, 0, 0, cst))
	prog, err := w.svc.SweepDay(context.Background(), ledger.SweepProgress{Day: day}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if prog.Scanned != 1 || prog.Changed != 1 || prog.After != "bob" {
		t.Errorf("sweep = %+v", prog)
	}
	if v := w.view("alice"); v.Points.Available != 10 || !v.Growth.Reward.Equal(decimal.NewFromInt(20)) {
		t.Errorf("alice = %+v", v)
	}
	// Sweeping again, or bob's next event, rewards nobody twice.
	if _, err := w.svc.Sweep(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	w.pay("bob", "o2", "100")
	if got := w.view("alice").Points.Available; got != 10 {
		t.Errorf("alice has %d points after more sweeps", got)
	}
	checkBalances(t, w.st, w.svc, "alice")
	checkBalances(t, w.st, w.svc, "bob")
}

func TestTrialOncePerPerson(t *testing.T) {
	w := newWorld(t)
	w.register("a", "same@example.com", "")
	w.register("b", "Same@Example.com", "")
	trial := &events.SubscriptionTrialStartedData{SubscriptionID: "s", Plan: "svip", Price: decimal.RequireFromString("9.9"), Currency: "CNY", TrialEndsAt: w.now.AddDate(0, 0, 30)}
	w.send("a", events.SubscriptionTrialStarted, trial)
	w.send("b", events.SubscriptionTrialStarted, trial)
	if v := w.view("a"); v.Paid == nil || v.Paid.Status != loyalty.PaidTrial {
		t.Errorf("a = %+v", v.Paid)
	}
	if v := w.view("b"); v.Paid != nil {
		t.Errorf("b got a second trial for the same person: %+v", v.Paid)
	}
	if got := w.rules("b"); got[len(got)-1] != "paid.trial.refused" {
		t.Errorf("b's entries = %v", got)
	}
	owner, err := w.st.ClaimOwner(context.Background(), "trial#"+loyalty.PersonKeys(loyalty.Member{Email: "same@example.com"})[0])
	if err != nil || owner != "a" {
		t.Errorf("claim owner = %q, %v", owner, err)
	}
}

func TestAdjustOncePerKey(t *testing.T) {
	w := newWorld(t)
	w.register("a", "a@example.com", "")
	m, _ := w.st.GetMember(context.Background(), "a")
	adj := loyalty.Adjustment{Key: "t-1", Actor: "ops", Reason: "goodwill", Points: 40}
	res, err := w.svc.Adjust(context.Background(), m, adj)
	if err != nil || res.Duplicate || len(res.Entries) != 1 {
		t.Fatalf("first = %+v, %v", res, err)
	}
	res, err = w.svc.Adjust(context.Background(), m, adj)
	if err != nil || !res.Duplicate {
		t.Fatalf("second = %+v, %v", res, err)
	}
	// A retried deduction after the balance moved still answers duplicate.
	ded := loyalty.Adjustment{Key: "t-2", Actor: "ops", Reason: "correction", Points: -40}
	if _, err := w.svc.Adjust(context.Background(), m, ded); err != nil {
		t.Fatal(err)
	}
	if res, err = w.svc.Adjust(context.Background(), m, ded); err != nil || !res.Duplicate {
		t.Errorf("retried deduction = %+v, %v", res, err)
	}
	if got := w.view("a").Points.Available; got != 0 {
		t.Errorf("available = %d", got)
	}
	over := loyalty.Adjustment{Key: "t-3", Actor: "ops", Reason: "oops", Points: -1}
	if _, err := w.svc.Adjust(context.Background(), m, over); loyalty.ErrorCode(err) != loyalty.EInvalid {
		t.Errorf("overdraw err = %v", err)
	}
}

func TestIssueCouponOncePerKey(t *testing.T) {
	w := newWorld(t)
	w.register("a", "a@example.com", "")
	var first loyalty.Coupon
	for i := range 3 {
		cp, err := w.svc.IssueCoupon(context.Background(), "a", "a#activation#1#welcome", "NEW8", "welcome")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = cp
		}
		if cp.Code == "" || cp.Code != first.Code || cp.Key != "a#activation#1#welcome" || cp.Kind != "NEW8" {
			t.Errorf("call %d returned %+v, first %+v", i+1, cp, first)
		}
	}
	if v := w.view("a"); len(v.Coupons) != 1 || v.Coupons[0].Kind != "NEW8" {
		t.Errorf("coupons = %+v", v.Coupons)
	}
	l, err := w.svc.Liability(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range l.Coupons {
		if c.Kind == "NEW8" && c.Unused != 1 {
			t.Errorf("NEW8 unused = %d", c.Unused)
		}
	}
}

func TestSweepIndexFollowsTheAccount(t *testing.T) {
	w := newWorld(t)
	w.register("a", "a@example.com", "")
	w.pay("a", "o1", "500") // releases 2026-12-01
	ids, err := w.st.DueAccounts(context.Background(), "2026-12-01", "", 10)
	if err != nil || len(ids) != 1 || ids[0] != "a" {
		t.Fatalf("due 2026-12-01 = %v, %v", ids, err)
	}
	w.now = time.Date(2026, 12, 1, 0, 30, 0, 0, cst)
	if changed, err := w.svc.Sweep(context.Background(), "a"); err != nil || !changed {
		t.Fatalf("sweep = %v, %v", changed, err)
	}
	a, _ := w.st.GetAccount(context.Background(), "a")
	if a.PointsAvailable() != 5 || a.Due != "2027-11-23" {
		t.Errorf("after the sweep: available %d, due %s", a.PointsAvailable(), a.Due)
	}
	if ids, _ := w.st.DueAccounts(context.Background(), "2026-12-01", "", 10); len(ids) != 0 {
		t.Errorf("still due on 2026-12-01: %v", ids)
	}
	if changed, err := w.svc.Sweep(context.Background(), "a"); err != nil || changed {
		t.Errorf("second sweep = %v, %v", changed, err)
	}
}

func TestConcurrentAppliesAllCount(t *testing.T) {
	w := newWorld(t)
	w.register("a", "a@example.com", "")
	ctx := context.Background()
	errs := make(chan error, 6)
	for i := range 6 {
		go func() {
			a := decimal.NewFromInt(100)
			env := events.Envelope{ID: "c" + decimal.NewFromInt(int64(i)).String(), Version: 1, Type: events.OrderPaid, OccurredAt: w.now, MemberID: "a"}
			errs <- w.svc.ApplyEvent(ctx, env, &events.OrderPaidData{OrderID: env.ID, Amount: a, Currency: "CNY", Payments: []events.Payment{{Method: events.PaymentCard, Amount: a}}})
		}()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := w.view("a").Points.Pending; got != 6 {
		t.Errorf("pending = %d, want 6 (one per order, none lost or doubled)", got)
	}
	checkBalances(t, w.st, w.svc, "a")
}

func TestEveryAccountsCodeResolves(t *testing.T) {
	w := newWorld(t)
	w.pay("walk-in", "o1", "80") // no registration seen yet
	code := loyalty.ReferralCodeFor("walk-in")
	owner, err := w.st.ClaimOwner(context.Background(), "refcode#"+code)
	if err != nil || owner != "walk-in" {
		t.Fatalf("code %s resolves to %q, %v", code, owner, err)
	}
	w.register("friend", "friend@example.com", code)
	if v := w.view("friend"); v.Referral.ReferredBy != "walk-in" {
		t.Errorf("friend = %+v", v.Referral)
	}
}

func TestCouponGlobalLimit(t *testing.T) {
	src := strings.Replace(string(templates.Program), "per_member_limit: 24 }", "per_member_limit: 24, global_limit: 2 }", 1)
	st := memstore.New()
	svc, err := ledger.New([]byte(src), []byte("limit-test-code-secret"), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := svc.IssueCoupon(ctx, id, id+"#gift", "C15", "gift"); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // refused, and refused again on a replay
		_, err := svc.IssueCoupon(ctx, "c", "c#gift", "C15", "gift")
		if !errors.Is(err, ledger.ErrCouponRefused) || loyalty.ErrorCode(err) != loyalty.EInvalid {
			t.Errorf("c: err = %v, want ErrCouponRefused (invalid)", err)
		}
	}
	got := map[string]int{}
	for _, id := range []string{"a", "b", "c"} {
		a, err := st.GetAccount(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got[id] = len(a.Coupons)
	}
	if got["a"] != 1 || got["b"] != 1 || got["c"] != 0 {
		t.Errorf("coupons per member = %v, want the third refused by the global limit of 2", got)
	}
	es, _ := svc.Entries(ctx, "c", 10, 0)
	if len(es) != 1 || es[0].Rule != "coupon.issue.refused" || !strings.Contains(es[0].Reason, "global limit of 2") {
		t.Errorf("c's entries = %+v", es)
	}
}

func TestIssueCouponRefusedByPerMemberLimit(t *testing.T) {
	w := newWorld(t)
	w.register("a", "a@example.com", "")
	ctx := context.Background()
	first, err := w.svc.IssueCoupon(ctx, "a", "a#k1", "NEW8", "welcome")
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.IssueCoupon(ctx, "a", "a#k2", "NEW8", "welcome")
	if !errors.Is(err, ledger.ErrCouponRefused) || !strings.Contains(err.Error(), "per-member limit of 1") {
		t.Errorf("second NEW8: err = %v", err)
	}
	if again, err := w.svc.IssueCoupon(ctx, "a", "a#k1", "NEW8", "welcome"); err != nil || again.Code != first.Code {
		t.Errorf("replay of the first key = %+v, %v; want %s", again, err, first.Code)
	}
	checkBalances(t, w.st, w.svc, "a")
}

func TestGrantBoost(t *testing.T) {
	w := newWorld(t)
	w.register("a", "a@example.com", "")
	ctx := context.Background()
	start := w.now
	for range 3 {
		b, err := w.svc.GrantBoost(ctx, "a", "a#winback#1#boost", decimal.NewFromInt(2), 14, "win-back")
		if err != nil {
			t.Fatal(err)
		}
		if b.Key != "a#winback#1#boost" || !b.Multiplier.Equal(decimal.NewFromInt(2)) || !b.From.Equal(start) || !b.Until.Equal(start.AddDate(0, 0, 14)) {
			t.Errorf("boost = %+v", b)
		}
		w.now = w.now.Add(time.Hour) // a replay later on returns the first grant
	}
	if got := strings.Join(w.rules("a"), ","); got != "boost.grant" {
		t.Errorf("entries = %s", got)
	}
	if v := w.view("a"); len(v.Boosts) != 1 {
		t.Errorf("view boosts = %+v", v.Boosts)
	}
	w.pay("a", "o1", "300")
	w.now = start.AddDate(0, 0, 14)
	w.pay("a", "o2", "300")
	if p := w.view("a").Points; p.Available != 6 || p.Pending != 3 {
		t.Errorf("points = %+v, want 6 available (×2 inside the window) and 3 pending (after it)", p)
	}
	if _, err := w.svc.GrantBoost(ctx, "a", "a#other", decimal.NewFromInt(1), 14, "x"); loyalty.ErrorCode(err) != loyalty.EInvalid {
		t.Errorf("×1 boost: err = %v", err)
	}
	// A coupon under the same step key does not collide with the boost.
	if _, err := w.svc.IssueCoupon(ctx, "a", "a#winback#1#boost", "C15", "win-back"); err != nil {
		t.Errorf("coupon under the boost's key: %v", err)
	}
	checkBalances(t, w.st, w.svc, "a")
}

func TestBirthdayGift(t *testing.T) {
	w := newWorld(t) // 2026-11-23
	ctx := context.Background()
	birthday := func(member, day string) {
		w.t.Helper()
		d, err := time.Parse(time.DateOnly, day)
		if err != nil {
			t.Fatal(err)
		}
		w.send(member, events.MemberRegistered, &events.MemberRegisteredData{Email: member + "@example.com", Name: member,
			Birthday: &events.Date{Year: d.Year(), Month: d.Month(), Day: d.Day()}})
	}
	birthday("a", "1990-12-31") // 38 days after it was given: qualifies
	birthday("b", "1990-12-01") // 8 days after: refused
	w.register("c", "c@example.com", "")

	if _, ok, err := w.svc.BirthdayGift(ctx, "a", 2026); err != nil || ok {
		t.Errorf("before the birthday: %v, %v", ok, err)
	}
	w.now = time.Date(2026, 12, 31, 9, 0, 0, 0, cst)
	cp, ok, err := w.svc.BirthdayGift(ctx, "a", 2026)
	if err != nil || !ok || cp.Kind != "C15" || cp.Key != loyalty.BirthdayGiftKey("a", 2026) {
		t.Fatalf("on the birthday: %+v, %v, %v", cp, ok, err)
	}
	if again, ok, err := w.svc.BirthdayGift(ctx, "a", 2026); err != nil || !ok || again.Code != cp.Code {
		t.Errorf("asked again: %+v, %v, %v", again, ok, err)
	}
	if _, ok, _ := w.svc.BirthdayGift(ctx, "a", 2027); ok {
		t.Error("a gift for next year already")
	}
	if _, ok, err := w.svc.BirthdayGift(ctx, "b", 2026); err != nil || ok {
		t.Errorf("refused birthday: %v, %v", ok, err)
	}
	if got := w.rules("b"); got[len(got)-1] != "birthday.refused" {
		t.Errorf("b's entries = %v (the sweep should have persisted the refusal)", got)
	}
	if _, ok, err := w.svc.BirthdayGift(ctx, "c", 2026); err != nil || ok {
		t.Errorf("no birthday: %v, %v", ok, err)
	}
	if _, ok, err := w.svc.BirthdayGift(ctx, "nobody", 2026); err != nil || ok {
		t.Errorf("no account: %v, %v", ok, err)
	}
	checkBalances(t, w.st, w.svc, "a")
}

func TestOutlook(t *testing.T) {
	w := newWorld(t) // 2026-11-23
	ctx := context.Background()
	w.register("a", "a@example.com", "")
	w.pay("a", "o1", "300") // V2
	w.now = time.Date(2027, 1, 10, 10, 0, 0, 0, cst)
	w.pay("a", "o2", "300") // V3 on 600; o1 leaves the window before the review on 2028-01-10
	w.now = time.Date(2027, 6, 1, 10, 0, 0, 0, cst)
	o, err := w.svc.Outlook(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if o.Tier != "V3" || !o.ReviewAt.Equal(time.Date(2028, 1, 10, 0, 0, 0, 0, cst)) || !o.Demote || o.FallTo != "V2" ||
		!o.GrowthNeeded.Equal(decimal.NewFromInt(200)) || o.HeldByPaid {
		t.Errorf("outlook = %+v", o)
	}
	if o, err := w.svc.Outlook(ctx, "nobody"); err != nil || o.Tier != "V1" || o.Demote {
		t.Errorf("outlook of a member without an account = %+v, %v", o, err)
	}
}
