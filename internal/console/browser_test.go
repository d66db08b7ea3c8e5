package console_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/mail/outbox"
)

// The journey the browser test writes in the editor: every new member gets
// the activation nudge. The broken one's expires is not a duration.
const (
	testJourney = "console_welcome"
	// testStep is the journey's one step, and testEmail what it sends.
	testStep  = "nudge"
	testEmail = "activation_nudge"
)

func journeySource(expires string) string {
	return `name: ` + testJourney + `
description: Nudge every new member towards a first order
priority: 10
trigger:
  event: member.registered
steps:
  - id: ` + testStep + `
    send: { email: ` + testEmail + ` }
    expires: ` + expires + `
`
}

// han matches Chinese characters.
var han = regexp.MustCompile(`\p{Han}`)

// TestConsole drives the marketer console in headless Chromium against the
// real local stack, in order, as a marketer would: sign in, write a journey
// with a mistake, fix and publish it, pause and resume it (the dialogs
// counting the members in flight as the API does), watch a webhook enrol
// a member and find the send on the member's timeline, see the journey's
// graph and chart count it, publish a second version and compare the two,
// switch to 简体中文 and find no English left on any screen, visit every
// screen, sign out. Every screen is checked with axe-core and for console
// errors, and the keyboard reaches every form.
func TestConsole(t *testing.T) {
	root := prerequisites(t)
	began := time.Now()
	browserFor := startBrowser(t, root)
	s := startStack(t, root, nil)
	stackUp := time.Since(began)
	b := browserFor(s.URL)
	t.Logf("local stack up in %s, Chromium %s later", stackUp.Round(time.Millisecond), (time.Since(began) - stackUp).Round(time.Millisecond))
	defer func() { t.Logf("TestConsole took %s", time.Since(began).Round(time.Millisecond)) }()
	cat := loadCatalogues(t, root)

	const member = "console-m1"
	// Steps whose failure leaves nothing for the later ones to check.
	critical := map[string]bool{"sign in": true, "fix and publish": true, "webhook enrols a member": true}
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"keyboard reaches sign-in", func(t *testing.T) {
			b.open(t, "")
			b.waitVisible(t, "signin-token")
			if lang := eval[string](t, b, `document.documentElement.lang`); lang != "en" {
				t.Errorf("html[lang] = %q before any choice in an en-US browser, want en", lang)
			}
			if typ := b.attr(t, "signin-token", "type"); typ != "password" {
				t.Errorf("signin-token is type=%q, want password", typ)
			}
			b.tabReaches(t, "signin-token", "signin-submit")
			b.accessible(t, "sign-in")
		}},
		{"sign in", func(t *testing.T) {
			b.typeInto(t, "signin-token", "not-the-token")
			b.click(t, "signin-submit")
			b.waitVisible(t, "signin-error")
			if got, want := b.text(t, "signin-error"), cat.en["signin.wrong"]; want == "" || !strings.Contains(got, want) {
				t.Errorf("signin-error = %q after a wrong token, want the catalogue's %q", got, want)
			}
			if eval[bool](t, b, visibleJS(tid("nav-journeys"))) {
				t.Fatal("a wrong token signed in")
			}
			b.typeInto(t, "signin-token", adminToken)
			b.do(t, "submit with Enter", chromedp.KeyEvent(kb.Enter))
			b.waitVisible(t, "nav-journeys")
			if eval[bool](t, b, visibleJS(tid("signin-error"))) {
				t.Error("signin-error still shows after signing in")
			}
		}},
		{"session cookie and storage", func(t *testing.T) {
			var session *network.Cookie
			for _, c := range b.cookies(t) {
				if c.Name == "memberflow_session" {
					session = c
				}
			}
			if session == nil {
				t.Fatal("no memberflow_session cookie after signing in")
			}
			if !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict || session.Path != "/" {
				t.Errorf("memberflow_session: HttpOnly=%t SameSite=%q Path=%q, want HttpOnly, Strict, /", session.HTTPOnly, session.SameSite, session.Path)
			}
			if session.Secure {
				t.Error("memberflow_session is Secure over plain http: the browser would never send it back")
			}
			if strings.Contains(session.Value, adminToken) {
				t.Error("the session cookie holds the raw token")
			}
			b.noTokenInPage(t)
			// The cookie alone cannot change anything: a state-changing call
			// from the page without X-CSRF-Token is refused.
			code := eval[int](t, b, `fetch('/v1/journeys/activation/pause', {method: 'POST', credentials: 'same-origin'}).then(r => r.status)`)
			if code != http.StatusForbidden {
				t.Errorf("POST /v1/journeys/activation/pause with the cookie and no X-CSRF-Token: %d, want 403", code)
			}
			b.dropErrors(t, "/v1/journeys/activation/pause", "403")
			var d struct {
				Status string `json:"status"`
			}
			if api(t, s, http.MethodGet, "/v1/journeys/activation", nil, &d); d.Status != "live" {
				t.Errorf("activation is %q after a refused pause, want live", d.Status)
			}
			// A reload keeps the session: the page asks GET /ui/session.
			b.do(t, "reload", chromedp.Reload())
			b.waitVisible(t, "nav-journeys")
			b.noTokenInPage(t)
		}},
		{"keyboard reaches the navigation", func(t *testing.T) {
			b.tabReaches(t, "nav-journeys", "nav-members", "nav-program", "nav-emails", "nav-analytics", "lang-switch", "signout")
		}},
		{"a journey with a mistake", func(t *testing.T) {
			broken := journeySource("soon")
			var v struct {
				Valid    bool `json:"valid"`
				Problems []struct {
					Path string `json:"path"`
					Rule string `json:"rule"`
					Line int    `json:"line"`
				} `json:"problems"`
			}
			if code := api(t, s, http.MethodPost, "/v1/journeys/validate", []byte(broken), &v); code != http.StatusOK || v.Valid || len(v.Problems) != 1 {
				t.Fatalf("the API's validation of the broken journey: %d %+v, want one problem", code, v)
			}
			want := v.Problems[0]
			if want.Path != "steps[0].expires" {
				t.Fatalf("the API puts the mistake at %q, want steps[0].expires", want.Path)
			}
			b.click(t, "nav-journeys")
			b.click(t, "new-journey")
			b.waitVisible(t, "editor")
			b.setEditor(t, broken)
			b.waitFor(t, "validate-state problems", fmt.Sprintf(`document.querySelector(%q)?.dataset.state === 'problems'`, tid("validate-state")))
			sel := fmt.Sprintf(`[data-testid="problems"] [data-testid="problem"][data-path=%q]`, want.Path)
			b.waitFor(t, "the problem at "+want.Path, visibleJS(sel))
			if msg := eval[string](t, b, fmt.Sprintf(`document.querySelector(%q).textContent.trim()`, sel)); !strings.Contains(msg, want.Rule) {
				t.Errorf("the problem at %s says %q, want the API's rule %q", want.Path, msg, want.Rule)
			}
			// The inline diagnostic: a CodeMirror lint range on the line the
			// API names.
			b.waitFor(t, "an inline lint range", `document.querySelector('[data-testid="editor"] .cm-lintRange')`)
			line := eval[int](t, b, `(() => {
				const r = document.querySelector('[data-testid="editor"] .cm-lintRange');
				const lines = [...document.querySelectorAll('[data-testid="editor"] .cm-content .cm-line')];
				return lines.indexOf(r.closest('.cm-line')) + 1;
			})()`)
			if line != want.Line {
				t.Errorf("the lint range is on line %d, the API says line %d", line, want.Line)
			}
			b.accessible(t, "journey editor with a problem")
		}},
		{"fix and publish", func(t *testing.T) {
			b.setEditor(t, journeySource("1d"))
			b.waitFor(t, "validate-state ok", fmt.Sprintf(`document.querySelector(%q)?.dataset.state === 'ok'`, tid("validate-state")))
			if n := eval[int](t, b, `document.querySelectorAll('[data-testid="problem"]').length`); n != 0 {
				t.Errorf("%d problems still listed after the fix", n)
			}
			if eval[bool](t, b, `!!document.querySelector('[data-testid="editor"] .cm-lintRange')`) {
				t.Error("a lint range is still shown after the fix")
			}
			b.click(t, "publish")
			b.waitFor(t, "the publish result", fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? '').trim() !== ''`, tid("publish-result")))
			if eval[bool](t, b, visibleJS(tid("error-banner"))) {
				t.Errorf("publishing shows an error: %s", b.text(t, "error-banner"))
			}
			var d struct {
				Status string `json:"status"`
				Live   int    `json:"live"`
				Source string `json:"source"`
			}
			if code := api(t, s, http.MethodGet, "/v1/journeys/"+testJourney, nil, &d); code != http.StatusOK {
				t.Fatalf("GET the published journey: %d", code)
			}
			if d.Status != "live" || d.Live != 1 || strings.TrimSpace(d.Source) != strings.TrimSpace(journeySource("1d")) {
				t.Fatalf("after publishing: status %q, live version %d, source %q; want live v1 with the editor's text", d.Status, d.Live, d.Source)
			}
		}},
		{"live in the journeys list", func(t *testing.T) {
			b.click(t, "nav-journeys")
			b.waitVisible(t, "journeys-table")
			b.waitVisible(t, "journey-row-"+testJourney)
			b.wantStatus(t, testJourney, "live", cat.en["status.live"])
			if row := b.text(t, "journey-row-"+testJourney); !strings.Contains(row, "member.registered") {
				t.Errorf("the row does not show the trigger member.registered: %q", row)
			}
			b.accessible(t, "journeys list")
		}},
		{"pause and resume", func(t *testing.T) {
			// Cancelled, nothing changes.
			b.click(t, "journey-pause-"+testJourney)
			b.confirmSays(t, s, cat, "pause", testJourney)
			b.accessible(t, "pause confirmation")
			b.click(t, "confirm-cancel")
			b.waitFor(t, "the dialog to close", `!document.querySelector('dialog[data-testid="confirm-dialog"]')?.open`)
			b.wantStatus(t, testJourney, "live", cat.en["status.live"])
			b.apiStatus(t, s, "live")

			b.click(t, "journey-pause-"+testJourney)
			b.waitFor(t, "the confirmation dialog", `document.querySelector('dialog[data-testid="confirm-dialog"]')?.open`)
			b.click(t, "confirm-ok")
			b.waitFor(t, "status paused", statusIs(testJourney, "paused"))
			b.apiStatus(t, s, "paused")

			b.click(t, "journey-resume-"+testJourney)
			b.confirmSays(t, s, cat, "resume", testJourney)
			b.click(t, "confirm-ok")
			b.waitFor(t, "status live", statusIs(testJourney, "live"))
			b.apiStatus(t, s, "live")
		}},
		{"webhook enrols a member", func(t *testing.T) {
			postEvents(t, s, registration(t, member, "Lin Mei", time.Now()))
			waitTimeline(t, s, member, testJourney, "sent", 60*time.Second)
			if !slices.Contains(outboxTemplates(t, s, member), testEmail) {
				t.Errorf("the timeline says sent but the outbox has no %s for %s", testEmail, member)
			}
			b.click(t, "nav-members")
			b.typeInto(t, "member-search", member)
			b.click(t, "member-search-submit")
			b.waitVisible(t, "member-profile")
			b.waitFor(t, "the enrollment in "+testJourney, fmt.Sprintf(`document.querySelector(%q)?.textContent.includes(%q)`, tid("member-enrollments"), testJourney))
			b.waitFor(t, "the sent decision on the timeline", visibleJS(timelineEntry("sent", testJourney)))
			if step := eval[string](t, b, fmt.Sprintf(`document.querySelector(%q).dataset.step`, timelineEntry("sent", testJourney))); step != testStep {
				t.Errorf("the sent entry is at step %q, want %q", step, testStep)
			}
			if !eval[bool](t, b, fmt.Sprintf(`!!document.querySelector(%q)`, timelineEntry("enrolled", testJourney))) {
				t.Error("the timeline has no enrolled entry for " + testJourney)
			}
			b.tabReaches(t, "member-search", "member-search-submit")
			b.accessible(t, "member")
		}},
		{"the confirmation counts the members in flight", func(t *testing.T) {
			// activation's welcome went to the member, who now waits in
			// its delay: one member in flight, which the pause dialog must
			// say in the catalogue's words.
			waitTimeline(t, s, member, "activation", "sent", 30*time.Second)
			b.open(t, "#/journeys")
			b.click(t, "journey-pause-activation")
			if n := b.confirmSays(t, s, cat, "pause", "activation"); n < 1 {
				t.Errorf("the API counts %d members in flight in activation after %s's welcome; the check needs one", n, member)
			}
			b.click(t, "confirm-cancel")
			b.waitFor(t, "the dialog to close", `!document.querySelector('dialog[data-testid="confirm-dialog"]')?.open`)
			b.wantStatus(t, "activation", "live", cat.en["status.live"])
		}},
		{"journey counts, keyboard and versions", func(t *testing.T) {
			b.open(t, "#/journeys/"+testJourney)
			b.waitVisible(t, "journey-graph")
			st := journeyStatsOf(t, s, testJourney)
			if st.Enrolled < 1 || st.sent(testStep) < 1 || st.daysTotal() < 1 {
				t.Fatalf("the API's stats of %s after the webhook: %d enrolled, %d sent at %s, %d sent in 30 days; want at least one each", testJourney, st.Enrolled, st.sent(testStep), testStep, st.daysTotal())
			}
			b.graphShows(t, cat, st, testStep)
			b.daysChartShows(t, cat, st)

			// The editor keeps Tab for indenting; Escape then Tab leaves
			// it, and the text is as it was.
			before := b.editorText(t)
			b.tabReaches(t, "editor", "save-draft", "publish")
			if after := b.editorText(t); after != before {
				t.Errorf("tabbing through the editor changed its text:\n%s\nwas\n%s", after, before)
			}
			// The way out is on the screen, and the editor is described by it.
			hint := eval[string](t, b, `(() => {
				const id = document.querySelector('[data-testid="editor"] .cm-content').getAttribute('aria-describedby');
				const h = id && document.getElementById(id);
				return h && h.getBoundingClientRect().height > 0 ? h.textContent.trim() : '';
			})()`)
			if hint != cat.en["journey.editor_hint"] {
				t.Errorf("the editor is described by %q, want the shown hint %q", hint, cat.en["journey.editor_hint"])
			}

			// Publishing a renamed copy from this screen is refused, naming both.
			b.setEditor(t, strings.Replace(journeySource("2d"), "name: "+testJourney, "name: "+testJourney+"_copy", 1))
			b.click(t, "publish")
			mismatch := render(cat.en["journey.name_mismatch"], map[string]string{"name": testJourney, "written": testJourney + "_copy"})
			b.waitFor(t, "the name check", fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? '').trim() === %s`, tid("publish-result"), jsString(mismatch)))
			if code := api(t, s, http.MethodGet, "/v1/journeys/"+testJourney+"_copy", nil, nil); code != http.StatusNotFound {
				t.Errorf("GET the renamed copy: %d, want 404 (nothing published)", code)
			}

			// A second version through the editor, then v1 against v2.
			b.setEditor(t, journeySource("2d"))
			b.waitFor(t, "validate-state checking", fmt.Sprintf(`document.querySelector(%q)?.dataset.state === 'checking'`, tid("validate-state")))
			b.waitFor(t, "validate-state ok", fmt.Sprintf(`document.querySelector(%q)?.dataset.state === 'ok'`, tid("validate-state")))
			b.click(t, "publish")
			published := cat.pattern(cat.en["journey.published"], map[string]string{"name": testJourney, "version": "2"})
			// Past the name check's refusal still showing.
			b.waitFor(t, "the publish result", fmt.Sprintf(`![%s, ''].includes((document.querySelector(%q)?.textContent ?? '').trim())`, jsString(mismatch), tid("publish-result")))
			if got := b.text(t, "publish-result"); !published.MatchString(got) {
				t.Errorf("publish-result says %q, want the catalogue's journey.published for %s version 2 (%s)", got, testJourney, published)
			}
			var d struct {
				Live   int    `json:"live"`
				Source string `json:"source"`
			}
			if api(t, s, http.MethodGet, "/v1/journeys/"+testJourney, nil, &d); d.Live != 2 || strings.TrimSpace(d.Source) != strings.TrimSpace(journeySource("2d")) {
				t.Fatalf("after publishing from the journey screen the API has live v%d with %q; want v2 with the editor's text", d.Live, d.Source)
			}
			b.waitFor(t, "two versions listed", `document.querySelectorAll('[data-testid="versions"] tbody tr').length === 2`)
			b.diffShows(t, cat, 1, 2, "    expires: 1d", "    expires: 2d")
			b.accessible(t, "journey with a version diff")
		}},
		{"lift panel", func(t *testing.T) { liftPanel(t, b, s, cat) }},
		{"simulate panel", func(t *testing.T) { simulatePanel(t, b, s, cat) }},
		{"analytics before the first refresh", func(t *testing.T) { analyticsEmpty(t, b, cat) }},
		{"简体中文", func(t *testing.T) {
			b.open(t, "#/members/"+member)
			b.waitVisible(t, "member-profile")
			b.waitFor(t, "the sent decision on the timeline", visibleJS(timelineEntry("sent", testJourney)))
			hash := eval[string](t, b, `location.hash`)
			en := b.text(t, "nav-members")
			enSent := eval[string](t, b, fmt.Sprintf(`document.querySelector(%q).textContent`, timelineEntry("sent", testJourney)))
			b.chooseLanguage(t, "zh-CN")
			zh := b.text(t, "nav-members")
			if zh == en || !han.MatchString(zh) || !slices.Contains(slices.Collect(maps.Values(cat.zh)), zh) {
				t.Errorf("nav-members reads %q in zh-CN (en %q): want the zh-CN catalogue's Chinese label", zh, en)
			}
			if got := eval[string](t, b, `location.hash`); got != hash {
				t.Errorf("switching language moved from %s to %s", hash, got)
			}
			b.waitVisible(t, "member-profile")
			zhSent := eval[string](t, b, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ''`, timelineEntry("sent", testJourney)))
			if zhSent == enSent || !han.MatchString(zhSent) {
				t.Errorf("the sent timeline entry is not translated: %q (en %q)", zhSent, enSent)
			}
			if v := eval[string](t, b, `localStorage.getItem('memberflow.lang') ?? ''`); v != "zh-CN" {
				t.Errorf("localStorage memberflow.lang = %q, want zh-CN", v)
			}
			b.accessible(t, "member (zh-CN)")
			// Remembered across a reload.
			b.do(t, "reload", chromedp.Reload())
			b.waitVisible(t, "member-profile")
			if lang := eval[string](t, b, `document.documentElement.lang`); lang != "zh-CN" {
				t.Errorf("html[lang] = %q after a reload, want zh-CN", lang)
			}
			// Every screen in zh-CN shows no English the catalogue
			// translates, and no English sentence outside the data.
			data := screenData(t, s, member)
			for _, sc := range []struct{ name, route, ready string }{
				{"journeys", "#/journeys", visibleJS(tid("journey-row-" + testJourney))},
				{"journey " + testJourney, "#/journeys/" + testJourney, visibleJS(tid("graph-node-"+testStep)) + ` && document.querySelector('[data-testid="journey-graph"] g.edge[data-count]')`},
				{"journey activation", "#/journeys/activation", visibleJS(tid("graph-node-welcome")) + ` && document.querySelector('[data-testid="journey-graph"] g.edge[data-count]')`},
				{"member", "#/members/" + member, visibleJS(timelineEntry("sent", testJourney)) + ` && document.querySelector('[data-testid="member-ledger"] tbody tr')`},
				{"programme", "#/program", visibleJS(tid("program-rules")) + " && " + visibleJS(tid("program-liability"))},
				{"emails", "#/emails", `(document.querySelector('iframe[data-testid="email-preview"]')?.srcdoc ?? '') !== '' && document.querySelector('.email-preview-card dl')`},
				{"journey " + liftJourney, "#/journeys/" + liftJourney, visibleJS(tid("lift-chart")) + " && " + visibleJS(tid("lift-path-"+liftSplit+"-1"))},
				{"analytics", "#/analytics", visibleJS(tid("analytics-empty"))},
			} {
				b.open(t, sc.route)
				b.waitFor(t, sc.name+" in zh-CN", sc.ready+fmt.Sprintf(` && !document.querySelector('main').innerText.includes(%s)`, jsString(cat.zh["common.loading"])))
				for _, p := range cat.english(b.mainText(t), data) {
					t.Errorf("%s in zh-CN shows English: %s", sc.name, p)
				}
				if sc.name == "analytics" {
					b.dropErrors(t, "/v1/analytics/", "404")
				}
			}
			simulateInChinese(t, b, cat, data)
			b.open(t, "#/members/"+member)
			b.waitVisible(t, "member-profile")
			b.chooseLanguage(t, "en")
			if got := b.text(t, "nav-members"); got != en {
				t.Errorf("back in en, nav-members reads %q, want %q", got, en)
			}
		}},
		{"every screen", func(t *testing.T) {
			screens := []struct {
				name, route string
				ids         []string
			}{
				{"journeys", "#/journeys", []string{"journeys-table", "journey-row-" + testJourney, "journey-row-activation", "new-journey"}},
				{"journey", "#/journeys/" + testJourney, []string{"journey-graph", "graph-node-" + testStep, "funnel-chart", "days-chart", "versions", "editor"}},
				{"member", "#/members/" + member, []string{"member-profile", "member-tier", "member-points", "member-coupons", "member-enrollments", "member-ledger", "timeline"}},
				{"programme", "#/program", []string{"program-liability", "program-tiers", "program-coupons", "program-rules"}},
				{"emails", "#/emails", []string{"emails-list", "email-" + testEmail}},
			}
			for _, sc := range screens {
				t.Run(sc.name, func(t *testing.T) {
					defer b.noErrors(t, sc.name)
					b.open(t, sc.route)
					for _, id := range sc.ids {
						b.waitVisible(t, id)
					}
					if eval[bool](t, b, visibleJS(tid("error-banner"))) {
						t.Errorf("%s: error-banner shows %q", sc.name, b.text(t, "error-banner"))
					}
					switch sc.name {
					case "journey":
						b.graphShows(t, cat, journeyStatsOf(t, s, testJourney), testStep)
					case "emails":
						b.click(t, "email-"+testEmail)
						b.waitFor(t, "the preview", `(document.querySelector('iframe[data-testid="email-preview"]')?.srcdoc ?? '').length > 0`)
						if sb := eval[bool](t, b, `document.querySelector('iframe[data-testid="email-preview"]').hasAttribute('sandbox')`); !sb {
							t.Error("the email preview iframe is not sandboxed")
						}
						before := eval[string](t, b, `document.querySelector('iframe[data-testid="email-preview"]').srcdoc`)
						b.typeInto(t, "email-preview-member", member)
						b.click(t, "email-preview-submit")
						b.waitFor(t, "the member's preview", fmt.Sprintf(`(() => { const s = document.querySelector('iframe[data-testid="email-preview"]')?.srcdoc ?? ''; return s.length > 0 && s !== %s; })()`, jsString(before)))
						b.frameErrors(t)
						b.tabReaches(t, "email-preview-member", "email-preview-submit")
					}
					b.accessible(t, sc.name)
				})
			}
		}},
		{"sign out", func(t *testing.T) {
			b.click(t, "signout")
			b.waitVisible(t, "signin-token")
			for _, c := range b.cookies(t) {
				if c.Name == "memberflow_session" && c.Value != "" {
					t.Errorf("memberflow_session is still set after signing out")
				}
			}
			b.do(t, "reload", chromedp.Reload())
			b.waitVisible(t, "signin-token")
			if eval[bool](t, b, visibleJS(tid("nav-journeys"))) {
				t.Error("the shell shows after signing out and reloading")
			}
		}},
	}
	for _, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			defer b.noErrors(t, st.name)
			st.run(t)
		})
		if !ok && critical[st.name] {
			t.Fatalf("stopping: %q failed and the steps after it depend on it", st.name)
		}
	}
}

// typeInto replaces the value of an input with text typed as keys.
func (b *browser) typeInto(t *testing.T, id, text string) {
	t.Helper()
	b.waitVisible(t, id)
	b.do(t, "type into "+id, chromedp.Clear(chromedp.CSS(tid(id))), chromedp.SendKeys(chromedp.CSS(tid(id)), text))
}

// tabReaches presses Tab from the top of the page until the test ids
// had the focus, first reached in the order given, each with a visible
// focus indicator. Where the focus is in a CodeMirror editor, whose Tab
// indents, it presses Escape first: CodeMirror's way out for the keyboard.
// "editor" (or "versions-diff") stands for the CodeMirror content inside
// that test id.
func (b *browser) tabReaches(t *testing.T, ids ...string) {
	t.Helper()
	// Start from the top of the page: a sentinel before everything takes
	// the focus, so the first Tab goes to the page's first control (an
	// autofocused input would otherwise be skipped).
	eval[bool](t, b, `(() => {
		const s = document.createElement('span');
		s.id = 'tab-start';
		s.tabIndex = -1;
		document.body.prepend(s);
		s.focus();
		return true;
	})()`)
	defer eval[bool](t, b, `(document.getElementById('tab-start')?.remove(), true)`)
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var order, reached []string
	inEditor := false
	for i := 0; i < 80 && len(reached) < len(ids); i++ {
		if inEditor {
			b.do(t, "press Escape", chromedp.KeyEvent(kb.Escape))
			order = append(order, "Esc")
		}
		b.do(t, "press Tab", chromedp.KeyEvent(kb.Tab))
		var f struct {
			ID       string `json:"id"`
			Visible  bool   `json:"visible"`
			InEditor bool   `json:"inEditor"`
		}
		// CodeMirror marks its editor focused (cm-focused, which the
		// console outlines) once it has seen the focus event, a little later.
		raw := eval[string](t, b, `(async () => {
			const e = document.activeElement;
			if (!e || e === document.body) return JSON.stringify({id: '', visible: false, inEditor: false});
			const cm = e.classList.contains('cm-content');
			for (let i = 0; cm && i < 25 && !e.closest('.cm-editor').classList.contains('cm-focused'); i++) await new Promise(r => setTimeout(r, 20));
			const box = cm ? e.closest('.cm-editor') : e;
			const s = getComputedStyle(box);
			const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
			const shadow = s.boxShadow && s.boxShadow !== 'none';
			const id = e.dataset.testid || (cm && e.closest('[data-testid]')?.dataset.testid) || e.tagName.toLowerCase();
			return JSON.stringify({id, visible: e.matches(':focus-visible') && (outline || shadow), inEditor: cm});
		})()`)
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			t.Fatal(err)
		}
		order = append(order, f.ID)
		inEditor = f.InEditor
		if f.ID == "" {
			break // past the last control: the focus left the page
		}
		if want[f.ID] {
			delete(want, f.ID)
			reached = append(reached, f.ID)
			if !f.Visible {
				t.Errorf("%s has the keyboard focus but no visible focus indicator (outline or box-shadow)", f.ID)
			}
		}
	}
	t.Logf("Tab order: %s", strings.Join(order, " → "))
	if !slices.Equal(reached, ids) {
		t.Errorf("Tab reached %v, want %s in that order; the focus went through %s", reached, strings.Join(ids, " → "), strings.Join(order, " → "))
	}
}

// noTokenInPage checks the raw token is nowhere script-readable: not in
// document.cookie, web storage or the DOM, and web storage holds nothing
// but the language.
func (b *browser) noTokenInPage(t *testing.T) {
	t.Helper()
	raw := eval[string](t, b, fmt.Sprintf(`JSON.stringify((() => {
		const tok = %s;
		const dump = s => Object.keys(s).map(k => [k, s.getItem(k)]);
		const local = dump(localStorage), session = dump(sessionStorage);
		return {
			cookie: document.cookie,
			localKeys: local.map(([k]) => k),
			sessionKeys: session.map(([k]) => k),
			inStorage: [...local, ...session].some(([k, v]) => (k + v).includes(tok)),
			inDOM: document.documentElement.outerHTML.includes(tok) || [...document.querySelectorAll('input, textarea')].some(i => i.value.includes(tok)),
		};
	})())`, jsString(adminToken)))
	var got struct {
		Cookie      string   `json:"cookie"`
		LocalKeys   []string `json:"localKeys"`
		SessionKeys []string `json:"sessionKeys"`
		InStorage   bool     `json:"inStorage"`
		InDOM       bool     `json:"inDOM"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.Cookie, "memberflow_session") {
		t.Errorf("document.cookie shows the session cookie: %q", got.Cookie)
	}
	if got.InStorage {
		t.Error("the raw token is in localStorage or sessionStorage")
	}
	if got.InDOM {
		t.Error("the raw token is in the page (DOM or an input's value)")
	}
	for _, k := range got.LocalKeys {
		if k != "memberflow.lang" {
			t.Errorf("localStorage holds %q; only memberflow.lang belongs there", k)
		}
	}
	if len(got.SessionKeys) > 0 {
		t.Errorf("sessionStorage holds %v; it should hold nothing", got.SessionKeys)
	}
}

// setEditor replaces the journey editor's text as a paste would, and
// checks CodeMirror took it as it is.
func (b *browser) setEditor(t *testing.T, src string) {
	t.Helper()
	b.waitFor(t, "the CodeMirror editor", `document.querySelector('[data-testid="editor"] .cm-content')`)
	eval[bool](t, b, fmt.Sprintf(`(() => {
		const c = document.querySelector('[data-testid="editor"] .cm-content');
		c.focus();
		document.execCommand('selectAll', false);
		return document.execCommand('insertText', false, %s);
	})()`, jsString(src)))
	want := strings.TrimRight(src, "\n")
	b.waitFor(t, "the editor to hold the pasted text", fmt.Sprintf(`[...document.querySelectorAll('[data-testid="editor"] .cm-content .cm-line')].map(l => l.textContent).join('\n').trimEnd() === %s`, jsString(want)))
}

// statusIs is true when the journeys list shows the journey's raw status.
func statusIs(name, status string) string {
	return fmt.Sprintf(`document.querySelector(%q)?.dataset.status === %q`, tid("journey-status-"+name), status)
}

// wantStatus checks the list's status of a journey, raw and as the
// catalogue labels it (label: the screen's language's text).
func (b *browser) wantStatus(t *testing.T, name, status, label string) {
	t.Helper()
	b.waitFor(t, name+" "+status, statusIs(name, status))
	if got := b.text(t, "journey-status-"+name); label == "" || got != label {
		t.Errorf("journey-status-%s shows %q, want %q", name, got, label)
	}
}

// apiStatus checks the test journey's status through the API.
func (b *browser) apiStatus(t *testing.T, s *localstack.Stack, want string) {
	t.Helper()
	var d struct {
		Status string `json:"status"`
	}
	api(t, s, http.MethodGet, "/v1/journeys/"+testJourney, nil, &d)
	if d.Status != want {
		t.Errorf("the API says %s is %q, want %q", testJourney, d.Status, want)
	}
}

// chooseLanguage picks a language in lang-switch as a person would (the
// select's value and its change event) and waits for html[lang].
func (b *browser) chooseLanguage(t *testing.T, lang string) {
	t.Helper()
	b.waitVisible(t, "lang-switch")
	eval[bool](t, b, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.focus();
		s.value = %q;
		s.dispatchEvent(new Event('input', {bubbles: true}));
		s.dispatchEvent(new Event('change', {bubbles: true}));
		return true;
	})()`, tid("lang-switch"), lang))
	b.waitFor(t, "html[lang="+lang+"]", fmt.Sprintf(`document.documentElement.lang === %q`, lang))
}

// timelineEntry selects a timeline entry of a kind and journey.
func timelineEntry(kind, journey string) string {
	return fmt.Sprintf(`[data-testid="timeline-entry"][data-kind=%q][data-journey=%q]`, kind, journey)
}

// outboxTemplates are the templates of the emails sent to member.
func outboxTemplates(t *testing.T, s *localstack.Stack, member string) []string {
	t.Helper()
	entries, err := (&outbox.Sink{Dir: s.OutboxDir}).List()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.MemberID == member {
			out = append(out, e.Template)
		}
	}
	return out
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// catalogues are the front end's two catalogues (console/src/i18n),
// flattened to dotted keys, and the English strings a zh-CN screen must
// not show.
type catalogues struct {
	en, zh  map[string]string
	checked []englishString
}

// englishString is an en catalogue string whose zh-CN counterpart differs,
// as a pattern: its placeholders match anything on one line, and it must
// stand as words of its own (not inside a longer word or identifier).
type englishString struct {
	key, text, zh string
	re            *regexp.Regexp
}

// minLetters is how many letters an English string's fixed text needs to
// be looked for: shorter ones ("Id", "No.", "v{{n}}", "for {{d}}") are as
// likely to be part of data or of a unit as to be untranslated text.
const minLetters = 4

var placeholder = regexp.MustCompile(`\{\{\s*([\w.]+)\s*\}\}`)

// notWord is what may stand next to an English word: not a Latin letter
// or digit, and not what joins an identifier or address ("member" is not
// a word of member.registered, console-m1 or order_paid). A Chinese
// character is a word's edge.
const notWord = `[^A-Za-z0-9_.\-/'@]`

func isWordRune(r rune) bool { return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) }

func loadCatalogues(t *testing.T, root string) catalogues {
	t.Helper()
	c := catalogues{en: readCatalogue(t, root, "en"), zh: readCatalogue(t, root, "zh-CN")}
	var short []string
	for _, key := range slices.Sorted(maps.Keys(c.en)) {
		text := c.en[key]
		zh, ok := c.zh[key]
		if !ok && strings.HasSuffix(key, "_one") {
			// Chinese has one plural form: i18next uses _other for every count.
			zh, ok = c.zh[strings.TrimSuffix(key, "_one")+"_other"]
		}
		if ok && zh == text {
			continue // the same in both languages ("API", "Webhook")
		}
		parts := placeholder.Split(text, -1)
		letters := 0
		for _, p := range parts {
			for _, r := range p {
				if unicode.IsLetter(r) {
					letters++
				}
			}
		}
		if letters < minLetters {
			short = append(short, text)
			continue
		}
		// A placeholder at either end adds nothing to look for: the
		// pattern is the fixed text from the first to the last literal
		// part, with placeholders in between matching any text on the line.
		for len(parts) > 1 && strings.TrimSpace(parts[0]) == "" {
			parts = parts[1:]
		}
		for len(parts) > 1 && strings.TrimSpace(parts[len(parts)-1]) == "" {
			parts = parts[:len(parts)-1]
		}
		core := strings.Join(parts, "\x00")
		first, _ := utf8.DecodeRuneInString(core)
		last, _ := utf8.DecodeLastRuneInString(core)
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		body := strings.Join(parts, `[^\n]+?`)
		before, after := "()", "()"
		if isWordRune(first) {
			before = "(^|" + notWord + ")"
		}
		if isWordRune(last) {
			after = "($|" + notWord + ")"
		}
		c.checked = append(c.checked, englishString{key: key, text: text, zh: zh, re: regexp.MustCompile(`(?m)` + before + `(` + body + `)` + after)})
	}
	if len(c.checked) < 100 {
		t.Fatalf("only %d English catalogue strings to look for: the catalogues are not what the test expects", len(c.checked))
	}
	t.Logf("looking for %d English catalogue strings on zh-CN screens; %d too short to tell from data: %q", len(c.checked), len(short), short)
	return c
}

func readCatalogue(t *testing.T, root, lang string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "console", "src", "i18n", lang+".json"))
	if err != nil {
		t.Fatalf("the %s catalogue: %v", lang, err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("the %s catalogue: %v", lang, err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case string:
			out[prefix] = v
		case map[string]any:
			for k, x := range v {
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(k, x)
			}
		}
	}
	walk("", v)
	return out
}

