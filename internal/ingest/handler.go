// Package ingest is the webhook endpoint storefronts post events to
// (POST /v1/events). It verifies the source's HMAC signature, validates every
// event against its schema and records the batch once, answering fast:
// everything slow happens downstream of the table's stream.
package ingest

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/store"
)

// MaxBodyBytes bounds a request body: 100 events of a few KB each, well under
// API Gateway's 10 MB and Lambda's 6 MB payload limits.
const MaxBodyBytes = 1 << 20

// Handler serves POST /v1/events.
type Handler struct {
	Store   store.Events
	Secrets map[string][]byte // webhook secret per source name
	Log     *slog.Logger
	Now     func() time.Time // nil means time.Now
}

// Accepted is the 202 answer: the ids recorded now and those recorded before.
type Accepted struct {
	IDs        []string `json:"ids"`
	Duplicates []string `json:"duplicates,omitempty"`
}

// Duplicate is the 200 answer when every event of the request was recorded before.
type Duplicate struct {
	Duplicate bool     `json:"duplicate"`
	IDs       []string `json:"ids"`
}

// ValidationFailed is the 400 answer naming every bad field and its rule.
type ValidationFailed struct {
	Error    string           `json:"error"`
	Problems []events.Problem `json:"problems"`
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := httpx.ReadPost(w, r, MaxBodyBytes)
	if !ok {
		return
	}

	// Authenticate before parsing: unsigned input is never looked at.
	source := r.Header.Get(HeaderSource)
	secret, ok := h.Secrets[source]
	if source == "" || !ok {
		h.Log.WarnContext(r.Context(), "webhook rejected", "reason", "unknown source")
		httpx.WriteError(w, http.StatusUnauthorized, HeaderSource+" header must name a configured source")
		return
	}
	received := h.now()
	if err := Verify(secret, r.Header.Get(HeaderSignature), body, received); err != nil {
		h.Log.WarnContext(r.Context(), "webhook rejected", "source", source, "reason", err.Error())
		httpx.WriteError(w, http.StatusUnauthorized, err.Error())
		return
	}

	evs, err := events.ParseBatch(body)
	if err != nil {
		var ve *events.ValidationError
		if errors.As(err, &ve) {
			httpx.WriteJSON(w, http.StatusBadRequest, ValidationFailed{Error: "invalid events; nothing was recorded", Problems: ve.Problems})
			return
		}
		httpx.Fail(w, r, h.Log, err)
		return
	}

	recs := make([]store.RecordedEvent, len(evs))
	for i, e := range evs {
		recs[i] = store.RecordedEvent{
			Source: source, ID: e.ID, Type: string(e.Type), MemberID: e.MemberID,
			OccurredAt: e.OccurredAt, ReceivedAt: received, Payload: e.Raw,
		}
	}
	res, err := h.Store.PutEvents(r.Context(), recs)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	h.Log.InfoContext(r.Context(), "events recorded", "source", source, "accepted", len(res.Accepted), "duplicates", len(res.Duplicates))
	if len(res.Accepted) == 0 {
		httpx.WriteJSON(w, http.StatusOK, Duplicate{Duplicate: true, IDs: res.Duplicates})
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, Accepted{IDs: res.Accepted, Duplicates: res.Duplicates})
}
