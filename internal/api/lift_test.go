package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/journeyfix"
)

func TestJourneyLift(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	start := time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)
	fix := journeyfix.New(t, st, start)
	fix.PublishShipped(t)
	d := decimal.RequireFromString
	count := func(member, key string, arm loyalty.Arm, day string, members int64, after int, o store.LiftOutcome) {
		t.Helper()
		if err := st.CountLift(ctx, store.LiftCount{Journey: "activation", MemberID: member, Key: key,
			Cells: []store.LiftCell{{Arm: arm, Day: day}}, Members: members, Day: after, Outcome: o}); err != nil {
			t.Fatal(err)
		}
	}
	// 40 treated members on 09-01, 8 of whom order (and reach the goal)
	// within 30 days with the journey's coupon; 10 held out, 1 converts.
	for i := range 40 {
		m := fmt.Sprintf("t%d", i)
		count(m, m+"#enrolled", loyalty.ArmTreated, "2026-09-01", 1, 0, store.LiftOutcome{})
		if i < 8 {
			count(m, m+"#order", loyalty.ArmTreated, "2026-09-01", 0, 4, store.LiftOutcome{Goals: 1, Orders: 1, Revenue: d("108"), Coupons: 1, CouponCost: d("8")})
		}
	}
	for i := range 10 {
		m := fmt.Sprintf("h%d", i)
		count(m, m+"#enrolled", loyalty.ArmHoldout, "2026-09-01", 1, 0, store.LiftOutcome{})
		if i == 0 {
			count(m, m+"#order", loyalty.ArmHoldout, "2026-09-01", 0, 12, store.LiftOutcome{Goals: 1, Orders: 1, Revenue: d("120")})
		}
	}
	// Enrolled too recently for a 30-day window.
	count("late", "late#enrolled", loyalty.ArmTreated, "2026-10-20", 1, 0, store.LiftOutcome{})

	tokens, _ := api.NewTokens("s3cret")
	now := time.Date(2026, 10, 25, 8, 0, 0, 0, time.UTC)
	h := (&api.Handler{Store: st, Ledger: fix.Ledger, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now }}).Routes()

	rec := do(h, http.MethodGet, "/v1/journeys/activation/lift?window=30d", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	got := decode[api.JourneyLift](t, rec)
	if got.Journey != "activation" || got.Window != "30d" || got.WindowDays != 30 || got.Currency != "CNY" || got.Control != "holdout" ||
		got.CohortsThrough != "2026-09-01" || got.PendingMembers != 1 || !got.AsOf.Equal(now) {
		t.Errorf("header = %+v", got)
	}
	tr, ho := got.Arms[loyalty.ArmTreated], got.Arms[loyalty.ArmHoldout]
	if tr.Members != 40 || tr.Conversions != 8 || tr.ConversionRate != 0.2 || !tr.Revenue.Equal(d("864")) || !tr.RewardCost.Equal(d("64")) || tr.CouponsRedeemed != 8 ||
		ho.Members != 10 || ho.Conversions != 1 || !ho.RevenuePerMember.Equal(d("12")) {
		t.Errorf("arms = %+v", got.Arms)
	}
	if _, ok := got.Arms[loyalty.ArmProgrammeHoldout]; !ok {
		t.Error("the programme holdout arm is missing (it must be present, empty)")
	}
	// 20% against 10%: +10 points; 864 − 120·4 = 384 incremental
	// revenue; ROI (384 − 64)/64 = 5. 8/40 − 1/10 is far from telling.
	l := got.Lift
	if l == nil || l.ConversionLift < 0.0999 || l.ConversionLift > 0.1001 || !l.IncrementalRevenue.Equal(d("384")) || l.ROI == nil || *l.ROI != 5 ||
		l.CI95 == nil || l.CI95[0] >= 0 || l.Verdict.Status != "not_yet" {
		t.Errorf("lift = %+v", l)
	}
	if len(got.Splits) != 0 {
		t.Errorf("activation has no split: %+v", got.Splits)
	}
	// The JSON names every field the console draws.
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"journey", "window", "window_days", "as_of", "currency", "cohorts_through", "pending_members", "control", "arms", "lift", "splits"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("the answer lacks %q: %s", k, rec.Body)
		}
	}
	lift := raw["lift"].(map[string]any)
	for _, k := range []string{"treated", "control", "conversion_lift", "relative_lift", "ci95", "incremental_conversions", "incremental_revenue", "incremental_reward_cost", "roi", "verdict"} {
		if _, ok := lift[k]; !ok {
			t.Errorf("lift lacks %q", k)
		}
	}
	if v := lift["incremental_revenue"]; v != "384" {
		t.Errorf("money is a decimal string: incremental_revenue = %#v", v)
	}

	// The window: default 30d; a shorter one sums fewer days (the
	// holdout's order on day 12 is outside 7 days).
	if rec := do(h, http.MethodGet, "/v1/journeys/activation/lift", "", nil); rec.Code != http.StatusOK || decode[api.JourneyLift](t, rec).Window != "30d" {
		t.Errorf("no window: %d %s", rec.Code, rec.Body)
	}
	rec = do(h, http.MethodGet, "/v1/journeys/activation/lift?window=7d", "", nil)
	if w7 := decode[api.JourneyLift](t, rec); w7.Arms[loyalty.ArmHoldout].Conversions != 0 || w7.Arms[loyalty.ArmTreated].Conversions != 8 || w7.PendingMembers != 1 {
		t.Errorf("7 days: %+v", w7.Arms)
	}
	for _, bad := range []string{"0d", "91d", "30", "4w", "", "1.5d"} {
		rec := do(h, http.MethodGet, "/v1/journeys/activation/lift?window="+bad, "", nil)
		if e := decode[httpx.ErrorBody](t, rec); rec.Code != http.StatusBadRequest || e.Error != "window: must be whole days from 1d to 90d, like 30d" {
			t.Errorf("window %q: %d %s", bad, rec.Code, rec.Body)
		}
	}
	rec = do(h, http.MethodGet, "/v1/journeys/nope/lift", "", nil)
	if e := decode[httpx.ErrorBody](t, rec); rec.Code != http.StatusNotFound || e.Error != "journey nope not found" {
		t.Errorf("unknown journey: %d %s", rec.Code, rec.Body)
	}
	if rec := do(h, http.MethodGet, "/v1/journeys/Bad-Name/lift", "", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("bad name: %d", rec.Code)
	}
	// A journey with nothing counted yet answers with empty arms and no lift.
	rec = do(h, http.MethodGet, "/v1/journeys/birthday/lift", "", nil)
	if e := decode[api.JourneyLift](t, rec); rec.Code != http.StatusOK || e.Lift != nil || e.Control != "" || e.Arms[loyalty.ArmTreated].Members != 0 || e.Splits == nil {
		t.Errorf("birthday: %d %s", rec.Code, rec.Body)
	}
	if rec := get(h, "/v1/journeys/activation/lift", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", rec.Code)
	}
}
