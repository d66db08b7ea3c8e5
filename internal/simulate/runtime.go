package simulate

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	goruntime "runtime"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/workflows"
)

// runtime is workflows.Runtime on a proc: the engine's workflow code
// (the interpreter, a scan, a deferred step, the sweep) runs on the
// simulated clock, its activities called in place through the same
// data converter Temporal uses, retried by the workflow's policy, and
// every Temporal action it takes written to its history for the count.
type runtime struct {
	s    *sim
	p    *proc
	opts workflow.ActivityOptions
	hist *history
}

var _ workflows.Runtime = (*runtime)(nil)

func (s *sim) newRuntime(opts workflow.ActivityOptions, hist *history) *runtime {
	return &runtime{s: s, opts: opts, hist: hist}
}

func (r *runtime) Now() time.Time { return r.s.clock.now }

func (r *runtime) Await(cond func() bool) error {
	r.p.newWait()
	for !cond() {
		if err := r.p.block(); err != nil {
			return err
		}
	}
	return nil
}

// AwaitWithTimeout starts no timer when cond holds at once, and looks at
// cond before the timer after each wake, as the SDK does.
func (r *runtime) AwaitWithTimeout(d time.Duration, cond func() bool) (bool, error) {
	if cond() {
		return true, nil
	}
	id := r.p.newWait()
	r.hist.timer()
	r.p.timer(id, r.s.clock.now.Add(d))
	for {
		if err := r.p.block(); err != nil {
			return false, err
		}
		if cond() {
			return true, nil
		}
		if r.p.fired == id {
			return false, nil
		}
	}
}

func (r *runtime) Sleep(d time.Duration) error {
	id := r.p.newWait()
	r.hist.timer()
	r.p.timer(id, r.s.clock.now.Add(d))
	for r.p.fired != id {
		if err := r.p.block(); err != nil {
			return err
		}
	}
	return nil
}

// GetVersion is a new execution's: the newest version, recorded in a
// marker.
func (r *runtime) GetVersion(_ string, _, maxSupported workflow.Version) workflow.Version {
	r.hist.marker()
	return maxSupported
}

// ExecuteActivity calls the activity's method on the world's Activities
// with arg as Temporal would hand it over (encoded and decoded by the
// default data converter), and hands its result back the same way.
func (r *runtime) ExecuteActivity(activity, arg, result any) error {
	if r.s.clock.stopping {
		return errStopped
	}
	name, m, err := r.s.activity(activity)
	if err != nil {
		return err
	}
	in := reflect.New(m.Type().In(1))
	if err := roundTrip(arg, in.Interface()); err != nil {
		return fmt.Errorf("activity %s: argument: %w", name, err)
	}
	scheduled := r.hist.activityScheduled(name)
	first := r.s.clock.now
	for attempt := 1; ; attempt++ {
		out := m.Call([]reflect.Value{reflect.ValueOf(r.s.w.ctx), in.Elem()})
		errV := out[len(out)-1]
		if errV.IsNil() {
			r.hist.activityStarted(scheduled, attempt)
			if result != nil && len(out) == 2 {
				if err := roundTrip(out[0].Interface(), result); err != nil {
					return fmt.Errorf("activity %s: result: %w", name, err)
				}
			}
			return nil
		}
		aerr := errV.Interface().(error)
		delay, again := r.retry(aerr, attempt, first)
		if !again {
			r.hist.activityStarted(scheduled, attempt)
			return fmt.Errorf("activity %s (attempt %d): %w", name, attempt, aerr)
		}
		// The retry waits on the server, not on a workflow timer.
		id := r.p.newWait()
		r.p.timer(id, r.s.clock.now.Add(delay))
		for r.p.fired != id {
			if err := r.p.block(); err != nil {
				return err
			}
		}
	}
}

// retry is the workflow's retry policy: whether attempt is followed by
// another, and after how long.
func (r *runtime) retry(err error, attempt int, first time.Time) (time.Duration, bool) {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.NonRetryable() {
		return 0, false
	}
	p := r.opts.RetryPolicy
	if p == nil {
		p = &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 100 * time.Second}
	}
	if p.MaximumAttempts > 0 && attempt >= int(p.MaximumAttempts) {
		return 0, false
	}
	delay := time.Duration(float64(p.InitialInterval) * math.Pow(p.BackoffCoefficient, float64(attempt-1)))
	if p.MaximumInterval > 0 && delay > p.MaximumInterval {
		delay = p.MaximumInterval
	}
	if app != nil && app.NextRetryDelay() > 0 {
		delay = app.NextRetryDelay()
	}
	if limit := r.opts.ScheduleToCloseTimeout; limit > 0 && r.s.clock.now.Add(delay).Sub(first) > limit {
		return 0, false
	}
	return delay, true
}

// dataConverter is what Temporal encodes arguments, results and signals
// with.
var dataConverter = converter.GetDefaultDataConverter()

// roundTrip sets *to to from as it arrives after Temporal's encoding.
func roundTrip(from, to any) error {
	p, err := dataConverter.ToPayload(from)
	if err != nil {
		return err
	}
	return dataConverter.FromPayload(p, to)
}

// functionName is the name Temporal registers a function or method
// under: the last element of its Go name ("RunStep" for a.RunStep).
func functionName(fn any) string {
	if s, ok := fn.(string); ok {
		return s
	}
	name := goruntime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	name = strings.TrimSuffix(name, "-fm")
	return name[strings.LastIndexByte(name, '.')+1:]
}
