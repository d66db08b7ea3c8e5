package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/sgevents"
)

// sendSendgridEvents signs a file of SendGrid events with the local stack's
// webhook key, as SendGrid signs with its own, and posts it to
// /v1/sendgrid/events, printing the status and answer: delivery feedback
// (bounces, opens, unsubscribes) without a SendGrid account.
func sendSendgridEvents(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	flags := flag.NewFlagSet("send-sendgrid-events", flag.ContinueOnError)
	url := flags.String("url", cmp.Or(getenv("MEMBERFLOW_URL"), "http://127.0.0.1:8080"), "base URL of memberflow")
	dataDir := flags.String("data-dir", getenv("MEMBERFLOW_DATA_DIR"), "the local stack's data directory, holding "+localstack.WebhookKeyFile+" (default <repo>/.local)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		return errors.New("send-sendgrid-events needs exactly one file (a JSON array of SendGrid events)")
	}
	if *dataDir == "" {
		root, err := localstack.RepoRoot()
		if err != nil {
			return err
		}
		*dataDir = filepath.Join(root, ".local")
	}
	body, err := os.ReadFile(flags.Arg(0))
	if err != nil {
		return err
	}
	// Read, never create: a key made here would not be the one the
	// running stack verifies with.
	key, err := localstack.ReadWebhookKey(*dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no SendGrid webhook key in %s yet; start the stack (`make run`) with this data directory first: %w", *dataDir, err)
	}
	if err != nil {
		return err
	}
	sig, ts := sgevents.Sign(key, time.Now(), body)
	return postFile(ctx, *url+"/v1/sendgrid/events", flags.Arg(0), body, map[string]string{
		sgevents.HeaderSignature: sig,
		sgevents.HeaderTimestamp: ts,
	}, out)
}
