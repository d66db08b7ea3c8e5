package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// edit returns the sample of typ with fn applied to its decoded object.
// Numbers decode as json.Number so that edits leave the rest byte-for-byte
// equivalent (a quantity of 2 stays 2, not 2.0).
func edit(t *testing.T, typ Type, fn func(ev map[string]any)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(sample(t, typ)))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	fn(ev)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dataOf returns the data object of an event being edited.
func dataOf(ev map[string]any) map[string]any { return ev["data"].(map[string]any) }

// batch joins event objects into a JSON array.
func batch(elems ...[]byte) []byte {
	return append(append([]byte("["), bytes.Join(elems, []byte(","))...), ']')
}

// problems parses body, which must be rejected, and returns the problems.
func problems(t *testing.T, body []byte) []Problem {
	t.Helper()
	envs, err := ParseBatch(body)
	if err == nil {
		t.Fatalf("ParseBatch accepted %s", body)
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

func TestParseBatchRejects(t *testing.T) {
	member := func(fn func(d map[string]any)) []byte {
		return edit(t, MemberRegistered, func(ev map[string]any) { fn(dataOf(ev)) })
	}
	order := func(fn func(d map[string]any)) []byte {
		return edit(t, OrderPaid, func(ev map[string]any) { fn(dataOf(ev)) })
	}
	withID := func(typ Type, id string) []byte {
		return edit(t, typ, func(ev map[string]any) { ev["id"] = id })
	}
	tooMany := make([][]byte, MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = withID(ContentShared, fmt.Sprintf("evt-%d", i))
	}

	tests := []struct {
		name  string
		body  []byte
		field string
		rule  string
	}{
		{"float amount", order(func(d map[string]any) { d["amount"] = 1250.5 }),
			"data.amount", `must be a decimal string like "12.50"`},
		{"integer amount", order(func(d map[string]any) { d["amount"] = 1250 }),
			"data.amount", "must be a decimal string"},
		{"three decimals", order(func(d map[string]any) { d["amount"] = "12.505" }),
			"data.amount", "must be a decimal string"},
		{"negative amount", order(func(d map[string]any) { d["amount"] = "-1.00" }),
			"data.amount", "must be a decimal string"},
		{"float line amount", order(func(d map[string]any) { d["lines"].([]any)[1].(map[string]any)["amount"] = 750.0 }),
			"data.lines[1].amount", "must be a decimal string"},
		{"quantity zero", order(func(d map[string]any) { d["lines"].([]any)[0].(map[string]any)["quantity"] = 0 }),
			"data.lines[0].quantity", "must be at least 1"},
		{"fractional quantity", order(func(d map[string]any) { d["lines"].([]any)[0].(map[string]any)["quantity"] = json.Number("2.0") }),
			"data.lines[0].quantity", "whole number"},
		{"no lines", order(func(d map[string]any) { d["lines"] = []any{} }),
			"data.lines", "must have at least 1 item"},
		{"bad payment method", order(func(d map[string]any) { d["payments"].([]any)[0].(map[string]any)["method"] = "cash" }),
			"data.payments[0].method", "must be one of: card, stored_value, points"},
		{"negative points", order(func(d map[string]any) { d["points_redeemed"] = -5 }),
			"data.points_redeemed", "must be at least 0"},
		{"lower-case currency", order(func(d map[string]any) { d["currency"] = "cny" }),
			"data.currency", "ISO 4217"},
		{"missing email", member(func(d map[string]any) { delete(d, "email") }),
			"data.email", "is required"},
		{"bad email", member(func(d map[string]any) { d["email"] = "lin.wei.example.com" }),
			"data.email", "must be a valid email address"},
		{"bad birthday", member(func(d map[string]any) { d["birthday"] = "1990-02-30" }),
			"data.birthday", "real calendar date"},
		{"birthday with time", member(func(d map[string]any) { d["birthday"] = "1990-06-15T00:00:00Z" }),
			"data.birthday", "YYYY-MM-DD"},
		{"unknown timezone", member(func(d map[string]any) { d["timezone"] = "Asia/Beijing" }),
			"data.timezone", "IANA time zone name"},
		{"Go's Local is no timezone", member(func(d map[string]any) { d["timezone"] = "Local" }),
			"data.timezone", "IANA time zone name"},
		{"path-like timezone", member(func(d map[string]any) { d["timezone"] = "../../etc/passwd" }),
			"data.timezone", "IANA time zone name"},
		{"bad locale", member(func(d map[string]any) { d["locale"] = "zh_CN" }),
			"data.locale", "BCP 47"},
		{"phone without plus", member(func(d map[string]any) { d["phone"] = "13800000000" }),
			"data.phone", "E.164"},
		{"missing consent flag", member(func(d map[string]any) { d["consent"] = map[string]any{} }),
			"data.consent.email_marketing", "is required"},
		{"empty profile update", edit(t, MemberProfileUpdated, func(ev map[string]any) { ev["data"] = map[string]any{} }),
			"data", "must contain at least one field"},
		{"rating too high", edit(t, ReviewPosted, func(ev map[string]any) { dataOf(ev)["rating"] = 6 }),
			"data.rating", "must be at most 5"},
		{"unknown type", edit(t, OrderPaid, func(ev map[string]any) { ev["type"] = "order.shipped" }),
			"type", "must be one of: content.shared, member.checked_in,"},
		{"missing type", edit(t, OrderPaid, func(ev map[string]any) { delete(ev, "type") }),
			"type", "is required"},
		{"extra envelope field", edit(t, OrderPaid, func(ev map[string]any) { ev["memberId"] = "m-1001" }),
			"memberId", "is not allowed (unknown field)"},
		{"extra data field", order(func(d map[string]any) { d["coupon"] = "SPRING26" }),
			"data.coupon", "is not allowed (unknown field)"},
		{"odd unknown key is quoted", order(func(d map[string]any) { d["coupon code"] = "SPRING26" }),
			`data["coupon code"]`, "unknown field"},
		{"hash in member_id", edit(t, OrderPaid, func(ev map[string]any) { ev["member_id"] = "m#1001" }),
			"member_id", "must be 1 to 128 characters of A-Z, a-z, 0-9"},
		{"empty id", withID(OrderPaid, ""),
			"id", "must be 1 to 128 characters"},
		{"id too long", withID(OrderPaid, strings.Repeat("a", 129)),
			"id", "must be 1 to 128 characters"},
		{"hash in order_id", order(func(d map[string]any) { d["order_id"] = "ord#1" }),
			"data.order_id", "must be 1 to 128 characters"},
		{"occurred_at not RFC 3339", edit(t, OrderPaid, func(ev map[string]any) { ev["occurred_at"] = "2026-03-02 14:05:10" }),
			"occurred_at", "must be an RFC 3339 date-time"},
		{"version 2", edit(t, OrderPaid, func(ev map[string]any) { ev["version"] = 2 }),
			"version", "must be 1"},
		{"version as string", edit(t, OrderPaid, func(ev map[string]any) { ev["version"] = "1" }),
			"version", "must be an integer"},
		{"data not an object", edit(t, OrderPaid, func(ev map[string]any) { ev["data"] = []any{} }),
			"data", "must be an object"},
		{"batch of 101", batch(tooMany...),
			"body", "must be a JSON object or an array of 1..100 objects"},
		{"empty array", []byte(" [ ] "),
			"body", "must be a JSON object or an array of 1..100 objects"},
		{"not JSON", []byte("member_id=m-1001&type=order.paid"),
			"body", "must be a JSON object or an array of 1..100 objects"},
		{"truncated JSON", sample(t, OrderPaid)[:40],
			"body", "must be a JSON object or an array of 1..100 objects"},
		{"empty body", nil,
			"body", "must be a JSON object or an array of 1..100 objects"},
		{"JSON string", []byte(`"order.paid"`),
			"body", "must be a JSON object or an array of 1..100 objects"},
		{"element [1] bad", batch(sample(t, OrderPaid), edit(t, ContentShared, func(ev map[string]any) { ev["member_id"] = "m#1001" })),
			"[1].member_id", "must be 1 to 128 characters"},
		{"element [1] deep", batch(sample(t, MemberRegistered), order(func(d map[string]any) { d["lines"].([]any)[0].(map[string]any)["amount"] = 1.5 })),
			"[1].data.lines[0].amount", "must be a decimal string"},
		{"element [1] not an object", batch(sample(t, OrderPaid), []byte(`42`)),
			"[1]", "must be a JSON object"},
		{"duplicate ids", batch(withID(OrderPaid, "evt-x"), withID(ContentShared, "evt-y"), withID(ReviewPosted, "evt-x")),
			"[2].id", "must be unique within the batch (element [0] has the same id)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := problems(t, tc.body)
			i := slices.IndexFunc(ps, func(p Problem) bool { return p.Field == tc.field })
			if i < 0 {
				t.Fatalf("no problem on field %q; got %v", tc.field, ps)
			}
			if got, want := ps[i].Rule, tc.rule; !strings.Contains(got, want) {
				t.Errorf("rule for %s = %q, want it to contain %q", tc.field, got, want)
			}
		})
	}
}

func TestParseBatchReportsEveryProblem(t *testing.T) {
	body := []byte(`{
		"type": "order.paid",
		"member_id": "m#1",
		"data": {
			"amount": 10.5,
			"lines": [{"sku": "TEA-1"}],
			"payments": [{"method": "card"}],
			"gift_wrap": true
		}
	}`)
	want := []Problem{
		{"data.amount", `must be a decimal string like "12.50" (not a JSON number; non-negative, at most 2 decimal places)`},
		{"data.currency", "is required"},
		{"data.gift_wrap", "is not allowed (unknown field)"},
		{"data.lines[0].amount", "is required"},
		{"data.lines[0].category", "is required"},
		{"data.lines[0].quantity", "is required"},
		{"data.order_id", "is required"},
		{"data.payments[0].amount", "is required"},
		{"id", "is required"},
		{"member_id", "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"},
		{"occurred_at", "is required"},
	}
	got := problems(t, body)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", formatProblems(got), formatProblems(want))
	}
	// The same input must give the same answer every time: map iteration
	// inside the validator must not leak into the order.
	for range 20 {
		if again := problems(t, body); !slices.Equal(again, got) {
			t.Fatalf("second run differs:\n%s", formatProblems(again))
		}
	}
}

