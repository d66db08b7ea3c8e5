package workflows_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/contact"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/workflows"
)

// ---- contact policy inside a journey ----

// slack is how much early a contact leaves the seven-day window.
var slack = contact.Default().Slack

func TestActivationQuietHoursDeferWelcomeToNine(t *testing.T) {
	// Registered at 22:30 Shanghai: the welcome waits for 09:00; the
	// nudges fall at 22:30 on days 3 and 7 and wait for 09:00 too.
	start := time.Date(2026, 11, 23, 22, 30, 0, 0, shanghai)
	f := newFixtureAt(t, true, start, nil)
	res := f.run(t)
	at := f.sentAt()
	if got, want := at["activation_welcome"], []time.Time{time.Date(2026, 11, 24, 9, 0, 0, 0, shanghai)}; !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("welcome sent at %v, want %v", got, want)
	}
	if got, want := at["activation_nudge"], []time.Time{time.Date(2026, 11, 27, 9, 0, 0, 0, shanghai)}; !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("nudge sent at %v, want %v (day 3 at 22:30 deferred to 09:00)", got, want)
	}
	// The coupon is not held back by quiet hours: rewards are not contacts.
	if len(res.Rewards) != 1 || res.Rewards[0].Coupon == nil {
		t.Errorf("rewards = %+v", res.Rewards)
	}
	if res.Outcome != workflows.OutcomeCompleted {
		t.Errorf("outcome = %s", res.Outcome)
	}
}

// fillContacts gives the member two recent marketing emails from other
// journeys, so the frequency cap is reached until the older leaves the
// seven-day window.
func fillContacts(t *testing.T, f *fixture, at ...time.Time) {
	t.Helper()
	st := contact.State{}
	for i, a := range at {
		st.Contacts = append(st.Contacts, contact.Contact{Key: "other#" + string(rune('a'+i)), Journey: "birthday", At: a})
	}
	_, v, err := f.store.GetContact(context.Background(), "m-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutContact(context.Background(), "m-1", st, v); err != nil {
		t.Fatal(err)
	}
}

func TestActivationCappedNudgeIsDeferredNotDropped(t *testing.T) {
	f := newFixture(t, true)
	// Another journey emails the member on day 1 at 11:00. With the
	// welcome (day 0, 10:00) that fills the two slots, so the day-3 nudge
	// waits until the welcome leaves the window on day 7 at 10:00 — inside
	// its 4-day deadline.
	f.env.RegisterDelayedCallback(func() {
		st, v, err := f.store.GetContact(context.Background(), "m-1")
		if err != nil {
			t.Error(err)
			return
		}
		st.Contacts = append(st.Contacts, contact.Contact{Key: "other#a", Journey: "birthday", At: f.env.Now()})
		if err := f.store.PutContact(context.Background(), "m-1", st, v); err != nil {
			t.Error(err)
		}
	}, 25*time.Hour)
	res := f.run(t)
	at := f.sentAt()
	want := morning.Add(7*24*time.Hour - slack) // the welcome leaves the window
	if got := at["activation_nudge"]; len(got) != 1 || !got[0].Equal(want) {
		t.Errorf("nudge sent at %v, want once at %s (deferred, not dropped)", got, want)
	}
	// The last nudge (day 7) competes with the deferred nudge for slots:
	// the next one opens when the day-1 email leaves, on day 8 at 11:00.
	if got := at["activation_last_nudge"]; len(got) != 1 || !got[0].Equal(morning.Add(8*24*time.Hour+time.Hour-slack)) {
		t.Errorf("last nudge sent at %v, want once on day 8 11:00", got)
	}
	if res.Outcome != workflows.OutcomeCompleted {
		t.Errorf("outcome = %s", res.Outcome)
	}
}

func TestActivationNudgeSkippedWhenCapOutlastsItsDeadline(t *testing.T) {
	f := newFixture(t, true)
	// The member got two other emails just before the nudge's day: the
	// window stays full until day 9, after the nudge's 4-day deadline…
	f.env.RegisterDelayedCallback(func() {
		fillContacts(t, f, f.env.Now(), f.env.Now().Add(time.Minute))
	}, 2*24*time.Hour+time.Hour)
	// …and the welcome's own contact is replaced, so only those two count.
	res := f.run(t)
	var nudge activities.SendEmailResult
	for _, s := range res.Sends {
		if s.Key == "m-1#activation#1#nudge#2026" {
			nudge = s
		}
	}
	if nudge.Status != store.SendSkipped || nudge.Reason != activities.SkipContactPolicy+": "+contact.ReasonCap {
		t.Errorf("nudge = %+v, want skipped for the frequency cap", nudge)
	}
	stats, err := f.store.JourneyStats(context.Background(), workflows.ActivationJourney)
	if err != nil {
		t.Fatal(err)
	}
	counted := false
	for _, s := range stats {
		counted = counted || s.Step == "nudge" && s.Counts["skipped:"+activities.SkipContactPolicy] == 1
	}
	if !counted {
		t.Errorf("stats = %+v, want the nudge counted as skipped:contact_policy", stats)
	}
	// The last nudge (day 7) waits for the first slot, day 9 at 11:00,
	// inside its 3-day deadline.
	if got := f.sentAt()["activation_last_nudge"]; len(got) != 1 || !got[0].Equal(morning.Add(9*24*time.Hour+time.Hour-slack)) {
		t.Errorf("last nudge sent at %v, want once on day 9 11:00", got)
	}
}

