package workflows_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/memberflow/memberflow/activities"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/internal/unsubscribe"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// recordingMailer stands in for SendGrid in workflow unit tests (the real
// client is tested against a local HTTP server in internal/mail).
type recordingMailer struct {
	mu   sync.Mutex
	sent []mail.Message
	at   []time.Time
	now  func() time.Time
	fail error // returned by the next Send, then cleared
}

func (r *recordingMailer) Send(_ context.Context, m mail.Message) (mail.SendResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail; err != nil {
		r.fail = nil
		return mail.SendResult{}, err
	}
	r.sent = append(r.sent, m)
	if r.now != nil {
		r.at = append(r.at, r.now())
	} else {
		r.at = append(r.at, time.Time{})
	}
	return mail.SendResult{MessageID: "msg-" + m.IdempotencyKey, StatusCode: 202}, nil
}

func (r *recordingMailer) templates() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.sent {
		out = append(out, m.Template)
	}
	return out
}

type fixture struct {
	env    *testsuite.TestWorkflowEnvironment
	store  *memstore.Store
	mailer *recordingMailer
	acts   *activities.Activities
	defs   journey.Set
}

// shanghai is the programme's time zone; members without one live in it.
var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// morning is when fixtures start: 10:00 in Shanghai, outside quiet hours.
var morning = time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai)

func newFixture(t *testing.T, consent bool) *fixture {
	t.Helper()
	return newFixtureWith(t, consent, nil)
}

// newFixtureWith lets a test adjust the activities before they are registered.
func newFixtureWith(t *testing.T, consent bool, adjust func(*activities.Activities)) *fixture {
	t.Helper()
	return newFixtureAt(t, consent, morning, adjust)
}

// newFixtureAt builds the real activities over the in-memory store and a
// real ledger, with the real email catalog (a missing variable fails the
// step), all on the test environment's clock starting at start.
func newFixtureAt(t *testing.T, consent bool, start time.Time, adjust func(*activities.Activities)) *fixture {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	f := &fixture{env: suite.NewTestWorkflowEnvironment(), store: memstore.New(), mailer: &recordingMailer{}}
	f.mailer.now = f.env.Now
	f.env.SetStartTime(start)
	ctx := context.Background()
	m := loyalty.Member{ID: "m-1", Email: "lin@example.com", Name: "Lin", Consent: loyalty.Consent{EmailMarketing: consent}, Version: 1}
	if err := f.store.SaveMember(ctx, m, "evt-reg"); err != nil {
		t.Fatal(err)
	}
	for _, j := range []string{workflows.ActivationJourney, workflows.TrialJourney} {
		if _, _, err := f.store.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-1", Journey: j, Number: 1, WorkflowID: workflows.EnrollmentWorkflowID(j, "m-1", 1), Status: loyalty.EnrollmentActive, StartedAt: start}); err != nil {
			t.Fatal(err)
		}
	}
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	ldg := ledgerfix.Service(t, f.store)
	ldg.Now = f.env.Now
	if f.defs, err = journey.Shipped(ldg.Rules.Program); err != nil {
		t.Fatal(err)
	}
	links, err := unsubscribe.NewSigner([]byte("workflow-test-link-secret"))
	if err != nil {
		t.Fatal(err)
	}
	f.acts = &activities.Activities{Store: f.store, Ledger: ldg, Mailer: f.mailer, Templates: catalog,
		Links: links, PublicURL: "https://api.example.com",
		Brand: activities.Brand{Name: "Demo", ShopURL: "https://shop.example.com"}, Now: f.env.Now}
	if adjust != nil {
		adjust(f.acts)
	}
	workflows.Register(f.env, f.acts)
	return f
}

func (f *fixture) run(t *testing.T) workflows.JourneyResult {
	t.Helper()
	f.env.ExecuteWorkflow(workflows.Activation, workflows.ActivationInput{MemberID: "m-1", Enrollment: 1, Definition: f.defs[journey.Activation]})
	return f.result(t)
}

func (f *fixture) result(t *testing.T) workflows.JourneyResult {
	t.Helper()
	if !f.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	var res workflows.JourneyResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *fixture) enrollment(t *testing.T) loyalty.Enrollment {
	t.Helper()
	return f.enrollmentOf(t, workflows.ActivationJourney)
}