// render fills a catalogue string's placeholders as i18next does.
func render(text string, vars map[string]string) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		return vars[placeholder.FindStringSubmatch(m)[1]]
	})
}

// plural is the en catalogue's key for count n (key_one for 1 where the
// catalogue has it, else key_other), rendered.
func (c catalogues) plural(key string, n int64, vars map[string]string) string {
	text, ok := c.en[key+"_other"]
	if one, has := c.en[key+"_one"]; has && n == 1 {
		text = one
	}
	if !ok {
		text = c.en[key]
	}
	return render(text, vars)
}

// pattern matches the whole of a catalogue string with the given
// placeholders filled and any others standing for some text.
func (c catalogues) pattern(text string, vars map[string]string) *regexp.Regexp {
	var sb strings.Builder
	sb.WriteString(`^`)
	rest := text
	for _, loc := range placeholder.FindAllStringSubmatchIndex(text, -1) {
		off := len(text) - len(rest)
		sb.WriteString(regexp.QuoteMeta(text[off:loc[0]]))
		if v, ok := vars[text[loc[2]:loc[3]]]; ok {
			sb.WriteString(regexp.QuoteMeta(v))
		} else {
			sb.WriteString(`.+?`)
		}
		rest = text[loc[1]:]
	}
	sb.WriteString(regexp.QuoteMeta(rest) + `$`)
	return regexp.MustCompile(sb.String())
}

