package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/internal/unsubscribe"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// engineFixture runs the one interpreter over the real activities, ledger,
// email catalog, CEL engine and journeys service on the in-memory store,
// with the shipped definitions published, on the test clock.
type engineFixture struct {
	env    *testsuite.TestWorkflowEnvironment
	store  *memstore.Store
	mailer *recordingMailer
	acts   *activities.Activities
	svc    *journeys.Service
	member string
}

func newEngineFixture(t *testing.T, consent bool, start time.Time) *engineFixture {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	f := &engineFixture{env: suite.NewTestWorkflowEnvironment(), store: memstore.New(), mailer: &recordingMailer{}, member: "m-1"}
	f.mailer.now = f.env.Now
	f.env.SetStartTime(start)
	ctx := context.Background()
	m := loyalty.Member{ID: f.member, Email: "lin@example.com", Name: "Lin", Consent: loyalty.Consent{EmailMarketing: consent}, RegisteredAt: start, Version: 1}
	if err := f.store.SaveMember(ctx, m, "evt-reg"); err != nil {
		t.Fatal(err)
	}
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	ldg := ledgerfix.Service(t, f.store)
	ldg.Now = f.env.Now
	eng, err := engine.New(ldg.Rules.Program)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = &journeys.Service{Store: f.store, Checks: journeys.NewChecks(ldg.Rules.Program, catalog, eng.Cond), Now: f.env.Now}
	if _, err := f.svc.PublishFiles(ctx, templates.Journeys, "journeys"); err != nil {
		t.Fatal(err)
	}
	links, err := unsubscribe.NewSigner([]byte("workflow-test-link-secret"))
	if err != nil {
		t.Fatal(err)
	}
	f.acts = &activities.Activities{Store: f.store, Ledger: ldg, Mailer: f.mailer, Templates: catalog,
		Links: links, PublicURL: "https://api.example.com",
		Brand: activities.Brand{Name: "Demo", ShopURL: "https://shop.example.com"}, Now: f.env.Now,
		Engine: eng, Journeys: f.svc}
	workflows.Register(f.env, f.acts)
	return f
}

