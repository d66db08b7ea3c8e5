// Package workflows holds memberflow's journeys as Temporal workflows. Code
// here is deterministic: time comes from workflow.Now, waiting from timers
// and signals, and every effect (email, reward, store write) runs in an
// activity called by reference through activities.Activities.
//
// Each journey lives in one file with its ID function, signal names and
// definition beside it. The journey engine's workflow code — the
// interpreter (JourneyRun), a scan's batches, a deferred step, the ledger
// sweep — is written once against Runtime: the workflow functions run it
// through TemporalRuntime, the simulator (internal/simulate) on its own
// clock.
package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
)

// DefaultTaskQueue is the task queue the worker polls unless configured otherwise.
const DefaultTaskQueue = "memberflow"

// EnrollmentWorkflowID names the workflow of one enrollment:
// <journey>/<member>/<enrollment number>. Deterministic IDs make starting an
// enrollment idempotent: a redelivered event finds the same workflow.
func EnrollmentWorkflowID(journey, memberID string, number int) string {
	return fmt.Sprintf("%s/%s/%d", journey, memberID, number)
}

// Type is one workflow type the worker runs: the name Temporal records in
// its histories and the function that runs it.
type Type struct {
	// Name is what starters ask for: the function's own name for the
	// workflows started by function reference, so it must change with it.
	Name string
	Func any
}

// Types lists every workflow type the worker runs. It is the one list:
// Register gives it to the worker, and `memberflow replay` and TestReplay
// to their replayers, so a new type is replayed before it is deployed and
// a removed one that still has histories is caught.
func Types() []Type {
	return []Type{
		{Name: JourneyWorkflow, Func: Journey},
		{Name: "Activation", Func: Activation},
		{Name: "Trial", Func: Trial},
		{Name: "CalendarScan", Func: CalendarScan},
		{Name: activities.DeferredSendWorkflow, Func: DeferredSend},
		{Name: "LedgerSweep", Func: LedgerSweep},
		{Name: JourneyScanWorkflow, Func: JourneyScan},
		{Name: activities.JourneyDeferredStepWorkflow, Func: JourneyDeferredStep},
		{Name: AnalyticsRefreshWorkflow, Func: AnalyticsRefresh},
		{Name: AnalyticsShardWorkflow, Func: AnalyticsShard},
	}
}

// RegisterTypes adds types to a worker or a workflow replayer.
func RegisterTypes(r worker.WorkflowRegistry, types []Type) {
	for _, t := range types {
		r.RegisterWorkflowWithOptions(t.Func, workflow.RegisterOptions{Name: t.Name})
	}
}

// Register adds every workflow and the activities to a worker.
func Register(w worker.Registry, a *activities.Activities) {
	RegisterTypes(w, Types())
	w.RegisterActivity(a)
}

// activityOptions is the retry policy every journey step uses, written out so
// nobody has to look up the SDK defaults: quick first retries, then at most
// one attempt a minute for up to a day. Errors the activities mark
// non-retryable (bad template, member gone) fail at once.
func activityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, StepActivityOptions())
}

// StepActivityOptions are the options of the journey steps' activities
// (the interpreter's and a deferred step's); the simulator retries by
// the same policy.
func StepActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}
}

// ScanActivityOptions are the options of a journey scan's activities:
// long batches that heartbeat, retried a few times.
func ScanActivityOptions() workflow.ActivityOptions {
	return heartbeating(20*time.Minute, 2*time.Minute, 10)
}

// SweepActivityOptions are the options of the ledger sweep's activity.
func SweepActivityOptions() workflow.ActivityOptions {
	return heartbeating(50*time.Minute, 2*time.Minute, 5)
}

// heartbeating are the options of a long activity that heartbeats: it
// may run up to startToClose, is presumed lost after heartbeat without
// one, and is retried from 5 s backing off to 5 min, attempts times.
func heartbeating(startToClose, heartbeat time.Duration, attempts int32) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: startToClose,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
			MaximumAttempts:    attempts,
		},
	}
}
