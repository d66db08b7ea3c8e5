package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/connectors"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/stdwebhooks"
	"github.com/memberflow/memberflow/templates"
)

// config is what ingest reads beside lambdaenv.Config.
type config struct {
	WebhookSecretARN string // WEBHOOK_SECRET_ARN: {"<source>":"<secret>"}
}

func configFromEnv(getenv func(string) string) (config, error) {
	return config{WebhookSecretARN: getenv("WEBHOOK_SECRET_ARN")}, nil
}

// mounts builds POST /v1/events and POST /v1/connectors/{platform}. The
// secret document's sources named after a platform (shopify, woocommerce,
// youzan) key that platform's connector and nothing else; the others key
// /v1/events.
func mounts(ctx context.Context, env *lambdaenv.Env, c config) (lambdaenv.Mounts, error) {
	doc, err := lambdaenv.Secret(ctx, "WEBHOOK_SECRET_ARN", c.WebhookSecretARN)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	sec, err := webhookSecrets(doc)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	// The programme's currency and point value, which events are checked
	// against; a broken programme stops the cold start.
	prog, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		return lambdaenv.Mounts{}, err
	}
	byEvents, native := connectors.SplitSecrets(sec)
	in := &ingest.Handler{Store: env.Store, Rules: ingest.ProgramRules(prog), Secrets: byEvents, Log: env.Log}
	return lambdaenv.Mounts{
		Events:     in,
		Connectors: &connectors.Handler{Ingest: in, Secrets: native, Log: env.Log},
	}, nil
}

// webhookSecrets parses the webhook secret document {"<source>":"<secret>"}.
func webhookSecrets(doc []byte) (map[string][]byte, error) {
	var m map[string]string
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("webhook secret: must be a JSON object of source to secret: %w", err)
	}
	out := make(map[string][]byte, len(m))
	for src, s := range m {
		if src == events.InternalSource {
			return nil, fmt.Errorf("webhook secret: source %q is reserved for memberflow's own events; name the storefront otherwise", src)
		}
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("webhook secret: source %q has an empty secret", src)
		}
		// A source signing the Standard Webhooks way may be given its
		// "whsec_" secret as its sender shows it.
		if err := stdwebhooks.CheckSecret([]byte(s)); err != nil {
			return nil, fmt.Errorf("webhook secret: source %q: %w", src, err)
		}
		out[src] = []byte(s)
	}
	if len(out) == 0 {
		return nil, errors.New("webhook secret: no sources configured")
	}
	return out, nil
}
