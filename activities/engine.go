package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/store"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// The step executor: every journey step kind is one piece of code here,
// used by every path — the interpreter workflow (through the RunStep,
// ResolveTime, MatchEvent and FinishEnrollment activities), the calendar
// scans (directly, no workflow) and the simulator. Each decides (pure, in
// internal/journey and its CEL conditions) and then acts through the ports
// with the idempotency key member#journey#enrollment#step#year, and
// records its decision on the member's timeline exactly once.

// StepRequest asks the executor about one step of one enrollment.
type StepRequest struct {
	MemberID   string `json:"member_id"`
	Journey    string `json:"journey"`
	Version    int    `json:"version"`
	Enrollment int    `json:"enrollment"`
	Step       string `json:"step"`
	// At is when the decision is made (workflow time): part of the
	// timeline entry's key, so a retried activity writes the same entry.
	At time.Time `json:"at"`
	// Ref is the moment the step was due (the end of the delay before it,
	// the enrollment's start): a send's expires counts from it.
	Ref time.Time `json:"ref,omitzero"`
	// Event is the enrollment's latest event as recorded: the trigger's,
	// or the one that ended the last wait.
	Event json.RawMessage `json:"event,omitempty"`
	// Decisions are timeline entries the workflow made since the last
	// activity (a wait's timeout), recorded before the step.
	Decisions []Decision `json:"decisions,omitempty"`
	// Until and UntilDate are what ResolveTime resolves.
	Until     string            `json:"until,omitempty"`
	UntilDate *journey.DateRule `json:"until_date,omitempty"`
	// GoalReached closes a deferred email unsent: the enrollment reached
	// its goal while the email waited for a slot.
	GoalReached bool `json:"goal_reached,omitempty"`
	// FinishAt, when set, has RunStep end the enrollment itself when the
	// step ends it (its next is the end, or it exits): completion is
	// recorded at FinishAt, an exit at the step. It saves the workflow a
	// FinishEnrollment activity, a Temporal action per enrollment.
	FinishAt string `json:"finish_at,omitempty"`
}

// StepResult is what the executor did and where the enrollment goes next.
type StepResult struct {
	Next string `json:"next"`
	// DeferUntil: the contact policy held the step's email back; ask again
	// then (same key).
	DeferUntil time.Time `json:"defer_until,omitzero"`
	// Held: the journey is paused; the step runs again on resume.
	Held bool `json:"held,omitempty"`
	// Exit, when set, ends the enrollment now with this reason (its goal
	// was found reached before a send or reward, and the goal exits).
	Exit string `json:"exit,omitempty"`
	// Goal says the goal was found reached (and Next is the goal's step).
	Goal bool `json:"goal,omitempty"`
	// EndReason is the outcome an end step names.
	EndReason string `json:"end_reason,omitempty"`
	// NextAt is when the next step, a delay or a wait on a time of day or
	// a member date, waits until (resolved here so the workflow need not
	// ask).
	NextAt time.Time        `json:"next_at,omitzero"`
	Send   *SendEmailResult `json:"send,omitempty"`
	Reward *RewardResult    `json:"reward,omitempty"`
	// HeldOut says the member is held out of the journey (its holdout or
	// the programme's): the step's email, reward or webhook was skipped,
	// with a held_out entry on the timeline, and the journey goes on.
	HeldOut bool `json:"held_out,omitempty"`
	// Finished says RunStep ended the enrollment (the request's
	// FinishAt): with Exit set it exited, otherwise it completed with
	// EndReason (or "completed"). A result without it (an activity of an
	// earlier release) leaves the ending to the workflow.
	Finished bool `json:"finished,omitempty"`
}

// FinishRequest ends an enrollment: completed at its end, or exited.
type FinishRequest struct {
	StepRequest
	Status loyalty.EnrollmentStatus `json:"status"`
	Reason string                   `json:"reason"`
}

// JourneyEvent is what dispatch signals to an enrollment: an event it
// listens for, and whether it ends it (Exit: the reason, e.g. "goal" or
// the exit event's type).
type JourneyEvent struct {
	ID    string          `json:"id"`
	Type  string          `json:"type"`
	Event json.RawMessage `json:"event,omitempty"`
	Exit  string          `json:"exit,omitempty"`
	// Goto is the goal's step (a goal reached with goto: instead of
	// exit).
	Goto string `json:"goto,omitempty"`
}

// DecisionKind names a timeline entry.
type DecisionKind string

