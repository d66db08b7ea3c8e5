package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/journey"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestStackConfigDefaults(t *testing.T) {
	cfg, err := stackConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ":8080" || cfg.WebhookSecret != "local-dev-secret" || cfg.AdminToken != "local-admin-token" {
		t.Errorf("defaults = %+v", cfg)
	}
	if cfg.TemporalPort != 7233 || cfg.DynamoDBPort != 8000 || cfg.UIPort != 8233 {
		t.Errorf("ports = %d %d %d", cfg.TemporalPort, cfg.DynamoDBPort, cfg.UIPort)
	}
	nudge, _ := cfg.Journeys[journey.Activation].Step("nudge")
	if !strings.HasSuffix(cfg.DataDir, ".local") || nudge.After.D() != 72*time.Hour {
		t.Errorf("data dir %s, nudge %s", cfg.DataDir, nudge.After.D())
	}
	short, err := stackConfigFromEnv(env(map[string]string{"MEMBERFLOW_ACTIVATION_NUDGE_AFTER": "20s", "MEMBERFLOW_ACTIVATION_LAST_NUDGE_AFTER": "40s", "MEMBERFLOW_SCAN_EVERY": "1m"}))
	if err != nil {
		t.Fatal(err)
	}
	nudge, _ = short.Journeys[journey.Activation].Step("nudge")
	last, _ := short.Journeys[journey.Activation].Step("last_nudge")
	if nudge.After.D() != 20*time.Second || last.After.D() != 40*time.Second || short.ScanEvery != time.Minute {
		t.Errorf("shortened: nudge %s, last %s, scan every %s", nudge.After.D(), last.After.D(), short.ScanEvery)
	}
}

func TestStackConfigRejectsNonsense(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"port", map[string]string{"MEMBERFLOW_DYNAMODB_PORT": "eighty"}, "MEMBERFLOW_DYNAMODB_PORT"},
		{"duration", map[string]string{"MEMBERFLOW_ACTIVATION_NUDGE_AFTER": "soon"}, "MEMBERFLOW_ACTIVATION_NUDGE_AFTER"},
		{"scan every", map[string]string{"MEMBERFLOW_SCAN_EVERY": "often"}, "MEMBERFLOW_SCAN_EVERY"},
		{"order of nudges", map[string]string{"MEMBERFLOW_ACTIVATION_NUDGE_AFTER": "10s", "MEMBERFLOW_ACTIVATION_LAST_NUDGE_AFTER": "5s"}, "must be later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := stackConfigFromEnv(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
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
