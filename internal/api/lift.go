package api

import (
	"errors"
	"net/http"

	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/store"
)

// DefaultLiftWindow is the window of GET /v1/journeys/{name}/lift when
// the request names none.
const DefaultLiftWindow = "30d"

// JourneyLift is GET /v1/journeys/{name}/lift?window=30d: the journey's
// treated and held-out members, what each did within the window after
// enrolling, the lift with its 95% interval and a verdict, and the same
// for each split path (journeys.LiftReport).
type JourneyLift = journeys.LiftReport

// getJourneyLift reads the journey's lift counters (one query of its
// lift partition) and computes the report; nothing is scanned.
func (h *Handler) getJourneyLift(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !validJourneyName.MatchString(name) {
		httpx.WriteError(w, http.StatusBadRequest, badJourneyName)
		return
	}
	window := DefaultLiftWindow
	if q := r.URL.Query(); q.Has("window") {
		window = q.Get("window")
	}
	days, err := journeys.ParseWindow(window)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	st, err := h.Store.GetJourney(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, http.StatusNotFound, "journey "+name+" not found")
		return
	}
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	cohorts, err := h.Store.LiftCohorts(ctx, name)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	// The live version names the split paths (where each goes, its
	// weight); a journey never published has none.
	var live *journey.Definition
	if st.Live > 0 {
		v, err := h.Store.GetJourneyVersion(ctx, name, st.Live)
		if err != nil {
			httpx.Fail(w, r, h.Log, err)
			return
		}
		live = &v.Definition
	}
	currency := ""
	if h.Ledger != nil && h.Ledger.Rules != nil && h.Ledger.Rules.Program != nil {
		currency = h.Ledger.Rules.Program.Currency
	}
	httpx.WriteJSON(w, http.StatusOK, journeys.BuildLiftReport(name, cohorts, live, days, h.now(), currency))
}
