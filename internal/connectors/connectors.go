// Package connectors serves storefronts' native webhooks at
// POST /v1/connectors/{platform} (shopify, woocommerce, youzan): it checks
// each platform's own signature, maps the platform's payload to memberflow
// events and records them through ingest's path (ingest.Handler.Record), so
// validation, duplicates and conflicts follow the /v1/events rules. Event
// ids derive from the platform's resource ids and topics, so a redelivered
// webhook is a duplicate. Members are the platform's customers, linked by a
// deterministic member id: "<platform>-<customer id>" (for Youzan the
// buyer's yz_open_id).
package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/store"
)

// Platform names, which are also the routes' last segments and the source
// names of their secrets and recorded events.
const (
	Shopify     = "shopify"
	WooCommerce = "woocommerce"
	Youzan      = "youzan"
)

// Ignored counts the deliveries whose topic no mapping handles, by
// "<platform> <topic>"; the local stack serves it at /debug/vars.
var Ignored = expvar.NewMap("connector_ignored_topics")

// Handler serves POST /v1/connectors/{platform}.
type Handler struct {
	// Ingest records the mapped events; its Store also answers which
	// member an earlier order belongs to (refund payloads do not say).
	Ingest  *ingest.Handler
	Secrets map[string][]byte // by platform name; a platform without one answers 404
	Log     *slog.Logger
	Now     func() time.Time // nil means time.Now
}

// platform is one storefront's webhook dialect.
type platform interface {
	// verify checks the request's signature; the error names the header.
	verify(secret []byte, h http.Header, body []byte) error
	// topic is the delivery's topic as the platform names it.
	topic(h http.Header, body []byte) string
	// deliveryID is the platform's id of this delivery ("" when it sent
	// none) and where it was read (a header or body field), for a refusal
	// to name.
	deliveryID(h http.Header, body []byte) (id, field string)
	// mapDelivery turns a verified delivery into memberflow events; a
	// topic it does not map gives ignored.
	mapDelivery(ctx context.Context, d delivery) (evs []event, ignored string, err error)
	// acknowledge turns the answer to a delivery (recorded, duplicate,
	// ignored or refused) into what the platform reads as such.
	acknowledge(a ingest.Answer) ingest.Answer
}

// plainAnswers is acknowledge for platforms that read the HTTP status
// alone (Shopify, WooCommerce): memberflow's answer as it is.
type plainAnswers struct{}

func (plainAnswers) acknowledge(a ingest.Answer) ingest.Answer { return a }

// delivery is one verified webhook.
type delivery struct {
	topic string
	body  []byte
	// orderMember finds the member of an order recorded earlier by its
	// order.paid event id.
	orderMember func(ctx context.Context, eventID string) (memberID string, ok bool, err error)
}

// event is one memberflow event a mapping produced, in envelope form.
type event struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	MemberID   string    `json:"member_id"`
	Data       any       `json:"data"`
}

// payloadError is a platform payload that cannot be mapped: 400 naming
// the platform's field.
type payloadError struct{ field, rule string }

func (e *payloadError) Error() string { return e.field + ": " + e.rule }

func bad(field, rule string) error { return &payloadError{field, rule} }

// errOrderUnknown is a refund of an order not recorded (yet): webhooks are
// not ordered, so the platform is asked to retry.
var errOrderUnknown = errors.New("order not recorded")

var platforms = map[string]platform{
	Shopify:     shopifyPlatform{},
	WooCommerce: wooPlatform{},
	Youzan:      youzanPlatform{},
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/v1/connectors/")
	p, known := platforms[name]
	secret, configured := h.Secrets[name]
	if !known || !configured {
		httpx.WriteError(w, http.StatusNotFound, "platform: must be one of shopify, woocommerce, youzan (configured with a secret)")
		return
	}
	body, ok := httpx.ReadPost(w, r, ingest.MaxBodyBytes)
	if !ok {
		return
	}
	received := h.now()
	if err := p.verify(secret, r.Header, body); err != nil {
		h.Log.WarnContext(r.Context(), "connector webhook rejected", "platform", name, "reason", err.Error())
		httpx.WriteError(w, http.StatusUnauthorized, err.Error())
		return
	}
	topic := p.topic(r.Header, body)
	log := h.Log.With("platform", name, "topic", topic)
	deliveryID, field := p.deliveryID(r.Header, body)
	if err := store.CheckDeliveryID(deliveryID); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, field+": "+err.Error())
		return
	}
	if deliveryID != "" {
		log = log.With("delivery", deliveryID)
	}
	answer := func(a ingest.Answer) { a = p.acknowledge(a); httpx.WriteJSON(w, a.Status, a.Body) }
	evs, ignored, err := p.mapDelivery(r.Context(), delivery{topic: topic, body: body, orderMember: h.orderMember(name)})
	var pe *payloadError
	switch {
	case errors.As(err, &pe):
		log.WarnContext(r.Context(), "connector webhook rejected", "reason", pe.Error())
		answer(ingest.Answer{Status: http.StatusBadRequest, Body: httpx.ErrorBody{Error: pe.Error()}})
		return
	case errors.Is(err, errOrderUnknown):
		log.InfoContext(r.Context(), "connector refund before its order", "reason", err.Error())
		answer(ingest.Answer{Status: http.StatusConflict, Body: httpx.ErrorBody{Error: err.Error() + "; retry after the order's paid webhook"}})
		return
	case err != nil:
		httpx.Fail(w, r, h.Log, err)
		return
	}
	if len(evs) == 0 {
		Ignored.Add(name+" "+counted(topic), 1)
		log.InfoContext(r.Context(), "connector topic ignored", "reason", ignored)
		answer(ingest.Answer{Status: http.StatusOK, Body: map[string]string{"ignored": topic, "reason": ignored}})
		return
	}
	batch, err := json.Marshal(evs)
	if err != nil {
		httpx.Fail(w, r, h.Log, fmt.Errorf("encode %s events: %w", name, err))
		return
	}
	a, err := h.Ingest.RecordAnswer(r.Context(), log, ingest.Delivery{Source: name, ID: deliveryID, Received: received}, batch)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	answer(a)
}

