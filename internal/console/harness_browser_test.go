package console_test

// The browser tests' harness: the real local stack (DynamoDB Local, the
// Temporal dev server, the worker, dispatch and the HTTP API with the
// console mounted at /ui/, as `make run` serves it) and Debian's headless
// Chromium driven by chromedp, with every console error and uncaught
// exception of the page collected.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/testenv/eventfix"
)

const (
	chromiumPath  = "/usr/bin/chromium"
	adminToken    = "console-browser-admin-token"
	webhookSecret = "console-browser-webhook-secret"
	// stepTimeout bounds one wait of the browser tests: the local stack
	// answers in milliseconds, so a screen that has not shown its test id
	// by then is broken, not slow.
	stepTimeout = 15 * time.Second
)

// prerequisites checks what the browser tests need and returns the
// repository root; a missing piece skips the test, or fails it under
// MEMBERFLOW_REQUIRE_LOCAL=1 (make test), naming the make target that
// installs or builds it.
func prerequisites(t *testing.T) string {
	t.Helper()
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, "Chromium is not at "+chromiumPath+": run `make tools` (it installs Debian's chromium)")
	}
	if _, err := os.Stat(temporalCLI(root)); err != nil {
		missing = append(missing, "the Temporal CLI is not at "+temporalCLI(root)+": run `make tools`")
	}
	if _, err := exec.LookPath("java"); err != nil {
		missing = append(missing, "Java (for DynamoDB Local) is missing: run `make tools`")
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "console", "dist", "index.html")); err != nil {
		missing = append(missing, "the console is not built (no internal/console/dist/index.html): run `make console`")
	}
	if _, err := os.Stat(axePath(root)); err != nil {
		missing = append(missing, "axe-core is not installed (console/node_modules/axe-core/axe.min.js): run `make console`")
	}
	if len(missing) > 0 {
		msg := "the console's browser tests need: " + strings.Join(missing, "; ")
		if os.Getenv("MEMBERFLOW_REQUIRE_LOCAL") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return root
}

func temporalCLI(root string) string {
	if cli := os.Getenv("TEMPORAL_CLI"); cli != "" {
		return cli
	}
	return filepath.Join(root, "bin", "temporal")
}

func axePath(root string) string {
	return filepath.Join(root, "console", "node_modules", "axe-core", "axe.min.js")
}

