// Command cost measures what memberflow's lifecycles cost in Temporal Cloud
// actions (`make cost`): it starts the local stack, runs every lifecycle
// on the Temporal dev server with its delays shortened, counts the actions
// in the histories the dev server recorded (internal/cost), and prints the
// figures per lifecycle, per member and year at the reference incidence,
// and in list-price dollars, as Markdown tables to paste into README.md.
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