// publish publishes a definition written in the test.
func (f *engineFixture) publish(t *testing.T, src string) journey.Definition {
	t.Helper()
	p, err := f.svc.Publish(context.Background(), []byte(src), "test")
	if err != nil {
		t.Fatal(err)
	}
	def, err := f.svc.Version(context.Background(), p.Name, p.Version)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// live is the live version of a shipped or published journey.
func (f *engineFixture) live(t *testing.T, name string) journey.Definition {
	t.Helper()
	st, err := f.store.GetJourney(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	def, err := f.svc.Version(context.Background(), name, st.Live)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// start records enrollment 1 as dispatch does and runs the interpreter
// for it to the end.
func (f *engineFixture) start(t *testing.T, def journey.Definition, event *events.Envelope) workflows.EnrollmentResult {
	t.Helper()
	ctx := context.Background()
	if _, _, err := f.store.StartEnrollment(ctx, loyalty.Enrollment{MemberID: f.member, Journey: def.Name, Number: 1, Version: def.Version,
		WorkflowID: workflows.JourneyWorkflowID(def.Name, f.member, 1), Status: loyalty.EnrollmentActive, StartedAt: f.env.Now(),
		Listen: engine.Listen(def)}); err != nil {
		t.Fatal(err)
	}
	in := workflows.JourneyInput{Definition: def, MemberID: f.member, Enrollment: 1}
	if event != nil {
		// As dispatch enrols: anchored at the moment the trigger occurred.
		in.Anchor = event.OccurredAt
		raw, err := json.Marshal(event)
		if err != nil {
			t.Fatal(err)
		}
		in.Event = raw
	}
	f.env.ExecuteWorkflow(workflows.Journey, in)
	if !f.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	var res workflows.EnrollmentResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// signal sends the enrollment an event at d after start, as dispatch
// does: exit says it ends it, gotoStep that it reaches the goal's step.
func (f *engineFixture) signal(d time.Duration, typ events.Type, exit, gotoStep string) {
	f.env.RegisterDelayedCallback(func() {
		ev := events.Envelope{ID: "evt-" + string(typ), Version: 1, Type: typ, OccurredAt: f.env.Now(), MemberID: f.member, Data: json.RawMessage(`{}`)}
		raw, _ := json.Marshal(ev)
		f.env.SignalWorkflow(workflows.SignalJourneyEvent, activities.JourneyEvent{ID: ev.ID, Type: string(typ), Event: raw, Exit: exit, Goto: gotoStep})
	}, d)
}

func (f *engineFixture) enrollment(t *testing.T, name string) loyalty.Enrollment {
	t.Helper()
	e, err := f.store.GetEnrollment(context.Background(), f.member, name, 1)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *engineFixture) timeline(t *testing.T) []store.TimelineEntry {
	t.Helper()
	es, _, err := f.store.ListTimeline(context.Background(), f.member, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// decisions lists the timeline oldest first as "kind step reason".
func (f *engineFixture) decisions(t *testing.T) []string {
	t.Helper()
	es := f.timeline(t)
	out := make([]string, 0, len(es))
	for i := len(es) - 1; i >= 0; i-- {
		out = append(out, strings.TrimSpace(es[i].Kind+" "+es[i].Step+" "+es[i].Reason))
	}
	return out
}

// ---- activation, as shipped ----

func TestJourneyActivationSendsAllThree(t *testing.T) {
	f := newEngineFixture(t, true, morning)
	start := f.env.Now()
	var ran []string
	f.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		ran = append(ran, info.ActivityType.Name)
	})
	res := f.start(t, f.live(t, "activation"), nil)
	// The last step's activity ends the enrollment: no FinishEnrollment,
	// one Temporal action less per enrollment.
	equal(t, "activities", ran, []string{"RunStep", "RunStep", "RunStep"})
	equal(t, "templates", f.mailer.templates(), []string{"activation_welcome", "activation_nudge", "activation_last_nudge"})
	if res.Status != loyalty.EnrollmentCompleted {
		t.Errorf("result = %+v, want completed", res)
	}
	if got, want := f.env.Now().Sub(start), 7*24*time.Hour; got < want || got > want+time.Minute {
		t.Errorf("journey took %s, want about %s", got, want)
	}
	if got := f.enrollment(t, "activation").Status; got != loyalty.EnrollmentCompleted {
		t.Errorf("enrollment status = %q", got)
	}
	sends, _ := f.store.ListSends(context.Background(), f.member)
	var keys []string
	for _, s := range sends {
		if s.Status != store.SendSent {
			t.Errorf("send %s status = %q, want sent", s.Key, s.Status)
		}
		keys = append(keys, s.Key)
	}
	equal(t, "send keys", keys, []string{"m-1#activation#1#welcome#2026", "m-1#activation#1#nudge#2026", "m-1#activation#1#last_nudge#2026"})
	if len(res.Rewards) != 1 || res.Rewards[0].Coupon == nil || res.Rewards[0].Coupon.Kind != "NEW8" || res.Rewards[0].Key != "m-1#activation#1#welcome#2026" {
		t.Fatalf("rewards = %+v, want one NEW8 under the welcome's key", res.Rewards)
	}
	if got := f.mailer.sent[0].Data["coupon_code"]; got != res.Rewards[0].Coupon.Code {
		t.Errorf("welcome names coupon %v, want %s", got, res.Rewards[0].Coupon.Code)
	}
	equal(t, "timeline", f.decisions(t), []string{
		"reward_granted welcome", "sent welcome", "sent nudge", "sent last_nudge", "completed end completed",
	})
	counters, err := f.store.JourneyCounters(context.Background(), "activation")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]int64{"ended": 1, "completed": 1, "edge:welcome>wait_nudge": 1, "edge:nudge>wait_last_nudge": 1} {
		if counters[k] != want {
			t.Errorf("counter %s = %d, want %d (%v)", k, counters[k], want, counters)
		}
	}
}

func TestJourneyExitEventMidDelayEndsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		orderAt   time.Duration
		templates []string
	}{
		{"order before the nudge", 26 * time.Hour, []string{"activation_welcome"}},
		{"order between nudges", 4 * 24 * time.Hour, []string{"activation_welcome", "activation_nudge"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newEngineFixture(t, true, morning)
			start := f.env.Now()
			f.signal(tc.orderAt, events.OrderPaid, activities.ReasonConverted, "")
			res := f.start(t, f.live(t, "activation"), nil)
			equal(t, "templates", f.mailer.templates(), tc.templates)
			if res.Status != loyalty.EnrollmentExited || res.Reason != activities.ReasonConverted {
				t.Errorf("result = %+v, want exited converted", res)
			}
			if got := f.env.Now().Sub(start) - tc.orderAt; got > time.Minute {
				t.Errorf("workflow ended %s after the order, want at once", got)
			}
			e := f.enrollment(t, "activation")
			if e.Status != loyalty.EnrollmentExited || e.Reason != activities.ReasonConverted {
				t.Errorf("enrollment = %s/%s, want exited/converted", e.Status, e.Reason)
			}
		})
	}
}

func TestJourneyOrderBeforeWelcomeStillWelcomes(t *testing.T) {
	f := newEngineFixture(t, true, morning)
	f.signal(0, events.OrderPaid, activities.ReasonConverted, "")
	res := f.start(t, f.live(t, "activation"), nil)
	equal(t, "templates", f.mailer.templates(), []string{"activation_welcome"})
	if res.Status != loyalty.EnrollmentExited || res.Reason != activities.ReasonConverted {
		t.Errorf("result = %+v", res)
	}
}

// A registration delivered late (a backlog, an import) still gets the
// whole journey: an event trigger's steps start when the member enters,
// not when the event occurred.
func TestJourneyLateRegistrationStillWelcomes(t *testing.T) {
	f := newEngineFixture(t, true, morning)
	reg := &events.Envelope{ID: "evt-reg", Version: 1, Type: events.MemberRegistered, MemberID: f.member,
		OccurredAt: morning.AddDate(0, 0, -90), Data: json.RawMessage(`{}`)}
	res := f.start(t, f.live(t, "activation"), reg)
	equal(t, "templates", f.mailer.templates(), []string{"activation_welcome", "activation_nudge", "activation_last_nudge"})
	if res.Status != loyalty.EnrollmentCompleted || len(res.Rewards) != 1 {
		t.Errorf("result = %+v, want completed with the welcome coupon", res)
	}
	for _, d := range f.decisions(t) {
		if strings.Contains(d, activities.SkipBeforeEnrollment) {
			t.Errorf("timeline has %q", d)
		}
	}
}

func TestJourneyActivationWithoutConsentSendsNothing(t *testing.T) {
	f := newEngineFixture(t, false, morning)
	res := f.start(t, f.live(t, "activation"), nil)
	equal(t, "templates", f.mailer.templates(), nil)
	if len(res.Sends) != 3 {
		t.Fatalf("%d send results, want 3", len(res.Sends))
	}
	for _, s := range res.Sends {
		if s.Status != store.SendSkipped || s.Reason != activities.SkipNoConsent {
			t.Errorf("send %s = %s/%s, want skipped/no_consent", s.Key, s.Status, s.Reason)
		}
	}
	if d := f.decisions(t); !slices.Contains(d, "skipped nudge no_consent") {
		t.Errorf("timeline %v lacks the skip with its reason", d)
	}
}

// The goal's check: an order the projection shows, whose event never
// reached the enrollment, ends it before the nudge.
func TestJourneyGoalCheckEndsOnAMissedOrder(t *testing.T) {
	f := newEngineFixture(t, true, morning)
	f.env.RegisterDelayedCallback(func() {
		ctx := context.Background()
		m, err := f.store.GetMember(ctx, f.member)
		if err != nil {
			t.Error(err)
			return
		}
		m.OrderCount, m.Version = 1, m.Version+1
		if err := f.store.SaveMember(ctx, m, "evt-order"); err != nil {
			t.Error(err)
		}
	}, time.Hour)
	res := f.start(t, f.live(t, "activation"), nil)
	equal(t, "templates", f.mailer.templates(), []string{"activation_welcome"})
	if res.Status != loyalty.EnrollmentExited || res.Reason != activities.ReasonConverted {
		t.Errorf("result = %+v", res)
	}
	if d := f.decisions(t); !slices.Contains(d, "goal_reached nudge check") {
		t.Errorf("timeline %v lacks the goal with its reason", d)
	}
}

func TestJourneyQuietHoursDeferWelcomeToNine(t *testing.T) {
	late := time.Date(2026, 11, 23, 22, 30, 0, 0, shanghai)
	f := newEngineFixture(t, true, late)
	f.start(t, f.live(t, "activation"), nil)
	at := f.sentAt()["activation_welcome"]
	if len(at) != 1 || !at[0].Equal(time.Date(2026, 11, 24, 9, 0, 0, 0, shanghai)) {
		t.Fatalf("welcome sent at %v, want 09:00 the next morning", at)
	}
	found := false
	for _, e := range f.timeline(t) {
		if e.Kind == "deferred" && e.Reason == "quiet_hours" && e.Until.Equal(at[0]) {
			found = true
		}
	}
	if !found {
		t.Errorf("timeline %v lacks the deferral until 09:00", f.decisions(t))
	}
}

func TestJourneyOrderDuringDeferralSendsNothing(t *testing.T) {
	late := time.Date(2026, 11, 23, 22, 30, 0, 0, shanghai)
	f := newEngineFixture(t, true, late)
	f.signal(time.Hour, events.OrderPaid, activities.ReasonConverted, "")
	res := f.start(t, f.live(t, "activation"), nil)
	equal(t, "templates", f.mailer.templates(), nil)
	if res.Status != loyalty.EnrollmentExited {
		t.Errorf("result = %+v", res)
	}
	// The deferred row is closed, and its slot given back.
	row, err := f.store.GetSend(context.Background(), f.member, "m-1#activation#1#welcome#2026")
	if err != nil || row.Status != store.SendSkipped || row.Reason != activities.SkipGoalReached {
		t.Errorf("welcome row = %+v, %v; want skipped goal_reached", row, err)
	}
	st, _, err := f.store.GetContact(context.Background(), f.member)
	if err != nil || len(st.Waiters) != 0 || len(st.Contacts) != 0 {
		t.Errorf("contact state after the exit = %+v, %v; want empty", st, err)
	}
}

// ---- trial, as shipped ----

func trialFixture(t *testing.T, consent bool, length time.Duration) (*engineFixture, time.Time) {
	t.Helper()
	f := newEngineFixture(t, consent, morning)
	ends := morning.Add(length)
	ctx := context.Background()
	env := events.Envelope{ID: "evt-trial", Version: 1, Type: events.SubscriptionTrialStarted, OccurredAt: morning, MemberID: f.member}
	data := &events.SubscriptionTrialStartedData{SubscriptionID: "sub-1", Plan: "svip", Price: decimalOf("9.9"), Currency: "CNY", TrialEndsAt: ends}
	if err := f.acts.Ledger.ApplyEvent(ctx, env, data); err != nil {
		t.Fatal(err)
	}
	return f, ends
}

func trialEvent(f *engineFixture) *events.Envelope {
	raw, _ := json.Marshal(map[string]any{"subscription_id": "sub-1", "plan": "svip", "price": "9.9", "currency": "CNY", "trial_ends_at": f.env.Now().Add(30 * 24 * time.Hour)})
	return &events.Envelope{ID: "evt-trial", Version: 1, Type: events.SubscriptionTrialStarted, OccurredAt: f.env.Now(), MemberID: f.member, Data: raw}
}

// convert applies a conversion to the ledger d after start and tells the
// enrollment, as dispatch does (the goal with goto: thanks).
func (f *engineFixture) convert(t *testing.T, d time.Duration) {
	f.env.RegisterDelayedCallback(func() {
		env := events.Envelope{ID: "evt-conv", Version: 1, Type: events.SubscriptionConverted, OccurredAt: f.env.Now(), MemberID: f.member}
		if err := f.acts.Ledger.ApplyEvent(context.Background(), env, &events.SubscriptionConvertedData{SubscriptionID: "sub-1", Plan: "svip", Price: decimalOf("199"), Currency: "CNY", PeriodEndsAt: f.env.Now().AddDate(1, 0, 0)}); err != nil {
			t.Error(err)
		}
	}, d)
	f.signal(d, events.SubscriptionConverted, "", "thanks")
}

func TestJourneyTrialLapsesWithRemindersAndOneOffer(t *testing.T) {
	f, ends := trialFixture(t, true, 30*24*time.Hour)
	res := f.start(t, f.live(t, "trial"), trialEvent(f))
	equal(t, "templates", f.mailer.templates(), []string{"trial_reminder", "trial_reminder", "trial_offer"})
	if res.Status != loyalty.EnrollmentCompleted || res.Reason != "lapsed" {
		t.Errorf("result = %+v, want completed lapsed", res)
	}
	at := f.sentAt()
	if r := at["trial_reminder"]; len(r) != 2 || !r[0].Equal(ends.AddDate(0, 0, -7)) || !r[1].Equal(ends.AddDate(0, 0, -1)) {
		t.Errorf("reminders at %v, want 7 days and 1 day before %v", r, ends)
	}
	if o := at["trial_offer"]; len(o) != 1 || !o[0].Equal(ends.Add(2*time.Hour)) {
		t.Errorf("offer at %v, want the end + 2h grace", o)
	}
	if d := f.sentData("trial_reminder"); d["days_left"] != "7" || d["trial_ends_on"] != ends.Format(time.DateOnly) || d["price"] != "199" || d["currency"] != "CNY" {
		t.Errorf("first reminder data = %v", d)
	}
}

func (f *engineFixture) sentData(template string) map[string]any {
	for _, m := range f.mailer.sent {
		if m.Template == template {
			return m.Data
		}
	}
	return nil
}

func TestJourneyTrialConversionThanksAtOnce(t *testing.T) {
	f, _ := trialFixture(t, true, 30*24*time.Hour)
	f.convert(t, 10*24*time.Hour)
	start := f.env.Now()
	res := f.start(t, f.live(t, "trial"), trialEvent(f))
	equal(t, "templates", f.mailer.templates(), []string{"trial_thanks"})
	if res.Status != loyalty.EnrollmentCompleted {
		t.Errorf("result = %+v", res)
	}
	if got := f.env.Now().Sub(start); got > 10*24*time.Hour+time.Minute {
		t.Errorf("ended %s after the start, want at the conversion (10 days)", got)
	}
	if d := f.sentData("trial_thanks"); d["renews_on"] != morning.AddDate(0, 0, 10).AddDate(1, 0, 0).Format(time.DateOnly) || d["tier_floor_name"] != "金卡" {
		t.Errorf("thanks data = %v", d)
	}
}

func TestJourneyTrialCancelGetsOfferThenConverts(t *testing.T) {
	f, _ := trialFixture(t, true, 30*24*time.Hour)
	f.signal(5*24*time.Hour, events.SubscriptionCancelled, "", "")
	f.convert(t, 8*24*time.Hour)
	f.start(t, f.live(t, "trial"), trialEvent(f))
	equal(t, "templates", f.mailer.templates(), []string{"trial_offer", "trial_thanks"})
}

func TestJourneyTrialShorterThanReminderSkipsIt(t *testing.T) {
	f, _ := trialFixture(t, true, 5*24*time.Hour)
	f.start(t, f.live(t, "trial"), trialEvent(f))
	equal(t, "templates", f.mailer.templates(), []string{"trial_reminder", "trial_offer"})
	if d := f.decisions(t); !slices.Contains(d, "skipped reminder_7d before_enrollment") {
		t.Errorf("timeline %v lacks the skipped 7-day reminder", d)
	}
}

// A conversion the account shows whose event never reached the
// enrollment: the check before the next email goes to the thank-you.
func TestJourneyTrialConversionWithoutSignal(t *testing.T) {
	f, _ := trialFixture(t, true, 30*24*time.Hour)
	f.env.RegisterDelayedCallback(func() {
		env := events.Envelope{ID: "evt-conv", Version: 1, Type: events.SubscriptionConverted, OccurredAt: f.env.Now(), MemberID: f.member}
		if err := f.acts.Ledger.ApplyEvent(context.Background(), env, &events.SubscriptionConvertedData{SubscriptionID: "sub-1", Plan: "svip", Price: decimalOf("199"), Currency: "CNY"}); err != nil {
			t.Error(err)
		}
	}, 10*24*time.Hour)
	f.start(t, f.live(t, "trial"), trialEvent(f))
	equal(t, "templates", f.mailer.templates(), []string{"trial_thanks"})
}

// ---- every step kind, on journeys written here ----

const kinds = `
name: kinds
priority: 30
trigger: { api: {} }
exit:
  - { event: member.unsubscribed }
steps:
  - id: ask
    wait: { event: order.paid, when: "event.data.amount >= 100", timeout: 2d, on_event: tier, on_timeout: timed_out }
  - id: timed_out
    update: { set: { lapsed_on: "now" }, add_tags: [quiet] }
    goto: end
  - id: tier
    branch:
      - { when: "member.order_count > 5", goto: vip }
      - { when: "member.order_count > 0", goto: ab }
  - id: vip
    send: { email: activation_nudge }
    goto: end
  - id: ab
    split: [ { weight: 50, goto: a }, { weight: 50, goto: b } ]
  - id: a
    reward: { coupon: FREE25 }
    goto: end
  - id: b
    reward: { points: 10 }
`

func orderEvent(f *engineFixture, amount string) activities.JourneyEvent {
	raw, _ := json.Marshal(map[string]any{"id": "evt-o-" + amount, "type": "order.paid", "occurred_at": f.env.Now(), "member_id": f.member, "version": 1,
		"data": map[string]any{"order_id": "o-" + amount, "amount": amount, "currency": "CNY", "lines": []any{map[string]any{"sku": "x", "category": "c", "quantity": 1, "amount": amount}},
			"payments": []any{map[string]any{"method": "card", "amount": amount}}}})
	return activities.JourneyEvent{ID: "evt-o-" + amount, Type: "order.paid", Event: raw}
}

func TestJourneyWaitBothExits(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		f := newEngineFixture(t, true, morning)
		def := f.publish(t, kinds)
		start := f.env.Now()
		res := f.start(t, def, nil)
		equal(t, "path", res.Path, []string{"ask", "timed_out"})
		if got := f.env.Now().Sub(start); got < 48*time.Hour || got > 48*time.Hour+time.Minute {
			t.Errorf("timed out after %s, want 2 days", got)
		}
		m, _ := f.store.GetMember(context.Background(), f.member)
		if m.Attributes["lapsed_on"] != morning.AddDate(0, 0, 2).Format(time.DateOnly) || !slices.Contains(m.Tags, "quiet") {
			t.Errorf("member after the update = %+v %v", m.Attributes, m.Tags)
		}
		if d := f.decisions(t); !slices.Contains(d, "wait ask timeout") || !slices.Contains(d, "updated timed_out") {
			t.Errorf("timeline %v", d)
		}
	})
	t.Run("event that matches, after one that does not", func(t *testing.T) {
		f := newEngineFixture(t, true, morning)
		def := f.publish(t, kinds)
		f.env.RegisterDelayedCallback(func() { f.env.SignalWorkflow(workflows.SignalJourneyEvent, orderEvent(f, "50.00")) }, time.Hour)
		f.env.RegisterDelayedCallback(func() { f.env.SignalWorkflow(workflows.SignalJourneyEvent, orderEvent(f, "150.00")) }, 2*time.Hour)
		// The branch reads the member's orders: give them two.
		m, _ := f.store.GetMember(context.Background(), f.member)
		m.OrderCount, m.Version = 2, m.Version+1
		if err := f.store.SaveMember(context.Background(), m, "evt-orders"); err != nil {
			t.Fatal(err)
		}
		res := f.start(t, def, nil)
		if len(res.Path) < 3 || res.Path[1] != "tier" || res.Path[2] != "ab" {
			t.Fatalf("path %v, want ask → tier → ab", res.Path)
		}
		var wait store.TimelineEntry
		for _, e := range f.timeline(t) {
			if e.Kind == "wait" {
				wait = e
			}
		}
		if wait.Reason != "event" || wait.Values["event.data.amount"] != "150.00" {
			t.Errorf("wait decision = %+v, want the 150.00 order with the value that decided", wait)
		}
	})
}

