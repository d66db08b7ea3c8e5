package console_test

// The analytics screen and the member's scores in the browser, against
// the real local stack: a shop's members and orders (two years of them,
// simulated from known BG/NBD and Gamma-Gamma parameters) applied as
// dispatch applies them, the nightly analytics-refresh schedule run now,
// and what the API then reports on screen, in English and 简体中文.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
	"github.com/memberflow/memberflow/internal/testenv/shopseed"
	"github.com/memberflow/memberflow/workflows"
)

// shopCustomers is how many customers the test's shop has: enough for
// the models to converge (shopfix.Shop converges on a few hundred; the
// test's seed on 300).
const shopCustomers = 300

// seedShop registers the shop's customers and applies their orders as
// dispatch does (shopseed).
func seedShop(t *testing.T, s *localstack.Stack, shop []shopfix.Customer) {
	t.Helper()
	shopseed.Seed(t, s.Activities.Store, s.Activities.Ledger, shop, func(c shopfix.Customer) map[string]any {
		return registration(t, c.ID, "Customer "+c.ID, c.Orders[0].At.Add(-time.Hour))
	})
}

// shopAndRefresh seeds a shop of shopCustomers customers with two years
// of orders ending yesterday and runs the nightly analytics refresh now,
// as its schedule would.
func shopAndRefresh(t *testing.T, s *localstack.Stack) ([]shopfix.Customer, workflows.AnalyticsRefreshResult) {
	t.Helper()
	ctx := context.Background()
	shop := shopfix.Simulate(31, shopfix.Shop, shopCustomers, "shop", time.Now().UTC().AddDate(0, 0, -721), 720)
	seeded := time.Now()
	seedShop(t, s, shop)
	t.Logf("seeded %d customers in %s", len(shop), time.Since(seeded).Round(time.Millisecond))
	refreshed := time.Now()
	run, err := s.RunSchedule(ctx, workflows.AnalyticsScheduleID)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var res workflows.AnalyticsRefreshResult
	if err := run.Get(wctx, &res); err != nil {
		t.Fatalf("the analytics refresh: %v", err)
	}
	t.Logf("the refresh scored %d members in %s", res.Members, time.Since(refreshed).Round(time.Millisecond))
	return shop, res
}

// analyticsRFM and analyticsModel are what the test reads of GET
// /v1/analytics/rfm and /model.
type analyticsRFM struct {
	Version  int `json:"version"`
	Scored   int `json:"scored"`
	Segments []struct {
		Code    string `json:"code"`
		Name    string `json:"name"`
		Members int    `json:"members"`
	} `json:"segments"`
	Grid [5][5]int `json:"grid"`
}

type analyticsModel struct {
	Version   int  `json:"version"`
	Customers int  `json:"customers"`
	Converged bool `json:"converged"`
	BGNBD     struct {
		Params map[string]float64 `json:"params"`
	} `json:"bgnbd"`
	GammaGamma struct {
		Params map[string]float64 `json:"params"`
	} `json:"gamma_gamma"`
}

