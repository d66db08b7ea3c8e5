package events

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
)

// FuzzParseBatch checks ParseBatch's contract on any body, and that of
// ingest's Parser, which adds the programme's rules: it is all or nothing;
// a rejection is a *ValidationError whose problems are non-empty, sorted,
// free of duplicates, each naming a field of this body and a rule, and the
// same on every call; every accepted event is well-formed, decodes its data
// both as parsed and as the dispatcher reads it back from storage, keeps
// the exact bytes it was sent with, in a buffer of its own, and has a
// digest its formatting does not change. The Parser accepts nothing
// ParseBatch refuses, and no money in another currency.
func FuzzParseBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		// A private copy, so that overwriting it below shows whether Raw
		// aliases the caller's buffer.
		in := bytes.Clone(body)
		envs, err := ParseBatch(in)
		withRules, rulesErr := fuzzParser.ParseBatch(context.Background(), body)
		if rulesErr != nil {
			checkRejection(t, body, withRules, rulesErr, func(b []byte) ([]Envelope, error) {
				return fuzzParser.ParseBatch(context.Background(), b)
			})
		} else {
			// The programme's rules only add checks.
			if err != nil {
				t.Fatalf("the Parser accepted what ParseBatch refused: %v", err)
			}
			checkAccepted(t, body, withRules)
			for i, env := range withRules {
				if env.ID != envs[i].ID || env.Digest != envs[i].Digest {
					t.Fatalf("envs[%d] differs between ParseBatch and the Parser", i)
				}
				if c := currencyOf(t, env); c != "" && c != fuzzParser.Rules.Currency {
					t.Fatalf("envs[%d] in %s accepted by a %s programme", i, c, fuzzParser.Rules.Currency)
				}
			}
		}
		if err != nil {
			checkRejection(t, body, envs, err, ParseBatch)
			return
		}
		checkAccepted(t, body, envs)
		raws := make([]string, len(envs))
		for i, env := range envs {
			raws[i] = string(env.Raw)
		}
		for i := range in {
			in[i] = 'x'
		}
		for i, env := range envs {
			if string(env.Raw) != raws[i] {
				t.Fatalf("envs[%d].Raw changed when the body buffer was overwritten", i)
			}
		}
	})
}

// fuzzParser is ingest's parser with the default programme's rules and no
// store to ask about earlier orders.
var fuzzParser = Parser{Rules: Rules{Currency: "CNY", PointValue: decimal.NewFromInt(1)}}

