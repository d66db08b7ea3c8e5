// Package localstack runs the whole of memberflow on one machine for `make
// run` and the end-to-end tests: DynamoDB Local and the Temporal dev server as
// child processes, the table, the Temporal worker, a stream poller feeding
// the real dispatch handler, an outbox standing in for SendGrid, and the HTTP
// API serving the real handlers.
package localstack

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go/middleware"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/grpc"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/connectors"
	"github.com/memberflow/memberflow/internal/console"
	"github.com/memberflow/memberflow/internal/dispatch"
	"github.com/memberflow/memberflow/internal/dynamolocal"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/mail/asmgroup"
	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/opcount"
	"github.com/memberflow/memberflow/internal/sgevents"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/streams"
	"github.com/memberflow/memberflow/internal/unsubscribe"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// Config is the local stack's configuration; cmd/memberflow reads it from
// the environment with the defaults documented in README.md.
type Config struct {
	Root          string // repository root: bin/ and .local/tools live here
	DataDir       string // persistent data (DynamoDB, Temporal, outbox); "" keeps everything in memory
	OutboxDir     string // where emails are written; defaults to DataDir/outbox
	LogDir        string // logs of the child processes; defaults to DataDir, else discarded
	HTTPAddr      string // e.g. ":8080"; port 0 picks one
	TemporalPort  int    // 0 picks one
	UIPort        int    // Temporal web UI; 0 disables it
	DynamoDBPort  int    // 0 picks one
	TemporalCLI   string // path of the temporal binary
	DynamoDBDir   string // directory of DynamoDBLocal.jar; "" finds the installed one
	Table         string
	WebhookSecret string // secret of source "storefront"
	// ConnectorSecrets are the native storefront connectors' app secrets
	// by platform (shopify, woocommerce, youzan); a platform without one
	// answers 404.
	ConnectorSecrets map[string]string
	AdminToken       string
	CodeSecret       string // keys coupon codes and unsubscribe links (HMAC); at least 16 bytes
	PublicURL        string // base URL in unsubscribe links; "" means the HTTP API's own
	// Journeys holds the journey files published at start-up when their
	// content changed (*.yaml, *.json at its root); nil means the shipped
	// ones (templates/journeys). Tests pass copies with shorter delays.
	Journeys fs.FS
	// JourneyWebhookSecret signs journeys' webhook steps (Standard
	// Webhooks); "" leaves webhook steps failing, naming the setting.
	JourneyWebhookSecret string
	// ScanEvery is how often the date and inactivity journeys' scans run
	// (default 1h); CatchUp how far back each looks (default 24h).
	ScanEvery, CatchUp time.Duration
	// ConfirmWindow is how long a send's retry waits for the "processed"
	// event of an earlier attempt before sending again
	// (activities.Activities.ConfirmWindow; 0 means its default). The
	// outbox posts that event for every message it accepts.
	ConfirmWindow time.Duration
	Brand         activities.Brand
	FromEmail     string
	// Analytics is the nightly analytics refresh's schedule (zero: the
	// defaults, workflows.AnalyticsScheduleFromEnv).
	Analytics workflows.AnalyticsSchedule
}

// Stack is a running local system.
type Stack struct {
	URL      string // base URL of the HTTP API
	Temporal client.Client
	// TemporalAddress is the dev server's host:port.
	TemporalAddress string
	OutboxDir       string
	Table           string
	DynamoDB        string // endpoint
	// WebhookKey signs SendGrid event webhooks locally (the stand-in for
	// SendGrid's own key; `memberflow send-sendgrid-events` uses it).
	WebhookKey *ecdsa.PrivateKey
	// Activities is what the worker runs (tests restart the worker with it).
	Activities *activities.Activities

	log     *slog.Logger
	ddb     *dynamolocal.Server
	dev     *testsuite.DevServer
	poller  *streams.Poller
	servers []*http.Server
	sinkURL string
	cancel  context.CancelFunc
	done    chan struct{}

	workerMu sync.Mutex
	worker   *runningWorker

	// feedback posts the outbox's "processed" events to events (the
	// SendGrid event webhook's handler); Stop cancels and waits for it.
	sink           *outbox.Sink
	events         http.Handler
	feedbackCtx    context.Context
	feedbackCancel context.CancelFunc
	feedbackMu     sync.Mutex
	feedbackClosed bool
	feedbackWG     sync.WaitGroup
}

