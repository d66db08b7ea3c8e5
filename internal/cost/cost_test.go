package cost_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/internal/cost"
)

// history builds a run's events with ids 1, 2, … in order.
func history(evs ...*historypb.HistoryEvent) []*historypb.HistoryEvent {
	for i, ev := range evs {
		ev.EventId = int64(i + 1)
	}
	return evs
}

func ev(t enumspb.EventType) *historypb.HistoryEvent {
	return &historypb.HistoryEvent{EventType: t}
}

func started(scheduledBy, continuedFrom string, parent bool) *historypb.HistoryEvent {
	attrs := &historypb.WorkflowExecutionStartedEventAttributes{ContinuedExecutionRunId: continuedFrom}
	if scheduledBy != "" {
		attrs.SearchAttributes = &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{
			cost.ScheduledByAttribute: {Data: []byte(`"` + scheduledBy + `"`)},
		}}
	}
	if parent {
		attrs.ParentWorkflowExecution = &commonpb.WorkflowExecution{WorkflowId: "parent"}
	}
	return &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: attrs}}
}

func activityScheduled(typ string) *historypb.HistoryEvent {
	return &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
		Attributes: &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
			ActivityType: &commonpb.ActivityType{Name: typ},
		}}}
}

func activityStarted(scheduledID int64, attempt int32) *historypb.HistoryEvent {
	return &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED,
		Attributes: &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{
			ScheduledEventId: scheduledID, Attempt: attempt,
		}}}
}

// workflowTask is the three events of a workflow task, which cost nothing.
func workflowTask() []*historypb.HistoryEvent {
	return []*historypb.HistoryEvent{
		ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED), ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED), ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
	}
}

func join(parts ...[]*historypb.HistoryEvent) []*historypb.HistoryEvent {
	var out []*historypb.HistoryEvent
	for _, p := range parts {
		out = append(out, p...)
	}
	return history(out...)
}

func one(evs ...*historypb.HistoryEvent) []*historypb.HistoryEvent { return evs }

func TestCount(t *testing.T) {
	heartbeating := cost.Options{Heartbeating: []string{"ScanCalendar", "SweepLedger"}}
	tests := []struct {
		name    string
		history []*historypb.HistoryEvent
		opt     cost.Options
		want    cost.Actions
		total   int
	}{
		{
			name: "activation converted: start, two activities, a timer cancelled by a signal, the end activity",
			history: join(one(started("", "", false)), workflowTask(),
				one(activityScheduled("Reward"), activityStarted(5, 1), ev(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)), workflowTask(),
				one(activityScheduled("SendEmail"), activityStarted(11, 1), ev(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)), workflowTask(),
				one(ev(enumspb.EVENT_TYPE_TIMER_STARTED), ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)), workflowTask(),
				one(ev(enumspb.EVENT_TYPE_TIMER_CANCELED), activityScheduled("EndEnrollment"), activityStarted(25, 1), ev(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)),
				workflowTask(), one(ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED))),
			want:  cost.Actions{WorkflowStarts: 1, Activities: 3, Timers: 1, Signals: 1},
			total: 6,
		},
		{
			name: "retries: an activity closed on its third attempt is two retries",
			history: join(one(started("", "", false)), workflowTask(),
				one(activityScheduled("SendEmail"), activityStarted(5, 3), ev(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED))),
			want:  cost.Actions{WorkflowStarts: 1, Activities: 1, ActivityRetries: 2},
			total: 4,
		},
		{
			name: "a schedule-started scan: the schedule's action, and a heartbeat per attempt of the heartbeating activity",
			history: join(one(started("journey-birthday", "", false)), workflowTask(),
				one(activityScheduled("ScanCalendar"), activityStarted(5, 2), ev(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)), workflowTask(),
				one(activityScheduled("ScanCalendar"), activityStarted(11, 1), ev(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED))),
			opt:   heartbeating,
			want:  cost.Actions{WorkflowStarts: 1, ScheduleActions: 1, Activities: 2, ActivityRetries: 1, Heartbeats: 3},
			total: 8,
		},
		{
			name: "a heartbeating activity not yet started has no heartbeat",
			history: join(one(started("", "", false)), workflowTask(),
				one(activityScheduled("SweepLedger"))),
			opt:   heartbeating,
			want:  cost.Actions{WorkflowStarts: 1, Activities: 1},
			total: 2,
		},
		{
			name: "the run a scheduled run continued as: its start counts, the schedule's action does not again",
			history: join(one(started("journey-winback", "run-1", false)), workflowTask(),
				one(activityScheduled("ScanCalendar"), activityStarted(5, 1), ev(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)),
				workflowTask(), one(ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW))),
			opt:   heartbeating,
			want:  cost.Actions{WorkflowStarts: 1, Activities: 1, Heartbeats: 1},
			total: 3,
		},
		{
			name: "markers, upserts, signals sent, children; the child's own start is the parent's",
			history: join(one(started("", "", false)), workflowTask(),
				one(ev(enumspb.EVENT_TYPE_MARKER_RECORDED), ev(enumspb.EVENT_TYPE_MARKER_RECORDED),
					ev(enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES),
					ev(enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED),
					ev(enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED))),
			want:  cost.Actions{WorkflowStarts: 1, Markers: 2, SearchAttributes: 1, ExternalSignals: 1, ChildWorkflows: 1},
			total: 6,
		},
		{
			name:    "a child run",
			history: join(one(started("", "", true)), workflowTask(), one(ev(enumspb.EVENT_TYPE_TIMER_STARTED))),
			want:    cost.Actions{Timers: 1},
			total:   1,
		},
		{
			name: "workflow tasks, completions, timer fires and failures cost nothing",
			history: join(one(started("", "", false)), workflowTask(), one(ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED),
				ev(enumspb.EVENT_TYPE_TIMER_FIRED), ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED))),
			want:  cost.Actions{WorkflowStarts: 1},
			total: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cost.Count(tc.history, tc.opt)
			if got != tc.want {
				t.Errorf("Count = %+v, want %+v", got, tc.want)
			}
			if got.Total() != tc.total {
				t.Errorf("Total = %d, want %d (%s)", got.Total(), tc.total, got)
			}
		})
	}
}

