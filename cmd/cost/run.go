package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
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
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// The delays the lifecycles run with: the shipped steps, in the shipped
// order, seconds apart instead of days.
const (
	nudgeDelay     = 2 * time.Second // activation: the 3-day delay before the nudge
	lastNudgeDelay = 2 * time.Second // and the 4-day one before the last nudge
	trialEndsIn    = 6 * time.Second
	reminderEarly  = 4 * time.Second // reminder_7d: before the trial's end
	reminderLate   = 2 * time.Second // reminder_1d
	offerWindow    = 2 * time.Second // the 7-day delay after the offer
	upsellWait     = 4 * time.Second // svip_upsell: the 2-day wait for a trial
)

// The journeys the yearly model has a line for.
const (
	activation = "activation"
	trial      = "trial"
	birthday   = "birthday"
	tierExpiry = "tier_expiry"
	winback    = "winback"
	svipUpsell = "svip_upsell"
)

// calendarNames are the scanned journeys the report models, in its order.
var calendarNames = []string{birthday, tierExpiry, winback}

// upsellSource is the svip_upsell example in templates.Journeys.
const upsellSource = "journeys/examples/svip_upsell.yaml"

// seeded is how many members each calendar journey's measured scan acts on.
const seeded = 200

const (
	webhookSecret = "cost-webhook-secret"
	adminToken    = "cost-admin-token"
)

// heartbeating are the activities that heartbeat (see cost.Options).
var heartbeating = cost.Options{Heartbeating: cost.Heartbeating}

// runner drives lifecycles on a running stack.
type runner struct {
	s    *localstack.Stack
	prog *loyalty.Program
	zone string
	loc  *time.Location
	now  time.Time
}

// history is what a workflow's histories show: its billable actions, and
// the activities it scheduled by type (which tell a scan's plan from its
// batches, and an email's second attempt from the bookkeeping around it).
type history struct {
	cost.Actions
	ran map[string]int
}

// upsellRun is one measured svip_upsell enrollment.
type upsellRun struct {
	path string
	h    history
	res  workflows.EnrollmentResult
}

