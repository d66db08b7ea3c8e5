package events

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// The checks here are the arithmetic of money-bearing events and the
// programme's currency. Like goChecks they run on the decoded object the
// schema saw, so they are reported together with the schema's problems; a
// sum is skipped when the schema already rejected one of its inputs, since
// adding up values of the wrong form means nothing.

// Rules are the facts of the membership programme that validation needs.
// The programme itself lives in internal/loyalty, which imports this
// package; whoever wires ingest builds Rules from the loaded programme.
type Rules struct {
	// Currency is the programme's ISO 4217 code: every money-bearing event
	// must be in it.
	Currency string
	// PointValue is what one redeemed point pays, in Currency
	// (points.redemption.point_value).
	PointValue decimal.Decimal
}

// Validate reports rules that cannot check anything: a parser with them
// would accept every currency.
func (r Rules) Validate() error {
	if len(r.Currency) != 3 || strings.ToUpper(r.Currency) != r.Currency || strings.ContainsFunc(r.Currency, func(c rune) bool { return c < 'A' || c > 'Z' }) {
		return fmt.Errorf("events: rules: currency %q is not a three-letter ISO 4217 code", r.Currency)
	}
	if !r.PointValue.IsPositive() {
		return fmt.Errorf("events: rules: point value %s must be above 0", r.PointValue)
	}
	return nil
}

// OrderStanding is what is already known of an order when a refund of it
// arrives: its amount, how much of it earlier refunds took back, and the
// ids of those refunds (a retried refund is not counted twice).
type OrderStanding struct {
	Amount    decimal.Decimal
	Refunded  decimal.Decimal
	RefundIDs []string
}

// OrderLookup returns the standing of a member's order; found is false when
// the order is not known (yet). An error means the lookup failed, not that
// the order is unknown.
type OrderLookup func(ctx context.Context, memberID, orderID string) (s OrderStanding, found bool, err error)

// Parser validates request bodies against the schemas and the programme.
// The zero Parser is not usable: Rules must be set.
type Parser struct {
	Rules Rules
	// Orders, when set, is asked about the order of every refund whose
	// order.paid is not in the same body, so that a refund cannot take back
	// more than its order paid. Nil checks refunds against the orders of
	// the same body only.
	Orders OrderLookup
}

// ParseBatch is the package's ParseBatch plus the programme's rules: every
// money-bearing event must be in Rules.Currency, the points payments of an
// order must pay its points_redeemed at Rules.PointValue, and refunds may
// not exceed what their orders paid, as far as the body and Orders know.
// Problems are reported the same way, in one *ValidationError; any other
// error means the body could not be judged (bad rules, a failed lookup).
func (p Parser) ParseBatch(ctx context.Context, body []byte) ([]Envelope, error) {
	if err := p.Rules.Validate(); err != nil {
		return nil, err
	}
	return parse(ctx, body, &p.Rules, p.Orders)
}

// moneyChecks checks the programme currency and the sums of one event
// object that the schema has seen; reported is what it found.
func moneyChecks(t Type, obj map[string]any, prefix string, rules *Rules, reported []Problem) []Problem {
	data, _ := obj["data"].(map[string]any)
	if data == nil {
		return nil
	}
	f := func(name string) string { return fieldPath(prefix, nil, []string{"data", name}) }
	ok := func(names ...string) bool {
		if len(reported) == 0 {
			return true // the usual case: no field paths to build
		}
		for _, name := range names {
			if isReported(reported, f(name)) {
				return false
			}
		}
		return true
	}

	var ps []Problem
	if cur, isStr := data["currency"].(string); isStr && rules != nil && ok("currency") && cur != rules.Currency {
		ps = append(ps, Problem{Field: f("currency"), Rule: "must be the programme currency " + rules.Currency})
	}
	switch t {
	case OrderPaid:
		ps = append(ps, orderPaidSums(data, f, ok, rules)...)
	case OrderRefunded:
		if _, given := data["lines"]; given && ok("amount", "lines") {
			amount := moneyAt(data, "amount")
			if sum := sumAmounts(data["lines"], ""); !sum.Equal(amount) {
				ps = append(ps, Problem{Field: f("lines"), Rule: fmt.Sprintf("amounts must sum to data.amount (%s), not %s", show(amount), show(sum))})
			}
		}
	}
	return ps
}

