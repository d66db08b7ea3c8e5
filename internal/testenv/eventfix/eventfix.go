// Package eventfix builds webhook events from the committed samples for
// tests that post them to a running stack (end to end, console).
package eventfix

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/memberflow/memberflow/events"
)

// Sample is the committed sample of typ as a JSON object, with its id,
// member and time replaced.
func Sample(t testing.TB, typ events.Type, id, member string, at time.Time) map[string]any {
	t.Helper()
	raw, err := events.Sample(typ)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["id"], m["member_id"], m["occurred_at"] = id, member, at.UTC().Format(time.RFC3339)
	return m
}

// OrderPaid is an order.paid of amount CNY paid by card, one line, no
// coupon.
func OrderPaid(t testing.TB, member, orderID, amount string, at time.Time) map[string]any {
	t.Helper()
	m := Sample(t, events.OrderPaid, "evt-pay-"+orderID, member, at)
	d := m["data"].(map[string]any)
	d["order_id"], d["amount"] = orderID, amount
	d["payments"] = []any{map[string]any{"method": "card", "amount": amount}}
	d["lines"] = []any{map[string]any{"sku": "TEA-OOLONG-250G", "category": "tea", "quantity": 1, "amount": amount}}
	delete(d, "coupon_code")
	return m
}
