package localstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/sgevents"
	"github.com/memberflow/memberflow/internal/store"
)

// feedbackAttempts bounds how often one batch of events is posted; SendGrid
// retries for a day, but locally the API is either up or stopping.
const feedbackAttempts = 5

// replayBatch is how many owed events one post at start carries, well
// inside the handler's body limit (sgevents.MaxBodyBytes).
const replayBatch = 500

// postProcessed posts SendGrid's "processed" event for messages the outbox
// accepted to the stack's SendGrid event webhook handler, signed with
// WebhookKey as SendGrid signs with its key. It is what lets a send whose
// worker died after the outbox took the message find it sent on retry
// instead of sending it again (activities.Activities.ConfirmWindow). A
// failure is logged, never passed on: the send itself succeeded, and the
// outbox keeps the feedback owed for the next start (replayFeedback).
func (s *Stack) postProcessed(acc []outbox.Accepted) {
	s.feedbackMu.Lock()
	if s.feedbackClosed {
		s.feedbackMu.Unlock()
		return
	}
	s.feedbackWG.Add(1)
	s.feedbackMu.Unlock()
	defer s.feedbackWG.Done()

	if err := s.deliverFeedback(s.feedbackCtx, acc); err != nil {
		for _, a := range acc {
			s.log.Warn("outbox feedback: processed event not delivered; kept for the next start", "message_id", a.MessageID,
				"member_id", a.CustomArgs["member_id"], "idempotency_key", a.CustomArgs["idempotency_key"], "err", err)
		}
	}
}

// replayFeedback delivers the feedback an earlier run of the stack owed:
// messages the outbox accepted before the process was killed, whose
// "processed" event was never posted. SendGrid's feedback outlives a
// crash of the sender; without this, the retry of such a send would wait
// out the confirm window and send the email again.
func (s *Stack) replayFeedback(ctx context.Context) error {
	acc, err := s.sink.Unconfirmed()
	if err != nil {
		return fmt.Errorf("outbox feedback owed from the last run: %w", err)
	}
	if len(acc) == 0 {
		return nil
	}
	for chunk := range slices.Chunk(acc, replayBatch) {
		if err := s.deliverFeedback(ctx, chunk); err != nil {
			return fmt.Errorf("outbox feedback owed from the last run (%d messages): %w", len(acc), err)
		}
	}
	s.log.Info("outbox feedback: delivered the processed events owed from the last run", "messages", len(acc))
	return nil
}

// deliverFeedback posts the processed events of acc, retrying a few
// times, and then tells the outbox they are delivered.
func (s *Stack) deliverFeedback(ctx context.Context, acc []outbox.Accepted) error {
	body, err := processedEvents(acc)
	if err != nil {
		return fmt.Errorf("encode processed events: %w", err)
	}
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = s.postEvents(ctx, body)
		if err == nil {
			return s.sink.Confirmed(acc)
		}
		if attempt == feedbackAttempts || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait *= 2
	}
}

// postEvents signs one batch of SendGrid events and hands it to the event
// webhook's handler, as SendGrid's post would reach it.
func (s *Stack) postEvents(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/v1/sendgrid/events", bytes.NewReader(body))
	if err != nil {
		return err
	}
	sig, ts := sgevents.Sign(s.WebhookKey, time.Now(), body)
	req.Header.Set(sgevents.HeaderSignature, sig)
	req.Header.Set(sgevents.HeaderTimestamp, ts)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	if err := serveRecovered(s.events, rec, req); err != nil {
		return err
	}
	if rec.Code != http.StatusOK {
		return fmt.Errorf("POST /v1/sendgrid/events: %d %s", rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
	return nil
}

// processedEvents is the Event Webhook's batch for the accepted messages:
// one "processed" event each, with the message's custom arguments at the
// top level as SendGrid puts them, its X-Message-Id as sg_message_id and
// an sg_event_id of its own, the same when the event is posted again (a
// replay after a crash is then a duplicate the handler recognises).
func processedEvents(acc []outbox.Accepted) ([]byte, error) {
	evs := make([]map[string]any, 0, len(acc))
	for _, a := range acc {
		ev := make(map[string]any, len(a.CustomArgs)+8)
		for k, v := range a.CustomArgs {
			ev[k] = v
		}
		// SendGrid's own fields win over custom arguments of the same name.
		ev["email"] = a.Email
		ev["timestamp"] = a.Time.Unix()
		ev["event"] = store.EventProcessed
		ev["sg_event_id"] = eventID(a)
		ev["sg_message_id"] = a.MessageID
		ev["smtp-id"] = "<" + a.MessageID + "@outbox.local>"
		if len(a.Categories) > 0 {
			ev["category"] = a.Categories
		}
		if a.ASMGroupID != 0 {
			ev["asm_group_id"] = a.ASMGroupID
		}
		evs = append(evs, ev)
	}
	return json.Marshal(evs)
}

// eventID is the processed event's id for one accepted message: derived
// from its X-Message-Id and its file, unique per message and stable.
func eventID(a outbox.Accepted) string {
	sum := sha256.Sum256([]byte(a.MessageID + "\x00" + a.File))
	return "outbox-" + hex.EncodeToString(sum[:16])
}

// serveRecovered serves req as the router would, whose recovery turns a
// handler's panic into a 500: called in-process, a panic is an error
// instead of the end of the stack.
func serveRecovered(h http.Handler, w http.ResponseWriter, req *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("POST /v1/sendgrid/events: handler panicked: %v", p)
		}
	}()
	h.ServeHTTP(w, req)
	return nil
}
