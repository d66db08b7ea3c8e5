package ingest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/stdwebhooks"
)

// standard returns the headers of body posted by source "storefront" signed
// the Standard Webhooks way with key at at, as delivery id.
func standard(t *testing.T, key []byte, id string, at time.Time, body []byte) map[string]string {
	t.Helper()
	h, err := stdwebhooks.Headers(key, id, at, body)
	if err != nil {
		t.Fatal(err)
	}
	h[ingest.HeaderSource] = "storefront"
	return h
}

// A Standard Webhooks delivery and its redelivery (same webhook-id, new
// timestamp): the webhook-id, the delivery id, is kept on the recorded
// event (the redelivery, a duplicate, changes nothing) and is on the
// request's log lines; the member's email stays out of them.
// (TestAcceptsThenReportsDuplicate checks what they record and answer.)
func TestStandardWebhookKeepsTheDeliveryID(t *testing.T) {
	h, st := newHandler()
	var logs bytes.Buffer
	h.Log = slog.New(slog.NewTextHandler(&logs, nil))
	body := sample(t, events.MemberRegistered)
	acceptsThenReportsDuplicate(t, h, st, body, standard(t, secret, "msg_2f1Ab", now, body), standard(t, secret, "msg_2f1Ab", now.Add(-time.Minute), body))
	ev, err := st.GetEvent(context.Background(), "storefront", "evt-reg-1001")
	if err != nil || ev.DeliveryID != "msg_2f1Ab" {
		t.Errorf("recorded event = %+v, %v; want delivery id msg_2f1Ab", ev, err)
	}
	if got := strings.Count(logs.String(), "delivery=msg_2f1Ab"); got != 2 {
		t.Errorf("the delivery id is on %d log lines, want 2:\n%s", got, logs.String())
	}
	if strings.Contains(logs.String(), "lin.wei@example.com") {
		t.Errorf("the log holds the member's email:\n%s", logs.String())
	}

	// Signed the memberflow way there is no delivery id to keep.
	h, st = newHandler()
	mustAccept(t, post(h, body, map[string]string{ingest.HeaderSource: "storefront", ingest.HeaderSignature: ingest.Sign(secret, now, body)}))
	if ev, err := st.GetEvent(context.Background(), "storefront", "evt-reg-1001"); err != nil || ev.DeliveryID != "" {
		t.Errorf("recorded event = %+v, %v; want no delivery id", ev, err)
	}

	// A signed webhook-id that is not an id is refused naming the header.
	h, st = newHandler()
	rec := post(h, body, standard(t, secret, "msg 1", now, body))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), stdwebhooks.HeaderID) {
		t.Errorf("webhook-id with a space: %d %s, want 400 naming %s", rec.Code, rec.Body, stdwebhooks.HeaderID)
	}
	if _, err := st.GetEvent(context.Background(), "storefront", "evt-reg-1001"); err == nil {
		t.Error("an event with a bad delivery id was recorded")
	}
}

func mustAccept(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202: %s", rec.Code, rec.Body)
	}
}

func TestStandardWebhookRefusals(t *testing.T) {
	body := sample(t, events.MemberRegistered)
	at := now.Add(-4 * time.Minute)
	oldSig, err := stdwebhooks.Sign([]byte("old-secret"), "msg_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	good := standard(t, secret, "msg_1", at, body)
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for hk, hv := range good {
			h[hk] = hv
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		names   string // the header the 401 must name
	}{
		{"tampered body", standard(t, secret, "msg_1", now, []byte(`{}`)), stdwebhooks.HeaderSignature},
		{"wrong secret", standard(t, []byte("nope"), "msg_1", now, body), stdwebhooks.HeaderSignature},
		{"stale", standard(t, secret, "msg_1", now.Add(-6*time.Minute), body), stdwebhooks.HeaderTimestamp},
		{"from the future", standard(t, secret, "msg_1", now.Add(6*time.Minute), body), stdwebhooks.HeaderTimestamp},
		{"old secret only", with(stdwebhooks.HeaderSignature, oldSig), stdwebhooks.HeaderSignature},
		{"no webhook-id", with(stdwebhooks.HeaderID, ""), stdwebhooks.HeaderID},
		{"no webhook-timestamp", with(stdwebhooks.HeaderTimestamp, ""), stdwebhooks.HeaderTimestamp},
		{"no webhook-signature", with(stdwebhooks.HeaderSignature, ""), stdwebhooks.HeaderSignature},
		{"unsigned", map[string]string{ingest.HeaderSource: "storefront"}, ingest.HeaderSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, st := newHandler()
			rec := post(h, body, tc.headers)
			if got, want := rec.Code, http.StatusUnauthorized; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.names) {
				t.Errorf("401 %s does not name %s", rec.Body, tc.names)
			}
			if _, err := st.GetEvent(context.Background(), "storefront", "evt-reg-1001"); err == nil {
				t.Error("a refused event was recorded")
			}
		})
	}

	// During rotation the sender signs with the old and the new secret.
	h, _ := newHandler()
	rec := post(h, body, with(stdwebhooks.HeaderSignature, oldSig+" "+good[stdwebhooks.HeaderSignature]))
	if got, want := rec.Code, http.StatusAccepted; got != want {
		t.Fatalf("rotation: status = %d, want %d: %s", got, want, rec.Body)
	}
}

// A source's secret written "whsec_" + base64 is the same key as the plain
// one: each configuration accepts requests signed with the other, in both
// schemes. local-dev-secret is the local storefront's.
func TestSecretWrittenEitherWay(t *testing.T) {
	plain := []byte("local-dev-secret")
	whsec := []byte("whsec_" + base64.StdEncoding.EncodeToString(plain))
	body := sample(t, events.MemberRegistered)
	for _, tc := range []struct {
		name               string
		configured, signer []byte
	}{
		{"plain configured, whsec signer", plain, whsec},
		{"whsec configured, plain signer", whsec, plain},
		{"whsec both", whsec, whsec},
	} {
		for scheme, headers := range map[string]map[string]string{
			"standard":   standard(t, tc.signer, "msg_either", now, body),
			"memberflow": {ingest.HeaderSource: "storefront", ingest.HeaderSignature: ingest.Sign(tc.signer, now, body)},
		} {
			t.Run(tc.name+"/"+scheme, func(t *testing.T) {
				h, _ := newHandler()
				h.Secrets = map[string][]byte{"storefront": tc.configured}
				rec := post(h, body, headers)
				if got, want := rec.Code, http.StatusAccepted; got != want {
					t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
				}
			})
		}
	}
}
