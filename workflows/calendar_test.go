package workflows_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/contact"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/workflows"
)

func TestPlanPartitions(t *testing.T) {
	set := mustShipped(t)
	utc := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	// Each wanted day with a day either side (a member's local day is up
	// to 14 hours off UTC), sorted, no repeats; anything more is a scan of
	// members who cannot be due.
	for _, tc := range []struct {
		name    string
		journey string
		at      time.Time
		catchUp time.Duration
		want    []string
	}{
		// (26 Feb 03:00, 1 Mar 03:00]: 28 February of a common year also
		// scans 29 February birthdays.
		{"birthday, common-year 28 Feb", journey.Birthday, utc(2027, 2, 28, 3), 24 * time.Hour,
			[]string{"0226", "0227", "0228", "0229", "0301"}},
		// In a leap year 29 February is a day of its own: scanned on the
		// day, not with the 28th, nor three days early.
		{"birthday, leap-year 25 Feb", journey.Birthday, utc(2028, 2, 25, 3), time.Hour,
			[]string{"0224", "0225", "0226"}},
		{"birthday, leap-year 29 Feb", journey.Birthday, utc(2028, 2, 29, 3), time.Hour,
			[]string{"0228", "0229", "0301"}},
		{"birthday, common-year 25 Feb", journey.Birthday, utc(2027, 2, 25, 3), time.Hour,
			[]string{"0224", "0225", "0226"}},
		// Tier reviews 30, 7 and 1 days ahead of 23 November.
		{"tier reviews", journey.TierExpiry, utc(2026, 11, 23, 12), time.Hour,
			[]string{"2026-11-23", "2026-11-24", "2026-11-25", "2026-11-29", "2026-11-30", "2026-12-01", "2026-12-22", "2026-12-23", "2026-12-24"}},
		// Win-back: last orders 365, 120 and 60 days before 23 November.
		{"win-back", journey.Winback, utc(2026, 11, 23, 12), time.Hour,
			[]string{"2025-11-22", "2025-11-23", "2025-11-24", "2026-07-25", "2026-07-26", "2026-07-27", "2026-09-23", "2026-09-24", "2026-09-25"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := workflows.PlanPartitions(set[tc.journey], tc.at, tc.catchUp)
			if !slices.Equal(got, tc.want) {
				t.Errorf("partitions at %s (catch-up %s) = %v, want %v", tc.at.Format(time.RFC3339), tc.catchUp, got, tc.want)
			}
		})
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

// at returns a fixture on a fresh test environment starting at start that
// shares f's store, ledger and mailer: the next hourly run, or one months
// later.
func (f *fixture) at(t *testing.T, start time.Time) *fixture {
	t.Helper()
	g := newFixtureAt(t, true, start, nil)
	g.store, g.acts.Store = f.store, f.store
	g.acts.Ledger = f.acts.Ledger
	g.acts.Ledger.Now = g.env.Now
	g.mailer, g.acts.Mailer = f.mailer, f.mailer
	f.mailer.now = g.env.Now
	return g
}

// lapsedMember saves a member whose last order was at last, with an
// account.
func lapsedMember(t *testing.T, f *fixture, id string, last time.Time) {
	t.Helper()
	ledgerfix.PayByCard(t, f.acts.Ledger, id, "o-"+id, "300", last)
	m := loyalty.Member{ID: id, Email: id + "@example.com", Name: id, Timezone: "Asia/Shanghai",
		Consent: loyalty.Consent{EmailMarketing: true}, LastOrderAt: last, OrderCount: 1, Version: 1}
	if err := f.store.SaveMember(context.Background(), m, "reg-"+id); err != nil {
		t.Fatal(err)
	}
}

func TestCalendarScanWinbackStagesAndExit(t *testing.T) {
	last := time.Date(2026, 9, 24, 15, 0, 0, 0, shanghai) // 60 days before morning
	f := newFixtureAt(t, true, morning.Add(30*time.Minute), nil)
	lapsedMember(t, f, "w-1", last)
	lapsedMember(t, f, "w-2", last)
	res := f.runScan(t, journey.Winback)
	if res.Counts["entered"] != 2 || res.Counts["sent"] != 2 {
		t.Fatalf("day 60 counts = %v", res.Counts)
	}
	equal(t, "day 60 templates", f.mailer.templates(), []string{"winback_miss_you", "winback_miss_you"})
	number := 20260924
	if e, err := f.store.GetEnrollment(context.Background(), "w-1", journey.Winback, number); err != nil || e.Status != loyalty.EnrollmentActive {
		t.Fatalf("enrollment = %+v, %v", e, err)
	}

	// w-2 orders: dispatch's exit is the store write; the member also
	// leaves the last-order partition, so day 120 finds only w-1.
	if err := f.store.EndEnrollment(context.Background(), "w-2", journey.Winback, number, loyalty.EnrollmentExited, workflows.OutcomeConverted, morning); err != nil {
		t.Fatal(err)
	}
	m, _ := f.store.GetMember(context.Background(), "w-2")
	m.LastOrderAt, m.OrderCount, m.Version = morning.Add(24*time.Hour), 2, m.Version+1
	if err := f.store.SaveMember(context.Background(), m, "evt-order-w2"); err != nil {
		t.Fatal(err)
	}

	day120 := f.at(t, morning.Add(60*24*time.Hour+30*time.Minute))
	res = day120.runScan(t, journey.Winback)
	equal(t, "templates after day 120", f.mailer.templates(), []string{"winback_miss_you", "winback_miss_you", "winback_offer"})
	offer := f.mailer.sent[2]
	if offer.MemberID != "w-1" || offer.Data["boost_multiplier"] != "2" || offer.Data["coupon_code"] == "" {
		t.Errorf("day 120 email = %s %v", offer.MemberID, offer.Data)
	}
	if couponsOf(t, f, "w-1", "FREE25") != 1 || couponsOf(t, f, "w-2", "FREE25") != 0 {
		t.Errorf("FREE25: w-1 %d, w-2 %d; want 1 and 0", couponsOf(t, f, "w-1", "FREE25"), couponsOf(t, f, "w-2", "FREE25"))
	}

	day365 := f.at(t, last.AddDate(0, 0, 365).Add(-5*time.Hour+30*time.Minute)) // 10:30 local on day 365
	day365.runScan(t, journey.Winback)
	equal(t, "templates after day 365", f.mailer.templates(), []string{"winback_miss_you", "winback_miss_you", "winback_offer", "winback_last"})
	if e, _ := f.store.GetEnrollment(context.Background(), "w-1", journey.Winback, number); e.Status != loyalty.EnrollmentCompleted {
		t.Errorf("after the last message the enrollment is %s, want completed", e.Status)
	}
}

func TestCalendarScanTierExpiryWarnsOnlyWhoWouldFall(t *testing.T) {
	// Both reached 金卡 (V3, 500) with a second order on 2025-12-23, so
	// their review is on 2026-12-23; the first order (2025-10-01) has left
	// the growth window by then. "t-safe" ordered again since.
	f := newFixtureAt(t, true, morning.Add(30*time.Minute), nil)
	for _, id := range []string{"t-fall", "t-safe"} {
		m := loyalty.Member{ID: id, Email: id + "@example.com", Name: id, Timezone: "Asia/Shanghai", Consent: loyalty.Consent{EmailMarketing: true}, Version: 1}
		if err := f.store.SaveMember(context.Background(), m, "reg-"+id); err != nil {
			t.Fatal(err)
		}
		ledgerfix.PayByCard(t, f.acts.Ledger, id, "o1", "300", time.Date(2025, 10, 1, 12, 0, 0, 0, shanghai))
		ledgerfix.PayByCard(t, f.acts.Ledger, id, "o2", "300", time.Date(2025, 12, 23, 12, 0, 0, 0, shanghai))
	}
	ledgerfix.PayByCard(t, f.acts.Ledger, "t-safe", "o3", "300", morning.AddDate(0, 0, -10))
	// An enrollment left open by an earlier review date that has moved.
	if _, _, err := f.store.StartEnrollment(context.Background(), loyalty.Enrollment{MemberID: "t-fall", Journey: journey.TierExpiry, Number: 20261001, Status: loyalty.EnrollmentActive, StartedAt: morning}); err != nil {
		t.Fatal(err)
	}
	// The d30 step: 10:00 local, 30 days before the review day.
	g := f.at(t, time.Date(2026, 11, 23, 10, 30, 0, 0, shanghai))
	res := g.runScan(t, journey.TierExpiry)
	equal(t, "templates", f.mailer.templates(), []string{"tier_expiry_warning"})
	m := f.mailer.sent[0]
	if m.MemberID != "t-fall" || m.Data["tier_name"] != "金卡" || m.Data["fall_to_tier_name"] != "银卡" || m.Data["growth_needed"] != "200" || m.Data["days_left"] != "30" {
		t.Errorf("warning = %s %v", m.MemberID, m.Data)
	}
	if res.Counts["safe"] != 1 {
		t.Errorf("counts = %v, want t-safe counted safe", res.Counts)
	}
	if e, err := f.store.GetEnrollment(context.Background(), "t-fall", journey.TierExpiry, 20261001); err != nil || e.Status != loyalty.EnrollmentExited || e.Reason != "review_moved" {
		t.Errorf("the moved review's enrollment = %+v, %v; want exited review_moved", e, err)
	}
	// A later run in the window warns nobody again.
	f.at(t, time.Date(2026, 11, 23, 11, 30, 0, 0, shanghai)).runScan(t, journey.TierExpiry)
	if n := len(f.mailer.sent); n != 1 {
		t.Errorf("%d warnings after a second run, want 1", n)
	}
}

// A marketer moves win-back's second step from day 120 to day 90 after a
// member entered: the member's enrollment keeps its pinned day 120 — the
// scan plans the retired definition's partitions too, without which the
// member's last-order day would not be read at all.
func TestCalendarScanWinbackKeepsPinnedTiming(t *testing.T) {
	last := time.Date(2026, 9, 24, 15, 0, 0, 0, shanghai) // 60 days before morning
	f := newFixtureAt(t, true, morning.Add(30*time.Minute), nil)
	lapsedMember(t, f, "w-old", last)
	f.runScan(t, journey.Winback) // w-old enters on the shipped definition

	edited := f.defs.Clone()[journey.Winback]
	edited.Version++
	for i := range edited.Steps {
		if edited.Steps[i].Name == "d120" {
			edited.Steps[i].After = journey.Duration(90 * 24 * time.Hour)
		}
	}
	scan := func(g *fixture) workflows.CalendarScanResult {
		t.Helper()
		g.env.ExecuteWorkflow(workflows.CalendarScan, workflows.CalendarScanInput{
			Definition: edited, Retired: []journey.Definition{f.defs[journey.Winback]}, CatchUp: 24 * time.Hour, PageSize: 10,
		})
		var res workflows.CalendarScanResult
		if err := g.env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Day 90 of w-old: the edited step is not theirs.
	scan(f.at(t, morning.Add(30*24*time.Hour+30*time.Minute)))
	equal(t, "after day 90", f.mailer.templates(), []string{"winback_miss_you"})
	// Day 120 of w-old: their pinned step.
	scan(f.at(t, morning.Add(60*24*time.Hour+30*time.Minute)))
	equal(t, "after day 120", f.mailer.templates(), []string{"winback_miss_you", "winback_offer"})
}
