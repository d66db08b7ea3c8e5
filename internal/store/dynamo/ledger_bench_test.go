package dynamo_test

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
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
	"github.com/memberflow/memberflow/templates"
)

// BenchmarkApplyOrderEvent is what dispatch spends on the ledger for one
// order.paid against DynamoDB Local: read the member and the account, run
// the rules, commit the entries, balances, marker and liability in one
// TransactWriteItems. Each iteration is a new order of the same member.
func BenchmarkApplyOrderEvent(b *testing.B) {
	client, table := ddblocal.NewTable(b)
	st := dynamo.New(client, table)
	svc, err := ledger.New(templates.Program, []byte("bench-coupon-code-secret"), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := st.SaveMember(ctx, loyalty.Member{ID: "m-bench", Email: "b@example.com", Version: 1}, "reg"); err != nil {
		b.Fatal(err)
	}
	amount := decimal.RequireFromString("1250.00")
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprint("o", i)
		env := events.Envelope{ID: id, Version: 1, Type: events.OrderPaid, OccurredAt: at.Add(time.Duration(i) * time.Second), MemberID: "m-bench"}
		err := svc.ApplyEvent(ctx, env, &events.OrderPaidData{OrderID: id, Amount: amount, Currency: "CNY", Payments: []events.Payment{{Method: events.PaymentCard, Amount: amount}}})
		if err != nil {
			b.Fatal(err)
		}
	}
}
