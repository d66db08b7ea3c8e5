// Package cost counts what Temporal Cloud bills a workflow execution for —
// actions — from its event history, and prices actions at Temporal
// Cloud's list price. cmd/cost runs every lifecycle on the local stack and
// feeds the histories of the dev server through Count.
//
// The rules are Temporal Cloud's published ones, as far as a history shows
// them: a workflow started (and, when a Schedule started it, the
// Schedule's action), each activity scheduled and each of its retries, a
// timer started, a signal received or sent, a marker recorded (side
// effect, version, local activity), a search-attribute upsert, a child
// workflow started. Continue-as-new starts a new run whose start counts
// like any other. Heartbeats are billed but never reach the history; see
// Options.Heartbeating.
package cost

import (
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// ScheduledByAttribute is the search attribute a Temporal Schedule sets
// on the workflows it starts.
const ScheduledByAttribute = "TemporalScheduledById"

// Actions are the billable actions of one or more workflow runs, by kind.
type Actions struct {
	WorkflowStarts  int // runs started, continued-as-new runs included
	ScheduleActions int // runs a Schedule started: its action is billed too
	Activities      int // activities scheduled
	ActivityRetries int // attempts after an activity's first
	// Heartbeats is an estimate: one per attempt of an activity named in
	// Options.Heartbeating.
	Heartbeats       int
	Timers           int // timers started
	Signals          int // signals received
	ExternalSignals  int // signals sent to other workflows
	Markers          int // side effects, versions, local activities
	SearchAttributes int // search-attribute upserts
	ChildWorkflows   int // child workflows started
}

// Total is the number of billable actions.
func (a Actions) Total() int {
	return a.WorkflowStarts + a.ScheduleActions + a.Activities + a.ActivityRetries + a.Heartbeats +
		a.Timers + a.Signals + a.ExternalSignals + a.Markers + a.SearchAttributes + a.ChildWorkflows
}

// Add is the sum of a and b.
func (a Actions) Add(b Actions) Actions {
	return Actions{
		WorkflowStarts: a.WorkflowStarts + b.WorkflowStarts, ScheduleActions: a.ScheduleActions + b.ScheduleActions,
		Activities: a.Activities + b.Activities, ActivityRetries: a.ActivityRetries + b.ActivityRetries,
		Heartbeats: a.Heartbeats + b.Heartbeats, Timers: a.Timers + b.Timers, Signals: a.Signals + b.Signals,
		ExternalSignals: a.ExternalSignals + b.ExternalSignals, Markers: a.Markers + b.Markers,
		SearchAttributes: a.SearchAttributes + b.SearchAttributes, ChildWorkflows: a.ChildWorkflows + b.ChildWorkflows,
	}
}

// String lists the non-zero kinds, e.g. "start 1, activities 5, timers 2".
func (a Actions) String() string {
	var parts []string
	for _, k := range []struct {
		name string
		n    int
	}{
		{"start", a.WorkflowStarts}, {"schedule", a.ScheduleActions}, {"activities", a.Activities},
		{"retries", a.ActivityRetries}, {"heartbeats", a.Heartbeats}, {"timers", a.Timers},
		{"signals", a.Signals}, {"signals sent", a.ExternalSignals}, {"markers", a.Markers},
		{"search attributes", a.SearchAttributes}, {"children", a.ChildWorkflows},
	} {
		if k.n != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k.name, k.n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Options adjust what Count cannot read from a history.
type Options struct {
	// Heartbeating names the activity types that heartbeat. Heartbeats
	// are billed but not recorded in the history; the SDK sends an
	// activity's first heartbeat at once and throttles the rest (to 80%
	// of the heartbeat timeout), so each attempt of such an activity is
	// counted as one heartbeat — a floor, exact for attempts shorter than
	// the throttle interval.
	Heartbeating []string
}

// Heartbeating names memberflow's activities that heartbeat: the scans'
// and the ledger sweep's batches. Options{Heartbeating: Heartbeating} is
// how memberflow's runs are counted (make cost, the simulator).
var Heartbeating = []string{"ScanJourney", "SweepLedger"}

// Count counts the billable actions in one run's history, events in
// order. A run started by a Schedule (its start carries the
// TemporalScheduledById search attribute) adds the Schedule's action; a
// child run's start is counted where its parent started it.
func Count(history []*historypb.HistoryEvent, opt Options) Actions {
	heartbeats := map[string]bool{}
	for _, name := range opt.Heartbeating {
		heartbeats[name] = true
	}
	var a Actions
	scheduledType := map[int64]string{} // activity type by its scheduled event id
	for _, ev := range history {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			attrs := ev.GetWorkflowExecutionStartedEventAttributes()
			if attrs.GetParentWorkflowExecution() != nil {
				break // the parent's StartChildWorkflowExecutionInitiated
			}
			a.WorkflowStarts++
			_, scheduled := attrs.GetSearchAttributes().GetIndexedFields()[ScheduledByAttribute]
			// A continued run inherits the search attribute; only the
			// first run was the Schedule's action.
			if scheduled && attrs.GetContinuedExecutionRunId() == "" {
				a.ScheduleActions++
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a.Activities++
			scheduledType[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			// Recorded once, when the activity closes, with the attempt
			// that closed it: earlier attempts were retries.
			attrs := ev.GetActivityTaskStartedEventAttributes()
			attempts := max(int(attrs.GetAttempt()), 1)
			a.ActivityRetries += attempts - 1
			if heartbeats[scheduledType[attrs.GetScheduledEventId()]] {
				a.Heartbeats += attempts
			}
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			a.Timers++
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			a.Signals++
		case enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
			a.ExternalSignals++
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			a.Markers++
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			a.SearchAttributes++
		case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			a.ChildWorkflows++
		}
	}
	return a
}

// PriceTier is one band of a graduated price: PerMillion dollars per
// million actions for a month's actions up to UpTo (the previous band's
// UpTo is where it starts).
type PriceTier struct {
	UpTo       float64
	PerMillion float64
}

// ListPrice is Temporal Cloud's published list price per million actions
// by monthly volume.
var ListPrice = []PriceTier{
	{UpTo: 5e6, PerMillion: 50},
	{UpTo: 10e6, PerMillion: 45},
	{UpTo: 20e6, PerMillion: 40},
	{UpTo: 50e6, PerMillion: 35},
	{UpTo: 100e6, PerMillion: 30},
	{UpTo: 200e6, PerMillion: 25},
}

// MonthlyCost prices a month's actions band by band; actions beyond the
// last band's UpTo are priced at the last band's rate.
func MonthlyCost(actions float64, tiers []PriceTier) float64 {
	total, from := 0.0, 0.0
	for i, t := range tiers {
		upTo := t.UpTo
		if i == len(tiers)-1 {
			upTo = max(upTo, actions)
		}
		if actions <= from {
			break
		}
		n := min(actions, upTo) - from
		total += n / 1e6 * t.PerMillion
		from = upTo
	}
	return total
}

// YearlyCost is twelve months of actionsPerYear/12 each, priced monthly.
func YearlyCost(actionsPerYear float64, tiers []PriceTier) float64 {
	return 12 * MonthlyCost(actionsPerYear/12, tiers)
}