func (f *fixture) enrollmentOf(t *testing.T, j string) loyalty.Enrollment {
	t.Helper()
	e, err := f.store.GetEnrollment(context.Background(), "m-1", j, 1)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sentAt returns when each email went out (env clock), by template.
func (f *fixture) sentAt() map[string][]time.Time {
	f.mailer.mu.Lock()
	defer f.mailer.mu.Unlock()
	out := map[string][]time.Time{}
	for i, m := range f.mailer.sent {
		out[m.Template] = append(out[m.Template], f.mailer.at[i])
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
}

func TestActivationWithoutOrderSendsAllThree(t *testing.T) {
	f := newFixture(t, true)
	start := f.env.Now()
	res := f.run(t)
	equal(t, "templates", f.mailer.templates(), []string{"activation_welcome", "activation_nudge", "activation_last_nudge"})
	if got, want := res.Outcome, workflows.OutcomeCompleted; got != want {
		t.Errorf("outcome = %q, want %q", got, want)
	}
	if got, want := f.env.Now().Sub(start), 7*24*time.Hour; got < want || got > want+time.Minute {
		t.Errorf("journey took %s, want about %s", got, want)
	}
	if got, want := f.enrollment(t).Status, loyalty.EnrollmentCompleted; got != want {
		t.Errorf("enrollment status = %q, want %q", got, want)
	}
	sends, _ := f.store.ListSends(context.Background(), "m-1")
	keys := []string{}
	for _, s := range sends {
		if s.Status != store.SendSent {
			t.Errorf("send %s status = %q, want sent", s.Key, s.Status)
		}
		keys = append(keys, s.Key)
	}
	equal(t, "send keys", keys, []string{"m-1#activation#1#welcome#2026", "m-1#activation#1#nudge#2026", "m-1#activation#1#last_nudge#2026"})
	// The welcome hands over the NEW8 coupon, granted once under the
	// step's key, and names it.
	if len(res.Rewards) != 1 || res.Rewards[0].Coupon == nil || res.Rewards[0].Coupon.Kind != "NEW8" || res.Rewards[0].Key != "m-1#activation#1#welcome#2026" {
		t.Fatalf("rewards = %+v, want one NEW8 under the welcome's key", res.Rewards)
	}
	if got := f.mailer.sent[0].Data["coupon_code"]; got != res.Rewards[0].Coupon.Code {
		t.Errorf("welcome names coupon %v, want %s", got, res.Rewards[0].Coupon.Code)
	}
}

func TestActivationExitsImmediatelyOnOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		orderAt   time.Duration
		templates []string
	}{
		{"order before the nudge", 26 * time.Hour, []string{"activation_welcome"}},
		{"order between nudges", 4 * 24 * time.Hour, []string{"activation_welcome", "activation_nudge"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, true)
			start := f.env.Now()
			var signalledAt time.Time
			f.env.RegisterDelayedCallback(func() {
				signalledAt = f.env.Now()
				f.env.SignalWorkflow(workflows.SignalOrderPaid, workflows.OrderPaidSignal{EventID: "evt-o", OrderID: "o-1"})
			}, tc.orderAt)
			res := f.run(t)
			equal(t, "templates", f.mailer.templates(), tc.templates)
			if got, want := res.Outcome, workflows.OutcomeConverted; got != want {
				t.Errorf("outcome = %q, want %q", got, want)
			}
			// Immediate: the workflow ends when the order arrives, not at the
			// next timer.
			if got := f.env.Now().Sub(signalledAt); got > time.Minute {
				t.Errorf("workflow ended %s after the order, want at once (order at %s after start)", got, signalledAt.Sub(start))
			}
			e := f.enrollment(t)
			if got, want := e.Status, loyalty.EnrollmentExited; got != want {
				t.Errorf("enrollment status = %q, want %q", got, want)
			}
			if got, want := e.Reason, workflows.OutcomeConverted; got != want {
				t.Errorf("enrollment reason = %q, want %q", got, want)
			}
		})
	}
}

