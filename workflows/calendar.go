package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
)

// CalendarJourneys are the journeys a calendar scan drives: no workflow
// per member sleeps for months; an hourly scan finds the members whose
// step is due through an index and acts on them in batches.
var CalendarJourneys = []string{journey.Birthday, journey.TierExpiry, journey.Winback}

// CalendarScheduleID names the Temporal Schedule of a calendar journey;
// the workflows it starts are named after it.
func CalendarScheduleID(name string) string { return "journey-" + name }

// CalendarScanInput configures one scan run. At and Cursor are set only
// when a long run continues as new.
type CalendarScanInput struct {
	Definition journey.Definition `json:"definition"`
	// Retired are earlier versions of the definition that open
	// enrollments may still have pinned: their steps' timing is scanned
	// too, so an edit that moves a step does not strand them.
	Retired []journey.Definition `json:"retired,omitempty"`
	// CatchUp is how far back a run looks: steps due in (now − CatchUp,
	// now] are acted on, so a run that was skipped or late (jitter, an
	// outage shorter than CatchUp) loses nobody. Keys make the overlap
	// between runs harmless.
	CatchUp    time.Duration         `json:"catch_up"`
	PageSize   int                   `json:"page_size"`
	MaxMembers int                   `json:"max_members"`
	At         time.Time             `json:"at,omitzero"`
	Cursor     activities.ScanCursor `json:"cursor"`
}

// CalendarScanResult sums a run's batches.
type CalendarScanResult struct {
	Partitions []string       `json:"partitions"`
	Batches    int            `json:"batches"`
	Scanned    int            `json:"scanned"`
	Counts     map[string]int `json:"counts"`
}

// DefaultCatchUp is the scans' catch-up window.
const DefaultCatchUp = 24 * time.Hour

// batchesPerRun bounds a run's history; a larger run continues as new.
const batchesPerRun = 200

