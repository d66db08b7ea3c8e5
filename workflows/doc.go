// Package workflows holds memberflow's journeys as Temporal workflows. Code
// here is deterministic: time comes from workflow.Now, waiting from timers
// and signals, and every effect (email, reward, store write) runs in an
// activity called by reference through activities.Activities.
//
// Each journey lives in one file with its ID function, signal names and
// definition beside it.
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

// Register adds every workflow and the activities to a worker.
func Register(w worker.Registry, a *activities.Activities) {
	w.RegisterWorkflow(Activation)
	w.RegisterWorkflow(Trial)
	w.RegisterWorkflow(CalendarScan)
	w.RegisterWorkflowWithOptions(DeferredSend, workflow.RegisterOptions{Name: activities.DeferredSendWorkflow})
	w.RegisterWorkflow(LedgerSweep)
	w.RegisterActivity(a)
}

// activityOptions is the retry policy every journey step uses, written out so
// nobody has to look up the SDK defaults: quick first retries, then at most
// one attempt a minute for up to a day. Errors the activities mark
// non-retryable (bad template, member gone) fail at once.
func activityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
}