// orderMember reads the member of an order from its recorded order.paid.
func (h *Handler) orderMember(source string) func(context.Context, string) (string, bool, error) {
	return func(ctx context.Context, eventID string) (string, bool, error) {
		ev, err := h.Ingest.Store.GetEvent(ctx, source, eventID)
		if errors.Is(err, store.ErrNotFound) {
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("read event %s of %s: %w", eventID, source, err)
		}
		return ev.MemberID, true, nil
	}
}

// idPattern is the envelope's id rule: ids end up inside DynamoDB keys.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// checkID checks a platform id that becomes part of a memberflow id.
func checkID(field, v string) (string, error) {
	if v == "" || !idPattern.MatchString(v) {
		return "", bad(field, "must be present and 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'")
	}
	return v, nil
}

// money parses a platform amount, a decimal string, into at most two
// decimal places, rejecting negatives.
func money(field, s string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(strings.TrimSpace(s))
	if err != nil {
		return decimal.Decimal{}, bad(field, "must be a decimal amount like \"12.50\"")
	}
	if d.IsNegative() {
		return decimal.Decimal{}, bad(field, "must not be negative")
	}
	if !d.Equal(d.Round(2)) {
		return decimal.Decimal{}, bad(field, "must have at most 2 decimal places")
	}
	return d.Round(2), nil
}

// line builds an order line from a platform's line at path at (such as
// "line_items[2]"), whose total is amount, named amountField there.
func line(at, amountField, quantityField, sku, category string, quantity int, amount string) (events.OrderLine, error) {
	a, err := money(at+"."+amountField, amount)
	if err != nil {
		return events.OrderLine{}, err
	}
	if quantity < 1 {
		return events.OrderLine{}, bad(at+"."+quantityField, "must be at least 1")
	}
	return events.OrderLine{SKU: sku, Category: category, Quantity: quantity, Amount: a}, nil
}

// e164 is the member schema's phone rule; other spellings are left out
// rather than refused, since storefronts rarely normalise phones.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func phoneOrEmpty(p string) string {
	p = strings.ReplaceAll(strings.TrimSpace(p), " ", "")
	if e164.MatchString(p) {
		return p
	}
	return ""
}

// fullName joins a first and last name; the schema needs a non-empty one,
// so a nameless customer is named by their platform id.
func fullName(first, last, fallback string) string {
	if n := strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last)); n != "" {
		return n
	}
	return fallback
}

// text fits a free-text value to the schema's 1..256 characters.
func text(v, fallback string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return fallback
	}
	if r := []rune(v); len(r) > 256 {
		return string(r[:256])
	}
	return v
}

// registered and profileUpdated build the member events every platform's
// customer topics map to.
func registered(id, member string, at time.Time, email, name, phone string, consent bool) event {
	return event{ID: id, Type: string(events.MemberRegistered), OccurredAt: at, MemberID: member,
		Data: events.MemberRegisteredData{Email: email, Name: name, Phone: phone, Consent: events.Consent{EmailMarketing: consent}}}
}

func profileUpdated(id, member string, at time.Time, email, name, phone string, consent bool) event {
	d := events.MemberProfileUpdatedData{Consent: &events.Consent{EmailMarketing: consent}}
	if email != "" {
		d.Email = &email
	}
	if name != "" {
		d.Name = &name
	}
	if phone != "" {
		d.Phone = &phone
	}
	return event{ID: id, Type: string(events.MemberProfileUpdated), OccurredAt: at, MemberID: member, Data: d}
}

// Platforms are the connectors' platform names.
func Platforms() []string { return []string{Shopify, WooCommerce, Youzan} }

// SplitSecrets parts a webhook secret document's sources: those named after
// a platform key its connector only, the others /v1/events. Neither map
// shares a secret with the other, so a platform's secret cannot sign
// memberflow events under its name, nor a storefront's native webhooks.
func SplitSecrets(all map[string][]byte) (events, native map[string][]byte) {
	events, native = map[string][]byte{}, map[string][]byte{}
	for src, s := range all {
		if _, ok := platforms[src]; ok {
			native[src] = s
		} else {
			events[src] = s
		}
	}
	return events, native
}

// topicShape is what a platform's topic looks like (orders/paid,
// order.updated, trade_TradePaid).
var topicShape = regexp.MustCompile(`^[A-Za-z0-9_./-]{1,64}$`)

// counted is the counter key of an ignored topic. The topic header is not
// covered by the platforms' signatures, so a replayed body with made-up
// topics must not grow the counters without bound: odd ones, and any
// beyond the first maxTopics seen, share "other".
func counted(topic string) string {
	if !topicShape.MatchString(topic) {
		return "other"
	}
	seenTopics.Lock()
	defer seenTopics.Unlock()
	if _, ok := seenTopics.m[topic]; !ok {
		if len(seenTopics.m) >= maxTopics {
			return "other"
		}
		seenTopics.m[topic] = struct{}{}
	}
	return topic
}

const maxTopics = 100

var seenTopics = struct {
	sync.Mutex
	m map[string]struct{}
}{m: map[string]struct{}{}}
