package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// Journey is the one interpreter of journey definitions: it walks the
// pinned definition's steps for one enrollment. Delays and waits are
// timers and signals here; every other step (send, reward, branch, split,
// update, webhook, end) is one RunStep activity, the step executor the
// calendar scans and the simulator use too. Goals and exits decided by
// dispatch arrive as signals and act at once, even mid-delay.

// JourneyWorkflow is the interpreter's workflow type name.
const JourneyWorkflow = "Journey"

// JourneyWorkflowID names the interpreter workflow of one enrollment:
// journey/<name>/<member>/<number>. Deterministic, so starting an
// enrollment is idempotent.
func JourneyWorkflowID(name, memberID string, number int) string {
	return fmt.Sprintf("journey/%s/%s/%d", name, memberID, number)
}

// Signals the interpreter takes.
const (
	// SignalJourneyEvent carries an event the enrollment listens for
	// (activities.JourneyEvent): one a wait step may be waiting for, or
	// an exit (the goal with exit: true included) decided by dispatch.
	SignalJourneyEvent = "journey-event"
	// SignalJourneyResume continues an enrollment held by a paused
	// journey.
	SignalJourneyResume = "journey-resume"
)

// JourneyInput starts one enrollment with its definition pinned: a later
// version affects new enrollments only.
type JourneyInput struct {
	Definition journey.Definition `json:"definition"`
	MemberID   string             `json:"member_id"`
	Enrollment int                `json:"enrollment"`
	// Event is the trigger event as recorded (none for api, date and
	// broadcast triggers): the `event` of the first steps' conditions.
	Event json.RawMessage `json:"event,omitempty"`
	// Anchor is the trigger's moment (the date a date trigger fired on);
	// zero means the start.
	Anchor time.Time `json:"anchor,omitzero"`
}

// EnrollmentResult is what an enrollment did.
type EnrollmentResult struct {
	// Status and Reason are how it ended: completed with the step that
	// ended it, or exited with why (goal, archived, removed, an exit
	// event's type).
	Status loyalty.EnrollmentStatus `json:"status"`
	Reason string                   `json:"reason"`
	// Path is the steps it went through, in order.
	Path    []string                     `json:"path"`
	Sends   []activities.SendEmailResult `json:"sends,omitempty"`
	Rewards []activities.RewardResult    `json:"rewards,omitempty"`
}

// JourneyRun is the interpreter's state for one enrollment: Journey runs
// it on Temporal, the simulator on its own clock (Runtime). Signals reach
// it through Signal and Resume, called by whoever delivers them.
type JourneyRun struct {
	rt   Runtime
	in   JourneyInput
	base activities.StepRequest
	// exit is why the enrollment must end now ("" while it goes on).
	exit    string
	resumed bool
	// jump is the goal's step to go on at (a goal reached with goto),
	// taken once: goalDone.
	jump     string
	goalDone bool
	// nextAt is when the next step (a delay or wait on a time of day or a
	// member date) waits until, when the executor resolved it.
	nextAt time.Time
	// endReason is the outcome an end step named.
	endReason string
	// finished: the step executor ended the enrollment itself (res holds
	// how), so no FinishEnrollment follows.
	finished bool
	// step and ref are where the member is: the step being run and its
	// reference time (an exit closes an email waiting there).
	step string
	ref  time.Time
	// lastAt keeps decision times strictly increasing, so the timeline
	// reads in the order decisions were made even within one instant.
	lastAt time.Time
	// inbox holds events that arrived and were not looked at yet.
	inbox []activities.JourneyEvent
	// decisions are timeline entries the workflow made (a wait's outcome)
	// that the next activity records.
	decisions []activities.Decision
	res       EnrollmentResult
}

// Journey runs one enrollment of its pinned definition.
func Journey(ctx workflow.Context, in JourneyInput) (EnrollmentResult, error) {
	ctx = activityOptions(ctx)
	r := NewJourneyRun(TemporalRuntime{Ctx: ctx}, in)
	events := workflow.GetSignalChannel(ctx, SignalJourneyEvent)
	resume := workflow.GetSignalChannel(ctx, SignalJourneyResume)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(events, func(c workflow.ReceiveChannel, _ bool) {
				var ev activities.JourneyEvent
				c.Receive(ctx, &ev)
				r.Signal(ev)
			})
			sel.AddReceive(resume, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, nil)
				r.Resume()
			})
			sel.Select(ctx)
		}
	})
	return r.Run()
}

