package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/workflows"
)

// scanRunner stands in for workflows.Runner: the scans under test start
// Journey workflows through it.
type scanRunner struct{ starts []journeys.Start }

func (r *scanRunner) StartEnrollment(_ context.Context, s journeys.Start) error {
	r.starts = append(r.starts, s)
	return nil
}

func (r *scanRunner) SignalEnrollment(context.Context, string, journeys.Signal) error { return nil }

// deferralStarter records the deferral workflows the scan starts.
type deferralStarter struct {
	inputs []activities.JourneyDeferredStepInput
}

func (d *deferralStarter) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if wf != activities.JourneyDeferredStepWorkflow {
		return nil, fmt.Errorf("unexpected workflow %v", wf)
	}
	d.inputs = append(d.inputs, args[0].(activities.JourneyDeferredStepInput))
	return nil, nil
}

// newScanFixture is the engine fixture with an enroller, at start.
func newScanFixture(t *testing.T, start time.Time) *engineFixture {
	t.Helper()
	f := newEngineFixture(t, true, start)
	f.acts.Enroller = &journeys.Enroller{Store: f.store, Engine: f.acts.Engine, Runner: &scanRunner{}, Now: f.env.Now}
	return f
}

// later is a fresh test environment starting at start over f's store,
// ledger, journeys and mailer: the next hourly run, or a deferral's
// workflow.
func (f *engineFixture) later(t *testing.T, start time.Time) *engineFixture {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	g := *f
	g.env = suite.NewTestWorkflowEnvironment()
	g.env.SetStartTime(start)
	acts := *f.acts
	g.acts = &acts
	g.acts.Now = g.env.Now
	g.acts.Ledger.Now = g.env.Now
	g.svc.Now = g.env.Now
	g.mailer.now = g.env.Now
	g.acts.Enroller = &journeys.Enroller{Store: f.store, Engine: f.acts.Engine, Runner: &scanRunner{}, Now: g.env.Now}
	workflows.Register(g.env, g.acts)
	return &g
}

func (f *engineFixture) journeyScan(t *testing.T, in workflows.JourneyScanInput) workflows.JourneyScanResult {
	t.Helper()
	f.env.ExecuteWorkflow(workflows.JourneyScan, in)
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatalf("scan failed: %v", err)
	}
	var res workflows.JourneyScanResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// celebrate registers a member with a birthday on 23 November (Shanghai),
// set long ago, and an account (one order).
func celebrate(t *testing.T, f *engineFixture, id string, consent bool) {
	t.Helper()
	m := loyalty.Member{ID: id, Email: id + "@example.com", Name: id, Birthday: "1990-11-23", BirthdaySetAt: morning.AddDate(-1, 0, 0),
		Timezone: "Asia/Shanghai", Consent: loyalty.Consent{EmailMarketing: consent}, Version: 1}
	if err := f.store.SaveMember(context.Background(), m, "reg-"+id); err != nil {
		t.Fatal(err)
	}
	ledgerfix.PayByCard(t, f.acts.Ledger, id, "o-"+id, "300", morning.AddDate(0, -2, 0))
}

func TestJourneyScanBirthdayInBatches(t *testing.T) {
	// 10:30 on 23 November in Shanghai: the 10:00 step is due.
	f := newScanFixture(t, morning.Add(30*time.Minute))
	celebrate(t, f, "b-yes", true)
	celebrate(t, f, "b-no", false)
	res := f.journeyScan(t, workflows.JourneyScanInput{Journey: "birthday", PageSize: 2, MaxMembers: 2})
	if res.Batches < 2 || res.Scanned != 2 || !slices.Contains(res.Partitions, "birthday:1123") {
		t.Errorf("result = %+v, want two members in several batches", res)
	}
	equal(t, "templates", f.mailer.templates(), []string{"birthday_gift"})
	if m := f.mailer.sent[0]; m.MemberID != "b-yes" || m.Data["birthday_multiplier"] != "2" || m.Data["tier_name"] != "银卡" || m.Data["coupon_code"] == "" {
		t.Errorf("birthday email = %s %v", m.MemberID, m.Data)
	}
	if res.Counts["rewarded"] != 2 || res.Counts["sent"] != 1 || res.Counts["skipped:no_consent"] != 1 || res.Counts["completed"] != 2 {
		t.Errorf("counts = %v", res.Counts)
	}
	for _, id := range []string{"b-yes", "b-no"} {
		e, err := f.store.GetEnrollment(context.Background(), id, "birthday", 2026)
		if err != nil || e.Status != loyalty.EnrollmentCompleted || e.Version == 0 || e.WorkflowID != "" {
			t.Errorf("%s enrollment = %+v, %v; want completed, pinned, without a workflow", id, e, err)
		}
	}

	// The next hourly run overlaps the window: nothing more.
	again := f.later(t, morning.Add(90*time.Minute)).journeyScan(t, workflows.JourneyScanInput{Journey: "birthday"})
	if len(f.mailer.sent) != 1 || again.Counts["done_before"] != 2 || again.Counts["rewarded"] != 0 {
		t.Errorf("second run: %d emails, counts %v", len(f.mailer.sent), again.Counts)
	}
}

