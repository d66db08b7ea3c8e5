package activities_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
)

// A retried sweep resumes from its last heartbeat: days already done are
// skipped and the current day continues after the last member done.
func TestSweepLedgerResumesFromHeartbeat(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	svc := ledgerfix.Service(t, st)
	cst, _ := time.LoadLocation("Asia/Shanghai")
	for _, id := range []string{"a", "b", "c", "d"} {
		ledgerfix.Member(t, st, id)
		ledgerfix.PayByCard(t, svc, id, "o", "200", time.Date(2026, 11, 20, 10, 0, 0, 0, cst))
	}
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, cst) // "a".."d" are due on 11-28
	svc.Now = func() time.Time { return now }

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Activities{Store: st, Ledger: svc, Now: svc.Now})
	// The previous attempt finished 11-27 and got to "b" on 11-28.
	env.SetHeartbeatDetails(activities.SweepResult{Days: []ledger.SweepProgress{
		{Day: "2026-11-27", Scanned: 5},
		{Day: "2026-11-28", After: "b", Scanned: 2, Changed: 2},
	}})
	val, err := env.ExecuteActivity((&activities.Activities{}).SweepLedger, activities.SweepRequest{Days: 2, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.SweepResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Days) != 2 || res.Days[0].Scanned != 5 || res.Days[1].Scanned != 4 || res.Days[1].Changed != 4 || res.Days[1].After != "d" {
		t.Fatalf("result = %+v", res)
	}
	for id, want := range map[string]int64{"a": 0, "b": 0, "c": 2, "d": 2} {
		a, err := st.GetAccount(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.PointsAvailable() != want {
			t.Errorf("%s: available %d persisted, want %d (a and b were swept by the earlier attempt in this story)", id, a.PointsAvailable(), want)
		}
	}
}