// functionWords are English words no Chinese screen has outside data: a
// sentence the API or the page made up in English ("no order.paid for 60d
// at 10:00") shows them even when no catalogue string matches.
var functionWords = regexp.MustCompile(`(?im)(^|` + notWord + `)(no|not|for|at|when|every|on|once|to|until|after|before|the|and|of|in|with|from|your|is|are|by)($|` + notWord + `)`)

// english is what of a zh-CN screen's text is English the console should
// have translated, once the data (whole words of it) is taken out of the
// text: en catalogue strings whose zh-CN counterpart differs, and English
// function words.
func (c catalogues) english(text string, data []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	rest := text
	for _, d := range data { // longest first: a name inside a description goes with it
		re := regexp.MustCompile(`(^|` + notWord + `)` + regexp.QuoteMeta(d) + `($|` + notWord + `)`)
		for re.MatchString(rest) { // adjacent occurrences share an edge
			rest = re.ReplaceAllString(rest, "${1}\n${2}")
		}
	}
	for _, e := range c.checked {
		for _, m := range e.re.FindAllStringSubmatch(rest, -1) {
			add(fmt.Sprintf("%q (en %s %q; zh-CN %q)", m[2], e.key, e.text, e.zh))
		}
	}
	for _, loc := range functionWords.FindAllStringSubmatchIndex(rest, -1) {
		lo, hi := max(0, loc[4]-30), min(len(rest), loc[5]+30)
		for lo > 0 && !utf8.RuneStart(rest[lo]) {
			lo--
		}
		for hi < len(rest) && !utf8.RuneStart(rest[hi]) {
			hi++
		}
		add(fmt.Sprintf("the English word %q in %q", rest[loc[4]:loc[5]], strings.TrimSpace(rest[lo:hi])))
	}
	return out
}

