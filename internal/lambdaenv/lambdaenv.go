// Package lambdaenv wires the Lambda functions from their environment: it
// reads configuration once, fetches secrets from Secrets Manager at cold
// start and builds the same handlers the local stack serves.
package lambdaenv

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/dispatch"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/secrets"
	"github.com/memberflow/memberflow/internal/sgevents"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/temporalconn"
	"github.com/memberflow/memberflow/internal/unsubscribe"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// Config is every setting a function reads. Which fields are required
// depends on the function; each builder checks its own.
type Config struct {
	TableName            string // TABLE_NAME
	LogLevel             slog.Level
	WebhookSecretARN     string // WEBHOOK_SECRET_ARN: {"<source>":"<secret>"}
	AdminTokenSecretARN  string // ADMIN_TOKEN_SECRET_ARN: {"tokens":["…"]}
	TemporalAddress      string // TEMPORAL_ADDRESS
	TemporalNamespace    string // TEMPORAL_NAMESPACE
	TemporalTLSSecretARN string // TEMPORAL_TLS_SECRET_ARN: {"cert","key"}
	TemporalTaskQueue    string // TEMPORAL_TASK_QUEUE
	CodeSecretARN        string // CODE_SECRET_ARN: {"code_secret":"…"} keys coupon codes and unsubscribe links
	BrandName            string // MEMBERFLOW_BRAND_NAME: shown on the unsubscribe page
	// SendGridWebhookPublicKey is SENDGRID_WEBHOOK_PUBLIC_KEY: the Signed
	// Event Webhook's verification key as SendGrid shows it (base64 DER).
	// It is public, so it is configuration rather than a secret.
	SendGridWebhookPublicKey string
	// SendGridASMGroups is SENDGRID_ASM_GROUPS, a JSON object of memberflow
	// group name to SendGrid ASM group id, e.g. {"activation": 12345}.
	SendGridASMGroups map[string]int
}

// ConfigFromEnv reads Config through getenv with explicit defaults.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		TableName:            getenv("TABLE_NAME"),
		WebhookSecretARN:     getenv("WEBHOOK_SECRET_ARN"),
		AdminTokenSecretARN:  getenv("ADMIN_TOKEN_SECRET_ARN"),
		TemporalAddress:      getenv("TEMPORAL_ADDRESS"),
		TemporalNamespace:    cmp.Or(getenv("TEMPORAL_NAMESPACE"), "default"),
		TemporalTLSSecretARN: getenv("TEMPORAL_TLS_SECRET_ARN"),
		TemporalTaskQueue:    cmp.Or(getenv("TEMPORAL_TASK_QUEUE"), workflows.DefaultTaskQueue),
		CodeSecretARN:        getenv("CODE_SECRET_ARN"),
		BrandName:            cmp.Or(getenv("MEMBERFLOW_BRAND_NAME"), "our shop"),

		SendGridWebhookPublicKey: getenv("SENDGRID_WEBHOOK_PUBLIC_KEY"),
	}
	groups, err := ASMGroups(cmp.Or(getenv("SENDGRID_ASM_GROUPS"), "{}"))
	if err != nil {
		return c, fmt.Errorf("SENDGRID_ASM_GROUPS: %w", err)
	}
	c.SendGridASMGroups = groups
	if err := c.LogLevel.UnmarshalText([]byte(cmp.Or(getenv("LOG_LEVEL"), "INFO"))); err != nil {
		return c, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if c.TableName == "" {
		return c, errors.New("TABLE_NAME is required")
	}
	return c, nil
}

// Env is a configured function environment.
type Env struct {
	Config Config
	Log    *slog.Logger
	Store  *dynamo.Store
}

// Load reads configuration and connects to DynamoDB.
func Load(ctx context.Context, getenv func(string) string) (*Env, error) {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return &Env{Config: cfg, Log: log, Store: dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.TableName)}, nil
}

// WebhookSecrets parses the webhook secret document {"<source>":"<secret>"}.
func WebhookSecrets(doc []byte) (map[string][]byte, error) {
	var m map[string]string
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("webhook secret: must be a JSON object of source to secret: %w", err)
	}
	out := make(map[string][]byte, len(m))
	for src, s := range m {
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("webhook secret: source %q has an empty secret", src)
		}
		out[src] = []byte(s)
	}
	if len(out) == 0 {
		return nil, errors.New("webhook secret: no sources configured")
	}
	return out, nil
}

