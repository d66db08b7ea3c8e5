package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/stdwebhooks"
	"github.com/memberflow/memberflow/internal/store"
)

// update sets the member's attributes and tags once per step key: the
// projection's applied marker for the key refuses a second write.
func (a *Activities) update(ctx context.Context, def journey.Definition, step journey.Step, req StepRequest, subject engine.Subject, decide func(DecisionKind, string, map[string]any)) error {
	key := engine.Key(req.MemberID, def.Name, req.Enrollment, step.ID, req.Ref.UTC().Year())
	set := map[string]any{}
	read := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(step.Update.Set)) {
		v, r, err := a.Engine.Value(step.Update.Set[name], subject)
		maps.Copy(read, r)
		if err != nil {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("journey %s step %s: update.set.%s: %v", def.Name, step.ID, name, err), "Condition", err)
		}
		set[name] = attributeValue(v, a.Engine.Location(subject.Member.Member))
	}
	for range 5 {
		m, err := a.Store.GetMember(ctx, req.MemberID)
		if err != nil {
			return fmt.Errorf("update %s: %w", req.MemberID, err)
		}
		next := m
		next.Attributes = maps.Clone(m.Attributes)
		if next.Attributes == nil && len(set) > 0 {
			next.Attributes = map[string]any{}
		}
		maps.Copy(next.Attributes, set)
		next.Tags = slices.Clone(m.Tags)
		for _, t := range step.Update.AddTags {
			if !slices.Contains(next.Tags, t) {
				next.Tags = append(next.Tags, t)
			}
		}
		next.Tags = slices.DeleteFunc(next.Tags, func(t string) bool { return slices.Contains(step.Update.RemoveTags, t) })
		next.Version = m.Version + 1
		err = a.Store.SaveMember(ctx, next, key)
		switch {
		case err == nil, errors.Is(err, store.ErrDuplicate):
			values := map[string]any{}
			for k, v := range set {
				values["set."+k] = v
			}
			if len(step.Update.AddTags) > 0 {
				values["add_tags"] = step.Update.AddTags
			}
			if len(step.Update.RemoveTags) > 0 {
				values["remove_tags"] = step.Update.RemoveTags
			}
			decide(DecisionUpdated, "", values)
			return nil
		case errors.Is(err, store.ErrConflict):
			continue
		default:
			return fmt.Errorf("update %s: %w", req.MemberID, err)
		}
	}
	return fmt.Errorf("update %s: the member kept changing; will retry", req.MemberID)
}

// attributeValue is how a CEL value is kept as a member attribute:
// JSON-friendly, a timestamp as the member-local day (so a date trigger
// can anchor on it), money and durations as text.
func attributeValue(v any, loc *time.Location) any {
	switch x := v.(type) {
	case time.Time:
		return x.In(loc).Format(time.DateOnly)
	case bool, string, int64, uint64, float64, nil:
		return x
	case []any, map[string]any:
		return x
	}
	return engine.Text(v, loc)
}

// WebhookSecret keys the Standard Webhooks signature of the journey
// engine's webhook steps: "whsec_" + base64, or the raw secret (see
// stdwebhooks.Key).
type WebhookSecret []byte

// webhook posts the step's JSON body to its URL, signed per the Standard
// Webhooks scheme (webhook-id, webhook-timestamp, webhook-signature
// v1,<base64 HMAC-SHA256 of id.timestamp.body>). The webhook-id is the
// step's idempotency key, so the receiver can drop the retries this
// activity makes; a 4xx other than 408 and 429 is not retried.
func (a *Activities) webhook(ctx context.Context, def journey.Definition, step journey.Step, req StepRequest, subject engine.Subject, decide func(DecisionKind, string, map[string]any)) error {
	if len(a.WebhookSecret) == 0 {
		// Unsigned, the receiver could not tell our post from anyone's.
		return temporal.NewNonRetryableApplicationError("webhook step "+step.ID+": no signing secret is configured (MEMBERFLOW_JOURNEY_WEBHOOK_SECRET)", "WebhookSecret", nil)
	}
	key := engine.Key(req.MemberID, def.Name, req.Enrollment, step.ID, req.Ref.UTC().Year())
	body := map[string]any{"member_id": req.MemberID, "journey": def.Name, "version": def.Version, "enrollment": req.Enrollment, "step": step.ID}
	read := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(step.Webhook.Body)) {
		v, r, err := a.Engine.Value(step.Webhook.Body[name], subject)
		maps.Copy(read, r)
		if err != nil {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("journey %s step %s: webhook.body.%s: %v", def.Name, step.ID, name, err), "Condition", err)
		}
		body[name] = attributeValue(v, a.Engine.Location(subject.Member.Member))
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "WebhookBody", err)
	}
	signed, err := stdwebhooks.Headers(a.WebhookSecret, key, a.now(), payload)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "WebhookSecret", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, step.Webhook.URL, bytes.NewReader(payload))
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "WebhookURL", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	for k, v := range signed {
		hreq.Header.Set(k, v)
	}
	client := a.HTTP
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", step.Webhook.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch {
	case resp.StatusCode < 300:
		read["status"] = resp.StatusCode
		decide(DecisionWebhook, "delivered", read)
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("webhook %s answered %s; will retry", step.Webhook.URL, resp.Status)
	}
	read["status"] = resp.StatusCode
	decide(DecisionWebhook, "refused: "+resp.Status, read)
	return nil
}