// screenData is the text the console shows as it is, in any language,
// because it is data and not the console's words; the zh-CN check takes it
// out of the screens' text before looking for English. Longest first.
func screenData(t *testing.T, s *localstack.Stack, member string) []string {
	t.Helper()
	var data []string
	// Journey names and step ids (identifiers the marketer chose, in the
	// list, the graph, the timeline) and each journey's description (the
	// marketer's own words, shown under its name).
	var list struct {
		Journeys []struct {
			Name string `json:"name"`
		} `json:"journeys"`
	}
	api(t, s, http.MethodGet, "/v1/journeys", nil, &list)
	for _, j := range list.Journeys {
		var d struct {
			Definition struct {
				Description string `json:"description"`
				Steps       []struct {
					ID string `json:"id"`
				} `json:"steps"`
			} `json:"definition"`
		}
		api(t, s, http.MethodGet, "/v1/journeys/"+j.Name, nil, &d)
		data = append(data, j.Name, d.Definition.Description)
		for _, st := range d.Definition.Steps {
			data = append(data, st.ID)
		}
	}
	// Templates: names and groups (identifiers) and subjects (the emails'
	// own text, which a template's author writes in the members'
	// language); the emails screen previews the first with the sample
	// member, whose rendered subject and preheader are the email's text too.
	var templates []struct {
		Name    string `json:"name"`
		Subject string `json:"subject"`
		Group   string `json:"group"`
	}
	api(t, s, http.MethodGet, "/v1/templates", nil, &templates)
	for _, tm := range templates {
		data = append(data, tm.Name, tm.Subject, tm.Group)
	}
	if len(templates) > 0 {
		var p struct {
			Subject   string `json:"subject"`
			Preheader string `json:"preheader"`
		}
		api(t, s, http.MethodPost, "/v1/templates/"+templates[0].Name+"/preview", []byte(`{}`), &p)
		data = append(data, p.Subject, p.Preheader)
	}
	// The programme's names (tiers, coupons, RFM segments: the operator's
	// configuration, "At risk" or "金卡" as configured).
	var program any
	api(t, s, http.MethodGet, "/v1/program", nil, &program)
	var names func(any)
	names = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if n, ok := x.(string); ok && k == "name" {
					data = append(data, n)
				}
				names(x)
			}
		case []any:
			for _, x := range v {
				names(x)
			}
		}
	}
	names(program)
	// The member's id, name and email, and the ledger's reasons: each ledger
	// line keeps the reason written when it was booked (an audit record,
	// not the console's words).
	var m struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	api(t, s, http.MethodGet, "/v1/members/"+member, nil, &m)
	data = append(data, member, m.Name, m.Email)
	var ledger struct {
		Entries []struct {
			Reason string `json:"reason"`
		} `json:"entries"`
	}
	api(t, s, http.MethodGet, "/v1/members/"+member+"/ledger", nil, &ledger)
	for _, e := range ledger.Entries {
		data = append(data, e.Reason)
	}
	data = slices.DeleteFunc(data, func(d string) bool { return strings.TrimSpace(d) == "" })
	slices.SortFunc(data, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(data)
}

