package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/store"
)

// A template push reported by the CLI is one audit entry: template.push
// on template:<name> by the token's fingerprint, with SendGrid's ids in
// its detail; a retry with the same Idempotency-Key adds none, and a
// malformed report is refused naming the field with nothing appended.
func TestTemplatePushAudited(t *testing.T) {
	h := newAPI(t)
	body := `{"environment": "staging", "template_id": "d-13b8f94fbcae4ec6b75270d6cb59f932", "version_id": "8aefe0ee-f12b-4575-b5b7-c97e21cb36f3", "outcome": "updated"}`
	key := map[string]string{api.IdempotencyKeyHeader: "staging.activation_welcome.8aefe0ee-f12b-4575-b5b7-c97e21cb36f3"}
	for range 2 {
		rec := do(h, http.MethodPost, "/v1/templates/activation_welcome/pushes", body, key)
		if rec.Code != http.StatusCreated {
			t.Fatalf("POST pushes: %d %s", rec.Code, rec.Body)
		}
	}
	log := auditLog(t, h)
	if len(log) != 1 {
		t.Fatalf("audit = %+v, want one entry for a push reported twice with one key", log)
	}
	e := log[0]
	want := map[string]string{"environment": "staging", "template_id": "d-13b8f94fbcae4ec6b75270d6cb59f932",
		"version_id": "8aefe0ee-f12b-4575-b5b7-c97e21cb36f3", "outcome": "updated"}
	if e.Action != api.AuditTemplatePush || e.Target != "template:activation_welcome" || e.Token != bearerID() || e.Outcome != store.OutcomeRequested || len(e.Detail) != len(want) {
		t.Errorf("entry = %+v, want template.push on template:activation_welcome by %s with %v", e, bearerID(), want)
	}
	for k, v := range want {
		if e.Detail[k] != v {
			t.Errorf("detail %s = %q, want %q", k, e.Detail[k], v)
		}
	}

	for _, tc := range []struct{ name, path, body, field string }{
		{"template name", "/v1/templates/Welcome!/pushes", body, "name:"},
		{"not JSON", "/v1/templates/activation_welcome/pushes", `environment=staging`, "body:"},
		{"unknown field", "/v1/templates/activation_welcome/pushes", `{"environment": "staging", "html": "<p>"}`, "body:"},
		{"local", "/v1/templates/activation_welcome/pushes", strings.Replace(body, "staging", "local", 1), "environment:"},
		{"template id", "/v1/templates/activation_welcome/pushes", strings.Replace(body, "d-13b8f94fbcae4ec6b75270d6cb59f932", "d 13", 1), "template_id:"},
		{"version id", "/v1/templates/activation_welcome/pushes", strings.Replace(body, "8aefe0ee-f12b-4575-b5b7-c97e21cb36f3", "", 1), "version_id:"},
		{"unchanged", "/v1/templates/activation_welcome/pushes", strings.Replace(body, "updated", "unchanged", 1), "outcome:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(h, http.MethodPost, tc.path, tc.body, nil)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.field) {
				t.Errorf("%d %s, want 400 naming %s", rec.Code, rec.Body, tc.field)
			}
		})
	}
	// The key again with another body is another request: refused, 409
	// naming the key.
	other := strings.Replace(body, "updated", "created", 1)
	if rec := do(h, http.MethodPost, "/v1/templates/activation_welcome/pushes", other, key); rec.Code != http.StatusConflict ||
		!strings.Contains(rec.Body.String(), "Idempotency-Key: "+key[api.IdempotencyKeyHeader]+" was used before") {
		t.Errorf("the key with another body: %d %s, want 409 naming the key", rec.Code, rec.Body)
	}
	for _, tc := range []struct{ name, body, key, field string }{
		{"trailing object", body + ` {"environment": "production"}`, "", "body:"},
		{"trailing data", body + `x`, "", "body:"},
		{"key with a space", body, "a b", "Idempotency-Key:"},
		{"key with #", body, "a#b", "Idempotency-Key:"},
		{"key not ASCII", body, "schlüssel", "Idempotency-Key:"},
		{"key too long", body, strings.Repeat("k", 129), "Idempotency-Key:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr map[string]string
			if tc.key != "" {
				hdr = map[string]string{api.IdempotencyKeyHeader: tc.key}
			}
			rec := do(h, http.MethodPost, "/v1/templates/activation_welcome/pushes", tc.body, hdr)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.field) {
				t.Errorf("%d %s, want 400 naming %s", rec.Code, rec.Body, tc.field)
			}
		})
	}
	if got := auditLog(t, h); len(got) != 1 {
		t.Errorf("refused reports were audited: %+v", got)
	}
}
