package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// cny is the shipped programme's rules: CNY, one yuan a point.
var cny = Rules{Currency: "CNY", PointValue: money("1")}

// parseWith parses body with p and returns the problems, nil when accepted.
func parseWith(t *testing.T, p Parser, body []byte) []Problem {
	t.Helper()
	envs, err := p.ParseBatch(context.Background(), body)
	if err == nil {
		if len(envs) == 0 {
			t.Fatal("ParseBatch accepted the body but returned no events")
		}
		return nil
	}
	if envs != nil {
		t.Errorf("ParseBatch returned %d envelopes with its error", len(envs))
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is %T, want *ValidationError", err, err)
	}
	return ve.Problems
}

// orderOf is the order.paid sample with data edited: 300.00 CNY, one line,
// paid by card, unless fn changes that.
func orderOf(t *testing.T, fn func(d map[string]any)) []byte {
	t.Helper()
	return edit(t, OrderPaid, func(ev map[string]any) {
		d := dataOf(ev)
		d["amount"] = "300.00"
		d["lines"] = []any{map[string]any{"sku": "TEA-1", "category": "tea", "quantity": 1, "amount": "300.00"}}
		d["payments"] = []any{payment("card", "300.00")}
		if fn != nil {
			fn(d)
		}
	})
}

func payment(method, amount string) map[string]any {
	return map[string]any{"method": method, "amount": amount}
}

func line(sku, amount string) map[string]any {
	return map[string]any{"sku": sku, "category": "tea", "quantity": 1, "amount": amount}
}

// refundOf is the order.refunded sample (250.00 of ord-20260302-0042, one
// line) with data edited by fn.
func refundOf(t *testing.T, id string, fn func(d map[string]any)) []byte {
	t.Helper()
	return edit(t, OrderRefunded, func(ev map[string]any) {
		ev["id"] = id
		if fn != nil {
			fn(dataOf(ev))
		}
	})
}

func inCurrency(t *testing.T, typ Type, cur string) []byte {
	t.Helper()
	return edit(t, typ, func(ev map[string]any) { dataOf(ev)["currency"] = cur })
}

