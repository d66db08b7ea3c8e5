package workflows_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/workflows"
)

func TestPlanPartitions(t *testing.T) {
	set := mustShipped(t)
	// 28 February of a common year also scans 29 February birthdays.
	at := time.Date(2027, 2, 28, 3, 0, 0, 0, time.UTC)
	got := workflows.PlanPartitions(set[journey.Birthday], at, 24*time.Hour)
	for _, want := range []string{"0226", "0227", "0228", "0229", "0301"} {
		if !slices.Contains(got, want) {
			t.Errorf("birthday partitions %v lack %s", got, want)
		}
	}
	if slices.Contains(workflows.PlanPartitions(set[journey.Birthday], time.Date(2028, 2, 28, 3, 0, 0, 0, time.UTC), time.Hour), "0229") &&
		!slices.Contains(workflows.PlanPartitions(set[journey.Birthday], time.Date(2028, 2, 28, 3, 0, 0, 0, time.UTC), time.Hour), "0228") {
		t.Error("leap year partitions are wrong")
	}
	// Tier reviews 30, 7 and 1 days ahead; win-back last orders 60, 120
	// and 365 days back — each with a day either side, sorted, no repeats.
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tiers := workflows.PlanPartitions(set[journey.TierExpiry], now, time.Hour)
	for _, want := range []string{"2026-12-23", "2026-11-30", "2026-11-24"} {
		if !slices.Contains(tiers, want) {
			t.Errorf("tier partitions %v lack %s", tiers, want)
		}
	}
	wb := workflows.PlanPartitions(set[journey.Winback], now, time.Hour)
	for _, want := range []string{"2026-09-24", "2026-07-26", "2025-11-23"} {
		if !slices.Contains(wb, want) {
			t.Errorf("win-back partitions %v lack %s", wb, want)
		}
	}
	if !slices.IsSorted(wb) || len(slices.Compact(slices.Clone(wb))) != len(wb) {
		t.Errorf("partitions not sorted and unique: %v", wb)
	}
}

func mustShipped(t *testing.T) journey.Set {
	t.Helper()
	f := newFixture(t, true)
	return f.defs
}

// birthdayMember registers a member with a birthday today (Shanghai), set
// long ago, and an account (one order).
func birthdayMember(t *testing.T, f *fixture, id string, consent bool, birthday string) {
	t.Helper()
	ctx := context.Background()
	m := loyalty.Member{ID: id, Email: id + "@example.com", Name: id, Birthday: birthday, BirthdaySetAt: morning.AddDate(-1, 0, 0),
		Timezone: "Asia/Shanghai", Consent: loyalty.Consent{EmailMarketing: consent}, Version: 1}
	if err := f.store.SaveMember(ctx, m, "reg-"+id); err != nil {
		t.Fatal(err)
	}
	ledgerfix.PayByCard(t, f.acts.Ledger, id, "o-"+id, "300", morning.AddDate(0, -2, 0))
}

func (f *fixture) runScan(t *testing.T, name string) workflows.CalendarScanResult {
	t.Helper()
	f.env.ExecuteWorkflow(workflows.CalendarScan, workflows.CalendarScanInput{Definition: f.defs[name], CatchUp: 24 * time.Hour, PageSize: 2, MaxMembers: 2})
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatalf("scan failed: %v", err)
	}
	var res workflows.CalendarScanResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCalendarScanBirthday(t *testing.T) {
	// 10:30 on 23 November in Shanghai: the 10:00 step is due.
	f := newFixtureAt(t, true, morning.Add(30*time.Minute), nil)
	birthdayMember(t, f, "b-yes", true, "1990-11-23")
	birthdayMember(t, f, "b-no", false, "1991-11-23")
	birthdayMember(t, f, "b-later", true, "1992-11-24")
	birthdayMember(t, f, "b-other", true, "1993-12-15")
	res := f.runScan(t, journey.Birthday)
	if res.Batches < 2 {
		t.Errorf("batches = %d, want several (page size 2, at most 2 members a batch)", res.Batches)
	}
	equal(t, "templates", f.mailer.templates(), []string{"birthday_gift"})
	m := f.mailer.sent[0]
	if m.MemberID != "b-yes" || m.Data["birthday_multiplier"] != "2" || m.Data["tier_name"] != "银卡" || m.Data["coupon_code"] == "" {
		t.Errorf("birthday email = %s %v", m.MemberID, m.Data)
	}
	for id, want := range map[string]int{"b-yes": 1, "b-no": 1, "b-later": 0, "b-other": 0} {
		if got := couponsOf(t, f, id, "C15"); got != want {
			t.Errorf("%s has %d C15 coupons, want %d", id, got, want)
		}
	}
	rows, _ := f.store.ListSends(context.Background(), "b-no")
	if len(rows) != 1 || rows[0].Reason != activities.SkipNoConsent {
		t.Errorf("no-consent member's send rows = %+v, want one skipped no_consent", rows)
	}
	if res.Counts["rewarded"] != 2 || res.Counts["sent"] != 1 || res.Counts["skipped:no_consent"] != 1 {
		t.Errorf("counts = %v", res.Counts)
	}
	e, err := f.store.GetEnrollment(context.Background(), "b-yes", journey.Birthday, 2026)
	if err != nil || e.Status != loyalty.EnrollmentCompleted || e.Definition == "" {
		t.Errorf("enrollment = %+v, %v; want completed with the definition pinned", e, err)
	}

	// The next hourly run overlaps the window: nothing more.
	g := newFixtureAt(t, true, morning.Add(90*time.Minute), nil)
	g.store, g.acts.Store = f.store, f.store
	g.acts.Ledger = f.acts.Ledger
	g.mailer = f.mailer
	g.acts.Mailer = f.mailer
	again := g.runScan(t, journey.Birthday)
	if len(f.mailer.sent) != 1 || couponsOf(t, f, "b-yes", "C15") != 1 || again.Counts["done_before"] != 2 {
		t.Errorf("second run: %d emails, %d coupons, counts %v", len(f.mailer.sent), couponsOf(t, f, "b-yes", "C15"), again.Counts)
	}
}