func TestActionsAddAndString(t *testing.T) {
	a := cost.Actions{WorkflowStarts: 1, Activities: 2, Timers: 1}
	b := cost.Actions{WorkflowStarts: 1, ScheduleActions: 1, Heartbeats: 1}
	sum := a.Add(b)
	if got, want := sum.Total(), a.Total()+b.Total(); got != want {
		t.Errorf("Add total = %d, want %d", got, want)
	}
	if got, want := sum.String(), "start 2, schedule 1, activities 2, heartbeats 1, timers 1"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := (cost.Actions{}).String(); got != "none" {
		t.Errorf("zero String = %q", got)
	}
}

func TestMonthlyCost(t *testing.T) {
	tests := []struct {
		name    string
		actions float64
		want    float64
	}{
		{"nothing", 0, 0},
		{"within the first band", 2e6, 100},
		{"the first band exactly", 5e6, 250},
		{"into the second band", 7e6, 250 + 2*45},
		{"into the third band", 12e6, 250 + 5*45 + 2*40},
		{"all bands", 200e6, 250 + 225 + 400 + 30*35 + 50*30 + 100*25},
		{"beyond the table, at its last rate", 250e6, 250 + 225 + 400 + 1050 + 1500 + 2500 + 50*25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cost.MonthlyCost(tc.actions, cost.ListPrice); math.Abs(got-tc.want) > 1e-6 {
				t.Errorf("MonthlyCost(%g) = %g, want %g", tc.actions, got, tc.want)
			}
		})
	}
	// A year is priced month by month: 120M a year is 10M a month.
	if got, want := cost.YearlyCost(120e6, cost.ListPrice), 12*(250.0+5*45); math.Abs(got-want) > 1e-6 {
		t.Errorf("YearlyCost(120M) = %g, want %g", got, want)
	}
}

// TestCountRecordedHistories counts histories the dev server recorded
// (workflows/testdata, see internal/localstack's -update-history): a
// schedule-started scan is recognised as such from its real start event.
func TestCountRecordedHistories(t *testing.T) {
	load := func(name string) []*historypb.HistoryEvent {
		t.Helper()
		f, err := os.Open(filepath.Join("..", "..", "workflows", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return h.GetEvents()
	}
	scan := cost.Count(load("calendar_scan_birthday.json"), cost.Options{Heartbeating: []string{"ScanCalendar"}})
	if scan.WorkflowStarts != 1 || scan.ScheduleActions != 1 || scan.Activities < 1 || scan.Heartbeats < scan.Activities {
		t.Errorf("birthday scan = %+v, want a schedule-started run with heartbeating activities", scan)
	}
	act := cost.Count(load("activation_converted.json"), cost.Options{})
	if act.WorkflowStarts != 1 || act.ScheduleActions != 0 || act.Signals != 1 || act.Activities < 3 {
		t.Errorf("activation converted = %+v, want one start, one signal, at least 3 activities", act)
	}
}
