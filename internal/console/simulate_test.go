package console_test

// The journey screen's simulate panel in the browser, against the real
// local stack's POST /v1/journeys/{name}/simulate: a refused field shown
// beside it, a small run of the journey as published and of the editor's
// draft, each compared with the API's report for the same request (a
// seed's report is the same on every run).

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

	"github.com/memberflow/memberflow/internal/localstack"
)

// simReport is what the browser test reads of the simulation report
// (internal/simulate.Report).
type simReport struct {
	Journeys []string `json:"journeys"`
	Members  struct {
		Total int `json:"total"`
	} `json:"members"`
	Days       int `json:"days"`
	PerJourney []struct {
		Name     string `json:"name"`
		Enrolled int    `json:"enrolled"`
		Sent     int    `json:"sent"`
		Goals    int64  `json:"goals"`
	} `json:"per_journey"`
	Steps []struct {
		Journey string `json:"journey"`
		Step    string `json:"step"`
		Sent    int    `json:"sent"`
	} `json:"steps"`
	Reasons []struct {
		Journey string `json:"journey"`
		Kind    string `json:"kind"`
		Reason  string `json:"reason"`
		Count   int    `json:"count"`
	} `json:"deferrals_and_skips"`
	SendsPerDay []struct {
		Day   string `json:"day"`
		Total int    `json:"total"`
	} `json:"sends_per_day"`
}

// simulateOf asks the API for the report of body.
func simulateOf(t *testing.T, s *localstack.Stack, journey string, body map[string]any) simReport {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var r simReport
	if code := api(t, s, http.MethodPost, "/v1/journeys/"+journey+"/simulate", raw, &r); code != http.StatusOK {
		t.Fatalf("POST the simulation of %s %s: %d", journey, raw, code)
	}
	return r
}

// simulateRun fills the form,
// watches the running state appear while the API works, and waits for
// the report of journey.
func (b *browser) simulateRun(t *testing.T, journey string, members, days, seed int, start string) {
	t.Helper()
	b.setField(t, "sim-members", strconv.Itoa(members))
	b.setField(t, "sim-days", strconv.Itoa(days))
	b.setField(t, "sim-seed", strconv.Itoa(seed))
	b.setField(t, "sim-start", start)
	eval[bool](t, b, `(() => {
		window.simRunning = false;
		window.simWatch?.disconnect();
		window.simWatch = new MutationObserver(() => {
			if (document.querySelector('[data-testid="sim-running"]') && document.querySelector('[data-testid="simulate"]').disabled) window.simRunning = true;
		});
		window.simWatch.observe(document.body, {subtree: true, childList: true});
		return true;
	})()`)
	b.click(t, "simulate")
	// A simulation runs inside the request; allow it more than a step.
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	ready := fmt.Sprintf(`document.querySelector(%q)?.dataset.journey === %q && !document.querySelector('[data-testid="sim-running"]')`, tid("sim-result"), journey)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+ready+")", chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		t.Fatalf("waiting for the simulation of %s: %v%s", journey, err, b.pageState())
	}
	if !eval[bool](t, b, `window.simRunning === true`) {
		t.Error("the panel never showed the simulation running (sim-running with the button disabled)")
	}
	if eval[bool](t, b, `document.querySelector('[data-testid="simulate"]').disabled`) {
		t.Error("the simulate button stays disabled after the report came")
	}
}

