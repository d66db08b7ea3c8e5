// Package sgevents is the endpoint SendGrid's Event Webhook posts delivery
// feedback to (POST /v1/sendgrid/events). It verifies SendGrid's ECDSA
// signature, records each event of ours once against the send it belongs to
// (traced by the custom arguments every journey email carries) and acts on
// the events that must stop email: hard bounces and spam reports suppress
// the member, unsubscribes change their consent.
package sgevents

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/projection"
	"github.com/memberflow/memberflow/internal/store"
)

// MaxBodyBytes bounds a request body. SendGrid batches events by time and
// size, and a busy account's batch runs to a few MB; Lambda takes 6 MB.
const MaxBodyBytes = 5 << 20

// parallelMembers is how many members' events are applied at once. One
// member's events stay in batch order, so they never race each other.
const parallelMembers = 8

// Handler serves POST /v1/sendgrid/events.
type Handler struct {
	Store     store.Store
	PublicKey *ecdsa.PublicKey // SendGrid's verification key
	Groups    map[int]string   // SendGrid ASM group id → memberflow group name
	Log       *slog.Logger     // never given an email address
	Now       func() time.Time // nil means time.Now
}

// Result is the 200 answer: how many events were recorded now, had been
// recorded before (SendGrid retried), and were not ours or not usable.
type Result struct {
	Recorded   int `json:"recorded"`
	Duplicates int `json:"duplicates"`
	Skipped    int `json:"skipped"`
}

// Event is one element of SendGrid's batch, as far as memberflow reads it.
// The recipient's address is deliberately absent: nothing here needs it,
// and what is not decoded cannot end up in a log.
type Event struct {
	Event      string `json:"event"`
	ID         string `json:"sg_event_id"`
	MessageID  string `json:"sg_message_id"`
	Timestamp  int64  `json:"timestamp"` // unix seconds
	Reason     string `json:"reason"`
	URL        string `json:"url"`
	Type       string `json:"type"` // of a bounce: "bounce" (hard) or "blocked"
	ASMGroupID int    `json:"asm_group_id"`

	// Custom arguments of our sends (see internal/mail), which SendGrid
	// echoes at the top level of every event.
	MemberID       string `json:"member_id"`
	IdempotencyKey string `json:"idempotency_key"`
	Journey        string `json:"journey"`
	Step           string `json:"step"`
	Enrollment     string `json:"enrollment"`
}

// recordedTypes are the SendGrid events memberflow keeps; others (a type
// SendGrid adds later, say) are skipped rather than failing the batch.
var recordedTypes = map[string]bool{
	store.EventProcessed: true, store.EventDelivered: true, store.EventOpen: true,
	store.EventClick: true, store.EventBounce: true, store.EventDropped: true,
	store.EventDeferred: true, store.EventSpamReport: true, store.EventUnsubscribe: true,
	store.EventGroupUnsubscribe: true, store.EventGroupResubscribe: true,
}

// bounceBlocked is the bounce type of a temporary refusal; only the other
// type, "bounce", is a hard bounce that suppresses the member.
const bounceBlocked = "blocked"

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// ServeHTTP implements http.Handler. A panic here becomes a logged 500 in
// the router (lambdaenv.Routes), which SendGrid retries like any other
// failure; the per-member workers recover their own (applyOne), being out
// of the router's reach.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, ok := httpx.ReadPost(w, r, MaxBodyBytes)
	if !ok {
		return
	}
	if h.PublicKey == nil {
		// Our misconfiguration: 500 so SendGrid keeps the batch and
		// retries it once the key is set.
		h.log().ErrorContext(ctx, "sendgrid events rejected", "reason", "no webhook public key configured")
		httpx.WriteError(w, http.StatusInternalServerError, "the SendGrid webhook public key is not configured")
		return
	}

	// Authenticate before parsing: unsigned input is never looked at.
	received := h.now()
	if err := Verify(h.PublicKey, r.Header.Get(HeaderSignature), r.Header.Get(HeaderTimestamp), body, received); err != nil {
		h.log().WarnContext(ctx, "sendgrid events rejected", "reason", err.Error())
		httpx.WriteError(w, http.StatusUnauthorized, err.Error())
		return
	}

	batch, err := h.parse(ctx, body, received)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := h.apply(ctx, batch.byMember)
	if err != nil {
		httpx.Fail(w, r, h.log(), err)
		return
	}
	res.Skipped = batch.skipped()
	h.log().InfoContext(ctx, "sendgrid events", "events", batch.total, "recorded", res.Recorded, "duplicates", res.Duplicates,
		"skipped_foreign", batch.foreign, "skipped_unknown_type", batch.unknownType, "skipped_malformed", batch.malformed)
	httpx.WriteJSON(w, http.StatusOK, res)
}

