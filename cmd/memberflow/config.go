package main

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/stdwebhooks"
	"github.com/memberflow/memberflow/workflows"
)

// Defaults of the local stack; README.md's configuration table lists them.
// The secrets are published there, so the default address is loopback only.
const (
	defaultHTTPAddr      = "127.0.0.1:8080"
	defaultWebhookSecret = "local-dev-secret"
	defaultAdminToken    = "local-admin-token"
	defaultCodeSecret    = "local-coupon-code-secret"
	// defaultJourneyWebhookSecret signs journeys' webhook steps locally
	// ("whsec_" + base64 of "local-journey-webhook-secret").
	defaultJourneyWebhookSecret = "whsec_bG9jYWwtam91cm5leS13ZWJob29rLXNlY3JldA=="
	// The native storefront connectors' app secrets
	// (POST /v1/connectors/{platform}).
	defaultShopifySecret     = "local-shopify-secret"
	defaultWooCommerceSecret = "local-woocommerce-secret"
	defaultYouzanSecret      = "local-youzan-secret"
	defaultTemporalPort      = 7233
	defaultUIPort            = 8233
	defaultDynamoDBPort      = 8000
)

// stackConfigFromEnv reads the local stack's configuration once.
func stackConfigFromEnv(getenv func(string) string) (localstack.Config, error) {
	root, err := localstack.RepoRoot()
	if err != nil {
		return localstack.Config{}, err
	}
	cfg := localstack.Config{
		Root:                 root,
		DataDir:              cmp.Or(getenv("MEMBERFLOW_DATA_DIR"), filepath.Join(root, ".local")),
		HTTPAddr:             cmp.Or(getenv("MEMBERFLOW_HTTP_ADDR"), defaultHTTPAddr),
		TemporalCLI:          cmp.Or(getenv("TEMPORAL_CLI"), filepath.Join(root, "bin", "temporal")),
		DynamoDBDir:          getenv("DYNAMODB_LOCAL_DIR"),
		Table:                cmp.Or(getenv("MEMBERFLOW_TABLE"), "memberflow"),
		WebhookSecret:        cmp.Or(getenv("MEMBERFLOW_WEBHOOK_SECRET"), defaultWebhookSecret),
		ConnectorSecrets:     connectorSecrets(getenv),
		AdminToken:           cmp.Or(getenv("MEMBERFLOW_ADMIN_TOKEN"), defaultAdminToken),
		CodeSecret:           cmp.Or(getenv("MEMBERFLOW_CODE_SECRET"), defaultCodeSecret),
		PublicURL:            getenv("MEMBERFLOW_PUBLIC_URL"),
		JourneyWebhookSecret: cmp.Or(getenv("MEMBERFLOW_JOURNEY_WEBHOOK_SECRET"), defaultJourneyWebhookSecret),
		Brand: activities.Brand{
			Name:    cmp.Or(getenv("MEMBERFLOW_BRAND_NAME"), "Memberflow Demo"),
			ShopURL: cmp.Or(getenv("MEMBERFLOW_SHOP_URL"), "https://shop.example.com"),
		},
		FromEmail: cmp.Or(getenv("MEMBERFLOW_FROM_EMAIL"), "hello@memberflow.local"),
	}
	// Both are Standard Webhooks keys when written "whsec_<base64>".
	for _, sec := range []struct{ env, value string }{
		{"MEMBERFLOW_WEBHOOK_SECRET", cfg.WebhookSecret},
		{"MEMBERFLOW_JOURNEY_WEBHOOK_SECRET", cfg.JourneyWebhookSecret},
	} {
		if err := stdwebhooks.CheckSecret([]byte(sec.value)); err != nil {
			return cfg, fmt.Errorf("%s: %w", sec.env, err)
		}
	}
	if err := checkExposure(cfg); err != nil {
		return cfg, err
	}
	ports := []struct {
		env  string
		def  int
		into *int
	}{
		{"MEMBERFLOW_TEMPORAL_PORT", defaultTemporalPort, &cfg.TemporalPort},
		{"MEMBERFLOW_TEMPORAL_UI_PORT", defaultUIPort, &cfg.UIPort},
		{"MEMBERFLOW_DYNAMODB_PORT", defaultDynamoDBPort, &cfg.DynamoDBPort},
	}
	for _, p := range ports {
		*p.into = p.def
		if v := getenv(p.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65535 {
				return cfg, fmt.Errorf("%s must be a port number, got %q", p.env, v)
			}
			*p.into = n
		}
	}
	// Journey files to publish at start-up instead of the shipped ones
	// (say, copies with delays of seconds, to try a journey in minutes).
	if dir := getenv("MEMBERFLOW_JOURNEYS_DIR"); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return cfg, fmt.Errorf("MEMBERFLOW_JOURNEYS_DIR must be a directory of journey files, got %q", dir)
		}
		cfg.Journeys = os.DirFS(dir)
	}
	analytics, err := workflows.AnalyticsScheduleFromEnv(getenv)
	if err != nil {
		return cfg, err
	}
	cfg.Analytics = analytics
	if v := getenv("MEMBERFLOW_SCAN_EVERY"); v != "" {
		x, err := time.ParseDuration(v)
		if err != nil || x < time.Second || x > workflows.DefaultCatchUp/2 {
			return cfg, fmt.Errorf("MEMBERFLOW_SCAN_EVERY must be a duration from 1s to %s (each run looks back %s) like 1h or 30s, got %q", workflows.DefaultCatchUp/2, workflows.DefaultCatchUp, v)
		}
		cfg.ScanEvery = x
	}
	if v := getenv("MEMBERFLOW_CONFIRM_WINDOW"); v != "" {
		x, err := time.ParseDuration(v)
		if err != nil || x < time.Second || x > time.Hour {
			return cfg, fmt.Errorf("MEMBERFLOW_CONFIRM_WINDOW must be a duration from 1s to 1h like 10m or 20s, got %q", v)
		}
		cfg.ConfirmWindow = x
	}
	return cfg, nil
}