// startStack runs the whole local system on free ports, in memory but for
// the outbox, with journeys as given (nil: the shipped ones), as
// `make run` does, and checks it serves the console.
func startStack(t *testing.T, root string, journeys fs.FS) *localstack.Stack {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := localstack.Config{
		Root: root, HTTPAddr: "127.0.0.1:0", TemporalCLI: temporalCLI(root), DynamoDBDir: os.Getenv("DYNAMODB_LOCAL_DIR"),
		Table: "console", WebhookSecret: webhookSecret, AdminToken: adminToken, FromEmail: "hello@example.com",
		CodeSecret: "console-browser-coupon-code-secret", OutboxDir: t.TempDir(), LogDir: t.TempDir(), Journeys: journeys,
		Brand: activities.Brand{Name: "Tea House", ShopURL: "https://shop.example.com"},
	}
	s, err := localstack.Start(context.Background(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	resp, err := http.Get(s.URL + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the local stack does not serve the console: GET /ui/ answered %d %.200s (the UI must be mounted as make run mounts it)", resp.StatusCode, body)
	}
	return s
}

// api calls the stack's API with the admin token and decodes a 2xx
// answer into out (nil: ignore it); it returns the status.
func api(t *testing.T, s *localstack.Stack, method, path string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %.300s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// postEvents posts events as one batch signed as the storefront signs
// its webhooks (and as `memberflow send-event` does), and wants 202.
func postEvents(t *testing.T, s *localstack.Stack, evs ...map[string]any) {
	t.Helper()
	body, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/events", bytes.NewReader(body))
	req.Header.Set(ingest.HeaderSource, "storefront")
	req.Header.Set(ingest.HeaderSignature, ingest.Sign([]byte(webhookSecret), time.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("post %d events: %d %s", len(evs), resp.StatusCode, b)
	}
}

// registration is member.registered of member, who consents to marketing
// email and lives where it is daytime now (no quiet hours hold the send).
func registration(t *testing.T, member, name string, at time.Time) map[string]any {
	t.Helper()
	zone, err := localstack.DaytimeZone(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m := eventfix.Sample(t, events.MemberRegistered, "evt-reg-"+member, member, at)
	d := m["data"].(map[string]any)
	d["consent"] = map[string]any{"email_marketing": true}
	d["timezone"] = zone
	d["email"] = member + "@example.com"
	d["name"] = name
	delete(d, "phone")
	delete(d, "referral_code")
	return m
}

// timelineItem is what the tests read of the member timeline's entries.
type timelineItem struct {
	Journey string `json:"journey"`
	Step    string `json:"step"`
	Kind    string `json:"kind"`
	Reason  string `json:"reason"`
}

// waitTimeline waits until the member's timeline (through the API) has an
// entry of kind in journey.
func waitTimeline(t *testing.T, s *localstack.Stack, member, journey, kind string, limit time.Duration) timelineItem {
	t.Helper()
	deadline := time.Now().Add(limit)
	var seen []timelineItem
	for {
		var page struct {
			Entries []timelineItem `json:"entries"`
		}
		if api(t, s, http.MethodGet, "/v1/members/"+member+"/timeline", nil, &page) == http.StatusOK {
			seen = page.Entries
			for _, e := range page.Entries {
				if e.Journey == journey && e.Kind == kind {
					return e
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %s: no %s entry of journey %s on the timeline after %s; it has %+v", member, kind, journey, limit, seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// browser is one headless Chromium with one tab, and the console errors
// and uncaught exceptions its pages produced since the last check.
type browser struct {
	ctx  context.Context
	base string // the stack's URL
	axe  string // axe-core's source

	mu       sync.Mutex
	problems []string
}

// startBrowser starts Debian's Chromium headless with a fresh profile, in
// the background (it takes seconds, as the local stack does, so the two
// start side by side), and returns what waits for it and points it at the
// stack's URL. The flags keep it from
// phoning home: the machine's closed network refuses background
// connections, which would otherwise show as errors.
func startBrowser(t *testing.T, root string) func(base string) *browser {
	t.Helper()
	axe, err := os.ReadFile(axePath(root))
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{axe: string(axe)}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Env("LANGUAGE=en_US", "LANG=en_US.UTF-8"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	b.ctx = ctx
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)) }()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return func(base string) *browser {
		t.Helper()
		if err := <-started; err != nil {
			t.Fatalf("start Chromium: %v", err)
		}
		b.base = base
		return b
	}
}

// listen records console.error calls, uncaught exceptions and browser log
// entries of level error (failed loads, CSP violations …). It runs on the
// tab's reading goroutine, so it only appends.
func (b *browser) listen(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p = "uncaught exception: " + d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			p += " " + d.Exception.Description
		}
		if d.URL != "" {
			p += fmt.Sprintf(" (%s:%d)", d.URL, d.LineNumber+1)
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var args []string
		for _, a := range ev.Args {
			switch {
			case a.Description != "":
				args = append(args, a.Description)
			case len(a.Value) > 0:
				args = append(args, string(a.Value))
			default:
				args = append(args, string(a.Type))
			}
		}
		p = "console.error: " + strings.Join(args, " ")
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level != log.EntryLevelError || expectedLogError(e) {
			return
		}
		p = fmt.Sprintf("browser log (%s): %s %s", e.Source, e.Text, e.URL)
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, p)
	b.mu.Unlock()
}

// expectedLogError is the one error the browser logs by contract: the
// 401 of /ui/session, which is how a signed-out page (GET) and a wrong
// token (POST) are told. Any other failed request is a bug.
func expectedLogError(e *log.Entry) bool {
	return e.Source == log.EntrySourceNetwork && strings.HasSuffix(strings.SplitN(e.URL, "?", 2)[0], "/ui/session") &&
		strings.Contains(e.Text, "401")
}

// frameErrors collects the errors of the page's out-of-process frames
// (the sandboxed email preview is one), whose console the page's target
// does not hear: attaching to a frame enables its Log domain, which
// replays what it logged so far (a blocked image, a CSP violation).
func (b *browser) frameErrors(t *testing.T) {
	t.Helper()
	targets, err := chromedp.Targets(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range targets {
		if info.Type != "iframe" {
			continue
		}
		fctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel(), chromedp.WithListener(b.listen))
		ctx, cancelStep := context.WithTimeout(fctx, stepTimeout)
		err := chromedp.Do(ctx)
		time.Sleep(100 * time.Millisecond) // the replayed entries come as events
		cancelStep()
		cancel()
		if err != nil {
			t.Fatalf("attach to the frame %s: %v", info.URL, err)
		}
	}
}

// dropErrors forgets the errors a test caused on purpose: those holding
// every one of the parts (a URL and a status, say). It fails t when
// there was none.
func (b *browser) dropErrors(t *testing.T, parts ...string) {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // the log entry follows the response
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.problems)
	b.problems = slices.DeleteFunc(b.problems, func(p string) bool {
		for _, part := range parts {
			if !strings.Contains(p, part) {
				return false
			}
		}
		return true
	})
	if len(b.problems) == n {
		t.Errorf("the browser logged no error with %q", parts)
	}
}

// noErrors fails t with every console error and exception since the last
// call, naming where it was.
func (b *browser) noErrors(t *testing.T, where string) {
	t.Helper()
	b.mu.Lock()
	got := b.problems
	b.problems = nil
	b.mu.Unlock()
	for _, p := range got {
		t.Errorf("%s: %s", where, p)
	}
}

// do runs actions with the step timeout.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v%s", what, err, b.pageState())
	}
}

// eval evaluates a JavaScript expression (promises awaited) into T.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %.120s: %v", expr, err)
	}
	return v
}

// pageState is a short description of what the page shows, for failures.
func (b *browser) pageState() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const ids = [...document.querySelectorAll('[data-testid]')].map(e => e.dataset.testid).slice(0, 40);
		const banner = document.querySelector('[data-testid="error-banner"]');
		return location.hash + ' | test ids: ' + ids.join(' ') + (banner ? ' | error-banner: ' + banner.textContent : '');
	})()`))
	if err != nil {
		return ""
	}
	return "\n  page: " + s
}

// tid is the CSS selector of a test id.
func tid(id string) string { return fmt.Sprintf(`[data-testid=%q]`, id) }

// waitFor waits until the JavaScript expression is truthy.
func (b *browser) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		t.Fatalf("waiting for %s: %v%s", what, err, b.pageState())
	}
}

// visibleJS is an expression true when the selector matches a rendered
// element (laid out, not display:none, not hidden).
func visibleJS(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; const r = e.getBoundingClientRect(); return (r.width > 0 || r.height > 0) && getComputedStyle(e).visibility !== 'hidden'; })()`, sel)
}

