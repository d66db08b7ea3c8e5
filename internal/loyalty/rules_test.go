package loyalty_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/templates"
)

var (
	program = loyalty.MustLoadProgram(templates.Program)
	rules   = &loyalty.Rules{Program: program, CodeSecret: []byte("test-coupon-code-secret")}
	cst     = program.Location
)

// at is a time in the programme's zone (Asia/Shanghai).
func at(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, cst) }

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// acct drives an account through events like dispatch does, checking after
// every step that the balances equal the sum of all entries so far and
// never go negative.
type acct struct {
	t       *testing.T
	a       loyalty.Account
	m       loyalty.Member
	entries []loyalty.Entry
	seq     int
	last    loyalty.Result
}

func newAcct(t *testing.T, id string) *acct {
	t.Helper()
	return &acct{t: t, m: loyalty.Member{ID: id, Email: id + "@example.com", RegisteredAt: at(2025, 1, 1, 9, 0)}}
}

func (x *acct) take(res loyalty.Result) loyalty.Result {
	x.t.Helper()
	x.a = res.Account
	x.entries = append(x.entries, res.Entries...)
	x.last = res
	x.check()
	return res
}

func (x *acct) check() {
	x.t.Helper()
	b := x.a.Balances()
	if got := loyalty.SumEntries(x.entries); !got.Equal(b) {
		x.t.Fatalf("balances %+v != sum of entries %+v", b, got)
	}
	if b.Pending < 0 || b.Available < 0 || b.Principal.IsNegative() || b.Bonus.IsNegative() {
		x.t.Fatalf("negative balance: %+v", b)
	}
	for i, e := range x.entries {
		if e.Seq != int64(i+1) {
			x.t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
	}
}

func (x *acct) event(typ events.Type, when time.Time, data any) loyalty.Result {
	x.t.Helper()
	x.seq++
	return x.eventID(fmt.Sprintf("%s-e%d", x.m.ID, x.seq), typ, when, data)
}

func (x *acct) eventID(id string, typ events.Type, when time.Time, data any) loyalty.Result {
	x.t.Helper()
	env := events.Envelope{ID: id, Type: typ, OccurredAt: when, MemberID: x.m.ID}
	if m, changed := loyalty.Project(x.m, env, data); changed {
		x.m = m
	}
	return x.take(rules.Apply(x.a, loyalty.Input{Member: x.m, Event: env, Data: data}))
}

func (x *acct) pay(when time.Time, orderID, amount string, opts ...func(*events.OrderPaidData)) loyalty.Result {
	x.t.Helper()
	d := &events.OrderPaidData{OrderID: orderID, Amount: dec(amount), Currency: "CNY",
		Payments: []events.Payment{{Method: events.PaymentCard, Amount: dec(amount)}}}
	for _, o := range opts {
		o(d)
	}
	return x.event(events.OrderPaid, when, d)
}

func (x *acct) refund(when time.Time, orderID, refundID, amount string, lines ...events.OrderLine) loyalty.Result {
	x.t.Helper()
	return x.event(events.OrderRefunded, when, &events.OrderRefundedData{OrderID: orderID, RefundID: refundID, Amount: dec(amount), Currency: "CNY", Lines: lines})
}

func (x *acct) advance(now time.Time) loyalty.Result {
	x.t.Helper()
	return x.take(rules.Advance(x.a, x.m, now))
}

func (x *acct) view(now time.Time) loyalty.View { return rules.View(x.a, x.m, now) }

func (x *acct) wantPoints(now time.Time, pending, available int64) {
	x.t.Helper()
	v := x.view(now)
	if v.Points.Pending != pending || v.Points.Available != available {
		x.t.Errorf("at %s: points pending %d available %d, want %d / %d", now.Format(time.DateTime), v.Points.Pending, v.Points.Available, pending, available)
	}
}

func (x *acct) wantTier(now time.Time, tier string) {
	x.t.Helper()
	if got := x.view(now).Tier; got != tier {
		x.t.Errorf("at %s: tier %s, want %s (growth %+v)", now.Format(time.DateTime), got, tier, x.view(now).Growth)
	}
}

func (x *acct) lastRule(rule string) loyalty.Entry {
	x.t.Helper()
	for i := len(x.entries) - 1; i >= 0; i-- {
		if x.entries[i].Rule == rule {
			return x.entries[i]
		}
	}
	x.t.Fatalf("no %s entry; entries: %s", rule, rulesOf(x.entries))
	return loyalty.Entry{}
}

func (x *acct) count(rule string) int {
	n := 0
	for _, e := range x.entries {
		if e.Rule == rule {
			n++
		}
	}
	return n
}

func rulesOf(es []loyalty.Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Rule)
	}
	return strings.Join(s, ",")
}

// A day that is not the 8th and not in June (the test birthday month).
var plainDay = at(2026, 11, 23, 14, 0)

func TestIssueCheck_OrderThenFullRefund(t *testing.T) {
	x := newAcct(t, "m")
	x.event(events.MemberRegistered, plainDay.Add(-time.Hour), &events.MemberRegisteredData{Email: "m@example.com", Name: "M", Birthday: &events.Date{Year: 1990, Month: time.June, Day: 15}})
	x.pay(plainDay, "o1", "1250.00")
	x.wantTier(plainDay, "V4")
	x.wantPoints(plainDay, 12, 0)
	x.refund(plainDay.Add(2*time.Hour), "o1", "r1", "1250.00")
	x.wantTier(plainDay.Add(2*time.Hour), "V1")
	x.wantPoints(plainDay.Add(2*time.Hour), 0, 0)
	if e := x.lastRule("tier.demote"); e.Tier != "V1" {
		t.Errorf("demote entry = %+v", e)
	}
}

