package activities_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
)

// TestAnalyticsPagesAreRetrySafe runs each page activity of a refresh
// twice, as Temporal would after a lost result: the second attempt writes
// the same page, records no event again and writes no score again.
func TestAnalyticsPagesAreRetrySafe(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	ldg := ledgerfix.Service(t, st)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	shop := shopfix.Simulate(21, shopfix.Shop, 300, "m", start, 720)
	ledgerfix.Shop(t, st, ldg, shop)
	ledgerfix.Member(t, st, "window-shopper")
	// A member scored by an earlier model whose only order was refunded
	// since: their scores go, with a move to "".
	ledgerfix.Member(t, st, "refunded")
	ledgerfix.PayByCard(t, ldg, "refunded", "o1", "80.00", start.AddDate(1, 0, 0))
	ledgerfix.Refund(t, ldg, "refunded", "o1", "r1", "80.00", start.AddDate(1, 0, 2))
	old := &loyalty.Scores{RFM: loyalty.RFMScores{R: 3, F: 1, M: 2, Segment: "about_to_sleep"}, Analytics: loyalty.ScoresInfo{ModelVersion: 1}}
	if err := st.SetMemberScores(ctx, "refunded", 1, old); err != nil {
		t.Fatal(err)
	}
	// Model 1 belongs to an earlier run.
	if _, _, err := st.CreateAnalyticsModel(ctx, store.AnalyticsModel{Run: "earlier"}); err != nil {
		t.Fatal(err)
	}

	at := time.Date(2025, 12, 21, 19, 0, 0, 0, time.UTC)
	a := &activities.Activities{Store: st, Ledger: ldg, Now: func() time.Time { return at }}
	run := "run-1"
	pages := make([]int, store.MemberShards)
	members := 0
	for shard := range store.MemberShards {
		req := activities.AnalyticsCollectRequest{Run: run, At: at, Shard: shard, PageSize: 1000}
		first, err := a.CollectAnalyticsPage(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := st.GetAnalyticsPage(ctx, shard, 0)
		if err != nil {
			t.Fatalf("shard %d: %v", shard, err)
		}
		again, err := a.CollectAnalyticsPage(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		restored, _ := st.GetAnalyticsPage(ctx, shard, 0)
		if first != again || fmt.Sprint(stored) != fmt.Sprint(restored) || !first.Done || !first.Stored || first.Kept != len(stored.Records) {
			t.Errorf("shard %d: %+v then %+v; page of %d records", shard, first, again, len(stored.Records))
		}
		pages[shard] = 1
		members += first.Members
	}
	if members != 302 {
		t.Fatalf("%d members read, want 302", members)
	}

	fit, err := a.FitAnalyticsModel(ctx, activities.AnalyticsFitRequest{Run: run, At: at, Pages: pages, Members: members})
	if err != nil || fit.Refused != "" || fit.Version != 2 || fit.Customers != 300 {
		t.Fatalf("fit = %+v, %v; want version 2 over 300 customers", fit, err)
	}
	if again, err := a.FitAnalyticsModel(ctx, activities.AnalyticsFitRequest{Run: run, At: at, Pages: pages, Members: members}); err != nil || again.Version != 2 {
		t.Errorf("a retried fit = %+v, %v; want the same version 2", again, err)
	}

	var total activities.AnalyticsScoreResult
	for shard := range store.MemberShards {
		req := activities.AnalyticsScoreRequest{Run: run, At: at, Version: fit.Version, Shard: shard}
		first, err := a.ScoreAnalyticsPage(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := a.ScoreAnalyticsPage(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if again.Written != 0 || again.Recorded != 0 || fmt.Sprint(again.Report) != fmt.Sprint(first.Report) {
			t.Errorf("shard %d retried: %+v after %+v; want the same report and nothing written", shard, again, first)
		}
		total.Report.Add(first.Report)
		total.Written += first.Written
		total.Recorded += first.Recorded
	}
	if total.Report.Scored != 300 || total.Written != 301 || total.Recorded != 301 || total.Report.Cleared != 1 {
		t.Errorf("scoring = %+v; want 300 scored, 301 written and recorded (one cleared)", total)
	}
	m, err := st.GetMember(ctx, "refunded")
	if err != nil {
		t.Fatal(err)
	}
	if m.Scores != nil {
		t.Errorf("a member without a purchase kept scores %+v", m.Scores)
	}
	ev, err := st.GetEvent(ctx, events.InternalSource, scoring.EventID(2, "refunded"))
	if err != nil || !strings.Contains(string(ev.Payload), `"from":"about_to_sleep","to":""`) {
		t.Errorf("event of the cleared member = %s, %v", ev.Payload, err)
	}
	if w, err := st.GetMember(ctx, "window-shopper"); err != nil || w.Scores != nil || w.Version != 1 {
		t.Errorf("a member who never bought: %+v (%v), want untouched", w, err)
	}

	// Another run took the page numbers meanwhile: the page is not this
	// run's, and retrying cannot help.
	if err := st.PutAnalyticsPage(ctx, store.AnalyticsPage{Run: "run-2", Shard: 0, Page: 0}); err != nil {
		t.Fatal(err)
	}
	_, err = a.ScoreAnalyticsPage(ctx, activities.AnalyticsScoreRequest{Run: run, At: at, Version: fit.Version, Shard: 0})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() || !strings.Contains(err.Error(), "another refresh") {
		t.Errorf("scoring another run's page: %v, want a non-retryable error", err)
	}
}