// A long run continues as new with its plan and cursor, so its history
// stays bounded.
func TestJourneyScanContinuesAsNew(t *testing.T) {
	f := newScanFixture(t, morning.Add(-30*time.Minute)) // 09:30: nobody is due yet
	for i := range 201 {
		m := loyalty.Member{ID: fmt.Sprintf("b-%03d", i), Name: "b", Birthday: "1990-11-23", Timezone: "Asia/Shanghai", Version: 1}
		if err := f.store.SaveMember(context.Background(), m, "reg-"+m.ID); err != nil {
			t.Fatal(err)
		}
	}
	f.env.ExecuteWorkflow(workflows.JourneyScan, workflows.JourneyScanInput{Journey: "birthday", PageSize: 1, MaxMembers: 1})
	var can *workflow.ContinueAsNewError
	if err := f.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("error = %v, want continue-as-new", err)
	}
	var next workflows.JourneyScanInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Journey != "birthday" || next.Plan == nil || !slices.Contains(next.Plan.Partitions, "birthday:1123") || next.At.IsZero() ||
		next.Cursor.After != "b-199" || next.Plan.Partitions[next.Cursor.Partition] != "birthday:1123" {
		t.Errorf("continued with %+v", next)
	}
	if len(f.mailer.sent) != 0 {
		t.Errorf("%d emails before the step's time", len(f.mailer.sent))
	}
}

// A paused journey's scan takes nobody in; archived, it plans nothing.
func TestJourneyScanPausedAndArchived(t *testing.T) {
	f := newScanFixture(t, morning.Add(30*time.Minute))
	celebrate(t, f, "b-yes", true)
	if _, err := f.svc.Status(context.Background(), "birthday", []journey.Status{journey.StatusLive}, journey.StatusPaused); err != nil {
		t.Fatal(err)
	}
	res := f.journeyScan(t, workflows.JourneyScanInput{Journey: "birthday"})
	if len(f.mailer.sent) != 0 || res.Counts["paused"] != 1 || slices.Contains(res.Partitions, "held") {
		t.Errorf("paused: %d emails, result %+v", len(f.mailer.sent), res)
	}
	if es, _ := f.store.ListEnrollments(context.Background(), "b-yes"); len(es) != 0 {
		t.Errorf("paused journey enrolled %+v", es)
	}
	g := f.later(t, morning.Add(90*time.Minute))
	if _, err := g.svc.Status(context.Background(), "birthday", []journey.Status{journey.StatusPaused}, journey.StatusArchived); err != nil {
		t.Fatal(err)
	}
	if res := g.journeyScan(t, workflows.JourneyScanInput{Journey: "birthday"}); len(res.Partitions) != 0 || res.Batches != 0 {
		t.Errorf("archived: %+v", res)
	}
}

