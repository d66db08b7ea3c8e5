package console_test

// The journey screen's lift panel in the browser, against the real
// local stack: a journey with a 50% holdout and a split, members enrolled
// through the API (still in their window) and, as the enroller and
// dispatch count them, the lift counters of members who enrolled 40 days
// ago, so the window is over for them.

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

const (
	// liftJourney holds half its members out and splits the others
	// between two offers.
	liftJourney = "console_lift"
	liftSplit   = "pick"
	// liftEnrolled is how many members the test enrols through the API:
	// their window is not over, so the report counts them as pending.
	liftEnrolled = 6
	// liftAgo is how many days before today the seeded cohorts enrolled:
	// inside the 7- and 30-day windows' reach, not the 90-day one's.
	liftAgo = 40
)

const liftSource = `name: ` + liftJourney + `
description: Two offers tested against a holdout
holdout: 50%
trigger: { api: {} }
goal: { event: order.paid }
steps:
  - id: ` + liftSplit + `
    split: [ { weight: 1, goto: offer_a }, { weight: 1, goto: offer_b } ]
  - id: offer_a
    send: { email: activation_nudge }
    goto: end
  - id: offer_b
    send: { email: activation_last_nudge }
`

// liftFact is what a seeded member did: on which day after enrolling,
// and the outcome counted.
type liftFact struct {
	day     int
	outcome store.LiftOutcome
}

// seedLift counts members into a journey's lift as the enroller and
// dispatch count them (store.Lift, once per member and key): each member
// enrols on day (UTC) in arm, on path (a split path, or "") when treated,
// then the facts of facts(i) happen.
func seedLift(t *testing.T, s *localstack.Stack, journey, day string, arm loyalty.Arm, n int, path func(i int) string, facts func(i int) []liftFact) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		member := fmt.Sprintf("lift-%s-%s-%d", journey, arm, i)
		cells := []store.LiftCell{{Arm: arm, Day: day}}
		if path != nil {
			if p := path(i); p != "" {
				cells = append(cells, store.LiftCell{Arm: arm, Path: p, Day: day})
			}
		}
		count := func(key string, members int64, f liftFact) {
			if err := s.Activities.Store.CountLift(ctx, store.LiftCount{Journey: journey, MemberID: member, Key: key, Cells: cells, Members: members, Day: f.day, Outcome: f.outcome}); err != nil {
				t.Fatalf("seed the lift of %s: %v", journey, err)
			}
		}
		count("lift#"+journey+"#1#enrolled", 1, liftFact{})
		if facts == nil {
			continue
		}
		for k, f := range facts(i) {
			count(fmt.Sprintf("lift#%s#1#order#%d", journey, k), 0, f)
		}
	}
}

