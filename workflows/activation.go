package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// ActivationJourney is the journey name of new-member activation.
const ActivationJourney = "activation"

// SignalOrderPaid is sent to open enrollments that wait for a member's order.
const SignalOrderPaid = "order-paid"

// Steps of the activation journey; they appear in idempotency keys and
// SendGrid categories, so renaming one is a breaking change.
const (
	StepWelcome   = "welcome"
	StepNudge     = "nudge"
	StepLastNudge = "last_nudge"
)

// Outcomes an activation enrollment ends with.
const (
	OutcomeConverted = "converted" // the member paid an order
	OutcomeCompleted = "completed" // every step ran without an order
)

// ActivationWorkflowID is the workflow ID of a member's activation
// enrollment; a member is activated once, so the enrollment number is 1.
func ActivationWorkflowID(memberID string) string {
	return EnrollmentWorkflowID(ActivationJourney, memberID, 1)
}

// ActivationDefinition is the pinned definition of the activation journey:
// it travels in the workflow input so a later edit only affects new
// enrollments.
type ActivationDefinition struct {
	Version           int           `json:"version"`
	WelcomeTemplate   string        `json:"welcome_template"`
	NudgeTemplate     string        `json:"nudge_template"`
	LastNudgeTemplate string        `json:"last_nudge_template"`
	NudgeAfter        time.Duration `json:"nudge_after"`      // since enrollment
	LastNudgeAfter    time.Duration `json:"last_nudge_after"` // since enrollment
}

// DefaultActivation is the activation journey as shipped: welcome at once,
// a nudge on day 3 and a last nudge on day 7 without a first order.
func DefaultActivation() ActivationDefinition {
	return ActivationDefinition{
		Version:           1,
		WelcomeTemplate:   "activation_welcome",
		NudgeTemplate:     "activation_nudge",
		LastNudgeTemplate: "activation_last_nudge",
		NudgeAfter:        3 * 24 * time.Hour,
		LastNudgeAfter:    7 * 24 * time.Hour,
	}
}

// ActivationInput starts one activation enrollment.
type ActivationInput struct {
	MemberID   string               `json:"member_id"`
	Enrollment int                  `json:"enrollment"`
	Definition ActivationDefinition `json:"definition"`
}

// OrderPaidSignal tells an enrollment that the member paid an order.
type OrderPaidSignal struct {
	EventID    string    `json:"event_id"`
	OrderID    string    `json:"order_id"`
	OccurredAt time.Time `json:"occurred_at"`
}

// ActivationResult is what an activation enrollment did.
type ActivationResult struct {
	Outcome string                       `json:"outcome"`
	Sends   []activities.SendEmailResult `json:"sends"`
}

// Activation runs the new-member activation journey for one enrollment:
// welcome email at once, a nudge when no order is paid by NudgeAfter, a last
// nudge by LastNudgeAfter, and an immediate exit as soon as an order is paid.
func Activation(ctx workflow.Context, in ActivationInput) (ActivationResult, error) {
	ctx = activityOptions(ctx)
	def := in.Definition
	start := workflow.Now(ctx)
	var res ActivationResult

	paid := false
	orders := workflow.GetSignalChannel(ctx, SignalOrderPaid)
	workflow.Go(ctx, func(ctx workflow.Context) {
		var sig OrderPaidSignal
		orders.Receive(ctx, &sig)
		paid = true
	})

	steps := []struct {
		name, template string
		at             time.Duration
	}{
		{StepWelcome, def.WelcomeTemplate, 0},
		{StepNudge, def.NudgeTemplate, def.NudgeAfter},
		{StepLastNudge, def.LastNudgeTemplate, def.LastNudgeAfter},
	}
	for _, step := range steps {
		// The welcome goes out even if an order raced the registration; only
		// the nudges are about converting.
		if step.at > 0 {
			if wait := start.Add(step.at).Sub(workflow.Now(ctx)); wait > 0 {
				if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return paid }); err != nil {
					return res, err
				}
			}
			if paid {
				return res, endEnrollment(ctx, in, loyalty.EnrollmentExited, OutcomeConverted, &res)
			}
		}
		// Nudges re-check the projection: an order whose signal was missed
		// still ends the journey.
		sent, err := sendEmail(ctx, in, step.name, step.template, step.at > 0)
		if err != nil {
			return res, err
		}
		res.Sends = append(res.Sends, sent)
		if sent.Reason == activities.SkipGoalReached {
			return res, endEnrollment(ctx, in, loyalty.EnrollmentExited, OutcomeConverted, &res)
		}
	}
	if paid {
		return res, endEnrollment(ctx, in, loyalty.EnrollmentExited, OutcomeConverted, &res)
	}
	return res, endEnrollment(ctx, in, loyalty.EnrollmentCompleted, OutcomeCompleted, &res)
}

func sendEmail(ctx workflow.Context, in ActivationInput, step, template string, skipIfOrdered bool) (activities.SendEmailResult, error) {
	var a *activities.Activities
	var out activities.SendEmailResult
	err := workflow.ExecuteActivity(ctx, a.SendEmail, activities.SendEmailRequest{
		MemberID:      in.MemberID,
		Journey:       ActivationJourney,
		Enrollment:    in.Enrollment,
		Step:          step,
		Template:      template,
		SkipIfOrdered: skipIfOrdered,
	}).Get(ctx, &out)
	return out, err
}

func endEnrollment(ctx workflow.Context, in ActivationInput, status loyalty.EnrollmentStatus, outcome string, res *ActivationResult) error {
	var a *activities.Activities
	res.Outcome = outcome
	return workflow.ExecuteActivity(ctx, a.EndEnrollment, activities.EndEnrollmentRequest{
		MemberID: in.MemberID,
		Journey:  ActivationJourney,
		Number:   in.Enrollment,
		Status:   status,
		Reason:   outcome,
	}).Get(ctx, nil)
}
