package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
)

// TestAnalyticsRoutes: before a refresh completed both routes answer 404
// saying so; afterwards they show the stored model and its report, and
// the member document carries the scores.
func TestAnalyticsRoutes(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	ldg := ledgerfix.Service(t, st)
	tokens, _ := api.NewTokens("s3cret")
	h := (&api.Handler{Store: st, Ledger: ldg, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes()

	for _, path := range []string{"/v1/analytics/model", "/v1/analytics/rfm"} {
		rec := do(h, http.MethodGet, path, "", nil)
		if got := decode[httpx.ErrorBody](t, rec); rec.Code != http.StatusNotFound || !strings.Contains(got.Error, "no analytics model yet") {
			t.Errorf("%s before any refresh: %d %s, want 404 saying there is no model yet", path, rec.Code, rec.Body)
		}
	}

	// What a refresh stores: a fit over a simulated shop, every member's
	// scores, the report.
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	shop := shopfix.Simulate(13, shopfix.Shop, 300, "m", start, 720)
	asOf := analytics.DayOf(start) + 719
	var recs []scoring.Record
	for _, c := range shop {
		ledgerfix.Member(t, st, c.ID)
		var txs []analytics.Transaction
		for _, o := range c.Orders {
			txs = append(txs, analytics.Transaction{Day: analytics.DayOf(o.At), Amount: o.Amount})
		}
		recs = append(recs, scoring.NewRecord(loyalty.Member{ID: c.ID}, txs, asOf, 365))
	}
	ledgerfix.Member(t, st, "unscored")
	fit, err := scoring.FitSample(recs, asOf, 365, scoring.DefaultScoreOptions)
	if err != nil {
		t.Fatal(err)
	}
	fit.Members, fit.Customers, fit.Currency = 301, 300, "CNY"
	fitted := time.Date(2025, 12, 21, 19, 0, 41, 0, time.UTC)
	m, _, err := st.CreateAnalyticsModel(ctx, store.AnalyticsModel{Run: "run-1", FittedAt: fitted, Fit: fit})
	if err != nil {
		t.Fatal(err)
	}
	var rep scoring.Report
	for _, r := range recs {
		s, err := m.Score(r, m.Version, ldg.Rules.Program.RFM)
		if err != nil {
			t.Fatal(err)
		}
		rep.Count(s, true, false)
		if err := st.SetMemberScores(ctx, r.MemberID, m.Version, s); err != nil {
			t.Fatal(err)
		}
	}
	// A segment the programme has since dropped still shows.
	rep.Segments["retired_segment"] = 2
	if err := st.CompleteAnalyticsModel(ctx, m.Version, rep, fitted.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}

	rec := do(h, http.MethodGet, "/v1/analytics/model", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("model: %d %s", rec.Code, rec.Body)
	}
	got := decode[api.AnalyticsModel](t, rec)
	bg, gg := fit.Model.BGNBD, fit.Model.GammaGamma
	if got.Version != 1 || got.AsOf != asOf.String() || got.Period != "day" || !got.FittedAt.Equal(fitted) || !got.CompletedAt.Equal(fitted.Add(4*time.Minute)) ||
		got.Members != 301 || got.Customers != 300 || got.SampleSize != 300 || got.Sampled || !got.Converged ||
		got.BGNBD.Params != (api.BGNBD{R: bg.Params.R, Alpha: bg.Params.Alpha, A: bg.Params.A, B: bg.Params.B}) ||
		got.BGNBD.StdErr.Alpha != bg.StdErr.Alpha || got.BGNBD.LogLikelihood != bg.Fit.LogLikelihood || got.BGNBD.Customers != 300 || !got.BGNBD.Converged ||
		got.GammaGamma.Params != (api.Gamma{P: gg.Params.P, Q: gg.Params.Q, V: gg.Params.V}) || got.GammaGamma.StdErr.V != gg.StdErr.V ||
		got.Scoring != (api.AnalyticsScoring{HorizonDays: 90, CLVMonths: 12, MonthlyDiscount: 0.01, Currency: "CNY"}) {
		t.Errorf("model = %s", rec.Body)
	}

	rec = do(h, http.MethodGet, "/v1/analytics/rfm", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("rfm: %d %s", rec.Code, rec.Body)
	}
	rfm := decode[api.AnalyticsRFM](t, rec)
	segs := ldg.Rules.Program.RFM.Segments
	if len(rfm.Segments) != len(segs)+1 || rfm.Segments[len(segs)] != (api.SegmentSize{Code: "retired_segment", Name: "retired_segment", Members: 2}) {
		t.Fatalf("segments = %+v", rfm.Segments)
	}
	total := 0
	for i, s := range segs {
		if got := rfm.Segments[i]; got.Code != s.Code || got.Name != s.Name || got.Members != rep.Segments[s.Code] {
			t.Errorf("segment %d = %+v, want %s %q with %d", i, got, s.Code, s.Name, rep.Segments[s.Code])
		}
		total += rfm.Segments[i].Members
	}
	cells := 0
	for _, row := range rfm.Grid {
		for _, n := range row {
			cells += n
		}
	}
	if rfm.Version != 1 || rfm.AsOf != asOf.String() || rfm.WindowDays != 365 || rfm.Scored != 300 || rfm.Changed != 300 || total != 300 || cells != 300 ||
		rfm.Grid != rep.Grid || rfm.Quintiles.Customers != fit.Quintiles.Customers || rfm.Quintiles.RecencyDays != fit.Quintiles.Recency {
		t.Errorf("rfm = %s", rec.Body)
	}
	// The JSON the console charts read: grid rows are recency scores.
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if g, ok := raw["grid"].([]any); !ok || len(g) != 5 || len(g[0].([]any)) != 5 {
		t.Errorf("grid = %v, want a 5×5 array", raw["grid"])
	}

	// The member document carries the scores; an unscored member has none.
	rec = do(h, http.MethodGet, "/v1/members/"+shop[0].ID, "", nil)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("member: %d %s", rec.Code, rec.Body)
	}
	scored, err := st.GetMember(ctx, shop[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	s := scored.Scores
	wantRFM := map[string]any{"r": float64(s.RFM.R), "f": float64(s.RFM.F), "m": float64(s.RFM.M), "segment": s.RFM.Segment}
	if got, _ := json.Marshal(doc["rfm"]); string(got) != mustJSON(t, wantRFM) || doc["p_alive"] != s.PAlive || doc["expected_orders_90d"] != s.ExpectedOrders90d ||
		doc["clv_12m"] != s.CLV12m.String() || mustJSON(t, doc["analytics"]) != mustJSON(t, map[string]any{"model_version": 1, "as_of": asOf.String(), "currency": "CNY"}) {
		t.Errorf("member document = %s", rec.Body)
	}
	rec = do(h, http.MethodGet, "/v1/members/unscored", "", nil)
	if strings.Contains(rec.Body.String(), `"rfm"`) || strings.Contains(rec.Body.String(), `"p_alive"`) || strings.Contains(rec.Body.String(), `"clv_12m"`) {
		t.Errorf("an unscored member shows scores: %s", rec.Body)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