// Start brings every component up in dependency order and returns once the
// stack serves; any failure stops what already started.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *Stack, err error) {
	s := &Stack{log: log, Table: cfg.Table, done: make(chan struct{})}
	s.feedbackCtx, s.feedbackCancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := checkPorts(cfg); err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.TemporalCLI); err != nil {
		return nil, fmt.Errorf("the Temporal CLI is not at %s; run `make tools` to build it", cfg.TemporalCLI)
	}
	jarDir, err := dynamolocal.FindJarDir(cfg.Root, cfg.DynamoDBDir)
	if err != nil {
		return nil, err
	}
	s.OutboxDir = cfg.OutboxDir
	var ddbPath, temporalDB, ddbLog, temporalLog string
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		ddbPath = filepath.Join(cfg.DataDir, "dynamodb")
		temporalDB = filepath.Join(cfg.DataDir, "temporal.db")
		if cfg.LogDir == "" {
			cfg.LogDir = cfg.DataDir
		}
		if s.OutboxDir == "" {
			s.OutboxDir = filepath.Join(cfg.DataDir, "outbox")
		}
	}
	if cfg.LogDir != "" {
		ddbLog = filepath.Join(cfg.LogDir, "dynamodb.log")
		temporalLog = filepath.Join(cfg.LogDir, "temporal.log")
	}
	if s.OutboxDir == "" {
		return nil, errors.New("an outbox directory is required when there is no data directory")
	}

	// DynamoDB Local and its table.
	s.ddb, err = dynamolocal.Start(ctx, dynamolocal.Options{JarDir: jarDir, Port: cfg.DynamoDBPort, DBPath: ddbPath, Log: ddbLog,
		// Tests keep their stacks in memory and want them up fast; a stack
		// with a data dir runs for long.
		QuickStart: cfg.DataDir == ""})
	if err != nil {
		return nil, err
	}
	s.DynamoDB = s.ddb.Endpoint
	log.Info("started DynamoDB Local", "endpoint", s.ddb.Endpoint, "data", orMemory(ddbPath))
	ddbClient, err := dynamo.NewClient(ctx, s.ddb.Endpoint, "us-east-1", func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, opcount.AWS("dynamodb"), opcount.DynamoDBCapacity("dynamodb"))
	})
	if err != nil {
		return nil, err
	}
	if err := dynamo.EnsureTable(ctx, ddbClient, cfg.Table); err != nil {
		return nil, fmt.Errorf("create table %s: %w", cfg.Table, err)
	}
	st := dynamo.New(ddbClient, cfg.Table)
	// Data in DataDir from before GSI2 reaches the calendar journeys
	// through the one-off backfill; it runs once per table and index
	// version, not at every start (it is a full-table scan).
	backfilled, already, err := st.BackfillCalendarIndexOnce(ctx, nil)
	if err != nil {
		return nil, err
	}
	if !already {
		log.Info("calendar index backfilled", "scanned", backfilled.Scanned, "updated", backfilled.Updated, "skipped", backfilled.Skipped)
	}
	log.Info("table ready", "table", cfg.Table)

	// Temporal dev server.
	tport := cfg.TemporalPort
	if tport == 0 {
		if tport, err = dynamolocal.FreePort(); err != nil {
			return nil, err
		}
	}
	devOpts := testsuite.DevServerOptions{
		ExistingPath: cfg.TemporalCLI,
		ClientOptions: &client.Options{HostPort: "127.0.0.1:" + strconv.Itoa(tport), Namespace: "default", Logger: tlog.NewStructuredLogger(log.With("component", "temporal-client")),
			ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{opcount.Temporal()}}},
		DBFilename: temporalDB,
		LogLevel:   "warn",
	}
	if cfg.UIPort != 0 {
		devOpts.EnableUI, devOpts.UIPort = true, strconv.Itoa(cfg.UIPort)
	}
	devOpts.Stdout, devOpts.Stderr = io.Discard, io.Discard
	if temporalLog != "" {
		f, err := os.OpenFile(temporalLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("temporal log: %w", err)
		}
		defer f.Close()
		devOpts.Stdout, devOpts.Stderr = f, f
	}
	if s.dev, err = testsuite.StartDevServer(ctx, devOpts); err != nil {
		return nil, fmt.Errorf("start Temporal dev server: %w", err)
	}
	s.Temporal = s.dev.Client()
	s.TemporalAddress = s.dev.FrontendHostPort()
	log.Info("started Temporal dev server", "address", s.dev.FrontendHostPort(), "ui", uiURL(cfg.UIPort), "data", orMemory(temporalDB))

	// The HTTP listener is opened now so the worker knows the public URL
	// its unsubscribe links point to, and the outbox where to post
	// SendGrid's events; it serves once everything is up (connections
	// made before wait in the backlog).
	httpL, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP API: %w", err)
	}
	s.URL = "http://127.0.0.1:" + strconv.Itoa(httpL.Addr().(*net.TCPAddr).Port)
	served := false
	defer func() {
		if !served {
			httpL.Close()
		}
	}()
	publicURL := cmp.Or(cfg.PublicURL, s.URL)
	webhookKey, err := LoadOrCreateWebhookKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.WebhookKey = webhookKey

	// Outbox standing in for api.sendgrid.com, posting the "processed"
	// event SendGrid's event webhook would for every message it takes.
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		return nil, err
	}
	sink := &outbox.Sink{Dir: s.OutboxDir, Catalog: catalog, Now: time.Now, OnAccept: s.postProcessed}
	s.sink = sink
	if s.sinkURL, err = s.serve("127.0.0.1:0", sink); err != nil {
		return nil, fmt.Errorf("start outbox: %w", err)
	}
	log.Info("started email outbox (instead of SendGrid)", "dir", s.OutboxDir)
	asmGroups, err := localASMGroups(catalog)
	if err != nil {
		return nil, err
	}
	s.events = &sgevents.Handler{Store: st, PublicKey: &webhookKey.PublicKey, Groups: asmgroup.ByID(asmGroups), Log: log.With("component", "sendgrid-events")}
	// Feedback a killed stack owed is delivered before a worker can retry
	// the sends it confirms.
	if err := s.replayFeedback(ctx); err != nil {
		return nil, err
	}
	if err := mail.CheckSendable(catalog, mail.EnvironmentLocal, asmGroups); err != nil {
		return nil, err
	}
	sender, err := mail.NewSender(mail.SenderConfig{
		APIKey: "local-outbox", BaseURL: s.sinkURL, FromEmail: cfg.FromEmail, FromName: cfg.Brand.Name,
		Catalog: catalog, Environment: mail.EnvironmentLocal, ASMGroups: asmGroups,
	})
	if err != nil {
		return nil, err
	}
	links, err := unsubscribe.NewSigner([]byte(cfg.CodeSecret))
	if err != nil {
		return nil, err
	}

	// The loyalty ledger: the same service dispatch, the API and the sweep
	// use in AWS.
	ldg, err := ledger.New(templates.Program, []byte(cfg.CodeSecret), st, log.With("component", "ledger"))
	if err != nil {
		return nil, err
	}

	// The journeys: the shipped files (or the test's) are published when
	// their content changed, like a deploy; a publish or a status change
	// keeps each journey's schedule in step.
	svc, eng, err := journeys.New(st, ldg.Rules.Program, catalog)
	if err != nil {
		return nil, err
	}
	scanEvery, catchUp := cmp.Or(cfg.ScanEvery, time.Hour), cmp.Or(cfg.CatchUp, workflows.DefaultCatchUp)
	svc.Changed = func(ctx context.Context, live []journeys.Live) error {
		return workflows.EnsureJourneySchedules(ctx, s.Temporal, workflows.DefaultTaskQueue, live, scanEvery, catchUp)
	}
	files, dir := cfg.Journeys, "."
	if files == nil {
		files, dir = templates.Journeys, journeys.ShippedDir
	}
	published, err := svc.PublishFiles(ctx, files, dir)
	if err != nil {
		return nil, err
	}
	for _, p := range published {
		if !p.Unchanged {
			log.Info("journey published", "journey", p.Name, "version", p.Version)
		}
	}
	enroller := &journeys.Enroller{Store: st, Engine: eng, Runner: workflows.Runner{Client: s.Temporal, TaskQueue: workflows.DefaultTaskQueue}}

	// Worker.
	s.Activities = &activities.Activities{
		Store: st, Ledger: ldg, Mailer: sender, Templates: catalog, Brand: cfg.Brand,
		Links: links, PublicURL: publicURL, Log: log.With("component", "activities"),
		Workflows: s.Temporal, TaskQueue: workflows.DefaultTaskQueue, ConfirmWindow: cfg.ConfirmWindow,
		Engine: eng, Journeys: svc, Enroller: enroller, WebhookSecret: activities.WebhookSecret(cfg.JourneyWebhookSecret),
	}
	if s.worker, err = s.startWorker(); err != nil {
		return nil, err
	}
	log.Info("started Temporal worker", "task_queue", workflows.DefaultTaskQueue)
	if err := workflows.EnsureSweepSchedule(ctx, s.Temporal, workflows.DefaultTaskQueue, workflows.LedgerSweepInput{CatchUpDays: 7}, time.Hour); err != nil {
		return nil, err
	}
	log.Info("ledger sweep scheduled", "schedule", workflows.SweepScheduleID, "every", "1h")
	analytics := cfg.Analytics
	if analytics.At == "" {
		if analytics, err = workflows.AnalyticsScheduleFromEnv(func(string) string { return "" }); err != nil {
			return nil, err
		}
	}
	if err := workflows.EnsureAnalyticsSchedule(ctx, s.Temporal, workflows.DefaultTaskQueue, analytics.Input, analytics.At, ldg.Rules.Program.Location.String()); err != nil {
		return nil, err
	}
	log.Info("analytics refresh scheduled", "schedule", workflows.AnalyticsScheduleID, "at", analytics.At, "zone", ldg.Rules.Program.Location.String())
	live, err := svc.LiveSet(ctx)
	if err != nil {
		return nil, err
	}
	if err := svc.Changed(ctx, live); err != nil {
		return nil, err
	}
	log.Info("journeys scheduled", "journeys", len(live), "scan every", scanEvery)

	// Stream poller feeding the dispatch handler Lambda would run.
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	disp := &dispatch.Handler{Store: st, Ledger: ldg, Journeys: svc, Enroller: enroller, Legacy: s.Temporal, Log: log.With("component", "dispatch")}
	s.poller = &streams.Poller{DynamoDB: ddbClient, Streams: newStreamsClient(s.ddb.Endpoint), Table: cfg.Table, Handle: disp.Handle, Filter: dispatch.Wanted, Log: log.With("component", "stream")}
	if cfg.DataDir != "" {
		// Like the event source mapping: a restart resumes after the last
		// record handled instead of re-reading the stream.
		s.poller.Checkpoints = &streams.FileCheckpoints{Path: filepath.Join(cfg.DataDir, "stream-checkpoints.json")}
	}
	if cfg.LogDir != "" {
		// Like the deployed stream mapping (MaximumRetryAttempts 10, then
		// the DLQ): a record that keeps failing is parked, not retried for ever.
		s.poller.MaxAttempts = 10
		s.poller.DeadLetter = deadLetterFile(filepath.Join(cfg.LogDir, "dead-letter.jsonl"))
	}
	go func() {
		defer close(s.done)
		if err := s.poller.Run(runCtx); err != nil {
			log.Error("stream poller stopped", "err", err)
		}
	}()
	log.Info("started stream poller", "table", cfg.Table)

	// HTTP API: the same handlers the Lambdas serve.
	tokens, err := api.NewTokens(cfg.AdminToken)
	if err != nil {
		return nil, err
	}
	// Console sessions are keyed from the code secret, as in the api Lambda.
	if tokens, err = tokens.WithSessionSecret([]byte(cfg.CodeSecret)); err != nil {
		return nil, err
	}
	in := &ingest.Handler{Store: st, Rules: ingest.ProgramRules(ldg.Rules.Program), Secrets: map[string][]byte{"storefront": []byte(cfg.WebhookSecret)}, Log: log.With("component", "ingest")}
	native := make(map[string][]byte, len(cfg.ConnectorSecrets))
	for platform, secret := range cfg.ConnectorSecrets {
		native[platform] = []byte(secret)
	}
	routes := lambdaenv.Routes(log, lambdaenv.Mounts{
		Events:     in,
		Connectors: &connectors.Handler{Ingest: in, Secrets: native, Log: log.With("component", "connectors")},
		API: (&api.Handler{
			Store: st, Ledger: ldg, Tokens: tokens, Log: log.With("component", "api"),
			Journeys:  &journeys.Control{Journeys: svc, Enroller: enroller, Store: st, Ledger: ldg},
			Templates: catalog, Brand: cfg.Brand,
			// An erasure removes the member's messages from the outbox.
			Files:       sink,
			Unsubscribe: &unsubscribe.Handler{Store: st, Signer: links, Brand: cfg.Brand.Name, Log: log.With("component", "unsubscribe")},
		}).Routes(),
		UI:             console.Handler(),
		SendGridEvents: s.events,
		Local: map[string]http.Handler{
			"GET /healthz": s.health(st),
			// The calls made to DynamoDB and Temporal so far (opcount), for the
			// cost figures of `memberflow load`; the listener is loopback unless
			// configured otherwise, and the counters hold nothing personal.
			"GET /debug/vars": expvar.Handler(),
		},
	})
	srv := &http.Server{Handler: routes, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(httpL) }()
	served = true
	log.Info("serving HTTP API", "url", s.URL, "unsubscribe links", publicURL)
	if console.Built() {
		log.Info("serving the marketer console", "url", s.URL+"/ui/")
	} else {
		log.Warn("the marketer console is not built: /ui/ answers 503 until `make console`")
	}
	return s, nil
}

