package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// editSample returns the sample of typ with fn applied to its decoded
// object (numbers stay as written).
func editSample(t *testing.T, typ events.Type, fn func(ev map[string]any)) []byte {
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

// order300 is the order.paid sample as a 300.00 CNY order of one line paid
// by card, with fn applied to its data.
func order300(t *testing.T, id string, fn func(d map[string]any)) []byte {
	t.Helper()
	return editSample(t, events.OrderPaid, func(ev map[string]any) {
		ev["id"] = id
		d := ev["data"].(map[string]any)
		d["amount"] = "300.00"
		d["lines"] = []any{map[string]any{"sku": "TEA-1", "category": "tea", "quantity": 1, "amount": "300.00"}}
		d["payments"] = []any{map[string]any{"method": "card", "amount": "300.00"}}
		if fn != nil {
			fn(d)
		}
	})
}

func arrayOf(elems ...[]byte) []byte {
	return append(append([]byte("["), bytes.Join(elems, []byte(","))...), ']')
}

// checkProblems decodes a 400 answer and compares its problems.
func checkProblems(t *testing.T, code int, body []byte, want []events.Problem) {
	t.Helper()
	if code != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400: %s", code, body)
	}
	var vf ingest.ValidationFailed
	if err := json.Unmarshal(body, &vf); err != nil {
		t.Fatal(err)
	}
	if vf.Error == "" || !slices.Equal(vf.Problems, want) {
		t.Errorf("answer %s, want problems %+v", body, want)
	}
}

// checkNotRecorded fails for each id the store holds.
func checkNotRecorded(t *testing.T, st store.Events, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := st.GetEvent(context.Background(), "storefront", id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("event %s: GetEvent = %v, want not recorded", id, err)
		}
	}
}

func TestRejectsAmountsThatDisagree(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		ids  []string // none of them may be recorded
		want []events.Problem
	}{
		// The three inputs of the issue, each answered 202 before.
		{"order.paid in USD to a CNY programme", order300(t, "evt-usd", func(d map[string]any) { d["currency"] = "USD" }),
			[]string{"evt-usd"}, []events.Problem{{Field: "data.currency", Rule: "must be the programme currency CNY"}}},
		{"payments summing to 1.00 on a 300.00 order", order300(t, "evt-pay", func(d map[string]any) {
			d["payments"] = []any{map[string]any{"method": "card", "amount": "1.00"}}
		}), []string{"evt-pay"}, []events.Problem{{Field: "data.payments", Rule: "amounts must sum to data.amount (300.00), not 1.00"}}},
		{"lines summing to 99999 on a 300.00 order", order300(t, "evt-lines", func(d map[string]any) {
			d["lines"] = []any{map[string]any{"sku": "TEA-1", "category": "tea", "quantity": 1, "amount": "99999"}}
		}), []string{"evt-lines"}, []events.Problem{{Field: "data.lines", Rule: "amounts must sum to data.amount + data.discount (300.00 + 0.00 = 300.00), not 99999.00"}}},

		{"points paying more than the points redeemed are worth", order300(t, "evt-pts", func(d map[string]any) {
			d["points_redeemed"] = 20
			d["payments"] = []any{map[string]any{"method": "card", "amount": "270.00"}, map[string]any{"method": "points", "amount": "30.00"}}
		}), []string{"evt-pts"}, []events.Problem{{Field: "data.points_redeemed", Rule: "× the point value 1 (= 20.00) must equal the points payments in data.payments, which sum to 30.00"}}},
		{"top-up in USD", editSample(t, events.WalletToppedUp, func(ev map[string]any) { ev["data"].(map[string]any)["currency"] = "USD" }),
			[]string{"evt-topup-1001"}, []events.Problem{{Field: "data.currency", Rule: "must be the programme currency CNY"}}},
		{"only one element of a batch wrong", arrayOf(
			sample(t, events.MemberRegistered),
			order300(t, "evt-ok", nil),
			order300(t, "evt-bad", func(d map[string]any) { d["payments"] = []any{map[string]any{"method": "card", "amount": "1.00"}} }),
			sample(t, events.WalletToppedUp),
		), []string{"evt-reg-1001", "evt-ok", "evt-bad", "evt-topup-1001"},
			[]events.Problem{{Field: "[2].data.payments", Rule: "amounts must sum to data.amount (300.00), not 1.00"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, st := newHandler()
			rec := post(h, tc.body, signed(tc.body, now))
			checkProblems(t, rec.Code, rec.Body.Bytes(), tc.want)
			checkNotRecorded(t, st, tc.ids...)
		})
	}
}

