// Package dispatch consumes the table's stream: for every newly recorded
// webhook event it updates the member projection and the loyalty ledger
// (each once per event id) and starts or signals the enrollment workflows the event concerns, with
// deterministic workflow IDs so a redelivered record changes nothing.
//
// The same Handler runs in Lambda (functions/dispatch) and locally behind a
// DynamoDB Streams poller (internal/streams).
package dispatch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/events"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
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
	Store     store.Store
	Ledger    *ledger.Service
	Temporal  Temporal
	TaskQueue string
	// Journeys are the validated definitions; each enrollment started
	// here pins its journey's definition into the workflow input.
	Journeys journey.Set
	Log      *slog.Logger
	Now      func() time.Time // nil means time.Now
	// Parallel is how many members' records of one batch are worked on at
	// once (default DefaultParallel). Each member's records stay in stream
	// order; the work is round trips to DynamoDB and Temporal, so members
	// in parallel is what makes a burst drain quickly.
	Parallel int
}

// DefaultParallel is Handler.Parallel when unset.
const DefaultParallel = 16

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Handle processes a stream batch: the records of different members in
// parallel, each member's in stream order. A member whose record fails
// stops there, and the failure is reported, so Lambda (or the local
// poller) retries the batch from the earliest failed record; everything
// redelivered after it is recognised as applied and changes nothing.
func (h *Handler) Handle(ctx context.Context, batch lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	var order []string
	byMember := map[string][]int{}
	for i, rec := range batch.Records {
		m := memberOf(rec)
		if _, ok := byMember[m]; !ok {
			order = append(order, m)
		}
		byMember[m] = append(byMember[m], i)
	}
	failed := make([]bool, len(batch.Records))
	sem := make(chan struct{}, cmp.Or(h.Parallel, DefaultParallel))
	var wg sync.WaitGroup
	for _, m := range order {
		sem <- struct{}{}
		wg.Add(1)
		go func(idx []int) {
			defer func() { <-sem; wg.Done() }()
			for _, i := range idx {
				rec := batch.Records[i]
				if err := h.handleRecord(ctx, rec); err != nil {
					h.Log.ErrorContext(ctx, "dispatch failed; record will be retried",
						"event_id", rec.EventID, "sequence", rec.Change.SequenceNumber, "err", err)
					failed[i] = true
					return
				}
			}
		}(byMember[m])
	}
	wg.Wait()
	var resp lambdaevents.DynamoDBEventResponse
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures,
				lambdaevents.DynamoDBBatchItemFailure{ItemIdentifier: batch.Records[i].Change.SequenceNumber})
		}
	}
	return resp, nil
}

// Wanted reports whether dispatch acts on a stream record: a newly
// inserted webhook event. It is what the stream mapping's FilterCriteria
// in template.yaml pass to the Lambda, and what the local poller filters
// with, so projection, ledger and enrollment writes never reach dispatch.
func Wanted(rec lambdaevents.DynamoDBEventRecord) bool {
	if rec.EventName != string(lambdaevents.DynamoDBOperationTypeInsert) {
		return false
	}
	attr, ok := rec.Change.NewImage["entity"]
	return ok && attr.DataType() == lambdaevents.DataTypeString && attr.String() == "event"
}

// memberOf is the member a stream record concerns ("" for items that are
// not member events; they are skipped, in any order).
func memberOf(rec lambdaevents.DynamoDBEventRecord) string {
	if attr, ok := rec.Change.NewImage["member_id"]; ok && attr.DataType() == lambdaevents.DataTypeString {
		return attr.String()
	}
	return ""
}

func (h *Handler) handleRecord(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) (err error) {
	// A panic on one record must not kill the runtime and poison the whole
	// shard; it becomes that record's failure.
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	if !Wanted(rec) {
		return nil
	}
	img := rec.Change.NewImage
	payload, ok := img["payload"]
	if !ok || payload.DataType() != lambdaevents.DataTypeString {
		return errors.New("event item has no payload")
	}
	var env events.Envelope
	if err := json.Unmarshal([]byte(payload.String()), &env); err != nil {
		return fmt.Errorf("decode recorded event: %w", err)
	}
	env.Raw = json.RawMessage(payload.String()) // the ledger's journal keeps the event as recorded
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
	case *events.SubscriptionTrialStartedData:
		return h.startTrial(ctx, env, d)
	case *events.SubscriptionConvertedData:
		return h.signalOpen(ctx, env, journey.Trial, workflows.SignalTrialConverted,
			workflows.TrialSignal{EventID: env.ID, OccurredAt: env.OccurredAt, PeriodEndsAt: d.PeriodEndsAt})
	case *events.SubscriptionCancelledData:
		return h.signalOpen(ctx, env, journey.Trial, workflows.SignalTrialCancelled,
			workflows.TrialSignal{EventID: env.ID, OccurredAt: env.OccurredAt})
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
	def, ok := h.Journeys[journey.Activation]
	if !ok || !def.Enabled {
		return nil
	}
	return h.startEnrollment(ctx, env, journey.Activation, workflows.Activation, workflows.ActivationInput{
		MemberID: env.MemberID, Enrollment: 1, Definition: def,
	})
}

