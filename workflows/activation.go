package workflows

import (
	"encoding/json"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// ActivationJourney is the journey name of new-member activation.
const ActivationJourney = journey.Activation

// SignalOrderPaid is sent to open enrollments that wait for a member's order.
const SignalOrderPaid = "order-paid"

// Outcomes an enrollment ends with.
const (
	OutcomeConverted = "converted" // the member reached the journey's goal
	OutcomeCompleted = "completed" // every step ran without the goal
)

// ActivationWorkflowID is the workflow ID of a member's activation
// enrollment; a member is activated once, so the enrollment number is 1.
func ActivationWorkflowID(memberID string) string {
	return EnrollmentWorkflowID(ActivationJourney, memberID, 1)
}

// ActivationInput starts one activation enrollment with its definition
// pinned: a later edit of templates/journeys/activation.yaml only affects
// new enrollments.
type ActivationInput struct {
	MemberID   string             `json:"member_id"`
	Enrollment int                `json:"enrollment"`
	Definition journey.Definition `json:"definition"`
}

// UnmarshalJSON reads the input, including that of enrollments started
// before journeys were defined in templates/journeys: their definition
// ({welcome_template, nudge_template, last_nudge_template, nudge_after,
// last_nudge_after}) becomes the same three steps, so those workflows
// replay and finish as they began.
func (in *ActivationInput) UnmarshalJSON(b []byte) error {
	type plain ActivationInput
	var legacy struct {
		Definition struct {
			Welcome   string        `json:"welcome_template"`
			Nudge     string        `json:"nudge_template"`
			LastNudge string        `json:"last_nudge_template"`
			NudgeAt   time.Duration `json:"nudge_after"`
			LastAt    time.Duration `json:"last_nudge_after"`
		} `json:"definition"`
	}
	if err := json.Unmarshal(b, (*plain)(in)); err != nil {
		return err
	}
	if len(in.Definition.Steps) > 0 || json.Unmarshal(b, &legacy) != nil || legacy.Definition.Welcome == "" {
		return nil
	}
	d := legacy.Definition
	in.Definition = journey.Definition{Name: journey.Activation, Version: in.Definition.Version, Enabled: true, Steps: []journey.Step{
		{Name: "welcome", Email: d.Welcome},
		{Name: "nudge", After: journey.Duration(d.NudgeAt), Email: d.Nudge},
		{Name: "last_nudge", After: journey.Duration(d.LastAt), Email: d.LastNudge},
	}}
	return nil
}

// OrderPaidSignal tells an enrollment that the member paid an order.
type OrderPaidSignal struct {
	EventID    string    `json:"event_id"`
	OrderID    string    `json:"order_id"`
	OccurredAt time.Time `json:"occurred_at"`
}

// JourneyResult is what an enrollment did.
type JourneyResult struct {
	Outcome string                       `json:"outcome"`
	Sends   []activities.SendEmailResult `json:"sends"`
	Rewards []activities.RewardResult    `json:"rewards,omitempty"`
}

// Activation runs the new-member activation journey for one enrollment:
// each step at its delay after enrollment (the shipped definition: welcome
// and the NEW8 coupon at once, nudges on day 3 and day 7), ending as soon
// as an order is paid. The first step runs even if an order raced the
// registration; the later ones are about converting.
func Activation(ctx workflow.Context, in ActivationInput) (JourneyResult, error) {
	e := newEnrollment(ctx, in.MemberID, ActivationJourney, in.Enrollment)
	start := workflow.Now(ctx)
	onSignal(e, SignalOrderPaid, func(OrderPaidSignal) { e.goal = true })

	for i, step := range in.Definition.Steps {
		at := start.Add(step.After.D())
		first := i == 0
		if !first {
			if reached, err := e.delayUntil(at); err != nil || reached {
				return e.finish(err, loyalty.EnrollmentExited, OutcomeConverted)
			}
		}
		req := stepRequest(step, at, time.Time{})
		// Nudges re-check the projection: an order whose signal was
		// missed still ends the journey.
		req.SkipIfOrdered = !first
		if step.Reward != nil {
			r, err := e.reward(step, req.Year)
			if err != nil {
				return e.result(""), err
			}
			req = withReward(req, r)
		}
		if step.Email == "" {
			continue
		}
		var stop func() bool
		if !first {
			stop = e.onGoal
		}
		sent, err := e.send(req, stop)
		if err != nil {
			return e.result(""), err
		}
		if sent.Reason == activities.SkipGoalReached {
			return e.finish(nil, loyalty.EnrollmentExited, OutcomeConverted)
		}
	}
	if e.goal {
		return e.finish(nil, loyalty.EnrollmentExited, OutcomeConverted)
	}
	return e.finish(nil, loyalty.EnrollmentCompleted, OutcomeCompleted)
}

// result is the enrollment's result so far.
func (e *enrollment) result(outcome string) JourneyResult {
	return JourneyResult{Outcome: outcome, Sends: e.sends, Rewards: e.rewards}
}

// finish ends the enrollment with status and outcome unless err is set.
func (e *enrollment) finish(err error, status loyalty.EnrollmentStatus, outcome string) (JourneyResult, error) {
	if err != nil {
		return e.result(""), err
	}
	return e.result(outcome), e.end(status, outcome)
}
