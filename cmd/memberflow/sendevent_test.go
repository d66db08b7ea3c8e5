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
	"github.com/memberflow/memberflow/internal/stdwebhooks"
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
