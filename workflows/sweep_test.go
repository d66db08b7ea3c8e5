package workflows_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/workflows"
)

func TestLedgerSweep(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	svc := ledgerfix.Service(t, st)
	cst, _ := time.LoadLocation("Asia/Shanghai")
	// Three members whose points leave the return window on 2026-11-28.
	for _, id := range []string{"a", "b", "c"} {
		ledgerfix.Member(t, st, id)
		ledgerfix.PayByCard(t, svc, id, "o", "300", time.Date(2026, 11, 20, 10, 0, 0, 0, cst))
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
