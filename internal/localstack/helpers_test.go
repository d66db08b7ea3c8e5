package localstack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/eventfix"
)

// registration is a member.registered event of member at the given time,
// with consent as given, in zone, with birthday ("" for none). The sample's
// referral code is dropped (it would grant a FREE25 coupon), and so is its
// phone, and the email is the member's own: a trial is nobody else's.
func registration(t *testing.T, member string, at time.Time, consent bool, zone, birthday string) map[string]any {
	t.Helper()
	m := eventfix.Sample(t, events.MemberRegistered, "evt-reg-"+member, member, at)
	d := m["data"].(map[string]any)
	d["consent"] = map[string]any{"email_marketing": consent}
	d["timezone"] = zone
	d["email"] = member + "@example.com"
	delete(d, "phone")
	delete(d, "referral_code")
	delete(d, "birthday")
	if birthday != "" {
		d["birthday"] = birthday
	}
	return m
}

// postEvents posts events as one signed batch (dispatch applies them in
// order) and wants 202.
func postEvents(t *testing.T, s *localstack.Stack, evs ...map[string]any) {
	t.Helper()
	for len(evs) > 0 {
		n := min(len(evs), 100) // the batch limit of /v1/events
		body, err := json.Marshal(evs[:n])
		if err != nil {
			t.Fatal(err)
		}
		if r := postEvent(t, s, body, true); r.status != http.StatusAccepted {
			t.Fatalf("post %d events: %d %s", n, r.status, r.body)
		}
		evs = evs[n:]
	}
}

// memberView is what the tests read of GET /v1/members/{id}.
type memberView struct {
	Tier    string `json:"tier"`
	Coupons []struct {
		Code string `json:"code"`
		Kind string `json:"kind"`
	} `json:"coupons"`
	Enrollments []loyalty.Enrollment `json:"enrollments"`
}

// getMember reads the member through the API; ok is false on 404.
func getMember(t *testing.T, s *localstack.Stack, id string) (memberView, bool) {
	t.Helper()
	r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/"+id, "Bearer "+token))
	if r.status == http.StatusNotFound {
		return memberView{}, false
	}
	if r.status != http.StatusOK {
		t.Fatalf("GET member %s: %d %s", id, r.status, r.body)
	}
	var v memberView
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatal(err)
	}
	return v, true
}

// couponKinds counts the member's coupons by kind, from the API.
func couponKinds(t *testing.T, s *localstack.Stack, id string) map[string]int {
	t.Helper()
	v, _ := getMember(t, s, id)
	out := map[string]int{}
	for _, c := range v.Coupons {
		out[c.Kind]++
	}
	return out
}

// couponKeys counts the member's coupons by the key they were issued
// under, from the ledger's account.
func couponKeys(t *testing.T, s *localstack.Stack, id string) map[string]int {
	t.Helper()
	a, err := s.Activities.Store.GetAccount(context.Background(), id)
	if err != nil {
		t.Fatalf("account of %s: %v", id, err)
	}
	out := map[string]int{}
	for _, c := range a.Coupons {
		out[c.Key]++
	}
	return out
}

// sentEmail is one message in the outbox with what identifies it.
type sentEmail struct {
	outbox.Entry
	Key string // custom_args.idempotency_key
}

// outboxEmails lists the outbox with each message's idempotency key.
func outboxEmails(t *testing.T, s *localstack.Stack) []sentEmail {
	t.Helper()
	entries, err := (&outbox.Sink{Dir: s.OutboxDir}).List()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]sentEmail, 0, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(e.JSONPath)
		if err != nil {
			t.Fatal(err)
		}
		var req struct {
			Personalizations []struct {
				CustomArgs map[string]string `json:"custom_args"`
			} `json:"personalizations"`
		}
		if err := json.Unmarshal(b, &req); err != nil || len(req.Personalizations) != 1 {
			t.Fatalf("outbox request %s: %v", e.JSONPath, err)
		}
		out = append(out, sentEmail{Entry: e, Key: req.Personalizations[0].CustomArgs[mail.CustomArgIdempotencyKey]})
	}
	return out
}

// sendRows is the member's send ledger by key.
func sendRows(t *testing.T, s *localstack.Stack, member string) map[string]store.Send {
	t.Helper()
	rows, err := s.Activities.Store.ListSends(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Send{}
	for _, r := range rows {
		out[r.Key] = r
	}
	return out
}

// waitMembers waits until dispatch has projected every member.
func waitMembers(t *testing.T, s *localstack.Stack, ids ...string) {
	t.Helper()
	for _, id := range ids {
		waitFor(t, "member "+id+" projected", 60*time.Second, func() bool { _, ok := getMember(t, s, id); return ok })
	}
}
