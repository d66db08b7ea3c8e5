package api

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/store"
)

// Audit actions: what an operator route does, as its entry names it.
const (
	AuditAdjustment     = "adjustment"
	AuditJourneyPublish = "journey.publish"
	AuditJourneyDraft   = "journey.draft"
	AuditJourneyPause   = "journey.pause"
	AuditJourneyResume  = "journey.resume"
	AuditJourneyArchive = "journey.archive"
	AuditJourneyEnroll  = "journey.enroll"
	AuditJourneyRemove  = "journey.remove"
)

// AuditPage is GET /v1/audit.
type AuditPage struct {
	Entries []store.AuditEntry `json:"entries"`
	// Next is the value of ?after= for the next page; "" when this page
	// reaches the newest entry.
	Next string `json:"next,omitempty"`
}

const defaultAuditPage = 100

// auditTargetMember and auditTargetJourney name an entry's target by id
// or name only, never by anything personal.
func auditTargetMember(id string) string { return "member:" + id }

// memberIDPattern is the envelope's id rule (events/schemas/envelope.json
// $defs.id): every member id a storefront can create matches it.
var memberIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

const memberIDRule = "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"

func auditTargetJourney(name string) string { return "journey:" + name }

// IdempotencyKeyHeader names the header that makes an operator's request
// safe to retry: an adjustment applies once, an audited action is
// logged once.
const IdempotencyKeyHeader = "Idempotency-Key"

// idempotencyKeyPattern is every Idempotency-Key's rule: the ids' (no
// '#', which separates the parts of the keys built from it).
var idempotencyKeyPattern = memberIDPattern

// idempotencyKey returns the request's Idempotency-Key, "" when it has
// none; ok is false when the key breaks the rule and the request has
// been answered 400 naming the header. Every route that takes the
// header reads it here.
func idempotencyKey(w http.ResponseWriter, r *http.Request) (key string, ok bool) {
	key = r.Header.Get(IdempotencyKeyHeader)
	if key != "" && !idempotencyKeyPattern.MatchString(key) {
		httpx.WriteError(w, http.StatusBadRequest, IdempotencyKeyHeader+": header "+memberIDRule)
		return "", false
	}
	return key, true
}

// audited runs act, an operator action on target, behind its audit
// entry. Every operator route goes through it, after checking its input
// (a request refused as malformed asked for nothing and is not audited).
//
// Why the entry is written first: an audit log must not miss an action,
// and a write after the action that only logs its own failure would.
// So the entry (outcome "requested") is appended before act runs, and
// when it cannot be, act does not run and the answer is 500. When act
// then answers 4xx or 5xx, a second entry with outcome "failed" and the
// status follows; should that one fail to be written, it is logged, and
// the log errs on the safe side: it shows an action asked for that did
// not take effect, never an effect without an entry. (One transaction
// with the action would be exact, but the actions are several writes —
// a ledger commit, a journey state and workflow signals — and they do
// not share one.)
//
// A retried request is audited once: the entry's key is the request's
// Idempotency-Key scoped by action and target, so the replay's append is
// a duplicate and act runs (and answers as the action's own idempotency
// decides) without a second entry; so is a repeated failure. A request
// without the header is a new entry each time.
//
// A key reused for another request — an entry of the same action and
// target whose detail differs — is refused 409 naming the key, and act
// does not run.
func (h *Handler) audited(w http.ResponseWriter, r *http.Request, action, target string, detail map[string]string, act func(w http.ResponseWriter)) {
	idem, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	// The log is append-only and erasure never touches it: a member id
	// that is not one (an email pasted into the field) must not reach it.
	for _, part := range strings.Split(target, "/") {
		if id, ok := strings.CutPrefix(part, "member:"); ok && !memberIDPattern.MatchString(id) {
			httpx.WriteError(w, http.StatusBadRequest, "member_id: "+memberIDRule)
			return
		}
	}
	e := store.AuditEntry{
		At: h.now(), Action: action, Target: target, Token: TokenID(r.Context()),
		Outcome: store.OutcomeRequested, Detail: detail,
	}
	if idem != "" {
		e.Key = action + "#" + target + "#" + idem
	}
	switch first, err := h.Store.AppendAudit(r.Context(), e); {
	case errors.Is(err, store.ErrDuplicate) && !maps.Equal(first.Detail, detail):
		httpx.WriteError(w, http.StatusConflict, fmt.Sprintf("%s: %s was used before for a different %s of %s; use a new key for a new request",
			IdempotencyKeyHeader, idem, action, target))
		return
	case err != nil && !errors.Is(err, store.ErrDuplicate):
		httpx.Fail(w, r, h.Log, fmt.Errorf("audit %s of %s: %w", action, target, err))
		return
	}
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	act(rec)
	if rec.status < 400 {
		return
	}
	e.Outcome, e.Status, e.At = store.OutcomeFailed, rec.status, h.now()
	if e.Key != "" {
		e.Key += "#failed"
	}
	if _, err := h.Store.AppendAudit(r.Context(), e); err != nil && !errors.Is(err, store.ErrDuplicate) {
		h.Log.ErrorContext(r.Context(), "audit of a failed action not written; its requested entry stands", "action", action, "target", target, "status", rec.status, "err", err)
	}
}

// statusWriter remembers the status an action answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// getAudit serves GET /v1/audit?since=&limit=&after=: entries oldest
// first, from since (RFC 3339, inclusive; the beginning when absent), at
// most limit (1 to 500, default 100) per page. The answer's next, given
// back as ?after= with the same since, reads the following page; it is
// absent on the page that reaches the newest entry. Oldest first so a
// reader that keeps the last cursor can poll for what is new.
func (h *Handler) getAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			httpx.WriteError(w, http.StatusBadRequest, "since: must be an RFC 3339 time such as 2026-12-01T00:00:00Z")
			return
		}
		since = t
	}
	limit := defaultAuditPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditPage {
			httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("limit: must be a whole number from 1 to %d", store.MaxAuditPage))
			return
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" && store.CheckAuditPage(after, 1) != nil {
		httpx.WriteError(w, http.StatusBadRequest, "after: must be the next of a previous page")
		return
	}
	entries, next, err := h.Store.ListAudit(r.Context(), since, after, limit)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	httpx.WriteJSON(w, http.StatusOK, AuditPage{Entries: entries, Next: next})
}
