// Package dispatch consumes the table's stream: for every newly recorded
// webhook event it updates the member projection and the loyalty ledger
// (each once per event id) and starts or signals the enrollment workflows the event concerns, with
// deterministic workflow IDs so a redelivered record changes nothing.
//
// The same Handler runs in Lambda (functions/dispatch) and locally behind a
// DynamoDB Streams poller (internal/streams).
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/projection"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/workflows"
)

// Temporal is the part of the Temporal client dispatch uses.
type Temporal interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// Handler applies recorded events.
type Handler struct {
	Store      store.Store
	Ledger     *ledger.Service
	Temporal   Temporal
	TaskQueue  string
	Activation workflows.ActivationDefinition
	Log        *slog.Logger
	Now        func() time.Time // nil means time.Now
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Handle processes a stream batch in order. On the first record that fails it
// stops and reports that record, so Lambda retries from there and a member's
// events are never applied out of order; records before it are done.
func (h *Handler) Handle(ctx context.Context, batch lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	var resp lambdaevents.DynamoDBEventResponse
	for _, rec := range batch.Records {
		if err := h.handleRecord(ctx, rec); err != nil {
			h.Log.ErrorContext(ctx, "dispatch failed; record will be retried",
				"event_id", rec.EventID, "sequence", rec.Change.SequenceNumber, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures,
				lambdaevents.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
			break
		}
	}
	return resp, nil
}

func (h *Handler) handleRecord(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) (err error) {
	// A panic on one record must not kill the runtime and poison the whole
	// shard; it becomes that record's failure.
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	if rec.EventName != string(lambdaevents.DynamoDBOperationTypeInsert) {
		return nil
	}
	img := rec.Change.NewImage
	if attr, ok := img["entity"]; !ok || attr.DataType() != lambdaevents.DataTypeString || attr.String() != "event" {
		return nil
	}
	payload, ok := img["payload"]
	if !ok || payload.DataType() != lambdaevents.DataTypeString {
		return errors.New("event item has no payload")
	}
	var env events.Envelope
	if err := json.Unmarshal([]byte(payload.String()), &env); err != nil {
		return fmt.Errorf("decode recorded event: %w", err)
	}
	data, err := env.DecodeData()
	if err != nil {
		return fmt.Errorf("decode %s data of event %s: %w", env.Type, env.ID, err)
	}
	m, err := Project(ctx, h.Store, env, data)
	if err != nil {
		return err
	}
	// The ledger needs the projection (birthday, email and phone for the
	// trial and referral checks), so it runs after it, with it.
	if err := h.Ledger.ApplyEventTo(ctx, &m, env, data); err != nil {
		return err
	}
	return h.route(ctx, env, data)
}

// Project is projection.Apply, kept here because dispatch is where events
// meet the projection.
func Project(ctx context.Context, st store.Members, env events.Envelope, data any) (loyalty.Member, error) {
	return projection.Apply(ctx, st, env, data)
}

// route starts or signals the workflows the event concerns.
func (h *Handler) route(ctx context.Context, env events.Envelope, data any) error {
	switch d := data.(type) {
	case *events.MemberRegisteredData:
		return h.startActivation(ctx, env)
	case *events.OrderPaidData:
		if err := h.attributeOrder(ctx, env, d); err != nil {
			return err
		}
		return h.signalOrderPaid(ctx, env, d)
	}
	return nil
}

// ConversionWindow is how long after a click an order counts as that
// email's conversion.
const ConversionWindow = 7 * 24 * time.Hour

// attributeOrder counts the order as a conversion of every email the member
// clicked in the window before it (once per email, by its idempotency key
// from custom_args). One Query; nothing when there was no click.
func (h *Handler) attributeOrder(ctx context.Context, env events.Envelope, d *events.OrderPaidData) error {
	evs, err := h.Store.ListSendEvents(ctx, env.MemberID, env.OccurredAt.Add(-ConversionWindow))
	if err != nil {
		return fmt.Errorf("attribute order %s: %w", d.OrderID, err)
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		if ev.Type != store.EventClick || ev.At.After(env.OccurredAt) || seen[ev.SendKey] {
			continue
		}
		seen[ev.SendKey] = true
		err := h.Store.RecordConversion(ctx, env.MemberID, d.OrderID, ev, env.OccurredAt)
		if err != nil && !errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("attribute order %s to %s: %w", d.OrderID, ev.SendKey, err)
		}
	}
	return nil
}

func (h *Handler) startActivation(ctx context.Context, env events.Envelope) error {
	const number = 1
	id := workflows.ActivationWorkflowID(env.MemberID)
	enr, _, err := h.Store.StartEnrollment(ctx, loyalty.Enrollment{
		MemberID: env.MemberID, Journey: workflows.ActivationJourney, Number: number,
		WorkflowID: id, Status: loyalty.EnrollmentActive, StartedAt: h.now(),
	})
	if err != nil {
		return fmt.Errorf("start activation of %s: %w", env.MemberID, err)
	}
	if enr.Status.Final() {
		return nil // ran before; a redelivered registration must not restart it
	}
	_, err = h.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: h.TaskQueue,
		// Reject: a closed enrollment is never re-run. UseExisting: a
		// redelivered event attaches to the running one instead of failing.
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.Activation, workflows.ActivationInput{
		MemberID: env.MemberID, Enrollment: number, Definition: h.Activation,
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("start workflow %s: %w", id, err)
	}
	h.Log.InfoContext(ctx, "enrollment started", "workflow_id", id, "event_id", env.ID)
	return nil
}

// signalOrderPaid tells the member's open enrollments that wait for an order.
// Orders are high-volume: with no open enrollment this costs one Query and
// no Temporal action.
func (h *Handler) signalOrderPaid(ctx context.Context, env events.Envelope, d *events.OrderPaidData) error {
	enrs, err := h.Store.ListEnrollments(ctx, env.MemberID)
	if err != nil {
		return fmt.Errorf("signal order %s: %w", d.OrderID, err)
	}
	for _, e := range enrs {
		if e.Status != loyalty.EnrollmentActive || e.Journey != workflows.ActivationJourney {
			continue
		}
		err := h.Temporal.SignalWorkflow(ctx, e.WorkflowID, "", workflows.SignalOrderPaid, workflows.OrderPaidSignal{
			EventID: env.ID, OrderID: d.OrderID, OccurredAt: env.OccurredAt,
		})
		var gone *serviceerror.NotFound
		if errors.As(err, &gone) {
			continue // finished between our read and the signal
		}
		if err != nil {
			return fmt.Errorf("signal %s: %w", e.WorkflowID, err)
		}
		h.Log.InfoContext(ctx, "enrollment signalled", "workflow_id", e.WorkflowID, "signal", workflows.SignalOrderPaid, "event_id", env.ID)
	}
	return nil
}