func TestGrowthAndTiers(t *testing.T) {
	for _, tc := range []struct {
		amount, tier string
	}{{"149.99", "V1"}, {"150.00", "V2"}, {"499.99", "V2"}, {"500", "V3"}, {"999.99", "V3"}, {"1000", "V4"}} {
		t.Run(tc.amount, func(t *testing.T) {
			x := newAcct(t, "m")
			x.pay(plainDay, "o1", tc.amount)
			x.wantTier(plainDay, tc.tier)
		})
	}

	t.Run("growth counts card and stored-value principal, not points or bonus", func(t *testing.T) {
		x := newAcct(t, "m")
		x.event(events.WalletToppedUp, plainDay.Add(-time.Hour), &events.WalletToppedUpData{TopupID: "t", Amount: dec("1000"), Currency: "CNY"}) // +30 bonus
		x.a.Lots = nil
		x.pay(plainDay, "o1", "460", func(d *events.OrderPaidData) {
			d.Payments = []events.Payment{
				{Method: events.PaymentCard, Amount: dec("100")},
				{Method: events.PaymentStoredValue, Amount: dec("103")}, // 100 principal + 3 bonus (1000:30)
			}
		})
		v := x.view(plainDay)
		if !v.Growth.Spend.Equal(dec("200")) {
			t.Errorf("spend growth = %s, want 200 (100 card + 100 principal)", v.Growth.Spend)
		}
		if !v.StoredValue.Principal.Equal(dec("900")) || !v.StoredValue.Bonus.Equal(dec("27")) {
			t.Errorf("wallet = %+v, want 900 principal / 27 bonus", v.StoredValue)
		}
	})

	t.Run("interaction is capped at 40% of counted growth", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(at(2026, 11, 1, 10, 0), "o1", "150")
		for i := range 30 { // 30 check-ins in November: +30
			x.event(events.MemberCheckedIn, at(2026, 11, 1+i, 12, 0), &events.MemberCheckedInData{})
		}
		for i := range 4 { // +20
			x.event(events.ReviewPosted, at(2026, 11, 2+i, 13, 0), &events.ReviewPostedData{ReviewID: fmt.Sprint(i), Rating: 5})
		}
		for i := range 5 { // +10
			x.event(events.ContentShared, at(2026, 11, 2+i, 14, 0), &events.ContentSharedData{ContentID: fmt.Sprint(i)})
		}
		g := x.view(at(2026, 11, 30, 23, 0)).Growth
		// Interaction 60 against spend 150: at most 150×0.4/0.6 = 100, so all 60 count.
		if !g.Interaction.Equal(dec("60")) || !g.Counted.Equal(dec("210")) {
			t.Errorf("growth = %+v, want interaction 60 counted 210", g)
		}
		y := newAcct(t, "n")
		y.pay(at(2026, 11, 1, 10, 0), "o1", "30")
		for i := range 30 {
			y.event(events.MemberCheckedIn, at(2026, 11, 1+i, 12, 0), &events.MemberCheckedInData{})
		}
		g = y.view(at(2026, 11, 30, 23, 0)).Growth
		// Interaction 30 against spend 30: capped at 20 (40% of 50).
		if !g.Counted.Equal(dec("50")) {
			t.Errorf("capped growth = %+v, want counted 50", g)
		}
	})

	t.Run("interaction caps per day and per month", func(t *testing.T) {
		x := newAcct(t, "m")
		x.event(events.MemberCheckedIn, at(2026, 11, 1, 9, 0), &events.MemberCheckedInData{})
		x.event(events.MemberCheckedIn, at(2026, 11, 1, 20, 0), &events.MemberCheckedInData{})
		if x.count("check_in") != 1 || x.count("check_in.capped") != 1 {
			t.Errorf("two check-ins in a day: %s", rulesOf(x.entries))
		}
		// The day boundary is the programme's: 23:30 UTC is the next day in Shanghai.
		x.event(events.MemberCheckedIn, time.Date(2026, 11, 1, 16, 30, 0, 0, time.UTC), &events.MemberCheckedInData{})
		if x.count("check_in") != 2 {
			t.Errorf("check-in on the next Shanghai day was capped: %s", rulesOf(x.entries))
		}
		for i := range 6 {
			x.event(events.ReviewPosted, at(2026, 11, 3+i, 9, 0), &events.ReviewPostedData{ReviewID: fmt.Sprint(i), Rating: 4})
			x.event(events.ContentShared, at(2026, 11, 3+i, 9, 0), &events.ContentSharedData{ContentID: fmt.Sprint(i)})
		}
		if x.count("review") != 4 || x.count("review.capped") != 2 || x.count("share") != 5 || x.count("share.capped") != 1 {
			t.Errorf("monthly caps: %s", rulesOf(x.entries))
		}
		x.event(events.ReviewPosted, at(2026, 12, 1, 9, 0), &events.ReviewPostedData{ReviewID: "dec", Rating: 4})
		if x.count("review") != 5 {
			t.Error("the review cap did not reset in a new month")
		}
		// 31 check-ins in December: the 31st is capped.
		for d := 1; d <= 31; d++ {
			x.event(events.MemberCheckedIn, at(2026, 12, d, 9, 0), &events.MemberCheckedInData{})
		}
		if got := x.count("check_in.capped"); got != 2 {
			t.Errorf("check_in.capped = %d, want 2 (one same-day, one 31st of the month)", got)
		}
	})

	t.Run("tier uses the rolling 365 days", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(at(2025, 11, 20, 10, 0), "o1", "600")
		if g := x.view(at(2026, 11, 19, 10, 0)).Growth.Counted; !g.Equal(dec("600")) {
			t.Errorf("growth 364 days later = %s", g)
		}
		if g := x.view(at(2026, 11, 21, 10, 0)).Growth.Counted; !g.IsZero() {
			t.Errorf("growth 366 days later = %s, want 0", g)
		}
	})

	t.Run("anniversary review goes down one tier at most", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(at(2025, 11, 20, 10, 0), "o1", "1200")
		x.wantTier(at(2025, 11, 20, 10, 0), "V4")
		if got := x.view(at(2025, 11, 20, 10, 0)).TierReviewOn; got == nil || *got != "2026-11-20" {
			t.Errorf("review on %v", got)
		}
		// The first review's window still holds the order (it is 365 days).
		x.advance(at(2026, 11, 20, 1, 0))
		x.wantTier(at(2026, 11, 20, 1, 0), "V4")
		x.advance(at(2027, 11, 20, 1, 0))
		x.wantTier(at(2027, 11, 20, 1, 0), "V3") // growth 0 would earn V1: one tier only
		x.advance(at(2028, 11, 20, 1, 0))
		x.wantTier(at(2028, 11, 20, 1, 0), "V2")
	})

	t.Run("review keeps a tier whose threshold is still met", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(at(2025, 11, 20, 10, 0), "o1", "600")
		x.pay(at(2026, 6, 1, 10, 0), "o2", "300")
		x.advance(at(2026, 11, 20, 0, 0))
		x.wantTier(at(2026, 11, 20, 0, 0), "V3")
		if e := x.lastRule("tier.review"); !strings.Contains(e.Reason, "keeps V3") {
			t.Errorf("review entry = %s", e.Reason)
		}
	})

	t.Run("a refund demotes at once, more than one tier if the growth says so", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(plainDay, "o1", "1100")
		x.refund(plainDay.Add(time.Hour), "o1", "r1", "1000")
		x.wantTier(plainDay.Add(time.Hour), "V1")
	})

	t.Run("an active SVIP holds V3 and its end lets the tier fall back", func(t *testing.T) {
		x := newAcct(t, "m")
		x.event(events.SubscriptionTrialStarted, plainDay, &events.SubscriptionTrialStartedData{SubscriptionID: "s", Plan: "svip", Price: dec("9.9"), Currency: "CNY", TrialEndsAt: plainDay.AddDate(0, 0, 30)})
		x.wantTier(plainDay.Add(time.Hour), "V3")
		x.pay(plainDay.Add(time.Hour), "o1", "1000")
		x.wantTier(plainDay.Add(time.Hour), "V4")
		x.refund(plainDay.Add(2*time.Hour), "o1", "r1", "1000")
		x.wantTier(plainDay.Add(2*time.Hour), "V3")
		x.advance(plainDay.AddDate(0, 0, 31))
		x.wantTier(plainDay.AddDate(0, 0, 31), "V1")
		if x.count("paid.lapse") != 1 {
			t.Errorf("no lapse entry: %s", rulesOf(x.entries))
		}
	})
}