func TestParseBatchReportsEveryElement(t *testing.T) {
	// Problems from several elements, schema and Go checks alike, arrive
	// together.
	body := batch(
		edit(t, MemberRegistered, func(ev map[string]any) { dataOf(ev)["timezone"] = "Mars/Olympus_Mons" }),
		sample(t, OrderPaid),
		edit(t, OrderPaid, func(ev map[string]any) { delete(dataOf(ev), "currency"); ev["id"] = "evt-reg-1001" }),
	)
	want := []Problem{
		{"[0].data.timezone", `must be an IANA time zone name like "Asia/Shanghai"`},
		{"[2].data.currency", "is required"},
		{"[2].id", "must be unique within the batch (element [0] has the same id)"},
	}
	if got := problems(t, body); !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", formatProblems(got), formatProblems(want))
	}
}

// formatProblems prints one problem a line for failure messages.
func formatProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s: %s\n", p.Field, p.Rule)
	}
	return b.String()
}

func TestParseBatchKeepsRawBytes(t *testing.T) {
	// Odd but legal spacing between and inside elements: Raw must be
	// each element exactly as sent, not a re-encoding.
	e0 := sample(t, MemberRegistered)
	e1 := []byte(`{"id":"evt-ord-1001" ,  "type":"order.paid","occurred_at":"2026-03-02T14:05:10+08:00","member_id":"m-1001","data":{"order_id":"ord-1","amount":"1250.00","currency":"CNY","lines":[{"sku":"TEA-OOLONG-250G","category":"tea","quantity":2,"amount":"1250.00"}],"payments":[{"method":"card","amount":"1250.00"}]}}`)
	e2 := bytes.TrimSpace(sample(t, WalletToppedUp))
	body := []byte("\n[\r\n\t" + string(e0) + "  ,\n" + string(e1) + ",\t" + string(e2) + "\n]\n")

	envs, err := ParseBatch(body)
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	want := [][]byte{bytes.TrimSpace(e0), e1, e2}
	if got, want := len(envs), len(want); got != want {
		t.Fatalf("len(envs) = %d, want %d", got, want)
	}
	for i, env := range envs {
		if got, want := string(env.Raw), string(want[i]); got != want {
			t.Errorf("envs[%d].Raw =\n%s\nwant\n%s", i, got, want)
		}
	}
	if got, want := envs[1].Type, OrderPaid; got != want {
		t.Errorf("envs[1].Type = %q, want %q", got, want)
	}

	// Raw must not share memory with the request buffer, which a server
	// may reuse.
	for i := range body {
		body[i] = 'x'
	}
	if got, want := string(envs[2].Raw), string(e2); got != want {
		t.Errorf("envs[2].Raw changed with the body: %s", got)
	}
}