// NewJourneyRun prepares one enrollment's interpreter on rt.
func NewJourneyRun(rt Runtime, in JourneyInput) *JourneyRun {
	def := in.Definition
	return &JourneyRun{rt: rt, in: in, base: activities.StepRequest{
		MemberID: in.MemberID, Journey: def.Name, Version: def.Version, Enrollment: in.Enrollment, Event: in.Event,
	}}
}

// Signal handles a SignalJourneyEvent: an exit ends the enrollment where
// it is, a goal with goto sends it to the goal's step (once), any other
// event waits in the inbox for a wait step.
func (r *JourneyRun) Signal(ev activities.JourneyEvent) {
	if ev.Exit != "" {
		if r.exit == "" {
			r.exit = ev.Exit
		}
		return
	}
	if ev.Goto != "" {
		if !r.goalDone {
			r.jump, r.goalDone = ev.Goto, true
		}
		return
	}
	r.inbox = append(r.inbox, ev)
}

// Resume handles a SignalJourneyResume: a held step goes on.
func (r *JourneyRun) Resume() { r.resumed = true }

// Run walks the enrollment's steps to its end and returns what it did.
func (r *JourneyRun) Run() (EnrollmentResult, error) {
	in, def := r.in, r.in.Definition
	ref := r.rt.Now()
	// An event trigger's anchor (when the event occurred) only tells
	// dispatch which later events are news: its steps start when the
	// member enters, so a webhook that arrives late (an outage, a
	// backlog, a storefront's import) still gets its welcome. A date or
	// broadcast anchor is the moment the steps are counted from.
	// Enrollments started before that rule also waited for an event's
	// anchor in the future (a storefront clock ahead of ours): they keep
	// doing so on replay.
	if !in.Anchor.IsZero() && (def.Trigger.Event == "" || r.waitsForEventAnchor()) {
		ref = in.Anchor
		// A broadcast enrols members ahead of their local moment (it
		// starts where the day begins first): the steps start at it.
		if in.Anchor.After(r.rt.Now()) {
			if _, err := r.await(in.Anchor, nil); err != nil {
				return r.res, err
			}
		}
	}
	cur := ""
	if len(def.Steps) > 0 {
		cur = def.Steps[0].ID
	}
	for cur != journey.End && cur != "" && r.exit == "" {
		i := def.Index(cur)
		if i < 0 {
			return r.res, fmt.Errorf("journey %s v%d: no step %q", def.Name, def.Version, cur)
		}
		step := def.Steps[i]
		r.res.Path = append(r.res.Path, step.ID)
		r.step, r.ref = step.ID, ref
		var next string
		var err error
		switch step.Kind() {
		case journey.KindDelay:
			ref, err = r.delay(step, ref)
			next = def.Next(i)
		case journey.KindWait:
			next, ref, err = r.wait(step, ref)
		default:
			next, err = r.run(step, ref)
		}
		if err != nil {
			return r.res, err
		}
		if r.jump != "" && !r.finished {
			next, r.jump = r.jump, ""
			r.nextAt = time.Time{}
		}
		cur = next
	}
	if r.finished {
		return r.res, nil
	}
	status, reason := loyalty.EnrollmentCompleted, "completed"
	if r.endReason != "" {
		reason = r.endReason
	}
	if r.exit != "" {
		status, reason = loyalty.EnrollmentExited, r.exit
	}
	at := cur
	if r.exit != "" && r.step != "" {
		at = r.step
	}
	return r.finish(status, reason, at)
}

// at is the time of the next decision: now, but always after the last.
func (r *JourneyRun) at() time.Time {
	t := r.rt.Now()
	if !t.After(r.lastAt) {
		t = r.lastAt.Add(time.Millisecond)
	}
	r.lastAt = t
	return t
}

