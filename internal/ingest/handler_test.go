package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
)

var (
	secret = []byte("test-secret")
	now    = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
)

// program is the shipped programme, whose rules the handler checks.
var program = func() *loyalty.Program {
	p, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		panic(err)
	}
	return p
}()

func newHandler() (*ingest.Handler, *memstore.Store) {
	st := memstore.New()
	return &ingest.Handler{
		Store:   st,
		Rules:   ingest.ProgramRules(program),
		Secrets: map[string][]byte{"storefront": secret},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:     func() time.Time { return now },
	}, st
}

func sample(t *testing.T, typ events.Type) []byte {
	t.Helper()
	b, err := events.Sample(typ)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(h http.Handler, body []byte, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func signed(body []byte, at time.Time) map[string]string {
	return map[string]string{ingest.HeaderSource: "storefront", ingest.HeaderSignature: ingest.Sign(secret, at, body)}
}

// Either scheme records the event once; the second delivery (a new
// signature over the same body) is the 200 duplicate.
func TestAcceptsThenReportsDuplicate(t *testing.T) {
	body := sample(t, events.MemberRegistered)
	for _, tc := range []struct {
		name          string
		first, second map[string]string
	}{
		{"Memberflow-Signature", signed(body, now), signed(body, now)},
		{"Standard Webhooks", standard(t, secret, "msg_2f1Ab", now, body), standard(t, secret, "msg_2f1Ab", now.Add(-time.Minute), body)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, st := newHandler()
			acceptsThenReportsDuplicate(t, h, st, body, tc.first, tc.second)
		})
	}
}

func acceptsThenReportsDuplicate(t *testing.T, h *ingest.Handler, st *memstore.Store, body []byte, first, second map[string]string) {
	t.Helper()
	rec := post(h, body, first)
	if got, want := rec.Code, http.StatusAccepted; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
	}
	var acc ingest.Accepted
	if err := json.Unmarshal(rec.Body.Bytes(), &acc); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(acc.IDs, ","), "evt-reg-1001"; got != want {
		t.Errorf("ids = %s, want %s", got, want)
	}
	stored, err := st.GetEvent(context.Background(), "storefront", "evt-reg-1001")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.Payload, bytes.TrimSpace(body)) {
		t.Errorf("stored payload differs from the signed body")
	}
	if got, want := stored.ReceivedAt, now; !got.Equal(want) {
		t.Errorf("received_at = %s, want %s", got, want)
	}

	rec = post(h, body, second)
	if got, want := rec.Code, http.StatusOK; got != want {
		t.Fatalf("replay status = %d, want %d: %s", got, want, rec.Body)
	}
	var dup ingest.Duplicate
	if err := json.Unmarshal(rec.Body.Bytes(), &dup); err != nil || !dup.Duplicate {
		t.Errorf("replay body = %s, want duplicate true", rec.Body)
	}
}

func TestRejectsUnsignedAndStale(t *testing.T) {
	body := sample(t, events.MemberRegistered)
	for _, tc := range []struct {
		name    string
		headers map[string]string
	}{
		{"no headers", nil},
		{"no signature", map[string]string{ingest.HeaderSource: "storefront"}},
		{"unknown source", map[string]string{ingest.HeaderSource: "other", ingest.HeaderSignature: ingest.Sign(secret, now, body)}},
		{"wrong secret", map[string]string{ingest.HeaderSource: "storefront", ingest.HeaderSignature: ingest.Sign([]byte("nope"), now, body)}},
		{"stale", signed(body, now.Add(-6*time.Minute))},
		{"from the future", signed(body, now.Add(6*time.Minute))},
		{"garbled", map[string]string{ingest.HeaderSource: "storefront", ingest.HeaderSignature: "v1=zz"}},
		{"signature of another body", signed([]byte(`{}`), now)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, st := newHandler()
			rec := post(h, body, tc.headers)
			if got, want := rec.Code, http.StatusUnauthorized; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
			}
			if _, err := st.GetEvent(context.Background(), "storefront", "evt-reg-1001"); err == nil {
				t.Error("an unsigned event was recorded")
			}
		})
	}
}