func TestPoints(t *testing.T) {
	june := func(d int) time.Time { return at(2026, 6, d, 12, 0) } // birthday month of "m"
	birthday := func(x *acct) {
		x.m.Birthday = "1990-06-15"
	}
	for _, tc := range []struct {
		name   string
		setup  func(x *acct)
		when   time.Time
		amount string
		want   int64
	}{
		{"floor per order", nil, plainDay, "199.99", 1},
		{"under 100 earns nothing", nil, plainDay, "99.99", 0},
		{"member day doubles", nil, at(2026, 11, 8, 12, 0), "300", 6},
		{"birthday month V1 is ×1", birthday, june(3), "300", 3},
		{"birthday month uses the tier before the order, not the one it earns", birthday, june(3), "1000", 10},
		{"birthday month V2 ×2", func(x *acct) { birthday(x); x.pay(june(1), "pre", "150") }, june(3), "300", 6},
		{"birthday month V4 ×5 beats member day ×2", func(x *acct) { birthday(x); x.pay(june(1), "pre", "1000") }, june(8), "300", 15},
		{"SVIP ×1.5 floored", func(x *acct) {
			x.event(events.SubscriptionTrialStarted, plainDay.Add(-time.Hour), &events.SubscriptionTrialStartedData{SubscriptionID: "s", Plan: "svip", TrialEndsAt: plainDay.AddDate(0, 0, 30)})
		}, plainDay, "300", 4},
		{"member day ×2 beats SVIP ×1.5", func(x *acct) {
			x.event(events.SubscriptionTrialStarted, at(2026, 11, 7, 12, 0), &events.SubscriptionTrialStartedData{SubscriptionID: "s", Plan: "svip", TrialEndsAt: at(2026, 12, 7, 12, 0)})
		}, at(2026, 11, 8, 12, 0), "300", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newAcct(t, "m")
			if tc.setup != nil {
				tc.setup(x)
			}
			x.pay(tc.when, "o", tc.amount)
			var got int64
			for _, e := range x.last.Entries {
				if e.Rule == "order.points" {
					got = e.Pending
				}
			}
			if got != tc.want {
				t.Errorf("points = %d, want %d (entries %s)", got, tc.want, rulesOf(x.last.Entries))
			}
		})
	}

	t.Run("pending for the 7-day window, available after it", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(at(2026, 11, 23, 23, 50), "o1", "500")
		x.wantPoints(at(2026, 11, 30, 23, 59), 5, 0)
		x.wantPoints(at(2026, 12, 1, 0, 0), 0, 5)
		x.advance(at(2026, 12, 1, 0, 0))
		if e := x.lastRule("points.release"); e.Pending != -5 || e.Available != 5 {
			t.Errorf("release entry = %+v", e)
		}
	})

	t.Run("a lot expires at the end of the 12th month after release, month-end included", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(at(2026, 1, 23, 10, 0), "o1", "300") // released 2026-01-31 00:00
		v := x.view(at(2026, 2, 1, 0, 0))
		if v.Points.ExpiringNext == nil || v.Points.ExpiringNext.Amount != 3 || !v.Points.ExpiringNext.At.Equal(at(2027, 2, 1, 0, 0)) {
			t.Fatalf("expiring next = %+v, want 3 at 2027-02-01 00:00 +08", v.Points.ExpiringNext)
		}
		x.wantPoints(at(2027, 1, 31, 23, 59), 0, 3)
		x.wantPoints(at(2027, 2, 1, 0, 0), 0, 0)
		x.advance(at(2027, 2, 1, 0, 0))
		if e := x.lastRule("points.expire"); e.Available != -3 {
			t.Errorf("expire entry = %+v", e)
		}
	})

	t.Run("redemption takes the earliest-expiring lots first", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(at(2026, 1, 10, 10, 0), "o1", "1000") // 10, expires 2027-02-01
		x.pay(at(2026, 3, 10, 10, 0), "o2", "2000") // 20, expires 2027-04-01
		x.pay(at(2026, 4, 1, 10, 0), "o3", "100", func(d *events.OrderPaidData) {
			d.PointsRedeemed = 15
			d.Amount = dec("115")
		})
		e := x.lastRule("order.redeem")
		if e.Available != -15 || len(e.Lots) != 2 || e.Lots[0].Points != -10 || e.Lots[1].Points != -5 {
			t.Errorf("redeem entry = %+v", e)
		}
		if strings.Contains(e.Reason, "outside") {
			t.Errorf("15 points on a 115 order is within the rule: %s", e.Reason)
		}
	})

	t.Run("redemption outside the rule is recorded as such", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(at(2026, 1, 10, 10, 0), "o1", "2000")
		x.pay(at(2026, 3, 1, 10, 0), "o2", "40", func(d *events.OrderPaidData) { d.PointsRedeemed = 9; d.Amount = dec("49") })
		if e := x.lastRule("order.redeem"); !strings.Contains(e.Reason, "outside the redemption rule") {
			t.Errorf("9 points: %s", e.Reason)
		}
		x.pay(at(2026, 3, 2, 10, 0), "o3", "40", func(d *events.OrderPaidData) { d.PointsRedeemed = 11; d.Amount = dec("51") }) // max 20% of 51 = 10
		if e := x.lastRule("order.redeem"); !strings.Contains(e.Reason, "at most 10") {
			t.Errorf("11 points on 51: %s", e.Reason)
		}
	})

	t.Run("partial refund by line reverses the points of that line", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(plainDay, "o1", "1250", func(d *events.OrderPaidData) {
			d.Lines = []events.OrderLine{{SKU: "A", Quantity: 2, Amount: dec("500")}, {SKU: "B", Quantity: 1, Amount: dec("750")}}
		})
		x.refund(plainDay.Add(time.Hour), "o1", "r1", "750", events.OrderLine{SKU: "B", Quantity: 1, Amount: dec("750")})
		x.wantPoints(plainDay.Add(time.Hour), 5, 0)
		x.wantTier(plainDay.Add(time.Hour), "V3")
		// The same refund again (a second event with the same refund id) changes nothing.
		x.refund(plainDay.Add(2*time.Hour), "o1", "r1", "750", events.OrderLine{SKU: "B", Quantity: 1, Amount: dec("750")})
		x.wantPoints(plainDay.Add(2*time.Hour), 5, 0)
		// Refunding more of a line than was bought is capped at the line.
		x.refund(plainDay.Add(3*time.Hour), "o1", "r2", "900", events.OrderLine{SKU: "B", Quantity: 1, Amount: dec("900")})
		x.wantPoints(plainDay.Add(3*time.Hour), 5, 0)
	})

	t.Run("partial refund without lines is proportional and cumulative", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(plainDay, "o1", "1000")
		x.refund(plainDay.Add(time.Hour), "o1", "r1", "250")
		x.wantPoints(plainDay.Add(time.Hour), 7, 0)
		x.refund(plainDay.Add(2*time.Hour), "o1", "r2", "250")
		x.wantPoints(plainDay.Add(2*time.Hour), 5, 0)
		if g := x.view(plainDay.Add(2 * time.Hour)).Growth.Spend; !g.Equal(dec("500")) {
			t.Errorf("growth after refunding half = %s", g)
		}
	})

	t.Run("refund after release takes available points, the rest is shortfall", func(t *testing.T) {
		x := newAcct(t, "m")
		x.pay(at(2026, 1, 10, 10, 0), "o1", "1000") // 10 points, released 01-18
		x.pay(at(2026, 2, 1, 10, 0), "o2", "100", func(d *events.OrderPaidData) { d.PointsRedeemed = 8; d.Amount = dec("108") })
		x.refund(at(2026, 2, 2, 10, 0), "o1", "r1", "1000")
		e := x.lastRule("refund.points")
		if e.Available != -2 || e.Shortfall != 8 || x.a.Shortfall != 8 {
			t.Errorf("refund entry = %+v, shortfall %d", e, x.a.Shortfall)
		}
		x.wantPoints(at(2026, 2, 2, 10, 0), 1, 0) // o2's own point stays pending
	})

	t.Run("a refund that arrives before its order waits for it", func(t *testing.T) {
		x := newAcct(t, "m")
		x.refund(plainDay, "o1", "r1", "1250")
		x.wantPoints(plainDay, 0, 0)
		x.pay(plainDay.Add(-time.Hour), "o1", "1250")
		x.wantPoints(plainDay, 0, 0)
		x.wantTier(plainDay, "V1")
	})
}

