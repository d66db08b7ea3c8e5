// Package dispatch consumes the table's stream: for every newly recorded
// webhook event it updates the member projection and the loyalty ledger
// (each once per event id; memberflow's own internal events, such as
// member.segment_changed, change neither), then hands the event to the journeys — the
// enrollments listening for its type are told (exits, goals, waits) and
// the journeys it triggers enrol the member (internal/journeys) — with
// deterministic enrollment numbers and workflow IDs, so a redelivered
// record changes nothing.
//
// The same Handler runs in Lambda (functions/dispatch) and locally behind a
// DynamoDB Streams poller (internal/streams).
package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/projection"
	"github.com/memberflow/memberflow/internal/store"
)

// Handler applies recorded events.
type Handler struct {
	Store  store.Store
	Ledger *ledger.Service
	// Journeys is the live set and the pinned versions; Enroller enrols
	// and tells enrollments (its Runner starts and signals workflows).
	Journeys *journeys.Service
	Enroller *journeys.Enroller
	// Legacy signals the first engine's workflows until they drain (nil:
	// none are told).
	Legacy Temporal
	Log    *slog.Logger
	Now    func() time.Time // nil means time.Now
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
	source := ""
	if a, ok := img["source"]; ok && a.DataType() == lambdaevents.DataTypeString {
		source = a.String()
	}
	return h.Apply(ctx, source, []byte(payload.String()))
}

// Apply applies one recorded event of source, its payload as stored: the
// projection, the ledger, then the journeys. Handle calls it for each
// wanted stream record; the simulator (internal/simulate) calls it in
// event order.
func (h *Handler) Apply(ctx context.Context, source string, payload []byte) error {
	// The ledger's journal keeps the event as recorded (env.Raw).
	env, data, err := store.DecodeRecorded(payload)
	if err != nil {
		return err
	}
	if events.IsInternal(env.Type) {
		if source != events.InternalSource {
			// Ingest refuses internal types and the reserved source, so
			// this is a forged or misrouted item: dropped, never routed,
			// and not retried (retrying cannot make it genuine).
			h.Log.WarnContext(ctx, "internal event type recorded under another source; dropped", "source", source, "event_id", env.ID, "type", string(env.Type))
			return nil
		}
		return h.internal(ctx, env, data)
	}
	m, err := Project(ctx, h.Store, env, data)
	if err != nil {
		return err
	}
	// An erasure sets its mark first (store.Erasure.MarkErased), then
	// sweeps; the mark may have come after the projection read the
	// profile. An event that carries personal data looks again before the
	// ledger's journal keeps it; the journeys look again before entering
	// (route).
	if !m.Erased() && carriesPersonalData(env, data) {
		if m, err = h.lookAgain(ctx, m); err != nil {
			return err
		}
	}
	if m.Erased() {
		if env, data, err = h.redactErased(ctx, source, env, data); err != nil {
			return err
		}
	}
	// The ledger needs the projection (birthday, email and phone for the
	// trial and referral checks), so it runs after it, with it.
	acc, err := h.Ledger.ApplyEventTo(ctx, &m, env, data)
	if err != nil {
		return err
	}
	return h.route(ctx, env, data, m, acc)
}

// carriesPersonalData reports whether the event would set personal data
// on a profile (what redactErased removes).
func carriesPersonalData(env events.Envelope, data any) bool {
	carried, _ := loyalty.Project(loyalty.Member{ID: env.MemberID}, env, data)
	return store.MemberHasPersonalData(carried)
}

// lookAgain reads the profile again and returns it when it is now marked
// erased; m otherwise.
func (h *Handler) lookAgain(ctx context.Context, m loyalty.Member) (loyalty.Member, error) {
	if m.Erased() {
		return m, nil
	}
	now, err := h.Store.GetMember(ctx, m.ID)
	if err != nil {
		return m, fmt.Errorf("read %s again for the erased mark: %w", m.ID, err)
	}
	if now.Erased() {
		return now, nil
	}
	return m, nil
}

// redactErased handles an event of an erased member, recorded after the
// erasure or still in the stream when it ran: the projection has already
// kept its personal data off the profile (loyalty.Project); here the
// recorded item loses it too (store.Erasure.RedactEvent), and the ledger's
// journal and the journeys get the redacted event, so no later item holds
// it. It is redacted by field (store.PersonalData.RedactJSON): the
// personal fields go, the id, type, member and time stay exactly as they
// are, and only free text has values replaced. The values looked for are
// the event's own (what it would have set on a profile), since the
// erased profile has none left. Events without personal data (orders,
// refunds) change nothing and cost nothing: they apply to the ledger
// under the member id as before.
func (h *Handler) redactErased(ctx context.Context, source string, env events.Envelope, data any) (events.Envelope, any, error) {
	carried, _ := loyalty.Project(loyalty.Member{ID: env.MemberID}, env, data)
	p := store.NewPersonalData(carried)
	red, changed := p.RedactJSON(env.Raw)
	if !changed {
		return env, data, nil
	}
	if _, err := h.Store.RedactEvent(ctx, source, env.ID, p, h.now()); err != nil {
		return env, data, fmt.Errorf("redact event %s of an erased member: %w", env.ID, err)
	}
	out, outData, err := store.DecodeRecorded(red)
	if err != nil {
		return env, data, fmt.Errorf("redacted event %s: %w", env.ID, err)
	}
	h.Log.InfoContext(ctx, "event of an erased member stored without personal data", "event_id", env.ID, "type", string(env.Type))
	return out, outData, nil
}

