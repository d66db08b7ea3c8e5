package dynamo_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
)

// BenchmarkApplyOrderEvent is what dispatch spends on the ledger for one
// order.paid against DynamoDB Local: read the member and the account, run
// the rules, commit the entries, balances, marker and liability in one
// TransactWriteItems. Each iteration is a new order of the same member.
func BenchmarkApplyOrderEvent(b *testing.B) {
	client, table := ddblocal.NewTable(b)
	st := dynamo.New(client, table)
	svc := ledgerfix.Service(b, st)
	ledgerfix.Member(b, st, "m-bench")
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	i := 0
	for b.Loop() {
		i++
		ledgerfix.PayByCard(b, svc, "m-bench", fmt.Sprint("o", i), "1250.00", at.Add(time.Duration(i)*time.Second))
	}
}
