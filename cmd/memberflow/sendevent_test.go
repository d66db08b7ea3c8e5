package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/connectors"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/stdwebhooks"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
)

// send-event --standard signs so that the Standard Webhooks verifier
// accepts, with a delivery id that is new each run unless --webhook-id
// repeats one, and sends no Memberflow-Signature beside it.
func TestSendEventStandardSigns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "e.json")
	body := []byte(`{"id":"e1"}`)
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var verified []error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		id, err := stdwebhooks.Verify([]byte("s3"), r.Header, got, time.Now())
		if r.Header.Get(ingest.HeaderSource) != "pos" || r.Header.Get(ingest.HeaderSignature) != "" {
			err = io.ErrUnexpectedEOF
		}
		ids, verified = append(ids, id), append(verified, err)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	args := []string{"-url", srv.URL, "-source", "pos", "-secret", "s3", "--standard"}
	var out bytes.Buffer
	for _, extra := range [][]string{nil, nil, {"--webhook-id", "msg_again"}} {
		if err := sendEvent(context.Background(), append(append(args[:len(args):len(args)], extra...), file), env(nil), &out); err != nil {
			t.Fatal(err)
		}
	}
	for i, err := range verified {
		if err != nil {
			t.Errorf("post %d: server saw %v", i, err)
		}
	}
	if len(ids) != 3 || ids[0] == ids[1] || !strings.HasPrefix(ids[0], "msg_") || ids[2] != "msg_again" {
		t.Errorf("delivery ids = %q, want two fresh msg_ ids then msg_again", ids)
	}
	if !strings.HasPrefix(out.String(), "202") {
		t.Errorf("output = %q", out.String())
	}
	if err := sendEvent(context.Background(), []string{"-url", srv.URL, "--webhook-id", "x", file}, env(nil), &out); err == nil {
		t.Error("--webhook-id without --standard was accepted")
	}
}

// send-event --as signs the committed native samples the platform's way
// with the local secrets, and the connectors accept and record them.
func TestSendEventAsPlatform(t *testing.T) {
	prog, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	in := &ingest.Handler{Store: st, Rules: ingest.ProgramRules(prog), Log: log}
	native, _ := stackConfigFromEnv(env(nil))
	secrets := map[string][]byte{}
	for p, s := range native.ConnectorSecrets {
		secrets[p] = []byte(s)
	}
	srv := httptest.NewServer(lambdaenv.Routes(log, lambdaenv.Mounts{Connectors: &connectors.Handler{Ingest: in, Secrets: secrets, Log: log}}))
	defer srv.Close()
	for _, tc := range []struct {
		platform, file, source, id string
		extra                      []string
	}{
		{"shopify", "customers_create.json", "shopify", "shopify.customer.706405506930370084.created", nil},
		{"woocommerce", "customer.created.json", "woocommerce", "woocommerce.customer.25.created", nil},
		{"youzan", "trade_TradePaid.json", "youzan", "youzan.trade.E20260302140510025604163.paid", nil},
		{"shopify", "orders_paid.json", "shopify", "shopify.order.820982911946154508.paid", []string{"--topic", "orders/paid", "--webhook-id", "w-1"}},
	} {
		var out bytes.Buffer
		args := append([]string{"-url", srv.URL, "--as", tc.platform}, tc.extra...)
		file := filepath.Join("../../events/connectors", tc.platform, tc.file)
		if err := sendEvent(context.Background(), append(args, file), env(nil), &out); err != nil {
			t.Fatalf("%s %s: %v (%s)", tc.platform, tc.file, err, out.String())
		}
		if _, err := st.GetEvent(context.Background(), tc.source, tc.id); err != nil {
			t.Errorf("%s %s: event %s not recorded: %v (%s)", tc.platform, tc.file, tc.id, err, out.String())
		}
	}
	var out bytes.Buffer
	file := filepath.Join("../../events/connectors/shopify/customers_create.json")
	if err := sendEvent(context.Background(), []string{"-url", srv.URL, "--as", "shopify", "-secret", "wrong", file}, env(nil), &out); err == nil || !strings.Contains(out.String(), "X-Shopify-Hmac-Sha256") {
		t.Errorf("a wrong --secret: err %v, answer %s", err, out.String())
	}
}