func TestActivationOrderDuringDeferralSendsNothing(t *testing.T) {
	// The nudge waits out quiet hours (day 3 at 22:30 → 09:00); an order
	// at 23:00 ends the journey without it.
	start := time.Date(2026, 11, 23, 22, 30, 0, 0, shanghai)
	f := newFixtureAt(t, true, start, nil)
	f.env.RegisterDelayedCallback(func() {
		f.env.SignalWorkflow(workflows.SignalOrderPaid, workflows.OrderPaidSignal{EventID: "evt-o", OrderID: "o-1"})
	}, 3*24*time.Hour+30*time.Minute)
	res := f.run(t)
	equal(t, "templates", f.mailer.templates(), []string{"activation_welcome"})
	if res.Outcome != workflows.OutcomeConverted {
		t.Errorf("outcome = %s, want converted", res.Outcome)
	}
	// The held-back nudge is closed, not left pending, and gives back its
	// place in line.
	row, err := f.store.GetSend(context.Background(), "m-1", "m-1#activation#1#nudge#2026")
	if err != nil || row.Status != store.SendSkipped || row.Reason != activities.SkipGoalReached {
		t.Errorf("nudge row = %+v, %v; want skipped goal_reached", row, err)
	}
	st, _, err := f.store.GetContact(context.Background(), "m-1")
	if err != nil || st.Holds(row.Key) {
		t.Errorf("contact state still holds the nudge: %+v, %v", st, err)
	}
}

// ---- trial ----

func (f *fixture) runTrial(t *testing.T, endsIn time.Duration) workflows.JourneyResult {
	t.Helper()
	f.env.ExecuteWorkflow(workflows.Trial, workflows.TrialInput{
		MemberID: "m-1", Enrollment: 1, SubscriptionID: "sub-1", TrialEndsAt: morning.Add(endsIn), Definition: f.defs[journey.Trial],
	})
	return f.result(t)
}

func TestTrialLapsesWithRemindersAndOneOffer(t *testing.T) {
	f := newFixture(t, true)
	res := f.runTrial(t, 30*24*time.Hour)
	equal(t, "templates", f.mailer.templates(), []string{"trial_reminder", "trial_reminder", "trial_offer"})
	at := f.sentAt()["trial_reminder"]
	if !at[0].Equal(morning.Add(23*24*time.Hour)) || !at[1].Equal(morning.Add(29*24*time.Hour)) {
		t.Errorf("reminders at %v, want 7 days and 1 day before the end", at)
	}
	if got := f.mailer.sent[0].Data["days_left"]; got != "7" {
		t.Errorf("first reminder days_left = %v, want 7", got)
	}
	if got := f.mailer.sent[1].Data["price"]; got != "199.00" {
		t.Errorf("reminder price = %v, want the full price 199.00", got)
	}
	offerAt := f.sentAt()["trial_offer"][0]
	if want := morning.Add(30*24*time.Hour + workflows.TrialLapseGrace); !offerAt.Equal(want) {
		t.Errorf("offer at %s, want %s (end + grace)", offerAt, want)
	}
	if got, want := f.mailer.sent[2].Data["offer_until"], offerAt.Add(7*24*time.Hour).In(shanghai).Format(time.DateOnly); got != want {
		t.Errorf("offer_until = %v, want %s", got, want)
	}
	if res.Outcome != workflows.OutcomeLapsed || f.enrollmentOf(t, workflows.TrialJourney).Status != loyalty.EnrollmentCompleted {
		t.Errorf("outcome = %s, enrollment %+v", res.Outcome, f.enrollmentOf(t, workflows.TrialJourney))
	}
}

func TestTrialConversionThanksAndExitsAtOnce(t *testing.T) {
	f := newFixture(t, true)
	renews := morning.Add(400 * 24 * time.Hour)
	var signalledAt time.Time
	f.env.RegisterDelayedCallback(func() {
		signalledAt = f.env.Now()
		f.env.SignalWorkflow(workflows.SignalTrialConverted, workflows.TrialSignal{EventID: "e-conv", PeriodEndsAt: renews})
	}, 25*24*time.Hour)
	res := f.runTrial(t, 30*24*time.Hour)
	equal(t, "templates", f.mailer.templates(), []string{"trial_reminder", "trial_thanks"})
	if got := f.env.Now().Sub(signalledAt); got > time.Minute {
		t.Errorf("ended %s after the conversion, want at once", got)
	}
	if got, want := f.mailer.sent[1].Data["renews_on"], renews.In(shanghai).Format(time.DateOnly); got != want {
		t.Errorf("renews_on = %v, want %s", got, want)
	}
	if got := f.mailer.sent[1].Data["tier_floor_name"]; got != "金卡" {
		t.Errorf("tier_floor_name = %v, want 金卡", got)
	}
	e := f.enrollmentOf(t, workflows.TrialJourney)
	if res.Outcome != workflows.OutcomeConverted || e.Status != loyalty.EnrollmentExited {
		t.Errorf("outcome %s, enrollment %+v", res.Outcome, e)
	}
}

