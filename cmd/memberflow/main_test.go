package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/ingest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestStackConfigDefaults(t *testing.T) {
	cfg, err := stackConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8080" || cfg.WebhookSecret != "local-dev-secret" || cfg.AdminToken != "local-admin-token" {
		t.Errorf("defaults: address %q, webhook secret %q, admin token %q", cfg.HTTPAddr, cfg.WebhookSecret, cfg.AdminToken)
	}
	if cfg.TemporalPort != 7233 || cfg.DynamoDBPort != 8000 || cfg.UIPort != 8233 {
		t.Errorf("ports = %d %d %d", cfg.TemporalPort, cfg.DynamoDBPort, cfg.UIPort)
	}
	if !strings.HasSuffix(cfg.DataDir, ".local") || cfg.Journeys != nil {
		t.Errorf("data dir %s, journeys %v (want the shipped ones)", cfg.DataDir, cfg.Journeys)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "short.yaml"), []byte("name: short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The local storefront's secret written the Standard Webhooks way is
	// the same 16-byte key, and accepted.
	if _, err := stackConfigFromEnv(env(map[string]string{"MEMBERFLOW_WEBHOOK_SECRET": "whsec_bG9jYWwtZGV2LXNlY3JldA=="})); err != nil {
		t.Errorf("whsec_ form of local-dev-secret refused: %v", err)
	}
	short, err := stackConfigFromEnv(env(map[string]string{"MEMBERFLOW_JOURNEYS_DIR": dir, "MEMBERFLOW_SCAN_EVERY": "1m", "MEMBERFLOW_CONFIRM_WINDOW": "20s"}))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(short.Journeys, "short.yaml"); err != nil || string(b) != "name: short\n" || short.ScanEvery != time.Minute || short.ConfirmWindow != 20*time.Second {
		t.Errorf("journeys dir: %q %v, scan every %s, confirm window %s", b, err, short.ScanEvery, short.ConfirmWindow)
	}
}

