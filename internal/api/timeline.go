package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/memberflow/memberflow/internal/httpx"
)

// TimelinePage is GET /v1/members/{id}/timeline: every decision about
// the member, newest first — why they did or did not get something.
type TimelinePage struct {
	MemberID string         `json:"member_id"`
	Entries  []TimelineItem `json:"entries"`
	// Next is the value of ?before= for the next (older) page; "" when
	// this is the last page.
	Next string `json:"next"`
}

// TimelineItem is one decision: enrolled, not_enrolled, branch, wait,
// sent, deferred, skipped, reward_granted, reward_refused, goal_reached,
// exited, held, held_out. Values are the inputs that decided (a CEL
// expression → its value); Until, for a deferral, is when it goes on.
type TimelineItem struct {
	Journey    string         `json:"journey"`
	Version    int            `json:"version"`
	Enrollment int            `json:"enrollment"`
	Step       string         `json:"step"`
	Kind       string         `json:"kind"`
	Reason     string         `json:"reason"`
	Values     map[string]any `json:"values"`
	At         time.Time      `json:"at"`
	Until      time.Time      `json:"until,omitzero"`
}

const (
	defaultTimelinePage = 100
	maxTimelinePage     = 500
	// maxCursorBytes bounds ?before=: a store cursor is a sort key, far
	// shorter.
	maxCursorBytes = 2048
)

// The store's cursor is a sort key holding '#' and ':'; the API hands it
// out as unpadded base64url so it travels in a query string as it is.
var cursorEncoding = base64.RawURLEncoding

func (h *Handler) getTimeline(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	limit, before := defaultTimelinePage, ""
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTimelinePage {
			httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("limit: must be a whole number from 1 to %d", maxTimelinePage))
			return
		}
		limit = n
	}
	if v := r.URL.Query().Get("before"); v != "" {
		b, err := cursorEncoding.DecodeString(v)
		if err != nil || len(b) == 0 || len(b) > maxCursorBytes || !utf8.Valid(b) {
			httpx.WriteError(w, http.StatusBadRequest, "before: must be the next of a previous page, as it was given")
			return
		}
		before = string(b)
	}
	if _, err := h.Store.GetMember(r.Context(), id); err != nil {
		h.memberFail(w, r, id, err)
		return
	}
	entries, next, err := h.Store.ListTimeline(r.Context(), id, limit, before)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	page := TimelinePage{MemberID: id, Entries: make([]TimelineItem, 0, len(entries))}
	if next != "" {
		page.Next = cursorEncoding.EncodeToString([]byte(next))
	}
	for _, e := range entries {
		values := e.Values
		if values == nil {
			values = map[string]any{}
		}
		page.Entries = append(page.Entries, TimelineItem{Journey: e.Journey, Version: e.Version, Enrollment: e.Enrollment, Step: e.Step,
			Kind: e.Kind, Reason: e.Reason, Values: values, At: e.At, Until: e.Until})
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}