func TestJourneyBranchEveryCase(t *testing.T) {
	for _, tc := range []struct {
		orders int
		path   []string
	}{
		{6, []string{"ask", "tier", "vip"}},
		{0, []string{"ask", "tier"}}, // no case holds: the end
	} {
		t.Run(fmt.Sprint(tc.orders, " orders"), func(t *testing.T) {
			f := newEngineFixture(t, true, morning)
			def := f.publish(t, kinds)
			m, _ := f.store.GetMember(context.Background(), f.member)
			m.OrderCount, m.Version = tc.orders, m.Version+1
			if err := f.store.SaveMember(context.Background(), m, "evt-orders"); err != nil {
				t.Fatal(err)
			}
			f.env.RegisterDelayedCallback(func() { f.env.SignalWorkflow(workflows.SignalJourneyEvent, orderEvent(f, "150.00")) }, time.Hour)
			res := f.start(t, def, nil)
			equal(t, "path", res.Path, tc.path)
			var branch store.TimelineEntry
			for _, e := range f.timeline(t) {
				if e.Kind == "branch" {
					branch = e
				}
			}
			if branch.Values["member.order_count"] == nil {
				t.Errorf("branch decision %+v lacks the value that decided", branch)
			}
		})
	}
}

func TestJourneySplitIsStableOnReentry(t *testing.T) {
	f := newEngineFixture(t, true, morning)
	def := f.publish(t, kinds)
	step, _ := def.Step("ab")
	_, first := engine.Split(step, f.member, def.Name)
	m, _ := f.store.GetMember(context.Background(), f.member)
	m.OrderCount, m.Version = 1, m.Version+1
	if err := f.store.SaveMember(context.Background(), m, "evt-orders"); err != nil {
		t.Fatal(err)
	}
	f.env.RegisterDelayedCallback(func() { f.env.SignalWorkflow(workflows.SignalJourneyEvent, orderEvent(f, "150.00")) }, time.Hour)
	res := f.start(t, def, nil)
	if res.Path[len(res.Path)-1] != first {
		t.Errorf("path %v, want the split's stable path %s", res.Path, first)
	}
}

