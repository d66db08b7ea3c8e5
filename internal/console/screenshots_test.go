package console_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/testenv/eventfix"
)

var screenshots = flag.Bool("screenshots", false, "write every console screen in en and zh-CN to docs/screenshots/ (make screenshots)")

const (
	// bulkMembers is how many members the screenshots run has, for the
	// render times the issue asks for: the samples, and the rest seeded
	// directly into the store.
	bulkMembers = 10000
	// maxScreenshot keeps the committed images well under the tracked-file
	// limit of 1 MB.
	maxScreenshot = 900 << 10
	// renderBudget is the bound on the journeys and member
	// screens' render time with 10,000 members.
	renderBudget = time.Second
)

// sampleMember is a member of the screenshots' sample data.
type sampleMember struct {
	id, name string
	orders   []string // amounts in CNY
}

var sampleMembers = []sampleMember{
	{"m-1001", "Lin Mei", []string{"688.00", "1288.00", "259.00"}},
	{"m-1002", "Zhou Jie", []string{"128.00"}},
	{"m-1003", "Wang Fang", []string{"3299.00", "499.00"}},
	{"m-1004", "Chen Yu", nil},
}

// TestScreenshots writes every screen of the console, in English and
// 简体中文, to docs/screenshots/<screen>-<lang>.png, from a local stack with
// sample members (registered and ordering through signed webhooks, the
// activation journey and the editor's example journey sending to them)
// and 10,000 more members seeded into the store; it prints how long the
// journeys list and the member screen take to render.
func TestScreenshots(t *testing.T) {
	if !*screenshots {
		t.Skip("writes docs/screenshots/ only with -screenshots (make screenshots)")
	}
	root := prerequisites(t)
	began := time.Now()
	browserFor := startBrowser(t, root)
	s := startStack(t, root, nil)
	t.Logf("local stack up in %s", time.Since(began).Round(time.Millisecond))

	// Sample data: a journey published as the editor would, members
	// registering and ordering through the webhook, and the emails the
	// journeys send them.
	if code := api(t, s, http.MethodPost, "/v1/journeys", []byte(journeySource("1d")), nil); code/100 != 2 {
		t.Fatalf("publish %s: %d", testJourney, code)
	}
	now := time.Now()
	for i, m := range sampleMembers {
		postEvents(t, s, registration(t, m.id, m.name, now.Add(time.Duration(i-len(sampleMembers))*time.Minute)))
	}
	for _, m := range sampleMembers {
		waitTimeline(t, s, m.id, testJourney, "sent", 90*time.Second)
		waitTimeline(t, s, m.id, "activation", "sent", 90*time.Second)
	}
	// Their orders come after the welcome (and its coupon), as they would:
	// a second apart, all after the coupon's moment.
	time.Sleep(4 * time.Second)
	now = time.Now()
	for _, m := range sampleMembers {
		var evs []map[string]any
		for j, amount := range m.orders {
			evs = append(evs, eventfix.OrderPaid(t, m.id, fmt.Sprintf("o-%s-%d", m.id, j+1), amount, now.Add(time.Duration(j-len(m.orders))*time.Second)))
		}
		if len(evs) > 0 {
			postEvents(t, s, evs...)
			waitTimeline(t, s, m.id, "activation", "goal_reached", 60*time.Second)
		}
	}
	// A journey with a holdout and a split, and its lift counters (the
	// browser test's); a shop's two years of orders and the nightly
	// analytics refresh over it and the sample members.
	setupLift(t, s)
	shopAndRefresh(t, s)
	seeded := time.Now()
	seedMembers(t, s, bulkMembers-len(sampleMembers))
	t.Logf("seeded %d members in %s", bulkMembers-len(sampleMembers), time.Since(seeded).Round(time.Millisecond))

	b := browserFor(s.URL)
	b.open(t, "")
	b.waitVisible(t, "signin-token")
	out := filepath.Join(root, "docs", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shoot := func(t *testing.T, name string) {
		t.Helper()
		// At rest: no focus ring on the heading a route change focused.
		eval[bool](t, b, `(document.activeElement?.blur(), true)`)
		img := b.fullPage(t)
		if len(img) > maxScreenshot {
			t.Fatalf("%s is %d KB, over %d KB", name, len(img)>>10, maxScreenshot>>10)
		}
		if err := os.WriteFile(filepath.Join(out, name+".png"), img, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	const showcase = "m-1001"
	screens := []struct {
		name, route string
		ids         []string
		then        func(t *testing.T)
	}{
		{"journeys", "#/journeys", []string{"journeys-table", "journey-row-" + testJourney, "journey-row-activation"}, nil},
		{"journey", "#/journeys/activation", []string{"journey-graph", "graph-node-welcome", "funnel-chart", "days-chart", "versions", "editor"}, nil},
		{"journey-editor", "#/journeys/" + testJourney, []string{"editor"}, func(t *testing.T) {
			b.setEditor(t, journeySource("soon"))
			b.waitFor(t, "the problem", `document.querySelector('[data-testid="problem"]')`)
			b.waitFor(t, "the lint range", `document.querySelector('[data-testid="editor"] .cm-lintRange')`)
			eval[bool](t, b, `(document.querySelector('[data-testid="editor"]').scrollIntoView({block: 'center'}), true)`)
		}},
		{"member", "#/members/" + showcase, []string{"member-profile", "member-tier", "member-points", "member-coupons", "member-enrollments", "member-ledger", "timeline"}, func(t *testing.T) {
			b.waitFor(t, "the sent decision", visibleJS(timelineEntry("sent", testJourney)))
		}},
		{"journey-lift", "#/journeys/" + liftJourney, []string{"lift-chart", "lift-split-" + liftSplit}, func(t *testing.T) {
			eval[bool](t, b, `(document.querySelector('[data-testid="lift-panel"]').scrollIntoView({block: 'start'}), true)`)
		}},
		{"journey-simulate", "#/journeys/activation", []string{"simulate-panel"}, func(t *testing.T) {
			b.simulateRun(t, "activation", 2000, 180, 1, time.Now().UTC().Format(time.DateOnly))
			eval[bool](t, b, `(document.querySelector('[data-testid="simulate-panel"]').scrollIntoView({block: 'start'}), true)`)
		}},
		{"program", "#/program", []string{"program-liability", "program-tiers", "program-coupons", "program-rules"}, nil},
		{"analytics", "#/analytics", []string{"rfm-segments-chart", "rfm-grid", "model-params"}, nil},
		{"emails", "#/emails", []string{"emails-list", "email-activation_welcome"}, func(t *testing.T) {
			b.click(t, "email-activation_welcome")
			b.waitFor(t, "the sample preview", `(document.querySelector('iframe[data-testid="email-preview"]')?.srcdoc ?? '').length > 0`)
			// The member's preview: the frame's load event, then time for
			// its own renderer to paint.
			eval[bool](t, b, `(() => {
				window.previewLoaded = false;
				document.querySelector('iframe[data-testid="email-preview"]').addEventListener('load', () => { window.previewLoaded = true; }, {once: true});
				return true;
			})()`)
			b.typeInto(t, "email-preview-member", showcase)
			b.click(t, "email-preview-submit")
			b.waitFor(t, "the member's preview", `window.previewLoaded && document.querySelector('iframe[data-testid="email-preview"]').srcdoc.includes('Lin Mei')`)
			time.Sleep(1500 * time.Millisecond)
			b.frameErrors(t)
		}},
	}
	for _, lang := range []string{"en", "zh-CN"} {
		t.Run(lang, func(t *testing.T) {
			// Signed out (also when the other language's run stopped half
			// way), in lang.
			if _, err := chromedp.Call(b.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
				t.Fatal(err)
			}
			b.do(t, "choose "+lang, chromedp.Evaluate[chromedp.Void](`localStorage.setItem('memberflow.lang', `+jsString(lang)+`)`), chromedp.Navigate(s.URL+"/ui/"))
			b.waitVisible(t, "signin-token")
			if got := eval[string](t, b, `document.documentElement.lang`); got != lang {
				t.Fatalf("html[lang] = %q with memberflow.lang %s", got, lang)
			}
			shoot(t, "signin-"+lang)
			b.typeInto(t, "signin-token", adminToken)
			b.do(t, "sign in", chromedp.KeyEvent(kb.Enter))
			b.waitVisible(t, "nav-journeys")
			for _, sc := range screens {
				b.open(t, sc.route)
				for _, id := range sc.ids {
					b.waitVisible(t, id)
				}
				if sc.then != nil {
					sc.then(t)
				}
				shoot(t, sc.name+"-"+lang)
				b.noErrors(t, sc.name+" ("+lang+")")
			}
			b.click(t, "signout")
			b.waitVisible(t, "signin-token")
		})
	}

	// Render times: a full load of the page, from navigation to the
	// screen's test ids visible with their data; the median of 5.
	if _, err := chromedp.Call(b.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	b.do(t, "sign in", chromedp.Evaluate[chromedp.Void](`localStorage.setItem('memberflow.lang', 'en')`), chromedp.Navigate(s.URL+"/ui/"))
	b.typeInto(t, "signin-token", adminToken)
	b.do(t, "sign in", chromedp.KeyEvent(kb.Enter))
	b.waitVisible(t, "nav-journeys")
	list := b.renderTime(t, "#/journeys", visibleJS(tid("journey-row-activation")))
	member := b.renderTime(t, "#/members/"+showcase, visibleJS(tid("member-profile"))+" && "+visibleJS(timelineEntry("sent", testJourney)))
	fmt.Printf("console: journeys list %d ms, member %d ms (%d members)\n", list.Milliseconds(), member.Milliseconds(), bulkMembers)
	if list > renderBudget || member > renderBudget {
		t.Errorf("the journeys list (%s) or the member screen (%s) took longer than %s to render", list, member, renderBudget)
	}
	b.noErrors(t, "render times")
}

// seedMembers writes n member projections straight into the stack's
// store, as dispatch would after their registrations (webhooks would take
// the pipeline minutes for 10,000).
func seedMembers(t *testing.T, s *localstack.Stack, n int) {
	t.Helper()
	ctx := context.Background()
	zones := []string{"Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore"}
	at := time.Now().Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				id := fmt.Sprintf("m-%06d", i)
				m := loyalty.Member{
					ID: id, Email: id + "@example.com", Name: fmt.Sprintf("Member %d", i), Timezone: zones[i%len(zones)], Locale: "zh-CN",
					Consent: loyalty.Consent{EmailMarketing: i%3 != 0, UpdatedAt: at}, RegisteredAt: at.Add(time.Duration(i) * time.Minute),
					UpdatedAt: at.Add(time.Duration(i) * time.Minute), Version: 1,
				}
				if err := s.Activities.Store.SaveMember(ctx, m, "seed-"+id); err != nil {
					errs <- fmt.Errorf("seed member %s: %w", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// fullPage is a PNG of the whole page, 1280 px wide (a JPEG of quality 80
// when the PNG would be too large for the repository). The viewport grows
// to the page's height for the shot and then goes back to 1280×800: a
// capture beyond the viewport leaves the sandboxed email preview (a frame
// of its own) blank.
func (b *browser) fullPage(t *testing.T) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	m, err := chromedp.Call(ctx, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	h := int64(min(max(m.CSSContentSize.Height, 800), 4000))
	b.do(t, "grow the viewport", chromedp.EmulateViewport(1280, h))
	defer b.do(t, "restore the viewport", chromedp.EmulateViewport(1280, 800))
	b.settle(t)
	shot := func(format page.CaptureScreenshotFormat, quality int64) []byte {
		p := page.CaptureScreenshotParams{Format: format, FromSurface: new(true)}
		if format == page.CaptureScreenshotFormatJpeg {
			p.Quality = &quality
		}
		r, err := chromedp.Call(ctx, page.CaptureScreenshot, p)
		if err != nil {
			t.Fatal(err)
		}
		return r.Data
	}
	img := shot(page.CaptureScreenshotFormatPng, 0)
	if len(img) > maxScreenshot {
		img = shot(page.CaptureScreenshotFormatJpeg, 80)
	}
	return img
}

// settle waits for fonts, two animation frames and any chart animation, so
// a screenshot shows the screen at rest.
func (b *browser) settle(t *testing.T) {
	t.Helper()
	eval[bool](t, b, `document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))))`)
	time.Sleep(time.Second)
}

// renderTime is the median of 5 full loads of route until ready holds.
func (b *browser) renderTime(t *testing.T, route, ready string) time.Duration {
	t.Helper()
	var ds []time.Duration
	for range 5 {
		b.do(t, "blank", chromedp.Navigate("about:blank"))
		began := time.Now()
		b.do(t, "open "+route, chromedp.Navigate(b.base+"/ui/"+route))
		b.waitFor(t, route+" rendered", ready)
		ds = append(ds, time.Since(began))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}