// measured is what the run found.
type measured struct {
	activationNoOrder, activationConverted history
	trialConverted, trialEnded             history
	deferredStep                           history
	sweepRun                               history
	emptyRun                               map[string]history // calendar journey → a run with nobody due
	scanRun                                map[string]history // calendar journey → the run over the seeded members
	actedOn                                map[string]int
	maxMembers                             int                           // members per scan batch (the schedules' MaxMembers)
	calendar                               map[string]journey.Definition // the scanned journeys' live definitions
	upsell                                 []upsellRun
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
	shipped, err := shippedJourneys()
	if err != nil {
		return err
	}
	short, err := shortened(shipped)
	if err != nil {
		return err
	}
	journeyDir := filepath.Join(tmp, "journeys")
	if err := writeJourneys(journeyDir, short); err != nil {
		return err
	}
	upsell, err := shortUpsell()
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
		WebhookSecret: webhookSecret, AdminToken: adminToken, CodeSecret: "cost-coupon-code-secret",
		Journeys: os.DirFS(journeyDir), Brand: activities.Brand{Name: "Cost Shop", ShopURL: "https://shop.example.com"},
		FromEmail: "hello@example.com",
	}, log)
	if err != nil {
		return err
	}
	defer s.Stop()
	r := &runner{s: s, prog: prog, zone: zone, loc: loc, now: time.Now()}
	live, err := s.Activities.Journeys.LiveSet(ctx)
	if err != nil {
		return fmt.Errorf("live journeys: %w", err)
	}
	calendar, err := calendarJourneys(live)
	if err != nil {
		return err
	}
	m := &measured{emptyRun: map[string]history{}, scanRun: map[string]history{}, actedOn: map[string]int{}, calendar: map[string]journey.Definition{}}
	for _, def := range calendar {
		m.calendar[def.Name] = def
	}

	// Each hourly schedule's run with nobody due, before anyone exists.
	progress("empty runs of the hourly schedules")
	for _, def := range calendar {
		var res workflows.JourneyScanResult
		if m.emptyRun[def.Name], err = r.runSchedule(ctx, workflows.JourneyScanScheduleID(def.Name), &res); err != nil {
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
	measure := func(dst *history, f func(context.Context, string, bool) (history, error), member string, flag bool) {
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

	progress("svip_upsell, published through the API, one enrollment per path")
	if m.upsell, err = r.upsell(ctx, upsell); err != nil {
		return err
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
	for _, def := range calendar {
		name := def.Name
		do(func() error {
			var res workflows.JourneyScanResult
			h, err := r.runSchedule(ctx, workflows.JourneyScanScheduleID(name), &res)
			mu.Lock()
			defer mu.Unlock()
			m.scanRun[name], m.actedOn[name] = h, actedOn(res.Counts)
			if err != nil {
				return err
			}
			if m.actedOn[name] != seeded {
				progress("the %s scan acted on %d members, not the %d seeded (counts %v)", name, m.actedOn[name], seeded, res.Counts)
			}
			if name == birthday && res.Counts["deferred"] != 1 {
				return fmt.Errorf("the birthday scan deferred %d emails, want the capped member's one (counts %v): the scan reached it after its cap freed; run again", res.Counts["deferred"], res.Counts)
			}
			return nil
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// The birthday email the full cap held back, sent by its
	// JourneyDeferredStep. A birthday enrollment is numbered by the
	// member-local year; the key's year is the UTC year of the step's
	// moment (10:00 member-local today).
	local := r.now.In(loc)
	number := journeys.DayNumber(local, true)
	stepYear := time.Date(local.Year(), local.Month(), local.Day(), 10, 0, 0, 0, loc).UTC().Year()
	key := engine.Key(capped, birthday, number, "gift", stepYear)
	if m.deferredStep, err = r.enrollment(ctx, activities.JourneyDeferredStepWorkflowID(key)); err != nil {
		return fmt.Errorf("deferred birthday email: %w", err)
	}
	progress("done in %s", time.Since(started).Round(time.Second))
	total, err := report(out, m)
	if err != nil {
		return err
	}
	if rounded := roundCents(total); rounded > budget {
		return fmt.Errorf("the lifecycles cost %.2f actions/member/year, above the budget of %.2f: see the \"Per member and year\" table for the line that grew", rounded, budget)
	}
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "cost: "+format+"\n", args...)
}

// shippedJourneys is the text of the shipped journey files, by name.
func shippedJourneys() (map[string]string, error) {
	entries, err := fs.ReadDir(templates.Journeys, journeys.ShippedDir)
	if err != nil {
		return nil, fmt.Errorf("read the shipped journeys: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok || e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(templates.Journeys, path.Join(journeys.ShippedDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read the shipped journey %s: %w", name, err)
		}
		out[name] = string(b)
	}
	return out, nil
}

// edit is one change to a shipped journey's text.
type edit struct{ old, new string }

// shortened is the shipped set with the event-driven journeys' delays in
// seconds; the calendar journeys keep theirs (their members are seeded
// with dates that make a step due now). The trial's until_end wait keeps
// its two hours' grace, so a cancellation posted just after the end
// reaches the wait.
func shortened(shipped map[string]string) (map[string]string, error) {
	edits := map[string][]edit{
		activation: {
			{"delay: { for: 3d }", "delay: { for: " + nudgeDelay.String() + " }"},
			{"delay: { for: 4d }", "delay: { for: " + lastNudgeDelay.String() + " }"},
		},
		trial: {
			{"offset: -7d", "offset: " + (-reminderEarly).String()},
			{"offset: -1d", "offset: " + (-reminderLate).String()},
			{"delay: { for: 7d }", "delay: { for: " + offerWindow.String() + " }"},
		},
	}
	out := maps.Clone(shipped)
	for _, name := range []string{activation, trial} {
		src, ok := out[name]
		if !ok {
			return nil, fmt.Errorf("no shipped journey %s", name)
		}
		for _, e := range edits[name] {
			var err error
			if src, err = replaceOnce(src, e.old, e.new); err != nil {
				return nil, fmt.Errorf("shorten journey %s: %w", name, err)
			}
		}
		out[name] = src
	}
	return out, nil
}

// shortUpsell is the svip_upsell example with its two-day wait for a
// trial in seconds.
func shortUpsell() (string, error) {
	b, err := fs.ReadFile(templates.Journeys, upsellSource)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", upsellSource, err)
	}
	src, err := replaceOnce(string(b), "timeout: 2d", "timeout: "+upsellWait.String())
	if err != nil {
		return "", fmt.Errorf("shorten journey %s: %w", svipUpsell, err)
	}
	return src, nil
}

// replaceOnce replaces old, which src must hold exactly once: a changed
// shipped file must stop the run, not measure the days-long original.
func replaceOnce(src, old, new string) (string, error) {
	if n := strings.Count(src, old); n != 1 {
		return "", fmt.Errorf("%q occurs %d times, want once", old, n)
	}
	return strings.Replace(src, old, new, 1), nil
}

// writeJourneys writes set as the flat <name>.yaml files the stack
// publishes at start.
func writeJourneys(dir string, set map[string]string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, src := range set {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(src), 0o600); err != nil {
			return fmt.Errorf("write journey %s: %w", name, err)
		}
	}
	return nil
}

// calendarJourneys are the live journeys a scan drives (a date or
// inactivity trigger), in the report's order. The yearly model has a line
// for each, so a scanned journey it does not know stops the run.
func calendarJourneys(live []journeys.Live) ([]journey.Definition, error) {
	byName := map[string]journey.Definition{}
	for _, l := range live {
		if k := l.Definition.Trigger.Kind(); k == journey.TriggerDate || k == journey.TriggerInactivity {
			byName[l.Definition.Name] = l.Definition
		}
	}
	var out []journey.Definition
	for _, name := range calendarNames {
		def, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("the live set has no scanned journey %s", name)
		}
		out = append(out, def)
		delete(byName, name)
	}
	if len(byName) > 0 {
		names := make([]string, 0, len(byName))
		for name := range byName {
			names = append(names, name)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("scanned journeys %s have no line in the yearly model", strings.Join(names, ", "))
	}
	return out, nil
}

// activation runs one activation enrollment: without an order (welcome,
// nudge, last nudge) or converted by an order after the welcome.
func (r *runner) activation(ctx context.Context, member string, order bool) (history, error) {
	if err := r.post(ctx, registration(member, time.Now(), true, r.zone, "")); err != nil {
		return history{}, err
	}
	if order {
		welcome := engine.Key(member, activation, 1, "welcome", time.Now().UTC().Year())
		if err := r.waitSend(ctx, member, welcome); err != nil {
			return history{}, err
		}
		if err := r.post(ctx, orderPaid(member, "ord-"+member, "99.00", time.Now())); err != nil {
			return history{}, err
		}
	}
	want := 3 // welcome, nudge, last nudge
	if order {
		want = 1
	}
	h, _, err := r.enrollmentWithSends(ctx, workflows.JourneyWorkflowID(activation, member, 1), want)
	return h, err
}

// enrollmentWithSends is enrollment for a Journey workflow that must have
// made want sends: a step the run's timing skipped (a decision that came
// before it) would make the count a different path's.
func (r *runner) enrollmentWithSends(ctx context.Context, id string, want int) (history, workflows.EnrollmentResult, error) {
	h, res, err := r.journeyEnrollment(ctx, id)
	if err != nil {
		return h, res, err
	}
	if len(res.Sends) != want {
		return h, res, fmt.Errorf("workflow %s made %d sends, not the path's %d (was the machine too busy for delays in seconds?): %+v", id, len(res.Sends), want, res.Sends)
	}
	return h, res, nil
}

// journeyEnrollment is enrollment for a Journey workflow, with its result.
func (r *runner) journeyEnrollment(ctx context.Context, id string) (history, workflows.EnrollmentResult, error) {
	var res workflows.EnrollmentResult
	h, err := r.enrollment(ctx, id)
	if err != nil {
		return h, res, err
	}
	if err := r.s.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		return h, res, fmt.Errorf("result of %s: %w", id, err)
	}
	return h, res, nil
}

// trial runs one trial enrollment ending seconds from now: converted at
// its end, or cancelled at its end. The member has no email consent so
// that three emails in seconds do not meet the contact policy's cap (which
// in real time they do not): every send is still an activity.
func (r *runner) trial(ctx context.Context, member string, converted bool) (history, error) {
	ends := time.Now().Add(trialEndsIn)
	if err := r.post(ctx, registration(member, time.Now(), false, r.zone, ""), trialStarted(member, time.Now(), ends)); err != nil {
		return history{}, err
	}
	select {
	case <-time.After(time.Until(ends) + 500*time.Millisecond):
	case <-ctx.Done():
		return history{}, ctx.Err()
	}
	outcome := trialCancelled(member, time.Now())
	if converted {
		outcome = trialConverted(member, time.Now())
	}
	if err := r.post(ctx, outcome); err != nil {
		return history{}, err
	}
	// Two reminders, then the thank-you or the offer.
	h, _, err := r.enrollmentWithSends(ctx, workflows.JourneyWorkflowID(trial, member, 1), 3)
	return h, err
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

// waitStarted waits until the workflow exists.
func (r *runner) waitStarted(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if _, err := r.s.Temporal.DescribeWorkflowExecution(ctx, id, ""); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workflow %s did not start: %w", id, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// enrollment waits for the workflow (started by dispatch or an activity)
// to close successfully and counts its actions.
func (r *runner) enrollment(ctx context.Context, id string) (history, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		d, err := r.s.Temporal.DescribeWorkflowExecution(ctx, id, "")
		if err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil {
			if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED &&
				st != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
				return history{}, fmt.Errorf("workflow %s closed %s", id, st)
			}
			return r.actions(ctx, id, d.GetWorkflowExecutionInfo().GetExecution().GetRunId())
		}
		select {
		case <-ctx.Done():
			return history{}, fmt.Errorf("workflow %s did not close: %w", id, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runSchedule runs a schedule now, waits for its workflow's result and
// counts the run's actions.
func (r *runner) runSchedule(ctx context.Context, id string, result any) (history, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	run, err := r.s.RunSchedule(ctx, id)
	if err != nil {
		return history{}, err
	}
	if err := run.Get(ctx, result); err != nil {
		return history{}, fmt.Errorf("schedule %s: %w", id, err)
	}
	return r.actions(ctx, run.GetID(), run.GetRunID())
}

// actions counts a workflow's actions from the first run on, following
// continue-as-new to the runs it started.
func (r *runner) actions(ctx context.Context, id, runID string) (history, error) {
	// The run described last may be a continuation: start from the first.
	d, err := r.s.Temporal.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return history{}, err
	}
	if first := d.GetWorkflowExecutionInfo().GetFirstRunId(); first != "" {
		runID = first
	}
	total := history{ran: map[string]int{}}
	for runID != "" {
		var h []*historypb.HistoryEvent
		iter := r.s.Temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return history{}, fmt.Errorf("history of %s: %w", id, err)
			}
			h = append(h, ev)
			if ev.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
				total.ran[ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()]++
			}
		}
		total.Actions = total.Add(cost.Count(h, heartbeating))
		runID = ""
		if n := len(h); n > 0 {
			runID = h[n-1].GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		}
	}
	return total, nil
}

// scanBatch reads how many members a scheduled scan handles per activity
// from the birthday scan's schedule action.
func (r *runner) scanBatch(ctx context.Context) (int, error) {
	id := workflows.JourneyScanScheduleID(birthday)
	d, err := r.s.Temporal.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		return 0, fmt.Errorf("describe schedule %s: %w", id, err)
	}
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || len(action.Args) != 1 {
		return 0, fmt.Errorf("schedule %s's action is not one workflow with one argument", id)
	}
	p, ok := action.Args[0].(*commonpb.Payload)
	if !ok {
		return 0, fmt.Errorf("schedule %s's argument is a %T", id, action.Args[0])
	}
	var in workflows.JourneyScanInput
	if err := converter.GetDefaultDataConverter().FromPayload(p, &in); err != nil {
		return 0, fmt.Errorf("schedule %s's argument: %w", id, err)
	}
	if in.MaxMembers <= 0 {
		return 0, fmt.Errorf("schedule %s sets no MaxMembers: %+v", id, in)
	}
	return in.MaxMembers, nil
}

// actedOn is how many members a scan run acted on: each got the step's
// email sent, deferred or skipped for a reason (ScanJourney's counts
// "sent", "deferred" and "skipped:<code>").
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
		contact.Contact{Key: "seed-1", Journey: winback, At: frees},
		contact.Contact{Key: "seed-2", Journey: winback, At: frees.Add(time.Millisecond)})
	return member, r.s.Activities.Store.PutContact(ctx, member, st, version)
}