func TestParseBatchLoneObjectRaw(t *testing.T) {
	s := bytes.TrimSpace(sample(t, ContentShared))
	body := []byte(" \n" + string(s) + "\n\t ")
	env := parseOne(t, body)
	if got, want := string(env.Raw), string(s); got != want {
		t.Errorf("Raw = %q, want %q", got, want)
	}
}

func TestParseBatchOfOneElementUsesIndexedPaths(t *testing.T) {
	// An array is a batch even with one element, so paths carry "[0]".
	ps := problems(t, batch(edit(t, OrderPaid, func(ev map[string]any) { delete(ev, "id") })))
	if got, want := ps[0].Field, "[0].id"; got != want {
		t.Errorf("Field = %q, want %q", got, want)
	}
}

func TestParseBatchAcceptsMaxBatch(t *testing.T) {
	elems := make([][]byte, MaxBatch)
	for i := range elems {
		elems[i] = edit(t, OrderPaid, func(ev map[string]any) { ev["id"] = fmt.Sprintf("evt-%03d", i) })
	}
	envs, err := ParseBatch(batch(elems...))
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	if got, want := len(envs), MaxBatch; got != want {
		t.Fatalf("len(envs) = %d, want %d", got, want)
	}
	if got, want := envs[MaxBatch-1].ID, fmt.Sprintf("evt-%03d", MaxBatch-1); got != want {
		t.Errorf("last ID = %q, want %q", got, want)
	}
}