// serve listens on addr and serves h in the background; it returns the base URL.
func (s *Stack) serve(addr string, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(l) }()
	port := l.Addr().(*net.TCPAddr).Port
	return "http://127.0.0.1:" + strconv.Itoa(port), nil
}

// health answers 200 only when every component is up.
func (s *Stack) health(st interface{ Ping(context.Context) error }) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		// "http" is up by definition: this answer travelled over it.
		comp := map[string]string{"dynamodb": "up", "temporal": "up", "worker": "up", "stream": "up", "outbox": "up", "http": "up"}
		if err := st.Ping(ctx); err != nil {
			comp["dynamodb"] = "down: " + err.Error()
		}
		if _, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			comp["temporal"] = "down: " + err.Error()
		} else if err := s.workerPolling(ctx); err != nil {
			comp["worker"] = "down: " + err.Error()
		}
		if !s.poller.Healthy(10 * time.Second) {
			comp["stream"] = "down: no successful poll in the last 10s"
		}
		if err := s.outboxAnswers(ctx); err != nil {
			comp["outbox"] = "down: " + err.Error()
		}
		status, code := "ok", http.StatusOK
		for _, v := range comp {
			if v != "up" {
				status, code = "degraded", http.StatusServiceUnavailable
			}
		}
		httpx.WriteJSON(w, code, map[string]any{"status": status, "components": comp})
	})
}