// mainText is what main shows (its innerText), without the CodeMirror
// editors and diff: they hold a journey's definition, which is data.
func (b *browser) mainText(t *testing.T) string {
	t.Helper()
	return eval[string](t, b, `(() => {
		// CodeMirror's own style is display: flex !important.
		const hidden = [...document.querySelectorAll('main .cm-editor')].map(e => [e, e.style.cssText]);
		hidden.forEach(([e]) => e.style.setProperty('display', 'none', 'important'));
		const text = document.querySelector('main').innerText;
		hidden.forEach(([e, css]) => { e.style.cssText = css; });
		return text;
	})()`)
}

// confirmSays waits for the confirmation dialog of action on journey and
// checks it says, in the catalogue's words, what happens to the members
// in flight, counting as many as the API's active count. It returns that
// count.
func (b *browser) confirmSays(t *testing.T, s *localstack.Stack, cat catalogues, action, journey string) int64 {
	t.Helper()
	b.waitFor(t, "the confirmation dialog", `document.querySelector('dialog[data-testid="confirm-dialog"]')?.open`)
	var list struct {
		Journeys []struct {
			Name   string `json:"name"`
			Active int64  `json:"active"`
		} `json:"journeys"`
	}
	api(t, s, http.MethodGet, "/v1/journeys", nil, &list)
	active := int64(-1)
	for _, j := range list.Journeys {
		if j.Name == journey {
			active = j.Active
		}
	}
	if active < 0 {
		t.Fatalf("GET /v1/journeys has no %s", journey)
	}
	var got struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	}
	// The dialog's accessible name and description: what a screen reader
	// reads out as it opens.
	raw := eval[string](t, b, `JSON.stringify((() => {
		const d = document.querySelector('dialog[data-testid="confirm-dialog"]');
		const text = attr => (document.getElementById(d.getAttribute(attr) || '')?.textContent ?? '').replace(/\s+/g, ' ').trim();
		return {title: text('aria-labelledby'), body: text('aria-describedby')};
	})())`)
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"name": journey, "n": enNum(active)}
	if want := cat.plural("journeys.confirm_"+action+"_body", active, vars); got.Body != want {
		t.Errorf("the %s dialog of %s says %q; with the API's %d active it should say %q", action, journey, got.Body, active, want)
	}
	if want := render(cat.en["journeys.confirm_"+action+"_title"], vars); got.Title != want {
		t.Errorf("the %s dialog of %s is titled %q, want %q", action, journey, got.Title, want)
	}
	return active
}