func TestParseBatchAcceptsEdgeValues(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"version omitted", edit(t, OrderPaid, func(ev map[string]any) { delete(ev, "version") })},
		{"whole-number amount string", edit(t, OrderPaid, func(ev map[string]any) { dataOf(ev)["amount"] = "1250" })},
		{"one decimal", edit(t, OrderPaid, func(ev map[string]any) {
			// The amounts must still agree: the lines and the payment too.
			d := dataOf(ev)
			d["amount"] = "1250.5"
			d["lines"].([]any)[1].(map[string]any)["amount"] = "750.5"
			d["payments"].([]any)[0].(map[string]any)["amount"] = "1250.5"
		})},
		{"zero amount", edit(t, WalletToppedUp, func(ev map[string]any) { dataOf(ev)["amount"] = "0.00" })},
		{"UTC timestamp", edit(t, OrderPaid, func(ev map[string]any) { ev["occurred_at"] = "2026-03-02T06:05:10.123Z" })},
		{"leap day birthday", edit(t, MemberRegistered, func(ev map[string]any) { dataOf(ev)["birthday"] = "2000-02-29" })},
		{"optional member fields omitted", edit(t, MemberRegistered, func(ev map[string]any) {
			for _, k := range []string{"birthday", "timezone", "locale", "phone", "referral_code"} {
				delete(dataOf(ev), k)
			}
		})},
		{"unsubscribed with empty data", edit(t, MemberUnsubscribed, func(ev map[string]any) { ev["data"] = map[string]any{} })},
		{"refund without lines", edit(t, OrderRefunded, func(ev map[string]any) { delete(dataOf(ev), "lines") })},
		{"id with every allowed character", edit(t, OrderPaid, func(ev map[string]any) { ev["id"] = "Az09._:-" })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := parseOne(t, tc.body)
			if _, err := env.DecodeData(); err != nil {
				t.Errorf("DecodeData: %v", err)
			}
		})
	}
}

func TestValidationErrorSortsAndDeduplicates(t *testing.T) {
	ve := newValidationError([]Problem{
		{"data.email", "is required"},
		{"[10].id", "is required"},
		{"data.email", "is required"},
		{"[2].id", "is required"},
		{"data.amount", "must be b"},
		{"data.amount", "must be a"},
	})
	want := []Problem{
		{"[10].id", "is required"},
		{"[2].id", "is required"},
		{"data.amount", "must be a"},
		{"data.amount", "must be b"},
		{"data.email", "is required"},
	}
	if !slices.Equal(ve.Problems, want) {
		t.Errorf("Problems:\n%s\nwant:\n%s", formatProblems(ve.Problems), formatProblems(want))
	}
	if got, want := ve.Error(), "invalid events: [10].id is required; [2].id is required; data.amount must be a; data.amount must be b; data.email is required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
