package api

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/store"
)

// noModel is the answer of the analytics routes before the first refresh
// completed: a state to show, not a failure.
const noModel = "no analytics model yet: the nightly analytics-refresh has not completed a refresh (a refresh whose fit is refused keeps the previous model, and there is none)"

// AnalyticsModel is GET /v1/analytics/model: the current fitted model, as
// the last completed nightly refresh stored it.
type AnalyticsModel struct {
	Version     int       `json:"version"`
	FittedAt    time.Time `json:"fitted_at"`
	CompletedAt time.Time `json:"completed_at"`
	// AsOf is the day members were scored as of, the models'
	// calibration end (YYYY-MM-DD, programme time zone).
	AsOf   string           `json:"as_of"`
	Period analytics.Period `json:"period"`
	// Members were read; Customers of them had a purchase; SampleSize
	// of those the models were fitted on (Sampled: a random sample).
	Members    int  `json:"members"`
	Customers  int  `json:"customers"`
	SampleSize int  `json:"sample_size"`
	Sampled    bool `json:"sampled"`
	// Converged is true: a fit that does not converge is never stored.
	Converged  bool             `json:"converged"`
	BGNBD      ModelFit[BGNBD]  `json:"bgnbd"`
	GammaGamma ModelFit[Gamma]  `json:"gamma_gamma"`
	Scoring    AnalyticsScoring `json:"scoring"`
}

// ModelFit is one fitted model: its parameters, their standard errors and
// how the maximum-likelihood fit went.
type ModelFit[P any] struct {
	Params        P       `json:"params"`
	StdErr        P       `json:"std_err"`
	LogLikelihood float64 `json:"log_likelihood"`
	Customers     int     `json:"customers"`
	Converged     bool    `json:"converged"`
	Iterations    int     `json:"iterations"`
	GradientNorm  float64 `json:"gradient_norm"`
}

// BGNBD are the BG/NBD parameters (α per day).
type BGNBD struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
}

// Gamma are the Gamma-Gamma parameters.
type Gamma struct {
	P float64 `json:"p"`
	Q float64 `json:"q"`
	V float64 `json:"v"`
}

// AnalyticsScoring is what the member scores look ahead to.
type AnalyticsScoring struct {
	HorizonDays     float64 `json:"horizon_days"`
	CLVMonths       int     `json:"clv_months"`
	MonthlyDiscount float64 `json:"monthly_discount"`
	Currency        string  `json:"currency"`
}

// AnalyticsRFM is GET /v1/analytics/rfm: how the members the current
// model scored fall into the programme's segments and the R × F grid.
type AnalyticsRFM struct {
	Version    int    `json:"version"`
	AsOf       string `json:"as_of"`
	WindowDays int    `json:"window_days"`
	// Scored counts the members with scores; Changed those whose
	// segment moved in that refresh (a first scoring included).
	Scored  int `json:"scored"`
	Changed int `json:"changed"`
	// Segments are the programme's, in its order, each with its member
	// count (0 included); a segment the programme no longer has that
	// still holds members comes last, named by its code.
	Segments []SegmentSize `json:"segments"`
	// Grid counts the scored members by recency and frequency score:
	// Grid[r-1][f-1] members have R = r and F = f (rows recency 1..5,
	// columns frequency 1..5, 5 best).
	Grid      [5][5]int    `json:"grid"`
	Quintiles RFMQuintiles `json:"quintiles"`
}

// SegmentSize is one segment and how many members are in it.
type SegmentSize struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Members int    `json:"members"`
}

// RFMQuintiles are the breakpoints the scores were given by: a member
// scores 1 plus the number of breakpoints they beat (fewer days since the
// last purchase, more purchase days, more spent in the window).
type RFMQuintiles struct {
	// Customers is the population the breakpoints were taken over.
	Customers   int                `json:"customers"`
	RecencyDays [4]int             `json:"recency_days"`
	Frequency   [4]int             `json:"frequency"`
	Monetary    [4]decimal.Decimal `json:"monetary"`
}

// currentModel reads the current model, answering 404 (noModel) or 500
// itself when there is none to give.
func (h *Handler) currentModel(w http.ResponseWriter, r *http.Request) (store.AnalyticsModel, bool) {
	m, err := h.Store.CurrentAnalyticsModel(r.Context())
	if errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, http.StatusNotFound, noModel)
		return m, false
	}
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return m, false
	}
	return m, true
}

func (h *Handler) getAnalyticsModel(w http.ResponseWriter, r *http.Request) {
	m, ok := h.currentModel(w, r)
	if !ok {
		return
	}
	bg, gg := m.Model.BGNBD, m.Model.GammaGamma
	httpx.WriteJSON(w, http.StatusOK, AnalyticsModel{
		Version: m.Version, FittedAt: m.FittedAt, CompletedAt: m.CompletedAt, AsOf: m.AsOf.String(), Period: m.Model.Period,
		Members: m.Members, Customers: m.Customers, SampleSize: m.Sample, Sampled: m.Sampled, Converged: true,
		BGNBD: ModelFit[BGNBD]{
			Params:        BGNBD{R: bg.Params.R, Alpha: bg.Params.Alpha, A: bg.Params.A, B: bg.Params.B},
			StdErr:        BGNBD{R: bg.StdErr.R, Alpha: bg.StdErr.Alpha, A: bg.StdErr.A, B: bg.StdErr.B},
			LogLikelihood: bg.Fit.LogLikelihood, Customers: bg.Fit.Customers, Converged: true, Iterations: bg.Fit.Iterations, GradientNorm: bg.Fit.GradientNorm,
		},
		GammaGamma: ModelFit[Gamma]{
			Params:        Gamma{P: gg.Params.P, Q: gg.Params.Q, V: gg.Params.V},
			StdErr:        Gamma{P: gg.StdErr.P, Q: gg.StdErr.Q, V: gg.StdErr.V},
			LogLikelihood: gg.Fit.LogLikelihood, Customers: gg.Fit.Customers, Converged: true, Iterations: gg.Fit.Iterations, GradientNorm: gg.Fit.GradientNorm,
		},
		Scoring: AnalyticsScoring{HorizonDays: m.Options.HorizonDays, CLVMonths: m.Options.CLVMonths, MonthlyDiscount: m.Options.MonthlyDiscount, Currency: m.Currency},
	})
}

func (h *Handler) getAnalyticsRFM(w http.ResponseWriter, r *http.Request) {
	m, ok := h.currentModel(w, r)
	if !ok {
		return
	}
	q := m.Quintiles
	out := AnalyticsRFM{Version: m.Version, AsOf: m.AsOf.String(), WindowDays: q.WindowDays, Segments: []SegmentSize{},
		Quintiles: RFMQuintiles{Customers: q.Customers, RecencyDays: q.Recency, Frequency: q.Frequency, Monetary: q.Monetary}}
	counts := map[string]int{}
	if rep := m.Report; rep != nil {
		out.Scored, out.Changed, out.Grid = rep.Scored, rep.Changed, rep.Grid
		for k, v := range rep.Segments {
			counts[k] = v
		}
	}
	for _, s := range h.Ledger.Rules.Program.RFM.Segments {
		out.Segments = append(out.Segments, SegmentSize{Code: s.Code, Name: s.Name, Members: counts[s.Code]})
		delete(counts, s.Code)
	}
	for _, code := range sortedCodes(counts) {
		out.Segments = append(out.Segments, SegmentSize{Code: code, Name: code, Members: counts[code]})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// sortedCodes returns the keys of counts with members, in order.
func sortedCodes(counts map[string]int) []string {
	var out []string
	for k, v := range counts {
		if v > 0 {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
