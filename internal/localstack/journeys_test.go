package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/testenv/eventfix"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// timelineEntry is what the tests read of GET /v1/members/{id}/timeline.
type timelineEntry struct {
	Journey    string         `json:"journey"`
	Version    int            `json:"version"`
	Enrollment int            `json:"enrollment"`
	Step       string         `json:"step"`
	Kind       string         `json:"kind"`
	Reason     string         `json:"reason"`
	Values     map[string]any `json:"values"`
	At         time.Time      `json:"at"`
}

// timeline reads the member's decisions in journey, oldest first.
func timeline(t *testing.T, s *localstack.Stack, member, journey string) []timelineEntry {
	t.Helper()
	r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/"+member+"/timeline?limit=500", "Bearer "+token))
	if r.status != http.StatusOK {
		t.Fatalf("timeline of %s: %d %s", member, r.status, r.body)
	}
	var page struct {
		MemberID string          `json:"member_id"`
		Entries  []timelineEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(r.body), &page); err != nil || page.MemberID != member {
		t.Fatalf("timeline of %s: %v %s", member, err, r.body)
	}
	var out []timelineEntry
	for _, e := range slices.Backward(page.Entries) {
		if e.Journey == journey {
			out = append(out, e)
		}
	}
	return out
}

// kinds is the kinds (with the reason, when there is one) of entries.
func kinds(es []timelineEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Kind
		if e.Reason != "" {
			out[i] += ":" + e.Reason
		}
	}
	return out
}

// api sends an authenticated request with a body.
func api(t *testing.T, s *localstack.Stack, method, path, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, req)
}

