package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/store"
)

// bearerID is the fingerprint the audit must name for the token
// "s3cret": sha256: and the first 4 bytes of its hash, in hex.
func bearerID() string {
	sum := sha256.Sum256([]byte("s3cret"))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// auditLog reads the whole log through GET /v1/audit.
func auditLog(t *testing.T, h http.Handler) []store.AuditEntry {
	t.Helper()
	rec := do(h, http.MethodGet, "/v1/audit?limit=500", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/audit: %d %s", rec.Code, rec.Body)
	}
	page := decode[api.AuditPage](t, rec)
	if page.Next != "" {
		t.Fatalf("next = %q on a log of %d entries", page.Next, len(page.Entries))
	}
	return page.Entries
}

func TestOperatorActionsAudited(t *testing.T) {
	a := newJourneyAPI(t)
	type step struct {
		method, path, body, key string
		status                  int
		action, target          string
	}
	steps := []step{
		{http.MethodPut, "/v1/journeys/paced/draft", pacedSrc, "d1", 200, api.AuditJourneyDraft, "journey:paced"},
		{http.MethodPost, "/v1/journeys", `{"name": "paced"}`, "p1", 201, api.AuditJourneyPublish, "journey:paced"},
		{http.MethodPost, "/v1/journeys", orderedSrc, "p2", 201, api.AuditJourneyPublish, "journey:ordered"},
		{http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-1"}`, "e1", 201, api.AuditJourneyEnroll, "journey:paced/member:m-1"},
		{http.MethodDelete, "/v1/journeys/paced/enrollments/m-1", "", "r1", 200, api.AuditJourneyRemove, "journey:paced/member:m-1"},
		{http.MethodPost, "/v1/journeys/paced/pause", "", "", 200, api.AuditJourneyPause, "journey:paced"},
		{http.MethodPost, "/v1/journeys/paced/resume", "", "", 200, api.AuditJourneyResume, "journey:paced"},
		{http.MethodPost, "/v1/journeys/ordered/archive", "", "", 200, api.AuditJourneyArchive, "journey:ordered"},
		{http.MethodPost, "/v1/members/m-2/adjustments", `{"operator": "Wang Fang", "reason": "goodwill for a late parcel", "points": 150}`, "adj-1", 201, api.AuditAdjustment, "member:m-2"},
	}
	act := func(s step) *http.Response {
		t.Helper()
		hdr := map[string]string{}
		if s.key != "" {
			hdr[api.IdempotencyKeyHeader] = s.key
		}
		rec := do(a.h, s.method, s.path, s.body, hdr)
		return rec.Result()
	}
	for _, s := range steps {
		if got := act(s); got.StatusCode != s.status {
			t.Fatalf("%s %s: %d, want %d", s.method, s.path, got.StatusCode, s.status)
		}
	}
	log := auditLog(t, a.h)
	if len(log) != len(steps) {
		t.Fatalf("audit has %d entries, want %d (one per action): %+v", len(log), len(steps), log)
	}
	for i, s := range steps {
		e := log[i]
		if e.Action != s.action || e.Target != s.target || e.Token != bearerID() || e.Outcome != store.OutcomeRequested || e.At.IsZero() || e.ID == "" {
			t.Errorf("entry %d = %+v, want %s on %s by %s, requested", i, e, s.action, s.target, bearerID())
		}
		if (s.key != "") != strings.HasSuffix(e.Key, "#"+s.key) {
			t.Errorf("entry %d key %q, request key %q", i, e.Key, s.key)
		}
	}
	adj := log[len(log)-1]
	if adj.Detail["points"] != "150" || adj.Detail["reason"] != "goodwill for a late parcel" {
		t.Errorf("adjustment detail = %v", adj.Detail)
	}
	// No PII: the members' emails and names, and the operator's name,
	// are nowhere in the log.
	raw := do(a.h, http.MethodGet, "/v1/audit", "", nil).Body.String()
	for _, pii := range []string{"@example.com", "Lin", "Wang Fang"} {
		if strings.Contains(raw, pii) {
			t.Errorf("audit log holds %q: %s", pii, raw)
		}
	}

	// Replays with the same idempotency key add nothing; the actions
	// answer as their own idempotency decides.
	replays := []struct {
		s      step
		status int
	}{{steps[8], 200}, {steps[3], 200}, {steps[0], 200}}
	for _, r := range replays {
		if got := act(r.s); got.StatusCode != r.status {
			t.Fatalf("replay %s %s: %d, want %d", r.s.method, r.s.path, got.StatusCode, r.status)
		}
	}
	if got := auditLog(t, a.h); len(got) != len(steps) {
		t.Fatalf("after replays the audit has %d entries, want %d", len(got), len(steps))
	}

	// A refused request (no operator) asked for nothing: not audited.
	if got := act(step{method: http.MethodPost, path: "/v1/members/m-2/adjustments", body: `{"reason": "x", "points": 1}`, key: "adj-2"}); got.StatusCode != http.StatusBadRequest {
		t.Fatalf("adjustment without operator: %d, want 400", got.StatusCode)
	}
	// An action that fails is audited with its outcome, once per key.
	pauseTwice := step{http.MethodPost, "/v1/journeys/ordered/pause", "", "pz", 409, api.AuditJourneyPause, "journey:ordered"}
	for range 2 {
		if got := act(pauseTwice); got.StatusCode != http.StatusConflict {
			t.Fatalf("pause of an archived journey: %d, want 409", got.StatusCode)
		}
	}
	log = auditLog(t, a.h)
	if len(log) != len(steps)+2 {
		t.Fatalf("audit has %d entries, want %d (the failed pause: requested and failed)", len(log), len(steps)+2)
	}
	req, failed := log[len(log)-2], log[len(log)-1]
	if req.Outcome != store.OutcomeRequested || failed.Outcome != store.OutcomeFailed || failed.Status != http.StatusConflict ||
		failed.Action != api.AuditJourneyPause || failed.Target != "journey:ordered" || failed.Token != bearerID() {
		t.Errorf("failed pause audited as %+v then %+v", req, failed)
	}
	// Without a key, each request is an entry of its own.
	act(steps[5])
	if got := auditLog(t, a.h); len(got) != len(steps)+3 {
		t.Errorf("a second pause without a key: %d entries, want %d", len(got), len(steps)+3)
	}
	if got := act(step{method: http.MethodPost, path: "/v1/journeys/paced/resume", key: "has space"}); got.StatusCode != http.StatusBadRequest {
		t.Errorf("a malformed Idempotency-Key: %d, want 400", got.StatusCode)
	}
}

func TestAuditedBySession(t *testing.T) {
	c := newConsoleAPI(t, "s3cret")
	cookie, csrf := c.session(t, "s3cret")
	req := httptest.NewRequest(http.MethodPost, "/v1/members/m-1/adjustments", strings.NewReader(`{"operator": "ops", "reason": "r", "points": 5}`))
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	req.Header.Set(api.CSRFHeader, csrf)
	req.Header.Set(api.IdempotencyKeyHeader, "k1")
	if rec := c.do(req); rec.Code != http.StatusNotFound {
		t.Fatalf("adjustment of an unknown member: %d %s, want 404", rec.Code, rec.Body)
	}
	log, _, err := c.h.Store.ListAudit(t.Context(), time.Time{}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	// The console's clock stands still, so both entries have one time,
	// and the log orders entries of one instant in no particular order.
	outcomes := map[string]int{}
	for _, e := range log {
		if e.Token != bearerID() || e.Action != api.AuditAdjustment || e.Target != "member:m-1" {
			t.Errorf("entry %+v, want an adjustment of member:m-1 by %s", e, bearerID())
		}
		outcomes[e.Outcome] = e.Status
	}
	if len(log) != 2 || len(outcomes) != 2 || outcomes[store.OutcomeRequested] != 0 || outcomes[store.OutcomeFailed] != http.StatusNotFound {
		t.Errorf("audit of a session's failed adjustment = %+v, want requested and failed (404)", log)
	}
}

func TestAuditPaging(t *testing.T) {
	a := newJourneyAPI(t)
	t0 := time.Date(2026, 12, 1, 23, 59, 58, 0, time.UTC)
	for i := range 7 {
		e := store.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Action: api.AuditJourneyPause, Target: "journey:paced", Token: bearerID(), Outcome: store.OutcomeRequested}
		if _, err := a.st.AppendAudit(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	since := t0.Add(time.Second).Format(time.RFC3339)
	var got []store.AuditEntry
	after, pages := "", 0
	for {
		q := url.Values{"since": {since}, "limit": {"4"}}
		if after != "" {
			q.Set("after", after)
		}
		rec := do(a.h, http.MethodGet, "/v1/audit?"+q.Encode(), "", nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("page %d: %d %s", pages, rec.Code, rec.Body)
		}
		page := decode[api.AuditPage](t, rec)
		pages++
		got = append(got, page.Entries...)
		if page.Next == "" {
			break
		}
		if len(page.Entries) != 4 {
			t.Fatalf("page %d has %d entries and a next", pages, len(page.Entries))
		}
		after = page.Next
	}
	if pages != 2 || len(got) != 6 {
		t.Fatalf("%d pages, %d entries; want 2 pages of the 6 entries from since", pages, len(got))
	}
	for i, e := range got {
		if want := t0.Add(time.Duration(i+1) * time.Second); !e.At.Equal(want) {
			t.Errorf("entry %d at %s, want %s (oldest first)", i, e.At, want)
		}
	}
}

func TestAuditParams(t *testing.T) {
	a := newJourneyAPI(t)
	for _, tc := range []struct{ query, want string }{
		{"since=yesterday", "since:"},
		{"since=2026-12-01", "since:"},
		{"limit=0", "limit:"},
		{"limit=501", "limit:"},
		{"limit=ten", "limit:"},
		{"after=nope", "after:"},
	} {
		rec := do(a.h, http.MethodGet, "/v1/audit?"+tc.query, "", nil)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("?%s: %d %s, want 400 naming %q", tc.query, rec.Code, rec.Body, tc.want)
		}
	}
	if rec := do(a.h, http.MethodGet, "/v1/audit?since=2026-12-01T08:00:00%2B08:00&limit=500", "", nil); rec.Code != http.StatusOK {
		t.Errorf("valid params: %d %s", rec.Code, rec.Body)
	}
	if rec := get(a.h, "/v1/audit", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", rec.Code)
	}
}

func TestAuditCannotBeChanged(t *testing.T) {
	a := newJourneyAPI(t)
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", pacedSrc)
	before := auditLog(t, a.h)
	if len(before) != 1 {
		t.Fatalf("audit has %d entries, want 1", len(before))
	}
	id := url.PathEscape(before[0].ID)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/v1/audit"},
		{http.MethodPut, "/v1/audit"},
		{http.MethodPatch, "/v1/audit"},
		{http.MethodDelete, "/v1/audit"},
		{http.MethodPatch, "/v1/audit/" + id},
		{http.MethodPut, "/v1/audit/" + id},
		{http.MethodDelete, "/v1/audit/" + id},
	} {
		rec := do(a.h, tc.method, tc.path, `{"action": "nothing"}`, nil)
		if rec.Code != http.StatusMethodNotAllowed && rec.Code != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 405 or 404", tc.method, tc.path, rec.Code)
		}
	}
	after := auditLog(t, a.h)
	if len(after) != 1 || after[0].ID != before[0].ID || after[0].Action != before[0].Action {
		t.Errorf("audit changed: %+v, was %+v", after, before)
	}
}

// The log is append-only and no erasure reaches it: a member "id" that is
// an email (pasted into the wrong field) is refused before anything is
// written, for every action that names a member.
func TestAuditRefusesWhatIsNotAMemberID(t *testing.T) {
	a := newJourneyAPI(t)
	if rec := do(a.h, http.MethodPut, "/v1/journeys/paced/draft", pacedSrc, nil); rec.Code != http.StatusOK {
		t.Fatalf("draft: %d %s", rec.Code, rec.Body)
	}
	if rec := do(a.h, http.MethodPost, "/v1/journeys", `{"name": "paced"}`, nil); rec.Code != http.StatusCreated {
		t.Fatalf("publish: %d %s", rec.Code, rec.Body)
	}
	before := len(auditLog(t, a.h))
	const email = "lin.mei@example.com"
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "` + email + ` "}`},
		{http.MethodDelete, "/v1/journeys/paced/enrollments/" + url.PathEscape(email+" x"), ""},
		{http.MethodPost, "/v1/members/" + url.PathEscape(email+" x") + "/adjustments", `{"operator": "o", "reason": "r", "points": 1}`},
		{http.MethodDelete, "/v1/members/" + url.PathEscape("a#b"), ""},
	} {
		rec := do(a.h, c.method, c.path, c.body, map[string]string{api.IdempotencyKeyHeader: "k-1"})
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "member_id") {
			t.Errorf("%s %s: %d %s, want 400 naming member_id", c.method, c.path, rec.Code, rec.Body)
		}
	}
	log := auditLog(t, a.h)
	if len(log) != before {
		t.Errorf("audit grew from %d to %d entries: %+v", before, len(log), log[before:])
	}
	for _, e := range log {
		if strings.Contains(e.Target, "@") {
			t.Errorf("audit holds %q", e.Target)
		}
	}
}