func TestJourneyExitEventMidWait(t *testing.T) {
	f := newEngineFixture(t, true, morning)
	def := f.publish(t, kinds)
	f.signal(3*time.Hour, events.MemberUnsubscribed, "member.unsubscribed", "")
	start := f.env.Now()
	res := f.start(t, def, nil)
	if res.Status != loyalty.EnrollmentExited || res.Reason != "member.unsubscribed" {
		t.Errorf("result = %+v", res)
	}
	if got := f.env.Now().Sub(start); got > 3*time.Hour+time.Minute {
		t.Errorf("ended %s after the start, want at the exit (3h)", got)
	}
}

// Pause holds a member before a send; resume sends it. Archive ends.
func TestJourneyPauseHoldsAndResumeSends(t *testing.T) {
	const src = `
name: paced
priority: 40
trigger: { api: {} }
steps:
  - id: first
    delay: { for: 1d }
  - id: hello
    send: { email: activation_nudge }
`
	f := newEngineFixture(t, true, morning)
	def := f.publish(t, src)
	ctx := context.Background()
	f.env.RegisterDelayedCallback(func() {
		if _, err := f.svc.Status(ctx, "paced", []journey.Status{journey.StatusLive}, journey.StatusPaused); err != nil {
			t.Error(err)
		}
	}, time.Hour)
	f.env.RegisterDelayedCallback(func() {
		held, _, err := f.store.ListHeldEnrollments(ctx, "paced", "", 10)
		if err != nil || len(held) != 1 {
			t.Errorf("held while paused = %v, %v; want the member", held, err)
		}
		if len(f.mailer.templates()) != 0 {
			t.Errorf("sent %v while paused", f.mailer.templates())
		}
		if _, err := f.svc.Status(ctx, "paced", []journey.Status{journey.StatusPaused}, journey.StatusLive); err != nil {
			t.Error(err)
		}
		f.env.SignalWorkflow(workflows.SignalJourneyResume, nil)
	}, 3*24*time.Hour)
	res := f.start(t, def, nil)
	equal(t, "templates", f.mailer.templates(), []string{"activation_nudge"})
	if res.Status != loyalty.EnrollmentCompleted {
		t.Errorf("result = %+v", res)
	}
	if at := f.sentAt()["activation_nudge"]; len(at) != 1 || at[0].Before(morning.AddDate(0, 0, 3)) {
		t.Errorf("sent at %v, want after the resume on day 3", at)
	}
	if held, _, _ := f.store.ListHeldEnrollments(ctx, "paced", "", 10); len(held) != 0 {
		t.Errorf("still held after the resume: %v", held)
	}
	if d := f.decisions(t); !slices.Contains(d, "held hello paused") {
		t.Errorf("timeline %v lacks the hold", d)
	}
}

