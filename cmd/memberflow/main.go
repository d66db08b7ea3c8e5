// Command memberflow is the developer's entry point: `memberflow run` starts
// the whole system locally, `memberflow send-event <file>` signs and posts an
// event file the way a storefront would, `send-sendgrid-events` does the same
// for SendGrid's event webhook, and `templates` pushes and previews emails.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const usage = `usage:
  memberflow run                  start the local stack (DynamoDB Local, Temporal, worker, API on 127.0.0.1:8080)
  memberflow send-event [--standard [--webhook-id <id>]] <file>
                                  sign (Memberflow-Signature, or Standard Webhooks) and POST an event file
                                  (one event or an array) to /v1/events
  memberflow send-sendgrid-events <file>
                                  sign (local key) and POST SendGrid webhook events to /v1/sendgrid/events
  memberflow templates push --env <env> --url <url> [--dir <dir>]
                                  create/update the SendGrid dynamic templates of <env>, record new ids,
                                  record each push in the audit log of <env>'s memberflow at <url> (or MEMBERFLOW_URL)
  memberflow templates preview <name> --member <id|sample> [--out <file>]
                                  render an email as the outbox does (HTML to stdout, subject to stderr)
  memberflow load [--rate 50 --duration 1m --registrations 1000 --burst 500 --members 400 --url <url> --keep]
                                  figures under load on a stack it starts (or --url): ingest, event→email, exactly once
  memberflow replay [--since 24h] [--limit 1000]
                                  replay the recent histories of TEMPORAL_ADDRESS (default 127.0.0.1:7233) / TEMPORAL_NAMESPACE
                                  against this build's workflows; non-zero naming each that no longer replays (before a deploy)
  memberflow analytics fit --transactions FILE --format cdnow|csv --calibration-end YYYY-MM-DD [--period week|day]
                                  fit BG/NBD and Gamma-Gamma to a transaction file outside the store; prints both models
  memberflow journeys validate|publish FILE
  memberflow journeys list|show|pause|resume|archive NAME
  memberflow journeys diff NAME A B
                                  journeys through the API (--url, MEMBERFLOW_URL; token MEMBERFLOW_ADMIN_TOKEN)
  memberflow timeline MEMBER [--limit 100] [--before CURSOR]
                                  every decision about a member, newest first: why they did or did not get it
  memberflow audit [--since RFC3339] [--limit 100] [--after CURSOR]
                                  operator actions (adjustments, journey changes, enrollments), oldest first, with the acting token
  memberflow simulate FILE|NAME... [--members N --days D --seed S --start DATE --cohort CSV --behaviour FILE --json --out DIR]
                                  run journeys over a simulated cohort in simulated time; report sends, skips, goals, cost
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "memberflow:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("a command is required")
	}
	switch args[0] {
	case "run":
		return runStack(ctx, getenv)
	case "send-event":
		return sendEvent(ctx, args[1:], getenv, os.Stdout)
	case "send-sendgrid-events":
		return sendSendgridEvents(ctx, args[1:], getenv, os.Stdout)
	case "templates":
		return templatesCmd(ctx, args[1:], getenv, os.Stdout, os.Stderr)
	case "load":
		return loadCmd(ctx, args[1:], getenv, os.Environ(), os.Stdout)
	case "replay":
		return replayCmd(ctx, args[1:], getenv, os.Stdout, os.Stderr)
	case "analytics":
		return analyticsCmd(args[1:], os.Stdout, os.Stderr)
	case "journeys":
		return journeysCmd(ctx, args[1:], getenv, os.Stdout, os.Stderr)
	case "timeline":
		return timelineCmd(ctx, args[1:], getenv, os.Stdout, os.Stderr)
	case "audit":
		return auditCmd(ctx, args[1:], getenv, os.Stdout, os.Stderr)
	case "simulate":
		return simulateCmd(ctx, args[1:], os.Stdout, os.Stderr, time.Now)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
