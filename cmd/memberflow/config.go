package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/workflows"
)

// Defaults of the local stack; README.md's configuration table lists them.
const (
	defaultHTTPAddr      = ":8080"
	defaultWebhookSecret = "local-dev-secret"
	defaultAdminToken    = "local-admin-token"
	defaultCodeSecret    = "local-coupon-code-secret"
	defaultTemporalPort  = 7233
	defaultUIPort        = 8233
	defaultDynamoDBPort  = 8000
)

// stackConfigFromEnv reads the local stack's configuration once.
func stackConfigFromEnv(getenv func(string) string) (localstack.Config, error) {
	root, err := repoRoot()
	if err != nil {
		return localstack.Config{}, err
	}
	def := workflows.DefaultActivation()
	cfg := localstack.Config{
		Root:          root,
		DataDir:       cmp.Or(getenv("MEMBERFLOW_DATA_DIR"), filepath.Join(root, ".local")),
		HTTPAddr:      cmp.Or(getenv("MEMBERFLOW_HTTP_ADDR"), defaultHTTPAddr),
		TemporalCLI:   cmp.Or(getenv("TEMPORAL_CLI"), filepath.Join(root, "bin", "temporal")),
		DynamoDBDir:   getenv("DYNAMODB_LOCAL_DIR"),
		Table:         cmp.Or(getenv("MEMBERFLOW_TABLE"), "memberflow"),
		WebhookSecret: cmp.Or(getenv("MEMBERFLOW_WEBHOOK_SECRET"), defaultWebhookSecret),
		AdminToken:    cmp.Or(getenv("MEMBERFLOW_ADMIN_TOKEN"), defaultAdminToken),
		CodeSecret:    cmp.Or(getenv("MEMBERFLOW_CODE_SECRET"), defaultCodeSecret),
		PublicURL:     getenv("MEMBERFLOW_PUBLIC_URL"),
		Activation:    def,
		Brand: activities.Brand{
			Name:    cmp.Or(getenv("MEMBERFLOW_BRAND_NAME"), "Memberflow Demo"),
			ShopURL: cmp.Or(getenv("MEMBERFLOW_SHOP_URL"), "https://shop.example.com"),
		},
		FromEmail: cmp.Or(getenv("MEMBERFLOW_FROM_EMAIL"), "hello@memberflow.local"),
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
	durations := []struct {
		env  string
		into *time.Duration
	}{
		{"MEMBERFLOW_ACTIVATION_NUDGE_AFTER", &cfg.Activation.NudgeAfter},
		{"MEMBERFLOW_ACTIVATION_LAST_NUDGE_AFTER", &cfg.Activation.LastNudgeAfter},
	}
	for _, d := range durations {
		if v := getenv(d.env); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x <= 0 {
				return cfg, fmt.Errorf("%s must be a positive duration like 72h or 30s, got %q", d.env, v)
			}
			*d.into = x
		}
	}
	if cfg.Activation.LastNudgeAfter <= cfg.Activation.NudgeAfter {
		return cfg, fmt.Errorf("MEMBERFLOW_ACTIVATION_LAST_NUDGE_AFTER (%s) must be later than MEMBERFLOW_ACTIVATION_NUDGE_AFTER (%s)", cfg.Activation.LastNudgeAfter, cfg.Activation.NudgeAfter)
	}
	return cfg, nil
}

// repoRoot finds the directory holding go.mod, so `memberflow run` works
// from any sub-directory of the checkout.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run memberflow from inside the memberflow checkout (no go.mod above %s)", dir)
		}
	}
}
