// Package journeyenv builds what the Lambdas that drive journeys share
// (dispatch and api): the Temporal client from the function's
// environment, and the journeys service, decision engine and enroller
// over the function's store and ledger.
package journeyenv

import (
	"cmp"
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/temporalconn"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// Config is what the functions read to reach Temporal.
type Config struct {
	TemporalAddress      string // TEMPORAL_ADDRESS
	TemporalNamespace    string // TEMPORAL_NAMESPACE (default "default")
	TemporalTLSSecretARN string // TEMPORAL_TLS_SECRET_ARN: {"cert","key"}
	TemporalTaskQueue    string // TEMPORAL_TASK_QUEUE (default workflows.DefaultTaskQueue)
	// ScanEvery is how often date and inactivity journeys' scans run: the
	// schedules a publish through the API creates (MEMBERFLOW_SCAN_EVERY,
	// default 1h, like the worker's).
	ScanEvery time.Duration
}

// ConfigFromEnv reads Config with its defaults.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		TemporalAddress:      getenv("TEMPORAL_ADDRESS"),
		TemporalNamespace:    cmp.Or(getenv("TEMPORAL_NAMESPACE"), "default"),
		TemporalTLSSecretARN: getenv("TEMPORAL_TLS_SECRET_ARN"),
		TemporalTaskQueue:    cmp.Or(getenv("TEMPORAL_TASK_QUEUE"), workflows.DefaultTaskQueue),
		ScanEvery:            time.Hour,
	}
	if v := getenv("MEMBERFLOW_SCAN_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > workflows.DefaultCatchUp/2 {
			return c, errors.New("MEMBERFLOW_SCAN_EVERY must be a duration from 1m to 12h such as 1h, got " + v)
		}
		c.ScanEvery = d
	}
	if c.TemporalAddress == "" {
		return c, errors.New("TEMPORAL_ADDRESS is required")
	}
	return c, nil
}

// Dial connects to Temporal as c says, with mTLS from the secret when one
// is configured.
func Dial(ctx context.Context, env *lambdaenv.Env, c Config) (client.Client, error) {
	tc := temporalconn.Config{Address: c.TemporalAddress, Namespace: c.TemporalNamespace}
	if c.TemporalTLSSecretARN != "" {
		doc, err := lambdaenv.Secret(ctx, "TEMPORAL_TLS_SECRET_ARN", c.TemporalTLSSecretARN)
		if err != nil {
			return nil, err
		}
		if tc, err = tc.WithTLSSecret(doc); err != nil {
			return nil, err
		}
	}
	return temporalconn.Dial(ctx, tc, env.Log)
}

// Graph is the journeys' objects of one function.
type Graph struct {
	Service  *journeys.Service
	Enroller *journeys.Enroller
	// Catalog is the email templates the journeys are validated against
	// (the api's previews render them).
	Catalog *mail.Catalog
}

// New builds the journeys service (validating against the programme and
// the email catalog), its schedule hook and the enroller over tc.
func New(env *lambdaenv.Env, ldg *ledger.Service, tc client.Client, c Config) (Graph, error) {
	// Validation needs the email catalog (required variables), which lives
	// beside the SendGrid client in internal/mail.
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		return Graph{}, err
	}
	svc, eng, err := journeys.New(env.Store, ldg.Rules.Program, catalog)
	if err != nil {
		return Graph{}, err
	}
	svc.Changed = func(ctx context.Context, live []journeys.Live) error {
		return workflows.EnsureJourneySchedules(ctx, tc, c.TemporalTaskQueue, live, c.ScanEvery, workflows.DefaultCatchUp)
	}
	return Graph{Service: svc, Catalog: catalog, Enroller: &journeys.Enroller{Store: env.Store, Engine: eng,
		Runner: workflows.Runner{Client: tc, TaskQueue: c.TemporalTaskQueue}}}, nil
}
