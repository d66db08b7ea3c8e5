// Command memberflow is the developer's entry point: `memberflow run` starts
// the whole system locally and `memberflow send-event <file>` signs and posts
// an event file the way a storefront would.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  memberflow run                  start the local stack (DynamoDB Local, Temporal, worker, API on :8080)
  memberflow send-event <file>    sign and POST an event file (one event or an array) to /v1/events
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
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