// checkExposure refuses an HTTP address reachable from other machines
// while any secret is still at its published default: anyone on the
// network could then post events, read members and forge coupon codes.
func checkExposure(cfg localstack.Config) error {
	host, _, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("MEMBERFLOW_HTTP_ADDR must be host:port like 127.0.0.1:8080, got %q: %w", cfg.HTTPAddr, err)
	}
	if isLoopback(host) {
		return nil
	}
	var defaults []string
	for _, s := range []struct{ env, value, def string }{
		{"MEMBERFLOW_WEBHOOK_SECRET", cfg.WebhookSecret, defaultWebhookSecret},
		{"MEMBERFLOW_ADMIN_TOKEN", cfg.AdminToken, defaultAdminToken},
		{"MEMBERFLOW_CODE_SECRET", cfg.CodeSecret, defaultCodeSecret},
		{"MEMBERFLOW_JOURNEY_WEBHOOK_SECRET", cfg.JourneyWebhookSecret, defaultJourneyWebhookSecret},
		{"MEMBERFLOW_SHOPIFY_SECRET", cfg.ConnectorSecrets["shopify"], defaultShopifySecret},
		{"MEMBERFLOW_WOOCOMMERCE_SECRET", cfg.ConnectorSecrets["woocommerce"], defaultWooCommerceSecret},
		{"MEMBERFLOW_YOUZAN_SECRET", cfg.ConnectorSecrets["youzan"], defaultYouzanSecret},
	} {
		if s.value == s.def {
			defaults = append(defaults, s.env)
		}
	}
	if len(defaults) == 0 {
		return nil
	}
	return fmt.Errorf("MEMBERFLOW_HTTP_ADDR %q listens beyond this machine with secrets everyone knows (README.md's defaults): set %s to secrets of your own, or keep MEMBERFLOW_HTTP_ADDR on 127.0.0.1",
		cfg.HTTPAddr, strings.Join(defaults, ", "))
}

// connectorSecrets are the native storefront connectors' app secrets by
// platform: MEMBERFLOW_SHOPIFY_SECRET, MEMBERFLOW_WOOCOMMERCE_SECRET and
// MEMBERFLOW_YOUZAN_SECRET (Youzan's client_secret), local ones by default.
func connectorSecrets(getenv func(string) string) map[string]string {
	return map[string]string{
		"shopify":     cmp.Or(getenv("MEMBERFLOW_SHOPIFY_SECRET"), defaultShopifySecret),
		"woocommerce": cmp.Or(getenv("MEMBERFLOW_WOOCOMMERCE_SECRET"), defaultWooCommerceSecret),
		"youzan":      cmp.Or(getenv("MEMBERFLOW_YOUZAN_SECRET"), defaultYouzanSecret),
	}
}

// isLoopback reports whether host (of host:port) only accepts connections
// from this machine: "localhost" or an address in 127.0.0.0/8 or ::1. An
// empty host, 0.0.0.0 and :: listen on every interface.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