// feedback is one event of ours, ready to apply.
type feedback struct {
	send   store.SendEvent
	hard   bool   // a hard bounce (bounce of type "bounce")
	reason string // SendGrid's reason, for the suppression record
}

// batch is a parsed request: our events by member, in batch order, and
// why the others were skipped.
type batch struct {
	total                           int // elements in the body
	byMember                        [][]feedback
	foreign, unknownType, malformed int
}

func (b batch) skipped() int { return b.foreign + b.unknownType + b.malformed }

// errBody is the answer to a body that is not a batch of events.
var errBody = errors.New("body: must be a JSON array of SendGrid events")

// parse reads a request body and keeps the events that are ours and usable.
// Only a body that is not a JSON array fails. One odd element is skipped and
// counted rather than failing the batch: SendGrid would retry the whole
// batch for a day and the element would never get better.
func (h *Handler) parse(ctx context.Context, body []byte, received time.Time) (batch, error) {
	var elems []json.RawMessage
	// null decodes as a nil slice without error; it is no batch either.
	if err := json.Unmarshal(body, &elems); err != nil || elems == nil {
		return batch{}, errBody
	}
	b := batch{total: len(elems)}
	index := map[string]int{}
	for i, raw := range elems {
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			b.malformed++
			h.log().WarnContext(ctx, "sendgrid event skipped", "index", i, "reason", "not an event object: "+jsonProblem(err))
			continue
		}
		if ev.MemberID == "" || ev.IdempotencyKey == "" {
			b.foreign++ // not sent by a journey: a test send or another application
			continue
		}
		if !recordedTypes[ev.Event] {
			b.unknownType++
			h.log().DebugContext(ctx, "sendgrid event skipped", "index", i, "sg_event_id", ev.ID, "reason", "event type not recorded", "event", ev.Event)
			continue
		}
		f := newFeedback(ev, received)
		if err := store.CheckSendEvent(f.send); err != nil {
			b.malformed++
			h.log().WarnContext(ctx, "sendgrid event skipped", "index", i, "sg_event_id", ev.ID, "member", ev.MemberID, "reason", err.Error())
			continue
		}
		n, ok := index[f.send.MemberID]
		if !ok {
			n = len(b.byMember)
			index[f.send.MemberID] = n
			b.byMember = append(b.byMember, nil)
		}
		b.byMember[n] = append(b.byMember[n], f)
	}
	return b, nil
}

// jsonProblem describes a decoding error without quoting the input, which
// may hold an address.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s is a JSON %s", te.Field, te.Value)
	}
	return "invalid JSON"
}

