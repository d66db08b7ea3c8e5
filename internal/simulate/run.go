package simulate

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/cost"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/workflows"
)

// Run simulates cfg: the programme's ledger, the journeys (every one
// live), dispatch, the step executor and the interpreter, as the worker
// and the functions build them, on the in-memory store and a simulated
// clock from cfg.Start for cfg.Days days. Members act by cfg.Behaviour:
// their planned events are recorded and dispatched at their times, and
// each email they are sent gets their reaction (provider feedback, and
// the events it causes). The Temporal Schedules the worker would keep
// fire at their times and run the scans and the ledger sweep.
//
// The same cfg gives the same Outcome. A workflow that fails (a template
// that does not render, a condition that errs) ends the run with its
// error.
func Run(ctx context.Context, cfg Config) (Outcome, error) {
	began := time.Now()
	if err := checkConfig(cfg); err != nil {
		return Outcome{}, err
	}
	s := &sim{clock: newClock(cfg.Start), methods: map[string]reflect.Value{}, names: map[uintptr]string{},
		ids: map[string]bool{}, enrollments: map[string]*enrollment{}, running: map[string]*proc{}}
	w, err := newWorld(ctx, cfg, s)
	if err != nil {
		return Outcome{}, err
	}
	s.w = w
	// Every workflow still waiting ends with the run, however it ends.
	defer func() { s.clock.stop(s.procs) }()
	if err := w.start(); err != nil {
		return Outcome{}, err
	}
	progress := func(day int) {
		if cfg.Progress != nil {
			cfg.Progress(Progress{Day: day, Days: cfg.Days, Members: len(cfg.Members), Elapsed: time.Since(began)})
		}
	}
	for day := 1; day < cfg.Days; day++ {
		s.clock.at(cfg.Start.Add(time.Duration(day)*24*time.Hour), func() error {
			progress(day)
			return ctx.Err()
		})
	}
	err = s.clock.run(w.end())
	s.clock.stop(s.procs)
	if err != nil {
		return Outcome{}, err
	}
	s.clock.now = w.end()
	progress(cfg.Days)
	return Outcome{Config: cfg, Store: w.st, Emails: w.emails, Actions: int64(s.actions.Total()), ActionKinds: s.actions,
		Elapsed: time.Since(began)}, nil
}

// sim is the simulator's host: workflow runs are procs on its clock.
type sim struct {
	w     *world
	clock *clock

	// methods are the activities by name; names the names of activity
	// functions by their pointer.
	methods map[string]reflect.Value
	names   map[uintptr]string

	// ids are the workflow ids ever started (Temporal rejects a second
	// start of one, running or closed); enrollments the running
	// interpreters by workflow id; procs every proc not known done.
	ids         map[string]bool
	enrollments map[string]*enrollment
	procs       []*proc
	// running is each schedule's latest run (for its overlap policy).
	running map[string]*proc

	actions cost.Actions
}

var _ host = (*sim)(nil)

// enrollment is a running interpreter and its runtime.
type enrollment struct {
	run *workflows.JourneyRun
	rt  *runtime
}

func (s *sim) now() time.Time { return s.clock.now }

func (s *sim) at(t time.Time, do func() error) { s.clock.at(t, do) }

// fire runs a schedule's action for its nominal time.
func (s *sim) fire(o client.ScheduleOptions, nominal time.Time) error {
	if p := s.running[o.ID]; p != nil && !p.done && skips(o.Overlap) {
		return nil
	}
	a, ok := o.Action.(*client.ScheduleWorkflowAction)
	if !ok {
		return fmt.Errorf("simulate: schedule %s: action %T is not a workflow", o.ID, o.Action)
	}
	// Temporal names a scheduled run after its schedule and nominal time.
	id := a.ID + "-" + nominal.UTC().Format(time.RFC3339)
	switch name := functionName(a.Workflow); name {
	case workflows.JourneyScanWorkflow:
		var in workflows.JourneyScanInput
		if err := roundTrip(a.Args[0], &in); err != nil {
			return fmt.Errorf("simulate: schedule %s: %w", o.ID, err)
		}
		s.running[o.ID] = s.spawn(id, s.newRuntime(workflows.ScanActivityOptions(), newHistory(true, false)), func(rt *runtime) error {
			for {
				_, next, err := workflows.RunJourneyScan(rt, in)
				if err != nil || next == nil {
					return err
				}
				// Continued as new: a run of its own.
				s.actions = s.actions.Add(rt.hist.count())
				rt.hist, in = newHistory(true, true), *next
			}
		})
	case "LedgerSweep":
		var in workflows.LedgerSweepInput
		if err := roundTrip(a.Args[0], &in); err != nil {
			return fmt.Errorf("simulate: schedule %s: %w", o.ID, err)
		}
		s.running[o.ID] = s.spawn(id, s.newRuntime(workflows.SweepActivityOptions(), newHistory(true, false)), func(rt *runtime) error {
			_, err := workflows.RunLedgerSweep(rt, in)
			return err
		})
	default:
		return fmt.Errorf("simulate: schedule %s: workflow %s is not simulated", o.ID, name)
	}
	return nil
}

