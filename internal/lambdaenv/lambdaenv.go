// Package lambdaenv is what every Lambda function shares at cold start: it
// reads the common configuration once, connects to DynamoDB, loads secrets
// from Secrets Manager and serves HTTP functions through the one router,
// the same router the local stack serves.
//
// It deliberately imports no handler package and nothing heavy (Temporal,
// gRPC, SendGrid): each function reads its own settings and builds its own
// handler in functions/<name>/handler.go, so each binary links only what
// its handler uses (functions/deps_test.go checks it).
package lambdaenv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/secrets"
	"github.com/memberflow/memberflow/internal/store/dynamo"
)

// Config is the configuration every function reads; each function reads
// its own settings beside it (see Load).
type Config struct {
	TableName string     // TABLE_NAME
	LogLevel  slog.Level // LOG_LEVEL, INFO unless set
}

// ConfigFromEnv reads Config through getenv with explicit defaults.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{TableName: getenv("TABLE_NAME")}
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

// Load reads the common configuration and the function's own (configure,
// whose errors are configuration errors like the common ones) and connects
// to DynamoDB.
func Load[C any](ctx context.Context, getenv func(string) string, configure func(getenv func(string) string) (C, error)) (*Env, C, error) {
	var fn C
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, fn, err
	}
	if fn, err = configure(getenv); err != nil {
		return nil, fn, err
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fn, fmt.Errorf("aws config: %w", err)
	}
	return &Env{Config: cfg, Log: log, Store: dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.TableName)}, fn, nil
}

// Secret loads the secret document a function needs from Secrets Manager;
// variable names the setting that holds its ARN, for the error when it is
// unset.
func Secret(ctx context.Context, variable, arn string) ([]byte, error) {
	if arn == "" {
		return nil, errors.New(variable + " is required")
	}
	return secrets.Load(ctx, arn)
}

// StartHTTP is the whole main of an HTTP function: load the environment
// (Load), build the function's part of the router with build and serve API
// Gateway v2 requests with it. Configuration errors stop the cold start
// with one logged line, before any request is taken.
func StartHTTP[C any](name string, getenv func(string) string, configure func(getenv func(string) string) (C, error), build func(context.Context, *Env, C) (Mounts, error)) {
	ctx := context.Background()
	env, cfg, err := Load(ctx, getenv, configure)
	if err != nil {
		slog.Error(name+": configuration", "err", err)
		os.Exit(1)
	}
	m, err := build(ctx, env, cfg)
	if err != nil {
		slog.Error(name+": start", "err", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(Routes(env.Log, m)).ProxyWithContext)
}

// Mounts are the handlers the router serves, by path: each HTTP Lambda
// fills its own, the local stack fills them all. Nil ones are left out.
type Mounts struct {
	// Events is POST /v1/events, the storefront webhooks (internal/ingest).
	Events http.Handler
	// Connectors is POST /v1/connectors/{platform}, the storefronts'
	// native webhooks (internal/connectors).
	Connectors http.Handler
	// SendGridEvents is POST /v1/sendgrid/events (internal/sgevents).
	SendGridEvents http.Handler
	// API is the rest of /v1/ and the console's sign-in, /ui/session
	// (internal/api's Routes).
	API http.Handler
	// UI is the marketer console's files at /ui/ and /ui
	// (internal/console).
	UI http.Handler
	// Local are routes only the local stack serves (its health check,
	// its counters), by ServeMux pattern; a Lambda has none, as API
	// Gateway sends it only the paths above.
	Local map[string]http.Handler
}

// Routes is the one HTTP router. It recovers from a panic in any route,
// here and only here: the panic is logged with the method and path and the
// caller gets a 500, and the process (a warm Lambda, the local stack) lives
// on. Handlers need no recovery of their own, and no route can be mounted
// without it.
func Routes(log *slog.Logger, m Mounts) http.Handler {
	mux := http.NewServeMux()
	mount := func(pattern string, h http.Handler) {
		if h != nil {
			mux.Handle(pattern, h)
		}
	}
	mount("/v1/events", m.Events)
	// More specific than "/v1/", so the API's bearer check never sees
	// SendGrid's posts.
	mount("/v1/sendgrid/events", m.SendGridEvents)
	// Likewise: the platforms sign their own way, without a bearer token.
	mount("POST /v1/connectors/{platform}", m.Connectors)
	mount("/v1/", m.API)
	mount("/ui", m.UI)
	mount("/ui/", m.UI)
	// More specific than "/ui/": the session is the API's, beside the
	// tokens it checks.
	mount("/ui/session", m.API)
	for pattern, h := range m.Local {
		mount(pattern, h)
	}
	return httpx.Recover(log, mux)
}
