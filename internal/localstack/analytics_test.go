package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/cost"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/opcount"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
	"github.com/memberflow/memberflow/internal/testenv/shopseed"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// Sizes of the measured refresh: a shop of analyticsMembers members whose
// pages of analyticsPage make two or three pages per shard.
const (
	analyticsMembers = 1200
	analyticsPage    = 30
)

// TestAnalyticsRefresh runs the nightly refresh on the local stack over a
// simulated shop whose members and ledgers were made by the code dispatch
// runs: the analytics-refresh schedule's run scores every member (the
// API's member document shows it), stores the model the API reports, and
// its member.segment_changed events reach dispatch through the table's
// stream; the at_risk_rescue example enrols none of the first night's
// moves (all from ""), and a move from a real segment into at_risk does
// enrol (the two-refresh path is workflows' TestAnalyticsRefreshToAtRiskRescue). It measures what the run cost — DynamoDB calls and capacity
// units per member (as DynamoDB Local reports them), Temporal actions per
// page from the real histories, members a second — and works out a
// refresh of 1M members from them (README, Cost model). With
// -update-history it writes the runs' histories for the replay test.
func TestAnalyticsRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts Temporal and DynamoDB Local")
	}
	set := shippedJourneys(t)
	src, err := fs.ReadFile(templates.Journeys, "journeys/examples/at_risk_rescue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set["at_risk_rescue"] = string(src)
	s := startWith(t, localstack.Config{OutboxDir: t.TempDir(), LogDir: t.TempDir(), Journeys: journeyFiles(set),
		Analytics: workflows.AnalyticsSchedule{At: "03:00", Input: workflows.AnalyticsRefreshInput{PageSize: analyticsPage}}})
	t.Cleanup(s.Stop)
	ctx := context.Background()

	// Two years of orders ending yesterday.
	now := time.Now().UTC()
	shop := shopfix.Simulate(29, shopfix.Shop, analyticsMembers, "shop", now.AddDate(0, 0, -721), 720)
	seedShop(t, s, shop)

	runRefresh := func(t *testing.T) (workflows.AnalyticsRefreshResult, client.WorkflowRun, time.Duration) {
		t.Helper()
		began := time.Now()
		run, err := s.RunSchedule(ctx, workflows.AnalyticsScheduleID)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		var res workflows.AnalyticsRefreshResult
		if err := run.Get(wctx, &res); err != nil {
			t.Fatal(err)
		}
		return res, run, time.Since(began)
	}
	res, run, _ := runRefresh(t)
	if res.Version != 1 || res.Refused != "" || res.Members != analyticsMembers || res.Report.Scored != analyticsMembers || res.Written != analyticsMembers || res.Recorded != analyticsMembers {
		t.Fatalf("refresh = %+v", res)
	}
	if *updateHistory {
		dir := filepath.Join(repoRoot(t), "workflows", "testdata")
		writeHistory(t, s.Temporal, run.GetID(), filepath.Join(dir, "analytics_refresh.json"))
		writeHistory(t, s.Temporal, run.GetID()+"/collect/00", filepath.Join(dir, "analytics_shard_collect.json"))
		writeHistory(t, s.Temporal, run.GetID()+"/score/00", filepath.Join(dir, "analytics_shard_score.json"))
	}

	t.Run("scores on the member document", func(t *testing.T) {
		var doc struct {
			RFM *struct {
				R, F, M int
				Segment string
			} `json:"rfm"`
			PAlive    *float64 `json:"p_alive"`
			Expected  *float64 `json:"expected_orders_90d"`
			CLV       string   `json:"clv_12m"`
			Analytics struct {
				ModelVersion int    `json:"model_version"`
				Currency     string `json:"currency"`
			} `json:"analytics"`
		}
		r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/"+shop[0].ID, "Bearer "+token))
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil || r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if doc.RFM == nil || doc.RFM.Segment == "" || doc.PAlive == nil || doc.Expected == nil || doc.CLV == "" || doc.Analytics.ModelVersion != 1 || doc.Analytics.Currency != "CNY" {
			t.Errorf("member document = %s", r.body)
		}
	})

	t.Run("the API reports the model and the segments", func(t *testing.T) {
		r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/analytics/model", "Bearer "+token))
		if r.status != http.StatusOK || !strings.Contains(r.body, `"converged": true`) || !strings.Contains(r.body, fmt.Sprintf(`"customers": %d`, analyticsMembers)) {
			t.Errorf("model: %d %s", r.status, r.body)
		}
		r = do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/analytics/rfm", "Bearer "+token))
		if r.status != http.StatusOK || !strings.Contains(r.body, fmt.Sprintf(`"scored": %d`, analyticsMembers)) {
			t.Errorf("rfm: %d %s", r.status, r.body)
		}
	})

	t.Run("first-night moves from \"\" enrol nobody in at_risk_rescue", func(t *testing.T) {
		// Every buyer moved from "" on the first refresh: the example
		// leaves those moves alone (no coupon blast to everyone already
		// quiet). Once dispatch has handled them, nobody is enrolled.
		waitQuiet(t)
		quiet := 0
		for _, c := range shop {
			m, err := s.Activities.Store.GetMember(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if seg := m.Segment(); seg != "at_risk" && seg != "cant_lose" {
				continue
			}
			quiet++
			enrs, err := s.Activities.Store.ListEnrollments(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if hasJourney(enrs, "at_risk_rescue") {
				t.Errorf("%s enrolled in at_risk_rescue on a first scoring", c.ID)
			}
		}
		if quiet == 0 {
			t.Fatal("nobody at_risk or cant_lose: the test proves nothing")
		}
		t.Logf("%d of %d members at_risk or cant_lose after the first refresh, none enrolled", quiet, analyticsMembers)
	})

	// What a refresh costs, measured on a second run once dispatch and
	// the enrollments are done: the same members scored again by a new
	// model version, and (the same day, the same orders) no segment
	// moving, so no event and nothing else running.
	waitQuiet(t)
	before, beforeCap := opcount.Snapshot(), opcount.CapacitySnapshot()
	again, run2, elapsed := runRefresh(t)
	after, afterCap := opcount.Snapshot(), opcount.CapacitySnapshot()
	if again.Version != 2 || again.Written != analyticsMembers || again.Recorded != 0 {
		t.Fatalf("second refresh = %+v, want version 2 rewriting every member and no move", again)
	}
	parent := history(t, s.Temporal, run2.GetID(), run2.GetRunID())
	actions := cost.Count(parent, cost.Options{})
	pageActs, pages := 0, 0
	var pageTime time.Duration
	for _, pass := range []string{workflows.PassCollect, workflows.PassScore} {
		for shard := range store.MemberShards {
			h := history(t, s.Temporal, fmt.Sprintf("%s/%s/%02d", run2.GetID(), pass, shard), "")
			a := cost.Count(h, cost.Options{})
			actions = actions.Add(a)
			pageActs += a.Total()
			d, n := activityTime(h)
			pageTime += d
			pages += n
		}
	}
	calls := map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 && strings.HasPrefix(k, "dynamodb.") {
			calls[strings.TrimPrefix(k, "dynamodb.")] = d
		}
	}
	var reads, writes float64
	units := map[string]float64{}
	for k, v := range afterCap {
		if d := v - beforeCap[k]; d != 0 {
			units[strings.TrimPrefix(k, "dynamodb.")] = d
			if strings.HasSuffix(k, ".read") {
				reads += d
			} else {
				writes += d
			}
		}
	}
	// A segment move adds its event: one conditional write, measured.
	// The move is from a real segment, so it reaches at_risk_rescue
	// through the table's stream (checked below), for a member in no
	// journey yet.
	mover := ""
	for _, c := range shop {
		enrs, err := s.Activities.Store.ListEnrollments(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(enrs) == 0 {
			mover = c.ID
			break
		}
	}
	if mover == "" {
		t.Fatal("every member is in a journey; none to move")
	}
	evBefore := opcount.CapacitySnapshot()
	env, err := events.NewInternal(events.MemberSegmentChanged, "rfm:99:"+mover, mover, time.Now(), events.MemberSegmentChangedData{From: "loyal", To: "at_risk"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Activities.Store.PutEvents(ctx, []store.RecordedEvent{{Source: events.InternalSource, ID: env.ID, Type: string(env.Type), MemberID: env.MemberID,
		OccurredAt: env.OccurredAt, ReceivedAt: time.Now(), Payload: env.Raw, Digest: env.Digest}}); err != nil {
		t.Fatal(err)
	}
	perEvent := opcount.CapacitySnapshot()["dynamodb.PutItem.write"] - evBefore["dynamodb.PutItem.write"]
	waitFor(t, "the moved member's at_risk_rescue enrollment", 2*time.Minute, func() bool {
		enrs, err := s.Activities.Store.ListEnrollments(ctx, mover)
		if err != nil {
			t.Fatal(err)
		}
		return hasJourney(enrs, "at_risk_rescue")
	})

	n := float64(analyticsMembers)
	fixed := actions.Total() - pageActs
	perPage := float64(pageActs) / float64(pages)
	t.Logf("second refresh of %d members in %s (%d page activities of up to %d members, %.0f members a second, mean page %s)",
		analyticsMembers, elapsed.Round(time.Millisecond), pages, analyticsPage, n/elapsed.Seconds(), (pageTime / time.Duration(max(pages, 1))).Round(time.Millisecond))
	t.Logf("DynamoDB calls: %v", calls)
	t.Logf("DynamoDB units by operation: %v", units)
	t.Logf("DynamoDB units: %.1f read (%.3f a member), %.1f write (%.3f a member); %.1f write units a segment move (its event)", reads, reads/n, writes, writes/n, perEvent)
	t.Logf("Temporal actions: %d (%s): %d for %d page activities (%.2f a page), %d whatever the size", actions.Total(), actions, pageActs, pages, perPage, fixed)
	const million = 1_000_000
	pages1M := 2 * math.Ceil(million/float64(store.MemberShards)/workflows.DefaultAnalyticsPageSize) * store.MemberShards
	t.Logf("1M members in pages of %d: %.0f read units, %.0f write units + %.0f a member moving, %.0f Temporal actions; %.0f minutes at the rate measured here",
		workflows.DefaultAnalyticsPageSize, reads/n*million, writes/n*million, perEvent, float64(fixed)+pages1M*perPage, million/(n/elapsed.Seconds())/60)
}

// waitQuiet waits until the stack's DynamoDB calls stop for a few
// seconds: the stream's records dispatched and the journeys' steps done.
func waitQuiet(t *testing.T) {
	t.Helper()
	dynamo := func() map[string]int64 {
		out := map[string]int64{}
		for k, v := range opcount.Snapshot() {
			if strings.HasPrefix(k, "dynamodb.") {
				out[k] = v
			}
		}
		return out
	}
	last, still := dynamo(), 0
	waitFor(t, "the stack to go quiet", 3*time.Minute, func() bool {
		time.Sleep(time.Second)
		now := dynamo()
		if maps.Equal(now, last) {
			still++
		} else {
			still = 0
		}
		last = now
		return still >= 4
	})
}

// hasJourney reports whether enrs holds an enrollment in journey.
func hasJourney(enrs []loyalty.Enrollment, journey string) bool {
	return slices.ContainsFunc(enrs, func(e loyalty.Enrollment) bool { return e.Journey == journey })
}

// activityTime sums the time the history's activities took, from start to
// completion, and counts them.
func activityTime(h []*historypb.HistoryEvent) (time.Duration, int) {
	started := map[int64]time.Time{}
	var total time.Duration
	n := 0
	for _, ev := range h {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			started[ev.GetEventId()] = ev.GetEventTime().AsTime()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if at, ok := started[ev.GetActivityTaskCompletedEventAttributes().GetStartedEventId()]; ok {
				total += ev.GetEventTime().AsTime().Sub(at)
				n++
			}
		}
	}
	return total, n
}

// seedShop makes the shop's members (registered with consent) and
// ledgers as dispatch does (shopseed).
func seedShop(t *testing.T, s *localstack.Stack, shop []shopfix.Customer) {
	t.Helper()
	shopseed.Seed(t, s.Activities.Store, s.Activities.Ledger, shop, func(c shopfix.Customer) map[string]any {
		return registration(t, c.ID, c.Orders[0].At.Add(-time.Hour), true, "Asia/Shanghai", "")
	})
}
