package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/cost"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// The delays the lifecycles run with: the shipped steps, in the shipped
// order, seconds apart instead of days.
const (
	nudgeAfter     = 2 * time.Second
	lastNudgeAfter = 4 * time.Second
	trialEndsIn    = 6 * time.Second
	reminderEarly  = 4 * time.Second // reminder_7d: before the trial's end
	reminderLate   = 2 * time.Second // reminder_1d
	offerWindow    = 2 * time.Second
)

// seeded is how many members each calendar journey's measured scan acts on.
const seeded = 200

const webhookSecret = "cost-webhook-secret"

// heartbeating are the activities that heartbeat (see cost.Options).
var heartbeating = cost.Options{Heartbeating: []string{"ScanCalendar", "SweepLedger"}}

// runner drives lifecycles on a running stack.
type runner struct {
	s    *localstack.Stack
	prog *loyalty.Program
	zone string
	loc  *time.Location
	now  time.Time
}

// measured is what the run found.
type measured struct {
	activationNoOrder, activationConverted cost.Actions
	trialConverted, trialEnded             cost.Actions
	deferredSend                           cost.Actions
	sweepRun                               cost.Actions
	emptyRun                               map[string]cost.Actions // calendar journey → a run with nobody due
	scanRun                                map[string]cost.Actions // calendar journey → the run over the seeded members
	actedOn                                map[string]int
	maxMembers                             int // members per scan batch (the schedules' MaxMembers)
	calendar                               journey.Set
}

