package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/connectors"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/stdwebhooks"
)

// sendEvent signs an event file exactly as a storefront must and posts it,
// printing the status and answer: the quickest way to check an integration.
// With --standard it signs the Standard Webhooks way (webhook-id,
// webhook-timestamp, webhook-signature) instead of Memberflow-Signature;
// --webhook-id repeats a delivery, otherwise each run is a new one.
// With --as shopify|woocommerce|youzan it posts a platform's own payload
// (events/connectors/<platform>/) to /v1/connectors/<platform>, signed the
// platform's way with its secret (MEMBERFLOW_<PLATFORM>_SECRET, local by
// default), the topic from --topic or the file (TopicFromFile).
func sendEvent(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("send-event", flag.ContinueOnError)
	url := fs.String("url", cmp.Or(getenv("MEMBERFLOW_URL"), "http://127.0.0.1:8080"), "base URL of memberflow")
	source := fs.String("source", "storefront", "source name (Memberflow-Source header)")
	secret := fs.String("secret", cmp.Or(getenv("MEMBERFLOW_WEBHOOK_SECRET"), defaultWebhookSecret), "the source's webhook secret")
	standard := fs.Bool("standard", false, "sign the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature)")
	delivery := fs.String("webhook-id", "", "with --standard or --as: the delivery id (default: a new one each run)")
	as := fs.String("as", "", "post a platform's native webhook: shopify, woocommerce or youzan")
	topic := fs.String("topic", "", "with --as: the platform's topic (default: from the file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("send-event needs exactly one file (an event or an array of events)")
	}
	if *as != "" {
		if *standard {
			return fmt.Errorf("--as and --standard exclude each other")
		}
		secretSet := false
		fs.Visit(func(f *flag.Flag) { secretSet = secretSet || f.Name == "secret" })
		return sendNative(ctx, *url, *as, *topic, *delivery, secretSet, *secret, fs.Arg(0), getenv, out)
	}
	if *topic != "" {
		return fmt.Errorf("--topic needs --as")
	}
	if *delivery != "" && !*standard {
		return fmt.Errorf("--webhook-id needs --standard or --as")
	}
	body, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	headers := map[string]string{ingest.HeaderSignature: ingest.Sign([]byte(*secret), time.Now(), body)}
	if *standard {
		headers, err = stdwebhooks.Headers([]byte(*secret), cmp.Or(*delivery, "msg_"+rand.Text()), time.Now(), body)
		if err != nil {
			return err
		}
	}
	headers[ingest.HeaderSource] = *source
	return postFile(ctx, *url+"/v1/events", fs.Arg(0), body, headers, out)
}

// sendNative posts file to /v1/connectors/<platform> signed as the
// platform signs: secret when --secret was given, else the platform's
// configured one.
func sendNative(ctx context.Context, url, platform, topic, delivery string, secretSet bool, secret, file string, getenv func(string) string, out io.Writer) error {
	body, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !secretSet {
		s, ok := connectorSecrets(getenv)[platform]
		if !ok {
			return fmt.Errorf("--as %q: must be one of %s", platform, strings.Join(connectors.Platforms(), ", "))
		}
		secret = s
	}
	if topic == "" {
		if topic, err = connectors.TopicFromFile(platform, file, body); err != nil {
			return err
		}
	}
	h, err := connectors.Headers(platform, topic, cmp.Or(delivery, rand.Text()), connectors.YouzanClientID(body), []byte(secret), body)
	if err != nil {
		return err
	}
	headers := make(map[string]string, len(h))
	for k := range h {
		headers[k] = h.Get(k)
	}
	return postFile(ctx, url+"/v1/connectors/"+platform, file, body, headers, out)
}

// postFile posts the JSON body read from file with headers and prints the
// status and answer; an answer of 300 or above is an error.
func postFile(ctx context.Context, url, file string, body []byte, headers map[string]string, out io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w (is `make run` running?)", file, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(out, "%s\n%s", resp.Status, answer)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("memberflow answered %s", resp.Status)
	}
	return nil
}
