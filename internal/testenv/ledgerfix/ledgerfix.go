// Package ledgerfix builds ledger services and feeds them orders for tests
// of the layers above the ledger (API, activities, workflows, benchmarks).
package ledgerfix

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
	"github.com/memberflow/memberflow/templates"
)

// Service is a ledger over st with the default programme, a test code
// secret and a silent log.
func Service(t testing.TB, st store.Store) *ledger.Service {
	t.Helper()
	s, err := ledger.New(templates.Program, []byte("test-coupon-code-secret"), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Member saves a bare projection for id (as if registered).
func Member(t testing.TB, st store.Store, id string) {
	t.Helper()
	if err := st.SaveMember(context.Background(), loyalty.Member{ID: id, Version: 1}, "reg-"+id); err != nil {
		t.Fatal(err)
	}
}

// PayByCard applies an order.paid of amount (a decimal string) paid by
// card, with event and order id orderID.
func PayByCard(t testing.TB, svc *ledger.Service, memberID, orderID, amount string, at time.Time) {
	t.Helper()
	a := decimal.RequireFromString(amount)
	env := events.Envelope{ID: memberID + "-" + orderID, Version: 1, Type: events.OrderPaid, OccurredAt: at, MemberID: memberID}
	data := &events.OrderPaidData{OrderID: orderID, Amount: a, Currency: "CNY", Payments: []events.Payment{{Method: events.PaymentCard, Amount: a}}}
	if err := svc.ApplyEvent(context.Background(), env, data); err != nil {
		t.Fatal(err)
	}
}

// Refund applies an order.refunded of amount (a decimal string) of
// orderID, with event and refund id refundID.
func Refund(t testing.TB, svc *ledger.Service, memberID, orderID, refundID, amount string, at time.Time) {
	t.Helper()
	env := events.Envelope{ID: memberID + "-" + refundID, Version: 1, Type: events.OrderRefunded, OccurredAt: at, MemberID: memberID}
	data := &events.OrderRefundedData{OrderID: orderID, RefundID: refundID, Amount: decimal.RequireFromString(amount), Currency: "CNY"}
	if err := svc.ApplyEvent(context.Background(), env, data); err != nil {
		t.Fatal(err)
	}
}

// Shop gives each simulated customer a projection and applies their
// orders, paid by card, oldest first: the members and ledger journals an
// analytics refresh reads.
func Shop(t testing.TB, st store.Store, svc *ledger.Service, customers []shopfix.Customer) {
	t.Helper()
	for _, c := range customers {
		Member(t, st, c.ID)
		for i, o := range c.Orders {
			PayByCard(t, svc, c.ID, fmt.Sprintf("o%d", i), o.Amount.StringFixed(2), o.At)
		}
	}
}