// TestConsoleAnalytics shows the analytics screen before the first
// refresh (its empty state), runs the analytics-refresh schedule over a
// shop, and checks the segments, the R × F grid and the fitted model on
// screen are the API's, and a member's scores on the member screen; in
// both languages, with axe-core and no console errors.
func TestConsoleAnalytics(t *testing.T) {
	root := prerequisites(t)
	began := time.Now()
	browserFor := startBrowser(t, root)
	s := startStack(t, root, nil)
	b := browserFor(s.URL)
	defer func() { t.Logf("TestConsoleAnalytics took %s", time.Since(began).Round(time.Millisecond)) }()
	cat := loadCatalogues(t, root)

	b.open(t, "")
	b.typeInto(t, "signin-token", adminToken)
	b.do(t, "sign in", chromedp.KeyEvent(kb.Enter))
	b.waitVisible(t, "nav-analytics")
	analyticsEmpty(t, b, cat)
	b.noErrors(t, "before the refresh")

	shop, res := shopAndRefresh(t, s)

	var rfm analyticsRFM
	var model analyticsModel
	if code := api(t, s, http.MethodGet, "/v1/analytics/rfm", nil, &rfm); code != http.StatusOK {
		t.Fatalf("GET /v1/analytics/rfm after the refresh: %d (refresh %+v)", code, res)
	}
	if code := api(t, s, http.MethodGet, "/v1/analytics/model", nil, &model); code != http.StatusOK || !model.Converged {
		t.Fatalf("GET /v1/analytics/model after the refresh: %d %+v", code, model)
	}

	t.Run("analytics", func(t *testing.T) {
		defer b.noErrors(t, "analytics")
		// From another screen: the analytics screen reads the API when it opens.
		b.open(t, "#/journeys")
		b.waitVisible(t, "journeys-table")
		b.open(t, "#/analytics")
		for _, id := range []string{"rfm-segments-chart", "rfm-segments", "rfm-grid", "model-params", "model-fits"} {
			b.waitVisible(t, id)
		}
		if eval[bool](t, b, visibleJS(tid("analytics-empty"))) {
			t.Error("the empty state still shows after a refresh")
		}
		// Segments: every one in the programme's order, with its members.
		var segs []struct {
			Code    string `json:"code"`
			Members string `json:"members"`
		}
		raw := eval[string](t, b, `JSON.stringify([...document.querySelectorAll('[data-testid="rfm-segments"] tbody tr')].map(r => ({code: r.dataset.code, members: r.dataset.members})))`)
		if err := json.Unmarshal([]byte(raw), &segs); err != nil {
			t.Fatal(err)
		}
		if len(segs) != len(rfm.Segments) {
			t.Fatalf("%d segments on screen, %d in the API", len(segs), len(rfm.Segments))
		}
		total := 0
		for i, sg := range rfm.Segments {
			total += sg.Members
			if segs[i].Code != sg.Code || segs[i].Members != strconv.Itoa(sg.Members) {
				t.Errorf("segment row %d is %+v, the API's %s with %d", i, segs[i], sg.Code, sg.Members)
			}
			if label := b.attr(t, "rfm-segments-chart", "aria-label"); !strings.Contains(label, sg.Name+" "+enNum(int64(sg.Members))) {
				t.Errorf("the segments chart's label %q does not count %s's %d", label, sg.Name, sg.Members)
			}
		}
		if total != rfm.Scored || total < shopCustomers {
			t.Errorf("the API's segments hold %d members, it scored %d, the shop has %d customers", total, rfm.Scored, shopCustomers)
		}
		// The heat map: every cell the API's count.
		var cells []struct {
			R, F  int
			Count string
		}
		raw = eval[string](t, b, `JSON.stringify([...document.querySelectorAll('[data-testid="rfm-grid"] td')].map(c => ({R: +c.dataset.r, F: +c.dataset.f, Count: c.dataset.count})))`)
		if err := json.Unmarshal([]byte(raw), &cells); err != nil {
			t.Fatal(err)
		}
		if len(cells) != 25 {
			t.Fatalf("the R × F grid has %d cells, want 25", len(cells))
		}
		for _, c := range cells {
			if want := strconv.Itoa(rfm.Grid[c.R-1][c.F-1]); c.Count != want {
				t.Errorf("the grid's R%d F%d cell counts %s, the API %s", c.R, c.F, c.Count, want)
			}
		}
		// The model: every parameter as the API fitted it.
		for model2, params := range map[string]map[string]float64{"bgnbd": model.BGNBD.Params, "gamma_gamma": model.GammaGamma.Params} {
			for p, v := range params {
				sel := fmt.Sprintf(`[data-testid="model-params"] tr[data-model=%q][data-param=%q]`, model2, p)
				got := eval[string](t, b, fmt.Sprintf(`document.querySelector(%q)?.dataset.value ?? ''`, sel))
				if f, err := strconv.ParseFloat(got, 64); err != nil || f != v {
					t.Errorf("%s %s is %q on screen, %v in the API", model2, p, got, v)
				}
			}
		}
		if got := b.text(t, "model-version"); got != strconv.Itoa(model.Version) {
			t.Errorf("the model version reads %q, the API's is %d", got, model.Version)
		}
		if got := b.attr(t, "model-converged", "data-converged"); got != "true" {
			t.Errorf("the model's converged reads %q", got)
		}
		b.accessible(t, "analytics")
	})

	member := shop[0].ID
	t.Run("member scores", func(t *testing.T) {
		defer b.noErrors(t, "member scores")
		var doc struct {
			RFM struct {
				Segment string `json:"segment"`
			} `json:"rfm"`
			PAlive float64 `json:"p_alive"`
		}
		if code := api(t, s, http.MethodGet, "/v1/members/"+member, nil, &doc); code != http.StatusOK || doc.RFM.Segment == "" {
			t.Fatalf("GET /v1/members/%s after the refresh: %d, segment %q", member, code, doc.RFM.Segment)
		}
		b.open(t, "#/members/"+member)
		b.waitVisible(t, "member-scores")
		if got := b.attr(t, "member-segment", "data-segment"); got != doc.RFM.Segment {
			t.Errorf("the member's segment is %q on screen, %q in the API", got, doc.RFM.Segment)
		}
		for _, sg := range rfm.Segments {
			if sg.Code == doc.RFM.Segment {
				b.waitFor(t, "the segment's name", fmt.Sprintf(`document.querySelector(%q)?.textContent === %q`, tid("member-segment"), sg.Name))
			}
		}
		if got := b.text(t, "member-p-alive"); got != enPct(doc.PAlive) {
			t.Errorf("P(alive) reads %q, the API's %v is %s", got, doc.PAlive, enPct(doc.PAlive))
		}
		b.accessible(t, "member with scores")
	})

	t.Run("简体中文", func(t *testing.T) {
		defer b.noErrors(t, "简体中文")
		b.chooseLanguage(t, "zh-CN")
		data := screenData(t, s, member)
		for _, sc := range []struct{ name, route, ready string }{
			{"analytics", "#/analytics", visibleJS(tid("rfm-grid")) + " && " + visibleJS(tid("model-params"))},
			{"member", "#/members/" + member, visibleJS(tid("member-scores")) + " && document.querySelector('[data-testid=\"member-ledger\"] tbody tr')"},
		} {
			b.open(t, sc.route)
			b.waitFor(t, sc.name+" in zh-CN", sc.ready+fmt.Sprintf(` && !document.querySelector('main').innerText.includes(%s)`, jsString(cat.zh["common.loading"])))
			for _, p := range cat.english(b.mainText(t), data) {
				t.Errorf("%s in zh-CN shows English: %s", sc.name, p)
			}
			b.accessible(t, sc.name+" (zh-CN)")
		}
	})
}
