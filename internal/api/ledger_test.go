package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
)

var paidAt = time.Date(2026, 11, 23, 14, 0, 0, 0, time.FixedZone("CST", 8*3600))

// newLedgerAPI serves a member who paid 1,250.00 CNY by card an hour ago.
func newLedgerAPI(t *testing.T) http.Handler {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ldg := ledgerfix.Service(t, st)
	ldg.Now = func() time.Time { return paidAt.Add(time.Hour) }
	m := loyalty.Member{ID: "m-1", Name: "Lin", Email: "lin@example.com", Version: 1, RegisteredAt: paidAt.Add(-time.Hour)}
	if err := st.SaveMember(ctx, m, "e0"); err != nil {
		t.Fatal(err)
	}
	ledgerfix.PayByCard(t, ldg, "m-1", "o1", "1250.00", paidAt)
	tokens, err := api.NewTokens("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	return (&api.Handler{Store: st, Ledger: ldg, Tokens: tokens, Log: log}).Routes()
}

func do(h http.Handler, method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer s3cret")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

func TestMemberStanding(t *testing.T) {
	h := newLedgerAPI(t)
	rec := do(h, http.MethodGet, "/v1/members/m-1", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	v := decode[struct {
		ID           string                  `json:"id"`
		Tier         string                  `json:"tier"`
		TierReviewOn *string                 `json:"tier_review_on"`
		Growth       loyalty.GrowthTotals    `json:"growth"`
		Points       loyalty.PointsView      `json:"points"`
		StoredValue  loyalty.StoredValueView `json:"stored_value"`
		Coupons      []loyalty.CouponView    `json:"coupons"`
		Paid         *loyalty.PaidView       `json:"paid"`
		Badges       []string                `json:"badges"`
		Enrollments  []loyalty.Enrollment    `json:"enrollments"`
	}](t, rec)
	if v.ID != "m-1" || v.Tier != "V4" || v.TierReviewOn == nil || *v.TierReviewOn != "2027-11-23" || v.Points.Pending != 12 || v.Points.Available != 0 ||
		!v.Growth.Counted.Equal(decimal.NewFromInt(1250)) || v.StoredValue.Currency != "CNY" || v.Coupons == nil || v.Badges == nil || v.Paid != nil {
		t.Errorf("member = %s", rec.Body)
	}
}

func TestLedgerEntries(t *testing.T) {
	h := newLedgerAPI(t)
	page := decode[api.LedgerPage](t, do(h, http.MethodGet, "/v1/members/m-1/ledger", "", nil))
	if len(page.Entries) != 3 || page.Entries[0].Rule != "tier.upgrade" || page.Entries[2].Rule != "order.growth" || page.Next != 0 {
		t.Fatalf("ledger = %+v", page)
	}
	for _, e := range page.Entries {
		if e.Reason == "" || e.EventID != "m-1-o1" {
			t.Errorf("entry without reason or event: %+v", e)
		}
	}
	page = decode[api.LedgerPage](t, do(h, http.MethodGet, "/v1/members/m-1/ledger?limit=2", "", nil))
	if len(page.Entries) != 2 || page.Next != page.Entries[1].Seq {
		t.Fatalf("first page = %+v", page)
	}
	rest := decode[api.LedgerPage](t, do(h, http.MethodGet, "/v1/members/m-1/ledger?limit=2&before="+itoa(page.Next), "", nil))
	if len(rest.Entries) != 1 || rest.Entries[0].Rule != "order.growth" {
		t.Errorf("second page = %+v", rest)
	}
	for _, bad := range []struct{ q, field string }{{"limit=0", "limit"}, {"limit=x", "limit"}, {"limit=201", "limit"}, {"before=-1", "before"}} {
		rec := do(h, http.MethodGet, "/v1/members/m-1/ledger?"+bad.q, "", nil)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), bad.field+":") {
			t.Errorf("%s: %d %s", bad.q, rec.Code, rec.Body)
		}
	}
	if rec := do(h, http.MethodGet, "/v1/members/nobody/ledger", "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("unknown member: %d", rec.Code)
	}
}

func itoa(n int64) string { return decimal.NewFromInt(n).String() }

func TestAdjustments(t *testing.T) {
	h := newLedgerAPI(t)
	key := map[string]string{api.IdempotencyKeyHeader: "ticket-4711"}
	for _, tc := range []struct {
		name, body string
		header     map[string]string
		status     int
		want       string
	}{
		{"no idempotency key", `{"reason":"r","operator":"ops","points":5}`, nil, 400, "Idempotency-Key"},
		{"no reason", `{"operator":"ops","points":5}`, key, 400, "reason: is required"},
		{"no operator", `{"reason":"r","points":5}`, key, 400, "operator: is required"},
		{"no effect", `{"reason":"r","operator":"ops"}`, key, 400, "at least one"},
		{"unknown field", `{"reason":"r","operator":"ops","pointz":5}`, key, 400, "pointz"},
		{"amount as number", `{"reason":"r","operator":"ops","stored_value":5.5}`, key, 400, "stored_value: must be a decimal string"},
		{"amount not a number", `{"reason":"r","operator":"ops","growth":"lots"}`, key, 400, "growth: \\\"lots\\\" is not a decimal"},
		{"deduct more than available", `{"reason":"r","operator":"ops","points":-5}`, map[string]string{api.IdempotencyKeyHeader: "k2"}, 400, "points: cannot deduct 5, only 0 are available"},
		{"unknown coupon", `{"reason":"r","operator":"ops","coupon":"X9"}`, map[string]string{api.IdempotencyKeyHeader: "k3"}, 400, "coupon:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := tc.header
			if hdr != nil && hdr[api.IdempotencyKeyHeader] == key[api.IdempotencyKeyHeader] {
				// Each a request of its own: a key used before for
				// another request is refused (below).
				hdr = map[string]string{api.IdempotencyKeyHeader: "ticket-" + strings.ReplaceAll(tc.name, " ", "-")}
			}
			rec := do(h, http.MethodPost, "/v1/members/m-1/adjustments", tc.body, hdr)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("status %d body %s, want %d containing %q", rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
	// A key used for a request that was refused stays that request's: a
	// corrected request under it is another request, refused 409 naming
	// the key, so the audit log never shows one request's detail for
	// another's effect.
	if rec := do(h, http.MethodPost, "/v1/members/m-1/adjustments", `{"reason":"r","operator":"ops","points":5}`,
		map[string]string{api.IdempotencyKeyHeader: "ticket-no-reason"}); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "Idempotency-Key: ticket-no-reason was used before") {
		t.Errorf("the key of a refused request with a corrected body: %d %s, want 409 naming the key", rec.Code, rec.Body)
	}
	for _, bad := range []string{"has space", "a#b", strings.Repeat("k", 129)} {
		if rec := do(h, http.MethodPost, "/v1/members/m-1/adjustments", `{"reason":"r","operator":"ops","points":5}`,
			map[string]string{api.IdempotencyKeyHeader: bad}); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Idempotency-Key: header must be 1 to 128 characters") {
			t.Errorf("Idempotency-Key %q: %d %s, want 400 naming the header and its rule", bad, rec.Code, rec.Body)
		}
	}
	if rec := do(h, http.MethodPost, "/v1/members/m-1/adjustments", `{"reason":"r","operator":"ops","points":5}{}`,
		map[string]string{api.IdempotencyKeyHeader: "ticket-trailing"}); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "body:") {
		t.Errorf("a body with trailing data: %d %s, want 400 naming the body", rec.Code, rec.Body)
	}

	body := `{"reason":"service recovery for ticket 4711","operator":"li.na","points":30,"coupon":"C15"}`
	hdr := map[string]string{api.IdempotencyKeyHeader: "ticket-4712"}
	rec := do(h, http.MethodPost, "/v1/members/m-1/adjustments", body, hdr)
	if rec.Code != http.StatusCreated {
		t.Fatalf("grant: %d %s", rec.Code, rec.Body)
	}
	res := decode[ledger.AdjustResult](t, rec)
	if len(res.Entries) != 2 || res.Duplicate || !strings.HasPrefix(res.Entries[0].Actor, "li.na (token sha256:") || !strings.Contains(res.Entries[0].Reason, "ticket 4711") {
		t.Errorf("grant = %+v", res)
	}
	again := decode[ledger.AdjustResult](t, do(h, http.MethodPost, "/v1/members/m-1/adjustments", body, hdr))
	if !again.Duplicate || len(again.Entries) != 0 {
		t.Errorf("repeat = %+v", again)
	}
	v := decode[struct {
		Points  loyalty.PointsView   `json:"points"`
		Coupons []loyalty.CouponView `json:"coupons"`
	}](t, do(h, http.MethodGet, "/v1/members/m-1", "", nil))
	if v.Points.Available != 30 || len(v.Coupons) != 1 || v.Coupons[0].Kind != "C15" {
		t.Errorf("after grant: %+v", v)
	}
	if rec := do(h, http.MethodPost, "/v1/members/nobody/adjustments", body, hdr); rec.Code != http.StatusNotFound {
		t.Errorf("unknown member: %d", rec.Code)
	}
}

func TestAdjustmentBodyLimit(t *testing.T) {
	h := newLedgerAPI(t)
	// sized returns an adjustment of 5 points whose reason pads the body
	// to exactly n bytes.
	sized := func(n int) string {
		const head, tail = `{"operator":"ops","points":5,"reason":"`, `"}`
		return head + strings.Repeat("r", n-len(head)-len(tail)) + tail
	}
	over := do(h, http.MethodPost, "/v1/members/m-1/adjustments", sized(api.MaxAdjustmentBytes+1), map[string]string{api.IdempotencyKeyHeader: "big-1"})
	if over.Code != http.StatusRequestEntityTooLarge || !strings.Contains(over.Body.String(), "body: must be at most 65536 bytes") {
		t.Errorf("one byte over the limit: %d %s, want 413 naming the limit", over.Code, over.Body)
	}
	at := do(h, http.MethodPost, "/v1/members/m-1/adjustments", sized(api.MaxAdjustmentBytes), map[string]string{api.IdempotencyKeyHeader: "big-2"})
	if at.Code != http.StatusCreated {
		t.Errorf("at the limit: %d %s, want 201", at.Code, at.Body)
	}
	// Only the adjustment within the limit was applied.
	v := decode[struct {
		Points loyalty.PointsView `json:"points"`
	}](t, do(h, http.MethodGet, "/v1/members/m-1", "", nil))
	if v.Points.Available != 5 {
		t.Errorf("available points = %d, want 5", v.Points.Available)
	}
}

func TestLiabilityEndpoint(t *testing.T) {
	h := newLedgerAPI(t)
	rec := do(h, http.MethodGet, "/v1/liability", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	l := decode[loyalty.Liability](t, rec)
	if l.Points.Pending != 12 || l.Points.Available != 0 || l.Currency != "CNY" || len(l.Coupons) != 3 {
		t.Errorf("liability = %s", rec.Body)
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/liability", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", rec.Code)
	}
}