func TestJourneyDeferredStepWaitsForTheSlot(t *testing.T) {
	// The member's cap is full: the scan hands the birthday step to
	// JourneyDeferredStep, which sleeps until the slot and runs it once.
	f := newScanFixture(t, morning.Add(30*time.Minute))
	starter := &deferralStarter{}
	f.acts.Workflows = starter
	celebrate(t, f, "b-yes", true)
	full := contact.State{Contacts: []contact.Contact{
		{Key: "x#1", Journey: "winback", At: morning.Add(-6 * 24 * time.Hour)},
		{Key: "x#2", Journey: "winback", At: morning.Add(-5 * 24 * time.Hour)},
	}}
	if err := f.store.PutContact(context.Background(), "b-yes", full, 0); err != nil {
		t.Fatal(err)
	}
	res := f.journeyScan(t, workflows.JourneyScanInput{Journey: "birthday"})
	if res.Counts["deferred"] != 1 || len(starter.inputs) != 1 || len(f.mailer.sent) != 0 {
		t.Fatalf("counts %v, deferrals %d, sent %d", res.Counts, len(starter.inputs), len(f.mailer.sent))
	}
	in := starter.inputs[0]
	if want := morning.Add(24*time.Hour - slack); !in.Until.Equal(want) {
		t.Errorf("deferred until %s, want %s (the oldest contact leaves the window)", in.Until, want)
	}
	if e, _ := f.store.GetEnrollment(context.Background(), "b-yes", "birthday", 2026); e.Status != loyalty.EnrollmentActive {
		t.Errorf("enrollment = %+v, want active while its last step waits", e)
	}

	g := f.later(t, morning.Add(31*time.Minute))
	g.env.ExecuteWorkflow(workflows.JourneyDeferredStep, in)
	if err := g.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var out activities.StepResult
	if err := g.env.GetWorkflowResult(&out); err != nil {
		t.Fatal(err)
	}
	if out.Send == nil || out.Send.Status != store.SendSent || len(f.mailer.sent) != 1 || f.mailer.sent[0].Template != "birthday_gift" {
		t.Fatalf("deferred step = %+v, sent %v", out, f.mailer.templates())
	}
	if at := f.mailer.at[0]; !at.Equal(in.Until) {
		t.Errorf("sent at %s, want %s", at, in.Until)
	}
	if e, _ := f.store.GetEnrollment(context.Background(), "b-yes", "birthday", 2026); e.Status != loyalty.EnrollmentCompleted {
		t.Errorf("enrollment after the deferred last step = %+v, want completed", e)
	}
	if cps := couponsOfMember(t, f, "b-yes"); cps != 1 {
		t.Errorf("%d coupons, want the one gift", cps)
	}
	// A later scan in the window finds the step handed over.
	again := f.later(t, morning.Add(90*time.Minute)).journeyScan(t, workflows.JourneyScanInput{Journey: "birthday"})
	if len(f.mailer.sent) != 1 || again.Counts["done_before"] != 1 {
		t.Errorf("after the deferral: %d emails, counts %v", len(f.mailer.sent), again.Counts)
	}
}