// seedLiftMembers saves members as dispatch would after their
// registrations (consenting, in a zone where it is daytime).
func seedLiftMembers(t *testing.T, s *localstack.Stack, ids []string) {
	t.Helper()
	zone, err := localstack.DaytimeZone(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for _, id := range ids {
		m := loyalty.Member{ID: id, Email: id + "@example.com", Name: "Member " + id, Timezone: zone, Locale: "zh-CN",
			Consent: loyalty.Consent{EmailMarketing: true, UpdatedAt: at}, RegisteredAt: at, UpdatedAt: at, Version: 1}
		if err := s.Activities.Store.SaveMember(context.Background(), m, "seed-"+id); err != nil {
			t.Fatalf("seed member %s: %v", id, err)
		}
	}
}

// liftOf is the API's lift report of a journey for a window.
func liftOf(t *testing.T, s *localstack.Stack, journey, window string) journeys.LiftReport {
	t.Helper()
	var r journeys.LiftReport
	if code := api(t, s, http.MethodGet, "/v1/journeys/"+journey+"/lift?window="+window, nil, &r); code != http.StatusOK {
		t.Fatalf("GET the lift of %s over %s: %d", journey, window, code)
	}
	return r
}

// setupLift publishes liftJourney, enrols liftEnrolled members through
// the API and seeds the cohorts of liftAgo days ago: 60 treated members
// (half down each path of the split), 18 of whom order within 3 days
// (reaching the goal, redeeming the journey's coupon) and 6 more after
// 20 days; 50 held out, 5 of whom order after 5 days. activation gets
// treated members only, so it has nothing to compare them with.
func setupLift(t *testing.T, s *localstack.Stack) {
	t.Helper()
	if code := api(t, s, http.MethodPost, "/v1/journeys", []byte(liftSource), nil); code/100 != 2 {
		t.Fatalf("publish %s: %d", liftJourney, code)
	}
	var ids []string
	for i := range liftEnrolled {
		ids = append(ids, fmt.Sprintf("lift-m%d", i+1))
	}
	seedLiftMembers(t, s, ids)
	for _, id := range ids {
		if code := api(t, s, http.MethodPost, "/v1/journeys/"+liftJourney+"/enrollments", []byte(`{"member_id":"`+id+`"}`), nil); code != http.StatusCreated {
			t.Fatalf("enrol %s in %s: %d, want 201", id, liftJourney, code)
		}
	}
	d := decimal.RequireFromString
	day := time.Now().UTC().AddDate(0, 0, -liftAgo).Format(time.DateOnly)
	seedLift(t, s, liftJourney, day, loyalty.ArmTreated, 60,
		func(i int) string { return store.SplitPath(liftSplit, i%2) },
		func(i int) []liftFact {
			switch {
			case i < 18:
				return []liftFact{{3, store.LiftOutcome{Goals: 1, Orders: 1, Revenue: d("128.00"), Coupons: 1, CouponCost: d("8.00")}}}
			case i < 24:
				return []liftFact{{20, store.LiftOutcome{Orders: 1, Revenue: d("80.00")}}}
			}
			return nil
		})
	seedLift(t, s, liftJourney, day, loyalty.ArmHoldout, 50, nil, func(i int) []liftFact {
		if i < 5 {
			return []liftFact{{5, store.LiftOutcome{Goals: 1, Orders: 1, Revenue: d("100.00")}}}
		}
		return nil
	})
	seedLift(t, s, "activation", day, loyalty.ArmTreated, 3, nil, nil)
	// The API enrolments are counted as the enroller makes them.
	r := liftOf(t, s, liftJourney, "30d")
	if r.PendingMembers != liftEnrolled {
		t.Fatalf("the lift of %s counts %d members in their window after %d enrolments through the API", liftJourney, r.PendingMembers, liftEnrolled)
	}
}

// liftPanelShows checks the lift panel of liftJourney against the API's
// report over window: the arms' members, conversion and orders per
// member, the members still in their window, the verdict in the
// catalogue's words, the chart's interval and the split's paths.
func (b *browser) liftPanelShows(t *testing.T, s *localstack.Stack, cat catalogues, window string) {
	t.Helper()
	r := liftOf(t, s, liftJourney, window)
	b.waitFor(t, "the lift over "+window, fmt.Sprintf(`document.querySelector(%q)?.dataset.window === %q`, tid("lift-asof"), window))
	if got := b.attr(t, "lift-pending", "data-count"); got != strconv.FormatInt(r.PendingMembers, 10) {
		t.Errorf("%s: the panel counts %q members in their window, the API %d", window, got, r.PendingMembers)
	}
	for _, arm := range []loyalty.Arm{loyalty.ArmTreated, loyalty.ArmHoldout} {
		a := r.Arms[arm]
		id := "lift-arm-" + string(arm)
		if got := b.attr(t, id, "data-members"); got != strconv.FormatInt(a.Members, 10) {
			t.Errorf("%s: the %s row has %s members, the API %d", window, arm, got, a.Members)
		}
		row := b.text(t, id)
		for _, want := range []string{enPct(a.ConversionRate), strconv.FormatFloat(a.OrdersPerMember, 'f', 2, 64)} {
			if !strings.Contains(row, want) {
				t.Errorf("%s: the %s row reads %q, without the API's %s", window, arm, row, want)
			}
		}
	}
	if r.Lift == nil || r.Lift.CI95 == nil {
		t.Fatalf("%s: the API has no lift to compare with: %+v", window, r)
	}
	if got := b.attr(t, "lift-verdict", "data-status"); got != r.Lift.Verdict.Status {
		t.Errorf("%s: the verdict is %q, the API's %q", window, got, r.Lift.Verdict.Status)
	}
	if r.Lift.Verdict.Status != "significant" || r.Lift.ConversionLift <= 0 {
		t.Fatalf("%s: the seeded cohorts (30%% against 10%%) should make a significant lift; the API says %+v", window, r.Lift)
	}
	vars := map[string]string{"treated": cat.en["lift.arm_treated"], "control": cat.en["lift.arm_holdout"]}
	if got, want := b.text(t, "lift-verdict"), render(cat.en["lift.verdict_significant_up"], vars); !strings.HasSuffix(got, want) {
		t.Errorf("%s: the verdict reads %q, want %q", window, got, want)
	}
	pts := func(v float64) string { return render(cat.en["lift.pts"], map[string]string{"v": enSigned(v * 100)}) }
	interval := render(cat.en["lift.interval"], map[string]string{"lo": enSigned(r.Lift.CI95[0] * 100), "hi": enSigned(r.Lift.CI95[1] * 100)})
	row := render(cat.en["lift.chart_row"], map[string]string{"label": render(cat.en["lift.vs"], vars), "lift": pts(r.Lift.ConversionLift), "interval": interval})
	if label := b.attr(t, "lift-chart", "aria-label"); !strings.Contains(label, row) {
		t.Errorf("%s: the lift chart is labelled %q, want %q in it (the API's lift and interval)", window, label, row)
	}
	if got := b.text(t, "lift-ci"); !strings.Contains(got, interval) {
		t.Errorf("%s: the interval reads %q, want %q", window, got, interval)
	}
	if len(r.Splits) != 1 || r.Splits[0].Step != liftSplit || len(r.Splits[0].Paths) != 2 {
		t.Fatalf("%s: the API's splits are %+v, want %s's two paths", window, r.Splits, liftSplit)
	}
	for _, p := range r.Splits[0].Paths {
		id := fmt.Sprintf("lift-path-%s-%d", liftSplit, p.Path)
		if got := b.attr(t, id, "data-members"); got != strconv.FormatInt(p.Treated.Members, 10) {
			t.Errorf("%s: path %d has %s members on screen, %d in the API", window, p.Path, got, p.Treated.Members)
		}
		if got := b.text(t, id); !strings.Contains(got, p.Goto) {
			t.Errorf("%s: path %d's row %q does not say it goes to %s", window, p.Path, got, p.Goto)
		}
	}
	ab := r.Splits[0].Comparisons
	if len(ab) != 1 {
		t.Fatalf("%s: the API compares the paths %d times, want once", window, len(ab))
	}
	sel := fmt.Sprintf(`%s tbody td[data-status]`, tid("lift-split-"+liftSplit+"-ab"))
	if got := eval[string](t, b, fmt.Sprintf(`document.querySelector(%q)?.dataset.status ?? ''`, sel)); got != ab[0].Verdict.Status {
		t.Errorf("%s: the A/B verdict is %q on screen, %q in the API", window, got, ab[0].Verdict.Status)
	}
	if ab[0].Verdict.Status == "not_yet" && ab[0].Verdict.MoreTreated == nil {
		if got := eval[string](t, b, fmt.Sprintf(`document.querySelector(%q).textContent.trim()`, sel)); got != cat.en["lift.verdict_no_difference"] {
			t.Errorf("%s: the A/B verdict reads %q, want %q", window, got, cat.en["lift.verdict_no_difference"])
		}
	}
}

// chooseWindow picks a lift window in the panel's select as a person would.
func (b *browser) chooseWindow(t *testing.T, window string) {
	t.Helper()
	eval[bool](t, b, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.focus();
		s.value = %q;
		s.dispatchEvent(new Event('change', {bubbles: true}));
		return true;
	})()`, tid("lift-window"), window))
}

// liftPanel is the browser test's step: the panel over 30 and 7 days
// (the orders of day 20 count in one and not the other), over 90 days
// (no cohort's window is over: the empty state, with the members still
// in theirs), and a journey without a holdout.
func liftPanel(t *testing.T, b *browser, s *localstack.Stack, cat catalogues) {
	setupLift(t, s)
	b.open(t, "#/journeys/"+liftJourney)
	b.waitVisible(t, "lift-arm-treated")
	b.liftPanelShows(t, s, cat, "30d")
	b.accessible(t, "journey with the lift panel")

	b.chooseWindow(t, "7d")
	b.liftPanelShows(t, s, cat, "7d")
	if r7, r30 := liftOf(t, s, liftJourney, "7d"), liftOf(t, s, liftJourney, "30d"); r7.Arms[loyalty.ArmTreated].Orders >= r30.Arms[loyalty.ArmTreated].Orders {
		t.Errorf("the seeded orders of day 20 should count over 30 days and not over 7: %d and %d orders", r30.Arms[loyalty.ArmTreated].Orders, r7.Arms[loyalty.ArmTreated].Orders)
	}

	b.chooseWindow(t, "90d")
	r := liftOf(t, s, liftJourney, "90d")
	b.waitFor(t, "the lift over 90 days", fmt.Sprintf(`document.querySelector(%q)?.dataset.window === '90d'`, tid("lift-asof")))
	b.waitVisible(t, "lift-empty")
	if got := b.attr(t, "lift-empty", "data-reason"); got != "no_data" {
		t.Errorf("over 90 days the empty state says %q, want no_data", got)
	}
	if got := b.attr(t, "lift-pending", "data-count"); got != strconv.FormatInt(r.PendingMembers, 10) || r.PendingMembers <= liftEnrolled {
		t.Errorf("over 90 days the panel counts %q members in their window, the API %d (the seeded cohorts and the %d enrolled today)", got, r.PendingMembers, liftEnrolled)
	}
	if got, want := b.text(t, "lift-empty"), render(cat.en["lift.empty_pending"], map[string]string{"window": render(cat.en["lift.window_days"], map[string]string{"n": "90"})}); got != want {
		t.Errorf("the empty state reads %q, want %q", got, want)
	}
	if eval[bool](t, b, visibleJS(tid("lift-chart"))) {
		t.Error("the lift chart shows over 90 days, where no cohort counts")
	}
	b.tabReaches(t, "lift-window", "save-draft", "publish")

	b.open(t, "#/journeys/activation")
	b.waitFor(t, "activation's lift without a control", visibleJS(tid("lift-empty")+`[data-reason="no_control"]`))
	if r := liftOf(t, s, "activation", "30d"); r.Control != "" || r.Lift != nil || r.Arms[loyalty.ArmTreated].Members == 0 {
		t.Errorf("activation's lift: control %q, lift %v, %d treated; want treated members and no control", r.Control, r.Lift, r.Arms[loyalty.ArmTreated].Members)
	}
	if got := b.attr(t, "lift-arm-treated", "data-members"); got != "3" {
		t.Errorf("activation's treated row has %s members, want the 3 seeded", got)
	}
	b.accessible(t, "journey without a holdout")
}

// enPct is a ratio as Intl.NumberFormat('en', {style: 'percent',
// maximumFractionDigits: 1}) writes it (below 1000%).
func enPct(r float64) string {
	return strconv.FormatFloat(math.Round(r*1000)/10, 'f', -1, 64) + "%"
}

// enSigned is v with one decimal and its sign as Intl.NumberFormat('en',
// {signDisplay: 'exceptZero', minimumFractionDigits: 1}) writes it.
func enSigned(v float64) string {
	v = math.Round(v*10) / 10
	if v == 0 {
		return "0.0"
	}
	return fmt.Sprintf("%+.1f", v)
}

// analyticsEmpty is the analytics screen before any refresh completed:
// both resources answer 404 and the screen says there is no model yet,
// in the catalogue's words, reached from the navigation.
func analyticsEmpty(t *testing.T, b *browser, cat catalogues) {
	b.click(t, "nav-analytics")
	b.waitVisible(t, "analytics-empty")
	if got := b.text(t, "analytics-empty"); !strings.Contains(got, cat.en["analytics.empty_title"]) || !strings.Contains(got, cat.en["analytics.empty_body"]) {
		t.Errorf("the analytics screen before a refresh reads %q, want the catalogue's empty state", got)
	}
	if cur := b.attr(t, "nav-analytics", "aria-current"); cur != "page" {
		t.Errorf("nav-analytics has aria-current %q on the analytics screen, want page", cur)
	}
	if eval[bool](t, b, visibleJS(tid("error-banner"))) {
		t.Errorf("the analytics screen shows an error before the first refresh: %s", b.text(t, "error-banner"))
	}
	// The two 404s are how the API says there is no model yet.
	b.dropErrors(t, "/v1/analytics/", "404")
	b.accessible(t, "analytics before the first refresh")
}
