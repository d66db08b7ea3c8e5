package localstack_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/connectors"
	"github.com/memberflow/memberflow/internal/localstack"
)

// A Shopify customer, then their order, then a refund, each posted with
// Shopify's own signature to the running stack, make the member, their
// tier and points, and the refund's reversal in the ledger.
func TestShopifyConnectorEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts Temporal and DynamoDB Local")
	}
	const shopifySecret = "e2e-shopify-secret"
	s := startWith(t, localstack.Config{OutboxDir: t.TempDir(), LogDir: t.TempDir(), ConnectorSecrets: map[string]string{"shopify": shopifySecret}})
	t.Cleanup(s.Stop)
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
}
