package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// JourneyScanWorkflow is the workflow type of a journey's scan.
const JourneyScanWorkflow = "JourneyScan"

// JourneyScanScheduleID names the Temporal Schedule that scans a journey
// with a date or inactivity trigger; the workflows it starts are named
// after it.
func JourneyScanScheduleID(name string) string { return "scan/" + name }

// BroadcastScheduleID names the Temporal Schedule of a broadcast journey.
func BroadcastScheduleID(name string) string { return "broadcast/" + name }

// JourneyScanInput configures one scan run of a journey. At, Plan and
// Cursor are set only when a long run continues as new.
type JourneyScanInput struct {
	Journey string `json:"journey"`
	// CatchUp is how far back a run looks (default DefaultCatchUp): a run
	// that was skipped or late loses nobody, and the step keys make the
	// overlap between runs harmless.
	CatchUp    time.Duration                `json:"catch_up,omitempty"`
	PageSize   int                          `json:"page_size,omitempty"`
	MaxMembers int                          `json:"max_members,omitempty"`
	At         time.Time                    `json:"at,omitzero"`
	Plan       *activities.JourneyScanPlan  `json:"plan,omitempty"`
	Cursor     activities.JourneyScanCursor `json:"cursor"`
}

// JourneyScanResult sums a run's batches.
type JourneyScanResult struct {
	Partitions []string       `json:"partitions"`
	Batches    int            `json:"batches"`
	Scanned    int            `json:"scanned"`
	Counts     map[string]int `json:"counts"`
	// Rate is a broadcast pass's pace (entries a second).
	Rate float64 `json:"rate,omitempty"`
}

// JourneyScan runs one journey's scan: the plan (the index partitions
// that can hold members due in the window, read from the journey's live
// state and versions) and then its batches, continuing as new every
// batchesPerRun batches. It serves date, inactivity and broadcast
// triggers alike; the journey is data, named by its input.
func JourneyScan(ctx workflow.Context, in JourneyScanInput) (JourneyScanResult, error) {
	ctx = workflow.WithActivityOptions(ctx, ScanActivityOptions())
	res, next, err := RunJourneyScan(TemporalRuntime{Ctx: ctx}, in)
	if err == nil && next != nil {
		err = workflow.NewContinueAsNewError(ctx, JourneyScan, *next)
	}
	return res, err
}

// RunJourneyScan is JourneyScan on rt: the plan, then the batches. After
// batchesPerRun batches it stops and returns the input the run continues
// as new with (nil when it is done).
func RunJourneyScan(rt Runtime, in JourneyScanInput) (JourneyScanResult, *JourneyScanInput, error) {
	if in.At.IsZero() {
		in.At = rt.Now()
	}
	if in.CatchUp <= 0 {
		in.CatchUp = DefaultCatchUp
	}
	var a *activities.Activities
	req := activities.JourneyScanRequest{Journey: in.Journey, At: in.At, CatchUp: in.CatchUp, PageSize: in.PageSize, MaxMembers: in.MaxMembers}
	if in.Plan == nil {
		var plan activities.JourneyScanPlan
		if err := rt.ExecuteActivity(a.PlanJourneyScan, req, &plan); err != nil {
			return JourneyScanResult{}, nil, err
		}
		in.Plan = &plan
	}
	req.Plan = *in.Plan
	res := JourneyScanResult{Partitions: in.Plan.Partitions, Counts: map[string]int{}}
	if len(in.Plan.Partitions) == 0 {
		return res, nil, nil
	}
	req.Cursor = in.Cursor
	for {
		var out activities.JourneyScanResult
		if err := rt.ExecuteActivity(a.ScanJourney, req, &out); err != nil {
			return res, nil, err
		}
		res.Batches++
		res.Scanned += out.Scanned
		res.Rate = out.Rate
		for _, k := range sortedKeys(out.Counts) {
			res.Counts[k] += out.Counts[k]
		}
		if out.Done {
			return res, nil, nil
		}
		req.Cursor = out.Cursor
		if res.Batches >= batchesPerRun {
			next := in
			next.Cursor = req.Cursor
			return res, &next, nil
		}
	}
}

