package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// The step primitives every journey is built from: delay until a moment
// (ending early when the goal is reached), wait for an event with a
// timeout, grant a reward, send an email (waiting out the contact
// policy's deferrals), and end the enrollment. A journey is a short
// sequence of these over its pinned definition, so a marketer-defined
// journey can later be composed from the same calls.
//
// Times here are instants computed from workflow.Now and the definition's
// durations; anything that needs a time zone (quiet hours, local times,
// dates in emails) is computed by an activity.

// enrollment is one running enrollment: who, which journey, and whether
// its goal was reached (set by a signal handler).
type enrollment struct {
	ctx     workflow.Context
	member  string
	journey string
	number  int
	goal    bool
	// sends and rewards record what the enrollment did, for its result.
	sends   []activities.SendEmailResult
	rewards []activities.RewardResult
}

func newEnrollment(ctx workflow.Context, member, journeyName string, number int) *enrollment {
	return &enrollment{ctx: activityOptions(ctx), member: member, journey: journeyName, number: number}
}

// onSignal calls fn with every signal of the name, in arrival order.
// Signals that arrive before the workflow gets to them are buffered, so
// none is lost.
func onSignal[T any](e *enrollment, name string, fn func(T)) {
	ch := workflow.GetSignalChannel(e.ctx, name)
	workflow.Go(e.ctx, func(ctx workflow.Context) {
		for {
			var v T
			ch.Receive(ctx, &v)
			fn(v)
		}
	})
}

// until waits until t or until cond holds, whichever is first; it
// reports whether cond held. One timer, and none when t has passed.
func (e *enrollment) until(t time.Time, cond func() bool) (bool, error) {
	wait := t.Sub(workflow.Now(e.ctx))
	if wait <= 0 || cond() {
		return cond(), nil
	}
	return workflow.AwaitWithTimeout(e.ctx, wait, cond)
}

// onGoal is the stop condition of a send that an exit on the goal ends.
func (e *enrollment) onGoal() bool { return e.goal }

// delayUntil waits until t unless the goal is reached first (exit on
// goal); it reports whether the goal was reached.
func (e *enrollment) delayUntil(t time.Time) (bool, error) {
	return e.until(t, func() bool { return e.goal })
}

// reward grants the step's reward once (key member#journey#enrollment#step#year).
func (e *enrollment) reward(step journey.Step, year int) (activities.RewardResult, error) {
	var a *activities.Activities
	var out activities.RewardResult
	if step.Reward == nil {
		return out, nil
	}
	err := workflow.ExecuteActivity(e.ctx, a.Reward, activities.RewardRequest{
		MemberID: e.member, Journey: e.journey, Enrollment: e.number, Step: step.Name, Year: year, Reward: *step.Reward,
	}).Get(e.ctx, &out)
	if err == nil {
		e.rewards = append(e.rewards, out)
	}
	return out, err
}

// send sends the step's email once. When the contact policy defers it
// (quiet hours, the frequency cap) the enrollment sleeps until the slot
// and asks again — ending early, unsent, if stop (nil: never) holds
// meanwhile; the row is then closed as goal_reached, which gives the
// slot back. The activity skips it when the slot would be after the
// deadline.
func (e *enrollment) send(req activities.SendEmailRequest, stop func() bool) (activities.SendEmailResult, error) {
	var a *activities.Activities
	req.MemberID, req.Journey, req.Enrollment = e.member, e.journey, e.number
	for {
		var out activities.SendEmailResult
		if err := workflow.ExecuteActivity(e.ctx, a.SendEmail, req).Get(e.ctx, &out); err != nil {
			return out, err
		}
		if !out.Deferred() {
			e.sends = append(e.sends, out)
			return out, nil
		}
		reached, err := e.until(out.DeferUntil, func() bool { return stop != nil && stop() })
		if err != nil {
			return out, err
		}
		if reached {
			req.GoalReached = true
		}
	}
}

// end records the enrollment's final status.
func (e *enrollment) end(status loyalty.EnrollmentStatus, outcome string) error {
	var a *activities.Activities
	return workflow.ExecuteActivity(e.ctx, a.EndEnrollment, activities.EndEnrollmentRequest{
		MemberID: e.member, Journey: e.journey, Number: e.number, Status: status, Reason: outcome,
	}).Get(e.ctx, nil)
}

// stepRequest is the send request of a step: its template, key year and
// deadline (Expires after at, and not after limit when limit is set).
func stepRequest(step journey.Step, at, limit time.Time) activities.SendEmailRequest {
	return activities.SendEmailRequest{Step: step.Name, Template: step.Email, Year: at.UTC().Year(),
		Deadline: activities.StepDeadline(step, at, limit)}
}

// withReward adds a reward's template variables to a send request.
func withReward(req activities.SendEmailRequest, r activities.RewardResult) activities.SendEmailRequest {
	if r.Coupon != nil || r.Boost != nil {
		req.Reward = &r
	}
	req.RewardRefused = r.Refused
	return req
}
