package main

import (
	"cmp"
	"context"
	"errors"

	"github.com/memberflow/memberflow/internal/dispatch"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/lambdaenv/ledgerenv"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/temporalconn"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// config is what dispatch reads beside lambdaenv.Config.
type config struct {
	TemporalAddress      string // TEMPORAL_ADDRESS
	TemporalNamespace    string // TEMPORAL_NAMESPACE
	TemporalTLSSecretARN string // TEMPORAL_TLS_SECRET_ARN: {"cert","key"}
	TemporalTaskQueue    string // TEMPORAL_TASK_QUEUE
	CodeSecretARN        string // CODE_SECRET_ARN: {"code_secret":"…"} keys coupon codes
}

func configFromEnv(getenv func(string) string) (config, error) {
	return config{
		TemporalAddress:      getenv("TEMPORAL_ADDRESS"),
		TemporalNamespace:    cmp.Or(getenv("TEMPORAL_NAMESPACE"), "default"),
		TemporalTLSSecretARN: getenv("TEMPORAL_TLS_SECRET_ARN"),
		TemporalTaskQueue:    cmp.Or(getenv("TEMPORAL_TASK_QUEUE"), workflows.DefaultTaskQueue),
		CodeSecretARN:        getenv("CODE_SECRET_ARN"),
	}, nil
}

// newHandler builds the stream handler with its Temporal client.
func newHandler(ctx context.Context, env *lambdaenv.Env, c config) (*dispatch.Handler, error) {
	if c.TemporalAddress == "" {
		return nil, errors.New("TEMPORAL_ADDRESS is required")
	}
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
	ldg, err := ledgerenv.Ledger(ctx, env, c.CodeSecretARN)
	if err != nil {
		return nil, err
	}
	tmp, err := temporalconn.Dial(ctx, tc, env.Log)
	if err != nil {
		return nil, err
	}
	// Validation needs the email catalog (required variables), which lives
	// beside the SendGrid client in internal/mail.
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		return nil, err
	}
	svc, eng, err := journeys.New(env.Store, ldg.Rules.Program, catalog)
	if err != nil {
		return nil, err
	}
	return &dispatch.Handler{
		Store: env.Store, Ledger: ldg, Journeys: svc,
		Enroller: &journeys.Enroller{Store: env.Store, Engine: eng, Runner: workflows.Runner{Client: tmp, TaskQueue: c.TemporalTaskQueue}},
		Legacy:   tmp, Log: env.Log,
	}, nil
}