// journeyStats is what the browser tests read of GET /v1/journeys/{name}/stats.
type journeyStats struct {
	Enrolled int64 `json:"enrolled"`
	Active   int64 `json:"active"`
	Steps    []struct {
		Step string `json:"step"`
		Sent int64  `json:"sent"`
	} `json:"steps"`
	Edges []struct {
		From  string `json:"from"`
		To    string `json:"to"`
		Count int64  `json:"count"`
	} `json:"edges"`
	Days []struct {
		Day  string `json:"day"`
		Sent int64  `json:"sent"`
	} `json:"days"`
}

func journeyStatsOf(t *testing.T, s *localstack.Stack, journey string) journeyStats {
	t.Helper()
	var st journeyStats
	if code := api(t, s, http.MethodGet, "/v1/journeys/"+journey+"/stats", nil, &st); code != http.StatusOK {
		t.Fatalf("GET the stats of %s: %d", journey, code)
	}
	return st
}

func (st journeyStats) sent(step string) int64 {
	for _, s := range st.Steps {
		if s.Step == step {
			return s.Sent
		}
	}
	return 0
}

func (st journeyStats) daysTotal() int64 {
	var n int64
	for _, d := range st.Days {
		n += d.Sent
	}
	return n
}

// graphShows checks the journey graph carries the API's counts: the edge
// from the trigger to the first step the members enrolled (its data-count
// and its label), every edge the API counts, and every step's sent line.
// The SVG names the trigger's node "__start" (test id graph-start) and
// the end "__end" in its edges' data-from and data-to.
func (b *browser) graphShows(t *testing.T, cat catalogues, st journeyStats, first string) {
	t.Helper()
	startEdge := fmt.Sprintf(`[data-testid="journey-graph"] g.edge[data-from="__start"][data-to=%q]`, first)
	b.waitFor(t, "the trigger's edge with its count", fmt.Sprintf(`document.querySelector(%q)?.hasAttribute('data-count') && document.querySelector(%q)`, startEdge, tid("graph-start")))
	var edges []struct {
		From  string `json:"from"`
		To    string `json:"to"`
		Count string `json:"count"`
		Label string `json:"label"`
	}
	raw := eval[string](t, b, `JSON.stringify([...document.querySelectorAll('[data-testid="journey-graph"] g.edge')].map(g => ({
		from: g.dataset.from, to: g.dataset.to, count: g.dataset.count ?? '', label: g.querySelector('.edge-label')?.textContent ?? ''})))`)
	if err := json.Unmarshal([]byte(raw), &edges); err != nil {
		t.Fatal(err)
	}
	edge := func(from, to string) (string, string, bool) {
		for _, e := range edges {
			if e.From == from && e.To == to {
				return e.Count, e.Label, true
			}
		}
		return "", "", false
	}
	count, label, _ := edge("__start", first)
	if count != strconv.FormatInt(st.Enrolled, 10) {
		t.Errorf("the edge from the trigger to %s has data-count %q; the API counts %d enrolled", first, count, st.Enrolled)
	}
	if want := cat.plural("graph.members", st.Enrolled, map[string]string{"n": enNum(st.Enrolled)}); !strings.Contains(label, want) {
		t.Errorf("the edge from the trigger to %s is labelled %q, want %q in it", first, label, want)
	}
	for _, e := range st.Edges {
		to := e.To
		if to == "end" {
			to = "__end"
		}
		count, _, ok := edge(e.From, to)
		if !ok {
			t.Errorf("the graph has no edge %s → %s, which the API counts %d members took; it has %+v", e.From, e.To, e.Count, edges)
		} else if count != strconv.FormatInt(e.Count, 10) {
			t.Errorf("the edge %s → %s has data-count %q; the API counts %d", e.From, e.To, count, e.Count)
		}
	}
	for _, s := range st.Steps {
		lines := eval[[]string](t, b, fmt.Sprintf(`[...document.querySelectorAll('%s text.node-count')].map(e => e.textContent)`, tid("graph-node-"+s.Step)))
		want := cat.en["stats.sent"] + ": " + enNum(s.Sent)
		if !slices.Contains(lines, want) {
			t.Errorf("the graph's %s node counts %q; the API says %d sent (want %q)", s.Step, lines, s.Sent, want)
		}
	}
}

