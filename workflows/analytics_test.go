package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
	"github.com/memberflow/memberflow/workflows"
)

// shopStart and shopDays are the simulated shop's history: two years of
// orders ending a little before the refreshes run.
var (
	shopStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	shopDays  = 720
	// refreshAt is 03:00 in the programme's zone (Asia/Shanghai) the
	// day after the history ends.
	refreshAt = time.Date(2025, 12, 21, 19, 0, 0, 0, time.UTC)
)

// analyticsFixture is a memstore with a simulated shop's members and
// ledgers, and the activities the refresh runs.
type analyticsFixture struct {
	store *memstore.Store
	ldg   *ledger.Service
	acts  *activities.Activities
	shop  []shopfix.Customer
}

func newAnalyticsFixture(t *testing.T, customers []shopfix.Customer) *analyticsFixture {
	t.Helper()
	f := &analyticsFixture{store: memstore.New(), shop: customers}
	f.ldg = ledgerfix.Service(t, f.store)
	ledgerfix.Shop(t, f.store, f.ldg, customers)
	f.acts = &activities.Activities{Store: f.store, Ledger: f.ldg}
	return f
}

// refresh runs AnalyticsRefresh over the fixture at start.
func (f *analyticsFixture) refresh(t *testing.T, start time.Time, in workflows.AnalyticsRefreshInput) workflows.AnalyticsRefreshResult {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	f.acts.Now = env.Now
	// As the schedule names its runs: one id per run (the test
	// environment's run id is always the same).
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.AnalyticsScheduleID + "-" + start.Format(time.RFC3339)})
	workflows.Register(env, f.acts)
	env.ExecuteWorkflow(workflows.AnalyticsRefreshWorkflow, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the refresh did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res workflows.AnalyticsRefreshResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *analyticsFixture) member(t *testing.T, id string) loyalty.Member {
	t.Helper()
	m, err := f.store.GetMember(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAnalyticsRefreshScoresEveryMemberAndRecordsMoves(t *testing.T) {
	shop := shopfix.Simulate(3, shopfix.Shop, 400, "m", shopStart, shopDays)
	f := newAnalyticsFixture(t, shop)
	ledgerfix.Member(t, f.store, "never-bought")
	ctx := context.Background()

	first := f.refresh(t, refreshAt, workflows.AnalyticsRefreshInput{PageSize: 10})
	if first.Refused != "" || first.Version != 1 {
		t.Fatalf("first refresh = %+v", first)
	}
	if first.Members != 401 || first.Buyers != 400 || first.Customers != 400 || first.Sample != 400 || first.Sampled {
		t.Errorf("first refresh read %d members, %d buyers, fitted %d of %d (sampled %v); want 401, 400, 400 of 400",
			first.Members, first.Buyers, first.Sample, first.Customers, first.Sampled)
	}
	// Every buyer is scored for the first time: a move from "" each.
	if first.Report.Scored != 400 || first.Written != 400 || first.Recorded != 400 || first.Report.Changed != 400 {
		t.Errorf("first refresh report %+v, written %d, recorded %d; want 400 of each", first.Report, first.Written, first.Recorded)
	}
	cur, err := f.store.CurrentAnalyticsModel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version != 1 || cur.Report == nil || fmt.Sprint(*cur.Report) != fmt.Sprint(first.Report) || cur.Customers != 400 || cur.Members != 401 || cur.Currency != "CNY" {
		t.Errorf("current model = v%d report %+v customers %d members %d %s", cur.Version, cur.Report, cur.Customers, cur.Members, cur.Currency)
	}
	if got, want := cur.AsOf.String(), "2025-12-21"; got != want {
		t.Errorf("scored as of %s, want %s (the last full day in Shanghai)", got, want)
	}
	if m := f.member(t, "never-bought"); m.Scores != nil {
		t.Errorf("a member who never bought has scores %+v", m.Scores)
	}
	firstSegments := map[string]string{}
	for _, c := range shop {
		m := f.member(t, c.ID)
		if m.Scores == nil || m.Scores.Analytics.ModelVersion != 1 || m.Scores.RFM.Segment == "" || m.Scores.CLV12m.IsNegative() ||
			m.Scores.PAlive < 0 || m.Scores.PAlive > 1 || m.Scores.Analytics.Currency != "CNY" {
			t.Fatalf("%s: scores %+v", c.ID, m.Scores)
		}
		firstSegments[c.ID] = m.Scores.RFM.Segment
		ev, err := f.store.GetEvent(ctx, events.InternalSource, scoring.EventID(1, c.ID))
		if err != nil {
			t.Fatalf("%s: no segment_changed event: %v", c.ID, err)
		}
		if ev.Type != string(events.MemberSegmentChanged) || !strings.Contains(string(ev.Payload), `"from":"","to":"`+m.Scores.RFM.Segment+`"`) {
			t.Errorf("%s: event %s %s", c.ID, ev.Type, ev.Payload)
		}
	}

	// Two months later, without new orders, recency has moved members
	// down; only those whose segment changed get an event.
	second := f.refresh(t, refreshAt.AddDate(0, 2, 0), workflows.AnalyticsRefreshInput{PageSize: 10})
	if second.Version != 2 || second.Report.Scored != 400 || second.Written != 400 {
		t.Fatalf("second refresh = %+v", second)
	}
	moved := 0
	for _, c := range shop {
		m := f.member(t, c.ID)
		_, err := f.store.GetEvent(ctx, events.InternalSource, scoring.EventID(2, c.ID))
		switch {
		case m.Scores.Analytics.ModelVersion != 2:
			t.Fatalf("%s: scored by %d, want 2", c.ID, m.Scores.Analytics.ModelVersion)
		case m.Scores.RFM.Segment != firstSegments[c.ID]:
			moved++
			if err != nil {
				t.Errorf("%s moved %s → %s without an event: %v", c.ID, firstSegments[c.ID], m.Scores.RFM.Segment, err)
			}
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s stayed %s but has an event (%v)", c.ID, firstSegments[c.ID], err)
		}
	}
	if moved == 0 || second.Recorded != moved || second.Report.Changed != moved {
		t.Errorf("%d members moved; the refresh recorded %d and counted %d", moved, second.Recorded, second.Report.Changed)
	}
	t.Logf("first %+v\nsecond: %d of 400 moved", first.Report, moved)
}

func TestAnalyticsRefreshSamplesAboveTheSampleSize(t *testing.T) {
	f := newAnalyticsFixture(t, shopfix.Simulate(5, shopfix.Shop, 500, "m", shopStart, shopDays))
	res := f.refresh(t, refreshAt, workflows.AnalyticsRefreshInput{SampleSize: 300, PageSize: 50})
	if res.Refused != "" || !res.Sampled || res.Sample != 300 || res.Customers != 500 || res.Report.Scored != 500 {
		t.Fatalf("refresh = %+v, want 300 of 500 sampled and all 500 scored", res)
	}
	m, err := f.store.GetAnalyticsModel(context.Background(), res.Version)
	if err != nil {
		t.Fatal(err)
	}
	if m.Sample != 300 || !m.Sampled || m.Model.BGNBD.Fit.Customers != 300 || m.Quintiles.Customers > 300 {
		t.Errorf("stored fit: sample %d sampled %v, BG/NBD on %d, quintiles over %d", m.Sample, m.Sampled, m.Model.BGNBD.Fit.Customers, m.Quintiles.Customers)
	}
}

// TestAnalyticsRefreshRefusedKeepsTheModel: a fit that cannot be made is
// not stored; the run ends with the reason, the current model stays and
// no member is touched.
func TestAnalyticsRefreshRefusedKeepsTheModel(t *testing.T) {
	shop := shopfix.Simulate(9, shopfix.Shop, 300, "m", shopStart, shopDays)
	f := newAnalyticsFixture(t, shop)
	ok := f.refresh(t, refreshAt, workflows.AnalyticsRefreshInput{PageSize: 100})
	if ok.Version != 1 {
		t.Fatalf("first refresh = %+v", ok)
	}
	// Everyone's orders are refunded, but one first purchase each: no
	// repeat buyer is left, and BG/NBD cannot be identified.
	later := refreshAt.AddDate(0, 1, 0)
	for _, c := range shop {
		for i, o := range c.Orders[1:] {
			ledgerfix.Refund(t, f.ldg, c.ID, fmt.Sprintf("o%d", i+1), fmt.Sprintf("r%d", i+1), o.Amount.StringFixed(2), later.Add(-time.Hour))
		}
	}
	before := f.member(t, shop[0].ID)
	res := f.refresh(t, later, workflows.AnalyticsRefreshInput{PageSize: 100})
	if res.Version != 0 || !strings.Contains(res.Refused, "repeat") || res.Written != 0 || res.Recorded != 0 {
		t.Fatalf("refused refresh = %+v", res)
	}
	t.Logf("refused: %s", res.Refused)
	cur, err := f.store.CurrentAnalyticsModel(context.Background())
	if err != nil || cur.Version != 1 {
		t.Errorf("current model = v%d (%v), want v1 kept", cur.Version, err)
	}
	if _, err := f.store.GetAnalyticsModel(context.Background(), 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused fit was stored: %v", err)
	}
	if after := f.member(t, shop[0].ID); fmt.Sprint(after.Scores) != fmt.Sprint(before.Scores) || after.Version != before.Version {
		t.Errorf("member touched by a refused refresh: %+v → %+v", before.Scores, after.Scores)
	}
}

// TestAnalyticsShardContinuesAsNew: a long pass hands its position and
// totals to its next run.
func TestAnalyticsShardContinuesAsNew(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var a *activities.Activities
	workflows.Register(env, a)
	calls := 0
	env.OnActivity(a.CollectAnalyticsPage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req activities.AnalyticsCollectRequest) (activities.AnalyticsCollectResult, error) {
			wantAfter := ""
			if calls > 0 {
				wantAfter = fmt.Sprintf("x%d", calls-1)
			}
			if req.Page != calls || req.After != wantAfter {
				return activities.AnalyticsCollectResult{}, fmt.Errorf("page %d after %q at call %d", req.Page, req.After, calls)
			}
			calls++
			return activities.AnalyticsCollectResult{Members: 2, Buyers: 1, Kept: 1, Stored: true, Next: fmt.Sprintf("x%d", calls-1)}, nil
		})
	env.ExecuteWorkflow(workflows.AnalyticsShardWorkflow, workflows.AnalyticsShardInput{Pass: workflows.PassCollect, Run: "r", Shard: 3, PageSize: 2})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("err = %v, want continue-as-new", err)
	}
	var next workflows.AnalyticsShardInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Page != 500 || next.After != "x499" || next.Totals.Pages != 500 || next.Totals.Members != 1000 || next.Shard != 3 || next.Run != "r" {
		t.Errorf("next run = page %d after %q totals %+v", next.Page, next.After, next.Totals)
	}
}