func TestCoupons(t *testing.T) {
	issue := func(x *acct, key, kind string, when time.Time, exhausted ...string) loyalty.Result {
		return x.take(rules.IssueCoupon(x.a, x.m, key, kind, "test", when, exhausted))
	}
	t.Run("threshold, single use and expiry", func(t *testing.T) {
		x := newAcct(t, "m")
		issue(x, "k1", "NEW8", plainDay)
		code := x.a.Coupons[0].Code
		use := func(when time.Time, order, amount string) {
			x.pay(when, order, amount, func(d *events.OrderPaidData) { d.CouponCode = code })
		}
		use(plainDay.Add(time.Hour), "o1", "78.99")
		if e := x.lastRule("order.coupon.refused"); !strings.Contains(e.Reason, "below the threshold 79") {
			t.Errorf("78.99: %s", e.Reason)
		}
		use(plainDay.Add(2*time.Hour), "o2", "79.00")
		if e := x.lastRule("order.coupon"); e.Coupon == nil || e.Coupon.Delta != -1 {
			t.Errorf("use entry = %+v", e)
		}
		use(plainDay.Add(3*time.Hour), "o3", "100")
		if e := x.lastRule("order.coupon.refused"); !strings.Contains(e.Reason, "already used") {
			t.Errorf("second use: %s", e.Reason)
		}
		v := x.view(plainDay.Add(3 * time.Hour))
		if len(v.Coupons) != 1 || !v.Coupons[0].Used {
			t.Errorf("coupons = %+v", v.Coupons)
		}
	})

	t.Run("expired at the end of the 30th day after issue", func(t *testing.T) {
		x := newAcct(t, "m")
		issue(x, "k1", "NEW8", at(2026, 11, 1, 15, 0))
		cp := x.a.Coupons[0]
		if !cp.ExpiresAt.Equal(at(2026, 12, 2, 0, 0)) {
			t.Errorf("expires at %s", cp.ExpiresAt)
		}
		x.pay(at(2026, 12, 2, 0, 1), "o1", "100", func(d *events.OrderPaidData) { d.CouponCode = cp.Code })
		if e := x.lastRule("order.coupon.refused"); !strings.Contains(e.Reason, "expired") {
			t.Errorf("expired use: %s", e.Reason)
		}
	})

	t.Run("codes are unguessable, unique per key and stable per key", func(t *testing.T) {
		x := newAcct(t, "m")
		issue(x, "k1", "C15", plainDay)
		issue(x, "k1", "C15", plainDay) // replay: nothing new
		issue(x, "k2", "C15", plainDay)
		if len(x.a.Coupons) != 2 || x.a.Coupons[0].Code == x.a.Coupons[1].Code {
			t.Fatalf("coupons = %+v", x.a.Coupons)
		}
		if c := x.a.Coupons[0].Code; !strings.HasPrefix(c, "C15-") || len(c) != len("C15-XXXX-XXXX-XXXX-XXXX") {
			t.Errorf("code %q", c)
		}
		other := &loyalty.Rules{Program: program, CodeSecret: []byte("another-secret-entirely")}
		y := newAcct(t, "m")
		y.take(other.IssueCoupon(y.a, y.m, "k1", "C15", "test", plainDay, nil))
		if y.a.Coupons[0].Code == x.a.Coupons[0].Code {
			t.Error("the code does not depend on the secret")
		}
		if len(x.last.Claims) != 1 || x.last.Claims[0].Key != "coupon#"+x.a.Coupons[1].Code {
			t.Errorf("claims = %+v", x.last.Claims)
		}
	})

	t.Run("per-member and global limits", func(t *testing.T) {
		x := newAcct(t, "m")
		issue(x, "k1", "NEW8", plainDay)
		issue(x, "k2", "NEW8", plainDay)
		if e := x.lastRule("coupon.issue.refused"); !strings.Contains(e.Reason, "per-member limit of 1") {
			t.Errorf("second NEW8: %s", e.Reason)
		}
		limited := *program
		limited.Coupons = append([]loyalty.CouponKind(nil), program.Coupons...)
		limited.Coupons[1].GlobalLimit = 100
		r := &loyalty.Rules{Program: &limited, CodeSecret: []byte("x-secret-x-secret")}
		res := r.IssueCoupon(loyalty.Account{}, x.m, "k3", "C15", "test", plainDay, nil)
		if len(res.Counters) != 1 || res.Counters[0] != (loyalty.Counter{Key: "coupon-issued#C15", Limit: 100}) {
			t.Errorf("counters = %+v", res.Counters)
		}
		res = r.IssueCoupon(loyalty.Account{}, x.m, "k3", "C15", "test", plainDay, []string{"C15"})
		if len(res.Entries) != 1 || res.Entries[0].Rule != "coupon.issue.refused" || len(res.Account.Coupons) != 0 {
			t.Errorf("exhausted C15: %+v", res.Entries)
		}
	})
}

func TestStoredValue(t *testing.T) {
	for _, tc := range []struct{ amount, bonus string }{{"999.99", "0"}, {"1000", "30"}, {"4999", "30"}, {"5000", "200"}, {"20000", "200"}} {
		t.Run("top-up "+tc.amount, func(t *testing.T) {
			x := newAcct(t, "m")
			x.event(events.WalletToppedUp, plainDay, &events.WalletToppedUpData{TopupID: "t", Amount: dec(tc.amount), Currency: "CNY"})
			if !x.a.Bonus.Equal(dec(tc.bonus)) || !x.a.Principal.Equal(dec(tc.amount)) {
				t.Errorf("wallet %s / %s, want %s / %s", x.a.Principal, x.a.Bonus, tc.amount, tc.bonus)
			}
		})
	}
	t.Run("spend in proportion, refund principal only, badge follows the balance", func(t *testing.T) {
		x := newAcct(t, "m")
		x.event(events.WalletToppedUp, plainDay, &events.WalletToppedUpData{TopupID: "t", Amount: dec("5000"), Currency: "CNY"}) // 5000 + 200
		if b := x.view(plainDay).Badges; len(b) != 1 || b[0] != "储值会员" {
			t.Errorf("badges = %v", b)
		}
		sv := func(d *events.OrderPaidData) {
			d.Payments = []events.Payment{{Method: events.PaymentStoredValue, Amount: d.Amount}}
		}
		x.pay(plainDay.Add(time.Hour), "o1", "520", sv) // 500 principal + 20 bonus
		if !x.a.Principal.Equal(dec("4500")) || !x.a.Bonus.Equal(dec("180")) {
			t.Errorf("after spend %s / %s", x.a.Principal, x.a.Bonus)
		}
		if g := x.view(plainDay.Add(time.Hour)).Growth.Spend; !g.Equal(dec("500")) {
			t.Errorf("growth from stored value = %s, want the principal 500", g)
		}
		x.refund(plainDay.Add(2*time.Hour), "o1", "r1", "520")
		if !x.a.Principal.Equal(dec("5000")) || !x.a.Bonus.Equal(dec("180")) {
			t.Errorf("after refund %s / %s, want 5000 / 180", x.a.Principal, x.a.Bonus)
		}
		x.pay(plainDay.Add(3*time.Hour), "o2", "5180", sv)
		if !x.a.Principal.IsZero() || !x.a.Bonus.IsZero() {
			t.Errorf("after spending all %s / %s", x.a.Principal, x.a.Bonus)
		}
		if b := x.view(plainDay.Add(3 * time.Hour)).Badges; len(b) != 0 {
			t.Errorf("badge kept at zero balance: %v", b)
		}
		x.pay(plainDay.Add(4*time.Hour), "o3", "10", sv)
		if e := x.lastRule("order.stored_value"); !strings.Contains(e.Reason, "more than the balance") {
			t.Errorf("overspend: %s", e.Reason)
		}
	})
}

