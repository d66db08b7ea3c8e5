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

	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/sgevents"
)

func TestSendSendgridEventsSigns(t *testing.T) {
	dir := t.TempDir()
	key, err := localstack.LoadOrCreateWebhookKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	var verified error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		verified = sgevents.Verify(&key.PublicKey, r.Header.Get(sgevents.HeaderSignature), r.Header.Get(sgevents.HeaderTimestamp), got, time.Now())
		if r.URL.Path != "/v1/sendgrid/events" || r.Method != http.MethodPost {
			verified = io.ErrUnexpectedEOF
		}
		_, _ = w.Write([]byte(`{"recorded": 1, "duplicates": 0, "skipped": 0}`))
	}))
	defer srv.Close()

	// The committed sample, as a developer would send it.
	sample := filepath.Join("..", "..", "events", "sendgrid", "bounce.json")
	var out bytes.Buffer
	err = sendSendgridEvents(context.Background(), []string{sample}, env(map[string]string{"MEMBERFLOW_URL": srv.URL, "MEMBERFLOW_DATA_DIR": dir}), &out)
	if err != nil || verified != nil {
		t.Fatalf("send-sendgrid-events: err %v, server saw %v", err, verified)
	}
	if !strings.HasPrefix(out.String(), "200") || !strings.Contains(out.String(), `"recorded": 1`) {
		t.Errorf("output = %q", out.String())
	}
}

func TestSendSendgridEventsNeedsTheStacksKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "e.json")
	if err := os.WriteFile(file, []byte(`[]`), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err := sendSendgridEvents(context.Background(), []string{"-data-dir", dir, file}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "make run") {
		t.Errorf("err = %v, want advice to start the stack", err)
	}
	if _, err := os.Stat(filepath.Join(dir, localstack.WebhookKeyFile)); err == nil {
		t.Error("the command made a key the stack does not know")
	}
	if err := sendSendgridEvents(context.Background(), nil, env(nil), io.Discard); err == nil {
		t.Error("send-sendgrid-events without a file succeeded")
	}
}