// daysChartShows checks the sends-per-day chart's total (its text
// alternative, drawn from the same 30 days as the bars) is the API's.
func (b *browser) daysChartShows(t *testing.T, cat catalogues, st journeyStats) {
	t.Helper()
	b.waitVisible(t, "days-chart")
	want := render(cat.en["charts.days_summary"], map[string]string{"total": enNum(st.daysTotal())})
	if got := b.text(t, "days-chart"); got != want {
		t.Errorf("the days chart says %q; the API's %d days sum to %d (want %q)", got, len(st.Days), st.daysTotal(), want)
	}
	if label := b.attr(t, "days-chart", "aria-label"); !strings.HasSuffix(label, want) {
		t.Errorf("the days chart's aria-label %q does not end with %q", label, want)
	}
}

// editorText is the journey editor's text, line by line as CodeMirror
// shows it.
func (b *browser) editorText(t *testing.T) string {
	t.Helper()
	return eval[string](t, b, `[...document.querySelectorAll('[data-testid="editor"] .cm-content .cm-line')].map(l => l.textContent).join('\n')`)
}

// diffShows chooses versions va and vb in the versions form as a person
// would, asks for the differences and checks the merge view marks
// exactly lineA on the left and lineB on the right as changed.
func (b *browser) diffShows(t *testing.T, cat catalogues, va, vb int, lineA, lineB string) {
	t.Helper()
	for sel, v := range map[string]int{"#diff-a": va, "#diff-b": vb} {
		eval[bool](t, b, fmt.Sprintf(`(() => {
			const s = document.querySelector('[data-testid="versions"] select%s');
			s.value = %q;
			s.dispatchEvent(new Event('change', {bubbles: true}));
			return true;
		})()`, sel, strconv.Itoa(v)))
	}
	b.do(t, "show the differences", chromedp.Click(chromedp.CSS(`[data-testid="versions"] form button[type="submit"]`)))
	b.waitFor(t, "the merge view", `document.querySelector('[data-testid="versions-diff"] .cm-mergeView .cm-merge-b .cm-line')`)
	var changed struct {
		A []string `json:"a"`
		B []string `json:"b"`
	}
	raw := eval[string](t, b, `JSON.stringify({
		a: [...document.querySelectorAll('[data-testid="versions-diff"] .cm-merge-a .cm-changedLine')].map(l => l.textContent),
		b: [...document.querySelectorAll('[data-testid="versions-diff"] .cm-merge-b .cm-changedLine')].map(l => l.textContent)})`)
	if err := json.Unmarshal([]byte(raw), &changed); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changed.A, []string{lineA}) || !slices.Equal(changed.B, []string{lineB}) {
		t.Errorf("the diff of v%d and v%d marks %q on the left and %q on the right as changed; want only %q and %q", va, vb, changed.A, changed.B, lineA, lineB)
	}
	want := render(cat.en["journey.diff_of"], map[string]string{"a": strconv.Itoa(va), "b": strconv.Itoa(vb)})
	if got := b.text(t, "versions"); !strings.Contains(got, want) {
		t.Errorf("the versions section does not say %q", want)
	}
}

