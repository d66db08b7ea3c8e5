package main

import (
	"context"
	"errors"
	"strconv"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/lambdaenv/journeyenv"
	"github.com/memberflow/memberflow/internal/lambdaenv/ledgerenv"
)

// config is what simulate reads beside lambdaenv.Config.
type config struct {
	AdminTokenSecretARN string // ADMIN_TOKEN_SECRET_ARN: {"tokens":["…"]}, as the api's
	CodeSecretARN       string // CODE_SECRET_ARN: the programme's rules (and console sessions' key)
	// Budget is MEMBERFLOW_SIMULATE_BUDGET: the most member-days per
	// journey (members × days × journeys) one request runs; 0, unset,
	// means no limit (api.Handler.SimulateBudget).
	Budget int64
}

func configFromEnv(getenv func(string) string) (config, error) {
	c := config{
		AdminTokenSecretARN: getenv("ADMIN_TOKEN_SECRET_ARN"),
		CodeSecretARN:       getenv("CODE_SECRET_ARN"),
	}
	if v := getenv("MEMBERFLOW_SIMULATE_BUDGET"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return c, errors.New("MEMBERFLOW_SIMULATE_BUDGET must be a whole number of member-days (0 for no limit), got " + v)
		}
		c.Budget = n
	}
	return c, nil
}

// mounts builds the API's routes with the simulation's budget; of them
// API Gateway sends this function only POST /v1/journeys/{name}/simulate.
// It reaches no Temporal: a simulation runs the engine in memory, and
// nothing it serves starts, signals or schedules a workflow.
func mounts(ctx context.Context, env *lambdaenv.Env, c config) (lambdaenv.Mounts, error) {
	doc, err := lambdaenv.Secret(ctx, "ADMIN_TOKEN_SECRET_ARN", c.AdminTokenSecretARN)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	tokens, err := api.TokensFromDocument(doc)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	ldg, err := ledgerenv.Ledger(ctx, env, c.CodeSecretARN)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	// The console calls it with its session, signed as the api signs it.
	if tokens, err = tokens.WithSessionSecret(ldg.Rules.CodeSecret); err != nil {
		return lambdaenv.Mounts{}, err
	}
	g, err := journeyenv.New(env, ldg, nil, journeyenv.Config{})
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	g.Service.Changed = nil // no schedules to keep in step: it publishes nothing
	a := &api.Handler{Store: env.Store, Ledger: ldg, Tokens: tokens, Log: env.Log,
		Journeys:       &journeys.Control{Journeys: g.Service, Store: env.Store, Ledger: ldg},
		SimulateBudget: c.Budget}
	return lambdaenv.Mounts{API: a.Routes()}, nil
}
