package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
)

// refreshShop is a store with 300 simulated buyers and its ledger.
func refreshShop(t *testing.T, st *memstore.Store) *ledger.Service {
	t.Helper()
	ldg := ledgerfix.Service(t, st)
	shop := shopfix.Simulate(21, shopfix.Shop, 300, "m", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 720)
	ledgerfix.Shop(t, st, ldg, shop)
	return ldg
}

// refresh runs one whole refresh as the workflow does, page by page, and
// returns the model version and the summed result. tamper, when set,
// changes each stored page after the fit, before it is scored.
func refresh(t *testing.T, a *activities.Activities, run string, at time.Time, sample int, tamper func(*store.AnalyticsPage)) (int, activities.AnalyticsScoreResult) {
	t.Helper()
	ctx := context.Background()
	pages := make([]int, store.MemberShards)
	members := 0
	for shard := range store.MemberShards {
		res, err := a.CollectAnalyticsPage(ctx, activities.AnalyticsCollectRequest{Run: run, At: at, Shard: shard, PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Done {
			t.Fatalf("shard %d: more than one page", shard)
		}
		if res.Stored {
			pages[shard] = 1
		}
		members += res.Members
	}
	fit, err := a.FitAnalyticsModel(ctx, activities.AnalyticsFitRequest{Run: run, At: at, Pages: pages, Members: members, SampleSize: sample})
	if err != nil || fit.Refused != "" {
		t.Fatalf("fit = %+v, %v", fit, err)
	}
	var total activities.AnalyticsScoreResult
	for shard, n := range pages {
		if n == 0 {
			continue
		}
		if tamper != nil {
			pg, err := a.Store.GetAnalyticsPage(ctx, shard, 0)
			if err != nil {
				t.Fatal(err)
			}
			tamper(&pg)
			if err := a.Store.PutAnalyticsPage(ctx, pg); err != nil {
				t.Fatal(err)
			}
		}
		res, err := a.ScoreAnalyticsPage(ctx, activities.AnalyticsScoreRequest{Run: run, At: at, Version: fit.Version, Shard: shard})
		if err != nil {
			t.Fatal(err)
		}
		total.Report.Add(res.Report)
		total.Written += res.Written
		total.Recorded += res.Recorded
	}
	if err := a.CompleteAnalyticsRefresh(ctx, activities.AnalyticsCompleteRequest{Version: fit.Version, Report: total.Report}); err != nil {
		t.Fatal(err)
	}
	return fit.Version, total
}

// scoresFirst is a store that checks, as each segment change event is
// recorded, that the member's scores of the event's model version are
// written already: dispatch routes the event over the member as stored.
type scoresFirst struct {
	*memstore.Store
	t       *testing.T
	version int
	checked atomic.Int64
}

func (s *scoresFirst) PutEvents(ctx context.Context, evs []store.RecordedEvent) (store.PutEventsResult, error) {
	for _, ev := range evs {
		if ev.Type != string(events.MemberSegmentChanged) {
			continue
		}
		m, err := s.GetMember(ctx, ev.MemberID)
		if err != nil {
			s.t.Fatal(err)
		}
		var env events.Envelope
		if err := json.Unmarshal(ev.Payload, &env); err != nil {
			s.t.Fatal(err)
		}
		data, err := env.DecodeData()
		if err != nil {
			s.t.Fatal(err)
		}
		if to := data.(*events.MemberSegmentChangedData).To; to != "" && (m.ScoredBy() != s.version || m.Segment() != to) {
			s.t.Errorf("event %s recorded while %s has scores of version %d, segment %q; want version %d, %q",
				ev.ID, ev.MemberID, m.ScoredBy(), m.Segment(), s.version, to)
		}
		s.checked.Add(1)
	}
	return s.Store.PutEvents(ctx, evs)
}

// TestAnalyticsScoresBeforeSegmentEvents: a member.segment_changed event
// is recorded only once the member's new scores are written, so a journey
// condition evaluated on it reads tonight's scores, not last night's.
func TestAnalyticsScoresBeforeSegmentEvents(t *testing.T) {
	mem := memstore.New()
	ldg := refreshShop(t, mem)
	st := &scoresFirst{Store: mem, t: t, version: 1}
	at := time.Date(2025, 12, 21, 19, 0, 0, 0, time.UTC)
	a := &activities.Activities{Store: st, Ledger: ldg, Now: func() time.Time { return at }}
	if v, res := refresh(t, a, "run-1", at, 0, nil); v != 1 || res.Recorded != 300 || st.checked.Load() != 300 {
		t.Fatalf("version %d, %+v, %d events checked; want version 1 and 300 events", v, res, st.checked.Load())
	}
}

// TestAnalyticsSameDataSameSegments: two refreshes (different runs) over
// identical data, fitted on a sample of half the customers, move nobody:
// the sample does not change with the run.
func TestAnalyticsSameDataSameSegments(t *testing.T) {
	st := memstore.New()
	ldg := refreshShop(t, st)
	at := time.Date(2025, 12, 21, 19, 0, 0, 0, time.UTC)
	a := &activities.Activities{Store: st, Ledger: ldg, Now: func() time.Time { return at }}
	_, first := refresh(t, a, "run-1", at, 150, nil)
	if first.Report.Changed != 300 {
		t.Fatalf("first refresh: %+v, want 300 first scorings", first.Report)
	}
	_, second := refresh(t, a, "run-2", at, 150, nil)
	if second.Report.Changed != 0 || second.Recorded != 0 || second.Report.Scored != 300 {
		t.Errorf("second refresh over the same data: %+v, %d events; want 300 scored and no move", second.Report, second.Recorded)
	}
}

// TestAnalyticsErasedMembers: an erased member's scores are taken once,
// without a segment event, and the next refresh leaves them out.
func TestAnalyticsErasedMembers(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	ldg := refreshShop(t, st)
	at := time.Date(2025, 12, 21, 19, 0, 0, 0, time.UTC)
	a := &activities.Activities{Store: st, Ledger: ldg, Now: func() time.Time { return at }}
	refresh(t, a, "run-1", at, 0, nil)
	members, err := st.MembersPage(ctx, 0, "", 1)
	if err != nil || len(members) != 1 || members[0].Scores == nil {
		t.Fatalf("a scored member: %+v, %v", members, err)
	}
	gone := members[0].ID
	if _, err := st.EraseMember(ctx, gone, at); err != nil {
		t.Fatal(err)
	}
	v, res := refresh(t, a, "run-2", at.AddDate(0, 0, 1), 0, nil)
	m, _ := st.GetMember(ctx, gone)
	if m.Scores != nil || res.Report.Cleared != 1 || res.Report.Scored != 299 {
		t.Errorf("erased member's scores %+v; refresh %+v; want cleared, 299 scored", m.Scores, res.Report)
	}
	if _, err := st.GetEvent(ctx, events.InternalSource, fmt.Sprintf("rfm:%d:%s", v, gone)); err == nil {
		t.Errorf("an erased member got a segment event")
	}
	_, res = refresh(t, a, "run-3", at.AddDate(0, 0, 2), 0, nil)
	if res.Report.Cleared != 0 || res.Report.Scored != 299 {
		t.Errorf("next refresh: %+v; want the erased member left out", res.Report)
	}
}

// TestAnalyticsScoreFailureSkipsMember: a member the model cannot score
// keeps their previous scores and is counted; the others are scored.
func TestAnalyticsScoreFailureSkipsMember(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	ldg := refreshShop(t, st)
	at := time.Date(2025, 12, 21, 19, 0, 0, 0, time.UTC)
	a := &activities.Activities{Store: st, Ledger: ldg, Now: func() time.Time { return at }}
	refresh(t, a, "run-1", at, 0, nil)
	bad := ""
	// One record the models cannot score: a frequency so far below zero
	// that its expected spend has no finite value.
	_, res := refresh(t, a, "run-2", at.AddDate(0, 0, 1), 0, func(p *store.AnalyticsPage) {
		if bad != "" {
			return
		}
		for i, r := range p.Records {
			if r.Buyer && r.X > 0 {
				bad = r.MemberID
				p.Records[i].X = -1_000_000
				return
			}
		}
	})
	if bad == "" {
		t.Fatal("no repeat buyer to break")
	}
	m, _ := st.GetMember(ctx, bad)
	if res.Report.Failed != 1 || res.Report.Scored != 299 || m.ScoredBy() != 1 {
		t.Errorf("refresh %+v; the failed member scored by version %d; want 1 failed, 299 scored, previous scores kept", res.Report, m.ScoredBy())
	}
}