func TestTrialCancelGetsOfferThenConvertsWithinWindow(t *testing.T) {
	f := newFixture(t, true)
	f.env.RegisterDelayedCallback(func() {
		f.env.SignalWorkflow(workflows.SignalTrialCancelled, workflows.TrialSignal{EventID: "e-cancel"})
	}, 2*24*time.Hour)
	f.env.RegisterDelayedCallback(func() {
		f.env.SignalWorkflow(workflows.SignalTrialConverted, workflows.TrialSignal{EventID: "e-conv"})
	}, 5*24*time.Hour)
	res := f.runTrial(t, 30*24*time.Hour)
	// No reminders after a cancellation; the offer at once, then thanks.
	equal(t, "templates", f.mailer.templates(), []string{"trial_offer", "trial_thanks"})
	if at := f.sentAt()["trial_offer"][0]; !at.Equal(morning.Add(2 * 24 * time.Hour)) {
		t.Errorf("offer at %s, want at the cancellation", at)
	}
	if res.Outcome != workflows.OutcomeConverted {
		t.Errorf("outcome = %s, want converted", res.Outcome)
	}
}

func TestTrialShorterThanReminderSkipsIt(t *testing.T) {
	f := newFixture(t, true)
	f.runTrial(t, 3*24*time.Hour)
	// Only the 1-day reminder; the 7-day one had passed at the start.
	equal(t, "templates", f.mailer.templates(), []string{"trial_reminder", "trial_offer"})
}

func TestTrialWithoutConsentSendsNothingButEnds(t *testing.T) {
	f := newFixture(t, false)
	res := f.runTrial(t, 10*24*time.Hour)
	equal(t, "templates", f.mailer.templates(), nil)
	for _, s := range res.Sends {
		if s.Reason != activities.SkipNoConsent {
			t.Errorf("send %s = %s", s.Key, s.Reason)
		}
	}
	if res.Outcome != workflows.OutcomeLapsed {
		t.Errorf("outcome = %s", res.Outcome)
	}
}

// A reminder the contact policy held back says how many days are really
// left when it goes: the 7-day reminder at 22:30 waits for 09:00, and by
// then the trial ends in 6 calendar days.
func TestTrialDeferredReminderCountsDaysWhenSent(t *testing.T) {
	start := time.Date(2026, 11, 23, 22, 30, 0, 0, shanghai)
	f := newFixtureAt(t, true, start, nil)
	f.env.ExecuteWorkflow(workflows.Trial, workflows.TrialInput{
		MemberID: "m-1", Enrollment: 1, SubscriptionID: "sub-1", TrialEndsAt: start.Add(30 * 24 * time.Hour), Definition: f.defs[journey.Trial],
	})
	f.result(t)
	if at := f.sentAt()["trial_reminder"][0]; !at.Equal(time.Date(2026, 12, 17, 9, 0, 0, 0, shanghai)) {
		t.Fatalf("first reminder at %s, want 09:00 after the 22:30 step", at)
	}
	if got := f.mailer.sent[0].Data["days_left"]; got != "6" {
		t.Errorf("deferred reminder days_left = %v, want 6", got)
	}
}

// The conversion reached the ledger but its signal never reached the
// workflow (the events took different stream shards): the next reminder
// sees the paid membership, the journey thanks the member and exits.
func TestTrialConversionWithoutSignal(t *testing.T) {
	f := newFixture(t, true)
	f.env.RegisterDelayedCallback(func() {
		ctx := context.Background()
		acc, err := f.store.GetAccount(ctx, "m-1")
		if errors.Is(err, store.ErrNotFound) {
			acc = loyalty.Account{MemberID: "m-1"}
		} else if err != nil {
			t.Error(err)
			return
		}
		acc.Version++
		acc.Paid = &loyalty.Paid{Plan: "svip", SubscriptionID: "sub-1", Status: loyalty.PaidActive, StartedAt: f.env.Now(), EndsAt: f.env.Now().AddDate(1, 0, 0)}
		if err := f.store.CommitLedger(ctx, store.LedgerChange{Account: acc}); err != nil {
			t.Error(err)
		}
	}, 25*24*time.Hour)
	res := f.runTrial(t, 30*24*time.Hour)
	equal(t, "templates", f.mailer.templates(), []string{"trial_reminder", "trial_thanks"})
	if res.Outcome != workflows.OutcomeConverted {
		t.Errorf("outcome = %s, want converted", res.Outcome)
	}
}
