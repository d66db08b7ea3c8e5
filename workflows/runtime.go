package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// Runtime is where the journey engine's workflow code runs: the journey
// interpreter (JourneyRun), a scan's batches (RunJourneyScan), a deferred
// step (RunDeferredStep) and the ledger sweep (RunLedgerSweep) are written
// once against it. Temporal runs them through TemporalRuntime, each call one
// of its workflow APIs, so the commands are those the workflow functions
// always issued; the simulator (internal/simulate) runs the same code on
// its own clock, each call a step of its deterministic scheduler.
//
// Every method blocks the calling workflow only; none may be called from
// outside the code it runs.
type Runtime interface {
	// Now is the workflow's time.
	Now() time.Time
	// Await blocks until cond holds; cond is evaluated again whenever the
	// workflow's state may have changed (a signal was handled).
	Await(cond func() bool) error
	// AwaitWithTimeout is Await on a timer of d: it reports whether cond
	// held before the timer fired. No timer is started when cond holds
	// at once.
	AwaitWithTimeout(d time.Duration, cond func() bool) (bool, error)
	// Sleep waits d on a timer.
	Sleep(d time.Duration) error
	// ExecuteActivity runs an activity, a method of
	// *activities.Activities given by reference (a.RunStep on a nil a),
	// with arg, and decodes its result into result (nil: none). It
	// returns the activity's error after the retry policy gave up.
	ExecuteActivity(activity, arg, result any) error
	// GetVersion is workflow.GetVersion: the version of a change the
	// running workflow follows.
	GetVersion(changeID string, minSupported, maxSupported workflow.Version) workflow.Version
}

// TemporalRuntime runs engine code in a Temporal workflow: each method is
// the workflow API of the same name on Ctx (whose activity options apply).
type TemporalRuntime struct {
	Ctx workflow.Context
}

var _ Runtime = TemporalRuntime{}

// Now is workflow.Now.
func (t TemporalRuntime) Now() time.Time { return workflow.Now(t.Ctx) }

// Await is workflow.Await.
func (t TemporalRuntime) Await(cond func() bool) error { return workflow.Await(t.Ctx, cond) }

// AwaitWithTimeout is workflow.AwaitWithTimeout.
func (t TemporalRuntime) AwaitWithTimeout(d time.Duration, cond func() bool) (bool, error) {
	return workflow.AwaitWithTimeout(t.Ctx, d, cond)
}

// Sleep is workflow.Sleep.
func (t TemporalRuntime) Sleep(d time.Duration) error { return workflow.Sleep(t.Ctx, d) }

// ExecuteActivity is workflow.ExecuteActivity and Get.
func (t TemporalRuntime) ExecuteActivity(activity, arg, result any) error {
	return workflow.ExecuteActivity(t.Ctx, activity, arg).Get(t.Ctx, result)
}

// GetVersion is workflow.GetVersion.
func (t TemporalRuntime) GetVersion(changeID string, minSupported, maxSupported workflow.Version) workflow.Version {
	return workflow.GetVersion(t.Ctx, changeID, minSupported, maxSupported)
}
