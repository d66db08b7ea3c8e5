package loyalty_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// BenchmarkApplyOrder applies one order.paid to an account with a year of
// history (50 orders, 30 interactions, a few coupons): the domain cost of
// every order event, without any store.
func BenchmarkApplyOrder(b *testing.B) {
	m := loyalty.Member{ID: "m", Email: "m@example.com", Birthday: "1990-06-15", RegisteredAt: at(2025, 11, 1, 9, 0)}
	var a loyalty.Account
	start := at(2025, 12, 1, 10, 0)
	for i := range 80 {
		when := start.Add(time.Duration(i) * 80 * time.Hour)
		env := events.Envelope{ID: fmt.Sprint("h", i), Type: events.OrderPaid, OccurredAt: when, MemberID: "m"}
		var data any = &events.OrderPaidData{OrderID: fmt.Sprint("o", i), Amount: dec("320.00"), Currency: "CNY",
			Payments: []events.Payment{{Method: events.PaymentCard, Amount: dec("320.00")}}}
		if i%8 == 3 {
			env.Type, data = events.MemberCheckedIn, &events.MemberCheckedInData{}
		}
		a = rules.Apply(a, loyalty.Input{Member: m, Event: env, Data: data}).Account
	}
	env := events.Envelope{ID: "bench", Type: events.OrderPaid, OccurredAt: start.AddDate(0, 0, 300), MemberID: "m"}
	order := &events.OrderPaidData{OrderID: "bench", Amount: dec("1250.00"), Currency: "CNY", PointsRedeemed: 20,
		Lines:    []events.OrderLine{{SKU: "A", Quantity: 1, Amount: dec("1250.00")}},
		Payments: []events.Payment{{Method: events.PaymentCard, Amount: dec("1230.00")}, {Method: events.PaymentPoints, Amount: dec("20")}}}
	b.ReportAllocs()
	for b.Loop() {
		res := rules.Apply(a, loyalty.Input{Member: m, Event: env, Data: order})
		if len(res.Entries) == 0 {
			b.Fatal("no entries")
		}
	}
}