// newFeedback maps a SendGrid event onto the send event it records.
// Journey, step and enrollment come from the custom arguments; a send key
// (member#journey#enrollment#step) fills in any that are missing.
func newFeedback(ev Event, received time.Time) feedback {
	journey, step, enrollment := ev.Journey, ev.Step, ev.Enrollment
	if parts := strings.Split(ev.IdempotencyKey, "#"); len(parts) == 4 || len(parts) == 5 { // member#journey#enrollment#step[#year]
		journey = firstNonEmpty(journey, parts[1])
		enrollment = firstNonEmpty(enrollment, parts[2])
		step = firstNonEmpty(step, parts[3])
	}
	number, _ := strconv.Atoi(enrollment) // 0 when absent or odd: it is only reported
	at := received
	if ev.Timestamp > 0 {
		at = time.Unix(ev.Timestamp, 0).UTC()
	}
	reason := ev.Reason
	if ev.Event == store.EventBounce && ev.Type == bounceBlocked {
		// Recorded with the bounces so the step stats see it, but marked:
		// a block is the receiving server's refusal for now, not a dead
		// address.
		reason = strings.TrimSpace(bounceBlocked + ": " + reason)
	}
	return feedback{
		send: store.SendEvent{
			ID: ev.ID, MemberID: ev.MemberID, SendKey: ev.IdempotencyKey,
			Journey: journey, Step: step, Enrollment: number,
			Type: ev.Event, At: at, MessageID: messageID(ev.MessageID),
			Reason: reason, URL: ev.URL, Group: ev.ASMGroupID,
		},
		hard:   ev.Event == store.EventBounce && ev.Type != bounceBlocked,
		reason: ev.Reason,
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// messageID is the id SendGrid's send call answered with (X-Message-Id):
// events carry it with a ".filter…" suffix naming the delivering server.
func messageID(sg string) string {
	id, _, _ := strings.Cut(sg, ".filter")
	return id
}

// apply applies each member's events in order, members in parallel, and
// stops at the first error.
func (h *Handler) apply(ctx context.Context, byMember [][]feedback) (Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu  sync.Mutex
		res Result
		wg  sync.WaitGroup
	)
	work := make(chan []feedback)
	for range min(parallelMembers, len(byMember)) {
		wg.Go(func() {
			for fs := range work {
				for _, f := range fs {
					if ctx.Err() != nil {
						break
					}
					dup, err := h.applyOne(ctx, f)
					mu.Lock()
					switch {
					case err != nil:
						cancel(err)
					case dup:
						res.Duplicates++
					default:
						res.Recorded++
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, fs := range byMember {
		if ctx.Err() != nil {
			break
		}
		work <- fs
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return Result{}, err
	}
	return res, nil
}

// applyOne puts the event's consequences in place and then records it.
// The order matters: the record is what makes a retry a duplicate, so it
// comes last; a failure in between leaves the event unrecorded and
// SendGrid's retry applies it again. That is safe because every
// consequence is idempotent on its own (the first suppression stays, a
// consent change applies once per event id), so a replay changes nothing.
//
// It runs on a worker goroutine, out of ServeHTTP's reach, so it turns a
// panic into an error itself: otherwise it would end the process.
func (h *Handler) applyOne(ctx context.Context, f feedback) (duplicate bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			duplicate, err = false, fmt.Errorf("apply sendgrid %s %s: panic: %v", f.send.Type, f.send.ID, v)
		}
	}()
	if err := h.consequences(ctx, f); err != nil {
		return false, err
	}
	err = h.Store.RecordSendEvent(ctx, f.send)
	switch {
	case errors.Is(err, store.ErrDuplicate):
		return true, nil
	case err != nil:
		return false, err
	}
	return false, nil
}

// consequences suppresses the member or changes their consent, as the
// event demands.
func (h *Handler) consequences(ctx context.Context, f feedback) error {
	ev := f.send
	switch {
	case ev.Type == store.EventBounce && f.hard:
		reason := "bounce"
		if f.reason != "" {
			reason += ": " + f.reason
		}
		return h.suppress(ctx, ev, reason)
	case ev.Type == store.EventSpamReport:
		return h.suppress(ctx, ev, store.EventSpamReport)
	case ev.Type == store.EventDropped && droppedForSuppression(f.reason):
		// SendGrid dropped it because the address is on one of its own
		// suppression lists: mirror that, or every later step would be
		// sent only to be dropped again.
		return h.suppress(ctx, ev, "dropped: "+f.reason)
	case ev.Type == store.EventUnsubscribe:
		return h.unsubscribe(ctx, ev, "")
	case ev.Type == store.EventGroupUnsubscribe:
		group, ok := h.Groups[ev.Group]
		if !ok {
			// SendGrid already keeps the address out of that group's
			// sends; we cannot mirror it without knowing the group.
			h.log().WarnContext(ctx, "group unsubscribe not applied", "sg_event_id", ev.ID, "member", ev.MemberID,
				"asm_group_id", ev.Group, "reason", "ASM group id not in SENDGRID_ASM_GROUPS")
			return nil
		}
		return h.unsubscribe(ctx, ev, group)
	}
	return nil
}

// droppedForSuppression reports SendGrid drop reasons that mean the address
// is suppressed at SendGrid (a bounce, a spam report or a global
// unsubscribe on record) rather than a problem with this one message.
func droppedForSuppression(reason string) bool {
	switch reason {
	case "Bounced Address", "Spam Reporting Address", "Unsubscribed Address", "Invalid":
		return true
	}
	return false
}

func (h *Handler) suppress(ctx context.Context, ev store.SendEvent, reason string) error {
	err := h.Store.Suppress(ctx, store.Suppression{MemberID: ev.MemberID, Reason: reason, Source: "sendgrid:" + ev.Type, At: ev.At})
	if err != nil {
		return fmt.Errorf("sendgrid %s %s: %w", ev.Type, ev.ID, err)
	}
	return nil
}

// unsubscribe applies a member.unsubscribed of its own making through the
// projection, so it follows the same once-per-id and newest-statement
// rules as one a storefront sends.
func (h *Handler) unsubscribe(ctx context.Context, ev store.SendEvent, group string) error {
	env := events.Envelope{ID: "sendgrid:" + ev.ID, Type: events.MemberUnsubscribed, OccurredAt: ev.At, MemberID: ev.MemberID}
	if _, err := projection.Apply(ctx, h.Store, env, &events.MemberUnsubscribedData{Group: group, Reason: "sendgrid unsubscribe"}); err != nil {
		return fmt.Errorf("sendgrid %s %s: %w", ev.Type, ev.ID, err)
	}
	return nil
}