func couponsOf(t *testing.T, f *fixture, id, kind string) int {
	t.Helper()
	a, err := f.store.GetAccount(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range a.Coupons {
		if c.Kind == kind {
			n++
		}
	}
	return n
}

func TestCalendarScanDisabledDoesNothing(t *testing.T) {
	f := newFixtureAt(t, true, morning.Add(30*time.Minute), nil)
	birthdayMember(t, f, "b-yes", true, "1990-11-23")
	def := f.defs[journey.Birthday]
	def.Enabled = false
	f.env.ExecuteWorkflow(workflows.CalendarScan, workflows.CalendarScanInput{Definition: def})
	var res workflows.CalendarScanResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Batches != 0 || len(f.mailer.sent) != 0 {
		t.Errorf("disabled journey ran %d batches, sent %d", res.Batches, len(f.mailer.sent))
	}
}

// recordingStarter stands in for the Temporal client the scan activity
// starts deferral workflows with.
type recordingStarter struct {
	inputs []activities.DeferredSendInput
}

func (r *recordingStarter) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	r.inputs = append(r.inputs, args[0].(activities.DeferredSendInput))
	return nil, nil
}

func TestDeferredSendWaitsForTheSlot(t *testing.T) {
	// A calendar scan found the member's cap full: the birthday email is
	// handed to DeferredSend, which sleeps until the slot and sends once.
	starter := &recordingStarter{}
	f := newFixtureAt(t, true, morning.Add(30*time.Minute), func(a *activities.Activities) { a.Workflows = starter })
	birthdayMember(t, f, "b-yes", true, "1990-11-23")
	ctx := context.Background()
	full := contact.State{Contacts: []contact.Contact{
		{Key: "x#1", Journey: "winback", At: morning.Add(-6 * 24 * time.Hour)},
		{Key: "x#2", Journey: "winback", At: morning.Add(-5 * 24 * time.Hour)},
	}}
	if err := f.store.PutContact(ctx, "b-yes", full, 0); err != nil {
		t.Fatal(err)
	}
	res := f.runScan(t, journey.Birthday)
	if res.Counts["deferred"] != 1 || len(starter.inputs) != 1 || len(f.mailer.sent) != 0 {
		t.Fatalf("counts %v, deferrals %d, sent %d", res.Counts, len(starter.inputs), len(f.mailer.sent))
	}
	in := starter.inputs[0]
	if want := morning.Add(24*time.Hour - slack); !in.Until.Equal(want) {
		t.Errorf("deferred until %s, want %s (the oldest contact leaves the window)", in.Until, want)
	}

	// The deferral workflow, on a fresh environment sharing the store.
	g := newFixtureAt(t, true, morning.Add(31*time.Minute), nil)
	g.store, g.acts.Store, g.acts.Ledger = f.store, f.store, f.acts.Ledger
	g.env.ExecuteWorkflow(workflows.DeferredSend, in)
	var out activities.SendEmailResult
	if err := g.env.GetWorkflowResult(&out); err != nil {
		t.Fatal(err)
	}
	if out.Status != store.SendSent || len(g.mailer.sent) != 1 || g.mailer.sent[0].Template != "birthday_gift" {
		t.Fatalf("deferred send = %+v, sent %v", out, g.mailer.templates())
	}
	if at := g.sentAt()["birthday_gift"][0]; !at.Equal(in.Until) {
		t.Errorf("sent at %s, want %s", at, in.Until)
	}
}