func TestStackConfigRejectsNonsense(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"port", map[string]string{"MEMBERFLOW_DYNAMODB_PORT": "eighty"}, "MEMBERFLOW_DYNAMODB_PORT"},
		{"journeys dir", map[string]string{"MEMBERFLOW_JOURNEYS_DIR": "/does/not/exist"}, "MEMBERFLOW_JOURNEYS_DIR"},
		{"scan every", map[string]string{"MEMBERFLOW_SCAN_EVERY": "often"}, "MEMBERFLOW_SCAN_EVERY"},
		// A page of 2000 records can pass DynamoDB's 400 KB item limit.
		{"analytics page", map[string]string{"MEMBERFLOW_ANALYTICS_PAGE": "2000"}, "MEMBERFLOW_ANALYTICS_PAGE must be a whole number from 1 to 1000"},
		{"confirm window", map[string]string{"MEMBERFLOW_CONFIRM_WINDOW": "0s"}, "MEMBERFLOW_CONFIRM_WINDOW"},
		{"short whsec webhook secret", map[string]string{"MEMBERFLOW_WEBHOOK_SECRET": "whsec_YWJjZGVmZ2g="}, "MEMBERFLOW_WEBHOOK_SECRET: \"whsec_\" secret decodes to 8 bytes; it must be at least 16"},
		{"whsec journey secret not base64", map[string]string{"MEMBERFLOW_JOURNEY_WEBHOOK_SECRET": "whsec_???"}, "MEMBERFLOW_JOURNEY_WEBHOOK_SECRET: must be \"whsec_\" followed by the key in base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := stackConfigFromEnv(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestStackConfigExposure(t *testing.T) {
	secrets := map[string]string{
		"MEMBERFLOW_WEBHOOK_SECRET": "w-0123456789abcdef",
		"MEMBERFLOW_ADMIN_TOKEN":    "a-0123456789abcdef",
		"MEMBERFLOW_CODE_SECRET":    "c-0123456789abcdef",
		// A journey webhook step signs with it: a receiver trusts it.
		"MEMBERFLOW_JOURNEY_WEBHOOK_SECRET": "whsec_ai0wMTIzNDU2Nzg5YWJjZGVm",
		// They sign storefronts' native webhooks, which record events.
		"MEMBERFLOW_SHOPIFY_SECRET":     "s-0123456789abcdef",
		"MEMBERFLOW_WOOCOMMERCE_SECRET": "wc-0123456789abcdef",
		"MEMBERFLOW_YOUZAN_SECRET":      "y-0123456789abcdef",
	}
	all := []string{"MEMBERFLOW_WEBHOOK_SECRET", "MEMBERFLOW_ADMIN_TOKEN", "MEMBERFLOW_CODE_SECRET", "MEMBERFLOW_JOURNEY_WEBHOOK_SECRET",
		"MEMBERFLOW_SHOPIFY_SECRET", "MEMBERFLOW_WOOCOMMERCE_SECRET", "MEMBERFLOW_YOUZAN_SECRET"}
	with := func(addr string, set ...string) map[string]string {
		m := map[string]string{"MEMBERFLOW_HTTP_ADDR": addr}
		for _, k := range set {
			m[k] = secrets[k]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		// named are the variables the error must name (nil: no error);
		// unnamed those it must not.
		named, unnamed []string
	}{
		{"default address", nil, nil, nil},
		{"loopback", with("127.0.0.1:9000"), nil, nil},
		{"other loopback address", with("127.8.9.10:9000"), nil, nil},
		{"IPv6 loopback", with("[::1]:9000"), nil, nil},
		{"localhost", with("localhost:9000"), nil, nil},
		{"every interface, empty host", with(":8080"), all, nil},
		{"every interface, 0.0.0.0", with("0.0.0.0:8080"), all, nil},
		{"every interface, ::", with("[::]:8080"), all, nil},
		{"LAN address", with("192.168.1.10:8080"), all, nil},
		{"host name", with("devbox.example.com:8080"), all, nil},
		{"one secret left at its default", with(":8080", "MEMBERFLOW_WEBHOOK_SECRET", "MEMBERFLOW_ADMIN_TOKEN", "MEMBERFLOW_JOURNEY_WEBHOOK_SECRET"),
			[]string{"MEMBERFLOW_CODE_SECRET"}, []string{"MEMBERFLOW_WEBHOOK_SECRET", "MEMBERFLOW_ADMIN_TOKEN"}},
		{"the journey webhook secret left at its default", with(":8080", "MEMBERFLOW_WEBHOOK_SECRET", "MEMBERFLOW_ADMIN_TOKEN", "MEMBERFLOW_CODE_SECRET"),
			[]string{"MEMBERFLOW_JOURNEY_WEBHOOK_SECRET"}, []string{"MEMBERFLOW_WEBHOOK_SECRET", "MEMBERFLOW_ADMIN_TOKEN", "MEMBERFLOW_CODE_SECRET"}},
		{"every secret set", with(":8080", all...), nil, nil},
		{"not host:port", with("8080"), []string{"MEMBERFLOW_HTTP_ADDR"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := stackConfigFromEnv(env(tc.env))
			if tc.named == nil {
				if err != nil {
					t.Fatalf("refused %s: %v", cfg.HTTPAddr, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("started on %s with default secrets", cfg.HTTPAddr)
			}
			for _, v := range tc.named {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
			for _, v := range tc.unnamed {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error %q names %s, which is set", err, v)
				}
			}
		})
	}
}

func TestSendEventSigns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "e.json")
	body := []byte(`{"id":"e1"}`)
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	var verified error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		verified = ingest.Verify([]byte("s3"), r.Header.Get(ingest.HeaderSignature), got, time.Now())
		if r.URL.Path != "/v1/events" || r.Header.Get(ingest.HeaderSource) != "pos" {
			verified = io.ErrUnexpectedEOF
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	var out bytes.Buffer
	err := sendEvent(context.Background(), []string{"-url", srv.URL, "-source", "pos", "-secret", "s3", file}, env(nil), &out)
	if err != nil || verified != nil {
		t.Fatalf("send-event: err %v, server saw %v", err, verified)
	}
	if !strings.HasPrefix(out.String(), "202") {
		t.Errorf("output = %q", out.String())
	}
	if err := sendEvent(context.Background(), nil, env(nil), &out); err == nil {
		t.Error("send-event without a file succeeded")
	}
}
