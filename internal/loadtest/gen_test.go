package loadtest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/templates"
)

func testGenerator(t *testing.T) generator {
	t.Helper()
	prog, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		t.Fatal(err)
	}
	return generator{prog: prog, zone: "Europe/Paris"}
}

// generated is one of every kind of event the load tool posts.
func generated(t *testing.T, g generator) []event {
	t.Helper()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var evs []event
	for i := range len(scenarios) {
		h, err := g.history(fmt.Sprintf("ld1-a-%04d", i), i, newHistoryTimes(g.prog, now))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, h...)
	}
	for n := range 300 {
		ev, err := g.ingestOrder("ld1", n, 30, now)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	reg, err := g.registration("ld1-r-0000", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return append(evs, reg)
}

// TestGeneratedEventsAreValid runs every generated body through ingest's
// own validation and checks what the schema cannot: amounts add up and are
// in the programme's currency.
func TestGeneratedEventsAreValid(t *testing.T) {
	g := testGenerator(t)
	ids := map[string]bool{}
	for _, ev := range generated(t, g) {
		envs, err := events.ParseBatch(ev.Body)
		if err != nil {
			t.Fatalf("%s does not validate: %v\n%s", ev.ID, err, ev.Body)
		}
		env := envs[0]
		if env.ID != ev.ID || env.Type != ev.Type || env.MemberID != ev.Member {
			t.Errorf("%s: envelope %s %s %s, want %s %s %s", ev.ID, env.ID, env.Type, env.MemberID, ev.ID, ev.Type, ev.Member)
		}
		if ids[ev.ID] {
			t.Errorf("event id %s generated twice", ev.ID)
		}
		ids[ev.ID] = true
		data, err := env.DecodeData()
		if err != nil {
			t.Fatalf("%s: %v", ev.ID, err)
		}
		switch d := data.(type) {
		case *events.OrderPaidData:
			if d.Currency != g.prog.Currency {
				t.Errorf("%s: currency %s, want %s", ev.ID, d.Currency, g.prog.Currency)
			}
			if got := sumLines(d.Lines); !got.Equal(d.Amount) {
				t.Errorf("%s: lines add up to %s, amount %s", ev.ID, got, d.Amount)
			}
			paid := decimal.Zero
			for _, p := range d.Payments {
				paid = paid.Add(p.Amount)
			}
			if !paid.Equal(d.Amount) {
				t.Errorf("%s: payments add up to %s, amount %s", ev.ID, paid, d.Amount)
			}
			if d.OrderID != ev.OrderID {
				t.Errorf("%s: order %s, want %s", ev.ID, d.OrderID, ev.OrderID)
			}
		case *events.OrderRefundedData:
			if d.Currency != g.prog.Currency {
				t.Errorf("%s: currency %s, want %s", ev.ID, d.Currency, g.prog.Currency)
			}
			if got := sumLines(d.Lines); !got.Equal(d.Amount) {
				t.Errorf("%s: lines add up to %s, amount %s", ev.ID, got, d.Amount)
			}
			if d.OrderID != ev.OrderID || d.RefundID != ev.RefundID {
				t.Errorf("%s: refund %s of %s, want %s of %s", ev.ID, d.RefundID, d.OrderID, ev.RefundID, ev.OrderID)
			}
		case *events.MemberRegisteredData:
			if d.Timezone != g.zone || !d.Consent.EmailMarketing {
				t.Errorf("%s: zone %s consent %t, want %s and consent", ev.ID, d.Timezone, d.Consent.EmailMarketing, g.zone)
			}
		default:
			t.Errorf("%s: unexpected %T", ev.ID, data)
		}
	}
}

func sumLines(ls []events.OrderLine) decimal.Decimal {
	sum := decimal.Zero
	for _, l := range ls {
		sum = sum.Add(l.Amount)
	}
	return sum
}

// TestScenariosDependOnOrder: each history changes tier on the way, so a
// ledger that applied its events in the wrong order would end elsewhere,
// and the refunded line is a line of the second order.
func TestScenariosDependOnOrder(t *testing.T) {
	g := testGenerator(t)
	sum := func(ls []line) decimal.Decimal {
		s := decimal.Zero
		for _, l := range ls {
			s = s.Add(decimal.RequireFromString(l.amount))
		}
		return s
	}
	for i, sc := range scenarios {
		if !slices.Contains(sc.second, sc.refunded) {
			t.Errorf("scenario %d refunds %v, not a line of its second order", i, sc.refunded)
		}
		first := sum(sc.first)
		both := first.Add(sum(sc.second))
		after := both.Sub(decimal.RequireFromString(sc.refunded.amount))
		tiers := []string{g.prog.EarnedTier(decimal.Zero), g.prog.EarnedTier(first), g.prog.EarnedTier(both), g.prog.EarnedTier(after)}
		changes := 0
		for j := 1; j < len(tiers); j++ {
			if tiers[j] != tiers[j-1] {
				changes++
			}
		}
		if changes < 2 {
			t.Errorf("scenario %d goes through tiers %v: want at least two changes so the order of events matters", i, tiers)
		}
	}
	// The first scenario crosses two thresholds and is demoted by its refund.
	if got, want := []string{g.prog.EarnedTier(decimal.RequireFromString("300")), g.prog.EarnedTier(decimal.RequireFromString("1200")), g.prog.EarnedTier(decimal.RequireFromString("900"))}, []string{"V2", "V4", "V3"}; !slices.Equal(got, want) {
		t.Errorf("scenario 0 tiers %v, want %v", got, want)
	}
}

// TestHistoryTimes: the history is in the past, in causal order, with the
// second order in the birthday month but the birthday set too recently for
// a gift, and no order on member day.
func TestHistoryTimes(t *testing.T) {
	g := testGenerator(t)
	for _, now := range []time.Time{
		time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
		time.Date(2028, 4, 14, 20, 0, 0, 0, time.UTC), // a history through 29 February
		time.Date(2027, 1, 20, 23, 30, 0, 0, time.UTC),
	} {
		ht := newHistoryTimes(g.prog, now)
		order := []time.Time{ht.registered, ht.first, ht.second, ht.refunded, now.Add(-24 * time.Hour)}
		if !slices.IsSortedFunc(order, func(a, b time.Time) int { return a.Compare(b) }) {
			t.Errorf("now %s: times out of order: %v", now, order)
		}
		for _, o := range []time.Time{ht.first, ht.second} {
			if o.In(g.prog.Location).Day() == g.prog.Points.MemberDay {
				t.Errorf("now %s: an order on member day %s", now, o)
			}
		}
		evs, err := g.history("ld1-a-0000", 0, ht)
		if err != nil {
			t.Fatal(err)
		}
		envs, err := events.ParseBatch(evs[0].Body)
		if err != nil {
			t.Fatal(err)
		}
		data, err := envs[0].DecodeData()
		if err != nil {
			t.Fatal(err)
		}
		bd := data.(*events.MemberRegisteredData).Birthday
		second := ht.second.In(g.prog.Location)
		if bd == nil || bd.Month != second.Month() || bd.Day != second.Day() {
			t.Errorf("now %s: birthday %v, want the second order's day %s", now, bd, second.Format("01-02"))
		}
		if days := second.Sub(ht.registered).Hours() / 24; days >= float64(g.prog.Birthday.MinDaysSinceSet) {
			t.Errorf("now %s: birthday set %.0f days before it: a gift would fall due", now, days)
		}
	}
}

// TestWithDuplicates: every event is posted, the given share a second
// time with the same body, and the order is shuffled.
func TestWithDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n         int
		share     float64
		wantTwice int
	}{
		{"thirty percent", 400, 0.3, 120},
		{"rounded", 7, 0.3, 2},
		{"none", 50, 0, 0},
		{"empty", 0, 0.3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var evs []event
			for i := range tc.n {
				evs = append(evs, event{ID: fmt.Sprintf("e%d", i), Body: []byte(fmt.Sprintf(`{"n":%d}`, i))})
			}
			got := withDuplicates(rand.New(rand.NewPCG(1, 2)), evs, tc.share)
			if len(got) != tc.n+tc.wantTwice {
				t.Fatalf("%d posts, want %d", len(got), tc.n+tc.wantTwice)
			}
			count := map[string]int{}
			for _, ev := range got {
				count[ev.ID]++
				if want := fmt.Sprintf(`{"n":%s}`, ev.ID[1:]); !bytes.Equal(ev.Body, []byte(want)) {
					t.Errorf("%s posted with body %s, want %s", ev.ID, ev.Body, want)
				}
			}
			twice := 0
			for _, ev := range evs {
				switch count[ev.ID] {
				case 1:
				case 2:
					twice++
				default:
					t.Errorf("%s posted %d times", ev.ID, count[ev.ID])
				}
			}
			if twice != tc.wantTwice {
				t.Errorf("%d events posted twice, want %d", twice, tc.wantTwice)
			}
			if tc.n > 10 && slices.EqualFunc(got[:tc.n], evs, func(a, b event) bool { return a.ID == b.ID }) {
				t.Error("posts are in the original order: not shuffled")
			}
		})
	}
}