func TestPaidMembership(t *testing.T) {
	trial := func(sub string, ends time.Time) *events.SubscriptionTrialStartedData {
		return &events.SubscriptionTrialStartedData{SubscriptionID: sub, Plan: "svip", Price: dec("9.9"), Currency: "CNY", TrialEndsAt: ends}
	}
	t.Run("trial, convert, renew, cancel, lapse", func(t *testing.T) {
		x := newAcct(t, "m")
		x.event(events.SubscriptionTrialStarted, plainDay, trial("s1", plainDay.AddDate(0, 0, 30)))
		if p := x.view(plainDay).Paid; p == nil || p.Status != loyalty.PaidTrial || !p.Trial {
			t.Fatalf("paid = %+v", p)
		}
		if trialClaims(x.last.Claims) != 2 {
			t.Errorf("trial claims = %+v, want the email key and the member key", x.last.Claims)
		}
		conv := plainDay.AddDate(0, 0, 30)
		x.event(events.SubscriptionConverted, conv, &events.SubscriptionConvertedData{SubscriptionID: "s1", Plan: "svip", Price: dec("199"), PeriodEndsAt: conv.AddDate(1, 0, 0)})
		x.event(events.SubscriptionRenewed, conv.AddDate(1, 0, 0), &events.SubscriptionRenewedData{SubscriptionID: "s1", Plan: "svip", Price: dec("199"), PeriodEndsAt: conv.AddDate(2, 0, 0)})
		eff := conv.AddDate(1, 6, 0)
		x.event(events.SubscriptionCancelled, conv.AddDate(1, 1, 0), &events.SubscriptionCancelledData{SubscriptionID: "s1", Plan: "svip", EffectiveAt: &eff})
		x.wantTier(eff.Add(-time.Hour), "V3")
		x.wantTier(eff.Add(time.Minute), "V1") // benefits end at once
		x.advance(eff.Add(25 * time.Hour))     // the status lapses after a day's grace for late renewals
		if p := x.view(eff.Add(25 * time.Hour)).Paid; p.Status != loyalty.PaidLapsed {
			t.Errorf("after the cancellation took effect: %+v", p)
		}
		if got := rulesOf(x.entries); got != "paid.trial,paid.convert,paid.renew,paid.cancel,paid.lapse" {
			t.Errorf("entries = %s", got)
		}
	})
	t.Run("one trial per member", func(t *testing.T) {
		x := newAcct(t, "m")
		x.event(events.SubscriptionTrialStarted, plainDay, trial("s1", plainDay.AddDate(0, 0, 30)))
		x.advance(plainDay.AddDate(0, 1, 0))
		x.event(events.SubscriptionTrialStarted, plainDay.AddDate(0, 2, 0), trial("s2", plainDay.AddDate(0, 3, 0)))
		if e := x.lastRule("paid.trial.refused"); !strings.Contains(e.Reason, "this member has had a trial") {
			t.Errorf("second trial: %s", e.Reason)
		}
		if x.view(plainDay.AddDate(0, 2, 1)).Paid.Status != loyalty.PaidLapsed {
			t.Error("a refused trial gave benefits")
		}
	})
	t.Run("one trial per person across member ids", func(t *testing.T) {
		x := newAcct(t, "m2")
		env := events.Envelope{ID: "e", Type: events.SubscriptionTrialStarted, OccurredAt: plainDay, MemberID: "m2"}
		res := rules.Apply(x.a, loyalty.Input{Member: x.m, Event: env, Data: trial("s9", plainDay.AddDate(0, 0, 30)), TrialTakenBy: "m1"})
		if len(res.Entries) != 1 || res.Entries[0].Rule != "paid.trial.refused" || res.Account.Paid != nil || trialClaims(res.Claims) != 0 {
			t.Errorf("trial of a person who had one: %+v", res.Entries)
		}
	})
	t.Run("person keys normalise email and phone", func(t *testing.T) {
		a := loyalty.PersonKeys(loyalty.Member{Email: " Lin@Example.com ", Phone: "+86 138-0000-0000"})
		b := loyalty.PersonKeys(loyalty.Member{Email: "lin@example.com", Phone: "+8613800000000"})
		if len(a) != 2 || a[0] != b[0] || a[1] != b[1] || strings.Contains(a[0], "lin") {
			t.Errorf("keys %v vs %v", a, b)
		}
	})
	t.Run("other plans are not the programme's", func(t *testing.T) {
		x := newAcct(t, "m")
		d := trial("s", plainDay.AddDate(0, 0, 30))
		d.Plan = "tea-club-monthly"
		x.event(events.SubscriptionTrialStarted, plainDay, d)
		if x.a.Paid != nil || len(x.entries) != 0 {
			t.Errorf("a non-SVIP plan changed the account: %s", rulesOf(x.entries))
		}
	})
}

func TestReferrals(t *testing.T) {
	referrer := loyalty.Member{ID: "ref", Email: "ref@example.com", Phone: "+8613900000001"}
	register := func(x *acct, when time.Time, ref *loyalty.Member) loyalty.Result {
		d := &events.MemberRegisteredData{Email: x.m.Email, Phone: x.m.Phone, Name: "R", ReferralCode: loyalty.ReferralCodeFor("ref")}
		env := events.Envelope{ID: x.m.ID + "-reg", Type: events.MemberRegistered, OccurredAt: when, MemberID: x.m.ID}
		x.m, _ = loyalty.Project(x.m, env, d)
		return x.take(rules.Apply(x.a, loyalty.Input{Member: x.m, Event: env, Data: d, Referrer: ref}))
	}
	t.Run("referee gets FREE25; referrer is rewarded when the first order leaves its window", func(t *testing.T) {
		x := newAcct(t, "m")
		register(x, plainDay, &referrer)
		if len(x.a.Coupons) != 1 || x.a.Coupons[0].Kind != "FREE25" || x.a.ReferredBy != "ref" {
			t.Fatalf("referee = %+v", x.a)
		}
		x.pay(plainDay.Add(time.Hour), "o1", "200")
		x.pay(plainDay.Add(2*time.Hour), "o2", "200")
		res := x.advance(at(2026, 12, 1, 0, 0))
		effect := res.Effects
		if len(res.Effects) != 1 || res.Effects[0].MemberID != "ref" || res.Effects[0].Cause != "m#referral#o1" {
			t.Fatalf("effects = %+v", res.Effects)
		}
		if res = x.advance(at(2026, 12, 20, 0, 0)); len(res.Effects) != 0 {
			t.Errorf("a second reward was asked for: %+v", res.Effects)
		}
		r := newAcct(t, "ref")
		r.m = referrer
		r.take(rules.ReferralReward(r.a, referrer, x.m, effect[0]))
		r.take(rules.ReferralReward(r.a, referrer, x.m, loyalty.Effect{MemberID: "ref", Referee: "m", Cause: "m#referral#o1", At: at(2026, 12, 1, 0, 0)}))
		v := r.view(at(2026, 12, 1, 0, 0))
		if v.Points.Available != 10 || !v.Growth.Reward.Equal(dec("20")) {
			t.Errorf("referrer = %+v", v)
		}
	})
	t.Run("no reward when the first order is refunded in full", func(t *testing.T) {
		x := newAcct(t, "m")
		register(x, plainDay, &referrer)
		x.pay(plainDay.Add(time.Hour), "o1", "200")
		x.refund(plainDay.Add(2*time.Hour), "o1", "r1", "200")
		if res := x.advance(at(2026, 12, 1, 0, 0)); len(res.Effects) != 0 || x.count("referral.void") != 1 {
			t.Errorf("effects %+v, entries %s", res.Effects, rulesOf(x.entries))
		}
	})
	t.Run("same person or same member gets nothing", func(t *testing.T) {
		for name, ref := range map[string]loyalty.Member{
			"same email":  {ID: "ref", Email: "M@example.com"},
			"same phone":  {ID: "ref", Email: "other@example.com", Phone: "+8613900000002"},
			"same member": {ID: "m"},
		} {
			t.Run(name, func(t *testing.T) {
				x := newAcct(t, "m")
				x.m.Phone = "+8613900000002"
				register(x, plainDay, &ref)
				if x.a.ReferredBy != "" || len(x.a.Coupons) != 0 || x.count("referral.refused") != 1 {
					t.Errorf("referee = %+v entries %s", x.a, rulesOf(x.entries))
				}
			})
		}
	})
	t.Run("unknown code", func(t *testing.T) {
		x := newAcct(t, "m")
		register(x, plainDay, nil)
		if x.count("referral.refused") != 1 || len(x.a.Coupons) != 0 {
			t.Errorf("entries %s", rulesOf(x.entries))
		}
	})
	t.Run("at most 20 rewards a calendar month", func(t *testing.T) {
		r := newAcct(t, "ref")
		r.m = referrer
		for i := range 21 {
			referee := loyalty.Member{ID: fmt.Sprintf("m%d", i), Email: fmt.Sprintf("m%d@example.com", i)}
			r.take(rules.ReferralReward(r.a, referrer, referee, loyalty.Effect{MemberID: "ref", Referee: referee.ID, Cause: referee.ID + "#referral#o", At: at(2026, 12, 1+i, 0, 0)}))
		}
		if r.count("referral.reward") != 20 || r.count("referral.capped") != 1 {
			t.Errorf("entries: %d rewards, %d capped", r.count("referral.reward"), r.count("referral.capped"))
		}
		referee := loyalty.Member{ID: "jan", Email: "jan@example.com"}
		r.take(rules.ReferralReward(r.a, referrer, referee, loyalty.Effect{MemberID: "ref", Referee: "jan", Cause: "jan#referral#o", At: at(2027, 1, 1, 0, 0)}))
		if r.count("referral.reward") != 21 {
			t.Error("the cap did not reset in January")
		}
	})
}

