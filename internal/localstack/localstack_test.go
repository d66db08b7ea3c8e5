package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/sgevents"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

var updateHistory = flag.Bool("update-history", false, "write the workflow histories to workflows/testdata for the replay test")

const (
	secret = "e2e-secret"
	token  = "e2e-token"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// startStack runs the whole local system on free ports, in memory except
// for the outbox, with the activation delays shortened to seconds.
func startStack(t *testing.T) *localstack.Stack {
	t.Helper()
	s := startWith(t, localstack.Config{OutboxDir: t.TempDir(), LogDir: t.TempDir(), Journeys: shortActivation(t, "4s", "8s")})
	t.Cleanup(s.Stop)
	return s
}

// shippedJourneys is a copy of the shipped journey files, for a test to
// change (journey name → YAML).
func shippedJourneys(t *testing.T) map[string]string {
	t.Helper()
	entries, err := fs.ReadDir(templates.Journeys, journeys.ShippedDir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			b, err := fs.ReadFile(templates.Journeys, path.Join(journeys.ShippedDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[name] = string(b)
		}
	}
	return out
}

// journeyFiles is the files of set, as the stack publishes them.
func journeyFiles(set map[string]string) fs.FS {
	files := fstest.MapFS{}
	for name, src := range set {
		files[name+".yaml"] = &fstest.MapFile{Data: []byte(src)}
	}
	return files
}

// replace changes old to new in src, which must hold old.
func replace(t *testing.T, src, old, new string) string {
	t.Helper()
	if !strings.Contains(src, old) {
		t.Fatalf("the shipped journey has no %q", old)
	}
	return strings.Replace(src, old, new, 1)
}

// shortActivation is the shipped journeys with activation's delays before
// the nudge and before the last nudge shortened to nudge and last.
func shortActivation(t *testing.T, nudge, last string) fs.FS {
	t.Helper()
	set := shippedJourneys(t)
	src := replace(t, set["activation"], "delay: { for: 3d }", "delay: { for: "+nudge+" }")
	set["activation"] = replace(t, src, "delay: { for: 4d }", "delay: { for: "+last+" }")
	return journeyFiles(set)
}

// daytimeZone is a zone where it is now between 10:30 and 20:00
// (localstack.DaytimeZone): the contact policy's quiet hours hold no test
// email back, and 10:00 local steps are due, whenever the test runs.
func daytimeZone(t *testing.T) string {
	t.Helper()
	zone, err := localstack.DaytimeZone(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return zone
}

// startWith starts a stack from cfg with the test's fixed settings filled in.
func startWith(t *testing.T, cfg localstack.Config) *localstack.Stack {
	t.Helper()
	root := repoRoot(t)
	cli := os.Getenv("TEMPORAL_CLI")
	if cli == "" {
		cli = filepath.Join(root, "bin", "temporal")
	}
	_, cliErr := os.Stat(cli)
	_, javaErr := exec.LookPath("java")
	if cliErr != nil || javaErr != nil {
		msg := "the end-to-end test needs bin/temporal and Java; run `make test`, which installs them"
		if os.Getenv("MEMBERFLOW_REQUIRE_LOCAL") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Root, cfg.HTTPAddr, cfg.TemporalCLI, cfg.DynamoDBDir, cfg.Table = root, "127.0.0.1:0", cli, os.Getenv("DYNAMODB_LOCAL_DIR"), "e2e"
	cfg.WebhookSecret, cfg.AdminToken, cfg.FromEmail = secret, token, "hello@example.com"
	cfg.CodeSecret = "e2e-coupon-code-secret"
	cfg.Brand = activities.Brand{Name: "E2E Shop", ShopURL: "https://shop.example.com"}
	s, err := localstack.Start(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type response struct {
	status int
	body   string
}

func postEvent(t *testing.T, s *localstack.Stack, body []byte, sign bool) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/events", bytes.NewReader(body))
	req.Header.Set(ingest.HeaderSource, "storefront")
	if sign {
		req.Header.Set(ingest.HeaderSignature, ingest.Sign([]byte(secret), time.Now(), body))
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b)}
}

// event returns a sample with its ids and consent replaced.
func event(t *testing.T, typ events.Type, id, member string, change func(map[string]any)) []byte {
	t.Helper()
	raw, err := events.Sample(typ)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["id"], m["member_id"], m["occurred_at"] = id, member, time.Now().UTC().Format(time.RFC3339)
	if typ == events.MemberRegistered {
		// The sample's Asia/Shanghai is in quiet hours for half the day.
		m["data"].(map[string]any)["timezone"] = daytimeZone(t)
	}
	if change != nil {
		change(m)
	}
	out, _ := json.Marshal(m)
	return out
}

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

func waitFor(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts Temporal and DynamoDB Local")
	}
	s := startStack(t)

	health := do(t, mustRequest(t, http.MethodGet, s.URL+"/healthz", ""))
	waitFor(t, "healthz 200", 15*time.Second, func() bool {
		health = do(t, mustRequest(t, http.MethodGet, s.URL+"/healthz", ""))
		return health.status == http.StatusOK
	})
	for _, c := range []string{"dynamodb", "temporal", "worker", "stream", "outbox", "http"} {
		if !strings.Contains(health.body, `"`+c+`": "up"`) {
			t.Errorf("healthz does not report %s up: %s", c, health.body)
		}
	}

	reg := event(t, events.MemberRegistered, "evt-e2e-reg-1", "m-e2e-1", nil)
	if r := postEvent(t, s, reg, true); r.status != http.StatusAccepted {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	waitFor(t, "the welcome email in the outbox", 30*time.Second, func() bool {
		return len(outboxTemplates(t, s, "m-e2e-1")) == 1
	})
	// The welcome hands over the NEW8 coupon, once.
	if got := couponKinds(t, s, "m-e2e-1"); got["NEW8"] != 1 || len(got) != 1 {
		t.Errorf("coupons after the welcome = %v, want one NEW8", got)
	}

	t.Run("replay is a duplicate and sends nothing more", func(t *testing.T) {
		r := postEvent(t, s, reg, true)
		if r.status != http.StatusOK || !strings.Contains(r.body, `"duplicate": true`) {
			t.Fatalf("replay: %d %s", r.status, r.body)
		}
	})
	t.Run("unsigned is 401", func(t *testing.T) {
		if r := postEvent(t, s, reg, false); r.status != http.StatusUnauthorized {
			t.Fatalf("unsigned: %d %s", r.status, r.body)
		}
	})
	t.Run("malformed is 400 naming the field", func(t *testing.T) {
		bad := event(t, events.MemberRegistered, "evt-e2e-bad", "m-e2e-bad", func(m map[string]any) {
			delete(m["data"].(map[string]any), "email")
		})
		r := postEvent(t, s, bad, true)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "data.email") {
			t.Fatalf("malformed: %d %s", r.status, r.body)
		}
	})
	t.Run("member needs the bearer token", func(t *testing.T) {
		if r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/m-e2e-1", "")); r.status != http.StatusUnauthorized {
			t.Fatalf("no token: %d", r.status)
		}
		r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/m-e2e-1", "Bearer "+token))
		if r.status != http.StatusOK || !strings.Contains(r.body, `"journey": "activation"`) {
			t.Fatalf("with token: %d %s", r.status, r.body)
		}
	})
	t.Run("loyalty: 1,250.00 CNY makes V4 with 12 points pending; a full refund undoes it", func(t *testing.T) {
		// Issue 3's check. Avoid the member day (the 8th) and the birthday
		// month, whose multipliers would change the points.
		cst, _ := time.LoadLocation("Asia/Shanghai")
		at := time.Now().In(cst)
		if at.Day() == 8 {
			at = at.Add(-24 * time.Hour)
		}
		when := func(m map[string]any, d time.Duration) { m["occurred_at"] = at.Add(d).Format(time.RFC3339) }
		bday := fmt.Sprintf("1990-%02d-15", (int(at.Month())+5)%12+1)
		steps := [][]byte{
			event(t, events.MemberRegistered, "evt-e2e-l-reg", "m-e2e-l", func(m map[string]any) {
				when(m, -time.Minute)
				m["data"].(map[string]any)["birthday"] = bday
				delete(m["data"].(map[string]any), "referral_code")
			}),
			event(t, events.OrderPaid, "evt-e2e-l-pay", "m-e2e-l", func(m map[string]any) {
				when(m, 0)
				d := m["data"].(map[string]any)
				d["order_id"], d["coupon_code"] = "ord-e2e-l", ""
				delete(d, "coupon_code")
			}),
		}
		for _, b := range steps {
			if r := postEvent(t, s, b, true); r.status != http.StatusAccepted {
				t.Fatalf("post: %d %s", r.status, r.body)
			}
		}
		type standing struct {
			Tier   string `json:"tier"`
			Points struct {
				Pending   int `json:"pending"`
				Available int `json:"available"`
			} `json:"points"`
		}
		read := func() standing {
			r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/m-e2e-l", "Bearer "+token))
			var v standing
			_ = json.Unmarshal([]byte(r.body), &v)
			return v
		}
		var v standing
		waitFor(t, "V4 with 12 points pending", 20*time.Second, func() bool { v = read(); return v.Tier == "V4" })
		if v.Points.Pending != 12 || v.Points.Available != 0 {
			t.Fatalf("after paying: %+v", v)
		}
		refund := event(t, events.OrderRefunded, "evt-e2e-l-rfd", "m-e2e-l", func(m map[string]any) {
			when(m, time.Minute)
			d := m["data"].(map[string]any)
			d["order_id"], d["amount"] = "ord-e2e-l", "1250.00"
			delete(d, "lines")
		})
		if r := postEvent(t, s, refund, true); r.status != http.StatusAccepted {
			t.Fatalf("refund: %d %s", r.status, r.body)
		}
		waitFor(t, "V1 after the refund", 20*time.Second, func() bool { v = read(); return v.Tier == "V1" })
		if v.Points.Pending != 0 || v.Points.Available != 0 {
			t.Fatalf("after refunding: %+v", v)
		}
		r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/m-e2e-l/ledger", "Bearer "+token))
		for _, rule := range []string{"order.points", "tier.upgrade", "refund.points", "tier.demote"} {
			if !strings.Contains(r.body, `"rule": "`+rule+`"`) {
				t.Errorf("ledger has no %s entry: %s", rule, r.body)
			}
		}

		// The sweep the hourly schedule runs, started by hand: it scans the
		// due index on the dev server's worker and changes nothing that is
		// not due.
		run, err := s.Temporal.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: "ledger-sweep-e2e", TaskQueue: workflows.DefaultTaskQueue},
			workflows.LedgerSweep, workflows.LedgerSweepInput{CatchUpDays: 2, PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		var res activities.SweepResult
		if err := run.Get(context.Background(), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Days) != 2 {
			t.Errorf("sweep result = %+v", res)
		}
		sched, err := s.Temporal.ScheduleClient().GetHandle(context.Background(), workflows.SweepScheduleID).Describe(context.Background())
		if err != nil {
			t.Fatalf("the sweep schedule is missing: %v", err)
		}
		if iv := sched.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != time.Hour {
			t.Errorf("schedule spec = %+v", sched.Schedule.Spec)
		}
	})
	t.Run("no consent, no email", func(t *testing.T) {
		quiet := event(t, events.MemberRegistered, "evt-e2e-reg-2", "m-e2e-2", func(m map[string]any) {
			m["data"].(map[string]any)["consent"] = map[string]any{"email_marketing": false}
		})
		if r := postEvent(t, s, quiet, true); r.status != http.StatusAccepted {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		waitFor(t, "the enrollment of m-e2e-2", 30*time.Second, func() bool {
			r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/m-e2e-2", "Bearer "+token))
			return strings.Contains(r.body, `"journey": "activation"`)
		})
	})

	// The nudge comes after 4s without an order; an order then ends the
	// journey at once, so the last nudge (12s) never goes.
	waitFor(t, "the nudge", 30*time.Second, func() bool { return len(outboxTemplates(t, s, "m-e2e-1")) == 2 })
	order := event(t, events.OrderPaid, "evt-e2e-order-1", "m-e2e-1", nil)
	if r := postEvent(t, s, order, true); r.status != http.StatusAccepted {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	run := s.Temporal.GetWorkflow(context.Background(), workflows.JourneyWorkflowID("activation", "m-e2e-1", 1), "")
	var res workflows.EnrollmentResult
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != loyalty.EnrollmentExited || res.Reason != "converted" {
		t.Errorf("enrollment ended %s (%s), want exited (converted)", res.Status, res.Reason)
	}
	if got, want := strings.Join(outboxTemplates(t, s, "m-e2e-1"), ","), "activation_welcome,activation_nudge"; got != want {
		t.Errorf("emails = %s, want %s", got, want)
	}
	r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/m-e2e-1", "Bearer "+token))
	if !strings.Contains(r.body, `"status": "exited"`) {
		t.Errorf("member after the order: %s", r.body)
	}
	// The member without consent runs the whole journey with every send
	// skipped.
	var quiet workflows.EnrollmentResult
	if err := s.Temporal.GetWorkflow(ctx, workflows.JourneyWorkflowID("activation", "m-e2e-2", 1), "").Get(ctx, &quiet); err != nil {
		t.Fatal(err)
	}
	if quiet.Status != loyalty.EnrollmentCompleted || len(quiet.Sends) != 3 {
		t.Fatalf("member without consent: %+v", quiet)
	}
	for _, snd := range quiet.Sends {
		if snd.Status != "skipped" || snd.Reason != activities.SkipNoConsent {
			t.Errorf("send %s = %s/%s, want skipped/%s", snd.Key, snd.Status, snd.Reason, activities.SkipNoConsent)
		}
	}
	if got := outboxTemplates(t, s, "m-e2e-2"); len(got) != 0 {
		t.Errorf("member without consent got %v", got)
	}

	t.Run("a bounce suppresses the member; later sends are skipped and counted", func(t *testing.T) {
		reg := event(t, events.MemberRegistered, "evt-e2e-reg-b", "m-e2e-b", nil)
		if r := postEvent(t, s, reg, true); r.status != http.StatusAccepted {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		waitFor(t, "the welcome email", 30*time.Second, func() bool { return len(outboxTemplates(t, s, "m-e2e-b")) == 1 })
		welcomeKey := engine.Key("m-e2e-b", "activation", 1, "welcome", time.Now().UTC().Year())
		bounce, _ := json.Marshal([]map[string]any{{
			"email": "lin.wei@example.com", "timestamp": time.Now().Unix(), "event": "bounce", "type": "bounce",
			"reason": "550 5.1.1 mailbox unavailable", "sg_event_id": "sg-e2e-bounce-1", "sg_message_id": "e2e.filter0001",
			"member_id": "m-e2e-b", "idempotency_key": welcomeKey, "journey": "activation", "step": "welcome", "enrollment": "1",
		}})
		post := func(sign bool) response {
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/sendgrid/events", bytes.NewReader(bounce))
			if sign {
				sig, ts := sgevents.Sign(s.WebhookKey, time.Now(), bounce)
				req.Header.Set(sgevents.HeaderSignature, sig)
				req.Header.Set(sgevents.HeaderTimestamp, ts)
			}
			return do(t, req)
		}
		if r := post(false); r.status != http.StatusUnauthorized {
			t.Fatalf("unsigned event webhook: %d %s", r.status, r.body)
		}
		if r := post(true); r.status != http.StatusOK {
			t.Fatalf("signed bounce: %d %s", r.status, r.body)
		}
		if r := post(true); r.status != http.StatusOK || !strings.Contains(r.body, `"duplicates": 1`) {
			t.Fatalf("SendGrid's retry of the same batch: %d %s", r.status, r.body)
		}
		// The last nudge (12 s in) is certainly after the bounce; the nudge
		// (4 s in) may have gone before it.
		var res workflows.EnrollmentResult
		if err := s.Temporal.GetWorkflow(context.Background(), workflows.JourneyWorkflowID("activation", "m-e2e-b", 1), "").Get(context.Background(), &res); err != nil {
			t.Fatal(err)
		}
		last := res.Sends[len(res.Sends)-1]
		if last.Status != "skipped" || last.Reason != activities.SkipSuppressed {
			t.Errorf("last nudge = %+v, want skipped/%s", last, activities.SkipSuppressed)
		}
		if got := outboxTemplates(t, s, "m-e2e-b"); slices.Contains(got, "activation_last_nudge") {
			t.Errorf("a suppressed member got %v", got)
		}
		r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/journeys/activation/stats", "Bearer "+token))
		var stats struct {
			Steps []struct {
				Step    string           `json:"step"`
				Sent    int              `json:"sent"`
				Bounced int              `json:"bounced"`
				Skipped map[string]int64 `json:"skipped"`
			} `json:"steps"`
		}
		if err := json.Unmarshal([]byte(r.body), &stats); err != nil {
			t.Fatalf("stats: %d %s", r.status, r.body)
		}
		by := map[string]int{}
		for _, st := range stats.Steps {
			by[st.Step+"/bounced"] = st.Bounced
			by[st.Step+"/suppressed"] = int(st.Skipped["suppressed"])
		}
		if by["welcome/bounced"] != 1 || by["last_nudge/suppressed"] < 1 {
			t.Errorf("stats = %s", r.body)
		}
	})

	if *updateHistory {
		dir := filepath.Join(repoRoot(t), "workflows", "testdata")
		writeHistory(t, s.Temporal, workflows.JourneyWorkflowID("activation", "m-e2e-1", 1), filepath.Join(dir, "journey_activation_converted.json"))
		writeHistory(t, s.Temporal, workflows.JourneyWorkflowID("activation", "m-e2e-2", 1), filepath.Join(dir, "journey_activation_no_consent.json"))
		writeHistory(t, s.Temporal, "ledger-sweep-e2e", filepath.Join(dir, "ledger_sweep.json"))
	}

	// Last, because it breaks the stack: health must notice a dead component.
	t.Run("healthz is 503 when DynamoDB is down", func(t *testing.T) {
		localstack.StopDynamoDB(s)
		r := do(t, mustRequest(t, http.MethodGet, s.URL+"/healthz", ""))
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, `"dynamodb": "down`) {
			t.Fatalf("healthz with DynamoDB stopped: %d %s", r.status, r.body)
		}
	})
}

func mustRequest(t *testing.T, method, url, auth string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}

// writeHistory saves a workflow's history in the JSON form the replayer reads.
func writeHistory(t *testing.T, c client.Client, id, path string) {
	t.Helper()
	iter := c.GetWorkflowHistory(context.Background(), id, "", false, 0)
	var evs []json.RawMessage
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, b)
	}
	out, err := json.MarshalIndent(map[string]any{"events": evs}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d events)", path, len(evs))
}

// TestRestartKeepsData: a second start on the same data directory (a second
// `make run`) finds the members of the first, and the stream records it
// reads again from the start send nothing twice.
func TestRestartKeepsData(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts Temporal and DynamoDB Local")
	}
	dir := t.TempDir()
	cfg := localstack.Config{DataDir: dir} // the shipped journeys

	first := startWith(t, cfg)
	reg := event(t, events.MemberRegistered, "evt-rs-1", "m-rs-1", nil)
	if r := postEvent(t, first, reg, true); r.status != http.StatusAccepted {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	waitFor(t, "the welcome email", 30*time.Second, func() bool { return len(outboxTemplates(t, first, "m-rs-1")) == 1 })
	first.Stop()

	second := startWith(t, cfg)
	defer second.Stop()
	if r := postEvent(t, second, reg, true); r.status != http.StatusOK {
		t.Errorf("the first run's event is not remembered: %d %s", r.status, r.body)
	}
	// A new member's welcome proves the replayed stream was worked through.
	later := event(t, events.MemberRegistered, "evt-rs-2", "m-rs-2", nil)
	if r := postEvent(t, second, later, true); r.status != http.StatusAccepted {
		t.Fatalf("register after restart: %d %s", r.status, r.body)
	}
	waitFor(t, "the second member's welcome", 30*time.Second, func() bool { return len(outboxTemplates(t, second, "m-rs-2")) == 1 })
	if got := outboxTemplates(t, second, "m-rs-1"); len(got) != 1 {
		t.Errorf("first member's emails after restart = %v, want the one welcome", got)
	}
	r := do(t, mustRequest(t, http.MethodGet, second.URL+"/v1/members/m-rs-1", "Bearer "+token))
	if r.status != http.StatusOK || !strings.Contains(r.body, `"status": "active"`) {
		t.Errorf("member after restart: %d %s", r.status, r.body)
	}
}