func TestActivationOrderBeforeWelcomeStillWelcomes(t *testing.T) {
	f := newFixture(t, true)
	f.env.RegisterDelayedCallback(func() {
		f.env.SignalWorkflow(workflows.SignalOrderPaid, workflows.OrderPaidSignal{EventID: "evt-o", OrderID: "o-1"})
	}, 0)
	res := f.run(t)
	equal(t, "templates", f.mailer.templates(), []string{"activation_welcome"})
	if got, want := res.Outcome, workflows.OutcomeConverted; got != want {
		t.Errorf("outcome = %q, want %q", got, want)
	}
}

func TestActivationWithoutConsentSendsNothing(t *testing.T) {
	f := newFixture(t, false)
	res := f.run(t)
	equal(t, "templates", f.mailer.templates(), nil)
	if got, want := len(res.Sends), 3; got != want {
		t.Fatalf("%d send results, want %d", got, want)
	}
	for _, s := range res.Sends {
		if s.Status != store.SendSkipped || s.Reason != activities.SkipNoConsent {
			t.Errorf("send %s = %s/%s, want skipped/%s", s.Key, s.Status, s.Reason, activities.SkipNoConsent)
		}
	}
}

func TestActivationRetriedSendIsNotRepeated(t *testing.T) {
	f := newFixture(t, true)
	// The first attempt of the welcome fails after nothing was sent; the
	// retry sends once. A further call with the same key is a no-op.
	f.mailer.fail = &mail.ProviderError{StatusCode: 503, Message: "unavailable"}
	f.run(t)
	equal(t, "templates", f.mailer.templates(), []string{"activation_welcome", "activation_nudge", "activation_last_nudge"})

	a := &activities.Activities{Store: f.store, Mailer: f.mailer}
	again, err := a.SendEmail(context.Background(), activities.SendEmailRequest{MemberID: "m-1", Journey: workflows.ActivationJourney, Enrollment: 1, Step: "welcome", Template: "activation_welcome", Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := again.Status, store.SendSent; got != want {
		t.Errorf("repeat status = %q, want %q", got, want)
	}
	if got, want := len(f.mailer.templates()), 3; got != want {
		t.Errorf("%d emails after a repeated send, want %d", got, want)
	}
}

func TestActivationMissingTemplateVariableFailsTheStep(t *testing.T) {
	// No shop URL configured: the welcome cannot render, so nothing is sent
	// and the workflow fails with a non-retryable error naming the variable.
	f := newFixtureWith(t, true, func(a *activities.Activities) {
		a.Brand.ShopURL = ""
	})
	f.env.ExecuteWorkflow(workflows.Activation, workflows.ActivationInput{MemberID: "m-1", Enrollment: 1, Definition: f.defs[journey.Activation]})
	err := f.env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "shop_url") {
		t.Fatalf("workflow error = %v, want one naming shop_url", err)
	}
	if got := f.mailer.templates(); len(got) != 0 {
		t.Errorf("sent %v despite a missing variable", got)
	}
}

// TestActivationExitsOnAnOrderWhoseSignalWasMissed: the order reached the
// projection but never became a signal (it was dispatched before the
// registration). The nudge sees it and the journey ends as converted.
func TestActivationExitsOnAnOrderWhoseSignalWasMissed(t *testing.T) {
	f := newFixture(t, true)
	f.env.RegisterDelayedCallback(func() {
		ctx := context.Background()
		m, err := f.store.GetMember(ctx, "m-1")
		if err != nil {
			t.Error(err)
			return
		}
		m.OrderCount, m.Version = 1, m.Version+1
		if err := f.store.SaveMember(ctx, m, "evt-order"); err != nil {
			t.Error(err)
		}
	}, time.Hour)
	res := f.run(t)
	equal(t, "templates", f.mailer.templates(), []string{"activation_welcome"})
	if got, want := res.Outcome, workflows.OutcomeConverted; got != want {
		t.Errorf("outcome = %q, want %q", got, want)
	}
	if got, want := f.enrollment(t).Status, loyalty.EnrollmentExited; got != want {
		t.Errorf("enrollment status = %q, want %q", got, want)
	}
}
