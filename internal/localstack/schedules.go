package localstack

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
)

// RunSchedule triggers the Temporal Schedule id now, as its next interval
// would, and returns the workflow run it started: the end-to-end tests and
// `make cost` run the hourly scans on demand with it.
func (s *Stack) RunSchedule(ctx context.Context, id string) (client.WorkflowRun, error) {
	h := s.Temporal.ScheduleClient().GetHandle(ctx, id)
	before, err := h.Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("run schedule %s: %w", id, err)
	}
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		return nil, fmt.Errorf("run schedule %s: %w", id, err)
	}
	// The schedule acts asynchronously: wait for the action to show.
	for {
		d, err := h.Describe(ctx)
		if err != nil {
			return nil, fmt.Errorf("run schedule %s: %w", id, err)
		}
		if n := len(d.Info.RecentActions); d.Info.NumActions > before.Info.NumActions && n > 0 {
			if w := d.Info.RecentActions[n-1].StartWorkflowResult; w != nil {
				return s.Temporal.GetWorkflow(ctx, w.WorkflowID, w.FirstExecutionRunID), nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("run schedule %s: no run started: %w", id, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
