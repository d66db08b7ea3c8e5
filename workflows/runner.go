package workflows

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/journeys"
)

// Client is the part of the Temporal client that starts and signals
// enrollments.
type Client interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// Runner runs enrollments as Journey workflows (journeys.Runner).
type Runner struct {
	Client    Client
	TaskQueue string
}

var _ journeys.Runner = Runner{}

// StartEnrollment starts the enrollment's interpreter workflow once: a
// closed one is never re-run (reject duplicate) and a running one is
// attached to (use existing), so a redelivered trigger changes nothing.
func (r Runner) StartEnrollment(ctx context.Context, s journeys.Start) error {
	_, err := r.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       s.WorkflowID,
		TaskQueue:                r.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, JourneyWorkflow, JourneyInput{
		Definition: s.Definition, MemberID: s.MemberID, Enrollment: s.Enrollment, Event: s.Event, Anchor: s.Anchor,
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("start workflow %s: %w", s.WorkflowID, err)
	}
	return nil
}

// SignalEnrollment sends an event, an exit or a resume to an enrollment's
// workflow; one that has finished meanwhile is not an error.
func (r Runner) SignalEnrollment(ctx context.Context, workflowID string, s journeys.Signal) error {
	name, arg := SignalOf(s)
	err := r.Client.SignalWorkflow(ctx, workflowID, "", name, arg)
	var gone *serviceerror.NotFound
	if err != nil && !errors.As(err, &gone) {
		return fmt.Errorf("signal %s: %w", workflowID, err)
	}
	return nil
}

// SignalOf is the signal an enrollment's interpreter is told s by: its
// name and argument (an activities.JourneyEvent, or nil for a resume).
func SignalOf(s journeys.Signal) (string, any) {
	if s.Resume {
		return SignalJourneyResume, nil
	}
	return SignalJourneyEvent, activities.JourneyEvent{ID: s.ID, Type: s.Type, Event: s.Event, Exit: s.Exit, Goto: s.Goto}
}