// waitVisible waits until the test id is on screen.
func (b *browser) waitVisible(t *testing.T, id string) {
	t.Helper()
	b.waitFor(t, id+" visible", visibleJS(tid(id)))
}

// click clicks the element of the test id with the mouse, as a person.
func (b *browser) click(t *testing.T, id string) {
	t.Helper()
	b.waitVisible(t, id)
	b.do(t, "click "+id, chromedp.Click(chromedp.CSS(tid(id))))
}

// text is the text content of the test id's element.
func (b *browser) text(t *testing.T, id string) string {
	t.Helper()
	return eval[string](t, b, fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? '').trim()`, tid(id)))
}

// attr is an attribute of the test id's element.
func (b *browser) attr(t *testing.T, id, name string) string {
	t.Helper()
	return eval[string](t, b, fmt.Sprintf(`document.querySelector(%q)?.getAttribute(%q) ?? ''`, tid(id), name))
}

// open navigates to a console route (a hash like "#/journeys") with a
// full page load.
func (b *browser) open(t *testing.T, route string) {
	t.Helper()
	b.do(t, "open "+route, chromedp.Navigate(b.base+"/ui/"+route))
}

// cookies are the browser's cookies for the stack.
func (b *browser) cookies(t *testing.T) []*network.Cookie {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/ui/"}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Cookies
}

// axeViolation is one failed axe-core rule.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// accessible runs axe-core (the console's pinned devDependency, read from
// disk and injected) on the page as it is and fails t on every violation
// of impact serious or critical.
func (b *browser) accessible(t *testing.T, screen string) {
	t.Helper()
	if !eval[bool](t, b, `typeof window.axe === 'object'`) {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](b.axe))
		cancel()
		if err != nil {
			t.Fatalf("inject axe-core: %v", err)
		}
	}
	var res struct {
		Passes     int            `json:"passes"`
		Violations []axeViolation `json:"violations"`
	}
	raw := eval[string](t, b, `axe.run(document).then(r => JSON.stringify({passes: r.passes.length, violations: r.violations
		.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => ({id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\s+/g, ' '))}))}))`)
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatal(err)
	}
	if res.Passes == 0 {
		t.Fatalf("%s: axe-core checked nothing", screen)
	}
	t.Logf("%s: axe-core: %d rules passed, %d serious or critical violations", screen, res.Passes, len(res.Violations))
	for _, v := range res.Violations {
		t.Errorf("%s: accessibility (axe %s, %s): %s\n    %s", screen, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n    "))
	}
}