// workerPolling asks Temporal whether a worker polled the task queue
// recently; Temporal's long polls last a minute, so two minutes of silence
// means no worker.
func (s *Stack) workerPolling(ctx context.Context) error {
	resp, err := s.Temporal.DescribeTaskQueue(ctx, workflows.DefaultTaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		return err
	}
	for _, p := range resp.GetPollers() {
		if t := p.GetLastAccessTime(); t != nil && time.Since(t.AsTime()) < 2*time.Minute {
			return nil
		}
	}
	return fmt.Errorf("no worker polled task queue %s in the last 2 minutes", workflows.DefaultTaskQueue)
}

// outboxAnswers checks the SendGrid stand-in serves HTTP (any status will do).
func (s *Stack) outboxAnswers(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.sinkURL+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Stop shuts components down in reverse order. It is safe on a partly
// started stack.
func (s *Stack) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := len(s.servers) - 1; i >= 0; i-- {
		_ = s.servers[i].Shutdown(ctx)
	}
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	s.workerMu.Lock()
	if s.worker != nil {
		s.worker.stop(true)
		s.worker = nil
	}
	s.workerMu.Unlock()
	s.feedbackMu.Lock()
	s.feedbackClosed = true
	s.feedbackMu.Unlock()
	if s.feedbackCancel != nil {
		s.feedbackCancel()
		s.feedbackWG.Wait()
	}
	if s.dev != nil {
		if err := s.dev.Stop(); err != nil {
			s.log.Warn("stop Temporal dev server", "err", err)
		}
	}
	s.ddb.Stop()
}

