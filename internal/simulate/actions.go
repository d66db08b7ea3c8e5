package simulate

import (
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/memberflow/memberflow/internal/cost"
)

// history is the part of a workflow run's Temporal history that billing
// reads: the events internal/cost counts actions from. Each simulated run
// writes one and hands it to cost.Count when it ends, so the simulator's
// figure is `make cost`'s accounting, not a second one.
type history struct {
	events []*historypb.HistoryEvent
}

// countOptions are the billing options of memberflow's runs.
var countOptions = cost.Options{Heartbeating: cost.Heartbeating}

// newHistory starts a run's history: scheduled says a Schedule started
// it (its action is billed too), continued that it continues an earlier
// run as new.
func newHistory(scheduled, continued bool) *history {
	attrs := &historypb.WorkflowExecutionStartedEventAttributes{}
	if scheduled {
		attrs.SearchAttributes = &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{cost.ScheduledByAttribute: {}}}
	}
	if continued {
		attrs.ContinuedExecutionRunId = "continued"
	}
	h := &history{}
	h.add(&historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: attrs}})
	return h
}

func (h *history) add(ev *historypb.HistoryEvent) int64 {
	ev.EventId = int64(len(h.events) + 1)
	h.events = append(h.events, ev)
	return ev.EventId
}

func (h *history) activityScheduled(name string) int64 {
	return h.add(&historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
		Attributes: &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
			ActivityType: &commonpb.ActivityType{Name: name}}}})
}

// activityStarted is recorded once, when the activity closes, with the
// attempt that closed it.
func (h *history) activityStarted(scheduled int64, attempt int) {
	h.add(&historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED,
		Attributes: &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{
			ScheduledEventId: scheduled, Attempt: int32(attempt)}}})
}

func (h *history) timer() {
	h.add(&historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_TIMER_STARTED})
}

func (h *history) signal() {
	h.add(&historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED})
}

func (h *history) marker() {
	h.add(&historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_MARKER_RECORDED})
}

// count is the run's billable actions.
func (h *history) count() cost.Actions { return cost.Count(h.events, countOptions) }
