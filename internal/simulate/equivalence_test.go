package simulate

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/workflows"
)

// The simulator runs the engine's own code, not a model of it; this test
// holds it to that. The same small cohort, journeys and clock run twice:
// through Run, and through Temporal's own workflow engine — the Go SDK's
// test environment, time skipping, with the registered workflow types
// (workflows.Types) and the real activities on the in-memory store. Both
// must take the same decisions: the same timeline entries at the same
// instants, the same send rows (keys, sent or skipped and why) and the
// same emails.
//
// Temporal's test environment rather than the dev server: a cohort's
// journeys wait days (delays, trial reminders, birthdays), and only the
// test environment's clock can be skipped; the dev server's runs on the
// wall. Its one top-level workflow is a harness that starts what the
// Temporal service would start — enrollments, deferred steps, scheduled
// scans and sweeps — as child workflows with their production ids.

func TestSimulatorDecidesAsTemporal(t *testing.T) {
	cfg := equivalenceConfig(t)
	simulated, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	temporal := runOnTemporal(t, cfg)

	want, got := decisions(t, temporal.st, cfg.Members), decisions(t, simulated.Store, cfg.Members)
	kinds := map[string]int{}
	for _, d := range want {
		kinds[d.kind]++
	}
	t.Logf("%d decisions on Temporal %v; %d emails", len(want), kinds, len(temporal.emails))
	// The cohort must exercise what the check is about.
	for _, k := range []string{"enrolled", "sent", "deferred", "skipped", "reward_granted", "exited", "completed", "wait", "goal_reached"} {
		if kinds[k] == 0 {
			t.Errorf("no %q decision on Temporal: the cohort does not exercise it", k)
		}
	}
	if !slices.ContainsFunc(want, func(d decision) bool { return d.journey == "birthday" && d.kind == "deferred" }) {
		t.Error("no birthday email deferred on Temporal: the cohort does not exercise a scan's deferred step")
	}
	if diff := diffLines(lines(want), lines(got)); diff != "" {
		t.Errorf("decisions differ (- Temporal, + simulator):\n%s", diff)
	}
	if diff := diffLines(emailLines(temporal.emails), emailLines(simulated.Emails)); diff != "" {
		t.Errorf("emails differ (- Temporal, + simulator):\n%s", diff)
	}
}

// equivalenceConfig is six members over 45 days with activation, trial
// and birthday live: quiet hours (registrations late in the evening and
// early in the morning), the frequency cap (a birthday email after a
// trial's reminder and thank-you), a birthday too soon after joining for
// the gift, an order that ends an activation mid-delay, a trial
// cancelled and one converted, and emails that members react to.
func equivalenceConfig(t *testing.T) Config {
	p := program(t)
	sh, ny := "Asia/Shanghai", "America/New_York"
	at := func(day, hour, minute int, zone string) time.Time {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(2026, 3, 2+day, hour, minute, 0, 0, loc)
	}
	members := []Member{
		{ID: "m-1", Registered: at(0, 9, 13, sh), Birthday: "1990-03-04", Timezone: sh, Consent: true, Email: "m-1@example.com"},
		// The trial's reminder and thank-you fill the week before the
		// birthday: its email meets the cap and waits in a deferred step.
		{ID: "m-2", Registered: at(1, 22, 40, sh), Birthday: "1985-04-04", Timezone: sh, Consent: true, Email: "m-2@example.com"},
		{ID: "m-3", Registered: at(2, 11, 5, ny), Birthday: "1992-03-20", Timezone: ny, Consent: true, Email: "m-3@example.com"},
		{ID: "m-4", Registered: at(3, 15, 30, sh), Birthday: "1979-03-09", Timezone: sh, Consent: false, Email: "m-4@example.com"},
		{ID: "m-5", Registered: at(4, 8, 45, sh), Timezone: sh, Consent: true, Email: "m-5@example.com"},
		// A birthday four days after joining: too soon for the gift.
		{ID: "m-6", Registered: at(6, 19, 55, ny), Birthday: "2001-03-12", Timezone: ny, Consent: true, Email: "m-6@example.com"},
	}
	b := scriptedBehaviour{
		testBehaviour: testBehaviour{seed: 11},
		plans: map[string][]events.Envelope{
			// Orders during the activation's first delay: it exits.
			"m-1": {order("m-1", "m-1-o1", at(2, 14, 20, sh), 268)},
			// A trial started on day 3, converted before its end.
			"m-2": {
				envelope("m-2", "m-2-trial", events.SubscriptionTrialStarted, at(3, 12, 0, sh), map[string]any{
					"subscription_id": "sub-2", "plan": "svip", "price": "9.9", "currency": "CNY", "trial_ends_at": at(33, 12, 0, sh)}),
				envelope("m-2", "m-2-conv", events.SubscriptionConverted, at(31, 20, 0, sh), map[string]any{
					"subscription_id": "sub-2", "plan": "svip", "price": "199", "currency": "CNY", "period_ends_at": at(398, 12, 0, sh)}),
			},
			// A trial cancelled ten days in: the offer.
			"m-5": {
				envelope("m-5", "m-5-trial", events.SubscriptionTrialStarted, at(5, 10, 0, sh), map[string]any{
					"subscription_id": "sub-5", "plan": "svip", "price": "9.9", "currency": "CNY", "trial_ends_at": at(35, 10, 0, sh)}),
				envelope("m-5", "m-5-cancel", events.SubscriptionCancelled, at(15, 16, 0, sh), map[string]any{
					"subscription_id": "sub-5", "plan": "svip"}),
			},
			"m-6": {order("m-6", "m-6-o1", at(20, 13, 0, ny), 1500)},
		},
	}
	return Config{Program: p, Journeys: shipped(t, p, "activation", "trial", "birthday"), Members: members,
		Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Days: 45, Seed: 11, Behaviour: b}
}

