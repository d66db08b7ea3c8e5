package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
)

// SweepScheduleID names the Temporal Schedule that runs LedgerSweep; the
// workflow started by each run has the same ID.
const SweepScheduleID = "ledger-sweep"

// LedgerSweepInput configures one sweep run.
type LedgerSweepInput struct {
	// CatchUpDays is how many days back (today included) are swept, so
	// accounts whose due day passed while the sweep was not running are
	// still found.
	CatchUpDays int `json:"catch_up_days"`
	PageSize    int `json:"page_size"`
}

// LedgerSweep persists the ledger's time-based changes for every account
// due in the catch-up window. It is one activity: the work is a paged scan
// of an index with per-account transactions, so the activity heartbeats
// its position and a retry resumes there, and the workflow history stays a
// handful of events however many accounts there are.
func LedgerSweep(ctx workflow.Context, in LedgerSweepInput) (activities.SweepResult, error) {
	ctx = workflow.WithActivityOptions(ctx, SweepActivityOptions())
	return RunLedgerSweep(TemporalRuntime{Ctx: ctx}, in)
}

// RunLedgerSweep is LedgerSweep on rt.
func RunLedgerSweep(rt Runtime, in LedgerSweepInput) (activities.SweepResult, error) {
	var a *activities.Activities
	var res activities.SweepResult
	err := rt.ExecuteActivity(a.SweepLedger, activities.SweepRequest{Days: in.CatchUpDays, PageSize: in.PageSize}, &res)
	return res, err
}

// ScheduleClient is the part of the Temporal client EnsureSweepSchedule
// uses.
type ScheduleClient interface {
	ScheduleClient() client.ScheduleClient
}

// EnsureSweepSchedule creates the hourly, jittered schedule that runs
// LedgerSweep, unless it exists. Overlapping runs are skipped: a slow sweep
// is never doubled up.
func EnsureSweepSchedule(ctx context.Context, c ScheduleClient, taskQueue string, in LedgerSweepInput, every time.Duration) error {
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: SweepScheduleID,
		Spec: client.ScheduleSpec{
			Intervals: []client.ScheduleIntervalSpec{{Every: every}},
			Jitter:    every / 12,
		},
		Action: &client.ScheduleWorkflowAction{
			ID: SweepScheduleID, Workflow: LedgerSweep, Args: []any{in}, TaskQueue: taskQueue,
			WorkflowRunTimeout: 55 * time.Minute,
		},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", SweepScheduleID, err)
	}
	return nil
}