// TestSVIPUpsellEndToEnd publishes the svip_upsell example through the
// API (its two-day wait for a trial shortened to seconds) and drives it
// with signed webhooks on the dev server: a big spender at V3 who starts
// no trial gets the offer with a FREE25 coupon; one who starts a trial
// leaves at the wait; a small order does not trigger it; a member
// without consent is refused by the audience; a second big order within
// the cooldown enrols nobody. The outbox, the stats and the timeline say
// so.
func TestSVIPUpsellEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts Temporal and DynamoDB Local")
	}
	s := startWith(t, localstack.Config{OutboxDir: t.TempDir(), LogDir: t.TempDir()})
	t.Cleanup(s.Stop)
	src, err := fs.ReadFile(templates.Journeys, "journeys/examples/svip_upsell.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := replace(t, string(src), "timeout: 2d", "timeout: 4s")

	if r := api(t, s, http.MethodPost, "/v1/journeys/validate", def); r.status != http.StatusOK || !strings.Contains(r.body, `"valid": true`) {
		t.Fatalf("validate: %d %s", r.status, r.body)
	}
	bad := replace(t, def, "send: { email: svip_offer }", "send: { email: svip_offr }")
	if r := api(t, s, http.MethodPost, "/v1/journeys", bad); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "steps[2].send.email") {
		t.Fatalf("publish of a definition naming no template: %d %s", r.status, r.body)
	}
	if r := api(t, s, http.MethodGet, "/v1/journeys/svip_upsell", ""); r.status != http.StatusNotFound {
		t.Fatalf("a failed publish wrote something: %d %s", r.status, r.body)
	}
	r := api(t, s, http.MethodPost, "/v1/journeys", def)
	if r.status != http.StatusCreated || !strings.Contains(r.body, `"version": 1`) {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}

	zone := daytimeZone(t)
	now := time.Now()
	const spender, trialist, small, noConsent = "m-up-spender", "m-up-trial", "m-up-small", "m-up-quiet"
	trial := eventfix.Sample(t, events.SubscriptionTrialStarted, "evt-trial-"+trialist, trialist, now.Add(2*time.Second))
	td := trial["data"].(map[string]any)
	td["plan"], td["price"], td["trial_ends_at"] = "svip", "9.90", now.AddDate(0, 0, 14).UTC().Format(time.RFC3339)
	postEvents(t, s,
		registration(t, spender, now.Add(-time.Minute), true, zone, ""),
		registration(t, trialist, now.Add(-time.Minute), true, zone, ""),
		registration(t, small, now.Add(-time.Minute), true, zone, ""),
		registration(t, noConsent, now.Add(-time.Minute), false, zone, ""),
		// 600 CNY makes V3.
		eventfix.OrderPaid(t, spender, "ord-up-1", "600.00", now),
		eventfix.OrderPaid(t, trialist, "ord-up-2", "600.00", now),
		trial,
		eventfix.OrderPaid(t, small, "ord-up-3", "100.00", now),
		eventfix.OrderPaid(t, noConsent, "ord-up-4", "600.00", now),
	)

	waitFor(t, "the SVIP offer", 60*time.Second, func() bool {
		return slices.Contains(outboxTemplates(t, s, spender), "svip_offer")
	})
	if got := couponKinds(t, s, spender); got["FREE25"] != 1 {
		t.Errorf("spender's coupons = %v, want one FREE25", got)
	}
	waitFor(t, "the spender's enrollment to complete", 30*time.Second, func() bool {
		k := kinds(timeline(t, s, spender, "svip_upsell"))
		return len(k) > 0 && strings.HasPrefix(k[len(k)-1], "completed")
	})
	got := kinds(timeline(t, s, spender, "svip_upsell"))
	for _, want := range []string{"enrolled", "wait:timeout", "branch", "reward_granted", "sent", "completed"} {
		if !slices.ContainsFunc(got, func(k string) bool { return strings.HasPrefix(k, want) }) {
			t.Errorf("spender's timeline %v lacks %s", got, want)
		}
	}

	waitFor(t, "the trialist's enrollment to end at the wait", 30*time.Second, func() bool {
		k := kinds(timeline(t, s, trialist, "svip_upsell"))
		return slices.ContainsFunc(k, func(k string) bool { return strings.HasPrefix(k, "completed") || strings.HasPrefix(k, "exited") })
	})
	if k := kinds(timeline(t, s, trialist, "svip_upsell")); !slices.ContainsFunc(k, func(k string) bool { return strings.HasPrefix(k, "wait:event") }) {
		t.Errorf("trialist's timeline = %v, want the wait ended by the trial", k)
	}
	if slices.Contains(outboxTemplates(t, s, trialist), "svip_offer") {
		t.Error("the member who started a trial got the offer")
	}
	if k := timeline(t, s, small, "svip_upsell"); len(k) != 0 {
		t.Errorf("a small order's timeline = %v, want nothing (the trigger did not match)", kinds(k))
	}
	quiet := timeline(t, s, noConsent, "svip_upsell")
	if len(quiet) != 1 || quiet[0].Kind != "not_enrolled" || quiet[0].Reason != "audience" || quiet[0].Values["member.consent.email_marketing"] != false {
		t.Errorf("member without consent: %+v, want not_enrolled (audience) with the value that decided", quiet)
	}

	// A second big order within the 90-day cooldown.
	postEvents(t, s, eventfix.OrderPaid(t, spender, "ord-up-5", "700.00", time.Now()))
	waitFor(t, "the cooldown refusal", 30*time.Second, func() bool {
		k := kinds(timeline(t, s, spender, "svip_upsell"))
		return slices.Contains(k, "not_enrolled:cooldown")
	})

	r = api(t, s, http.MethodGet, "/v1/journeys/svip_upsell/stats", "")
	var stats struct {
		Enrolled int64            `json:"enrolled"`
		Active   int64            `json:"active"`
		Goal     int64            `json:"goal_reached"`
		Exited   map[string]int64 `json:"exited"`
		Steps    []struct {
			Step string `json:"step"`
			Sent int64  `json:"sent"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(r.body), &stats); err != nil || r.status != http.StatusOK {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	sent := map[string]int64{}
	for _, st := range stats.Steps {
		sent[st.Step] = st.Sent
	}
	if stats.Enrolled != 2 || stats.Active != 0 || sent["offer"] != 1 {
		t.Errorf("stats = %s, want 2 enrolled, none active, one offer sent", r.body)
	}
}

// TestMemberDayBroadcastEndToEnd publishes the member_day example through
// the API with its monthly day and time of day moved to today, a couple
// of minutes ago, in the members' zone, and runs its broadcast schedule
// (broadcast/member_day) on the dev server: a V4 member with consent gets
// the double-points boost and the email; a V4 member without consent the
// boost only; members outside the audience (V1; V3 with fewer than 100
// points) nothing, not even a timeline entry. A second pass of the same occurrence changes nothing.
func TestMemberDayBroadcastEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts Temporal and DynamoDB Local")
	}
	ctx := context.Background()
	zone := daytimeZone(t)
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	// The occurrence begins where the day begins first (UTC+14), up to a
	// day before the members' own time: the window looks back two days.
	// Without activation: the members register days ago, and their
	// welcomes are not what this test reads in the outbox.
	set := shippedJourneys(t)
	delete(set, "activation")
	s := startWith(t, localstack.Config{OutboxDir: t.TempDir(), LogDir: t.TempDir(), CatchUp: 48 * time.Hour, Journeys: journeyFiles(set)})
	t.Cleanup(s.Stop)

	now := time.Now()
	const gold, quiet, low, poor = "m-md-gold", "m-md-quiet", "m-md-low", "m-md-poor"
	postEvents(t, s,
		registration(t, gold, now.AddDate(0, 0, -11), true, zone, ""),
		registration(t, quiet, now.AddDate(0, 0, -11), false, zone, ""),
		registration(t, low, now.AddDate(0, 0, -11), true, zone, ""),
		registration(t, poor, now.AddDate(0, 0, -11), true, zone, ""),
		// 12,000 CNY makes V4 with 120 points (one per 100 CNY), available
		// once the 7-day return window is over; 600 CNY makes V3 with 6;
		// 50 CNY stays V1.
		eventfix.OrderPaid(t, gold, "ord-md-1", "12000.00", now.AddDate(0, 0, -10)),
		eventfix.OrderPaid(t, quiet, "ord-md-2", "12000.00", now.AddDate(0, 0, -10)),
		eventfix.OrderPaid(t, low, "ord-md-3", "50.00", now.AddDate(0, 0, -10)),
		eventfix.OrderPaid(t, poor, "ord-md-4", "600.00", now.AddDate(0, 0, -10)),
	)
	for id, tier := range map[string]string{gold: "V4", quiet: "V4", poor: "V3"} {
		waitFor(t, id+" at "+tier, 30*time.Second, func() bool { v, _ := getMember(t, s, id); return v.Tier == tier })
	}
	waitFor(t, low+"'s order", 30*time.Second, func() bool {
		m, err := s.Activities.Store.GetMember(ctx, low)
		return err == nil && !m.LastOrderAt.IsZero()
	})

	src, err := fs.ReadFile(templates.Journeys, "journeys/examples/member_day.yaml")
	if err != nil {
		t.Fatal(err)
	}
	local := now.In(loc).Add(-2 * time.Minute)
	def := replace(t, string(src), "day: 8", fmt.Sprintf("day: %d", local.Day()))
	def = replace(t, def, `at: "10:00"`, fmt.Sprintf("at: %q", local.Format("15:04")))
	if r := api(t, s, http.MethodPost, "/v1/journeys", def); r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}

	pass := func() workflows.JourneyScanResult {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		run, err := s.RunSchedule(ctx, workflows.BroadcastScheduleID("member_day"))
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.JourneyScanResult
		if err := run.Get(ctx, &res); err != nil {
			t.Fatalf("member_day pass: %v", err)
		}
		return res
	}
	first := pass()
	if first.Counts["entered"] != 2 || first.Counts["audience"] != 2 {
		t.Errorf("first pass counts = %v, want 2 entered and 2 left out by the audience", first.Counts)
	}
	number := journeys.DayNumber(time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC), false)
	for _, id := range []string{gold, quiet} {
		var res workflows.EnrollmentResult
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := s.Temporal.GetWorkflow(wctx, workflows.JourneyWorkflowID("member_day", id, number), "").Get(wctx, &res)
		cancel()
		if err != nil {
			t.Fatalf("%s's member day: %v", id, err)
		}
		if res.Status != loyalty.EnrollmentCompleted || len(res.Rewards) != 1 || len(res.Sends) != 1 {
			t.Errorf("%s's member day = %+v, want completed with one reward and one send", id, res)
		}
		a, err := s.Activities.Store.GetAccount(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Boosts) != 1 || !a.Boosts[0].Multiplier.Equal(decimal.NewFromInt(2)) || a.Boosts[0].Until.Sub(a.Boosts[0].From) != 24*time.Hour {
			t.Errorf("%s's boosts = %+v, want one ×2 for a day", id, a.Boosts)
		}
	}
	check := func(t *testing.T) {
		t.Helper()
		if got := outboxTemplates(t, s, gold); !slices.Equal(got, []string{"member_day"}) {
			t.Errorf("%s's emails = %v, want member_day once", gold, got)
		}
		if got := outboxTemplates(t, s, quiet); len(got) != 0 {
			t.Errorf("the member without consent got %v", got)
		}
		for _, id := range []string{low, poor} {
			if a, err := s.Activities.Store.GetAccount(ctx, id); err != nil || len(a.Boosts) != 0 {
				t.Errorf("%s, outside the audience: %+v, %v", id, a.Boosts, err)
			}
			if tl := timeline(t, s, id, "member_day"); len(tl) != 0 {
				t.Errorf("%s, outside the audience, has a timeline: %v", id, kinds(tl))
			}
		}
	}
	check(t)
	if k := kinds(timeline(t, s, gold, "member_day")); !slices.Contains(k, "enrolled") || !slices.ContainsFunc(k, func(k string) bool { return strings.HasPrefix(k, "completed") }) {
		t.Errorf("%s's timeline = %v, want enrolled through completed", gold, k)
	}

	t.Run("a second pass of the occurrence changes nothing", func(t *testing.T) {
		again := pass()
		if again.Counts["entered"] != 0 || again.Counts["done_before"] != 2 {
			t.Errorf("second pass counts = %v, want the two members done before", again.Counts)
		}
		check(t)
		for _, id := range []string{gold, quiet} {
			if a, _ := s.Activities.Store.GetAccount(ctx, id); len(a.Boosts) != 1 {
				t.Errorf("%s's boosts after the second pass = %+v", id, a.Boosts)
			}
		}
	})
	if *updateHistory {
		dir := filepath.Join(repoRoot(t), "workflows", "testdata")
		writeHistory(t, s.Temporal, workflows.JourneyWorkflowID("member_day", gold, number), filepath.Join(dir, "journey_member_day.json"))
	}
}
