package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/memberflow/memberflow/internal/localstack"
)

func runStack(ctx context.Context, getenv func(string) string) error {
	cfg, err := stackConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := localstack.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Printf(`
memberflow is running.
  HTTP API         %s   (health: %s/healthz)
  webhook secret   %s   (source "storefront"; MEMBERFLOW_WEBHOOK_SECRET)
  connectors       %s/v1/connectors/{shopify,woocommerce,youzan}   (MEMBERFLOW_SHOPIFY_SECRET, _WOOCOMMERCE_, _YOUZAN_)
  admin token      %s   (Authorization: Bearer …; MEMBERFLOW_ADMIN_TOKEN)
  Temporal         %s   (UI: http://127.0.0.1:%d)
  DynamoDB Local   %s   (table %s)
  email outbox     %s
Try:  go run ./cmd/memberflow send-event events/samples/member.registered.json
Ctrl-C stops everything; data stays in %s.
`, s.URL, s.URL, cfg.WebhookSecret, s.URL, cfg.AdminToken, s.TemporalAddress, cfg.UIPort, s.DynamoDB, s.Table, s.OutboxDir, cfg.DataDir)
	<-ctx.Done()
	log.Info("stopping")
	s.Stop()
	log.Info("stopped")
	return nil
}