// enNum is n as Intl.NumberFormat('en') writes it.
func enNum(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// TestEnglishOnChineseScreens checks the zh-CN screens' detector itself
// (no browser): it finds an untranslated catalogue string and an English
// sentence the API made up, and lets data and Chinese text pass.
func TestEnglishOnChineseScreens(t *testing.T) {
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cat := loadCatalogues(t, root)
	data := []string{"Welcome new members with a coupon and nudge them to their first order", "console-m1", "Lin Mei", "activation"}
	chinese := strings.Join([]string{cat.zh["journeys.sent_7d"], "activation\t" + cat.zh["status.live"] + "\tv1", data[0], "console-m1 · Lin Mei", "member.registered"}, "\n")
	if got := cat.english(chinese, data); len(got) > 0 {
		t.Errorf("a Chinese screen with data is reported: %q", got)
	}
	for _, c := range []struct{ text, want string }{
		{chinese + "\n" + cat.en["journeys.sent_7d"], cat.en["journeys.sent_7d"]},
		{chinese + "\n" + render(cat.en["charts.days_summary"], map[string]string{"total": "3"}), "sent in the last 30 days"},
		{chinese + "\n不活跃: no order.paid for 60d at 10:00", `"no"`},
		{chinese + "\n日期: tier_review_on -30d at 10:00", `"at"`},
	} {
		if got := strings.Join(cat.english(c.text, data), "\n"); !strings.Contains(got, c.want) {
			t.Errorf("%q on a zh-CN screen: reported %q, want %s in it", c.text[len(chinese)+1:], got, c.want)
		}
	}
}