func couponsOfMember(t *testing.T, f *engineFixture, id string) int {
	t.Helper()
	a, err := f.store.GetAccount(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return len(a.Coupons)
}

// A date journey that is not calendar-runnable starts one Journey
// workflow per entrant, anchored at the trigger's moment.
func TestJourneyScanStartsJourneyWorkflows(t *testing.T) {
	f := newScanFixture(t, morning.Add(90*time.Minute))
	def := f.publish(t, `name: registration_week
priority: 20
trigger:
  date: { attribute: registered_at, offset: 7d, at: "11:00" }
steps:
  - id: check
    branch:
      - { when: "member.consent.email_marketing", goto: hello }
      - { goto: end }
  - id: hello
    send: { email: activation_nudge }
`)
	registered := morning.AddDate(0, 0, -7)
	m := loyalty.Member{ID: "r-1", Email: "r-1@example.com", Name: "r", RegisteredAt: registered, Timezone: "Asia/Shanghai", Version: 1}
	if err := f.store.SaveMember(context.Background(), m, "reg-r-1"); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetMemberDate(context.Background(), "r-1", "registered_at", registered.UTC().Format(time.DateOnly)); err != nil {
		t.Fatal(err)
	}
	res := f.journeyScan(t, workflows.JourneyScanInput{Journey: "registration_week"})
	runner := f.acts.Enroller.Runner.(*scanRunner)
	if res.Counts["entered"] != 1 || len(runner.starts) != 1 {
		t.Fatalf("counts %v, starts %+v", res.Counts, runner.starts)
	}
	s := runner.starts[0]
	if want := morning.Add(time.Hour); s.WorkflowID != workflows.JourneyWorkflowID("registration_week", "r-1", 20261116) || !s.Anchor.Equal(want) || s.Definition.Version != def.Version {
		t.Errorf("start = %+v, want anchored at %s", s, want)
	}
}

// ---- schedules ----

// fakeSchedules is the schedule client as Temporal answers it: Create
// refuses an existing ID, Update applies the caller's change to what is
// stored, List and Delete work on the stored set.
type fakeSchedules struct {
	client.ScheduleClient
	stored  map[string]client.ScheduleOptions
	created []string
	updated []string
	deleted []string
}

// temporalSchedules is the Temporal client's side EnsureJourneySchedules uses.
type temporalSchedules struct{ f *fakeSchedules }

func (t temporalSchedules) ScheduleClient() client.ScheduleClient { return t.f }

func (f *fakeSchedules) Create(_ context.Context, o client.ScheduleOptions) (client.ScheduleHandle, error) {
	if _, ok := f.stored[o.ID]; ok {
		return nil, temporal.ErrScheduleAlreadyRunning
	}
	f.stored[o.ID] = o
	f.created = append(f.created, o.ID)
	return &fakeHandle{f: f, id: o.ID}, nil
}

func (f *fakeSchedules) GetHandle(_ context.Context, id string) client.ScheduleHandle {
	return &fakeHandle{f: f, id: id}
}

func (f *fakeSchedules) List(context.Context, client.ScheduleListOptions) (client.ScheduleListIterator, error) {
	var ids []string
	for id := range f.stored {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return &fakeList{ids: ids}, nil
}

type fakeList struct{ ids []string }

func (l *fakeList) HasNext() bool { return len(l.ids) > 0 }

func (l *fakeList) Next() (*client.ScheduleListEntry, error) {
	id := l.ids[0]
	l.ids = l.ids[1:]
	return &client.ScheduleListEntry{ID: id}, nil
}

type fakeHandle struct {
	client.ScheduleHandle
	f  *fakeSchedules
	id string
}

func (h *fakeHandle) GetID() string { return h.id }

func (h *fakeHandle) Delete(context.Context) error {
	delete(h.f.stored, h.id)
	h.f.deleted = append(h.f.deleted, h.id)
	return nil
}

func (h *fakeHandle) Update(_ context.Context, o client.ScheduleUpdateOptions) error {
	cur := h.f.stored[h.id]
	spec := cur.Spec
	u, err := o.DoUpdate(client.ScheduleUpdateInput{Description: client.ScheduleDescription{Schedule: client.Schedule{
		Action: cur.Action, Spec: &spec, Policy: &client.SchedulePolicies{Overlap: cur.Overlap}, State: &client.ScheduleState{Paused: cur.Paused},
	}}})
	if err != nil {
		return err
	}
	s := u.Schedule
	cur.Action, cur.Spec, cur.Overlap = s.Action, *s.Spec, s.Policy.Overlap
	h.f.stored[h.id] = cur
	h.f.updated = append(h.f.updated, h.id)
	return nil
}

func liveJourney(name string, status journey.Status, trigger journey.Trigger) journeys.Live {
	return journeys.Live{State: store.JourneyState{Name: name, Status: status, Live: 1}, Definition: journey.Definition{Name: name, Version: 1, Trigger: trigger}}
}

func TestEnsureJourneySchedules(t *testing.T) {
	ctx := context.Background()
	old := client.ScheduleOptions{ID: workflows.JourneyScanScheduleID("tier_expiry"), Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 3 * time.Hour}}},
		Action: &client.ScheduleWorkflowAction{ID: "scan/tier_expiry", Workflow: "JourneyScan", Args: []any{"stale"}}}
	sc := &fakeSchedules{stored: map[string]client.ScheduleOptions{
		old.ID:                                   old,
		workflows.CalendarScheduleID("birthday"): {ID: workflows.CalendarScheduleID("birthday")},
		workflows.JourneyScanScheduleID("retired"): {ID: workflows.JourneyScanScheduleID("retired")},
		workflows.BroadcastScheduleID("gone"):      {ID: workflows.BroadcastScheduleID("gone")},
		workflows.SweepScheduleID:                  {ID: workflows.SweepScheduleID},
		// Once a date journey, now an event journey.
		workflows.JourneyScanScheduleID("activation"): {ID: workflows.JourneyScanScheduleID("activation")},
	}}
	live := []journeys.Live{
		liveJourney("birthday", journey.StatusLive, journey.Trigger{Date: &journey.DateRule{Attribute: "birthday", At: "10:00"}}),
		liveJourney("winback", journey.StatusLive, journey.Trigger{Inactivity: &journey.Inactivity{Event: "order.paid", For: journey.Duration(60 * journey.Day)}}),
		liveJourney("tier_expiry", journey.StatusPaused, journey.Trigger{Date: &journey.DateRule{Attribute: "tier_review_on", Offset: journey.Duration(-30 * journey.Day)}}),
		liveJourney("activation", journey.StatusLive, journey.Trigger{Event: "member.registered"}),
		liveJourney("member_day", journey.StatusLive, journey.Trigger{Broadcast: &journey.Broadcast{At: "10:00", Every: "month", Day: 8}}),
		liveJourney("monday", journey.StatusLive, journey.Trigger{Broadcast: &journey.Broadcast{At: "09:30", Every: "week", Weekday: "monday"}}),
		liveJourney("daily", journey.StatusLive, journey.Trigger{Broadcast: &journey.Broadcast{At: "08:15", Every: "day"}}),
		liveJourney("xmas", journey.StatusLive, journey.Trigger{Broadcast: &journey.Broadcast{At: "08:00", Every: "once", Date: "2026-12-24"}}),
	}
	if err := workflows.EnsureJourneySchedules(ctx, temporalSchedules{sc}, "memberflow-test", live, time.Hour, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id := range sc.stored {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	equal(t, "schedules", ids, []string{"broadcast/daily", "broadcast/member_day", "broadcast/monday", "broadcast/xmas", "ledger-sweep", "scan/birthday", "scan/tier_expiry", "scan/winback"})
	equal(t, "updated", sc.updated, []string{"scan/tier_expiry"})
	slices.Sort(sc.deleted)
	equal(t, "deleted", sc.deleted, []string{"broadcast/gone", "journey-birthday", "scan/activation", "scan/retired"})

	for _, name := range []string{"birthday", "winback", "tier_expiry"} {
		o := sc.stored["scan/"+name]
		if len(o.Spec.Intervals) != 1 || o.Spec.Intervals[0].Every != time.Hour || o.Spec.Jitter != 5*time.Minute || o.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP {
			t.Errorf("%s: spec %+v, overlap %v", name, o.Spec, o.Overlap)
		}
		a, ok := o.Action.(*client.ScheduleWorkflowAction)
		if !ok || a.ID != "scan/"+name || a.Workflow != workflows.JourneyScanWorkflow || a.TaskQueue != "memberflow-test" || len(a.Args) != 1 {
			t.Fatalf("%s: action %+v", name, o.Action)
		}
		if in, ok := a.Args[0].(workflows.JourneyScanInput); !ok || in.Journey != name || in.CatchUp != 24*time.Hour || in.Plan != nil {
			t.Errorf("%s: input %+v", name, a.Args[0])
		}
	}
	day := func(n int) []client.ScheduleRange { return []client.ScheduleRange{{Start: n}} }
	for _, tc := range []struct {
		id   string
		want client.ScheduleCalendarSpec
	}{
		{"broadcast/member_day", client.ScheduleCalendarSpec{Hour: day(10), Minute: day(0), Second: day(0), DayOfMonth: day(8)}},
		{"broadcast/monday", client.ScheduleCalendarSpec{Hour: day(9), Minute: day(30), Second: day(0), DayOfWeek: day(1)}},
		{"broadcast/daily", client.ScheduleCalendarSpec{Hour: day(8), Minute: day(15), Second: day(0)}},
		{"broadcast/xmas", client.ScheduleCalendarSpec{Hour: day(8), Minute: day(0), Second: day(0), Year: day(2026), Month: day(12), DayOfMonth: day(24)}},
	} {
		o := sc.stored[tc.id]
		if o.Spec.TimeZoneName != "Pacific/Kiritimati" || len(o.Spec.Calendars) != 1 || len(o.Spec.Intervals) != 0 {
			t.Errorf("%s: spec %+v", tc.id, o.Spec)
			continue
		}
		if got := fmt.Sprintf("%+v", o.Spec.Calendars[0]); got != fmt.Sprintf("%+v", tc.want) {
			t.Errorf("%s: calendar %s, want %s", tc.id, got, fmt.Sprintf("%+v", tc.want))
		}
		if a := o.Action.(*client.ScheduleWorkflowAction); a.Workflow != workflows.JourneyScanWorkflow || a.Args[0].(workflows.JourneyScanInput).Journey != strings.TrimPrefix(tc.id, "broadcast/") {
			t.Errorf("%s: action %+v", tc.id, a)
		}
	}

	// The set changes: member_day is archived (it leaves the live set),
	// birthday's definition becomes a broadcast.
	live = slices.DeleteFunc(live, func(l journeys.Live) bool { return l.Definition.Name == "member_day" })
	live[0] = liveJourney("birthday", journey.StatusLive, journey.Trigger{Broadcast: &journey.Broadcast{At: "10:00", Every: "day"}})
	sc.created, sc.updated, sc.deleted = nil, nil, nil
	if err := workflows.EnsureJourneySchedules(ctx, temporalSchedules{sc}, "memberflow-test", live, time.Hour, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	slices.Sort(sc.deleted)
	equal(t, "deleted after the change", sc.deleted, []string{"broadcast/member_day", "scan/birthday"})
	equal(t, "created after the change", sc.created, []string{"broadcast/birthday"})
}

func TestBroadcastSpecRefusesWhatItCannotSchedule(t *testing.T) {
	for _, b := range []journey.Broadcast{
		{At: "25:00", Every: "day"},
		{At: "10:00", Every: "week", Weekday: "someday"},
		{At: "10:00", Every: "once", Date: "tomorrow"},
		{At: "10:00", Every: "fortnight"},
	} {
		if _, err := workflows.BroadcastSpec(b); err == nil {
			t.Errorf("%+v scheduled", b)
		}
	}
}
