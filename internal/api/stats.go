package api

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/store"
)

// StepStats is one journey step in GET /v1/journeys/{name}/stats. Provider
// events count sends, not events: a send opened five times is one opened.
type StepStats struct {
	Step         string           `json:"step"`
	Sent         int64            `json:"sent"`
	Skipped      map[string]int64 `json:"skipped"` // by reason, e.g. no_consent, suppressed
	Delivered    int64            `json:"delivered"`
	Opened       int64            `json:"opened"`
	Clicked      int64            `json:"clicked"`
	Bounced      int64            `json:"bounced"`
	Dropped      int64            `json:"dropped"`
	SpamReports  int64            `json:"spam_reports"`
	Unsubscribed int64            `json:"unsubscribed"` // unsubscribe and group_unsubscribe
	Conversions  int64            `json:"conversions"`  // an order within 7 days of a click
}

// JourneyStats is GET /v1/journeys/{name}/stats.
type JourneyStats struct {
	Journey string      `json:"journey"`
	Steps   []StepStats `json:"steps"`
}

var journeyName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func (h *Handler) getJourneyStats(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !journeyName.MatchString(name) {
		httpx.WriteError(w, http.StatusBadRequest, "name: must be a journey name (lower-case letters, digits and '_', starting with a letter)")
		return
	}
	if !slices.Contains(h.Journeys, name) {
		httpx.WriteError(w, http.StatusNotFound, "journey "+name+" not found")
		return
	}
	raw, err := h.Store.JourneyStats(r.Context(), name)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	out := JourneyStats{Journey: name, Steps: make([]StepStats, 0, len(raw))}
	for _, s := range raw {
		out.Steps = append(out.Steps, stepStats(s))
	}
	sort.Slice(out.Steps, func(i, j int) bool { return out.Steps[i].Step < out.Steps[j].Step })
	httpx.WriteJSON(w, http.StatusOK, out)
}

func stepStats(s store.StepStats) StepStats {
	c := s.Counts
	st := StepStats{
		Step: s.Step, Sent: c[store.StatsSent], Skipped: map[string]int64{},
		Delivered: c[store.EventDelivered], Opened: c[store.EventOpen], Clicked: c[store.EventClick],
		Bounced: c[store.EventBounce], Dropped: c[store.EventDropped], SpamReports: c[store.EventSpamReport],
		Unsubscribed: c[store.EventUnsubscribe] + c[store.EventGroupUnsubscribe],
		Conversions:  c[store.StatsConversion],
	}
	for k, v := range c {
		if code, ok := strings.CutPrefix(k, "skipped:"); ok {
			st.Skipped[code] = v
		}
	}
	return st
}
