package localstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/sgevents"
	"github.com/memberflow/memberflow/internal/store"
)

// feedbackAttempts bounds how often one batch of events is posted; SendGrid
// retries for a day, but locally the API is either up or stopping.
const feedbackAttempts = 5

// postProcessed posts SendGrid's "processed" event for messages the outbox
// accepted to the stack's own /v1/sendgrid/events, signed with WebhookKey
// as SendGrid signs with its key. It is what lets a send whose worker died
// after the outbox took the message find it sent on retry instead of
// sending it again (activities.Activities.ConfirmWindow). A failure is
// logged, never passed on: the send itself succeeded.
func (s *Stack) postProcessed(acc []outbox.Accepted) {
	s.feedbackMu.Lock()
	if s.feedbackClosed {
		s.feedbackMu.Unlock()
		return
	}
	s.feedbackWG.Add(1)
	s.feedbackMu.Unlock()
	defer s.feedbackWG.Done()

	body, err := processedEvents(acc)
	if err != nil {
		s.log.Error("outbox feedback: encode processed events", "err", err)
		return
	}
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = s.postEvents(s.feedbackCtx, body)
		if err == nil {
			return
		}
		if attempt == feedbackAttempts || s.feedbackCtx.Err() != nil {
			break
		}
		select {
		case <-time.After(wait):
		case <-s.feedbackCtx.Done():
		}
		wait *= 2
	}
	for _, a := range acc {
		s.log.Warn("outbox feedback: processed event not delivered", "message_id", a.MessageID,
			"member_id", a.CustomArgs["member_id"], "idempotency_key", a.CustomArgs["idempotency_key"], "err", err)
	}
}

// postEvents signs and posts one batch of SendGrid events.
func (s *Stack) postEvents(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/sendgrid/events", bytes.NewReader(body))
	if err != nil {
		return err
	}
	sig, ts := sgevents.Sign(s.WebhookKey, time.Now(), body)
	req.Header.Set(sgevents.HeaderSignature, sig)
	req.Header.Set(sgevents.HeaderTimestamp, ts)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v1/sendgrid/events: %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

// processedEvents is the Event Webhook's batch for the accepted messages:
// one "processed" event each, with the message's custom arguments at the
// top level as SendGrid puts them, its X-Message-Id as sg_message_id and a
// unique sg_event_id.
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
		ev["sg_event_id"] = newEventID()
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

// newEventID is a random id in the spirit of SendGrid's sg_event_id.
func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	return "outbox-" + hex.EncodeToString(b[:])
}