func TestBirthday(t *testing.T) {
	member := func(birthday string, registered time.Time) *acct {
		x := newAcct(t, "m")
		x.event(events.MemberRegistered, registered, &events.MemberRegisteredData{Email: "m@example.com", Name: "M", Birthday: mustDate(birthday)})
		return x
	}
	t.Run("C15 on the birthday, once a year", func(t *testing.T) {
		x := member("1990-06-15", at(2026, 1, 5, 10, 0))
		x.advance(at(2026, 6, 14, 23, 0))
		if len(x.a.Coupons) != 0 {
			t.Fatal("gift before the birthday")
		}
		x.advance(at(2026, 6, 15, 0, 0))
		x.advance(at(2026, 6, 20, 0, 0))
		if len(x.a.Coupons) != 1 || x.a.Coupons[0].Kind != "C15" || x.count("birthday.coupon") != 1 {
			t.Fatalf("coupons = %+v", x.a.Coupons)
		}
		x.advance(at(2027, 6, 15, 9, 0))
		if x.count("birthday.coupon") != 2 {
			t.Error("no gift the next year")
		}
	})
	t.Run("29 February is 28 February in other years", func(t *testing.T) {
		x := member("2000-02-29", at(2026, 1, 5, 10, 0))
		x.advance(at(2026, 2, 27, 23, 59))
		if x.count("birthday.coupon") != 0 {
			t.Fatal("gift too early")
		}
		x.advance(at(2026, 2, 28, 0, 0))
		if x.count("birthday.coupon") != 1 {
			t.Fatal("no gift on 28 February in a common year")
		}
		x.advance(at(2028, 2, 28, 12, 0))
		if x.count("birthday.coupon") != 2 {
			t.Error("2027's gift missing")
		}
		x.advance(at(2028, 2, 28, 23, 59))
		if x.count("birthday.coupon") != 2 {
			t.Error("gift on 28 February in a leap year")
		}
		x.advance(at(2028, 2, 29, 0, 0))
		if x.count("birthday.coupon") != 3 {
			t.Error("no gift on 29 February 2028")
		}
	})
	t.Run("a birthday set fewer than 30 days before does not qualify that year", func(t *testing.T) {
		x := member("1990-06-15", at(2026, 5, 20, 10, 0))
		x.advance(at(2026, 6, 16, 0, 0))
		if len(x.a.Coupons) != 0 || x.count("birthday.refused") != 1 {
			t.Errorf("coupons %+v entries %s", x.a.Coupons, rulesOf(x.entries))
		}
		x.advance(at(2027, 6, 15, 0, 0))
		if len(x.a.Coupons) != 1 {
			t.Error("no gift the following year")
		}
	})
	t.Run("changing the birthday just before it", func(t *testing.T) {
		x := member("1990-12-20", at(2025, 1, 5, 10, 0))
		x.advance(at(2025, 12, 21, 0, 0)) // 2025's gift
		x.event(events.MemberProfileUpdated, at(2026, 6, 1, 10, 0), &events.MemberProfileUpdatedData{Birthday: mustDate("1990-06-15")})
		x.advance(at(2026, 12, 31, 0, 0))
		if x.count("birthday.coupon") != 1 || x.count("birthday.refused") != 1 {
			t.Errorf("entries %s", rulesOf(x.entries))
		}
		x.advance(at(2027, 6, 15, 0, 0))
		if x.count("birthday.coupon") != 2 {
			t.Errorf("no gift in 2027: %s", rulesOf(x.entries))
		}
	})
}

func mustDate(s string) *events.Date {
	var d events.Date
	if err := d.UnmarshalText([]byte(s)); err != nil {
		panic(err)
	}
	return &d
}

func TestAdjust(t *testing.T) {
	x := newAcct(t, "m")
	if _, err := rules.Adjust(x.a, x.m, loyalty.Adjustment{Key: "k", Actor: "ops", Points: 5}, plainDay); loyalty.ErrorCode(err) != loyalty.EInvalid || !strings.Contains(err.Error(), "reason") {
		t.Errorf("no reason: %v", err)
	}
	if _, err := rules.Adjust(x.a, x.m, loyalty.Adjustment{Key: "k", Actor: "ops", Reason: "r", Points: -5}, plainDay); loyalty.ErrorCode(err) != loyalty.EInvalid || !strings.Contains(err.Error(), "only 0 are available") {
		t.Errorf("overdraw: %v", err)
	}
	if _, err := rules.Adjust(x.a, x.m, loyalty.Adjustment{Key: "k", Actor: "ops", Reason: "r", Coupon: "BOGUS"}, plainDay); loyalty.ErrorCode(err) != loyalty.EInvalid {
		t.Errorf("bad coupon: %v", err)
	}
	res, err := rules.Adjust(x.a, x.m, loyalty.Adjustment{Key: "k1", Actor: "ops", Reason: "goodwill", Points: 50, StoredValue: dec("20"), Growth: dec("600"), Coupon: "C15"}, plainDay)
	if err != nil {
		t.Fatal(err)
	}
	x.take(res)
	if got := rulesOf(x.entries); got != "adjust.points,adjust.stored_value,adjust.growth,tier.upgrade,adjust.coupon" {
		t.Errorf("entries %s", got)
	}
	for _, e := range x.entries {
		if e.Actor != "ops" {
			t.Errorf("entry %s has actor %q", e.Rule, e.Actor)
		}
	}
	x.wantPoints(plainDay, 0, 50)
	x.wantTier(plainDay, "V3")
	res, err = rules.Adjust(x.a, x.m, loyalty.Adjustment{Key: "k2", Actor: "ops", Reason: "correction", Points: -30, Growth: dec("-600")}, plainDay)
	if err != nil {
		t.Fatal(err)
	}
	x.take(res)
	x.wantPoints(plainDay, 0, 20)
	x.wantTier(plainDay, "V1")
}

