package loadtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// event is one webhook event as it is posted: its signed body and what its
// effect is looked up by afterwards.
type event struct {
	ID     string
	Type   events.Type
	Member string
	Body   []byte
	// OrderID is set for orders and refunds, RefundID for refunds: the
	// ledger's account shows the order, and the refund on it, once applied.
	OrderID  string
	RefundID string
}

// generator builds valid events of the programme: amounts are decimal
// strings in its currency, lines and payments add up to the amount.
type generator struct {
	prog *loyalty.Program
	// zone is the members' time zone: one where it is now daytime, so the
	// contact policy's quiet hours never defer a welcome.
	zone string
}

// encode marshals one event envelope with its data.
func encode(id string, typ events.Type, member string, at time.Time, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode %s data of %s: %w", typ, id, err)
	}
	body, err := json.Marshal(events.Envelope{
		ID: id, Version: 1, Type: typ, MemberID: member, Data: raw,
		OccurredAt: at.Truncate(time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", id, err)
	}
	return body, nil
}

// registration is a member.registered event with marketing consent, in the
// generator's zone; birthday may be nil.
func (g generator) registration(member string, at time.Time, birthday *events.Date) (event, error) {
	id := member + "-reg"
	body, err := encode(id, events.MemberRegistered, member, at, events.MemberRegisteredData{
		Email: member + "@load.example.com", Name: "Load " + member, Birthday: birthday,
		Timezone: g.zone, Locale: "zh-CN", Consent: events.Consent{EmailMarketing: true},
	})
	return event{ID: id, Type: events.MemberRegistered, Member: member, Body: body}, err
}

// line is one order line of the given amount.
type line struct {
	sku    string
	amount string
}

// order is an order.paid event paid in full by card; its amount is the sum
// of its lines.
func (g generator) order(member, orderID string, at time.Time, lines ...line) (event, error) {
	id := member + "-" + orderID
	total := decimal.Zero
	ls := make([]events.OrderLine, len(lines))
	for i, l := range lines {
		amount, err := decimal.NewFromString(l.amount)
		if err != nil {
			return event{}, fmt.Errorf("order %s line %s: %w", orderID, l.sku, err)
		}
		ls[i] = events.OrderLine{SKU: l.sku, Category: "tea", Quantity: 1, Amount: amount}
		total = total.Add(amount)
	}
	body, err := encode(id, events.OrderPaid, member, at, events.OrderPaidData{
		OrderID: orderID, Amount: total, Currency: g.prog.Currency, Lines: ls,
		Payments: []events.Payment{{Method: events.PaymentCard, Amount: total}},
	})
	return event{ID: id, Type: events.OrderPaid, Member: member, Body: body, OrderID: orderID}, err
}

// refund is an order.refunded event for the given lines of an order; its
// amount is the sum of those lines.
func (g generator) refund(member, orderID, refundID string, at time.Time, lines ...line) (event, error) {
	id := member + "-" + refundID
	total := decimal.Zero
	ls := make([]events.OrderLine, len(lines))
	for i, l := range lines {
		amount, err := decimal.NewFromString(l.amount)
		if err != nil {
			return event{}, fmt.Errorf("refund %s line %s: %w", refundID, l.sku, err)
		}
		ls[i] = events.OrderLine{SKU: l.sku, Category: "tea", Quantity: 1, Amount: amount}
		total = total.Add(amount)
	}
	body, err := encode(id, events.OrderRefunded, member, at, events.OrderRefundedData{
		OrderID: orderID, RefundID: refundID, Amount: total, Currency: g.prog.Currency, Lines: ls,
	})
	return event{ID: id, Type: events.OrderRefunded, Member: member, Body: body, OrderID: orderID, RefundID: refundID}, err
}

// ingestOrder is the ingest phase's n-th event: a card order of one of
// members pool members, a little in the past. Orders are the high-volume
// event and never reach Temporal for a member without an open enrollment,
// so the phase measures ingest and dispatch, not email.
func (g generator) ingestOrder(prefix string, n, members int, now time.Time) (event, error) {
	member := fmt.Sprintf("%s-p-%04d", prefix, n%members)
	amount := fmt.Sprintf("%d.%02d", 80+n%170, n%100)
	return g.order(member, fmt.Sprintf("o%05d", n), now.Add(-time.Minute), line{"TEA-OOLONG-250G", amount})
}

// scenario is one member history of the exactly-once scenario: two orders
// on different days and a partial refund by line of the second.
type scenario struct {
	first  []line
	second []line
	// refunded is the line of the second order that is refunded.
	refunded line
}

// scenarios are chosen so that the outcome depends on the order the ledger
// applies events in if it got that wrong: with the shipped thresholds (V2
// 150, V3 500, V4 1000) the first crosses two tiers and the refund demotes,
// the second reaches V2 only with both orders and falls back to V1, the
// third reaches V4 and falls back. The second order falls in the birthday month, whose points
// multiplier is the tier's before that order's day.
var scenarios = []scenario{
	{first: []line{{"TEA-OOLONG-250G", "300.00"}}, second: []line{{"TEASET-CLAY-01", "600.00"}, {"TEA-PUER-357G", "300.00"}}, refunded: line{"TEA-PUER-357G", "300.00"}},
	{first: []line{{"TEA-GREEN-100G", "120.00"}}, second: []line{{"CUP-GLASS-02", "40.00"}, {"TEA-WHITE-50G", "20.50"}}, refunded: line{"CUP-GLASS-02", "40.00"}},
	{first: []line{{"TEA-OOLONG-500G", "550.00"}}, second: []line{{"KETTLE-IRON-01", "240.00"}, {"TRAY-BAMBOO-01", "240.00"}}, refunded: line{"KETTLE-IRON-01", "240.00"}},
}

// history times: the registration, orders and refund happen at fixed
// times computed once per run, 45 to 25 days ago, so every twin has the
// same history and nothing in it falls due (point release, coupon expiry,
// birthday) while the run reads the results.
type historyTimes struct {
	registered, first, second, refunded time.Time
}

// newHistoryTimes places a history in the programme's zone before now; the
// orders avoid member day, whose multiplier would hide the tier's.
func newHistoryTimes(prog *loyalty.Program, now time.Time) historyTimes {
	loc := prog.Location
	y, m, d := now.In(loc).Date()
	day0 := time.Date(y, m, d, 0, 0, 0, 0, loc).AddDate(0, 0, -45)
	avoid := func(t time.Time) time.Time {
		if t.Day() == prog.Points.MemberDay {
			return t.AddDate(0, 0, 1)
		}
		return t
	}
	return historyTimes{
		registered: day0.Add(9*time.Hour + 30*time.Minute),
		first:      avoid(day0.AddDate(0, 0, 5).Add(10 * time.Hour)),
		second:     avoid(day0.AddDate(0, 0, 12).Add(15 * time.Hour)),
		refunded:   day0.AddDate(0, 0, 20).Add(11 * time.Hour),
	}
}

// history is one member's four events of scenario i in causal order. The
// birthday is the day of the second order (in a leap year, so 29 February
// exists), given at registration fewer than 30 days before it: the order
// earns the birthday multiplier, and no birthday gift falls due.
func (g generator) history(member string, i int, ht historyTimes) ([]event, error) {
	sc := scenarios[i%len(scenarios)]
	bd := ht.second.In(g.prog.Location)
	birthday := &events.Date{Year: 1992, Month: bd.Month(), Day: bd.Day()}
	reg, err := g.registration(member, ht.registered, birthday)
	if err != nil {
		return nil, err
	}
	first, err := g.order(member, "o1", ht.first, sc.first...)
	if err != nil {
		return nil, err
	}
	second, err := g.order(member, "o2", ht.second, sc.second...)
	if err != nil {
		return nil, err
	}
	refund, err := g.refund(member, "o2", "r1", ht.refunded, sc.refunded)
	if err != nil {
		return nil, err
	}
	return []event{reg, first, second, refund}, nil
}

// withDuplicates returns every event once plus a share of them a second
// time (the same id and body, as a storefront's retry sends), all shuffled.
// The duplicated events are distinct, so a share of 0.3 posts 30% of the
// events twice.
func withDuplicates(r *rand.Rand, evs []event, share float64) []event {
	n := int(float64(len(evs))*share + 0.5)
	out := make([]event, 0, len(evs)+n)
	out = append(out, evs...)
	for _, i := range r.Perm(len(evs))[:n] {
		out = append(out, evs[i])
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