// checkPorts reports a busy fixed port in one sentence before anything starts.
func checkPorts(cfg Config) error {
	check := func(addr, what, env string) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s is busy (%s): stop whatever uses it or set %s", addr, what, env)
		}
		return l.Close()
	}
	if err := check(cfg.HTTPAddr, "HTTP API", "MEMBERFLOW_HTTP_ADDR"); err != nil {
		return err
	}
	for _, p := range []struct {
		port      int
		what, env string
	}{
		{cfg.TemporalPort, "Temporal dev server", "MEMBERFLOW_TEMPORAL_PORT"},
		{cfg.UIPort, "Temporal web UI", "MEMBERFLOW_TEMPORAL_UI_PORT"},
		{cfg.DynamoDBPort, "DynamoDB Local", "MEMBERFLOW_DYNAMODB_PORT"},
	} {
		if p.port == 0 {
			continue
		}
		if err := check("127.0.0.1:"+strconv.Itoa(p.port), p.what, p.env); err != nil {
			return err
		}
	}
	return nil
}

// deadLetterFile appends each given-up record, with its error, as one JSON
// line: the local counterpart of the dispatch DLQ, to inspect and replay.
func deadLetterFile(path string) func(context.Context, lambdaevents.DynamoDBEventRecord, error) error {
	var mu sync.Mutex
	return func(_ context.Context, rec lambdaevents.DynamoDBEventRecord, cause error) error {
		line, err := json.Marshal(struct {
			At     time.Time                        `json:"at"`
			Error  string                           `json:"error"`
			Record lambdaevents.DynamoDBEventRecord `json:"record"`
		}{time.Now().UTC(), cause.Error(), rec})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		if _, err := f.Write(append(line, '\n')); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
}

// newStreamsClient reaches DynamoDB Local's streams API with the same dummy
// credentials the table client uses.
func newStreamsClient(endpoint string) *dynamodbstreams.Client {
	return dynamodbstreams.New(dynamodbstreams.Options{
		APIOptions:   []func(*middleware.Stack) error{opcount.AWS("streams")},
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

func orMemory(path string) string {
	if path == "" {
		return "in memory"
	}
	return path
}

func uiURL(port int) string {
	if port == 0 {
		return "disabled"
	}
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// localASMGroups gives every email group of the catalog a stand-in ASM
// group id (1, 2, … by name), as a SendGrid account would have one per
// group.
func localASMGroups(c *mail.Catalog) (map[string]int, error) {
	var groups []string
	for _, n := range c.Names() {
		g, err := c.Group(n)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	slices.Sort(groups)
	ids := make(map[string]int, len(groups))
	for i, g := range groups {
		ids[g] = i + 1
	}
	return ids, nil
}