func run(ctx context.Context, cfg config, out io.Writer, log *slog.Logger) error {
	started := time.Now()
	tmp, err := os.MkdirTemp("", "memberflow-cost-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	prog, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		return err
	}
	shipped, err := journey.Shipped(prog)
	if err != nil {
		return err
	}
	zone, err := localstack.DaytimeZone(time.Now())
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return err
	}
	progress("starting the local stack (data in memory, outbox and logs in %s)", tmp)
	s, err := localstack.Start(ctx, localstack.Config{
		Root: cfg.Root, HTTPAddr: "127.0.0.1:0", TemporalCLI: cfg.TemporalCLI, DynamoDBDir: cfg.DynamoDBDir,
		OutboxDir: filepath.Join(tmp, "outbox"), LogDir: tmp, Table: "cost",
		WebhookSecret: webhookSecret, AdminToken: "cost-admin-token", CodeSecret: "cost-coupon-code-secret",
		Journeys: shortened(shipped), Brand: activities.Brand{Name: "Cost Shop", ShopURL: "https://shop.example.com"},
		FromEmail: "hello@example.com",
	}, log)
	if err != nil {
		return err
	}
	defer s.Stop()
	r := &runner{s: s, prog: prog, zone: zone, loc: loc, now: time.Now()}
	m := &measured{emptyRun: map[string]cost.Actions{}, scanRun: map[string]cost.Actions{}, actedOn: map[string]int{}, calendar: shipped}

	// Each hourly schedule's run with nobody due, before anyone exists.
	progress("empty runs of the hourly schedules")
	for _, name := range workflows.CalendarJourneys {
		var res workflows.CalendarScanResult
		if m.emptyRun[name], err = r.runSchedule(ctx, workflows.CalendarScheduleID(name), &res); err != nil {
			return err
		}
	}
	var sweep activities.SweepResult
	if m.sweepRun, err = r.runSchedule(ctx, workflows.SweepScheduleID, &sweep); err != nil {
		return err
	}
	if m.maxMembers, err = r.scanBatch(ctx); err != nil {
		return err
	}

	// The event-driven lifecycles through the webhook, side by side; on
	// their own, so that no load delays a step past the next one.
	progress("activation and trial lifecycles")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	do := func(f func() error) {
		wg.Go(func() {
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	measure := func(dst *cost.Actions, f func(context.Context, string, bool) (cost.Actions, error), member string, flag bool) {
		do(func() (err error) { *dst, err = f(ctx, member, flag); return })
	}
	measure(&m.activationNoOrder, r.activation, "m-cost-act-noorder", false)
	measure(&m.activationConverted, r.activation, "m-cost-act-converted", true)
	measure(&m.trialConverted, r.trial, "m-cost-trial-converted", true)
	measure(&m.trialEnded, r.trial, "m-cost-trial-ended", false)
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	progress("seeding %d members for each calendar journey", seeded)
	if err := r.seed(ctx); err != nil {
		return err
	}
	progress("scanning the seeded members")
	capped, err := r.fillCap(ctx, birthdayMember(0))
	if err != nil {
		return err
	}
	for _, name := range workflows.CalendarJourneys {
		do(func() error {
			var res workflows.CalendarScanResult
			a, err := r.runSchedule(ctx, workflows.CalendarScheduleID(name), &res)
			mu.Lock()
			defer mu.Unlock()
			m.scanRun[name], m.actedOn[name] = a, actedOn(res.Counts)
			if err != nil {
				return err
			}
			if m.actedOn[name] != seeded {
				progress("the %s scan acted on %d members, not the %d seeded (counts %v)", name, m.actedOn[name], seeded, res.Counts)
			}
			if name == journey.Birthday && res.Counts["deferred"] != 1 {
				return fmt.Errorf("the birthday scan deferred %d emails, want the capped member's one (counts %v): the scan reached it after its cap freed; run again", res.Counts["deferred"], res.Counts)
			}
			return nil
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// The birthday email the full cap held back, sent by its DeferredSend.
	key := activities.SendKey(capped, journey.Birthday, r.now.In(loc).Year(), "gift", r.now.In(loc).Year())
	if m.deferredSend, err = r.enrollment(ctx, activities.DeferredSendWorkflowID(key)); err != nil {
		return fmt.Errorf("deferred birthday email: %w", err)
	}
	progress("done in %s", time.Since(started).Round(time.Second))
	return report(out, m)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "cost: "+format+"\n", args...)
}

// shortened is the shipped set with the event-driven journeys' delays in
// seconds; the calendar journeys keep theirs (their members are seeded
// with dates that make a step due now).
func shortened(shipped journey.Set) journey.Set {
	set := shipped.Clone()
	set[journey.Activation] = withSteps(set[journey.Activation], func(s *journey.Step) {
		switch s.Name {
		case "nudge":
			s.After = journey.Duration(nudgeAfter)
		case "last_nudge":
			s.After = journey.Duration(lastNudgeAfter)
		}
	})
	set[journey.Trial] = withSteps(set[journey.Trial], func(s *journey.Step) {
		switch {
		case s.Name == "reminder_7d":
			s.Before = journey.Duration(reminderEarly)
		case s.Name == "reminder_1d":
			s.Before = journey.Duration(reminderLate)
		case s.Window > 0:
			s.Window = journey.Duration(offerWindow)
		}
	})
	return set
}

func withSteps(d journey.Definition, change func(*journey.Step)) journey.Definition {
	for i := range d.Steps {
		change(&d.Steps[i])
	}
	return d
}

// activation runs one activation enrollment: without an order (welcome,
// nudge, last nudge) or converted by an order after the welcome.
func (r *runner) activation(ctx context.Context, member string, order bool) (cost.Actions, error) {
	if err := r.post(ctx, registration(member, time.Now(), true, r.zone, "")); err != nil {
		return cost.Actions{}, err
	}
	if order {
		welcome := activities.SendKey(member, journey.Activation, 1, "welcome", time.Now().UTC().Year())
		if err := r.waitSend(ctx, member, welcome); err != nil {
			return cost.Actions{}, err
		}
		if err := r.post(ctx, orderPaid(member, "ord-"+member, "99.00", time.Now())); err != nil {
			return cost.Actions{}, err
		}
	}
	want := 3 // welcome, nudge, last nudge
	if order {
		want = 1
	}
	return r.enrollmentWithSends(ctx, workflows.ActivationWorkflowID(member), want)
}

// enrollmentWithSends is enrollment for a journey workflow that must have
// made want sends: a step the run's timing skipped (a decision that came
// before it) would make the count a different path's.
func (r *runner) enrollmentWithSends(ctx context.Context, id string, want int) (cost.Actions, error) {
	a, err := r.enrollment(ctx, id)
	if err != nil {
		return a, err
	}
	var res workflows.JourneyResult
	if err := r.s.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		return a, err
	}
	if len(res.Sends) != want {
		return a, fmt.Errorf("workflow %s made %d sends, not the path's %d (was the machine too busy for delays in seconds?): %+v", id, len(res.Sends), want, res.Sends)
	}
	return a, nil
}

// trial runs one trial enrollment ending seconds from now: converted at
// its end, or cancelled at its end. The member has no email consent so
// that three emails in seconds do not meet the contact policy's cap (which
// in real time they do not): every send is still an activity.
func (r *runner) trial(ctx context.Context, member string, converted bool) (cost.Actions, error) {
	ends := time.Now().Add(trialEndsIn)
	if err := r.post(ctx, registration(member, time.Now(), false, r.zone, ""), trialStarted(member, time.Now(), ends)); err != nil {
		return cost.Actions{}, err
	}
	select {
	case <-time.After(time.Until(ends) + 500*time.Millisecond):
	case <-ctx.Done():
		return cost.Actions{}, ctx.Err()
	}
	outcome := trialCancelled(member, time.Now())
	if converted {
		outcome = trialConverted(member, time.Now())
	}
	if err := r.post(ctx, outcome); err != nil {
		return cost.Actions{}, err
	}
	// Two reminders, then the thank-you or the offer.
	return r.enrollmentWithSends(ctx, workflows.TrialWorkflowID(member), 3)
}

// waitSend waits until the member's send key is sent.
func (r *runner) waitSend(ctx context.Context, member, key string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		row, err := r.s.Activities.Store.GetSend(ctx, member, key)
		if err == nil && row.Status == store.SendSent {
			return nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("send %s: %w", key, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// enrollment waits for the workflow (started by dispatch or an activity)
// to close successfully and counts its actions.
func (r *runner) enrollment(ctx context.Context, id string) (cost.Actions, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		d, err := r.s.Temporal.DescribeWorkflowExecution(ctx, id, "")
		if err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil {
			if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED &&
				st != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
				return cost.Actions{}, fmt.Errorf("workflow %s closed %s", id, st)
			}
			return r.actions(ctx, id, d.GetWorkflowExecutionInfo().GetExecution().GetRunId())
		}
		select {
		case <-ctx.Done():
			return cost.Actions{}, fmt.Errorf("workflow %s did not close: %w", id, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runSchedule runs a schedule now, waits for its workflow's result and
// counts the run's actions.
func (r *runner) runSchedule(ctx context.Context, id string, result any) (cost.Actions, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	run, err := r.s.RunSchedule(ctx, id)
	if err != nil {
		return cost.Actions{}, err
	}
	if err := run.Get(ctx, result); err != nil {
		return cost.Actions{}, fmt.Errorf("schedule %s: %w", id, err)
	}
	return r.actions(ctx, run.GetID(), run.GetRunID())
}

// actions counts a workflow's actions from the first run on, following
// continue-as-new to the runs it started.
func (r *runner) actions(ctx context.Context, id, runID string) (cost.Actions, error) {
	// The run described last may be a continuation: start from the first.
	d, err := r.s.Temporal.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return cost.Actions{}, err
	}
	if first := d.GetWorkflowExecutionInfo().GetFirstRunId(); first != "" {
		runID = first
	}
	var total cost.Actions
	for runID != "" {
		var h []*historypb.HistoryEvent
		iter := r.s.Temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return cost.Actions{}, fmt.Errorf("history of %s: %w", id, err)
			}
			h = append(h, ev)
		}
		total = total.Add(cost.Count(h, heartbeating))
		runID = ""
		if n := len(h); n > 0 {
			runID = h[n-1].GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		}
	}
	return total, nil
}

// scanBatch reads how many members a scheduled scan handles per activity
// from the birthday schedule's action.
func (r *runner) scanBatch(ctx context.Context) (int, error) {
	d, err := r.s.Temporal.ScheduleClient().GetHandle(ctx, workflows.CalendarScheduleID(journey.Birthday)).Describe(ctx)
	if err != nil {
		return 0, err
	}
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || len(action.Args) != 1 {
		return 0, errors.New("the birthday schedule's action is not one workflow with one argument")
	}
	p, ok := action.Args[0].(*commonpb.Payload)
	if !ok {
		return 0, fmt.Errorf("the birthday schedule's argument is a %T", action.Args[0])
	}
	var in workflows.CalendarScanInput
	if err := converter.GetDefaultDataConverter().FromPayload(p, &in); err != nil {
		return 0, err
	}
	return in.MaxMembers, nil
}

// actedOn is how many members a scan run acted on: each got the step's
// email sent, deferred or skipped for a reason.
func actedOn(counts map[string]int) int {
	n := counts["sent"] + counts["deferred"]
	for k, v := range counts {
		if strings.HasPrefix(k, "skipped:") {
			n += v
		}
	}
	return n
}

// fillCap gives the member two emails a little less than 7 days ago, so
// their next email waits a few seconds for the contact policy's cap.
func (r *runner) fillCap(ctx context.Context, member string) (string, error) {
	st, version, err := r.s.Activities.Store.GetContact(ctx, member)
	if err != nil {
		return "", err
	}
	// A contact leaves the window Slack early (contact.Policy).
	pol := contact.Default()
	frees := time.Now().Add(-pol.Window + pol.Slack + 15*time.Second)
	st.Contacts = append(st.Contacts,
		contact.Contact{Key: "seed-1", Journey: journey.Winback, At: frees},
		contact.Contact{Key: "seed-2", Journey: journey.Winback, At: frees.Add(time.Millisecond)})
	return member, r.s.Activities.Store.PutContact(ctx, member, st, version)
}
