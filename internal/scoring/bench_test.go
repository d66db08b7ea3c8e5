package scoring_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
	"github.com/memberflow/memberflow/templates"
)

// BenchmarkMemberRefresh is the worker's CPU per member of a refresh,
// without the store's round trips: the first pass's decoding of the
// member's journal (storefront-shaped order events) into a record, and
// the second pass's scoring. With the DynamoDB round trips done 16 at a
// time per page and 16 pages at once, this is what bounds a refresh's
// members per second on the worker (see README, Cost model).
func BenchmarkMemberRefresh(b *testing.B) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	shop := shopfix.Simulate(31, shopfix.Shop, 2000, "m", start, 720)
	asOf := analytics.DayOf(start) + 719
	sample, err := events.Sample(events.OrderPaid)
	if err != nil {
		b.Fatal(err)
	}
	journals := make([][]loyalty.Recorded, len(shop))
	orders := 0
	for i, c := range shop {
		for j, o := range c.Orders {
			var ev map[string]any
			if err := json.Unmarshal(sample, &ev); err != nil {
				b.Fatal(err)
			}
			id := fmt.Sprintf("%s-o%d", c.ID, j)
			d := ev["data"].(map[string]any)
			amount := o.Amount.StringFixed(2)
			ev["id"], ev["member_id"], ev["occurred_at"] = id, c.ID, o.At.Format(time.RFC3339)
			d["order_id"], d["amount"] = id, amount
			d["payments"] = []any{map[string]any{"method": "card", "amount": amount}}
			d["lines"] = []any{map[string]any{"sku": "TEA-OOLONG-250G", "category": "tea", "quantity": 1, "amount": amount}}
			delete(d, "coupon_code")
			delete(d, "discount")
			delete(d, "points_redeemed")
			raw, err := json.Marshal(ev)
			if err != nil {
				b.Fatal(err)
			}
			journals[i] = append(journals[i], loyalty.Recorded{Cause: id, Kind: loyalty.InputEvent, At: o.At, Params: raw})
			orders++
		}
	}
	prog, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]scoring.Record, len(shop))
	for i, j := range journals {
		txs, err := scoring.Transactions(j, prog.Location)
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = scoring.NewRecord(loyalty.Member{ID: shop[i].ID}, txs, asOf, 365)
	}
	fit, err := scoring.FitSample(recs, asOf, 365, scoring.DefaultScoreOptions)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		k := i % len(shop)
		i++
		txs, err := scoring.Transactions(journals[k], prog.Location)
		if err != nil {
			b.Fatal(err)
		}
		r := scoring.NewRecord(loyalty.Member{ID: shop[k].ID}, txs, asOf, 365)
		if _, err := fit.Score(r, 1, prog.RFM); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(orders)/float64(len(shop)), "orders/member")
}
