package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/memberflow/memberflow/internal/loadtest"
	"github.com/memberflow/memberflow/internal/localstack"
)

// loadCmd is `memberflow load`: figures of the local stack under load
// (internal/loadtest). It exits non-zero when an event was lost or
// duplicated or a member differs from its twin.
func loadCmd(ctx context.Context, args []string, getenv func(string) string, environ []string, out io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(out)
	rate := fs.Int("rate", 50, "ingest phase: events per second")
	duration := fs.Duration("duration", time.Minute, "ingest phase: how long (0 skips it)")
	regs := fs.Int("registrations", 1000, "email phase: registrations timed to their welcome email (0 skips)")
	regRate := fs.Int("registration-rate", 10, "email phase: registrations per second")
	burst := fs.Int("burst", 500, "email phase: registrations posted at once for the drain figure (0 skips)")
	members := fs.Int("members", 400, "exactly-once phase: members per delivery, 4 events each (0 skips)")
	url := fs.String("url", "", "use this running stack (loopback only) instead of starting one; skips the SIGKILL delivery")
	dataDir := fs.String("data-dir", "", "with --url: the stack's MEMBERFLOW_DATA_DIR (default .local), for its outbox")
	ddb := fs.String("dynamodb", "", "with --url: its DynamoDB endpoint (default http://127.0.0.1:$MEMBERFLOW_DYNAMODB_PORT or :8000)")
	bin := fs.String("bin", "", "memberflow binary whose `run` starts the stack (default: this one)")
	keep := fs.Bool("keep", false, "keep the started stack's data directory (outbox, logs)")
	seed := fs.Uint64("seed", 0, "seed of the shuffles and duplicates (0: from the time)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("load takes flags only, not %q", fs.Args())
	}
	root, err := localstack.RepoRoot()
	if err != nil {
		return err
	}
	cfg := loadtest.Config{
		Root: root, Env: environ, URL: *url,
		Table:         cmp.Or(getenv("MEMBERFLOW_TABLE"), "memberflow"),
		WebhookSecret: cmp.Or(getenv("MEMBERFLOW_WEBHOOK_SECRET"), defaultWebhookSecret),
		AdminToken:    cmp.Or(getenv("MEMBERFLOW_ADMIN_TOKEN"), defaultAdminToken),
		Rate:          *rate, Duration: *duration,
		Registrations: *regs, RegistrationRate: *regRate, Burst: *burst,
		Members: *members, Keep: *keep, Seed: *seed, Out: out,
	}
	if *url != "" {
		cfg.DataDir = cmp.Or(*dataDir, getenv("MEMBERFLOW_DATA_DIR"), filepath.Join(root, ".local"))
		cfg.DynamoDB = cmp.Or(*ddb, "http://127.0.0.1:"+cmp.Or(getenv("MEMBERFLOW_DYNAMODB_PORT"), "8000"))
	} else if cfg.Binary = *bin; cfg.Binary == "" {
		if cfg.Binary, err = os.Executable(); err != nil {
			return fmt.Errorf("find the memberflow binary to run the stack with: %w", err)
		}
	}
	sum, err := loadtest.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if sum.Failed() {
		return fmt.Errorf("load: lost %d, duplicated %d, mismatched %d (want 0 each)", sum.Lost, sum.Duplicated, sum.Mismatched)
	}
	return nil
}