func TestParserMoneyRules(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
		body  []byte
		want  []Problem // nil: accepted
	}{
		// The three examples of the issue.
		{"order in USD to a CNY programme", cny, orderOf(t, func(d map[string]any) { d["currency"] = "USD" }),
			[]Problem{{"data.currency", "must be the programme currency CNY"}}},
		{"payments of 1.00 on 300.00", cny, orderOf(t, func(d map[string]any) { d["payments"] = []any{payment("card", "1.00")} }),
			[]Problem{{"data.payments", "amounts must sum to data.amount (300.00), not 1.00"}}},
		{"lines of 99999 on 300.00", cny, orderOf(t, func(d map[string]any) { d["lines"] = []any{line("TEA-1", "99999")} }),
			[]Problem{{"data.lines", "amounts must sum to data.amount + data.discount (300.00 + 0.00 = 300.00), not 99999.00"}}},

		{"every shipped sample", cny, batch(everySample(t)...), nil},
		{"split payment", cny, orderOf(t, func(d map[string]any) {
			d["payments"] = []any{payment("card", "120.50"), payment("stored_value", "179.5")}
		}), nil},
		{"two payments short by a cent", cny, orderOf(t, func(d map[string]any) {
			d["payments"] = []any{payment("card", "120.50"), payment("stored_value", "179.49")}
		}), []Problem{{"data.payments", "amounts must sum to data.amount (300.00), not 299.99"}}},
		{"payments over the amount", cny, orderOf(t, func(d map[string]any) {
			d["payments"] = []any{payment("card", "300.00"), payment("stored_value", "300.00")}
		}), []Problem{{"data.payments", "amounts must sum to data.amount (300.00), not 600.00"}}},
		{"lines summing to the amount in other spellings", cny, orderOf(t, func(d map[string]any) {
			d["lines"] = []any{line("TEA-1", "100"), line("TEA-2", "200.0")}
		}), nil},
		{"order-level discount", cny, orderOf(t, func(d map[string]any) {
			d["lines"] = []any{line("TEA-1", "160.00"), line("TEA-2", "155.00")}
			d["discount"] = "15.00"
			d["coupon_code"] = "C15-X7F3"
		}), nil},
		{"discount not taken off", cny, orderOf(t, func(d map[string]any) { d["discount"] = "15.00" }),
			[]Problem{{"data.lines", "amounts must sum to data.amount + data.discount (300.00 + 15.00 = 315.00), not 300.00"}}},
		{"discount as a number", cny, orderOf(t, func(d map[string]any) { d["discount"] = 15 }),
			[]Problem{{"data.discount", `must be a decimal string like "12.50" (not a JSON number; non-negative, at most 2 decimal places)`}}},

		{"points paying their value", cny, orderOf(t, func(d map[string]any) {
			d["points_redeemed"] = 50
			d["payments"] = []any{payment("card", "250.00"), payment("points", "50.00")}
		}), nil},
		{"points paying more than their value", cny, orderOf(t, func(d map[string]any) {
			d["points_redeemed"] = 40
			d["payments"] = []any{payment("card", "250.00"), payment("points", "50.00")}
		}), []Problem{{"data.points_redeemed", "× the point value 1 (= 40.00) must equal the points payments in data.payments, which sum to 50.00"}}},
		{"points at a point value of 0.05", Rules{Currency: "CNY", PointValue: money("0.05")}, orderOf(t, func(d map[string]any) {
			d["points_redeemed"] = 1000
			d["payments"] = []any{payment("card", "250.00"), payment("points", "50.00")}
		}), nil},
		{"points payment without points_redeemed", cny, orderOf(t, func(d map[string]any) {
			d["payments"] = []any{payment("card", "250.00"), payment("points", "50.00")}
		}), []Problem{{"data.points_redeemed", "must be above 0: data.payments pays 50.00 with points"}}},
		{"points_redeemed without a points payment", cny, orderOf(t, func(d map[string]any) { d["points_redeemed"] = 50 }),
			[]Problem{{"data.points_redeemed", "× the point value 1 (= 50.00) must equal the points payments in data.payments, which sum to 0.00"}}},
		{"zero points and a zero points payment", cny, orderOf(t, func(d map[string]any) {
			d["points_redeemed"] = 0
			d["payments"] = []any{payment("card", "300.00"), payment("points", "0.00")}
		}), nil},

		{"refund lines summing to the amount", cny, refundOf(t, "evt-r", nil), nil},
		{"refund without lines", cny, refundOf(t, "evt-r", func(d map[string]any) { delete(d, "lines") }), nil},
		{"refund lines over the amount", cny, refundOf(t, "evt-r", func(d map[string]any) {
			d["lines"] = []any{line("TEA-1", "250.00"), line("TEA-2", "50.00")}
		}), []Problem{{"data.lines", "amounts must sum to data.amount (250.00), not 300.00"}}},

		{"refund in USD", cny, inCurrency(t, OrderRefunded, "USD"), []Problem{{"data.currency", "must be the programme currency CNY"}}},
		{"top-up in USD", cny, inCurrency(t, WalletToppedUp, "USD"), []Problem{{"data.currency", "must be the programme currency CNY"}}},
		{"trial in USD", cny, inCurrency(t, SubscriptionTrialStarted, "USD"), []Problem{{"data.currency", "must be the programme currency CNY"}}},
		{"conversion in USD", cny, inCurrency(t, SubscriptionConverted, "USD"), []Problem{{"data.currency", "must be the programme currency CNY"}}},
		{"renewal in USD", cny, inCurrency(t, SubscriptionRenewed, "USD"), []Problem{{"data.currency", "must be the programme currency CNY"}}},
		{"a USD programme takes USD", Rules{Currency: "USD", PointValue: money("0.01")}, inCurrency(t, WalletToppedUp, "USD"), nil},
		{"a USD programme refuses the CNY sample", Rules{Currency: "USD", PointValue: money("0.01")}, sample(t, OrderPaid),
			[]Problem{{"data.currency", "must be the programme currency USD"}}},

		{"only one element of a batch wrong", cny, batch(
			sample(t, MemberRegistered),
			orderOf(t, func(d map[string]any) { d["payments"] = []any{payment("card", "1.00")} }),
			sample(t, WalletToppedUp),
		), []Problem{{"[1].data.payments", "amounts must sum to data.amount (300.00), not 1.00"}}},
		{"every rule of every element at once", cny, batch(
			orderOf(t, func(d map[string]any) { d["currency"] = "USD"; d["lines"] = []any{line("TEA-1", "99999")} }),
			edit(t, ContentShared, func(ev map[string]any) { ev["member_id"] = "m#1" }),
			inCurrency(t, WalletToppedUp, "EUR"),
		), []Problem{
			{"[0].data.currency", "must be the programme currency CNY"},
			{"[0].data.lines", "amounts must sum to data.amount + data.discount (300.00 + 0.00 = 300.00), not 99999.00"},
			{"[1].member_id", "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"},
			{"[2].data.currency", "must be the programme currency CNY"},
		}},
		{"a sum over a malformed amount is not added up", cny, orderOf(t, func(d map[string]any) {
			d["amount"] = 300.5
			d["currency"] = "USD"
		}), []Problem{
			{"data.amount", `must be a decimal string like "12.50" (not a JSON number; non-negative, at most 2 decimal places)`},
			{"data.currency", "must be the programme currency CNY"},
		}},
		{"a malformed line amount skips only the lines sum", cny, orderOf(t, func(d map[string]any) {
			d["lines"] = []any{line("TEA-1", "1e5")}
			d["payments"] = []any{payment("card", "1.00")}
		}), []Problem{
			{"data.lines[0].amount", `must be a decimal string like "12.50" (not a JSON number; non-negative, at most 2 decimal places)`},
			{"data.payments", "amounts must sum to data.amount (300.00), not 1.00"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseWith(t, Parser{Rules: tc.rules}, tc.body)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", formatProblems(got), formatProblems(tc.want))
			}
		})
	}
}

