package main

import (
	"context"

	"github.com/memberflow/memberflow/internal/dispatch"
	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/lambdaenv/journeyenv"
	"github.com/memberflow/memberflow/internal/lambdaenv/ledgerenv"
)

// config is what dispatch reads beside lambdaenv.Config.
type config struct {
	journeyenv.Config
	CodeSecretARN string // CODE_SECRET_ARN: {"code_secret":"…"} keys coupon codes
}

func configFromEnv(getenv func(string) string) (config, error) {
	j, err := journeyenv.ConfigFromEnv(getenv)
	return config{Config: j, CodeSecretARN: getenv("CODE_SECRET_ARN")}, err
}

// newHandler builds the stream handler with its Temporal client.
func newHandler(ctx context.Context, env *lambdaenv.Env, c config) (*dispatch.Handler, error) {
	ldg, err := ledgerenv.Ledger(ctx, env, c.CodeSecretARN)
	if err != nil {
		return nil, err
	}
	tc, err := journeyenv.Dial(ctx, env, c.Config)
	if err != nil {
		return nil, err
	}
	g, err := journeyenv.New(env, ldg, tc, c.Config)
	if err != nil {
		return nil, err
	}
	return &dispatch.Handler{Store: env.Store, Ledger: ldg, Journeys: g.Service, Enroller: g.Enroller, Legacy: tc, Log: env.Log}, nil
}