// waitsForEventAnchor reports whether an event trigger's steps start at
// its anchor, as enrollments of the engine's first release did; the
// version marker is only written when that anchor lies ahead.
func (r *JourneyRun) waitsForEventAnchor() bool {
	if !r.in.Anchor.After(r.rt.Now()) {
		return false
	}
	return r.rt.GetVersion(eventStepsStartAtEntry, workflow.DefaultVersion, 1) == workflow.DefaultVersion
}

// eventStepsStartAtEntry marks enrollments whose event trigger's steps
// start when the member enters rather than at the event's time.
const eventStepsStartAtEntry = "event-steps-start-at-entry"

// finishAt is the step at which RunStep may end the enrollment itself
// (sparing the workflow a FinishEnrollment): none while a signal waits
// to be acted on, nor while the goal may still send the member to its
// step (a goal reached during the last step must still jump).
func (r *JourneyRun) finishAt() string {
	if r.interrupted() {
		return ""
	}
	if g := r.in.Definition.Goal; g != nil && g.Goto != "" && !r.goalDone {
		return ""
	}
	return journey.End
}

// interrupted reports whether the enrollment must stop where it is: an
// exit, or the goal's step to go to.
func (r *JourneyRun) interrupted() bool { return r.exit != "" || r.jump != "" }

// await waits until t (zero: no deadline) or until cond or an exit holds;
// it reports whether cond held.
func (r *JourneyRun) await(t time.Time, cond func() bool) (bool, error) {
	stop := func() bool { return r.interrupted() || (cond != nil && cond()) }
	if t.IsZero() {
		err := r.rt.Await(stop)
		return cond != nil && cond(), err
	}
	wait := t.Sub(r.rt.Now())
	if wait <= 0 || stop() {
		return cond != nil && cond(), nil
	}
	_, err := r.rt.AwaitWithTimeout(wait, stop)
	return cond != nil && cond(), err
}

// resolve asks the step executor for the moment a member-local time or a
// member date names (time zones and member dates stay out of workflow
// code); a plain duration needs no activity.
func (r *JourneyRun) resolve(step journey.Step, from time.Duration, local string, date *journey.DateRule) (time.Time, error) {
	if local == "" && date == nil {
		return r.rt.Now().Add(from), nil
	}
	if at := r.nextAt; !at.IsZero() {
		r.nextAt = time.Time{}
		return at, nil
	}
	var a *activities.Activities
	req := r.request(step)
	req.Until, req.UntilDate = local, date
	var at time.Time
	err := r.rt.ExecuteActivity(a.ResolveTime, req, &at)
	r.decisions = nil
	return at, err
}

// delay waits out a delay step and returns its end, the reference time of
// the steps after it.
func (r *JourneyRun) delay(step journey.Step, _ time.Time) (time.Time, error) {
	d := step.Delay
	at, err := r.resolve(step, d.For.D(), d.Until, d.UntilDate)
	if err != nil {
		return time.Time{}, err
	}
	if _, err := r.await(at, nil); err != nil {
		return time.Time{}, err
	}
	return at, nil
}

// wait waits for one of the step's events (matching its condition) until
// its timeout and returns where to go and the new reference time.
func (r *JourneyRun) wait(step journey.Step, ref time.Time) (string, time.Time, error) {
	w := step.Wait
	started := r.rt.Now()
	deadline, err := r.resolve(step, w.Timeout.D(), "", w.UntilDate)
	if err != nil {
		return "", ref, err
	}
	// Events that arrived before the member reached this step are not
	// what it waits for.
	r.inbox = r.inbox[:0]
	for {
		got, err := r.await(deadline, func() bool { return len(r.inbox) > 0 })
		if err != nil || r.interrupted() {
			return journey.End, ref, err
		}
		if !got {
			r.decisions = append(r.decisions, activities.Decision{Kind: activities.DecisionWait, Step: step.ID,
				At: r.at(), Reason: "timeout", Values: map[string]any{"waited_since": started}})
			return w.OnTimeout, deadline, nil
		}
		ev := r.inbox[0]
		r.inbox = r.inbox[1:]
		if !waitsFor(w, ev.Type) {
			continue
		}
		if w.When != "" {
			var a *activities.Activities
			req := r.request(step)
			req.Event = ev.Event
			var ok bool
			if err := r.rt.ExecuteActivity(a.MatchEvent, req, &ok); err != nil {
				return "", ref, err
			}
			r.decisions = nil
			if !ok {
				continue
			}
		} else {
			r.decisions = append(r.decisions, activities.Decision{Kind: activities.DecisionWait, Step: step.ID,
				At: r.at(), Reason: "event", Values: map[string]any{"event.type": ev.Type, "event.id": ev.ID}})
		}
		r.base.Event = ev.Event
		return w.OnEvent, r.rt.Now(), nil
	}
}