func TestLiability(t *testing.T) {
	x := newAcct(t, "m")
	x.pay(at(2026, 1, 10, 10, 0), "o1", "1000") // 10, release 01-18, expire 2027-02-01
	x.pay(at(2026, 11, 20, 10, 0), "o2", "500") // 5, release 11-28
	x.event(events.WalletToppedUp, plainDay, &events.WalletToppedUpData{TopupID: "t", Amount: dec("1000")})
	x.take(rules.IssueCoupon(x.a, x.m, "k", "NEW8", "t", plainDay, nil))
	x.take(rules.IssueCoupon(x.a, x.m, "k2", "FREE25", "t", at(2026, 11, 1, 9, 0), nil)) // expires 11-09
	deltas := loyalty.LiabilityDeltas(x.entries)
	l := program.LiabilityAt(deltas, plainDay)
	if l.Points.Pending != 5 || l.Points.Available != 10 || !l.StoredValue.Principal.Equal(dec("1000")) || !l.StoredValue.Bonus.Equal(dec("30")) {
		t.Errorf("liability = %+v", l)
	}
	for _, c := range l.Coupons {
		want := map[string]int64{"NEW8": 1}[c.Kind]
		if c.Unused != want {
			t.Errorf("%s unused = %d, want %d", c.Kind, c.Unused, want)
		}
	}
	l = program.LiabilityAt(deltas, at(2027, 2, 1, 0, 0))
	if l.Points.Available != 5 || l.Points.Pending != 0 {
		t.Errorf("after the first lot expired: %+v", l.Points)
	}
}

func trialClaims(cs []loyalty.Claim) int {
	n := 0
	for _, c := range cs {
		if strings.HasPrefix(c.Key, "trial#") {
			n++
		}
	}
	return n
}

func TestGrantBoost(t *testing.T) {
	grant := func(x *acct, key, mult string, days int, when time.Time) loyalty.Result {
		x.t.Helper()
		res, err := rules.GrantBoost(x.a, x.m, key, dec(mult), days, "win-back", when)
		if err != nil {
			x.t.Fatal(err)
		}
		return x.take(res)
	}
	june := func(d int) time.Time { return at(2026, 6, d, 12, 0) } // birthday month of "m"
	for _, tc := range []struct {
		name   string
		setup  func(x *acct)
		mult   string
		days   int
		grant  time.Time
		when   time.Time
		amount string
		want   int64
		why    string
		// boost is the points the boost added beyond the programme's
		// multiplier, kept on the order as the boost's cost.
		boost int64
	}{
		{name: "×2 inside the window", mult: "2", days: 14, grant: plainDay, when: plainDay.AddDate(0, 0, 1), amount: "300", want: 6, why: "boost", boost: 3},
		{name: "from the moment of the grant", mult: "2", days: 14, grant: plainDay, when: plainDay, amount: "300", want: 6, why: "boost", boost: 3},
		{name: "last moment of the window", mult: "2", days: 14, grant: plainDay, when: plainDay.AddDate(0, 0, 14).Add(-time.Second), amount: "300", want: 6, why: "boost", boost: 3},
		{name: "not after it ends", mult: "2", days: 14, grant: plainDay, when: plainDay.AddDate(0, 0, 14), amount: "300", want: 3, why: "base"},
		{name: "not before it starts", mult: "2", days: 14, grant: plainDay, when: plainDay.Add(-time.Minute), amount: "300", want: 3, why: "base"},
		{name: "birthday V4 ×5 beats a ×2 boost, not stacked", setup: func(x *acct) { x.m.Birthday = "1990-06-15"; x.pay(june(1), "pre", "1000") },
			mult: "2", days: 14, grant: june(2), when: june(3), amount: "300", want: 15, why: "birthday month (V4)"},
		{name: "a ×3 boost beats birthday V2 ×2, not stacked", setup: func(x *acct) { x.m.Birthday = "1990-06-15"; x.pay(june(1), "pre", "150") },
			mult: "3", days: 14, grant: june(2), when: june(3), amount: "300", want: 9, why: "boost", boost: 3},
		{name: "fractional boost is floored like every multiplier", mult: "1.5", days: 1, grant: plainDay, when: plainDay.Add(time.Hour), amount: "300", want: 4, why: "boost", boost: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newAcct(t, "m")
			if tc.setup != nil {
				tc.setup(x)
			}
			grant(x, "m#winback#1#boost", tc.mult, tc.days, tc.grant)
			x.pay(tc.when, "o", tc.amount)
			e := x.lastRule("order.points")
			if e.Pending != tc.want || !strings.Contains(e.Reason, "("+tc.why+")") {
				t.Errorf("points = %d (%s), want %d by %s", e.Pending, e.Reason, tc.want, tc.why)
			}
			o := x.a.Orders[len(x.a.Orders)-1]
			wantKey := ""
			if tc.boost > 0 {
				wantKey = "m#winback#1#boost"
			}
			if o.BoostPoints != tc.boost || o.Boost != wantKey {
				t.Errorf("order's boost = %q, %d points; want %q, %d", o.Boost, o.BoostPoints, wantKey, tc.boost)
			}
		})
	}

	t.Run("idempotent by key", func(t *testing.T) {
		x := newAcct(t, "m")
		res := grant(x, "k", "2", 14, plainDay)
		if len(res.Entries) != 1 {
			t.Fatalf("entries = %s", rulesOf(res.Entries))
		}
		e := res.Entries[0]
		if e.Rule != "boost.grant" || e.Key != "k" || !strings.Contains(e.Reason, "×2") || !strings.Contains(e.Reason, "2026-12-07T14:00:00+08:00") {
			t.Errorf("grant entry = %+v", e)
		}
		if res := grant(x, "k", "3", 30, plainDay.Add(time.Hour)); len(res.Entries) != 0 {
			t.Errorf("second grant under the same key wrote %s", rulesOf(res.Entries))
		}
		want := loyalty.Boost{Key: "k", Multiplier: dec("2"), From: plainDay, Until: plainDay.AddDate(0, 0, 14)}
		if len(x.a.Boosts) != 1 || x.a.Boosts[0].Key != want.Key || !x.a.Boosts[0].Multiplier.Equal(want.Multiplier) ||
			!x.a.Boosts[0].From.Equal(want.From) || !x.a.Boosts[0].Until.Equal(want.Until) {
			t.Errorf("boosts = %+v, want [%+v]", x.a.Boosts, want)
		}
		grant(x, "k2", "3", 1, plainDay.Add(2*time.Hour))
		if len(x.a.Boosts) != 2 || x.count("boost.grant") != 2 {
			t.Errorf("another key: boosts %+v, entries %s", x.a.Boosts, rulesOf(x.entries))
		}
	})

	t.Run("refused without an entry", func(t *testing.T) {
		x := newAcct(t, "m")
		for _, tc := range []struct {
			key, mult string
			days      int
			want      string
		}{{"k", "1", 14, "multiplier"}, {"k", "0.5", 14, "multiplier"}, {"k", "2", 0, "days"}, {"", "2", 14, "key"}} {
			res, err := rules.GrantBoost(x.a, x.m, tc.key, dec(tc.mult), tc.days, "t", plainDay)
			if loyalty.ErrorCode(err) != loyalty.EInvalid || !strings.Contains(err.Error(), tc.want) || len(res.Entries) != 0 {
				t.Errorf("%+v: err %v, entries %s", tc, err, rulesOf(res.Entries))
			}
		}
	})

	t.Run("shown while active, pruned a year after it ends", func(t *testing.T) {
		x := newAcct(t, "m")
		grant(x, "k", "2", 14, plainDay)
		if v := x.view(plainDay.AddDate(0, 0, 13)); len(v.Boosts) != 1 || !v.Boosts[0].Multiplier.Equal(dec("2")) || !v.Boosts[0].Until.Equal(plainDay.AddDate(0, 0, 14)) {
			t.Errorf("view boosts = %+v", v.Boosts)
		}
		if v := x.view(plainDay.AddDate(0, 0, 14)); len(v.Boosts) != 0 {
			t.Errorf("view boosts after the end = %+v", v.Boosts)
		}
		x.advance(plainDay.AddDate(1, 0, 13))
		if len(x.a.Boosts) != 1 {
			t.Errorf("boost pruned within the year after it ended")
		}
		x.advance(plainDay.AddDate(1, 0, 15))
		if len(x.a.Boosts) != 0 {
			t.Errorf("boost kept more than a year after it ended: %+v", x.a.Boosts)
		}
	})
}