// spawn starts a workflow run on a proc: its actions are counted when it
// ends (or the simulation does).
func (s *sim) spawn(id string, rt *runtime, body func(rt *runtime) error) *proc {
	s.ids[id] = true
	p := s.clock.spawn(id, func(*proc) error {
		err := body(rt)
		s.actions = s.actions.Add(rt.hist.count())
		return err
	})
	rt.p = p
	if n := len(s.procs); n >= 1024 && n%1024 == 0 {
		live := s.procs[:0]
		for _, q := range s.procs {
			if !q.done {
				live = append(live, q)
			}
		}
		clear(s.procs[len(live):])
		s.procs = live
	}
	s.procs = append(s.procs, p)
	return p
}

// activity is the Activities method an activity function names (a.RunStep
// on a nil a): the method Temporal registers under its name.
func (s *sim) activity(fn any) (string, reflect.Value, error) {
	ptr := reflect.ValueOf(fn).Pointer()
	name, ok := s.names[ptr]
	if !ok {
		name = functionName(fn)
		s.names[ptr] = name
	}
	if m, ok := s.methods[name]; ok {
		return name, m, nil
	}
	m := reflect.ValueOf(s.w.acts).MethodByName(name)
	if !m.IsValid() || m.Type().NumIn() != 2 {
		return name, reflect.Value{}, fmt.Errorf("simulate: no activity %s", name)
	}
	s.methods[name] = m
	return name, m, nil
}

// StartEnrollment starts the interpreter once per workflow id, as
// workflows.Runner does on Temporal (reject duplicate, use existing).
func (s *sim) StartEnrollment(_ context.Context, st journeys.Start) error {
	if s.ids[st.WorkflowID] {
		return nil
	}
	var in workflows.JourneyInput
	if err := roundTrip(workflows.JourneyInput{Definition: st.Definition, MemberID: st.MemberID, Enrollment: st.Enrollment,
		Event: st.Event, Anchor: st.Anchor}, &in); err != nil {
		return fmt.Errorf("start %s: %w", st.WorkflowID, err)
	}
	rt := s.newRuntime(workflows.StepActivityOptions(), newHistory(false, false))
	e := &enrollment{run: workflows.NewJourneyRun(rt, in), rt: rt}
	s.enrollments[st.WorkflowID] = e
	s.spawn(st.WorkflowID, rt, func(*runtime) error {
		defer delete(s.enrollments, st.WorkflowID)
		_, err := e.run.Run()
		return err
	})
	return nil
}

// SignalEnrollment hands the signal to a running interpreter; one that
// has ended is not an error.
func (s *sim) SignalEnrollment(_ context.Context, workflowID string, sig journeys.Signal) error {
	e := s.enrollments[workflowID]
	if e == nil || e.rt.p.done {
		return nil
	}
	name, arg := workflows.SignalOf(sig)
	e.rt.hist.signal()
	if name == workflows.SignalJourneyResume {
		e.rt.p.signal(e.run.Resume)
		return nil
	}
	var ev activities.JourneyEvent
	if err := roundTrip(arg, &ev); err != nil {
		return fmt.Errorf("signal %s: %w", workflowID, err)
	}
	e.rt.p.signal(func() { e.run.Signal(ev) })
	return nil
}

// ExecuteWorkflow starts the workflows activities start themselves (a
// calendar step's deferral), once per workflow id.
func (s *sim) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if s.ids[o.ID] {
		// Running (attached to) or closed (rejected): the callers take
		// either as started.
		return nil, nil
	}
	switch name := functionName(wf); name {
	case activities.JourneyDeferredStepWorkflow:
		var in activities.JourneyDeferredStepInput
		if len(args) != 1 {
			return nil, fmt.Errorf("start %s: %d arguments", o.ID, len(args))
		}
		if err := roundTrip(args[0], &in); err != nil {
			return nil, fmt.Errorf("start %s: %w", o.ID, err)
		}
		s.spawn(o.ID, s.newRuntime(workflows.StepActivityOptions(), newHistory(false, false)), func(rt *runtime) error {
			_, err := workflows.RunDeferredStep(rt, in)
			return err
		})
		return nil, nil
	default:
		return nil, fmt.Errorf("start %s: workflow %s is not simulated", o.ID, name)
	}
}