func everySample(t *testing.T) [][]byte {
	t.Helper()
	var all [][]byte
	for _, typ := range Types() {
		all = append(all, sample(t, typ))
	}
	return all
}

func TestParseBatchWithoutProgramme(t *testing.T) {
	// Without a programme the currency and the point value are unknown;
	// everything else is still checked.
	tests := []struct {
		name string
		body []byte
		want []Problem
	}{
		{"any currency", orderOf(t, func(d map[string]any) { d["currency"] = "USD" }), nil},
		{"payments must still agree", orderOf(t, func(d map[string]any) { d["payments"] = []any{payment("card", "1.00")} }),
			[]Problem{{"data.payments", "amounts must sum to data.amount (300.00), not 1.00"}}},
		{"lines must still agree", orderOf(t, func(d map[string]any) { d["lines"] = []any{line("TEA-1", "99999")} }),
			[]Problem{{"data.lines", "amounts must sum to data.amount + data.discount (300.00 + 0.00 = 300.00), not 99999.00"}}},
		{"points at any value", orderOf(t, func(d map[string]any) {
			d["points_redeemed"] = 7
			d["payments"] = []any{payment("card", "250.00"), payment("points", "50.00")}
		}), nil},
		{"points_redeemed without a points payment", orderOf(t, func(d map[string]any) { d["points_redeemed"] = 7 }),
			[]Problem{{"data.points_redeemed", "must be 0: data.payments has no points payment"}}},
		{"points payment without points_redeemed", orderOf(t, func(d map[string]any) {
			d["payments"] = []any{payment("card", "250.00"), payment("points", "50.00")}
		}), []Problem{{"data.points_redeemed", "must be above 0: data.payments pays 50.00 with points"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBatch(tc.body)
			var got []Problem
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("error %v is %T, want *ValidationError", err, err)
				}
				got = ve.Problems
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", formatProblems(got), formatProblems(tc.want))
			}
		})
	}
}