// CalendarScan runs one calendar journey's scan: it plans the index
// partitions that can hold members due in the window (pure date
// arithmetic in UTC; the activity checks each member's step in their own
// time zone) and runs them batch by batch.
func CalendarScan(ctx workflow.Context, in CalendarScanInput) (CalendarScanResult, error) {
	ctx = workflow.WithActivityOptions(ctx, heartbeating(20*time.Minute, 2*time.Minute, 10))
	if in.At.IsZero() {
		in.At = workflow.Now(ctx)
	}
	if in.CatchUp <= 0 {
		in.CatchUp = DefaultCatchUp
	}
	parts := PlanPartitions(in.Definition, in.At, in.CatchUp)
	for _, d := range in.Retired {
		parts = append(parts, PlanPartitions(d, in.At, in.CatchUp)...)
	}
	slices.Sort(parts)
	res := CalendarScanResult{Partitions: slices.Compact(parts), Counts: map[string]int{}}
	if !in.Definition.Enabled || len(res.Partitions) == 0 {
		return res, nil
	}
	var a *activities.Activities
	cursor := in.Cursor
	for {
		var out activities.ScanResult
		err := workflow.ExecuteActivity(ctx, a.ScanCalendar, activities.ScanRequest{
			Definition: in.Definition, At: in.At, CatchUp: in.CatchUp, Partitions: res.Partitions,
			Cursor: cursor, PageSize: in.PageSize, MaxMembers: in.MaxMembers,
		}).Get(ctx, &out)
		if err != nil {
			return res, err
		}
		res.Batches++
		res.Scanned += out.Scanned
		for _, k := range sortedKeys(out.Counts) {
			res.Counts[k] += out.Counts[k]
		}
		if out.Done {
			return res, nil
		}
		cursor = out.Cursor
		if res.Batches >= batchesPerRun {
			next := in
			next.Cursor = cursor
			return res, workflow.NewContinueAsNewError(ctx, CalendarScan, next)
		}
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	// The keys are sorted before use, so the map's order does not leak.
	//workflowcheck:ignore
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// PlanPartitions lists the index partitions that can hold members whose
// step of def falls in (at − catchUp, at], one day wider on each side
// because a member's local day differs from the UTC day by up to 14
// hours. The result is sorted and has no duplicates.
func PlanPartitions(def journey.Definition, at time.Time, catchUp time.Duration) []string {
	const day = 24 * time.Hour
	from, to := at.Add(-catchUp-day), at.Add(day)
	var parts []string
	addDays := func(lo, hi time.Time, f func(time.Time) []string) {
		for d := lo.UTC().Truncate(day); !d.After(hi); d = d.Add(day) {
			parts = append(parts, f(d)...)
		}
	}
	dayKey := func(d time.Time) []string { return []string{d.Format(time.DateOnly)} }
	switch def.Name {
	case journey.Birthday:
		addDays(from, to, func(d time.Time) []string {
			out := []string{d.Format("0102")}
			// 29 February birthdays are celebrated on the 28th in common years.
			if d.Month() == time.February && d.Day() == 28 && !isLeap(d.Year()) {
				out = append(out, "0229")
			}
			return out
		})
	case journey.TierExpiry:
		for _, s := range def.Steps {
			addDays(from.Add(s.Before.D()), to.Add(s.Before.D()), dayKey)
		}
	case journey.Winback:
		for _, s := range def.Steps {
			addDays(from.Add(-s.After.D()), to.Add(-s.After.D()), dayKey)
		}
	}
	slices.Sort(parts)
	return slices.Compact(parts)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// DeferredSend sends one calendar step's email that the contact policy
// deferred: it sleeps until the slot and asks again, until the email is
// sent or skipped. It exists only for emails that must wait.
func DeferredSend(ctx workflow.Context, in activities.DeferredSendInput) (activities.SendEmailResult, error) {
	req := in.Request
	e := newEnrollment(ctx, req.MemberID, req.Journey, req.Enrollment)
	if _, err := e.until(in.Until, func() bool { return false }); err != nil {
		return activities.SendEmailResult{}, err
	}
	return e.send(req, nil)
}

// EnsureCalendarSchedules creates or updates the hourly, jittered
// schedule of each calendar journey, its action carrying the journey's
// current definition; a disabled journey's schedule is paused. Overlapping
// runs are skipped.
func EnsureCalendarSchedules(ctx context.Context, c ScheduleClient, taskQueue string, defs journey.Set, every, catchUp time.Duration) error {
	for _, name := range CalendarJourneys {
		def, ok := defs[name]
		if !ok {
			return fmt.Errorf("schedule %s: no definition", name)
		}
		id := CalendarScheduleID(name)
		input := CalendarScanInput{Definition: def, CatchUp: catchUp, PageSize: 100, MaxMembers: 2000}
		action := func(in CalendarScanInput) *client.ScheduleWorkflowAction {
			return &client.ScheduleWorkflowAction{
				ID: id, Workflow: CalendarScan, TaskQueue: taskQueue, Args: []any{in},
				WorkflowRunTimeout: 55 * time.Minute,
			}
		}
		_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID:      id,
			Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}, Jitter: every / 12},
			Action:  action(input),
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			Paused:  !def.Enabled,
		})
		if err == nil {
			continue
		}
		if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			return fmt.Errorf("create schedule %s: %w", id, err)
		}
		// It exists: carry the current definition (an edit reaches the
		// next run) and the on/off switch.
		err = c.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
			DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule
				s.Action = action(withRetired(input, previousInput(s.Action)))
				s.Spec = &client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}, Jitter: every / 12}
				if s.State == nil {
					s.State = &client.ScheduleState{}
				}
				s.State.Paused = !def.Enabled
				return &client.ScheduleUpdate{Schedule: &s}, nil
			},
		})
		if err != nil {
			return fmt.Errorf("update schedule %s: %w", id, err)
		}
	}
	return nil
}

// maxRetired bounds how many earlier definitions a schedule keeps
// scanning for. Open enrollments pinned to an older one than that (a
// definition edited more than this many times within a win-back's year)
// meet their steps only where the timings coincide.
const maxRetired = 8

// withRetired carries the previous run's definition, and those it kept,
// into in when the definition changed.
func withRetired(in CalendarScanInput, prev *CalendarScanInput) CalendarScanInput {
	if prev == nil {
		return in
	}
	cur := in.Definition.JSON()
	seen := map[string]bool{cur: true}
	for _, d := range append([]journey.Definition{prev.Definition}, prev.Retired...) {
		if j := d.JSON(); d.Name != "" && !seen[j] && len(in.Retired) < maxRetired {
			seen[j] = true
			in.Retired = append(in.Retired, d)
		}
	}
	return in
}

// previousInput decodes the input of an existing schedule's action; nil
// when it cannot be read (a schedule from before inputs had this shape).
func previousInput(a client.ScheduleAction) *CalendarScanInput {
	wa, ok := a.(*client.ScheduleWorkflowAction)
	if !ok || len(wa.Args) != 1 {
		return nil
	}
	p, ok := wa.Args[0].(*commonpb.Payload)
	if !ok {
		return nil
	}
	var in CalendarScanInput
	if err := converter.GetDefaultDataConverter().FromPayload(p, &in); err != nil {
		return nil
	}
	return &in
}