func TestAcceptsEverySampleInTheProgrammeCurrency(t *testing.T) {
	h, _ := newHandler()
	var all [][]byte
	for _, typ := range events.Types() {
		all = append(all, sample(t, typ))
	}
	body := arrayOf(all...)
	if rec := post(h, body, signed(body, now)); rec.Code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202: %s", rec.Code, rec.Body)
	}
}

// withAccount records a ledger account holding one order of the sample
// member, as the ledger would after applying it.
func withAccount(t *testing.T, st interface {
	CommitLedger(context.Context, ...store.LedgerChange) error
}, o loyalty.OrderRecord) {
	t.Helper()
	a := loyalty.Account{MemberID: "m-1001", Version: 1, Orders: []loyalty.OrderRecord{o}}
	if err := st.CommitLedger(context.Background(), store.LedgerChange{Account: a}); err != nil {
		t.Fatal(err)
	}
}

func TestRefundAgainstWhatTheOrderPaid(t *testing.T) {
	const order = "ord-20260302-0042" // the samples'
	refund := func(id, refundID, amount string) []byte {
		return editSample(t, events.OrderRefunded, func(ev map[string]any) {
			ev["id"] = id
			d := ev["data"].(map[string]any)
			d["refund_id"], d["amount"] = refundID, amount
			delete(d, "lines")
		})
	}
	paid := loyalty.OrderRecord{OrderID: order, Amount: decimal.RequireFromString("300.00"),
		Refunded: decimal.RequireFromString("100.00"), RefundIDs: []string{"rfd-1"}}
	tests := []struct {
		name    string
		account *loyalty.OrderRecord
		body    []byte
		want    []events.Problem // nil: 202
	}{
		{"order not recorded yet: accepted", nil, refund("evt-r", "rfd-2", "99999.00"), nil},
		{"within what is left", &paid, refund("evt-r", "rfd-2", "200.00"), nil},
		{"over what is left", &paid, refund("evt-r", "rfd-2", "200.01"), []events.Problem{{Field: "data.amount",
			Rule: "must not exceed what order ord-20260302-0042 has left to refund: 300.00 paid, 100.00 refunded before, 200.00 left"}}},
		{"a retry of an applied refund", &paid, refund("evt-r", "rfd-1", "100.00"), nil},
		{"two refunds of one body over what is left", &paid, arrayOf(refund("evt-r", "rfd-2", "150.00"), refund("evt-s", "rfd-3", "50.01")),
			[]events.Problem{{Field: "[1].data.amount",
				Rule: "must not exceed what order ord-20260302-0042 has left to refund: 300.00 paid, 250.00 refunded before, 50.00 left"}}},
		{"refund lines over the refund amount", nil, editSample(t, events.OrderRefunded, func(ev map[string]any) {
			ev["data"].(map[string]any)["amount"] = "200.00"
		}), []events.Problem{{Field: "data.lines", Rule: "amounts must sum to data.amount (200.00), not 250.00"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, st := newHandler()
			if tc.account != nil {
				withAccount(t, st, *tc.account)
			}
			rec := post(h, tc.body, signed(tc.body, now))
			if tc.want == nil {
				if rec.Code != http.StatusAccepted {
					t.Fatalf("status = %d, want 202: %s", rec.Code, rec.Body)
				}
				return
			}
			checkProblems(t, rec.Code, rec.Body.Bytes(), tc.want)
			checkNotRecorded(t, st, "evt-r", "evt-s", "evt-rfd-1001")
		})
	}
}

// failingAccounts is a store whose account reads fail.
type failingAccounts struct{ ingest.Store }

func (failingAccounts) GetAccount(context.Context, string) (loyalty.Account, error) {
	return loyalty.Account{}, errors.New("table unavailable")
}

func TestRefundLookupFailureIs500(t *testing.T) {
	h, st := newHandler()
	h.Store = failingAccounts{st}
	body := sample(t, events.OrderRefunded)
	if rec := post(h, body, signed(body, now)); rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500: %s", rec.Code, rec.Body)
	}
	checkNotRecorded(t, st, "evt-rfd-1001")
}