// setField sets a form field's value as a date picker or a number
// spinner does (the value, then the input event) and checks the field
// holds it.
func (b *browser) setField(t *testing.T, id, value string) {
	t.Helper()
	b.waitVisible(t, id)
	eval[bool](t, b, fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		e.focus();
		e.value = %q;
		e.dispatchEvent(new Event('input', {bubbles: true}));
		e.dispatchEvent(new Event('change', {bubbles: true}));
		return true;
	})()`, tid(id), value))
	b.waitFor(t, id+" = "+value, fmt.Sprintf(`document.querySelector(%q).value === %q`, tid(id), value))
}

// simulateShows checks the report on screen is the API's: the journey's
// enrollments, every step's sends, every deferral and skip reason's count
// and the sends-per-day chart's total.
func (b *browser) simulateShows(t *testing.T, cat catalogues, journey string, r simReport) {
	t.Helper()
	var mine *struct {
		Name     string `json:"name"`
		Enrolled int    `json:"enrolled"`
		Sent     int    `json:"sent"`
		Goals    int64  `json:"goals"`
	}
	for i := range r.PerJourney {
		if r.PerJourney[i].Name == journey {
			mine = &r.PerJourney[i]
		}
	}
	if mine == nil || mine.Enrolled == 0 || mine.Sent == 0 {
		t.Fatalf("the API's report has no enrollments or sends of %s: %+v", journey, r.PerJourney)
	}
	if got := b.text(t, "sim-enrolled"); !strings.HasSuffix(got, enNum(int64(mine.Enrolled))) {
		t.Errorf("the panel says %q enrolled in %s, the API %d", got, journey, mine.Enrolled)
	}
	if got := b.text(t, "sim-sent"); !strings.HasSuffix(got, enNum(int64(mine.Sent))) {
		t.Errorf("the panel says %q sent by %s, the API %d", got, journey, mine.Sent)
	}
	type row struct {
		Journey string `json:"journey"`
		Step    string `json:"step"`
		Sent    string `json:"sent"`
		Kind    string `json:"kind"`
		Reason  string `json:"reason"`
		Count   string `json:"count"`
	}
	var rows struct {
		Steps   []row `json:"steps"`
		Reasons []row `json:"reasons"`
	}
	raw := eval[string](t, b, `JSON.stringify({
		steps: [...document.querySelectorAll('[data-testid="sim-steps"] tbody tr')].map(r => ({journey: r.dataset.journey, step: r.dataset.step, sent: r.dataset.sent})),
		reasons: [...document.querySelectorAll('[data-testid="sim-reasons"] tbody tr')].map(r => ({journey: r.dataset.journey, kind: r.dataset.kind, reason: r.dataset.reason, count: r.dataset.count}))})`)
	if err := json.Unmarshal([]byte(raw), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows.Steps) != len(r.Steps) {
		t.Errorf("the panel lists %d steps, the API %d", len(rows.Steps), len(r.Steps))
	}
	for i, s := range r.Steps {
		if i < len(rows.Steps) && (rows.Steps[i].Journey != s.Journey || rows.Steps[i].Step != s.Step || rows.Steps[i].Sent != strconv.Itoa(s.Sent)) {
			t.Errorf("step row %d is %+v, the API's %+v", i, rows.Steps[i], s)
		}
	}
	if len(rows.Reasons) != len(r.Reasons) {
		t.Errorf("the panel lists %d deferral and skip reasons, the API %d", len(rows.Reasons), len(r.Reasons))
	}
	for i, x := range r.Reasons {
		if i < len(rows.Reasons) && (rows.Reasons[i].Reason != x.Reason || rows.Reasons[i].Kind != x.Kind || rows.Reasons[i].Count != strconv.Itoa(x.Count)) {
			t.Errorf("reason row %d is %+v, the API's %+v", i, rows.Reasons[i], x)
		}
	}
	total, peak, peakDay := 0, -1, ""
	for _, d := range r.SendsPerDay {
		total += d.Total
		if d.Total > peak {
			peak, peakDay = d.Total, d.Day
		}
	}
	if len(r.SendsPerDay) != r.Days {
		t.Errorf("the API's report has %d days of sends for %d days", len(r.SendsPerDay), r.Days)
	}
	// The busiest day is written in the viewer's date format: the pattern
	// takes any text for it.
	want := cat.pattern(cat.en["sim.days_summary"], map[string]string{"total": enNum(int64(total)), "days": enNum(int64(len(r.SendsPerDay))), "peak": enNum(int64(max(peak, 0)))})
	label, ok := strings.CutPrefix(b.attr(t, "sim-days-chart", "aria-label"), cat.en["sim.days_chart"]+": ")
	if !ok || !want.MatchString(label) || peakDay == "" {
		t.Errorf("the sends-per-day chart is labelled %q, want the API's %d sends over %d days, %d on the busiest day (%s)", label, total, len(r.SendsPerDay), peak, want)
	}
}

// simulatePanel is the browser test's step on the test journey's screen.
func simulatePanel(t *testing.T, b *browser, s *localstack.Stack, cat catalogues) {
	b.open(t, "#/journeys/"+testJourney)
	b.waitVisible(t, "simulate-panel")
	b.tabReaches(t, "sim-source-published", "sim-members", "sim-days", "sim-seed", "sim-start", "simulate")

	// A field the API refuses: its message beside the field.
	b.setField(t, "sim-members", "20001")
	b.click(t, "simulate")
	b.waitVisible(t, "sim-members-error")
	if got := b.text(t, "sim-members-error"); !strings.Contains(got, "members: must be at most 20000") || !strings.HasPrefix(got, cat.en["errors.bad_request"]) {
		t.Errorf("the members field's error reads %q, want the API's message with the catalogue's prefix", got)
	}
	if inv, desc := b.attr(t, "sim-members", "aria-invalid"), b.attr(t, "sim-members", "aria-describedby"); inv != "true" || desc != "sim-members-error" {
		t.Errorf("the refused members field has aria-invalid %q and aria-describedby %q, want true and sim-members-error", inv, desc)
	}
	if eval[bool](t, b, visibleJS(tid("error-banner"))) {
		t.Errorf("a field's error also shows in the banner: %s", b.text(t, "error-banner"))
	}
	b.dropErrors(t, "/simulate", "400")
	b.accessible(t, "simulate with a refused field")

	// The journey as published.
	start := time.Now().UTC().Format(time.DateOnly)
	const members, days, seed = 200, 30, 7
	body := map[string]any{"members": members, "days": days, "seed": seed, "start": start}
	b.simulateRun(t, testJourney, members, days, seed, start)
	if eval[bool](t, b, visibleJS(tid("sim-members-error"))) {
		t.Error("the members field's error still shows after a run it allowed")
	}
	b.simulateShows(t, cat, testJourney, simulateOf(t, s, testJourney, body))
	b.accessible(t, "simulation report")

	// The editor's text, not published: a step the live version lacks.
	draft := journeySource("1d") + "  - id: second\n    send: { email: activation_last_nudge }\n"
	b.setEditor(t, draft)
	b.click(t, "sim-source-editor")
	b.simulateRun(t, testJourney, members, days, seed, start)
	body["definition"] = draft
	r := simulateOf(t, s, testJourney, body)
	b.simulateShows(t, cat, testJourney, r)
	if !eval[bool](t, b, `!!document.querySelector('[data-testid="sim-steps"] tbody tr[data-step="second"]')`) {
		t.Error("the draft's simulation has no row for its new step")
	}
	var d struct {
		Source string `json:"source"`
		Draft  string `json:"draft"`
	}
	if api(t, s, http.MethodGet, "/v1/journeys/"+testJourney, nil, &d); strings.Contains(d.Source, "id: second") || strings.Contains(d.Draft, "id: second") {
		t.Error("simulating the editor's text stored it")
	}

	// A journey not yet published: New journey simulates the editor's
	// text under the name it gives itself, and nothing is created.
	const unpublished = "console_unpublished"
	b.open(t, "#/new-journey")
	b.waitVisible(t, "simulate-panel")
	if eval[bool](t, b, `!!document.querySelector('[data-testid="sim-source-published"]')`) {
		t.Error("New journey offers to simulate a published version it does not have")
	}
	src := strings.Replace(journeySource("1d"), "name: "+testJourney, "name: "+unpublished, 1)
	b.setEditor(t, src)
	b.simulateRun(t, unpublished, members, days, seed, start)
	b.simulateShows(t, cat, unpublished, simulateOf(t, s, unpublished, map[string]any{"members": members, "days": days, "seed": seed, "start": start, "definition": src}))
	if code := api(t, s, http.MethodGet, "/v1/journeys/"+unpublished, nil, nil); code != http.StatusNotFound {
		t.Errorf("GET %s after simulating it: %d, want 404 (nothing stored)", unpublished, code)
	}
}

// simulateInChinese runs a simulation of activation (a coupon, paths of
// waits, deferrals) in zh-CN and finds no English in its report beyond
// the data.
func simulateInChinese(t *testing.T, b *browser, cat catalogues, data []string) {
	t.Helper()
	b.open(t, "#/journeys/activation")
	b.waitVisible(t, "simulate-panel")
	b.simulateRun(t, "activation", 300, 60, 3, time.Now().UTC().Format(time.DateOnly))
	for _, p := range cat.english(b.mainText(t), data) {
		t.Errorf("the simulation report in zh-CN shows English: %s", p)
	}
	b.accessible(t, "simulation report (zh-CN)")
}
