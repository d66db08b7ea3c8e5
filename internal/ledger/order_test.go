package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store/memstore"
)

// lateTwins delivers the same events to two members, one in causal order
// and one as given, and returns both stores' views of the members.
type lateTwin struct {
	st  *memstore.Store
	svc *ledger.Service
}

func newTwin(t *testing.T, now time.Time) lateTwin {
	st := memstore.New()
	svc := newService(t, st)
	svc.Now = func() time.Time { return now }
	return lateTwin{st: st, svc: svc}
}

func envOf(member, id string, typ events.Type, at time.Time) events.Envelope {
	return events.Envelope{ID: id, Version: 1, Type: typ, OccurredAt: at, MemberID: member}
}

func card(order, amount string) *events.OrderPaidData {
	a := decimal.RequireFromString(amount)
	return &events.OrderPaidData{OrderID: order, Amount: a, Currency: "CNY",
		Lines:    []events.OrderLine{{SKU: "A", Quantity: 1, Amount: a}},
		Payments: []events.Payment{{Method: events.PaymentCard, Amount: a}}}
}

// The two deliveries of issue 10 (defect 13), each against its twin in
// causal order.
func TestLateOrdersEndAsInCausalOrder(t *testing.T) {
	reg := func(m string) genEvent {
		return genEvent{env: envOf(m, m+"-reg", events.MemberRegistered, time.Date(2026, 11, 20, 9, 0, 0, 0, cst)),
			data: &events.MemberRegisteredData{Email: m + "@example.com", Name: m, Consent: events.Consent{EmailMarketing: true}}}
	}
	ord1 := func(m string) genEvent {
		return genEvent{env: envOf(m, m+"-ord1", events.OrderPaid, time.Date(2026, 11, 21, 10, 0, 0, 0, cst)), data: card("ord1", "300.00")}
	}
	ord2 := func(m string) genEvent {
		return genEvent{env: envOf(m, m+"-ord2", events.OrderPaid, time.Date(2026, 11, 22, 15, 0, 0, 0, cst)), data: card("ord2", "900.00")}
	}
	refund := func(m string) genEvent {
		return genEvent{env: envOf(m, m+"-rfd", events.OrderRefunded, time.Date(2026, 11, 25, 11, 0, 0, 0, cst)),
			data: &events.OrderRefundedData{OrderID: "ord2", RefundID: "r1", Amount: decimal.RequireFromString("300.00"), Currency: "CNY"}}
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, cst)
	for _, tc := range []struct {
		name          string
		causal, given func(m string) []genEvent
		tier, review  string
	}{
		{
			name:   "the later order first",
			causal: func(m string) []genEvent { return []genEvent{reg(m), ord1(m), ord2(m)} },
			given:  func(m string) []genEvent { return []genEvent{reg(m), ord2(m), ord1(m)} },
			tier:   "V4", review: "2027-11-22",
		},
		{
			name:   "a refund before its order",
			causal: func(m string) []genEvent { return []genEvent{reg(m), ord1(m), ord2(m), refund(m)} },
			given:  func(m string) []genEvent { return []genEvent{reg(m), ord1(m), refund(m), ord2(m)} },
			tier:   "V3", review: "2027-11-25",
		},
		{
			name:   "everything backwards",
			causal: func(m string) []genEvent { return []genEvent{reg(m), ord1(m), ord2(m), refund(m)} },
			given:  func(m string) []genEvent { return []genEvent{refund(m), ord2(m), ord1(m), reg(m)} },
			tier:   "V3", review: "2027-11-25",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newTwin(t, now), newTwin(t, now)
			run(t, a.st, a.svc, tc.causal("m"))
			run(t, b.st, b.svc, tc.given("m"))
			want, got := storedOf(t, a.st, "m"), storedOf(t, b.st, "m")
			if want.Tier != tc.tier || want.ReviewOn != tc.review {
				t.Fatalf("causal order gives %s reviewed %s, want %s reviewed %s", want.Tier, want.ReviewOn, tc.tier, tc.review)
			}
			if got != want {
				t.Fatalf("delivered out of order:\n got %+v\nwant %+v", got, want)
			}
			if g, w := standingOf(t, b.st, b.svc, "m", now), standingOf(t, a.st, a.svc, "m", now); g != w {
				t.Fatalf("standing:\n got %+v\nwant %+v", g, w)
			}
			// The refund's entries carry the refund's time, not its order's.
			es, err := b.svc.Entries(context.Background(), "m", 100, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				if e.EventID == "m-rfd" && !e.At.Equal(time.Date(2026, 11, 25, 11, 0, 0, 0, cst)) {
					t.Errorf("entry %s (%s) dated %s, want the refund's time", e.Key, e.Rule, e.At.In(cst))
				}
			}
		})
	}
}

// A key reused for a different adjustment is a conflict, not a duplicate:
// silently dropping the second change would hide the caller's bug.
func TestAdjustmentKeyReusedForAnotherRequest(t *testing.T) {
	w := newWorld(t)
	w.register("m", "m@example.com", "")
	m, err := w.st.GetMember(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	first := loyalty.Adjustment{Key: "k-1", Operator: "ops", Actor: "ops (token a)", Reason: "goodwill", Points: 40}
	if res, err := w.svc.Adjust(context.Background(), m, first); err != nil || res.Duplicate {
		t.Fatalf("first = %+v, %v", res, err)
	}
	// The same request from another token is a retry.
	retry := first
	retry.Actor = "ops (token b)"
	if res, err := w.svc.Adjust(context.Background(), m, retry); err != nil || !res.Duplicate {
		t.Fatalf("retry = %+v, %v; want a duplicate", res, err)
	}
	for _, other := range []loyalty.Adjustment{
		{Key: "k-1", Operator: "ops", Actor: "ops (token a)", Reason: "goodwill", Points: 41},
		{Key: "k-1", Operator: "ops", Actor: "ops (token a)", Reason: "other", Points: 40},
		{Key: "k-1", Operator: "eve", Actor: "eve (token a)", Reason: "goodwill", Points: 40},
		{Key: "k-1", Operator: "ops", Actor: "ops (token a)", Reason: "goodwill", Points: 40, StoredValue: decimal.RequireFromString("1")},
	} {
		_, err := w.svc.Adjust(context.Background(), m, other)
		var le *loyalty.Error
		if !errors.As(err, &le) || le.Code != loyalty.EConflict {
			t.Errorf("%+v: err = %v, want EConflict", other, err)
		}
	}
	if v := w.view("m"); v.Points.Available != 40 {
		t.Errorf("available = %d, want 40 (one adjustment)", v.Points.Available)
	}
}
