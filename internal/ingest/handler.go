// Package ingest is the webhook endpoint storefronts post events to
// (POST /v1/events). It verifies the source's HMAC signature, written either
// memberflow's way (Memberflow-Signature) or the Standard Webhooks way
// (webhook-id, webhook-timestamp, webhook-signature), validates every
// event against its schema and the programme's rules (currency, amounts that
// must agree, refunds against what their orders paid) and records the batch
// once, answering fast: everything slow happens downstream of the table's
// stream.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/stdwebhooks"
	"github.com/memberflow/memberflow/internal/store"
)

// MaxBodyBytes bounds a request body: 100 events of a few KB each, well under
// API Gateway's 10 MB and Lambda's 6 MB payload limits.
const MaxBodyBytes = 1 << 20

// Store is what ingest needs of the store: recording events, and reading a
// member's ledger account to check a refund against the order it names.
type Store interface {
	store.Events
	GetAccount(ctx context.Context, memberID string) (loyalty.Account, error)
}

// Handler serves POST /v1/events.
type Handler struct {
	Store Store
	// Rules are the programme's (see ProgramRules). Zero rules cannot
	// check a currency, so the handler answers 500 rather than accept
	// unchecked events.
	Rules   events.Rules
	Secrets map[string][]byte // webhook secret per source name
	Log     *slog.Logger
	Now     func() time.Time // nil means time.Now
}

// ProgramRules are the facts of the programme that event validation needs.
func ProgramRules(p *loyalty.Program) events.Rules {
	return events.Rules{Currency: p.Currency, PointValue: p.Points.PointValue}
}

// Accepted is the 202 answer: the ids recorded now and those recorded before.
type Accepted struct {
	IDs        []string `json:"ids"`
	Duplicates []string `json:"duplicates,omitempty"`
}

// Duplicate is the 200 answer when every event of the request was recorded before.
type Duplicate struct {
	Duplicate bool     `json:"duplicate"`
	IDs       []string `json:"ids"`
}

// ValidationFailed is the 400 answer naming every bad field and its rule.
type ValidationFailed struct {
	Error    string           `json:"error"`
	Problems []events.Problem `json:"problems"`
}

// Conflict is the 409 answer when an event id was recorded before with a
// different body: reusing an id for other content is a storefront bug that
// a 200 would hide, and the recorded event is not replaced. Nothing of the
// request was recorded.
type Conflict struct {
	Error string   `json:"error"`
	IDs   []string `json:"ids"`
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := httpx.ReadPost(w, r, MaxBodyBytes)
	if !ok {
		return
	}

	// Authenticate before parsing: unsigned input is never looked at.
	source := r.Header.Get(HeaderSource)
	secret, ok := h.Secrets[source]
	if source == events.InternalSource {
		// memberflow's own events (member.segment_changed) are recorded
		// under this source; a storefront must never write there.
		h.Log.WarnContext(r.Context(), "webhook rejected", "reason", "reserved source")
		httpx.WriteError(w, http.StatusUnauthorized, HeaderSource+" header must name a configured source; "+events.InternalSource+" is reserved for memberflow's own events")
		return
	}
	if source == "" || !ok {
		h.Log.WarnContext(r.Context(), "webhook rejected", "reason", "unknown source")
		httpx.WriteError(w, http.StatusUnauthorized, HeaderSource+" header must name a configured source")
		return
	}
	received := h.now()
	delivery, err := VerifyRequest(secret, r.Header, body, received)
	if err != nil {
		h.Log.WarnContext(r.Context(), "webhook rejected", "source", source, "reason", err.Error())
		httpx.WriteError(w, http.StatusUnauthorized, err.Error())
		return
	}
	if err := store.CheckDeliveryID(delivery); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, stdwebhooks.HeaderID+": "+err.Error())
		return
	}
	log := h.Log
	if delivery != "" {
		log = log.With("delivery", delivery)
	}
	h.Record(w, r, log, Delivery{Source: source, ID: delivery, Received: received}, body)
}

// Delivery is one authenticated request to record: the source it came
// from, the sender's delivery id ("" when the scheme has none) and when
// it was received.
type Delivery struct {
	Source string
	// ID is the sender's id of this delivery (a Standard Webhooks
	// webhook-id, X-Shopify-Webhook-Id …), kept on every event the
	// request records (store.RecordedEvent.DeliveryID). Events are
	// deduplicated by their own ids, not by it: a redelivery under a new
	// id is a duplicate that keeps the first delivery's id.
	ID       string
	Received time.Time
}

