package console_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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
// with a mistake, fix and publish it, pause and resume it, watch a webhook
// enrol a member and find the send on the member's timeline, switch to
// 简体中文, visit every screen, sign out. Every screen is checked with
// axe-core and for console errors.
func TestConsole(t *testing.T) {
	root := prerequisites(t)
	began := time.Now()
	s := startStack(t, root, nil)
	stackUp := time.Since(began)
	b := newBrowser(t, root, s.URL)
	t.Logf("local stack up in %s, Chromium in %s", stackUp.Round(time.Millisecond), (time.Since(began) - stackUp).Round(time.Millisecond))
	defer func() { t.Logf("TestConsole took %s", time.Since(began).Round(time.Millisecond)) }()

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
			if b.text(t, "signin-error") == "" {
				t.Error("signin-error is empty after a wrong token")
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
			b.tabReaches(t, "nav-journeys", "nav-members", "nav-program", "nav-emails", "lang-switch", "signout")
		}},
		{"a journey with a mistake", func(t *testing.T) {
			broken := journeySource("soon")
			var v struct {
				Valid    bool `json:"valid"`
				Problems []struct {
					Path string `json:"path"`
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
			if msg := eval[string](t, b, fmt.Sprintf(`document.querySelector(%q).textContent.trim()`, sel)); msg == "" {
				t.Error("the problem has no message")
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
			b.confirmIfAsked(t)
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
			b.wantStatus(t, testJourney, "live")
			if row := b.text(t, "journey-row-"+testJourney); !strings.Contains(row, "member.registered") {
				t.Errorf("the row does not show the trigger member.registered: %q", row)
			}
			b.accessible(t, "journeys list")
		}},
		{"pause and resume", func(t *testing.T) {
			// Cancelled, nothing changes.
			b.click(t, "journey-pause-"+testJourney)
			b.waitFor(t, "the confirmation dialog", `document.querySelector('dialog[data-testid="confirm-dialog"]')?.open`)
			if txt := b.text(t, "confirm-dialog"); txt == "" {
				t.Error("the confirmation says nothing")
			}
			b.accessible(t, "pause confirmation")
			b.click(t, "confirm-cancel")
			b.waitFor(t, "the dialog to close", `!document.querySelector('dialog[data-testid="confirm-dialog"]')?.open`)
			b.wantStatus(t, testJourney, "live")
			b.apiStatus(t, s, "live")

			b.click(t, "journey-pause-"+testJourney)
			b.waitFor(t, "the confirmation dialog", `document.querySelector('dialog[data-testid="confirm-dialog"]')?.open`)
			b.click(t, "confirm-ok")
			b.waitFor(t, "status paused", statusIs(testJourney, "paused"))
			b.apiStatus(t, s, "paused")

			b.click(t, "journey-resume-"+testJourney)
			b.waitFor(t, "the confirmation dialog", `document.querySelector('dialog[data-testid="confirm-dialog"]')?.open`)
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
			b.accessible(t, "member")
		}},
		{"简体中文", func(t *testing.T) {
			b.waitVisible(t, "member-profile")
			hash := eval[string](t, b, `location.hash`)
			en := b.text(t, "nav-members")
			enSent := eval[string](t, b, fmt.Sprintf(`document.querySelector(%q).textContent`, timelineEntry("sent", testJourney)))
			b.chooseLanguage(t, "zh-CN")
			zh := b.text(t, "nav-members")
			if zh == en || !han.MatchString(zh) || !slices.Contains(catalogue(t, root, "zh-CN"), zh) {
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
						// The step's node counts the one send.
						b.waitFor(t, "the send counted on the graph", fmt.Sprintf(`/\b1\b/.test(document.querySelector(%q).textContent)`, tid("graph-node-"+testStep)))
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

// tabReaches presses Tab from the top of the page until every test id
// had the focus, each with a visible focus indicator.
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
	var order []string
	for i := 0; i < 40 && len(want) > 0; i++ {
		b.do(t, "press Tab", chromedp.KeyEvent(kb.Tab))
		var f struct {
			ID      string `json:"id"`
			Visible bool   `json:"visible"`
		}
		raw := eval[string](t, b, `JSON.stringify((() => {
			const e = document.activeElement;
			if (!e || e === document.body) return {id: '', visible: false};
			const s = getComputedStyle(e);
			const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
			const shadow = s.boxShadow && s.boxShadow !== 'none';
			return {id: e.dataset.testid || e.tagName.toLowerCase(), visible: e.matches(':focus-visible') && (outline || shadow)};
		})())`)
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			t.Fatal(err)
		}
		order = append(order, f.ID)
		if f.ID == "" {
			break // past the last control: the focus left the page
		}
		if want[f.ID] {
			delete(want, f.ID)
			if !f.Visible {
				t.Errorf("%s has the keyboard focus but no visible focus indicator (outline or box-shadow)", f.ID)
			}
		}
	}
	t.Logf("Tab order: %s", strings.Join(order, " → "))
	if len(want) > 0 {
		var missing []string
		for id := range want {
			missing = append(missing, id)
		}
		slices.Sort(missing)
		t.Errorf("Tab never reached %s; the focus went through %v", strings.Join(missing, ", "), order)
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

// confirmIfAsked accepts the confirmation dialog when one opened.
func (b *browser) confirmIfAsked(t *testing.T) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	if eval[bool](t, b, `!!document.querySelector('dialog[data-testid="confirm-dialog"]')?.open`) {
		b.click(t, "confirm-ok")
	}
}

// statusIs is true when the journeys list shows the journey's raw status.
func statusIs(name, status string) string {
	return fmt.Sprintf(`document.querySelector(%q)?.dataset.status === %q`, tid("journey-status-"+name), status)
}

// wantStatus checks the list's status of a journey, raw and translated.
func (b *browser) wantStatus(t *testing.T, name, status string) {
	t.Helper()
	b.waitFor(t, name+" "+status, statusIs(name, status))
	if b.text(t, "journey-status-"+name) == "" {
		t.Errorf("journey-status-%s shows no text", name)
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

// catalogue is every string of the front end's catalogue of lang.
func catalogue(t *testing.T, root, lang string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "console", "src", "i18n", lang+".json"))
	if err != nil {
		t.Fatalf("the %s catalogue: %v", lang, err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("the %s catalogue: %v", lang, err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
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