func waitsFor(w *journey.Wait, typ string) bool {
	for _, e := range w.Event {
		if e == typ {
			return true
		}
	}
	return false
}

// run executes a send, reward, branch, split, update, webhook or end step
// through the step executor: held while the journey is paused, asked
// again when the contact policy defers its email.
func (r *JourneyRun) run(step journey.Step, ref time.Time) (string, error) {
	var a *activities.Activities
	req := r.request(step)
	req.Ref = ref
	for {
		req.FinishAt = r.finishAt()
		var out activities.StepResult
		if err := r.rt.ExecuteActivity(a.RunStep, req, &out); err != nil {
			return "", err
		}
		r.decisions, req.Decisions = nil, nil
		if out.Send != nil && !out.Send.Deferred() {
			r.res.Sends = append(r.res.Sends, *out.Send)
		}
		if out.Reward != nil && !out.Reward.Pending {
			r.res.Rewards = append(r.res.Rewards, *out.Reward)
		}
		r.nextAt = out.NextAt
		if out.EndReason != "" {
			r.endReason = out.EndReason
		}
		if out.Goal {
			r.goalDone = true
		}
		if out.Finished {
			// The executor ended the enrollment with the step (an exit,
			// or the last step): what it recorded is the outcome. An exit
			// signal that came while the last step ran finds the member
			// through it (completed); one that came before was seen by
			// finishAt and is recorded as the exit.
			r.finished = true
			r.res.Status, r.res.Reason = loyalty.EnrollmentCompleted, "completed"
			if out.EndReason != "" {
				r.res.Reason = out.EndReason
			}
			if out.Exit != "" {
				r.res.Status, r.res.Reason = loyalty.EnrollmentExited, out.Exit
			}
			return journey.End, nil
		}
		switch {
		case out.Exit != "":
			if r.exit == "" {
				r.exit = out.Exit
			}
			return journey.End, nil
		case out.Held:
			// Paused: wait for the resume (or an exit, or archiving).
			r.resumed = false
			if _, err := r.await(time.Time{}, func() bool { return r.resumed }); err != nil {
				return "", err
			}
			if r.interrupted() {
				return journey.End, nil
			}
			req.At = r.at()
			continue
		case !out.DeferUntil.IsZero():
			if _, err := r.await(out.DeferUntil, nil); err != nil {
				return "", err
			}
			if r.jump != "" {
				// Reached the goal while the email waited: close it
				// unsent (its slot goes back), then go to the goal's step.
				req.GoalReached = true
			} else if r.exit != "" {
				return journey.End, nil
			}
			req.At = r.at()
			continue
		}
		return out.Next, nil
	}
}

// request is the step executor's request for step now, carrying the
// workflow's pending timeline decisions.
func (r *JourneyRun) request(step journey.Step) activities.StepRequest {
	req := r.base
	req.Step = step.ID
	req.At = r.at()
	req.Decisions = append([]activities.Decision(nil), r.decisions...)
	return req
}

// finish records how the enrollment ended (the timeline, the journey's
// counters, a send still waiting for a slot given up) and returns the
// result.
func (r *JourneyRun) finish(status loyalty.EnrollmentStatus, reason, at string) (EnrollmentResult, error) {
	var a *activities.Activities
	req := r.base
	req.Step, req.At, req.Ref = at, r.at(), r.ref
	req.Decisions = r.decisions
	err := r.rt.ExecuteActivity(a.FinishEnrollment, activities.FinishRequest{
		StepRequest: req, Status: status, Reason: reason,
	}, nil)
	r.res.Status, r.res.Reason = status, reason
	return r.res, err
}
