package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// LedgerPage is GET /v1/members/{id}/ledger.
type LedgerPage struct {
	Entries []loyalty.Entry `json:"entries"`
	// Next is the value of ?before= for the next (older) page; 0 when this
	// is the last page.
	Next int64 `json:"next_before,omitempty"`
}

const (
	defaultPage = 50
	maxPage     = 200
)

func (h *Handler) getLedger(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	limit, before := defaultPage, int64(0)
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("limit: must be a whole number from 1 to %d", maxPage))
			return
		}
		limit = n
	}
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			httpx.WriteError(w, http.StatusBadRequest, "before: must be a positive entry sequence number (next_before of the previous page)")
			return
		}
		before = n
	}
	if _, err := h.Store.GetMember(r.Context(), id); err != nil {
		h.memberFail(w, r, id, err)
		return
	}
	es, err := h.Ledger.Entries(r.Context(), id, limit, before)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	page := LedgerPage{Entries: es}
	if page.Entries == nil {
		page.Entries = []loyalty.Entry{}
	}
	if len(es) == limit && es[len(es)-1].Seq > 1 {
		page.Next = es[len(es)-1].Seq
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}

// adjustmentRequest is the body of POST /v1/members/{id}/adjustments.
// Amounts are signed: positive grants, negative deducts.
type adjustmentRequest struct {
	Reason      string          `json:"reason"`
	Operator    string          `json:"operator"`
	Points      int64           `json:"points"`
	StoredValue json.RawMessage `json:"stored_value"`
	Growth      json.RawMessage `json:"growth"`
	Coupon      string          `json:"coupon"`
}

// decimalField parses an amount sent as a JSON string such as "12.50". A
// JSON number would pass through a float in many clients, so it is refused,
// as it is for webhook events.
func decimalField(name string, raw json.RawMessage) (decimal.Decimal, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return decimal.Zero, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return decimal.Zero, loyalty.Errorf(loyalty.EInvalid, "%s: must be a decimal string such as \"12.50\", not a JSON number", name)
	}
	v, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero, loyalty.Errorf(loyalty.EInvalid, "%s: %q is not a decimal number", name, s)
	}
	return v, nil
}

// MaxAdjustmentBytes bounds the body of POST /v1/members/{id}/adjustments;
// a larger one is answered 413, as webhook events are.
const MaxAdjustmentBytes = 64 << 10

func (h *Handler) postAdjustment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	if key == "" {
		httpx.WriteError(w, http.StatusBadRequest, IdempotencyKeyHeader+": header is required, so a retried request cannot apply twice ("+memberIDRule+")")
		return
	}
	body, ok := httpx.ReadPost(w, r, MaxAdjustmentBytes)
	if !ok {
		return
	}
	var req adjustmentRequest
	if err := decodeObject(body, &req); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "body: must be a JSON object with reason, operator and at least one of points, stored_value, growth, coupon: "+err.Error())
		return
	}
	if strings.TrimSpace(req.Operator) == "" {
		httpx.WriteError(w, http.StatusBadRequest, "operator: is required (who is making the adjustment; kept for audit)")
		return
	}
	adj := loyalty.Adjustment{
		Key: key, Operator: strings.TrimSpace(req.Operator), Actor: strings.TrimSpace(req.Operator) + " (token " + TokenID(r.Context()) + ")",
		Reason: strings.TrimSpace(req.Reason), Points: req.Points, Coupon: req.Coupon,
	}
	var err error
	if adj.StoredValue, err = decimalField("stored_value", req.StoredValue); err == nil {
		adj.Growth, err = decimalField("growth", req.Growth)
	}
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	// The operator's name stays out of the audit entry (the token says
	// who acted); the reason is operator free text, kept because an
	// audit must say why.
	detail := map[string]string{"reason": adj.Reason}
	if adj.Points != 0 {
		detail["points"] = strconv.FormatInt(adj.Points, 10)
	}
	if !adj.StoredValue.IsZero() {
		detail["stored_value"] = adj.StoredValue.String()
	}
	if !adj.Growth.IsZero() {
		detail["growth"] = adj.Growth.String()
	}
	if adj.Coupon != "" {
		detail["coupon"] = adj.Coupon
	}
	h.audited(w, r, AuditAdjustment, auditTargetMember(id), detail, func(w http.ResponseWriter) {
		m, err := h.Store.GetMember(r.Context(), id)
		if err != nil {
			h.memberFail(w, r, id, err)
			return
		}
		res, err := h.Ledger.Adjust(r.Context(), m, adj)
		if err != nil {
			httpx.Fail(w, r, h.Log, err)
			return
		}
		status := http.StatusCreated
		if res.Duplicate {
			status = http.StatusOK
		} else {
			h.Log.InfoContext(r.Context(), "manual adjustment", "member_id", id, "key", key, "token", TokenID(r.Context()), "entries", len(res.Entries))
		}
		httpx.WriteJSON(w, status, res)
	})
}

func (h *Handler) getLiability(w http.ResponseWriter, r *http.Request) {
	l, err := h.Ledger.Liability(r.Context())
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, l)
}

func (h *Handler) memberFail(w http.ResponseWriter, r *http.Request, id string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, http.StatusNotFound, "member "+id+" not found")
		return
	}
	httpx.Fail(w, r, h.Log, err)
}