func TestWithoutProgrammeRulesNothingIsAccepted(t *testing.T) {
	h, st := newHandler()
	h.Rules = events.Rules{}
	body := sample(t, events.OrderPaid)
	if rec := post(h, body, signed(body, now)); rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500: %s", rec.Code, rec.Body)
	}
	checkNotRecorded(t, st, "evt-ord-1001")
}

func TestEventIDReusedWithAnotherBody(t *testing.T) {
	h, st := newHandler()
	first := sample(t, events.OrderPaid)
	if rec := post(h, first, signed(first, now)); rec.Code != http.StatusAccepted {
		t.Fatalf("first: status = %d: %s", rec.Code, rec.Body)
	}

	// The same event re-serialised (compact, keys in another order) is
	// the same body: a duplicate.
	same := editSample(t, events.OrderPaid, func(map[string]any) {})
	if bytes.Equal(same, first) {
		t.Fatal("test setup: the re-serialised sample has the same bytes")
	}
	rec := post(h, same, signed(same, now))
	if rec.Code != http.StatusOK {
		t.Fatalf("same body again: status = %d, want 200: %s", rec.Code, rec.Body)
	}
	var dup ingest.Duplicate
	if err := json.Unmarshal(rec.Body.Bytes(), &dup); err != nil || !dup.Duplicate || !slices.Equal(dup.IDs, []string{"evt-ord-1001"}) {
		t.Errorf("same body again: %s, want duplicate of evt-ord-1001", rec.Body)
	}

	// Another body under the same id, beside a new event: 409 naming the
	// id, and nothing written.
	changed := editSample(t, events.OrderPaid, func(ev map[string]any) {
		d := ev["data"].(map[string]any)
		d["coupon_code"] = "SPRING27"
	})
	body := arrayOf(sample(t, events.MemberRegistered), changed)
	rec = post(h, body, signed(body, now))
	if rec.Code != http.StatusConflict {
		t.Fatalf("changed body: status = %d, want 409: %s", rec.Code, rec.Body)
	}
	var c ingest.Conflict
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	if want := "event id evt-ord-1001 was recorded before with a different body"; c.Error != want || !slices.Equal(c.IDs, []string{"evt-ord-1001"}) {
		t.Errorf("answer %s, want error %q and ids [evt-ord-1001]", rec.Body, want)
	}
	checkNotRecorded(t, st, "evt-reg-1001")
	stored, err := st.GetEvent(context.Background(), "storefront", "evt-ord-1001")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.Payload, bytes.TrimSpace(first)) {
		t.Errorf("the recorded event changed: %s", stored.Payload)
	}
}

func TestEveryConflictingIDIsNamed(t *testing.T) {
	h, _ := newHandler()
	a, b := order300(t, "evt-a", nil), order300(t, "evt-b", nil)
	body := arrayOf(a, b)
	if rec := post(h, body, signed(body, now)); rec.Code != http.StatusAccepted {
		t.Fatalf("first: status = %d: %s", rec.Code, rec.Body)
	}
	other := func(id string) []byte {
		return order300(t, id, func(d map[string]any) { d["order_id"] = "ord-other" })
	}
	body = arrayOf(other("evt-a"), order300(t, "evt-c", nil), other("evt-b"))
	rec := post(h, body, signed(body, now))
	var c ingest.Conflict
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusConflict || !slices.Equal(c.IDs, []string{"evt-a", "evt-b"}) ||
		c.Error != "event id evt-a was recorded before with a different body, and so were evt-b" {
		t.Errorf("status %d %s, want 409 naming evt-a and evt-b", rec.Code, rec.Body)
	}
}