// Answer is what recording a request answers: the HTTP status and the
// JSON body (Accepted, Duplicate, ValidationFailed or Conflict).
type Answer struct {
	Status int
	Body   any
}

// Record validates body, one memberflow event or a batch of them, and
// records it for the delivery's source, answering as POST /v1/events does
// (202, 200 for duplicates, 400 naming each bad field, 409 for an id
// reused with another body). The caller has authenticated the request.
func (h *Handler) Record(w http.ResponseWriter, r *http.Request, log *slog.Logger, d Delivery, body []byte) {
	a, err := h.RecordAnswer(r.Context(), log, d, body)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	httpx.WriteJSON(w, a.Status, a.Body)
}

// RecordAnswer is Record without the writing: internal/connectors records
// what it maps from a storefront's native webhook through here, so both
// paths share one validation and one idempotency rule, and answers the
// way its platform expects. An error is the store's or the programme's,
// a 500.
func (h *Handler) RecordAnswer(ctx context.Context, log *slog.Logger, d Delivery, body []byte) (Answer, error) {
	parser := events.Parser{Rules: h.Rules, Orders: h.orderStanding}
	evs, err := parser.ParseBatch(ctx, body)
	if err != nil {
		var ve *events.ValidationError
		if errors.As(err, &ve) {
			return Answer{http.StatusBadRequest, ValidationFailed{Error: "invalid events; nothing was recorded", Problems: ve.Problems}}, nil
		}
		return Answer{}, err
	}

	recs := make([]store.RecordedEvent, len(evs))
	for i, e := range evs {
		recs[i] = store.RecordedEvent{
			Source: d.Source, ID: e.ID, Type: string(e.Type), MemberID: e.MemberID,
			OccurredAt: e.OccurredAt, ReceivedAt: d.Received, Payload: e.Raw, Digest: e.Digest, DeliveryID: d.ID,
		}
	}
	res, err := h.Store.PutEvents(ctx, recs)
	if err != nil {
		return Answer{}, err
	}
	if len(res.Conflicts) > 0 {
		log.WarnContext(ctx, "webhook rejected", "source", d.Source, "reason", "event id reused with a different body", "ids", res.Conflicts)
		return Answer{http.StatusConflict, Conflict{Error: conflictMessage(res.Conflicts), IDs: res.Conflicts}}, nil
	}
	log.InfoContext(ctx, "events recorded", "source", d.Source, "accepted", len(res.Accepted), "duplicates", len(res.Duplicates))
	if len(res.Accepted) == 0 {
		return Answer{http.StatusOK, Duplicate{Duplicate: true, IDs: res.Duplicates}}, nil
	}
	return Answer{http.StatusAccepted, Accepted{IDs: res.Accepted, Duplicates: res.Duplicates}}, nil
}

// conflictMessage names every id recorded before with a different body.
func conflictMessage(ids []string) string {
	if len(ids) == 1 {
		return fmt.Sprintf("event id %s was recorded before with a different body", ids[0])
	}
	return fmt.Sprintf("event id %s was recorded before with a different body, and so were %s", ids[0], strings.Join(ids[1:], ", "))
}

// orderStanding tells the parser what the ledger has applied of a member's
// order: one account read, made only for refunds, which are rare. An order
// the ledger has not applied yet (or no longer keeps) is not found, and
// the refund is accepted: the ledger caps refunds at the order amount.
func (h *Handler) orderStanding(ctx context.Context, memberID, orderID string) (events.OrderStanding, bool, error) {
	a, err := h.Store.GetAccount(ctx, memberID)
	if errors.Is(err, store.ErrNotFound) {
		return events.OrderStanding{}, false, nil
	}
	if err != nil {
		return events.OrderStanding{}, false, fmt.Errorf("read the account of %s: %w", memberID, err)
	}
	i := slices.IndexFunc(a.Orders, func(o loyalty.OrderRecord) bool { return o.OrderID == orderID })
	if i < 0 {
		return events.OrderStanding{}, false, nil
	}
	o := a.Orders[i]
	return events.OrderStanding{Amount: o.Amount, Refunded: o.Refunded, RefundIDs: o.RefundIDs}, true, nil
}
