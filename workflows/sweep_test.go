package workflows_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/testsuite"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

func TestLedgerSweep(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	svc, err := ledger.New(templates.Program, []byte("sweep-test-code-secret"), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cst, _ := time.LoadLocation("Asia/Shanghai")
	paid := time.Date(2026, 11, 20, 10, 0, 0, 0, cst)
	// Three members whose points leave the return window on 2026-11-28.
	for _, id := range []string{"a", "b", "c"} {
		if err := st.SaveMember(ctx, loyalty.Member{ID: id, Version: 1}, "reg"); err != nil {
			t.Fatal(err)
		}
		amt := decimal.NewFromInt(300)
		env := events.Envelope{ID: id + "-o", Version: 1, Type: events.OrderPaid, OccurredAt: paid, MemberID: id}
		if err := svc.ApplyEvent(ctx, env, &events.OrderPaidData{OrderID: "o", Amount: amt, Currency: "CNY", Payments: []events.Payment{{Method: events.PaymentCard, Amount: amt}}}); err != nil {
			t.Fatal(err)
		}
	}
	svc.Now = func() time.Time { return time.Date(2026, 11, 29, 3, 0, 0, 0, cst) } // a day late: caught up

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.LedgerSweep)
	env.RegisterActivity(&activities.Activities{Store: st, Ledger: svc, Now: svc.Now})
	env.ExecuteWorkflow(workflows.LedgerSweep, workflows.LedgerSweepInput{CatchUpDays: 3, PageSize: 2})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res activities.SweepResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Days) != 3 || res.Days[1].Day != "2026-11-28" || res.Days[1].Scanned != 3 || res.Days[1].Changed != 3 {
		t.Fatalf("result = %+v", res)
	}
	for _, id := range []string{"a", "b", "c"} {
		a, err := st.GetAccount(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.PointsAvailable() != 3 || a.PointsPending() != 0 {
			t.Errorf("%s: pending %d available %d after the sweep", id, a.PointsPending(), a.PointsAvailable())
		}
	}
}