// AdminTokens parses the admin token document {"tokens":["…"]}.
func AdminTokens(doc []byte) (api.Tokens, error) {
	var d struct {
		Tokens []string `json:"tokens"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return api.Tokens{}, fmt.Errorf("admin token secret: must be JSON {\"tokens\":[...]}: %w", err)
	}
	return api.NewTokens(d.Tokens...)
}

// ASMGroups parses SENDGRID_ASM_GROUPS (see mail.ParseASMGroups).
func ASMGroups(doc string) (map[string]int, error) { return mail.ParseASMGroups(doc) }

// IngestHandler builds POST /v1/events.
func (e *Env) IngestHandler(ctx context.Context) (http.Handler, error) {
	if e.Config.WebhookSecretARN == "" {
		return nil, errors.New("WEBHOOK_SECRET_ARN is required")
	}
	doc, err := secrets.Load(ctx, e.Config.WebhookSecretARN)
	if err != nil {
		return nil, err
	}
	sec, err := WebhookSecrets(doc)
	if err != nil {
		return nil, err
	}
	// The programme's currency and point value, which events are checked
	// against; a broken programme stops the cold start.
	prog, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		return nil, err
	}
	return Routes(&ingest.Handler{Store: e.Store, Rules: ingest.ProgramRules(prog), Secrets: sec, Log: e.Log}, nil, nil, e.Log), nil
}

// APIHandler builds the bearer-protected /v1 API.
func (e *Env) APIHandler(ctx context.Context) (http.Handler, error) {
	if e.Config.AdminTokenSecretARN == "" {
		return nil, errors.New("ADMIN_TOKEN_SECRET_ARN is required")
	}
	doc, err := secrets.Load(ctx, e.Config.AdminTokenSecretARN)
	if err != nil {
		return nil, err
	}
	tokens, err := AdminTokens(doc)
	if err != nil {
		return nil, err
	}
	ldg, err := e.Ledger(ctx)
	if err != nil {
		return nil, err
	}
	links, err := unsubscribe.NewSigner(ldg.Rules.CodeSecret)
	if err != nil {
		return nil, err
	}
	journeys, err := journey.Shipped(ldg.Rules.Program)
	if err != nil {
		return nil, err
	}
	unsub := &unsubscribe.Handler{Store: e.Store, Signer: links, Brand: e.Config.BrandName, Log: e.Log}
	return Routes(nil, &api.Handler{Store: e.Store, Ledger: ldg, Unsubscribe: unsub, Tokens: tokens, Log: e.Log, Journeys: slices.Sorted(maps.Keys(journeys))}, nil, e.Log), nil
}

// SendgridEventsHandler builds POST /v1/sendgrid/events. It needs no
// secret: SendGrid signs its posts, and the key to check them is public.
func (e *Env) SendgridEventsHandler(ctx context.Context) (http.Handler, error) {
	if e.Config.SendGridWebhookPublicKey == "" {
		return nil, errors.New("SENDGRID_WEBHOOK_PUBLIC_KEY is required")
	}
	pub, err := sgevents.ParsePublicKey(e.Config.SendGridWebhookPublicKey)
	if err != nil {
		return nil, fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY: %w", err)
	}
	groups := make(map[int]string, len(e.Config.SendGridASMGroups))
	for name, id := range e.Config.SendGridASMGroups {
		groups[id] = name
	}
	h := &sgevents.Handler{Store: e.Store, PublicKey: pub, Groups: groups, Log: e.Log}
	return Routes(nil, nil, h, e.Log), nil
}

// DispatchHandler builds the stream handler with its Temporal client.
func (e *Env) DispatchHandler(ctx context.Context) (*dispatch.Handler, error) {
	if e.Config.TemporalAddress == "" {
		return nil, errors.New("TEMPORAL_ADDRESS is required")
	}
	tc := temporalconn.Config{Address: e.Config.TemporalAddress, Namespace: e.Config.TemporalNamespace}
	if e.Config.TemporalTLSSecretARN != "" {
		doc, err := secrets.Load(ctx, e.Config.TemporalTLSSecretARN)
		if err != nil {
			return nil, err
		}
		if tc, err = tc.WithTLSSecret(doc); err != nil {
			return nil, err
		}
	}
	ldg, err := e.Ledger(ctx)
	if err != nil {
		return nil, err
	}
	c, err := temporalconn.Dial(ctx, tc, e.Log)
	if err != nil {
		return nil, err
	}
	journeys, err := journey.Shipped(ldg.Rules.Program)
	if err != nil {
		return nil, err
	}
	return &dispatch.Handler{
		Store: e.Store, Ledger: ldg, Temporal: c, TaskQueue: e.Config.TemporalTaskQueue,
		Journeys: journeys, Log: e.Log,
	}, nil
}

// CodeSecret parses the coupon code secret document {"code_secret":"…"}.
func CodeSecret(doc []byte) ([]byte, error) {
	var d struct {
		CodeSecret string `json:"code_secret"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("code secret: must be JSON {\"code_secret\":\"…\"}: %w", err)
	}
	if len(d.CodeSecret) < 16 {
		return nil, errors.New("code secret: code_secret must be at least 16 characters")
	}
	return []byte(d.CodeSecret), nil
}

// Ledger builds the loyalty ledger service over the default programme.
func (e *Env) Ledger(ctx context.Context) (*ledger.Service, error) {
	if e.Config.CodeSecretARN == "" {
		return nil, errors.New("CODE_SECRET_ARN is required")
	}
	doc, err := secrets.Load(ctx, e.Config.CodeSecretARN)
	if err != nil {
		return nil, err
	}
	sec, err := CodeSecret(doc)
	if err != nil {
		return nil, err
	}
	return ledger.New(templates.Program, sec, e.Store, e.Log.With("component", "ledger"))
}

// Routes is the one HTTP router: Lambda serves a part of it per function,
// the local stack serves all of it. Nil handlers are left out.
func Routes(in *ingest.Handler, a *api.Handler, sg *sgevents.Handler, log *slog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	if in != nil {
		mux.Handle("/v1/events", in)
	}
	if sg != nil {
		// More specific than "/v1/", so the API's bearer check never
		// sees SendGrid's posts; sg recovers its own panics.
		mux.Handle("/v1/sendgrid/events", sg)
	}
	if a != nil {
		mux.Handle("/v1/", a.Routes())
	}
	return mux
}

// StartHTTP is the whole main of an HTTP function: load the environment,
// build the handler with build (one of Env's handler builders) and serve
// API Gateway v2 requests with it. Configuration errors stop the cold start
// with one logged line, before any request is taken.
func StartHTTP(name string, build func(*Env, context.Context) (http.Handler, error)) {
	ctx := context.Background()
	env, err := Load(ctx, os.Getenv)
	if err != nil {
		slog.Error(name+": configuration", "err", err)
		os.Exit(1)
	}
	h, err := build(env, ctx)
	if err != nil {
		slog.Error(name+": start", "err", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}