// JourneyDeferredStep runs again a step a scan ran whose email the
// contact policy deferred: it sleeps until the slot and asks the step
// executor again (same key) until the email is sent or skipped, then
// ends the enrollment when that was its last step (or its goal was found
// reached meanwhile). It exists only for steps that must wait. A step
// held by a pause meanwhile is left to the scan, which runs held steps
// on resume.
func JourneyDeferredStep(ctx workflow.Context, in activities.JourneyDeferredStepInput) (activities.StepResult, error) {
	return RunDeferredStep(TemporalRuntime{Ctx: activityOptions(ctx)}, in)
}

// RunDeferredStep is JourneyDeferredStep on rt.
func RunDeferredStep(rt Runtime, in activities.JourneyDeferredStepInput) (activities.StepResult, error) {
	var a *activities.Activities
	req := in.Request
	// The step ends the enrollment in the same activity when it is the
	// last (or exits); a result of an earlier release leaves it to the
	// FinishEnrollment below.
	req.FinishAt = req.Step
	until := in.Until
	for {
		if wait := until.Sub(rt.Now()); wait > 0 {
			if err := rt.Sleep(wait); err != nil {
				return activities.StepResult{}, err
			}
		}
		req.At = rt.Now()
		var out activities.StepResult
		if err := rt.ExecuteActivity(a.RunStep, req, &out); err != nil {
			return out, err
		}
		if !out.DeferUntil.IsZero() && out.Exit == "" && !out.Held {
			until = out.DeferUntil
			continue
		}
		fin := activities.FinishRequest{StepRequest: req, Status: loyalty.EnrollmentCompleted, Reason: "completed"}
		fin.FinishAt = ""
		switch {
		case out.Held, out.Finished:
			return out, nil
		case out.Exit != "":
			fin.Status, fin.Reason = loyalty.EnrollmentExited, out.Exit
		case out.Next != journey.End:
			return out, nil
		}
		return out, rt.ExecuteActivity(a.FinishEnrollment, fin, nil)
	}
}

// scanned reports whether a journey's trigger is one a scan drives.
func scanned(def journey.Definition) bool {
	k := def.Trigger.Kind()
	return k == journey.TriggerDate || k == journey.TriggerInactivity
}

// EnsureJourneySchedules keeps one Temporal Schedule per journey of the
// live set that a scan drives: `scan/<name>` every `every` (jittered by a
// twelfth, overlaps skipped) for a date or inactivity trigger, and
// `broadcast/<name>` at the broadcast's time of day on its days in
// EarliestZone, where a day begins first, for a broadcast (each member's
// enrollment then sleeps to their own local time). It creates or updates
// them (spec and action follow the definition), keeps those of paused
// journeys (the scan holds their members), and deletes the schedules of
// journeys that left the set or lost such a trigger, and those of the
// first engine (CalendarScheduleID). journeys.Service.Changed calls it
// after every publish and status change, and the worker at start-up.
func EnsureJourneySchedules(ctx context.Context, c ScheduleClient, taskQueue string, live []journeys.Live, every, catchUp time.Duration) error {
	sc := c.ScheduleClient()
	want := map[string]client.ScheduleOptions{}
	for _, l := range live {
		def := l.Definition
		switch {
		case scanned(def):
			id := JourneyScanScheduleID(def.Name)
			want[id] = client.ScheduleOptions{
				ID:      id,
				Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}, Jitter: every / 12},
				Action:  scanAction(id, taskQueue, JourneyScanInput{Journey: def.Name, CatchUp: catchUp, PageSize: 100, MaxMembers: 2000}),
				Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			}
		case def.Trigger.Broadcast != nil:
			spec, err := BroadcastSpec(*def.Trigger.Broadcast)
			if err != nil {
				return fmt.Errorf("schedule %s: %w", def.Name, err)
			}
			id := BroadcastScheduleID(def.Name)
			want[id] = client.ScheduleOptions{
				ID:     id,
				Spec:   spec,
				Action: scanAction(id, taskQueue, JourneyScanInput{Journey: def.Name, CatchUp: catchUp, PageSize: 100, MaxMembers: 2000}),
				// A pass still running when the next occurrence comes
				// (a daily broadcast to millions) finishes first.
				Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
			}
		}
	}
	for _, id := range sortedIDs(want) {
		if err := ensureSchedule(ctx, sc, want[id]); err != nil {
			return err
		}
	}
	it, err := sc.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return fmt.Errorf("list schedules: %w", err)
	}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return fmt.Errorf("list schedules: %w", err)
		}
		ours := strings.HasPrefix(e.ID, JourneyScanScheduleID("")) || strings.HasPrefix(e.ID, BroadcastScheduleID("")) || strings.HasPrefix(e.ID, CalendarScheduleID(""))
		if _, keep := want[e.ID]; !ours || keep {
			continue
		}
		if err := sc.GetHandle(ctx, e.ID).Delete(ctx); err != nil {
			return fmt.Errorf("delete schedule %s: %w", e.ID, err)
		}
	}
	return nil
}