// currencyOf returns the currency of a money-bearing event, else "".
func currencyOf(t *testing.T, env Envelope) string {
	t.Helper()
	var d struct {
		Currency string `json:"currency"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil {
		t.Fatalf("data of %s: %v", env.ID, err)
	}
	return d.Currency
}

// checkRejection checks what parse returned for a body it refused.
func checkRejection(t *testing.T, body []byte, envs []Envelope, err error, parse func([]byte) ([]Envelope, error)) {
	t.Helper()
	if envs != nil {
		t.Fatalf("ParseBatch returned %d events with its error %v", len(envs), err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is %T, want *ValidationError: only a bug may fail otherwise", err, err)
	}
	if len(ve.Problems) == 0 {
		t.Fatal("ValidationError without problems")
	}
	elems := arrayLen(body)
	for i, p := range ve.Problems {
		if p.Field == "" || p.Rule == "" {
			t.Fatalf("problem %d %+v lacks a field or a rule", i, p)
		}
		if i > 0 {
			q := ve.Problems[i-1]
			if c := cmp.Or(strings.Compare(q.Field, p.Field), strings.Compare(q.Rule, p.Rule)); c >= 0 {
				t.Fatalf("problems %d and %d are not sorted and distinct: %+v, %+v", i-1, i, q, p)
			}
		}
		if elems > 0 && p.Field != "body" {
			n, ok := elementIndex(p.Field)
			if !ok || n >= elems {
				t.Fatalf("problem field %q of a batch of %d does not start with an element index", p.Field, elems)
			}
		}
	}
	_, again := parse(body)
	var ve2 *ValidationError
	if !errors.As(again, &ve2) || !reflect.DeepEqual(ve2.Problems, ve.Problems) {
		t.Fatalf("second parse of the same body gave %v, first %v", again, err)
	}
}

// checkAccepted checks the events ParseBatch accepted from body.
func checkAccepted(t *testing.T, body []byte, envs []Envelope) {
	t.Helper()
	if len(envs) == 0 || len(envs) > MaxBatch {
		t.Fatalf("accepted %d events", len(envs))
	}
	if n := arrayLen(body); n > 0 && n != len(envs) {
		t.Fatalf("accepted %d events of an array of %d", len(envs), n)
	}
	ids := map[string]bool{}
	for i, env := range envs {
		if env.ID == "" || env.MemberID == "" || env.OccurredAt.IsZero() || env.Version != 1 {
			t.Fatalf("envs[%d] is incomplete: id %q, member %q, occurred_at %s, version %d", i, env.ID, env.MemberID, env.OccurredAt, env.Version)
		}
		if _, err := ParseType(string(env.Type)); err != nil {
			t.Fatalf("envs[%d]: %v", i, err)
		}
		if len(envs) > 1 && ids[env.ID] {
			t.Fatalf("envs[%d] repeats id %q within the batch", i, env.ID)
		}
		ids[env.ID] = true
		if !json.Valid(env.Raw) || !bytes.Contains(body, env.Raw) {
			t.Fatalf("envs[%d].Raw is not valid JSON cut from the body: %q", i, env.Raw)
		}
		if _, err := env.DecodeData(); err != nil {
			t.Fatalf("envs[%d] accepted but DecodeData fails: %v", i, err)
		}
		// What the dispatcher does with the stored payload.
		var stored Envelope
		if err := json.Unmarshal(env.Raw, &stored); err != nil {
			t.Fatalf("envs[%d].Raw does not decode: %v", i, err)
		}
		if _, err := stored.DecodeData(); err != nil {
			t.Fatalf("envs[%d] stored payload does not decode its data: %v", i, err)
		}
		if stored.ID != env.ID || stored.Type != env.Type || stored.MemberID != env.MemberID || !stored.OccurredAt.Equal(env.OccurredAt) {
			t.Fatalf("envs[%d] read back from Raw differs: %+v vs %+v", i, stored, env)
		}
		if !strings.HasPrefix(env.Digest, "sha256:") || len(env.Digest) != len("sha256:")+64 || !json.Valid(env.Data) {
			t.Fatalf("envs[%d] digest %q or data %q malformed", i, env.Digest, env.Data)
		}
		// The digest is of encoding/json's canonical form of what was sent,
		// the definition the digests of recorded events have.
		checkDigestDefinition(t, env)
		// Raw on its own is a valid body, and parses to the same event;
		// so does Raw re-indented, with the same digest.
		again, err := ParseBatch(env.Raw)
		if err != nil || len(again) != 1 || again[0].ID != env.ID || again[0].Digest != env.Digest || !bytes.Equal(again[0].Raw, env.Raw) {
			t.Fatalf("envs[%d].Raw alone does not parse to the same event: %v", i, err)
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, env.Raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		again, err = ParseBatch(indented.Bytes())
		if err != nil || len(again) != 1 || again[0].Digest != env.Digest {
			t.Fatalf("envs[%d] re-indented: %v, or its digest changed", i, err)
		}
	}
}

// arrayLen returns the number of elements of body when it is a JSON array,
// else 0.
func arrayLen(body []byte) int {
	var arr []json.RawMessage
	if json.Unmarshal(body, &arr) != nil {
		return 0
	}
	return len(arr)
}

// elementIndex reads the "[n]" a batch problem's field starts with.
func elementIndex(field string) (int, bool) {
	rest, ok := strings.CutPrefix(field, "[")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil && n >= 0
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzParseBatch equal to the bodies the
// tests of this package (and of internal/ingest) parse; go test
// ./events -run TestFuzzSeeds -update-seeds rewrites it.
func TestFuzzSeeds(t *testing.T) {
	var seeds []fuzzseed.Seed
	add := func(name string, body []byte) { seeds = append(seeds, fuzzseed.New(name, body)) }

	all := make([][]byte, 0, len(Types()))
	for _, typ := range Types() {
		add("sample-"+string(typ), sample(t, typ))
		all = append(all, sample(t, typ))
	}
	add("batch-of-every-sample", batch(all...))

	member := func(fn func(d map[string]any)) []byte {
		return edit(t, MemberRegistered, func(ev map[string]any) { fn(dataOf(ev)) })
	}
	order := func(fn func(d map[string]any)) []byte {
		return edit(t, OrderPaid, func(ev map[string]any) { fn(dataOf(ev)) })
	}
	line := func(d map[string]any, i int) map[string]any { return d["lines"].([]any)[i].(map[string]any) }
	withID := func(typ Type, id string) []byte {
		return edit(t, typ, func(ev map[string]any) { ev["id"] = id })
	}
	// Compact events keep the batch-size seeds small.
	compact := func(i int) []byte {
		return fmt.Appendf(nil, `{"id":"e%d","type":"member.checked_in","occurred_at":"2026-03-15T10:00:00Z","member_id":"m","data":{}}`, i)
	}
	var hundred, hundredAndOne [][]byte
	for i := range MaxBatch {
		hundred = append(hundred, compact(i))
		hundredAndOne = append(hundredAndOne, []byte(`{}`))
	}
	hundredAndOne = append(hundredAndOne, []byte(`{}`))

	// TestParseBatchRejects.
	for _, s := range []struct {
		name string
		body []byte
	}{
		{"float-amount", order(func(d map[string]any) { d["amount"] = 1250.5 })},
		{"integer-amount", order(func(d map[string]any) { d["amount"] = 1250 })},
		{"three-decimals", order(func(d map[string]any) { d["amount"] = "12.505" })},
		{"negative-amount", order(func(d map[string]any) { d["amount"] = "-1.00" })},
		{"float-line-amount", order(func(d map[string]any) { line(d, 1)["amount"] = 750.0 })},
		{"quantity-zero", order(func(d map[string]any) { line(d, 0)["quantity"] = 0 })},
		{"fractional-quantity", order(func(d map[string]any) { line(d, 0)["quantity"] = json.Number("2.0") })},
		{"no-lines", order(func(d map[string]any) { d["lines"] = []any{} })},
		{"bad-payment-method", order(func(d map[string]any) { d["payments"].([]any)[0].(map[string]any)["method"] = "cash" })},
		{"negative-points", order(func(d map[string]any) { d["points_redeemed"] = -5 })},
		{"lower-case-currency", order(func(d map[string]any) { d["currency"] = "cny" })},
		{"missing-email", member(func(d map[string]any) { delete(d, "email") })},
		{"bad-email", member(func(d map[string]any) { d["email"] = "lin.wei.example.com" })},
		{"bad-birthday", member(func(d map[string]any) { d["birthday"] = "1990-02-30" })},
		{"birthday-with-time", member(func(d map[string]any) { d["birthday"] = "1990-06-15T00:00:00Z" })},
		{"unknown-timezone", member(func(d map[string]any) { d["timezone"] = "Asia/Beijing" })},
		{"local-timezone", member(func(d map[string]any) { d["timezone"] = "Local" })},
		{"path-like-timezone", member(func(d map[string]any) { d["timezone"] = "../../etc/passwd" })},
		{"bad-locale", member(func(d map[string]any) { d["locale"] = "zh_CN" })},
		{"phone-without-plus", member(func(d map[string]any) { d["phone"] = "13800000000" })},
		{"missing-consent-flag", member(func(d map[string]any) { d["consent"] = map[string]any{} })},
		{"empty-profile-update", edit(t, MemberProfileUpdated, func(ev map[string]any) { ev["data"] = map[string]any{} })},
		{"rating-too-high", edit(t, ReviewPosted, func(ev map[string]any) { dataOf(ev)["rating"] = 6 })},
		{"unknown-type", edit(t, OrderPaid, func(ev map[string]any) { ev["type"] = "order.shipped" })},
		{"missing-type", edit(t, OrderPaid, func(ev map[string]any) { delete(ev, "type") })},
		{"extra-envelope-field", edit(t, OrderPaid, func(ev map[string]any) { ev["memberId"] = "m-1001" })},
		{"extra-data-field", order(func(d map[string]any) { d["coupon"] = "SPRING26" })},
		{"odd-unknown-key", order(func(d map[string]any) { d["coupon code"] = "SPRING26" })},
		{"hash-in-member-id", edit(t, OrderPaid, func(ev map[string]any) { ev["member_id"] = "m#1001" })},
		{"empty-id", withID(OrderPaid, "")},
		{"id-too-long", withID(OrderPaid, strings.Repeat("a", 129))},
		{"hash-in-order-id", order(func(d map[string]any) { d["order_id"] = "ord#1" })},
		{"occurred-at-not-rfc3339", edit(t, OrderPaid, func(ev map[string]any) { ev["occurred_at"] = "2026-03-02 14:05:10" })},
		{"version-2", edit(t, OrderPaid, func(ev map[string]any) { ev["version"] = 2 })},
		{"version-as-string", edit(t, OrderPaid, func(ev map[string]any) { ev["version"] = "1" })},
		{"data-not-an-object", edit(t, OrderPaid, func(ev map[string]any) { ev["data"] = []any{} })},
		{"batch-of-101", batch(hundredAndOne...)},
		{"empty-array", []byte(" [ ] ")},
		{"not-json", []byte("member_id=m-1001&type=order.paid")},
		{"truncated-json", sample(t, OrderPaid)[:40]},
		{"empty-body", nil},
		{"json-string", []byte(`"order.paid"`)},
		{"element-1-bad", batch(sample(t, OrderPaid), edit(t, ContentShared, func(ev map[string]any) { ev["member_id"] = "m#1001" }))},
		{"element-1-deep", batch(sample(t, MemberRegistered), order(func(d map[string]any) { line(d, 0)["amount"] = 1.5 }))},
		{"element-1-not-an-object", batch(sample(t, OrderPaid), []byte(`42`))},
		{"duplicate-ids", batch(withID(OrderPaid, "evt-x"), withID(ContentShared, "evt-y"), withID(ReviewPosted, "evt-x"))},
	} {
		add("reject-"+s.name, s.body)
	}

	// TestParseBatchReportsEveryProblem and TestParseBatchReportsEveryElement.
	add("every-problem", []byte(`{
		"type": "order.paid",
		"member_id": "m#1",
		"data": {
			"amount": 10.5,
			"lines": [{"sku": "TEA-1"}],
			"payments": [{"method": "card"}],
			"gift_wrap": true
		}
	}`))
	add("every-element", batch(
		edit(t, MemberRegistered, func(ev map[string]any) { dataOf(ev)["timezone"] = "Mars/Olympus_Mons" }),
		sample(t, OrderPaid),
		edit(t, OrderPaid, func(ev map[string]any) { delete(dataOf(ev), "currency"); ev["id"] = "evt-reg-1001" }),
	))

	// TestParseBatchKeepsRawBytes, TestParseBatchLoneObjectRaw and
	// TestParseBatchOfOneElementUsesIndexedPaths.
	e1 := []byte(`{"id":"evt-ord-1001" ,  "type":"order.paid","occurred_at":"2026-03-02T14:05:10+08:00","member_id":"m-1001","data":{"order_id":"ord-1","amount":"1250.00","currency":"CNY","lines":[{"sku":"TEA-OOLONG-250G","category":"tea","quantity":2,"amount":"1250.00"}],"payments":[{"method":"card","amount":"1250.00"}]}}`)
	add("raw-bytes-spacing", []byte("\n[\r\n\t"+string(sample(t, MemberRegistered))+"  ,\n"+string(e1)+",\t"+string(bytes.TrimSpace(sample(t, WalletToppedUp)))+"\n]\n"))
	add("lone-object-spacing", []byte(" \n"+string(bytes.TrimSpace(sample(t, ContentShared)))+"\n\t "))
	add("batch-of-one", batch(edit(t, OrderPaid, func(ev map[string]any) { delete(ev, "id") })))
	add("batch-of-100", batch(hundred...))

	// TestParseBatchAcceptsEdgeValues (and TestDecodeDataOfStoredPayload,
	// whose body is "version omitted").
	for _, s := range []struct {
		name string
		body []byte
	}{
		{"version-omitted", edit(t, OrderPaid, func(ev map[string]any) { delete(ev, "version") })},
		{"whole-number-amount", edit(t, OrderPaid, func(ev map[string]any) { dataOf(ev)["amount"] = "1250" })},
		{"one-decimal", edit(t, OrderPaid, func(ev map[string]any) { dataOf(ev)["amount"] = "1250.5" })},
		{"zero-amount", edit(t, WalletToppedUp, func(ev map[string]any) { dataOf(ev)["amount"] = "0.00" })},
		{"utc-timestamp", edit(t, OrderPaid, func(ev map[string]any) { ev["occurred_at"] = "2026-03-02T06:05:10.123Z" })},
		{"leap-day-birthday", edit(t, MemberRegistered, func(ev map[string]any) { dataOf(ev)["birthday"] = "2000-02-29" })},
		{"optional-member-fields-omitted", edit(t, MemberRegistered, func(ev map[string]any) {
			for _, k := range []string{"birthday", "timezone", "locale", "phone", "referral_code"} {
				delete(dataOf(ev), k)
			}
		})},
		{"unsubscribed-empty-data", edit(t, MemberUnsubscribed, func(ev map[string]any) { ev["data"] = map[string]any{} })},
		{"refund-without-lines", edit(t, OrderRefunded, func(ev map[string]any) { delete(dataOf(ev), "lines") })},
		{"id-every-allowed-character", edit(t, OrderPaid, func(ev map[string]any) { ev["id"] = "Az09._:-" })},
	} {
		add("accept-"+s.name, s.body)
	}

	// internal/ingest's handler tests: a batch whose second element has a
	// float amount, and an event without data.email.
	bad := bytes.Replace(sample(t, OrderPaid), []byte(`"amount": "1250.00"`), []byte(`"amount": 1250.5`), 1)
	add("ingest-invalid-batch", []byte("["+string(sample(t, MemberRegistered))+","+string(bad)+"]"))
	add("ingest-missing-email", []byte(`{"id":"e1","type":"member.registered","occurred_at":"2026-11-23T10:00:00Z","member_id":"m-1","data":{"name":"x","consent":{"email_marketing":true}}}`))

	fuzzseed.Check(t, "FuzzParseBatch", seeds)
}