func TestParserRefundsAgainstOrders(t *testing.T) {
	const member, order = "m-1001", "ord-20260302-0042" // the samples'
	known := func(st OrderStanding) OrderLookup {
		return func(_ context.Context, m, o string) (OrderStanding, bool, error) {
			if m == member && o == order {
				return st, true, nil
			}
			return OrderStanding{}, false, nil
		}
	}
	noLines := func(amount string) func(d map[string]any) {
		return func(d map[string]any) { d["amount"] = amount; delete(d, "lines") }
	}
	tests := []struct {
		name   string
		orders OrderLookup
		body   []byte
		want   []Problem
	}{
		{"order unknown: accepted, the ledger caps it", known(OrderStanding{}), edit(t, OrderRefunded, func(ev map[string]any) {
			dataOf(ev)["order_id"] = "ord-never-seen"
		}), nil},
		{"no lookup: accepted", nil, refundOf(t, "evt-r1", noLines("99999.00")), nil},
		{"within what is left", known(OrderStanding{Amount: money("1250.00"), Refunded: money("1000.00"), RefundIDs: []string{"rfd-1"}}),
			refundOf(t, "evt-r1", noLines("250.00")), nil},
		{"over what is left", known(OrderStanding{Amount: money("1250.00"), Refunded: money("1000.00"), RefundIDs: []string{"rfd-1"}}),
			refundOf(t, "evt-r1", noLines("250.01")),
			[]Problem{{"data.amount", "must not exceed what order ord-20260302-0042 has left to refund: 1250.00 paid, 1000.00 refunded before, 250.00 left"}}},
		{"over the order amount", known(OrderStanding{Amount: money("300.00")}), refundOf(t, "evt-r1", noLines("300.01")),
			[]Problem{{"data.amount", "must not exceed what order ord-20260302-0042 has left to refund: 300.00 paid, 0.00 refunded before, 300.00 left"}}},
		{"a retry of a refund already counted", known(OrderStanding{Amount: money("1250.00"), Refunded: money("1250.00"), RefundIDs: []string{"rfd-20260309-0007"}}),
			sample(t, OrderRefunded), nil},
		{"refunds of one body add up", known(OrderStanding{Amount: money("1250.00"), Refunded: money("800.00")}), batch(
			refundOf(t, "evt-r1", func(d map[string]any) { noLines("300.00")(d); d["refund_id"] = "rfd-a" }),
			refundOf(t, "evt-r2", func(d map[string]any) { noLines("150.01")(d); d["refund_id"] = "rfd-b" }),
		), []Problem{{"[1].data.amount", "must not exceed what order ord-20260302-0042 has left to refund: 1250.00 paid, 1100.00 refunded before, 150.00 left"}}},
		{"the order paid in the same body", nil, batch(
			orderOf(t, func(d map[string]any) { d["order_id"] = order }),
			refundOf(t, "evt-r1", noLines("300.00")),
		), nil},
		{"more than the order paid in the same body", known(OrderStanding{Amount: money("99999.00")}), batch(
			refundOf(t, "evt-r1", noLines("300.01")),
			orderOf(t, func(d map[string]any) { d["order_id"] = order }),
		), []Problem{{"[0].data.amount", "must not exceed what order ord-20260302-0042 has left to refund: 300.00 paid, 0.00 refunded before, 300.00 left"}}},
		{"same order id of another member", nil, batch(
			orderOf(t, func(d map[string]any) { d["order_id"] = order }),
			edit(t, OrderRefunded, func(ev map[string]any) { ev["member_id"] = "m-2"; noLines("999.00")(dataOf(ev)) }),
		), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseWith(t, Parser{Rules: cny, Orders: tc.orders}, tc.body)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", formatProblems(got), formatProblems(tc.want))
			}
		})
	}
}

func TestParserLooksUpEachOrderOnceAndOnlyForRefunds(t *testing.T) {
	var calls []string
	lookup := func(_ context.Context, m, o string) (OrderStanding, bool, error) {
		calls = append(calls, m+"/"+o)
		return OrderStanding{}, false, nil
	}
	body := batch(
		sample(t, OrderPaid), sample(t, MemberRegistered),
		refundOf(t, "evt-r1", func(d map[string]any) { d["order_id"] = "ord-x"; d["refund_id"] = "rfd-a" }),
		refundOf(t, "evt-r2", func(d map[string]any) { d["order_id"] = "ord-x"; d["refund_id"] = "rfd-b" }),
	)
	if ps := parseWith(t, Parser{Rules: cny, Orders: lookup}, body); ps != nil {
		t.Fatalf("problems: %v", ps)
	}
	if got, want := strings.Join(calls, " "), "m-1001/ord-x"; got != want {
		t.Errorf("lookups = %q, want %q", got, want)
	}
}

