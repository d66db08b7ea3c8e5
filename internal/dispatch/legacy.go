package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/memberflow/memberflow/events"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/workflows"
)

// The first engine's enrollments (no version) run its own workflows until
// they drain: they are told about orders, conversions and cancellations
// with the signals those workflows take. Nothing starts new ones. This
// file goes when the last of them has ended (see README, "Upgrading").

// Temporal is the part of the Temporal client dispatch signals the first
// engine's workflows with.
type Temporal interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// legacyListens reports whether the first engine's enrollments are told
// about events of type t.
func legacyListens(t events.Type) bool {
	return t == events.OrderPaid || t == events.SubscriptionConverted || t == events.SubscriptionCancelled
}

// legacy tells the member's open enrollments of the first engine about
// the event.
func (h *Handler) legacy(ctx context.Context, env events.Envelope, data any, enrs []loyalty.Enrollment) error {
	for _, e := range enrs {
		if e.Version != 0 || e.Status != loyalty.EnrollmentActive {
			continue
		}
		switch d := data.(type) {
		case *events.OrderPaidData:
			switch e.Journey {
			case journey.Activation:
				if err := h.signal(ctx, env, e, workflows.SignalOrderPaid, workflows.OrderPaidSignal{
					EventID: env.ID, OrderID: d.OrderID, OccurredAt: env.OccurredAt,
				}); err != nil {
					return err
				}
			case journey.Winback:
				// Win-back had no workflow per member: its exit is this
				// store write. Only an order after the lapse the
				// enrollment is about ends it.
				if anchor, err := time.Parse("20060102", strconv.Itoa(e.Number)); err == nil && !env.OccurredAt.After(anchor.Add(24*time.Hour)) {
					continue
				}
				if err := h.Store.EndEnrollment(ctx, e.MemberID, e.Journey, e.Number, loyalty.EnrollmentExited, workflows.OutcomeConverted, h.now()); err != nil {
					return fmt.Errorf("end win-back of %s: %w", e.MemberID, err)
				}
			}
		case *events.SubscriptionConvertedData:
			if e.Journey == journey.Trial {
				if err := h.signal(ctx, env, e, workflows.SignalTrialConverted,
					workflows.TrialSignal{EventID: env.ID, OccurredAt: env.OccurredAt, PeriodEndsAt: d.PeriodEndsAt}); err != nil {
					return err
				}
			}
		case *events.SubscriptionCancelledData:
			if e.Journey == journey.Trial {
				if err := h.signal(ctx, env, e, workflows.SignalTrialCancelled,
					workflows.TrialSignal{EventID: env.ID, OccurredAt: env.OccurredAt}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (h *Handler) signal(ctx context.Context, env events.Envelope, e loyalty.Enrollment, signal string, arg any) error {
	if h.Legacy == nil || e.WorkflowID == "" {
		return nil
	}
	err := h.Legacy.SignalWorkflow(ctx, e.WorkflowID, "", signal, arg)
	var gone *serviceerror.NotFound
	if errors.As(err, &gone) {
		return nil // finished between our read and the signal
	}
	if err != nil {
		return fmt.Errorf("signal %s: %w", e.WorkflowID, err)
	}
	h.Log.InfoContext(ctx, "first-engine enrollment signalled", "workflow_id", e.WorkflowID, "signal", signal, "event_id", env.ID)
	return nil
}