func TestJourneyArchiveEndsInFlight(t *testing.T) {
	const src = `
name: paced
priority: 40
trigger: { api: {} }
steps:
  - id: first
    delay: { for: 1d }
  - id: hello
    send: { email: activation_nudge }
`
	f := newEngineFixture(t, true, morning)
	def := f.publish(t, src)
	f.env.RegisterDelayedCallback(func() {
		if _, err := f.svc.Status(context.Background(), "paced", []journey.Status{journey.StatusLive, journey.StatusPaused}, journey.StatusArchived); err != nil {
			t.Error(err)
		}
		f.env.SignalWorkflow(workflows.SignalJourneyEvent, activities.JourneyEvent{Exit: "archived"})
	}, time.Hour)
	res := f.start(t, def, nil)
	if res.Status != loyalty.EnrollmentExited || res.Reason != "archived" || len(f.mailer.templates()) != 0 {
		t.Errorf("result = %+v, sent %v", res, f.mailer.templates())
	}
	if e := f.enrollment(t, "paced"); e.Status != loyalty.EnrollmentExited || e.Reason != "archived" {
		t.Errorf("enrollment = %+v", e)
	}
}

// A version published mid-flight leaves the running enrollment on its own.
func TestJourneyVersionPublishedMidFlight(t *testing.T) {
	const v1 = `
name: paced
priority: 40
trigger: { api: {} }
steps:
  - id: first
    delay: { for: 1d }
  - id: hello
    send: { email: activation_nudge }
`
	f := newEngineFixture(t, true, morning)
	def := f.publish(t, v1)
	f.env.RegisterDelayedCallback(func() {
		p, err := f.svc.Publish(context.Background(), []byte(strings.Replace(v1, "activation_nudge", "activation_last_nudge", 1)), "test")
		if err != nil || p.Version != 2 || p.OnOlderVersions != 1 {
			t.Errorf("publish mid-flight = %+v, %v; want version 2 with one enrollment left on an older one", p, err)
		}
	}, time.Hour)
	if err := f.store.CountJourney(context.Background(), "paced", f.member, "enrolled-1", map[string]int64{store.CountEnrolled: 1}); err != nil {
		t.Fatal(err)
	}
	f.start(t, def, nil)
	equal(t, "templates", f.mailer.templates(), []string{"activation_nudge"})
}

