// Command worker is the long-running Temporal worker (ECS Fargate in
// infra/worker.yaml): it runs the journey workflows and their activities.
// With -backfill-calendar-index it instead backfills the table's GSI2 once
// and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/worker"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/temporalconn"
	"github.com/memberflow/memberflow/internal/unsubscribe"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	flags, err := ParseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2) // ParseFlags has said why
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(ctx, flags, os.Getenv, os.Stdout, log); err != nil {
		log.Error("worker stopped", "err", err)
		os.Exit(1)
	}
}

// run starts the worker, or with flags.BackfillCalendarIndex backfills
// the table, printing its progress to stdout, and returns.
func run(ctx context.Context, flags Flags, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	ddb, err := dynamo.NewClient(ctx, cfg.DynamoDBEndpoint, cfg.Region)
	if err != nil {
		return err
	}
	if flags.BackfillCalendarIndex {
		p, err := backfillCalendarIndex(ctx, dynamo.New(ddb, cfg.TableName), stdout)
		if err != nil {
			return err
		}
		log.Info("calendar index backfilled", "table", cfg.TableName, "scanned", p.Scanned, "updated", p.Updated, "skipped", p.Skipped)
		return nil
	}
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		return err
	}
	if err := mail.CheckSendable(catalog, cfg.Environment, cfg.ASMGroups); err != nil {
		return err
	}
	sender, err := mail.NewSender(mail.SenderConfig{
		APIKey: cfg.SendGridAPIKey, BaseURL: cfg.SendGridBaseURL, FromEmail: cfg.FromEmail, FromName: cfg.FromName, SandboxMode: cfg.SandboxMode,
		Catalog: catalog, Environment: cfg.Environment, ASMGroups: cfg.ASMGroups,
	})
	if err != nil {
		return err
	}
	links, err := unsubscribe.NewSigner([]byte(cfg.CodeSecret))
	if err != nil {
		return err
	}
	c, err := temporalconn.Dial(ctx, cfg.Temporal, log)
	if err != nil {
		return err
	}
	defer c.Close()
	st := dynamo.New(ddb, cfg.TableName)
	ldg, err := ledger.New(templates.Program, []byte(cfg.CodeSecret), st, log.With("component", "ledger"))
	if err != nil {
		return err
	}
	if err := workflows.EnsureSweepSchedule(ctx, c, cfg.TaskQueue, workflows.LedgerSweepInput{CatchUpDays: 7}, cfg.SweepEvery); err != nil {
		return err
	}
	if err := workflows.EnsureAnalyticsSchedule(ctx, c, cfg.TaskQueue, cfg.Analytics.Input, cfg.Analytics.At, ldg.Rules.Program.Location.String()); err != nil {
		return err
	}
	svc, eng, err := journeys.New(st, ldg.Rules.Program, catalog)
	if err != nil {
		return err
	}
	// The shipped journeys are published when their content changed, so a
	// deploy carries them; a publish or a status change (here or through
	// the API) keeps each journey's schedule in step.
	svc.Changed = func(ctx context.Context, live []journeys.Live) error {
		return workflows.EnsureJourneySchedules(ctx, c, cfg.TaskQueue, live, cfg.ScanEvery, workflows.DefaultCatchUp)
	}
	published, err := svc.PublishFiles(ctx, templates.Journeys, journeys.ShippedDir)
	if err != nil {
		return err
	}
	for _, p := range published {
		if !p.Unchanged {
			log.Info("journey published", "journey", p.Name, "version", p.Version, "enrollments_on_older_versions", p.OnOlderVersions)
		}
	}
	live, err := svc.LiveSet(ctx)
	if err != nil {
		return err
	}
	if err := svc.Changed(ctx, live); err != nil {
		return err
	}
	// The scans enter members as dispatch does.
	enroller := &journeys.Enroller{Store: st, Engine: eng, Runner: workflows.Runner{Client: c, TaskQueue: cfg.TaskQueue}}
	w := worker.New(c, cfg.TaskQueue, worker.Options{})
	workflows.Register(w, &activities.Activities{Store: st, Ledger: ldg, Mailer: sender, Templates: catalog, Brand: cfg.Brand,
		Links: links, PublicURL: cfg.PublicURL, Log: log, Workflows: c, TaskQueue: cfg.TaskQueue,
		Engine: eng, Journeys: svc, Enroller: enroller, WebhookSecret: activities.WebhookSecret(cfg.JourneyWebhookSecret)})
	log.Info("worker polling", "task_queue", cfg.TaskQueue, "namespace", cfg.Temporal.Namespace)
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done() // SIGTERM from ECS: finish in-flight tasks, then exit
	w.Stop()
	return nil
}

// backfillCalendarIndex runs the one-off GSI2 backfill, printing the
// running totals after each page so a long run on ECS shows it is moving.
// Interrupted, it is simply run again: it only touches items still
// lacking GSI2.
func backfillCalendarIndex(ctx context.Context, st *dynamo.Store, out io.Writer) (dynamo.BackfillProgress, error) {
	return st.BackfillCalendarIndex(ctx, func(p dynamo.BackfillProgress) {
		fmt.Fprintf(out, "backfill: scanned %d updated %d skipped %d\n", p.Scanned, p.Updated, p.Skipped)
	})
}