// orderPaidSums checks that an order's lines, discount, payments and points
// agree with its amount. f names a data field; ok says whether the schema
// left the named fields alone.
func orderPaidSums(data map[string]any, f func(string) string, ok func(...string) bool, rules *Rules) []Problem {
	var ps []Problem
	if ok("amount", "payments") {
		amount := moneyAt(data, "amount")
		if sum := sumAmounts(data["payments"], ""); !sum.Equal(amount) {
			ps = append(ps, Problem{Field: f("payments"), Rule: fmt.Sprintf("amounts must sum to data.amount (%s), not %s", show(amount), show(sum))})
		}
	}
	if ok("amount", "lines", "discount") {
		amount, discount := moneyAt(data, "amount"), moneyAt(data, "discount")
		want := amount.Add(discount)
		if sum := sumAmounts(data["lines"], ""); !sum.Equal(want) {
			ps = append(ps, Problem{Field: f("lines"), Rule: fmt.Sprintf("amounts must sum to data.amount + data.discount (%s + %s = %s), not %s", show(amount), show(discount), show(want), show(sum))})
		}
	}
	if ok("points_redeemed", "payments") {
		points := pointsAt(data)
		paid := sumAmounts(data["payments"], PaymentPoints)
		switch {
		case points.IsZero() && paid.IsPositive():
			ps = append(ps, Problem{Field: f("points_redeemed"), Rule: fmt.Sprintf("must be above 0: data.payments pays %s with points", show(paid))})
		case points.IsPositive() && rules == nil && !paid.IsPositive():
			// Without the programme the value is unknown, but there must
			// be some.
			ps = append(ps, Problem{Field: f("points_redeemed"), Rule: "must be 0: data.payments has no points payment"})
		case points.IsPositive() && rules != nil:
			if want := points.Mul(rules.PointValue); !paid.Equal(want) {
				ps = append(ps, Problem{Field: f("points_redeemed"), Rule: fmt.Sprintf("× the point value %s (= %s) must equal the points payments in data.payments, which sum to %s", rules.PointValue, show(want), show(paid))})
			}
		}
	}
	return ps
}

// isReported reports whether a problem names field or a field inside it.
func isReported(reported []Problem, field string) bool {
	for _, p := range reported {
		if rest, found := strings.CutPrefix(p.Field, field); found && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return true
		}
	}
	return false
}

// moneyAt returns the amount under key of a validated object, 0 when absent.
func moneyAt(obj map[string]any, key string) decimal.Decimal {
	s, _ := obj[key].(string)
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero // absent; a malformed amount is skipped by the callers
	}
	return d
}

// pointsAt returns data.points_redeemed of a validated order, 0 when absent.
func pointsAt(data map[string]any) decimal.Decimal {
	n, ok := data["points_redeemed"].(json.Number)
	if !ok {
		return decimal.Zero
	}
	d, err := decimal.NewFromString(n.String())
	if err != nil {
		return decimal.Zero
	}
	return d
}

// sumAmounts adds the "amount" of every object of a validated array (lines
// or payments), only those of payment method when it is set.
func sumAmounts(arr any, method PaymentMethod) decimal.Decimal {
	items, _ := arr.([]any)
	sum := decimal.Zero
	for _, it := range items {
		obj, _ := it.(map[string]any)
		if method != "" && obj["method"] != string(method) {
			continue
		}
		sum = sum.Add(moneyAt(obj, "amount"))
	}
	return sum
}

// refundable is one refund of a body, kept for refundChecks.
type refundable struct {
	field    string // path of its data.amount
	memberID string
	orderID  string
	refundID string
	amount   decimal.Decimal
}

// orderKey names an order: order ids are the storefront's, per member.
type orderKey struct{ memberID, orderID string }

// refundChecks checks that the refunds of a body, with what earlier refunds
// took, stay within their orders' amounts. An order paid in the same body
// counts as known; otherwise lookup (when set) is asked once per order. An
// order known nowhere is accepted: the ledger holds the refund until the
// order arrives and caps it there.
func refundChecks(ctx context.Context, paid map[orderKey]decimal.Decimal, refunds []refundable, lookup OrderLookup) ([]Problem, error) {
	standing := make(map[orderKey]*OrderStanding, len(refunds))
	var ps []Problem
	for _, rf := range refunds {
		k := orderKey{rf.memberID, rf.orderID}
		st, seen := standing[k]
		if !seen {
			if amount, ok := paid[k]; ok {
				st = &OrderStanding{Amount: amount}
			} else if lookup != nil {
				s, found, err := lookup(ctx, rf.memberID, rf.orderID)
				if err != nil {
					return nil, fmt.Errorf("events: look up order %s of member %s: %w", rf.orderID, rf.memberID, err)
				}
				if found {
					st = &s
				}
			}
			standing[k] = st
		}
		if st == nil {
			continue
		}
		if rf.refundID != "" && slices.Contains(st.RefundIDs, rf.refundID) {
			// Already counted: a retry of a refund the ledger applied.
			continue
		}
		left := st.Amount.Sub(st.Refunded)
		if rf.amount.GreaterThan(left) {
			ps = append(ps, Problem{Field: rf.field, Rule: fmt.Sprintf("must not exceed what order %s has left to refund: %s paid, %s refunded before, %s left", rf.orderID, show(st.Amount), show(st.Refunded), show(decimal.Max(left, decimal.Zero)))})
			continue
		}
		st.Refunded = st.Refunded.Add(rf.amount)
		st.RefundIDs = append(st.RefundIDs, rf.refundID)
	}
	return ps, nil
}

// show prints an amount for a rule sentence: money with its two decimals
// ("300.00", not "300"), finer values as they are.
func show(d decimal.Decimal) string {
	if d.Exponent() >= -2 {
		return d.StringFixed(2)
	}
	return d.String()
}