func TestAcceptsRotatedSecretWithinWindow(t *testing.T) {
	h, _ := newHandler()
	body := sample(t, events.MemberRegistered)
	good := ingest.Sign(secret, now.Add(-4*time.Minute), body)
	old := ingest.Sign([]byte("old-secret"), now.Add(-4*time.Minute), body)
	// Two v1 values (old and new secret) as a source sends during rotation.
	header := old + ",v1=" + strings.SplitN(good, "v1=", 2)[1]
	rec := post(h, body, map[string]string{ingest.HeaderSource: "storefront", ingest.HeaderSignature: header})
	if got, want := rec.Code, http.StatusAccepted; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
	}
}

func TestInvalidBatchWritesNothing(t *testing.T) {
	h, st := newHandler()
	good := sample(t, events.MemberRegistered)
	bad := bytes.Replace(sample(t, events.OrderPaid), []byte(`"amount": "1250.00"`), []byte(`"amount": 1250.5`), 1)
	if bytes.Equal(bad, sample(t, events.OrderPaid)) {
		t.Fatal("test setup: the order sample no longer has amount \"1250.00\"")
	}
	body := []byte("[" + string(good) + "," + string(bad) + "]")
	rec := post(h, body, signed(body, now))
	if got, want := rec.Code, http.StatusBadRequest; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
	}
	var vf ingest.ValidationFailed
	if err := json.Unmarshal(rec.Body.Bytes(), &vf); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range vf.Problems {
		if p.Field == "[1].data.amount" {
			found = true
		}
	}
	if !found {
		t.Errorf("problems %+v do not name [1].data.amount", vf.Problems)
	}
	if _, err := st.GetEvent(context.Background(), "storefront", "evt-reg-1001"); err == nil {
		t.Error("the valid half of a rejected batch was recorded")
	}
}

func TestMalformedBodyNamesTheField(t *testing.T) {
	h, _ := newHandler()
	body := []byte(`{"id":"e1","type":"member.registered","occurred_at":"2026-11-23T10:00:00Z","member_id":"m-1","data":{"name":"x","consent":{"email_marketing":true}}}`)
	rec := post(h, body, signed(body, now))
	if got, want := rec.Code, http.StatusBadRequest; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	if !strings.Contains(rec.Body.String(), `"data.email"`) {
		t.Errorf("body %s does not name data.email", rec.Body)
	}
}

func TestOnlyPost(t *testing.T) {
	h, _ := newHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/events", nil))
	if got, want := rec.Code, http.StatusMethodNotAllowed; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
}

// TestInternalEventsAreNotAccepted: member.segment_changed is recorded by
// memberflow itself under source memberflow. A storefront can neither post
// one (the type is not in the contract) nor write under that source, even
// if a secret were configured for it.
func TestInternalEventsAreNotAccepted(t *testing.T) {
	body := []byte(`{"id":"rfm:3:m-1","type":"member.segment_changed","occurred_at":"2026-11-23T10:00:00Z","member_id":"m-1","data":{"from":"loyal","to":"at_risk"}}`)
	t.Run("from a storefront", func(t *testing.T) {
		h, st := newHandler()
		rec := post(h, body, signed(body, now))
		if got, want := rec.Code, http.StatusBadRequest; got != want {
			t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
		}
		var vf ingest.ValidationFailed
		if err := json.Unmarshal(rec.Body.Bytes(), &vf); err != nil {
			t.Fatal(err)
		}
		if len(vf.Problems) == 0 || vf.Problems[0].Field != "type" || !strings.Contains(vf.Problems[0].Rule, "must be one of") {
			t.Errorf("problems = %+v, want type refused", vf.Problems)
		}
		if _, err := st.GetEvent(context.Background(), "storefront", "rfm:3:m-1"); err == nil {
			t.Error("recorded")
		}
	})
	t.Run("under the reserved source", func(t *testing.T) {
		h, st := newHandler()
		h.Secrets[events.InternalSource] = secret
		rec := post(h, body, map[string]string{ingest.HeaderSource: events.InternalSource, ingest.HeaderSignature: ingest.Sign(secret, now, body)})
		if got, want := rec.Code, http.StatusUnauthorized; got != want {
			t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), "reserved") {
			t.Errorf("answer %s does not say the source is reserved", rec.Body)
		}
		if _, err := st.GetEvent(context.Background(), events.InternalSource, "rfm:3:m-1"); err == nil {
			t.Error("recorded")
		}
	})
}
