package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/projection"
)

// event is one storefront event as JSON.
type event = map[string]any

func envelope(typ events.Type, id, member string, at time.Time, data map[string]any) event {
	return event{"id": id, "version": 1, "type": string(typ), "occurred_at": at.UTC().Format(time.RFC3339Nano), "member_id": member, "data": data}
}

func registration(member string, at time.Time, consent bool, zone, birthday string) event {
	d := map[string]any{
		"email": member + "@example.com", "name": "Member " + member, "timezone": zone, "locale": "zh-CN",
		"consent": map[string]any{"email_marketing": consent},
	}
	if birthday != "" {
		d["birthday"] = birthday
	}
	return envelope(events.MemberRegistered, "evt-reg-"+member, member, at, d)
}

// orderPaid is an order of amount CNY paid by card, one line, no coupon.
func orderPaid(member, orderID, amount string, at time.Time) event {
	return envelope(events.OrderPaid, "evt-pay-"+orderID, member, at, map[string]any{
		"order_id": orderID, "amount": amount, "currency": "CNY",
		"lines":    []any{map[string]any{"sku": "TEA-OOLONG-250G", "category": "tea", "quantity": 1, "amount": amount}},
		"payments": []any{map[string]any{"method": "card", "amount": amount}},
	})
}

// orderRefunded refunds amount CNY of the order.
func orderRefunded(member, orderID, amount string, at time.Time) event {
	return envelope(events.OrderRefunded, "evt-rfd-"+orderID, member, at, map[string]any{
		"order_id": orderID, "refund_id": "rfd-" + orderID, "amount": amount, "currency": "CNY",
	})
}

func trialStarted(member string, at, ends time.Time) event {
	return envelope(events.SubscriptionTrialStarted, "evt-trial-"+member, member, at, map[string]any{
		"subscription_id": "sub-" + member, "plan": "svip", "price": "9.90", "currency": "CNY",
		"trial_ends_at": ends.UTC().Format(time.RFC3339Nano),
	})
}

func trialConverted(member string, at time.Time) event {
	return envelope(events.SubscriptionConverted, "evt-conv-"+member, member, at, map[string]any{
		"subscription_id": "sub-" + member, "plan": "svip", "price": "199.00", "currency": "CNY",
		"period_ends_at": at.AddDate(1, 0, 0).UTC().Format(time.RFC3339),
	})
}

func trialCancelled(member string, at time.Time) event {
	return envelope(events.SubscriptionCancelled, "evt-cancel-"+member, member, at, map[string]any{
		"subscription_id": "sub-" + member, "plan": "svip", "effective_at": at.UTC().Format(time.RFC3339Nano),
	})
}

// post sends events through the storefront webhook, signed, as one batch:
// the lifecycles run the way production runs them.
func (r *runner) post(ctx context.Context, evs ...event) error {
	body, err := json.Marshal(evs)
	if err != nil {
		return err
	}
	header := http.Header{}
	header.Set(ingest.HeaderSource, "storefront")
	header.Set(ingest.HeaderSignature, ingest.Sign([]byte(webhookSecret), time.Now(), body))
	return r.call(ctx, "post events", "/v1/events", body, header, http.StatusAccepted)
}

// call posts body to the stack's HTTP API at path and wants status back.
func (r *runner) call(ctx context.Context, what, path string, body []byte, header http.Header, status int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.s.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %d %s", what, resp.StatusCode, b)
	}
	return nil
}

// apply seeds events straight into the projection and the ledger, as
// dispatch would, without starting the journeys dispatch starts: the
// calendar journeys' members are seeded by the hundred, and their
// activation enrollments are not what is measured.
func (r *runner) apply(ctx context.Context, evs ...event) error {
	body, err := json.Marshal(evs)
	if err != nil {
		return err
	}
	envs, err := events.ParseBatch(body)
	if err != nil {
		return fmt.Errorf("seed events: %w", err)
	}
	for _, env := range envs {
		data, err := env.DecodeData()
		if err != nil {
			return fmt.Errorf("seed %s: %w", env.ID, err)
		}
		m, err := projection.Apply(ctx, r.s.Activities.Store, env, data)
		if err != nil {
			return fmt.Errorf("seed %s: %w", env.ID, err)
		}
		if _, err := r.s.Activities.Ledger.ApplyEventTo(ctx, &m, env, data); err != nil {
			return fmt.Errorf("seed %s: %w", env.ID, err)
		}
	}
	return nil
}
