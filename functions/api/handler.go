package main

import (
	"cmp"
	"context"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/console"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/lambdaenv/journeyenv"
	"github.com/memberflow/memberflow/internal/lambdaenv/ledgerenv"
	"github.com/memberflow/memberflow/internal/unsubscribe"
)

// config is what api reads beside lambdaenv.Config.
type config struct {
	// Journeys reach Temporal: resume, archive, api enrollments and
	// removals start or signal enrollments; a publish keeps the
	// journey's schedule in step.
	journeyenv.Config
	AdminTokenSecretARN string // ADMIN_TOKEN_SECRET_ARN: {"tokens":["…"]}
	CodeSecretARN       string // CODE_SECRET_ARN: {"code_secret":"…"} keys coupon codes and unsubscribe links
	BrandName           string // MEMBERFLOW_BRAND_NAME: shown on the unsubscribe page and in email previews
	ShopURL             string // MEMBERFLOW_SHOP_URL: where email previews' calls to action point (the worker's setting)
}

func configFromEnv(getenv func(string) string) (config, error) {
	j, err := journeyenv.ConfigFromEnv(getenv)
	return config{
		Config:              j,
		AdminTokenSecretARN: getenv("ADMIN_TOKEN_SECRET_ARN"),
		CodeSecretARN:       getenv("CODE_SECRET_ARN"),
		BrandName:           cmp.Or(getenv("MEMBERFLOW_BRAND_NAME"), "our shop"),
		ShopURL:             getenv("MEMBERFLOW_SHOP_URL"),
	}, err
}

// mounts builds the bearer-protected /v1 API, the unsubscribe links and
// the marketer console (/ui/, signing in at /ui/session).
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
	// Console sessions are signed with a key derived from the code secret,
	// which every instance already shares and which never leaves the
	// server: the token hashes alone cannot forge a session.
	if tokens, err = tokens.WithSessionSecret(ldg.Rules.CodeSecret); err != nil {
		return lambdaenv.Mounts{}, err
	}
	links, err := unsubscribe.NewSigner(ldg.Rules.CodeSecret)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	unsub := &unsubscribe.Handler{Store: env.Store, Signer: links, Brand: c.BrandName, Log: env.Log}
	tc, err := journeyenv.Dial(ctx, env, c.Config)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	g, err := journeyenv.New(env, ldg, tc, c.Config)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	a := &api.Handler{Store: env.Store, Ledger: ldg, Unsubscribe: unsub, Tokens: tokens, Log: env.Log,
		Journeys:  &journeys.Control{Journeys: g.Service, Enroller: g.Enroller, Store: env.Store, Ledger: ldg},
		Templates: g.Catalog, Brand: activities.Brand{Name: c.BrandName, ShopURL: c.ShopURL}}
	return lambdaenv.Mounts{API: a.Routes(), UI: console.Handler()}, nil
}

// adminTokens parses the admin token document {"tokens":["…"]}.
func adminTokens(doc []byte) (api.Tokens, error) { return api.TokensFromDocument(doc) }