func decimalOf(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// sentAt returns when each email went out (env clock), by template.
func (f *engineFixture) sentAt() map[string][]time.Time {
	f.mailer.mu.Lock()
	defer f.mailer.mu.Unlock()
	out := map[string][]time.Time{}
	for i, m := range f.mailer.sent {
		out[m.Template] = append(out[m.Template], f.mailer.at[i])
	}
	return out
}

// A goal reached while the last email waits for a slot still sends the
// member to the goal's step: the email is closed unsent and the journey
// goes on, rather than ending with the step the goal overtook.
func TestJourneyGoalDuringLastDeferredSendJumps(t *testing.T) {
	const src = `
name: deferred_goal
priority: 40
trigger: { api: {} }
goal: { event: order.paid, goto: thanks }
steps:
  - id: hello
    send: { email: activation_last_nudge }
    goto: end
  - id: thanks
    send: { email: activation_nudge }
`
	late := time.Date(2026, 11, 23, 22, 30, 0, 0, shanghai)
	f := newEngineFixture(t, true, late)
	def := f.publish(t, src)
	f.signal(time.Hour, events.OrderPaid, "", "thanks")
	res := f.start(t, def, nil)
	equal(t, "templates", f.mailer.templates(), []string{"activation_nudge"})
	equal(t, "path", res.Path, []string{"hello", "thanks"})
	if res.Status != loyalty.EnrollmentCompleted {
		t.Errorf("result = %+v, want completed", res)
	}
	row, err := f.store.GetSend(context.Background(), f.member, "m-1#deferred_goal#1#hello#2026")
	if err != nil || row.Status != store.SendSkipped || row.Reason != activities.SkipGoalReached {
		t.Errorf("hello row = %+v, %v; want skipped goal_reached", row, err)
	}
}

// A storefront whose clock runs ahead posts an event that occurred "in an
// hour": the member's welcome still goes when they enter.
func TestJourneyEventFromTheFutureStartsAtEntry(t *testing.T) {
	f := newEngineFixture(t, true, morning)
	reg := &events.Envelope{ID: "evt-reg", Version: 1, Type: events.MemberRegistered, MemberID: f.member,
		OccurredAt: morning.Add(time.Hour), Data: json.RawMessage(`{}`)}
	f.start(t, f.live(t, "activation"), reg)
	if at := f.sentAt()["activation_welcome"]; len(at) != 1 || !at[0].Equal(morning) {
		t.Errorf("welcome sent at %v, want at entry %v", at, morning)
	}
}