func TestEnsureAnalyticsSchedule(t *testing.T) {
	ctx := context.Background()
	sc := &fakeSchedules{stored: map[string]client.ScheduleOptions{}}
	in := workflows.AnalyticsRefreshInput{SampleSize: 50_000}
	if err := workflows.EnsureAnalyticsSchedule(ctx, temporalSchedules{sc}, "memberflow-test", in, "03:00", "Asia/Shanghai"); err != nil {
		t.Fatal(err)
	}
	o := sc.stored[workflows.AnalyticsScheduleID]
	day := func(n int) []client.ScheduleRange { return []client.ScheduleRange{{Start: n}} }
	want := client.ScheduleCalendarSpec{Hour: day(3), Minute: day(0), Second: day(0)}
	if o.Spec.TimeZoneName != "Asia/Shanghai" || len(o.Spec.Calendars) != 1 || fmt.Sprintf("%+v", o.Spec.Calendars[0]) != fmt.Sprintf("%+v", want) || o.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP {
		t.Errorf("spec %+v overlap %v", o.Spec, o.Overlap)
	}
	a, ok := o.Action.(*client.ScheduleWorkflowAction)
	if !ok || a.ID != workflows.AnalyticsScheduleID || a.Workflow != workflows.AnalyticsRefreshWorkflow || a.TaskQueue != "memberflow-test" || a.Args[0] != any(in) {
		t.Fatalf("action %+v", o.Action)
	}
	// At the next start-up with other settings, it is updated in place.
	in.SampleSize = 10_000
	if err := workflows.EnsureAnalyticsSchedule(ctx, temporalSchedules{sc}, "memberflow-test", in, "04:30", "Asia/Shanghai"); err != nil {
		t.Fatal(err)
	}
	o = sc.stored[workflows.AnalyticsScheduleID]
	if len(sc.created) != 1 || len(sc.updated) != 1 || o.Spec.Calendars[0].Hour[0].Start != 4 || o.Spec.Calendars[0].Minute[0].Start != 30 ||
		o.Action.(*client.ScheduleWorkflowAction).Args[0].(workflows.AnalyticsRefreshInput).SampleSize != 10_000 {
		t.Errorf("after update: created %v updated %v spec %+v action %+v", sc.created, sc.updated, o.Spec, o.Action)
	}
	if err := workflows.EnsureAnalyticsSchedule(ctx, temporalSchedules{sc}, "memberflow-test", in, "25:00", "Asia/Shanghai"); err == nil {
		t.Error("25:00 scheduled")
	}
}

func TestAnalyticsScheduleFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	def, err := workflows.AnalyticsScheduleFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if def.At != "03:00" || def.Input.SampleSize != 100_000 || def.Input.PageSize != 1000 || def.Input.Options != scoring.DefaultScoreOptions {
		t.Errorf("defaults = %+v", def)
	}
	set, err := workflows.AnalyticsScheduleFromEnv(env(map[string]string{
		"MEMBERFLOW_ANALYTICS_AT": "02:30", "MEMBERFLOW_ANALYTICS_SAMPLE": "50000", "MEMBERFLOW_ANALYTICS_PAGE": "500", "MEMBERFLOW_ANALYTICS_MONTHLY_DISCOUNT": "0.02",
	}))
	if err != nil || set.At != "02:30" || set.Input.SampleSize != 50_000 || set.Input.PageSize != 500 || set.Input.Options.MonthlyDiscount != 0.02 || set.Input.Options.HorizonDays != 90 {
		t.Errorf("set = %+v, %v", set, err)
	}
	_, err = workflows.AnalyticsScheduleFromEnv(env(map[string]string{
		"MEMBERFLOW_ANALYTICS_AT": "3am", "MEMBERFLOW_ANALYTICS_SAMPLE": "10", "MEMBERFLOW_ANALYTICS_PAGE": "5000", "MEMBERFLOW_ANALYTICS_MONTHLY_DISCOUNT": "1.5",
	}))
	for _, name := range []string{"MEMBERFLOW_ANALYTICS_AT", "MEMBERFLOW_ANALYTICS_SAMPLE", "MEMBERFLOW_ANALYTICS_PAGE", "MEMBERFLOW_ANALYTICS_MONTHLY_DISCOUNT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}
