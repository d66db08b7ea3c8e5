package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/memberflow/memberflow/internal/ingest"
)

// sendEvent signs an event file exactly as a storefront must and posts it,
// printing the status and answer: the quickest way to check an integration.
func sendEvent(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("send-event", flag.ContinueOnError)
	url := fs.String("url", cmp.Or(getenv("MEMBERFLOW_URL"), "http://127.0.0.1:8080"), "base URL of memberflow")
	source := fs.String("source", "storefront", "source name (Memberflow-Source header)")
	secret := fs.String("secret", cmp.Or(getenv("MEMBERFLOW_WEBHOOK_SECRET"), defaultWebhookSecret), "the source's webhook secret")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("send-event needs exactly one file (an event or an array of events)")
	}
	body, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ingest.HeaderSource, *source)
	req.Header.Set(ingest.HeaderSignature, ingest.Sign([]byte(*secret), time.Now(), body))
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w (is `make run` running?)", fs.Arg(0), err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(out, "%s\n%s", resp.Status, answer)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("memberflow answered %s", resp.Status)
	}
	return nil
}