func TestParserLookupFailureIsNotAValidationError(t *testing.T) {
	boom := errors.New("table unavailable")
	p := Parser{Rules: cny, Orders: func(context.Context, string, string) (OrderStanding, bool, error) {
		return OrderStanding{}, false, boom
	}}
	envs, err := p.ParseBatch(context.Background(), sample(t, OrderRefunded))
	var ve *ValidationError
	if !errors.Is(err, boom) || errors.As(err, &ve) || envs != nil {
		t.Errorf("ParseBatch = %d events, %v; want the lookup's error, not a verdict", len(envs), err)
	}
}

func TestParserNeedsRules(t *testing.T) {
	for _, r := range []Rules{
		{},
		{Currency: "CNY"},
		{Currency: "cny", PointValue: money("1")},
		{Currency: "CN", PointValue: money("1")},
		{Currency: "CNY", PointValue: money("-1")},
	} {
		_, err := Parser{Rules: r}.ParseBatch(context.Background(), sample(t, OrderPaid))
		var ve *ValidationError
		if err == nil || errors.As(err, &ve) {
			t.Errorf("rules %+v: err = %v, want a configuration error", r, err)
		}
		if r.Validate() == nil {
			t.Errorf("rules %+v: Validate() = nil", r)
		}
	}
	if err := cny.Validate(); err != nil {
		t.Errorf("cny.Validate() = %v", err)
	}
}

func TestDigest(t *testing.T) {
	digestOf := func(body []byte) string {
		t.Helper()
		envs, err := Parser{Rules: cny}.ParseBatch(context.Background(), body)
		if err != nil {
			t.Fatalf("ParseBatch(%s): %v", body, err)
		}
		return envs[0].Digest
	}
	base := sample(t, OrderPaid)
	want := digestOf(base)
	if !strings.HasPrefix(want, "sha256:") || len(want) != len("sha256:")+64 {
		t.Fatalf("digest %q is not sha256:<64 hex>", want)
	}

	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(base))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		t.Fatal(err)
	}
	compact, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	indented, err := json.MarshalIndent(obj, "", "\t\t")
	if err != nil {
		t.Fatal(err)
	}
	reordered := []byte(`{"member_id":"m-1001","data":{"payments":[{"amount":"1250.00","method":"card"}],"points_redeemed":0,` +
		`"coupon_code":"SPRING26","lines":[{"amount":"500.00","quantity":2,"category":"tea","sku":"TEA-OOLONG-250G"},` +
		`{"sku":"TEASET-CLAY-01","category":"teaware","quantity":1,"amount":"750.00"}],"currency":"CNY","amount":"1250.00",` +
		`"order_id":"ord-20260302-0042"},"occurred_at":"2026-03-02T14:05:10+08:00","type":"order.paid","version":1,"id":"evt-ord-1001"}`)
	replace := func(old, new string) []byte {
		t.Helper()
		if !bytes.Contains(compact, []byte(old)) {
			t.Fatalf("test setup: %s not in %s", old, compact)
		}
		return bytes.Replace(compact, []byte(old), []byte(new), 1)
	}

	for _, tc := range []struct {
		name string
		body []byte
		same bool
	}{
		{"compact", compact, true},
		{"indented", indented, true},
		{"keys in another order", reordered, true},
		{"a string escaped differently", replace(`"TEA-OOLONG-250G"`, `"\u0054EA-OOLONG-250G"`), true},
		{"inside a batch", batch(sample(t, MemberRegistered), compact), true},
		{"another value", replace(`"quantity":2`, `"quantity":3`), false},
		{"an optional field left out", replace(`,"points_redeemed":0`, ``), false},
		{"version left out", replace(`,"version":1`, ``), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			envs, err := Parser{Rules: cny}.ParseBatch(context.Background(), tc.body)
			if err != nil {
				t.Fatalf("ParseBatch: %v", err)
			}
			got := envs[len(envs)-1].Digest
			if (got == want) != tc.same {
				t.Errorf("digest %s, base %s: same = %v, want %v", got, want, got == want, tc.same)
			}
		})
	}
}