// scriptedBehaviour registers each member and then does what the script
// says; emails get testBehaviour's reactions.
type scriptedBehaviour struct {
	testBehaviour
	plans map[string][]events.Envelope
}

func (b scriptedBehaviour) Plan(m Member, from, to time.Time) []events.Envelope {
	out := append([]events.Envelope{registered(m)}, b.plans[m.ID]...)
	return slices.DeleteFunc(out, func(e events.Envelope) bool { return e.OccurredAt.Before(from) || !e.OccurredAt.Before(to) })
}

// decision is one timeline entry or send row, as both runs must have it.
type decision struct {
	member, journey, step, kind, reason, key string
	enrollment                               int
	at                                       time.Time
}

// decisions are the members' timelines, oldest first, then their send
// rows.
func decisions(t *testing.T, st store.Store, members []Member) []decision {
	t.Helper()
	ctx := context.Background()
	var out []decision
	for _, m := range members {
		es, _, err := st.ListTimeline(ctx, m.ID, 1000, "")
		if err != nil {
			t.Fatal(err)
		}
		for i := len(es) - 1; i >= 0; i-- {
			e := es[i]
			out = append(out, decision{member: e.MemberID, journey: e.Journey, enrollment: e.Enrollment, step: e.Step,
				kind: e.Kind, reason: e.Reason, key: e.Key, at: e.At})
		}
		sends, err := st.ListSends(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sends {
			out = append(out, decision{member: s.MemberID, journey: s.Journey, enrollment: s.Enrollment, step: s.Step,
				kind: "send:" + string(s.Status), reason: s.Reason, key: s.Key, at: s.UpdatedAt})
		}
	}
	return out
}

func lines(ds []decision) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("%s %s#%d %s %s %q %s %s", d.member, d.journey, d.enrollment, d.step, d.kind, d.reason, d.key, d.at.UTC().Format(time.RFC3339Nano))
	}
	return out
}

// emailLines are the emails by time, then key (parallel members' emails
// of one instant may go in either order).
func emailLines(es []Email) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s %s %s %s", e.At.UTC().Format(time.RFC3339Nano), e.Key, e.Template, e.Step)
	}
	slices.Sort(out)
	return out
}

// diffLines lists the lines only one side has, in order.
func diffLines(want, got []string) string {
	var b strings.Builder
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case i < len(want) && j < len(got) && want[i] == got[j]:
			i, j = i+1, j+1
		case j >= len(got) || (i < len(want) && !slices.Contains(got[j:], want[i])):
			fmt.Fprintf(&b, "- %s\n", want[i])
			i++
		default:
			fmt.Fprintf(&b, "+ %s\n", got[j])
			j++
		}
	}
	return b.String()
}

// ---- the same world on Temporal's test environment ----

// temporalRun is what the Temporal run left.
type temporalRun struct {
	st     store.Store
	emails []Email
}

// runOnTemporal runs cfg's world with Temporal running its workflows.
func runOnTemporal(t *testing.T, cfg Config) temporalRun {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(quietLogger{})
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(cfg.Start)
	env.SetTestTimeout(5 * time.Minute)
	h := &testHost{t: t, env: env, started: map[string]bool{}}
	w, err := newWorld(context.Background(), cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	workflows.Register(env, w.acts)
	env.RegisterWorkflowWithOptions(harness, workflow.RegisterOptions{Name: "Harness"})
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	h.arm()
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(harnessDone, nil) }, w.end().Sub(cfg.Start))
	env.ExecuteWorkflow(harness)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("harness: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		t.Fatal(h.err)
	}
	return temporalRun{st: w.st, emails: w.emails}
}

// Signals of the harness.
const (
	harnessStart = "start"
	harnessDone  = "done"
)

// startRequest is a workflow the Temporal service would start: an
// enrollment, a deferred step, a scheduled scan or sweep.
type startRequest struct {
	ID       string                               `json:"id"`
	Journey  *workflows.JourneyInput              `json:"journey,omitempty"`
	Deferred *activities.JourneyDeferredStepInput `json:"deferred,omitempty"`
	Scan     *workflows.JourneyScanInput          `json:"scan,omitempty"`
	Sweep    *workflows.LedgerSweepInput          `json:"sweep,omitempty"`
}