// ensureSchedule creates the schedule o describes, or, when it exists,
// updates its spec, action and overlap policy to o's (its state, paused or
// not, stays).
func ensureSchedule(ctx context.Context, sc client.ScheduleClient, o client.ScheduleOptions) error {
	_, err := sc.Create(ctx, o)
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", o.ID, err)
	}
	err = sc.GetHandle(ctx, o.ID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			spec := o.Spec
			s.Spec, s.Action = &spec, o.Action
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap = o.Overlap
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", o.ID, err)
	}
	return nil
}

func scanAction(id, taskQueue string, in JourneyScanInput) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID: id, Workflow: JourneyScanWorkflow, TaskQueue: taskQueue, Args: []any{in},
		WorkflowRunTimeout: 55 * time.Minute,
	}
}

// BroadcastSpec is when a broadcast's pass starts: its time of day, in
// activities.EarliestZone, on its days — every day, a weekday, a day of
// the month, or the one date.
func BroadcastSpec(b journey.Broadcast) (client.ScheduleSpec, error) {
	h, m, err := journey.ParseClock(b.At)
	if err != nil {
		return client.ScheduleSpec{}, fmt.Errorf("broadcast at: %w", err)
	}
	cal := client.ScheduleCalendarSpec{
		Hour:   []client.ScheduleRange{{Start: h}},
		Minute: []client.ScheduleRange{{Start: m}},
		Second: []client.ScheduleRange{{Start: 0}},
	}
	switch b.Every {
	case journey.EveryDay:
	case journey.EveryWeek:
		wd := -1
		for i, name := range journey.Weekdays {
			if strings.EqualFold(name, b.Weekday) {
				wd = (i + 1) % 7 // Temporal counts from Sunday (0)
			}
		}
		if wd < 0 {
			return client.ScheduleSpec{}, fmt.Errorf("broadcast weekday %q is not one of %s", b.Weekday, strings.Join(journey.Weekdays, ", "))
		}
		cal.DayOfWeek = []client.ScheduleRange{{Start: wd}}
	case journey.EveryMonth:
		cal.DayOfMonth = []client.ScheduleRange{{Start: b.Day}}
	case journey.EveryOnce:
		d, err := time.Parse(time.DateOnly, b.Date)
		if err != nil {
			return client.ScheduleSpec{}, fmt.Errorf("broadcast date %q: %w", b.Date, err)
		}
		cal.Year = []client.ScheduleRange{{Start: d.Year()}}
		cal.Month = []client.ScheduleRange{{Start: int(d.Month())}}
		cal.DayOfMonth = []client.ScheduleRange{{Start: d.Day()}}
	default:
		return client.ScheduleSpec{}, fmt.Errorf("broadcast every %q is not once, day, week or month", b.Every)
	}
	return client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{cal}, TimeZoneName: activities.EarliestZone}, nil
}

func sortedIDs(m map[string]client.ScheduleOptions) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
