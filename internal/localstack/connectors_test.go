package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/connectors"
	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/testenv/piiscan"
)

// A Shopify customer, then their order, then a refund, each posted with
// Shopify's own signature to the running stack, make the member, their
// tier and points, and the refund's reversal in the ledger. Then the
// member is erased: the liability report and their balances stay as they
// were, and a full Scan of the table and the outbox find none of their
// personal values — also after Shopify sends a customers/update full of
// them for the erased customer.
func TestShopifyConnectorEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts Temporal and DynamoDB Local")
	}
	const shopifySecret = "e2e-shopify-secret"
	s := startWith(t, localstack.Config{OutboxDir: t.TempDir(), LogDir: t.TempDir(), ConnectorSecrets: map[string]string{"shopify": shopifySecret}})
	t.Cleanup(s.Stop)
	// A Shopify customer carries no time zone, so the member is in the
	// programme's: without quiet hours the welcome goes at any hour the
	// test runs, and the erasure has an outbox file to remove. (Set
	// before anything is sent; the worker reads it per send.)
	policy := contact.Default()
	policy.QuietFrom, policy.QuietUntil = 0, 0
	s.Activities.Contact = &policy
	root := repoRoot(t)
	post := func(file, topic string) response {
		t.Helper()
		body, err := os.ReadFile(filepath.Join(root, "events/connectors/shopify", file))
		if err != nil {
			t.Fatal(err)
		}
		h, err := connectors.Headers(connectors.Shopify, topic, "e2e-"+file, "", []byte(shopifySecret), body)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/connectors/shopify", bytes.NewReader(body))
		req.Header = h
		return do(t, req)
	}
	const member = "shopify-706405506930370084"
	type standing struct {
		Tier   string `json:"tier"`
		Points struct {
			Pending   int `json:"pending"`
			Available int `json:"available"`
		} `json:"points"`
	}
	read := func() (standing, int) {
		r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/"+member, "Bearer "+token))
		var v standing
		_ = json.Unmarshal([]byte(r.body), &v)
		return v, r.status
	}

	if r := post("customers_create.json", "customers/create"); r.status != http.StatusAccepted {
		t.Fatalf("customers/create: %d %s", r.status, r.body)
	}
	waitFor(t, "the member", 20*time.Second, func() bool { _, st := read(); return st == http.StatusOK })
	waitFor(t, "the welcome email in the outbox", 30*time.Second, func() bool {
		return len(outboxTemplates(t, s, member)) == 1
	})

	if r := post("orders_paid.json", "orders/paid"); r.status != http.StatusAccepted {
		t.Fatalf("orders/paid: %d %s", r.status, r.body)
	}
	// 1,150.00 CNY of goods: growth 1150 makes V4.
	var v standing
	waitFor(t, "V4 after the order", 20*time.Second, func() bool { v, _ = read(); return v.Tier == "V4" })
	paidPoints := v.Points.Pending + v.Points.Available
	if paidPoints != 11 {
		t.Errorf("points after 1,150.00 paid = %+v, want 11 (one per full 100)", v.Points)
	}
	if r := post("orders_paid.json", "orders/paid"); r.status != http.StatusOK || !strings.Contains(r.body, `"duplicate": true`) {
		t.Errorf("orders/paid again: %d %s", r.status, r.body)
	}

	if r := post("refunds_create.json", "refunds/create"); r.status != http.StatusAccepted {
		t.Fatalf("refunds/create: %d %s", r.status, r.body)
	}
	// 250.00 refunded: growth 900 is V3, and the refund reverses points.
	waitFor(t, "V3 after the refund", 20*time.Second, func() bool { v, _ = read(); return v.Tier == "V3" })
	if after := v.Points.Pending + v.Points.Available; after >= paidPoints {
		t.Errorf("points after the refund = %+v, want fewer than %d", v.Points, paidPoints)
	}
	r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/"+member+"/ledger", "Bearer "+token))
	for _, rule := range []string{"order.points", "refund.points"} {
		if !strings.Contains(r.body, `"rule": "`+rule+`"`) {
			t.Errorf("ledger has no %s entry: %s", rule, r.body)
		}
	}

	// The erasure. The customer's values as Shopify sent them, and as
	// the update below sends them again.
	personal := []string{"bob@example.com", "Bob Biller", "+8613800000001", "Bob Norman"}
	ctx := context.Background()
	client, err := dynamo.NewClient(ctx, s.DynamoDB, "")
	if err != nil {
		t.Fatal(err)
	}
	if leaks := piiscan.Table(t, client, s.Table, personal); len(leaks) == 0 {
		t.Fatal("no personal value found in the table before the erasure: the scan looks for the wrong strings")
	}
	if files := piiscan.Dir(t, s.OutboxDir, personal); len(files) == 0 {
		t.Fatal("the outbox holds none of the member's values before the erasure: the scan looks for the wrong strings")
	}
	sent := len(outboxTemplates(t, s, member))
	liability := liabilityFigures(t, s)
	before, _ := read()
	er := do(t, mustRequest(t, http.MethodDelete, s.URL+"/v1/members/"+member, "Bearer "+token))
	if er.status != http.StatusOK {
		t.Fatalf("DELETE member: %d %s", er.status, er.body)
	}
	var erased struct {
		Files int `json:"files"`
	}
	if err := json.Unmarshal([]byte(er.body), &erased); err != nil || erased.Files != sent || sent == 0 {
		t.Errorf("DELETE member = %s (%v), want the %d outbox emails removed", er.body, err, sent)
	}
	if got := liabilityFigures(t, s); got != liability {
		t.Errorf("liability after the erasure = %s, before %s", got, liability)
	}
	if after, _ := read(); after != before {
		t.Errorf("standing after the erasure = %+v, before %+v", after, before)
	}

	// Shopify, which still knows the customer, sends their profile again.
	upd := post("customers_update.json", "customers/update")
	var accepted struct {
		IDs []string `json:"ids"`
	}
	if upd.status != http.StatusAccepted || json.Unmarshal([]byte(upd.body), &accepted) != nil || len(accepted.IDs) != 1 {
		t.Fatalf("customers/update after the erasure: %d %s, want one event accepted", upd.status, upd.body)
	}
	// Dispatch applies it (the update's consent, withdrawn, reaches the
	// profile), then stores it without the personal values and hands the
	// ledger and the journeys the redacted event: once the stored event
	// is redacted, nothing dispatch writes for it afterwards holds them.
	var profile struct {
		Email   string `json:"email"`
		Name    string `json:"name"`
		Erased  string `json:"erased_at"`
		Consent struct {
			EmailMarketing bool `json:"email_marketing"`
		} `json:"consent"`
	}
	waitFor(t, "the update applied", 20*time.Second, func() bool {
		r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/members/"+member, "Bearer "+token))
		return json.Unmarshal([]byte(r.body), &profile) == nil && !profile.Consent.EmailMarketing
	})
	if profile.Email != "" || profile.Name != "" || profile.Erased == "" {
		t.Errorf("profile after the update = %+v, want no email or name and the erased mark", profile)
	}
	waitFor(t, "the update stored redacted", 20*time.Second, func() bool {
		ev, err := s.Activities.Store.GetEvent(ctx, connectors.Shopify, accepted.IDs[0])
		if err != nil {
			t.Fatalf("the update's event %s: %v", accepted.IDs[0], err)
		}
		return !strings.Contains(string(ev.Payload), `"email"`)
	})
	if leaks := piiscan.Table(t, client, s.Table, personal); len(leaks) > 0 {
		t.Errorf("after the erasure the table holds:\n%s", strings.Join(leaks, "\n"))
	}
	if files := piiscan.Dir(t, s.OutboxDir, personal); len(files) > 0 {
		t.Errorf("after the erasure the outbox holds %v", files)
	}
	if got := liabilityFigures(t, s); got != liability {
		t.Errorf("liability after the update = %s, before the erasure %s", got, liability)
	}
}

// liabilityFigures is GET /v1/liability without the moment it was read.
func liabilityFigures(t *testing.T, s *localstack.Stack) string {
	t.Helper()
	r := do(t, mustRequest(t, http.MethodGet, s.URL+"/v1/liability", "Bearer "+token))
	var v map[string]any
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &v) != nil {
		t.Fatalf("GET /v1/liability: %d %s", r.status, r.body)
	}
	delete(v, "as_of")
	b, _ := json.Marshal(v)
	return string(b)
}