// harness starts each requested workflow as a child with its production
// id, until done.
func harness(ctx workflow.Context) error {
	starts := workflow.GetSignalChannel(ctx, harnessStart)
	done := workflow.GetSignalChannel(ctx, harnessDone)
	for over := false; !over; {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(starts, func(c workflow.ReceiveChannel, _ bool) {
			var r startRequest
			c.Receive(ctx, &r)
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: r.ID})
			switch {
			case r.Journey != nil:
				workflow.ExecuteChildWorkflow(cctx, workflows.Journey, *r.Journey)
			case r.Deferred != nil:
				workflow.ExecuteChildWorkflow(cctx, workflows.JourneyDeferredStep, *r.Deferred)
			case r.Scan != nil:
				workflow.ExecuteChildWorkflow(cctx, workflows.JourneyScan, *r.Scan)
			case r.Sweep != nil:
				workflow.ExecuteChildWorkflow(cctx, workflows.LedgerSweep, *r.Sweep)
			}
		})
		sel.AddReceive(done, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			over = true
		})
		sel.Select(ctx)
	}
	return nil
}

// testHost is the world's host on the test environment: the world's
// timed work (members' events, provider feedback, schedule fires) runs
// in the environment's callbacks at its mock times, workflows are the
// harness's children.
type testHost struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu      sync.Mutex
	queue   items
	seq     uint64
	started map[string]bool
	err     error
}

var _ host = (*testHost)(nil)

func (h *testHost) now() time.Time { return h.env.Now() }

// at queues do; the environment is asked to call back at the earliest
// time due (it takes only so many callbacks at once).
func (h *testHost) at(t time.Time, do func() error) {
	h.mu.Lock()
	h.seq++
	heap.Push(&h.queue, &item{at: t, seq: h.seq, do: do})
	first := h.queue[0] == nil || h.queue[0].seq == h.seq
	h.mu.Unlock()
	if first {
		h.arm()
	}
}

// arm asks for a callback at the earliest queued time.
func (h *testHost) arm() {
	h.mu.Lock()
	if h.queue.Len() == 0 {
		h.mu.Unlock()
		return
	}
	d := max(h.queue[0].at.Sub(h.env.Now()), 0)
	h.mu.Unlock()
	h.env.RegisterDelayedCallback(h.pump, d)
}

// pump does what is due, in order, then asks for the next callback.
func (h *testHost) pump() {
	for {
		h.mu.Lock()
		if h.queue.Len() == 0 || h.queue[0].at.After(h.env.Now()) {
			h.mu.Unlock()
			break
		}
		it := heap.Pop(&h.queue).(*item)
		h.mu.Unlock()
		if err := it.do(); err != nil {
			h.fail(err)
		}
	}
	h.arm()
}

func (h *testHost) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.err = err
	}
}

// request asks the harness to start a workflow once per id.
func (h *testHost) request(r startRequest) {
	h.mu.Lock()
	seen := h.started[r.ID]
	h.started[r.ID] = true
	h.mu.Unlock()
	if !seen {
		h.env.SignalWorkflow(harnessStart, r)
	}
}

func (h *testHost) fire(o client.ScheduleOptions, nominal time.Time) error {
	a := o.Action.(*client.ScheduleWorkflowAction)
	r := startRequest{ID: a.ID + "-" + nominal.UTC().Format(time.RFC3339)}
	switch functionName(a.Workflow) {
	case workflows.JourneyScanWorkflow:
		r.Scan = &workflows.JourneyScanInput{}
		if err := roundTrip(a.Args[0], r.Scan); err != nil {
			return err
		}
	case "LedgerSweep":
		r.Sweep = &workflows.LedgerSweepInput{}
		if err := roundTrip(a.Args[0], r.Sweep); err != nil {
			return err
		}
	default:
		return fmt.Errorf("schedule %s: %v", o.ID, a.Workflow)
	}
	h.request(r)
	return nil
}

func (h *testHost) StartEnrollment(_ context.Context, s journeys.Start) error {
	h.request(startRequest{ID: s.WorkflowID, Journey: &workflows.JourneyInput{Definition: s.Definition, MemberID: s.MemberID,
		Enrollment: s.Enrollment, Event: s.Event, Anchor: s.Anchor}})
	return nil
}

func (h *testHost) SignalEnrollment(_ context.Context, workflowID string, s journeys.Signal) error {
	name, arg := workflows.SignalOf(s)
	// On the environment's loop, as the service would deliver it; one
	// that has ended is not an error.
	h.env.RegisterDelayedCallback(func() { _ = h.env.SignalWorkflowByID(workflowID, name, arg) }, 0)
	return nil
}

func (h *testHost) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if functionName(wf) != activities.JourneyDeferredStepWorkflow || len(args) != 1 {
		return nil, fmt.Errorf("start %s: %v is not started by activities", o.ID, wf)
	}
	in, ok := args[0].(activities.JourneyDeferredStepInput)
	if !ok {
		return nil, fmt.Errorf("start %s: input %T", o.ID, args[0])
	}
	h.request(startRequest{ID: o.ID, Deferred: &in})
	return nil, nil
}

// quietLogger keeps the environment's logging out of the test output.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
