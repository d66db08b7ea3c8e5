package api

import (
	"errors"
	"net/http"
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

// JourneyStats is GET /v1/journeys/{name}/stats: the per-step counts of
// sends, and the journey's enrollments — started, in flight, goals
// reached, ended by reason — and how many members went along each edge
// between steps.
type JourneyStats struct {
	Journey     string           `json:"journey"`
	Steps       []StepStats      `json:"steps"`
	Enrolled    int64            `json:"enrolled"`
	Active      int64            `json:"active"`
	GoalReached int64            `json:"goal_reached"`
	Exited      map[string]int64 `json:"exited"`
	Edges       []EdgeStats      `json:"edges"`
	// Days are the last StatsDays UTC days, oldest first, today last.
	Days []DaySent `json:"days"`
}

// StatsDays is how many UTC days, today included, JourneyStats.Days covers.
const StatsDays = 30

// DaySent is how many of the journey's sends went on one UTC day.
type DaySent struct {
	Day  string `json:"day"` // YYYY-MM-DD
	Sent int64  `json:"sent"`
}

// EdgeStats counts the members who went from step From to step To ("end"
// when the step ended the enrollment).
type EdgeStats struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int64  `json:"count"`
}

// The counter keys' prefixes, from the store's own key functions so the
// two cannot drift apart.
var (
	exitedPrefix = store.CountExited("")
	edgePrefix   = strings.TrimSuffix(store.CountEdge("", ""), ">")
)

func (h *Handler) getJourneyStats(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !validJourneyName.MatchString(name) {
		httpx.WriteError(w, http.StatusBadRequest, badJourneyName)
		return
	}
	if _, err := h.Store.GetJourney(r.Context(), name); errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, http.StatusNotFound, "journey "+name+" not found")
		return
	} else if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	raw, err := h.Store.JourneyStats(r.Context(), name)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	counters, err := h.Store.JourneyCounters(r.Context(), name)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	now := h.now().UTC()
	sent, err := h.Store.JourneySentDays(r.Context(), name, now.AddDate(0, 0, 1-StatsDays), now)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	out := JourneyStats{Journey: name, Steps: make([]StepStats, 0, len(raw)), Days: make([]DaySent, 0, StatsDays),
		Enrolled: counters[store.CountEnrolled], Active: store.JourneyActive(counters), GoalReached: counters[store.CountGoal],
		Exited: map[string]int64{}, Edges: []EdgeStats{}}
	for _, s := range raw {
		out.Steps = append(out.Steps, stepStats(s))
	}
	sort.Slice(out.Steps, func(i, j int) bool { return out.Steps[i].Step < out.Steps[j].Step })
	for k, v := range counters {
		if reason, ok := strings.CutPrefix(k, exitedPrefix); ok {
			out.Exited[reason] = v
		}
		if edge, ok := strings.CutPrefix(k, edgePrefix); ok {
			if from, to, ok := strings.Cut(edge, ">"); ok {
				out.Edges = append(out.Edges, EdgeStats{From: from, To: to, Count: v})
			}
		}
	}
	for i := StatsDays - 1; i >= 0; i-- {
		day := store.SentDay(now.AddDate(0, 0, -i))
		out.Days = append(out.Days, DaySent{Day: day, Sent: sent[day]})
	}
	sort.Slice(out.Edges, func(i, j int) bool {
		a, b := out.Edges[i], out.Edges[j]
		return a.From < b.From || (a.From == b.From && a.To < b.To)
	})
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