// internal routes an event memberflow recorded itself
// (member.segment_changed): it changes neither the projection nor the
// ledger — what it reports is written already — and goes to the journeys
// like any event, over the member as stored.
func (h *Handler) internal(ctx context.Context, env events.Envelope, data any) error {
	m, acc, err := h.Store.MemberAndAccount(ctx, env.MemberID)
	if err != nil {
		return fmt.Errorf("read member %s for %s %s: %w", env.MemberID, env.Type, env.ID, err)
	}
	if m.Version == 0 {
		// Never projected: nobody to enrol. (An erased member has a
		// profile; the enroller refuses them.)
		h.Log.WarnContext(ctx, "internal event for a member without a profile; not routed", "event_id", env.ID, "type", env.Type)
		return nil
	}
	return h.route(ctx, env, data, m, acc)
}

// Project is projection.Apply, kept here because dispatch is where events
// meet the projection.
func Project(ctx context.Context, st store.Members, env events.Envelope, data any) (loyalty.Member, error) {
	return projection.Apply(ctx, st, env, data)
}

// route hands the event to the journeys: their lift counters (orders,
// refunds, goals), the enrollments that listen for its type (exits,
// goals, waits), then the journeys it triggers. With no journey
// triggered by the type, no enrollment listening for it and nothing for
// lift to count, it costs no read.
func (h *Handler) route(ctx context.Context, env events.Envelope, data any, m loyalty.Member, acc loyalty.Account) error {
	if d, ok := data.(*events.OrderPaidData); ok {
		if err := h.attributeOrder(ctx, env, d); err != nil {
			return err
		}
	}
	live, err := h.Journeys.LiveSet(ctx)
	if err != nil {
		return err
	}
	typ := string(env.Type)
	if err := h.FileDates(ctx, live, env, data, m); err != nil {
		return err
	}
	listened, err := h.Journeys.Listened(ctx)
	if err != nil {
		return err
	}
	var triggered []journeys.Live
	for _, l := range live {
		if l.Definition.Trigger.Event == typ {
			triggered = append(triggered, l)
		}
	}
	if len(triggered) == 0 && !listened[typ] && !legacyListens(env.Type) && !journeys.LiftCounts(env.Type) {
		return nil
	}
	if len(triggered) > 0 {
		// The erasure's mark may have been set since the profile was read
		// (handleRecord): an erased member enters no journey.
		if m, err = h.lookAgain(ctx, m); err != nil {
			return err
		}
	}
	doc, err := h.Ledger.DocumentOf(ctx, m, acc, h.now())
	if err != nil {
		return err
	}
	if err := h.legacy(ctx, env, data, doc.Enrollments); err != nil {
		return err
	}
	// Lift first: the enrollments this event starts below are not its
	// outcome.
	if err := h.Enroller.Lift().Event(ctx, h.Journeys.Version, doc, &env, data, acc); err != nil {
		// A goal condition that fails on this event is the journey's
		// problem, as a trigger condition's is (below): logged, and the
		// member's events go on.
		var ge *journeys.GoalError
		if !errors.As(err, &ge) {
			return err
		}
		h.Log.WarnContext(ctx, "journey goal condition failed; lift goal not counted", "journey", ge.Journey, "version", ge.Version, "event_id", env.ID, "err", err)
	}
	if err := h.Enroller.Event(ctx, h.Journeys.Version, doc, &env); err != nil {
		return err
	}
	for _, l := range triggered {
		ok, _, err := h.Enroller.Engine.Trigger(l.Definition, engine.Subject{Member: doc, Event: &env, Now: h.now()})
		if err != nil {
			// A condition that fails on this event (a field it lacks) is
			// the journey's problem, not the stream's: retrying would not
			// help, and it must not hold up the member's other events.
			h.Log.WarnContext(ctx, "journey trigger condition failed; not entered", "journey", l.Definition.Name, "version", l.Definition.Version, "event_id", env.ID, "err", err)
			continue
		}
		if !ok {
			continue
		}
		in, err := h.Enroller.Enter(ctx, journeys.Entry{Live: l, Member: doc, Event: &env,
			Number: journeys.Number(l.Definition, env.OccurredAt), Anchor: env.OccurredAt})
		if err != nil {
			return err
		}
		if in.New {
			h.Log.InfoContext(ctx, "enrolled", "journey", l.Definition.Name, "version", l.Definition.Version, "enrollment", in.Enrollment.Number, "event_id", env.ID)
		}
	}
	return nil
}

// FileDates files the member dates date and inactivity journeys scan for
// that the store has no index of its own for: registration and trial end
// always (a journey published later finds every member), the newest
// event of a type a live inactivity journey watches. The simulator files
// its members' past with it (internal/simulate history.go).
func (h *Handler) FileDates(ctx context.Context, live []journeys.Live, env events.Envelope, data any, m loyalty.Member) error {
	set := func(attr string, t time.Time) error {
		if t.IsZero() {
			return nil
		}
		if err := h.Store.SetMemberDate(ctx, env.MemberID, attr, t.UTC().Format(time.DateOnly)); err != nil {
			return fmt.Errorf("file %s of %s: %w", attr, env.MemberID, err)
		}
		return nil
	}
	switch d := data.(type) {
	case *events.MemberRegisteredData:
		if err := set("registered_at", m.RegisteredAt); err != nil {
			return err
		}
	case *events.SubscriptionTrialStartedData:
		if err := set("trial_ends_on", d.TrialEndsAt); err != nil {
			return err
		}
	}
	if env.Type == events.OrderPaid {
		return nil // last_order_at has its own index
	}
	for _, l := range live {
		if in := l.Definition.Trigger.Inactivity; in != nil && in.Event == string(env.Type) {
			return set(engine.InactivityAttribute(in.Event), env.OccurredAt)
		}
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
