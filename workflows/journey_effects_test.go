package workflows_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/workflows"
)

// The webhook step posts the member and the step's body, signed per the
// Standard Webhooks scheme with the step's idempotency key as its id; a
// 5xx is retried with the same id; the update step sets attributes and
// tags on the member; both are on the timeline.
func TestJourneyWebhookAndUpdateSteps(t *testing.T) {
	const secret = "whsec_" + "c2VjcmV0LWZvci10aGUtd2ViaG9vay10ZXN0" // base64("secret-for-the-webhook-test")
	key, _ := base64.StdEncoding.DecodeString("c2VjcmV0LWZvci10aGUtd2ViaG9vay10ZXN0")
	type post struct {
		id, ts, sig string
		body        []byte
	}
	var mu sync.Mutex
	var posts []post
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, post{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), b})
		n := len(posts)
		mu.Unlock()
		if n == 1 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	f := newEngineFixture(t, true, morning)
	f.acts.WebhookSecret = activities.WebhookSecret(secret)
	f.acts.HTTP = srv.Client()
	def := f.publish(t, `
name: crm_sync
trigger: { api: {} }
steps:
  - id: tag
    update:
      set: { segment: "'vip'", vip_since: "now", orders_then: "member.order_count" }
      add_tags: [vip, synced]
  - id: notify
    webhook:
      url: `+srv.URL+`/hooks/memberflow
      body: { segment: "member.attributes.segment", tier: "member.tier" }
`)
	res := f.start(t, def, nil)
	if res.Status != "completed" {
		t.Fatalf("result = %+v", res)
	}

	m, err := f.store.GetMember(t.Context(), f.member)
	if err != nil {
		t.Fatal(err)
	}
	if m.Attributes["segment"] != "vip" || m.Attributes["vip_since"] != morning.Format("2006-01-02") || !slices.Equal(m.Tags, []string{"vip", "synced"}) {
		t.Errorf("member after update: attributes %v, tags %v", m.Attributes, m.Tags)
	}

	if len(posts) != 2 {
		t.Fatalf("%d posts, want the failed one and its retry", len(posts))
	}
	wantID := engine.Key(f.member, "crm_sync", 1, "notify", morning.UTC().Year())
	for i, p := range posts {
		if p.id != wantID {
			t.Errorf("post %d webhook-id %q, want the step's key %q", i, p.id, wantID)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(p.id + "." + p.ts + "."))
		mac.Write(p.body)
		if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); p.sig != want {
			t.Errorf("post %d signature %q, want %q", i, p.sig, want)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(posts[1].body, &body); err != nil {
		t.Fatal(err)
	}
	if body["member_id"] != f.member || body["journey"] != "crm_sync" || body["step"] != "notify" || body["segment"] != "vip" {
		t.Errorf("body = %v", body)
	}
	got := f.decisions(t)
	for _, want := range []string{"updated tag", "webhook notify delivered", "completed"} {
		if !slices.ContainsFunc(got, func(d string) bool { return strings.HasPrefix(d, want) }) {
			t.Errorf("timeline %v lacks %q", got, want)
		}
	}
}

// A webhook step without a signing secret fails, naming the setting: an
// unsigned post would be anyone's.
func TestJourneyWebhookNeedsASecret(t *testing.T) {
	f := newEngineFixture(t, true, morning)
	def := f.publish(t, `
name: crm_sync
trigger: { api: {} }
steps:
  - id: notify
    webhook: { url: "https://hooks.example.com/x" }
`)
	f.env.ExecuteWorkflow(workflows.Journey, workflows.JourneyInput{Definition: def, MemberID: f.member, Enrollment: 1})
	err := f.env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "MEMBERFLOW_JOURNEY_WEBHOOK_SECRET") {
		t.Errorf("workflow error = %v, want one naming MEMBERFLOW_JOURNEY_WEBHOOK_SECRET", err)
	}
}