func TestReviewOutlook(t *testing.T) {
	svip := func(x *acct, from, until time.Time) {
		x.event(events.SubscriptionConverted, from, &events.SubscriptionConvertedData{SubscriptionID: "s", Plan: "svip", Price: dec("199"), PeriodEndsAt: until})
	}
	// twoOrders reaches V3 on 2026-01-10 with half of its growth from an
	// order that leaves the window before the review on 2027-01-10.
	twoOrders := func(x *acct) {
		x.pay(at(2025, 11, 20, 10, 0), "o1", "300")
		x.pay(at(2026, 1, 10, 10, 0), "o2", "300")
	}
	for _, tc := range []struct {
		name  string
		setup func(x *acct)
		at    time.Time
		want  loyalty.Outlook
	}{
		{"safe: the window at the review still holds the threshold", func(x *acct) {
			x.pay(at(2025, 11, 20, 10, 0), "o1", "600")
			x.pay(at(2026, 6, 1, 10, 0), "o2", "300")
		}, at(2026, 9, 1, 0, 0), loyalty.Outlook{Tier: "V3", ReviewAt: at(2026, 11, 20, 0, 0), Counted: dec("900"), GrowthNeeded: dec("0")}},
		{"growth leaving the window before the review counts as gone", twoOrders,
			at(2026, 6, 1, 0, 0), loyalty.Outlook{Tier: "V3", ReviewAt: at(2027, 1, 10, 0, 0), Counted: dec("300"), Demote: true, FallTo: "V2", GrowthNeeded: dec("200")}},
		{"one tier at most, after a review already passed", func(x *acct) {
			x.pay(at(2025, 11, 20, 10, 0), "o1", "1200")
			x.pay(at(2027, 3, 1, 10, 0), "o2", "200")
		}, at(2027, 6, 1, 0, 0), loyalty.Outlook{Tier: "V4", ReviewAt: at(2027, 11, 20, 0, 0), Counted: dec("200"), Demote: true, FallTo: "V3", GrowthNeeded: dec("800")}},
		{"interaction counts at the review only up to its cap", func(x *acct) {
			x.pay(at(2025, 12, 1, 10, 0), "o1", "100")
			x.pay(at(2026, 2, 1, 10, 0), "o2", "60") // V2, review 2027-02-01
			for i := range 30 {
				x.event(events.MemberCheckedIn, at(2026, 3, 1+i, 12, 0), &events.MemberCheckedInData{})
			}
			for i := range 4 {
				x.event(events.ReviewPosted, at(2026, 3, 2+i, 13, 0), &events.ReviewPostedData{ReviewID: fmt.Sprint(i), Rating: 5})
			}
			for i := range 5 {
				x.event(events.ContentShared, at(2026, 3, 2+i, 14, 0), &events.ContentSharedData{ContentID: fmt.Sprint(i)})
			}
		}, at(2026, 6, 1, 0, 0), loyalty.Outlook{Tier: "V2", ReviewAt: at(2027, 2, 1, 0, 0), Counted: dec("100"), Demote: true, FallTo: "V1", GrowthNeeded: dec("50")}},
		{"SVIP active at the review holds V3", func(x *acct) {
			twoOrders(x)
			svip(x, at(2026, 6, 1, 0, 0), at(2027, 6, 1, 0, 0))
		}, at(2026, 7, 1, 0, 0), loyalty.Outlook{Tier: "V3", ReviewAt: at(2027, 1, 10, 0, 0), Counted: dec("300"), GrowthNeeded: dec("200"), HeldByPaid: true}},
		{"SVIP ending before the review holds nothing", func(x *acct) {
			twoOrders(x)
			svip(x, at(2026, 6, 1, 0, 0), at(2026, 12, 31, 0, 0))
		}, at(2026, 7, 1, 0, 0), loyalty.Outlook{Tier: "V3", ReviewAt: at(2027, 1, 10, 0, 0), Counted: dec("300"), Demote: true, FallTo: "V2", GrowthNeeded: dec("200")}},
		{"SVIP does not hold V4 above its floor", func(x *acct) {
			x.pay(at(2025, 11, 20, 10, 0), "o1", "1200")
			x.pay(at(2027, 3, 1, 10, 0), "o2", "200")
			svip(x, at(2027, 3, 1, 0, 0), at(2028, 3, 1, 0, 0))
		}, at(2027, 6, 1, 0, 0), loyalty.Outlook{Tier: "V4", ReviewAt: at(2027, 11, 20, 0, 0), Counted: dec("200"), Demote: true, FallTo: "V3", GrowthNeeded: dec("800")}},
		{"lowest tier has no review", func(x *acct) { x.pay(plainDay, "o1", "100") },
			plainDay.Add(time.Hour), loyalty.Outlook{Tier: "V1", Counted: dec("0"), GrowthNeeded: dec("0")}},
		{"a new account is at the lowest tier", nil,
			plainDay, loyalty.Outlook{Tier: "V1", Counted: dec("0"), GrowthNeeded: dec("0")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newAcct(t, "m")
			if tc.setup != nil {
				tc.setup(x)
			}
			got := rules.ReviewOutlook(x.a, x.m, tc.at)
			if got.Tier != tc.want.Tier || !got.ReviewAt.Equal(tc.want.ReviewAt) || !got.Counted.Equal(tc.want.Counted) ||
				got.Demote != tc.want.Demote || got.FallTo != tc.want.FallTo || !got.GrowthNeeded.Equal(tc.want.GrowthNeeded) || got.HeldByPaid != tc.want.HeldByPaid {
				t.Fatalf("outlook = %+v\nwant      %+v", got, tc.want)
			}
			if got.ReviewAt.IsZero() {
				return
			}
			// The outlook says what the review will do.
			before := x.view(got.ReviewAt.Add(-time.Second)).Tier
			x.advance(got.ReviewAt)
			after := x.view(got.ReviewAt).Tier
			if want := map[bool]string{true: got.FallTo, false: before}[got.Demote]; after != want {
				t.Errorf("at the review the member went %s → %s; the outlook said %+v", before, after, got)
			}
		})
	}
}

// TestViewTierDetails: the member document carries the tier's birthday
// multiplier, the next tier with the growth still needed, and the outlook
// with tier names — what journeys' conditions and emails read.
func TestViewTierDetails(t *testing.T) {
	x := newAcct(t, "m")
	x.pay(at(2025, 11, 20, 10, 0), "o1", "300")
	x.pay(at(2026, 1, 10, 10, 0), "o2", "300") // V3 since 2026-01-10, o1 leaves the window before the review
	v := x.view(at(2026, 6, 1, 0, 0))
	if v.Tier != "V3" || !v.TierBirthdayMultiplier.Equal(dec("3")) {
		t.Errorf("tier %s multiplier %s, want V3 and 3", v.Tier, v.TierBirthdayMultiplier)
	}
	if n := v.NextTier; n == nil || n.Code != "V4" || n.Name != "钻石" || !n.GrowthNeeded.Equal(dec("400")) {
		t.Errorf("next tier = %+v, want V4 钻石 needing 400 more than the 600 counted", n)
	}
	o := v.TierOutlook
	if !o.Demote || o.Tier != "V3" || o.TierName != "金卡" || o.FallTo != "V2" || o.FallToName != "银卡" ||
		o.ReviewOn != "2027-01-10" || !o.GrowthNeeded.Equal(dec("200")) {
		t.Errorf("outlook = %+v", o)
	}
	top := newAcct(t, "t")
	top.pay(at(2026, 1, 10, 10, 0), "o1", "5000")
	if v := top.view(at(2026, 2, 1, 0, 0)); v.NextTier != nil || v.TierOutlook.Demote || v.TierOutlook.ReviewOn != "2027-01-10" {
		t.Errorf("top tier view: next %+v outlook %+v", v.NextTier, v.TierOutlook)
	}
}