// Timeline entry kinds: every decision about a member.
const (
	DecisionEnrolled      DecisionKind = "enrolled"
	DecisionNotEnrolled   DecisionKind = "not_enrolled"
	DecisionBranch        DecisionKind = "branch"
	DecisionWait          DecisionKind = "wait"
	DecisionSent          DecisionKind = "sent"
	DecisionDeferred      DecisionKind = "deferred"
	DecisionSkipped       DecisionKind = "skipped"
	DecisionRewardGranted DecisionKind = "reward_granted"
	DecisionRewardRefused DecisionKind = "reward_refused"
	DecisionGoalReached   DecisionKind = "goal_reached"
	DecisionExited        DecisionKind = "exited"
	DecisionHeld          DecisionKind = "held"
	DecisionUpdated       DecisionKind = "updated"
	DecisionWebhook       DecisionKind = "webhook"
	DecisionCompleted     DecisionKind = "completed"
	// DecisionHeldOut: a send, reward or webhook step skipped because the
	// member is held out (the reason is the arm).
	DecisionHeldOut DecisionKind = SkipHeldOut
)

// Decision is one timeline entry before it is stored: what was decided,
// at which step, why, and the condition values that decided it.
type Decision struct {
	Kind   DecisionKind   `json:"kind"`
	Step   string         `json:"step,omitempty"`
	At     time.Time      `json:"at"`
	Reason string         `json:"reason,omitempty"`
	Values map[string]any `json:"values,omitempty"`
	// Until is when a deferred email is asked again.
	Until time.Time `json:"until,omitzero"`
}

// ---- the executor ----

// RunStep executes one send, reward, branch, split, update, webhook or end
// step of an enrollment on the interpreter workflow's behalf.
func (a *Activities) RunStep(ctx context.Context, req StepRequest) (StepResult, error) {
	def, err := a.Journeys.Version(ctx, req.Journey, req.Version)
	if err != nil {
		return StepResult{}, err
	}
	res, err := a.Step(ctx, def, req)
	if err != nil || req.FinishAt == "" || res.Held || !res.DeferUntil.IsZero() {
		return res, err
	}
	status, reason := loyalty.EnrollmentCompleted, "completed"
	end := req
	end.Decisions = nil // recorded with the step
	end.At = req.At.Add(time.Millisecond)
	switch {
	case res.Exit != "":
		status, reason = loyalty.EnrollmentExited, res.Exit
	case res.Next == journey.End:
		end.Step = req.FinishAt
		if res.EndReason != "" {
			reason = res.EndReason
		}
	default:
		return res, nil
	}
	if err := a.finish(ctx, end, status, reason); err != nil {
		return StepResult{}, err
	}
	res.Finished = true
	return res, nil
}

// ResolveTime is the moment a delay or wait step waits until: a
// member-local time of day, or a member date ± offset in the member's
// zone. A member without that date waits for nothing (the moment is now).
func (a *Activities) ResolveTime(ctx context.Context, req StepRequest) (time.Time, error) {
	if err := a.record(ctx, req, nil); err != nil {
		return time.Time{}, err
	}
	doc, err := a.memberDocument(ctx, req.MemberID)
	if err != nil {
		return time.Time{}, err
	}
	return a.resolve(doc, req.Until, req.UntilDate), nil
}

func (a *Activities) resolve(doc loyalty.MemberDocument, until string, date *journey.DateRule) time.Time {
	loc := a.Engine.Location(doc.Member)
	now := a.now()
	switch {
	case until != "":
		return engine.Until(until, loc, now)
	case date != nil:
		if t, ok := engine.Next(*date, doc, loc, now); ok {
			return t
		}
	}
	return now
}

// MatchEvent decides whether an event that reached a waiting enrollment
// is the one its wait step waits for (the step's condition over the
// member and the event), and records the wait's outcome when it is.
func (a *Activities) MatchEvent(ctx context.Context, req StepRequest) (bool, error) {
	def, err := a.Journeys.Version(ctx, req.Journey, req.Version)
	if err != nil {
		return false, err
	}
	step, ok := def.Step(req.Step)
	if !ok || step.Wait == nil {
		return false, temporal.NewNonRetryableApplicationError(fmt.Sprintf("journey %s v%d has no wait step %q", req.Journey, req.Version, req.Step), "UnknownStep", nil)
	}
	doc, err := a.memberDocument(ctx, req.MemberID)
	if err != nil {
		return false, err
	}
	ev, err := decodeEvent(req.Event)
	if err != nil {
		return false, temporal.NewNonRetryableApplicationError(err.Error(), "BadEvent", err)
	}
	held, read, err := a.Engine.Holds(step.Wait.When, step.Wait.Event, engine.Subject{Member: doc, Event: ev, Now: a.now()})
	if err != nil {
		return false, temporal.NewNonRetryableApplicationError(fmt.Sprintf("journey %s step %s: %v", req.Journey, step.ID, err), "Condition", err)
	}
	var ds []Decision
	if held {
		if read == nil {
			read = map[string]any{}
		}
		read["event.type"], read["event.id"] = string(ev.Type), ev.ID
		ds = append(ds, Decision{Kind: DecisionWait, Step: step.ID, At: req.At, Reason: "event", Values: read})
	}
	return held, a.record(ctx, req, ds)
}