func (h *Handler) startTrial(ctx context.Context, env events.Envelope, d *events.SubscriptionTrialStartedData) error {
	def, ok := h.Journeys[journey.Trial]
	if !ok || !def.Enabled {
		return nil
	}
	// Only a trial the ledger granted is accompanied: a second trial of
	// the same person, or one of another plan, gets no reminders.
	acc, err := h.Store.GetAccount(ctx, env.MemberID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("start trial of %s: %w", env.MemberID, err)
	}
	if p := acc.Paid; p == nil || p.Status != loyalty.PaidTrial || p.SubscriptionID != d.SubscriptionID {
		h.Log.InfoContext(ctx, "trial journey not started: the ledger did not grant this trial", "member", env.MemberID, "event_id", env.ID)
		return nil
	}
	// One trial per person (the ledger refuses a second), so one
	// enrollment per member.
	return h.startEnrollment(ctx, env, journey.Trial, workflows.Trial, workflows.TrialInput{
		MemberID: env.MemberID, Enrollment: 1, SubscriptionID: d.SubscriptionID, TrialEndsAt: d.TrialEndsAt, Definition: def,
	})
}

// startEnrollment records enrollment 1 of the journey and starts its
// workflow, once: a closed enrollment is never re-run and a redelivered
// event attaches to the running one.
func (h *Handler) startEnrollment(ctx context.Context, env events.Envelope, name string, wf, input any) error {
	const number = 1
	id := workflows.EnrollmentWorkflowID(name, env.MemberID, number)
	enr, _, err := h.Store.StartEnrollment(ctx, loyalty.Enrollment{
		MemberID: env.MemberID, Journey: name, Number: number,
		WorkflowID: id, Status: loyalty.EnrollmentActive, StartedAt: h.now(),
	})
	if err != nil {
		return fmt.Errorf("start %s of %s: %w", name, env.MemberID, err)
	}
	if enr.Status.Final() {
		return nil // ran before; a redelivered event must not restart it
	}
	_, err = h.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: h.TaskQueue,
		// Reject: a closed enrollment is never re-run. UseExisting: a
		// redelivered event attaches to the running one instead of failing.
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, wf, input)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("start workflow %s: %w", id, err)
	}
	h.Log.InfoContext(ctx, "enrollment started", "workflow_id", id, "event_id", env.ID)
	return nil
}

// signalOrderPaid tells the member's open activation enrollment about the
// order and ends an open win-back enrollment (win-back has no workflow
// per member: its exit is this store write). Orders are high-volume: with
// no open enrollment this costs one Query and no Temporal action.
func (h *Handler) signalOrderPaid(ctx context.Context, env events.Envelope, d *events.OrderPaidData) error {
	enrs, err := h.Store.ListEnrollments(ctx, env.MemberID)
	if err != nil {
		return fmt.Errorf("signal order %s: %w", d.OrderID, err)
	}
	for _, e := range enrs {
		if e.Status != loyalty.EnrollmentActive {
			continue
		}
		switch e.Journey {
		case journey.Activation:
			if err := h.signal(ctx, env, e, workflows.SignalOrderPaid, workflows.OrderPaidSignal{
				EventID: env.ID, OrderID: d.OrderID, OccurredAt: env.OccurredAt,
			}); err != nil {
				return err
			}
		case journey.Winback:
			// Only an order after the lapse the enrollment is about ends
			// it; a late webhook of an older order does not.
			if anchor, err := time.Parse("20060102", strconv.Itoa(e.Number)); err == nil && !env.OccurredAt.After(anchor.Add(24*time.Hour)) {
				continue
			}
			if err := h.Store.EndEnrollment(ctx, e.MemberID, e.Journey, e.Number, loyalty.EnrollmentExited, workflows.OutcomeConverted, h.now()); err != nil {
				return fmt.Errorf("end win-back of %s: %w", e.MemberID, err)
			}
			h.Log.InfoContext(ctx, "enrollment exited", "journey", e.Journey, "number", e.Number, "event_id", env.ID)
		}
	}
	return nil
}

// signalOpen signals the member's open enrollments in the journey.
func (h *Handler) signalOpen(ctx context.Context, env events.Envelope, name, signal string, arg any) error {
	enrs, err := h.Store.ListEnrollments(ctx, env.MemberID)
	if err != nil {
		return fmt.Errorf("signal %s: %w", signal, err)
	}
	for _, e := range enrs {
		if e.Status == loyalty.EnrollmentActive && e.Journey == name {
			if err := h.signal(ctx, env, e, signal, arg); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *Handler) signal(ctx context.Context, env events.Envelope, e loyalty.Enrollment, signal string, arg any) error {
	err := h.Temporal.SignalWorkflow(ctx, e.WorkflowID, "", signal, arg)
	var gone *serviceerror.NotFound
	if errors.As(err, &gone) {
		return nil // finished between our read and the signal
	}
	if err != nil {
		return fmt.Errorf("signal %s: %w", e.WorkflowID, err)
	}
	h.Log.InfoContext(ctx, "enrollment signalled", "workflow_id", e.WorkflowID, "signal", signal, "event_id", env.ID)
	return nil
}
