// Command cost measures what memberflow's lifecycles cost in Temporal Cloud
// actions (`make cost`). It starts the local stack with the shipped
// journeys (templates/journeys) published with their delays shortened to
// seconds, runs each lifecycle on the journey engine — activation and
// trial as Journey workflows driven by signed webhooks; birthday,
// tier_expiry and winback (the live journeys with a date or inactivity
// trigger) through their scan/<name> schedules, empty and over seeded
// members, with an email the frequency cap holds back in its
// JourneyDeferredStep — counts the actions in the histories the dev server
// recorded (internal/cost), and prints the figures per lifecycle, per
// member and year at the reference incidence, and in list-price dollars,
// as Markdown tables to paste into README.md. It also publishes the
// svip_upsell example through the HTTP API and prints one enrollment per
// path. It exits non-zero when the lifecycles cost more than the budget
// of 4.10 actions per member and year (the figure is printed either way).
// Progress goes to stderr, the tables to stdout.
package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/memberflow/memberflow/internal/localstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := configFromEnv(os.Getenv)
	if err == nil {
		err = run(ctx, cfg, os.Stdout, log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		os.Exit(1)
	}
}

// config is where the tools are; everything else is fixed (the stack runs
// in memory on free ports, its outbox and logs in a temporary directory).
type config struct {
	Root        string // repository root
	TemporalCLI string // TEMPORAL_CLI, default <root>/bin/temporal (make exports it)
	DynamoDBDir string // DYNAMODB_LOCAL_DIR, default the copy `make tools` installs
}

func configFromEnv(getenv func(string) string) (config, error) {
	root, err := localstack.RepoRoot()
	if err != nil {
		return config{}, err
	}
	return config{
		Root:        root,
		TemporalCLI: cmp.Or(getenv("TEMPORAL_CLI"), filepath.Join(root, "bin", "temporal")),
		DynamoDBDir: getenv("DYNAMODB_LOCAL_DIR"),
	}, nil
}
