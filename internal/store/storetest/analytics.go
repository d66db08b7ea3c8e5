package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/store"
)

// fullScores are scores with every field set, made by model version.
func fullScores(version int) *loyalty.Scores {
	return &loyalty.Scores{
		RFM: loyalty.RFMScores{R: 2, F: 4, M: 5, Segment: "at_risk"}, PAlive: 0.2137, ExpectedOrders90d: 0.4521,
		CLV12m:    decimal.RequireFromString("412.57"),
		Analytics: loyalty.ScoresInfo{ModelVersion: version, AsOf: "2026-03-13", Currency: "CNY"},
	}
}

func runAnalytics(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("pages", func(t *testing.T) {
		s, run := newStore(t), uniqueID("run")
		// The page partitions are shared by every run: numbers of our own.
		shard, first := rand.IntN(store.MemberShards), 10_000_000+rand.IntN(80_000_000)
		recs := []scoring.Record{
			{MemberID: "a", Buyer: true, X: 2, TX: 40.5, T: 100, MX: decimal.RequireFromString("19.99"), Recency: 60, Frequency: 3, Monetary: decimal.RequireFromString("59.97"), Segment: "loyal", ScoredBy: 2},
			{MemberID: "b", Segment: "lost", ScoredBy: 2},
		}
		for i := range 3 {
			if err := s.PutAnalyticsPage(t.Context(), store.AnalyticsPage{Run: run, Shard: shard, Page: first + i, Records: recs[:i%2+1]}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetAnalyticsPage(t.Context(), shard, first+1)
		if err != nil {
			t.Fatal(err)
		}
		checkEqual(t, "page", got, store.AnalyticsPage{Run: run, Shard: shard, Page: first + 1, Records: recs})
		// A page is replaced whole (a retry, or the next run).
		other := uniqueID("run")
		if err := s.PutAnalyticsPage(t.Context(), store.AnalyticsPage{Run: other, Shard: shard, Page: first + 1, Records: recs[1:]}); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListAnalyticsPages(t.Context(), shard, first, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Page != first+1 || list[0].Run != other || len(list[0].Records) != 1 || list[1].Page != first+2 || list[1].Run != run {
			t.Errorf("pages after %d = %+v", first, list)
		}
		if one, err := s.ListAnalyticsPages(t.Context(), shard, first-1, 1); err != nil || len(one) != 1 || one[0].Page != first {
			t.Errorf("one page from %d = %+v, %v", first, one, err)
		}
		if _, err := s.GetAnalyticsPage(t.Context(), shard, first+3); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("absent page: %v, want ErrNotFound", err)
		}
		big := make([]scoring.Record, store.MaxAnalyticsPageRecords+1)
		if err := s.PutAnalyticsPage(t.Context(), store.AnalyticsPage{Run: run, Shard: shard, Page: first + 4, Records: big}); err == nil {
			t.Error("a page over the limit was stored")
		}
		if err := s.PutAnalyticsPage(t.Context(), store.AnalyticsPage{Run: run, Shard: store.MemberShards, Page: first}); err == nil {
			t.Error("a page of a shard that does not exist was stored")
		}
	})

	t.Run("models", func(t *testing.T) {
		s := newStore(t)
		d := decimal.RequireFromString
		fit := scoring.Fit{AsOf: analytics.DayFromDate(2026, 3, 13), Members: 10, Customers: 8, Sample: 8, Currency: "CNY",
			Quintiles: analytics.RFMQuintiles{AsOf: analytics.DayFromDate(2026, 3, 13), WindowDays: 365, Customers: 8,
				Recency: [4]int{200, 120, 60, 20}, Frequency: [4]int{1, 1, 2, 4}, Monetary: [4]decimal.Decimal{d("20"), d("45.5"), d("80"), d("150")}},
			Options: scoring.DefaultScoreOptions,
			Model: analytics.Model{Period: analytics.PeriodDay, CalibrationEnd: analytics.DayFromDate(2026, 3, 13),
				BGNBD: analytics.BGNBD{Params: analytics.BGNBDParams{R: 0.24, Alpha: 4.41, A: 0.79, B: 2.43}, Fit: analytics.FitReport{LogLikelihood: -9582.43, Customers: 8}}}}
		runA, runB := uniqueID("run"), uniqueID("run")
		a, created, err := s.CreateAnalyticsModel(t.Context(), store.AnalyticsModel{Run: runA, FittedAt: base, Fit: fit})
		if err != nil || !created || a.Version < 1 {
			t.Fatalf("create = %+v, %v, %v", a.Version, created, err)
		}
		again, created, err := s.CreateAnalyticsModel(t.Context(), store.AnalyticsModel{Run: runA, FittedAt: base.Add(time.Minute), Fit: fit})
		if err != nil || created || again.Version != a.Version || !again.FittedAt.Equal(base) {
			t.Fatalf("a retried create = v%d created %v (%v), want v%d as first stored", again.Version, created, err, a.Version)
		}
		b, created, err := s.CreateAnalyticsModel(t.Context(), store.AnalyticsModel{Run: runB, FittedAt: base.Add(time.Hour), Fit: fit})
		if err != nil || !created || b.Version != a.Version+1 {
			t.Fatalf("next run's create = v%d created %v (%v), want v%d", b.Version, created, err, a.Version+1)
		}
		got, err := s.GetAnalyticsModel(t.Context(), a.Version)
		if err != nil {
			t.Fatal(err)
		}
		checkEqual(t, "model", got, store.AnalyticsModel{Version: a.Version, Run: runA, FittedAt: base, Fit: fit})
		if _, err := s.GetAnalyticsModel(t.Context(), b.Version+1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("absent version: %v", err)
		}

		rep := scoring.Report{Scored: 8, Segments: map[string]int{"loyal": 5, "lost": 3}, Changed: 8}
		rep.Grid[4][3], rep.Grid[0][0] = 5, 3
		if err := s.CompleteAnalyticsModel(t.Context(), b.Version, rep, base.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		cur, err := s.CurrentAnalyticsModel(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := b
		want.Report, want.CompletedAt = &rep, base.Add(2*time.Hour)
		checkEqual(t, "current", cur, want)
		// Completing an earlier version records its report, and the
		// later one stays current; completing again changes nothing.
		if err := s.CompleteAnalyticsModel(t.Context(), a.Version, scoring.Report{Scored: 1}, base.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteAnalyticsModel(t.Context(), b.Version, scoring.Report{Scored: 99}, base.Add(4*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if cur, err := s.CurrentAnalyticsModel(t.Context()); err != nil || cur.Version != b.Version || cur.Report.Scored != 8 {
			t.Errorf("current after completing an earlier one = v%d %+v (%v)", cur.Version, cur.Report, err)
		}
		if old, err := s.GetAnalyticsModel(t.Context(), a.Version); err != nil || old.Report == nil || old.Report.Scored != 1 {
			t.Errorf("earlier version's report = %+v (%v)", old.Report, err)
		}
		if err := s.CompleteAnalyticsModel(t.Context(), b.Version+1, rep, base); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("completing a version that does not exist: %v", err)
		}
	})

	t.Run("member scores", func(t *testing.T) {
		s := newStore(t)
		m := fullMember(uniqueID("m"))
		m.Scores = nil
		if err := s.SetMemberScores(t.Context(), m.ID, 3, fullScores(3)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("scores of a member without a profile: %v, want ErrNotFound", err)
		}
		saveMember(t, s, m, "e1")
		if err := s.SetMemberScores(t.Context(), m.ID, 3, fullScores(4)); err == nil {
			t.Error("scores of model 4 written as model 3")
		}
		if err := s.SetMemberScores(t.Context(), m.ID, 3, nil); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("taking scores the member does not have: %v, want ErrDuplicate", err)
		}
		if err := s.SetMemberScores(t.Context(), m.ID, 3, fullScores(3)); err != nil {
			t.Fatal(err)
		}
		want := m
		want.Scores, want.Version = fullScores(3), 2
		checkEqual(t, "scored member", getMember(t, s, m.ID), want)
		for _, v := range []int{3, 2} {
			if err := s.SetMemberScores(t.Context(), m.ID, v, fullScores(v)); !errors.Is(err, store.ErrDuplicate) {
				t.Errorf("scores of model %d over model 3's: %v, want ErrDuplicate", v, err)
			}
		}
		checkEqual(t, "member after retries", getMember(t, s, m.ID), want)

		// The projection saves what it read: the scores stay, and a save
		// from before the scores were written loses the race.
		stale := m
		stale.Version, stale.Name = 2, "stale"
		if err := s.SaveMember(t.Context(), stale, "e2"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("save from before the scores: %v, want ErrConflict", err)
		}
		cur := getMember(t, s, m.ID)
		cur.Version++
		cur.Name = "Ada King"
		saveMember(t, s, cur, "e3")
		if got := getMember(t, s, m.ID); got.Scores == nil || got.Scores.Analytics.ModelVersion != 3 || got.Name != "Ada King" {
			t.Errorf("after a projection save: %+v", got)
		}
		found := false
		for after := ""; ; {
			page, err := s.MembersPage(t.Context(), store.MemberShard(m.ID), after, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page {
				if p.ID == m.ID {
					found = true
					checkEqual(t, "scores in the member index", p.Scores, fullScores(3))
				}
			}
			if len(page) < 100 || found {
				break
			}
			after = page[len(page)-1].ID
		}
		if !found {
			t.Error("member not in the member index")
		}
		if mm, _, err := s.MemberAndAccount(t.Context(), m.ID); err != nil || fmt.Sprint(mm.Scores) != fmt.Sprint(fullScores(3)) {
			t.Errorf("MemberAndAccount scores = %+v (%v)", mm.Scores, err)
		}

		if err := s.SetMemberScores(t.Context(), m.ID, 5, nil); err != nil {
			t.Fatal(err)
		}
		if got := getMember(t, s, m.ID); got.Scores != nil || got.Version != 4 {
			t.Errorf("after taking the scores: %+v at version %d", got.Scores, got.Version)
		}
		if err := s.SetMemberScores(t.Context(), m.ID, 5, nil); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("taking them again: %v, want ErrDuplicate", err)
		}
	})
}
