package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// TrialJourney is the journey name of paid-trial conversion.
const TrialJourney = journey.Trial

// Signals the trial journey waits for.
const (
	SignalTrialConverted = "trial-converted" // subscription.converted
	SignalTrialCancelled = "trial-cancelled" // subscription.cancelled
)

// TrialLapseGrace is how long after the trial's end the journey waits for
// the storefront's conversion event before treating the trial as lapsed:
// the charge at the end of a trial is not instant.
const TrialLapseGrace = 2 * time.Hour

// Outcomes of a trial enrollment besides converted and completed.
const (
	OutcomeLapsed = "lapsed" // the offer window closed without conversion
)

// TrialWorkflowID is the workflow ID of a member's trial enrollment: a
// person gets one trial, so the enrollment number is 1.
func TrialWorkflowID(memberID string) string {
	return EnrollmentWorkflowID(TrialJourney, memberID, 1)
}

// TrialInput starts one trial enrollment with its definition pinned.
type TrialInput struct {
	MemberID       string             `json:"member_id"`
	Enrollment     int                `json:"enrollment"`
	SubscriptionID string             `json:"subscription_id"`
	TrialEndsAt    time.Time          `json:"trial_ends_at"`
	Definition     journey.Definition `json:"definition"`
}

// TrialSignal carries a subscription event to the enrollment.
type TrialSignal struct {
	EventID    string    `json:"event_id"`
	OccurredAt time.Time `json:"occurred_at"`
	// PeriodEndsAt is when the paid period ends (conversions).
	PeriodEndsAt time.Time `json:"period_ends_at,omitzero"`
}

// Trial runs the paid-trial conversion journey: reminders before the trial
// ends (7 days and 1 day in the shipped definition); on conversion a
// thank-you; on cancellation or lapse one offer to join at the full price,
// open for the step's window, then exit.
func Trial(ctx workflow.Context, in TrialInput) (JourneyResult, error) {
	e := newEnrollment(ctx, in.MemberID, TrialJourney, in.Enrollment)
	converted, cancelled := false, false
	var renewsOn time.Time
	onSignal(e, SignalTrialConverted, func(s TrialSignal) { converted, e.goal, renewsOn = true, true, s.PeriodEndsAt })
	onSignal(e, SignalTrialCancelled, func(TrialSignal) { cancelled = true })
	decided := func() bool { return converted || cancelled }
	start := workflow.Now(ctx)

	for _, step := range in.Definition.Steps {
		at := step.StepTime(in.TrialEndsAt)
		// A reminder whose time had passed when the trial began (a trial
		// shorter than it) is not sent late.
		if step.On != "" || at.Before(start) {
			continue
		}
		if reached, err := e.until(at, decided); err != nil {
			return e.result(""), err
		} else if reached {
			break
		}
		// A reminder after the trial ended makes no sense.
		dates := map[string]time.Time{"trial_ends_on": in.TrialEndsAt}
		// A reminder waiting for a slot is dropped on conversion or
		// cancellation alike.
		sent, err := e.sendStep(step, at, in.TrialEndsAt, decided, dates, map[string]time.Time{"days_left": in.TrialEndsAt})
		if err != nil {
			return e.result(""), err
		}
		if sent.Reason == activities.SkipGoalReached && !decided() {
			// The account shows the conversion its signal never brought.
			converted, e.goal = true, true
		}
		if decided() {
			break
		}
	}
	if _, err := e.until(in.TrialEndsAt.Add(TrialLapseGrace), decided); err != nil {
		return e.result(""), err
	}
	if converted {
		return e.onOutcome(in, renewsOn)
	}
	// Cancelled or lapsed: one offer, then wait its window for conversion.
	offer, window := e.outcomeStep(in, journey.OnEnded)
	now := workflow.Now(ctx)
	if offer != nil {
		dates := map[string]time.Time{"offer_until": now.Add(window)}
		sent, err := e.sendStep(*offer, now, now.Add(window), e.onGoal, dates, nil)
		if err != nil {
			return e.result(""), err
		}
		if sent.Reason == activities.SkipGoalReached && !e.goal {
			return e.onOutcome(in, renewsOn) // converted; its signal was missed
		}
	}
	if reached, err := e.delayUntil(now.Add(window)); err != nil {
		return e.result(""), err
	} else if reached {
		return e.onOutcome(in, renewsOn)
	}
	return e.finish(nil, loyalty.EnrollmentCompleted, OutcomeLapsed)
}

// outcomeStep is the definition's step for a trial outcome and its
// window.
func (e *enrollment) outcomeStep(in TrialInput, on string) (*journey.Step, time.Duration) {
	for _, s := range in.Definition.Steps {
		if s.On == on {
			return &s, s.Window.D()
		}
	}
	return nil, 0
}

// onOutcome runs the conversion step (its reward, then its thank-you)
// and ends the enrollment as converted.
func (e *enrollment) onOutcome(in TrialInput, renewsOn time.Time) (JourneyResult, error) {
	if step, _ := e.outcomeStep(in, journey.OnConverted); step != nil {
		var dates map[string]time.Time
		if !renewsOn.IsZero() {
			dates = map[string]time.Time{"renews_on": renewsOn}
		}
		if _, err := e.sendStep(*step, workflow.Now(e.ctx), time.Time{}, nil, dates, nil); err != nil {
			return e.result(""), err
		}
	}
	return e.finish(nil, loyalty.EnrollmentExited, OutcomeConverted)
}

// sendStep grants the step's reward and sends its email, the key's year
// being the year of at.
func (e *enrollment) sendStep(step journey.Step, at, limit time.Time, stop func() bool, dates, daysUntil map[string]time.Time) (activities.SendEmailResult, error) {
	req := stepRequest(step, at, limit)
	req.Dates, req.DaysUntil = dates, daysUntil
	// Reminders and the offer re-check the account: a conversion whose
	// signal was missed still ends them. The thank-you is about it.
	req.SkipIfPaid = step.On != journey.OnConverted
	if step.Reward != nil {
		r, err := e.reward(step, req.Year)
		if err != nil {
			return activities.SendEmailResult{}, err
		}
		req = withReward(req, r)
	}
	if step.Email == "" {
		return activities.SendEmailResult{}, nil
	}
	return e.send(req, stop)
}
