package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/memberflow/memberflow/internal/api"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/lambdaenv/ledgerenv"
	"github.com/memberflow/memberflow/internal/unsubscribe"
)

// config is what api reads beside lambdaenv.Config.
type config struct {
	AdminTokenSecretARN string // ADMIN_TOKEN_SECRET_ARN: {"tokens":["…"]}
	CodeSecretARN       string // CODE_SECRET_ARN: {"code_secret":"…"} keys coupon codes and unsubscribe links
	BrandName           string // MEMBERFLOW_BRAND_NAME: shown on the unsubscribe page
}

func configFromEnv(getenv func(string) string) (config, error) {
	return config{
		AdminTokenSecretARN: getenv("ADMIN_TOKEN_SECRET_ARN"),
		CodeSecretARN:       getenv("CODE_SECRET_ARN"),
		BrandName:           cmp.Or(getenv("MEMBERFLOW_BRAND_NAME"), "our shop"),
	}, nil
}

// mounts builds the bearer-protected /v1 API and the unsubscribe links.
func mounts(ctx context.Context, env *lambdaenv.Env, c config) (lambdaenv.Mounts, error) {
	doc, err := lambdaenv.Secret(ctx, "ADMIN_TOKEN_SECRET_ARN", c.AdminTokenSecretARN)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	tokens, err := adminTokens(doc)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	ldg, err := ledgerenv.Ledger(ctx, env, c.CodeSecretARN)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	links, err := unsubscribe.NewSigner(ldg.Rules.CodeSecret)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	unsub := &unsubscribe.Handler{Store: env.Store, Signer: links, Brand: c.BrandName, Log: env.Log}
	// The journeys whose stats the API serves; any other name is 404.
	journeys, err := journey.Shipped(ldg.Rules.Program)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	a := &api.Handler{Store: env.Store, Ledger: ldg, Unsubscribe: unsub, Tokens: tokens, Log: env.Log, Journeys: slices.Sorted(maps.Keys(journeys))}
	return lambdaenv.Mounts{API: a.Routes()}, nil
}

// adminTokens parses the admin token document {"tokens":["…"]}.
func adminTokens(doc []byte) (api.Tokens, error) {
	var d struct {
		Tokens []string `json:"tokens"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return api.Tokens{}, fmt.Errorf("admin token secret: must be JSON {\"tokens\":[...]}: %w", err)
	}
	return api.NewTokens(d.Tokens...)
}
