package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/mail/asmgroup"
	"github.com/memberflow/memberflow/internal/sgevents"
)

// config is what sendgrid-events reads beside lambdaenv.Config.
type config struct {
	// WebhookPublicKey is SENDGRID_WEBHOOK_PUBLIC_KEY: the Signed Event
	// Webhook's verification key as SendGrid shows it (base64 DER). It is
	// public, so it is configuration rather than a secret.
	WebhookPublicKey string
	// ASMGroups is SENDGRID_ASM_GROUPS, a JSON object of memberflow group
	// name to SendGrid ASM group id, e.g. {"activation": 12345}.
	ASMGroups map[string]int
}

func configFromEnv(getenv func(string) string) (config, error) {
	c := config{WebhookPublicKey: getenv("SENDGRID_WEBHOOK_PUBLIC_KEY")}
	groups, err := asmgroup.Parse(getenv("SENDGRID_ASM_GROUPS"))
	if err != nil {
		return c, fmt.Errorf("SENDGRID_ASM_GROUPS: %w", err)
	}
	c.ASMGroups = groups
	return c, nil
}

// mounts builds POST /v1/sendgrid/events. It needs no secret: SendGrid
// signs its posts, and the key to check them is public.
func mounts(_ context.Context, env *lambdaenv.Env, c config) (lambdaenv.Mounts, error) {
	if c.WebhookPublicKey == "" {
		return lambdaenv.Mounts{}, errors.New("SENDGRID_WEBHOOK_PUBLIC_KEY is required")
	}
	pub, err := sgevents.ParsePublicKey(c.WebhookPublicKey)
	if err != nil {
		return lambdaenv.Mounts{}, fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY: %w", err)
	}
	h := &sgevents.Handler{Store: env.Store, PublicKey: pub, Groups: asmgroup.ByID(c.ASMGroups), Log: env.Log}
	return lambdaenv.Mounts{SendGridEvents: h}, nil
}