// FinishEnrollment ends an enrollment: its status, the timeline, the
// journey's counters, and an email still waiting for a slot given up.
func (a *Activities) FinishEnrollment(ctx context.Context, req FinishRequest) error {
	if !req.Status.Final() {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("finish %s/%s/%d: status %q is not final", req.Journey, req.MemberID, req.Enrollment, req.Status), "InvalidStatus", nil)
	}
	return a.finish(ctx, req.StepRequest, req.Status, req.Reason)
}

func (a *Activities) finish(ctx context.Context, req StepRequest, status loyalty.EnrollmentStatus, reason string) error {
	if status == loyalty.EnrollmentExited && a.Journeys != nil {
		// An email waiting out a deferral at the step the member left
		// from will not go: close its row, which gives its slot back.
		if def, err := a.Journeys.Version(ctx, req.Journey, req.Version); err == nil {
			if step, ok := def.Step(req.Step); ok && step.Send != nil {
				key := engine.Key(req.MemberID, req.Journey, req.Enrollment, step.ID, req.Ref.UTC().Year())
				if row, err := a.Store.GetSend(ctx, req.MemberID, key); err == nil && row.Status == store.SendPending {
					if _, err := a.skip(ctx, row.Ref(), SkipGoalReached, nil); err != nil {
						return err
					}
				}
			}
		}
	}
	if err := a.Store.EndEnrollment(ctx, req.MemberID, req.Journey, req.Enrollment, status, reason, a.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("end enrollment %s/%s/%d: %w", req.Journey, req.MemberID, req.Enrollment, err)
	}
	kind := DecisionCompleted
	counts := map[string]int64{store.CountEnded: 1}
	if status == loyalty.EnrollmentExited {
		kind = DecisionExited
		counts[store.CountExited(reason)] = 1
	} else {
		counts["completed"] = 1
	}
	enrKey := fmt.Sprintf("%s#%s#%d", req.MemberID, req.Journey, req.Enrollment)
	if err := a.Store.CountJourney(ctx, req.Journey, req.MemberID, enrKey+"#ended", counts); err != nil {
		return err
	}
	return a.record(ctx, req, []Decision{{Kind: kind, Step: req.Step, At: req.At, Reason: reason}})
}

// record writes the request's pending decisions and ds to the member's
// timeline, each once.
func (a *Activities) record(ctx context.Context, req StepRequest, ds []Decision) error {
	all := append(append([]Decision(nil), req.Decisions...), ds...)
	if len(all) == 0 {
		return nil
	}
	entries := make([]store.TimelineEntry, 0, len(all))
	var last time.Time
	for _, d := range all {
		// Decisions of one instant keep their order on the timeline: each
		// a nanosecond after the one before (the same on every retry).
		if !d.At.After(last) && !last.IsZero() {
			d.At = last.Add(time.Nanosecond)
		}
		last = d.At
		step := d.Step
		if step == "" {
			step = req.Step
		}
		entries = append(entries, store.TimelineEntry{
			MemberID: req.MemberID, Journey: req.Journey, Version: req.Version, Enrollment: req.Enrollment, Step: step,
			Kind: string(d.Kind), Reason: d.Reason, Values: d.Values, At: d.At, Until: d.Until,
			Key: fmt.Sprintf("%s#%s#%d#%s", req.MemberID, req.Journey, req.Enrollment, step),
		})
	}
	for len(entries) > 0 {
		n := min(len(entries), 100)
		if err := a.Store.AppendTimeline(ctx, entries[:n]...); err != nil {
			return fmt.Errorf("record decisions of %s: %w", req.MemberID, err)
		}
		entries = entries[n:]
	}
	return nil
}

// memberDocument is the member as conditions read it: the projection, the
// standing as of now and the enrollments.
func (a *Activities) memberDocument(ctx context.Context, memberID string) (loyalty.MemberDocument, error) {
	return a.Ledger.Document(ctx, memberID, a.now())
}

func decodeEvent(raw json.RawMessage) (*events.Envelope, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var env events.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("decode the enrollment's event: %w", err)
	}
	env.Raw = raw
	return &env, nil
}
