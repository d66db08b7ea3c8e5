package connectors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/connectors"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
)

var secrets = map[string][]byte{
	connectors.Shopify:     []byte("local-shopify-secret"),
	connectors.WooCommerce: []byte("local-woocommerce-secret"),
	connectors.Youzan:      []byte("local-youzan-secret"),
}

const youzanClient = "memberflow-local-client"

func newHandler(t *testing.T) (*connectors.Handler, *memstore.Store) {
	t.Helper()
	p, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	in := &ingest.Handler{Store: st, Rules: ingest.ProgramRules(p), Log: log}
	return &connectors.Handler{Ingest: in, Secrets: secrets, Log: log}, st
}

func sample(t *testing.T, platform, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../events/connectors", platform, file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signedHeaders signs body the platform's way with its local secret.
func signedHeaders(t *testing.T, platform, topic, delivery string, body []byte) http.Header {
	t.Helper()
	h, err := connectors.Headers(platform, topic, delivery, youzanClient, secrets[platform], body)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func post(h http.Handler, platform string, body []byte, hdr http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/connectors/"+platform, bytes.NewReader(body))
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustStatus(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status = %d, want %d: %s", rec.Code, want, rec.Body)
	}
}

// recorded reads an event the connector recorded and decodes its data.
func recorded(t *testing.T, st *memstore.Store, source, id string) (store.RecordedEvent, any) {
	t.Helper()
	ev, err := st.GetEvent(context.Background(), source, id)
	if err != nil {
		t.Fatalf("event %s/%s: %v", source, id, err)
	}
	var env events.Envelope
	if err := json.Unmarshal(ev.Payload, &env); err != nil {
		t.Fatal(err)
	}
	data, err := env.DecodeData()
	if err != nil {
		t.Fatal(err)
	}
	return ev, data
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestSignatureRejected(t *testing.T) {
	h, _ := newHandler(t)
	for _, tc := range []struct {
		platform, topic, file, header string
	}{
		{connectors.Shopify, "customers/create", "customers_create.json", connectors.ShopifyHeaderHMAC},
		{connectors.WooCommerce, "customer.created", "customer.created.json", connectors.WooHeaderSignature},
		{connectors.Youzan, "trade_TradePaid", "trade_TradePaid.json", connectors.YouzanHeaderSign},
	} {
		body := sample(t, tc.platform, tc.file)
		good := signedHeaders(t, tc.platform, tc.topic, "d-1", body)
		unsigned := good.Clone()
		unsigned.Del(tc.header)
		rotated, err := connectors.Headers(tc.platform, tc.topic, "d-1", youzanClient, []byte("the-previous-secret"), body)
		if err != nil {
			t.Fatal(err)
		}
		tampered := bytes.Replace(body, []byte("2026"), []byte("2027"), 1)
		for name, req := range map[string]struct {
			body []byte
			hdr  http.Header
		}{
			"unsigned":           {body, unsigned},
			"tampered body":      {tampered, good},
			"another secret":     {body, rotated},
			"not base64 or hex":  {body, withHeader(good, tc.header, "!!")},
			"signature of empty": {body, withHeader(good, tc.header, signedHeaders(t, tc.platform, tc.topic, "d-1", nil).Get(tc.header))},
		} {
			t.Run(tc.platform+"/"+name, func(t *testing.T) {
				rec := post(h, tc.platform, req.body, req.hdr)
				mustStatus(t, rec, http.StatusUnauthorized)
				if !strings.Contains(rec.Body.String(), tc.header) {
					t.Errorf("body %s does not name %s", rec.Body, tc.header)
				}
			})
		}
	}
}

func withHeader(h http.Header, k, v string) http.Header {
	c := h.Clone()
	c.Set(k, v)
	return c
}

// Youzan's Event-Sign is hex MD5(client_id + body + client_secret):
// checked here against an MD5 computed independently (md5sum's value for
// the same string).
func TestYouzanSignIsMD5OfClientBodySecret(t *testing.T) {
	// printf 'cid{"a":1}sec' | md5sum
	if got, want := connectors.SignYouzan("cid", []byte("sec"), []byte(`{"a":1}`)), "89af012f3406222d6cbc30f2b3434f88"; got != want {
		t.Errorf("SignYouzan = %s, want %s", got, want)
	}
}

func TestTooLarge(t *testing.T) {
	h, _ := newHandler(t)
	body := bytes.Repeat([]byte(" "), ingest.MaxBodyBytes+1)
	mustStatus(t, post(h, connectors.Shopify, body, signedHeaders(t, connectors.Shopify, "orders/paid", "d", body)), http.StatusRequestEntityTooLarge)
}

func TestUnknownPlatform(t *testing.T) {
	h, _ := newHandler(t)
	mustStatus(t, post(h, "magento", []byte("{}"), nil), http.StatusNotFound)
}

func TestUnmappedTopicIsIgnoredAndCounted(t *testing.T) {
	h, _ := newHandler(t)
	body := []byte(`{"id": 632910392, "title": "IPod Nano - 8GB"}`)
	before := counter("shopify products/update")
	rec := post(h, connectors.Shopify, body, signedHeaders(t, connectors.Shopify, "products/update", "w-9", body))
	mustStatus(t, rec, http.StatusOK)
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["ignored"] != "products/update" {
		t.Errorf("body %s, want ignored products/update", rec.Body)
	}
	if after := counter("shopify products/update"); after != before+1 {
		t.Errorf("counter went from %d to %d, want +1", before, after)
	}
}

func counter(key string) int64 {
	v := connectors.Ignored.Get(key)
	if v == nil {
		return 0
	}
	var n int64
	_ = json.Unmarshal([]byte(v.String()), &n)
	return n
}

// Shopify: the customer, then the order, then the refund, each signed
// with Shopify's own scheme, end as the memberflow events they mean.
func TestShopifySamples(t *testing.T) {
	h, st := newHandler(t)
	member := "shopify-706405506930370084"

	body := sample(t, connectors.Shopify, "customers_create.json")
	mustStatus(t, post(h, connectors.Shopify, body, signedHeaders(t, connectors.Shopify, "customers/create", "w-1", body)), http.StatusAccepted)
	ev, data := recorded(t, st, "shopify", "shopify.customer.706405506930370084.created")
	reg := data.(*events.MemberRegisteredData)
	if ev.MemberID != member || ev.Type != "member.registered" || reg.Email != "bob@example.com" || reg.Name != "Bob Biller" || !reg.Consent.EmailMarketing || reg.Phone != "+8613800000001" {
		t.Errorf("customers/create recorded %+v %+v", ev, reg)
	}

	body = sample(t, connectors.Shopify, "customers_update.json")
	mustStatus(t, post(h, connectors.Shopify, body, signedHeaders(t, connectors.Shopify, "customers/update", "w-2", body)), http.StatusAccepted)
	ev, data = recorded(t, st, "shopify", "shopify.customer.706405506930370084.updated.1772618400")
	upd := data.(*events.MemberProfileUpdatedData)
	if ev.MemberID != member || upd.Consent == nil || upd.Consent.EmailMarketing || upd.Name == nil || *upd.Name != "Bob Norman" || upd.Phone != nil {
		t.Errorf("customers/update recorded %+v %+v", ev, upd)
	}

	body = sample(t, connectors.Shopify, "orders_paid.json")
	hdr := signedHeaders(t, connectors.Shopify, "orders/paid", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", body)
	mustStatus(t, post(h, connectors.Shopify, body, hdr), http.StatusAccepted)
	ev, data = recorded(t, st, "shopify", "shopify.order.820982911946154508.paid")
	if ev.DeliveryID != "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" {
		t.Errorf("orders/paid kept delivery id %q, want X-Shopify-Webhook-Id", ev.DeliveryID)
	}
	paid := data.(*events.OrderPaidData)
	if ev.MemberID != member || paid.Currency != "CNY" || !paid.Amount.Equal(dec("1150")) || !paid.Discount.Equal(dec("100")) ||
		len(paid.Lines) != 2 || paid.Lines[0].SKU != "TEA-OOLONG-250G" || !paid.Lines[0].Amount.Equal(dec("500")) || paid.Lines[0].Quantity != 2 ||
		paid.CouponCode != "SPRING26" || len(paid.Payments) != 1 || paid.Payments[0].Method != events.PaymentCard || !paid.Payments[0].Amount.Equal(dec("1150")) {
		t.Errorf("orders/paid recorded %+v %+v", ev, paid)
	}

	// Delivered again with the same webhook id: a duplicate, nothing
	// changes.
	again := post(h, connectors.Shopify, body, hdr)
	mustStatus(t, again, http.StatusOK)
	var dup ingest.Duplicate
	if err := json.Unmarshal(again.Body.Bytes(), &dup); err != nil || !dup.Duplicate {
		t.Errorf("second delivery answered %s", again.Body)
	}
	ev2, _ := recorded(t, st, "shopify", "shopify.order.820982911946154508.paid")
	if !ev2.ReceivedAt.Equal(ev.ReceivedAt) || ev2.Digest != ev.Digest || ev2.DeliveryID != ev.DeliveryID {
		t.Errorf("the redelivery changed the recorded order: %+v then %+v", ev, ev2)
	}

	body = sample(t, connectors.Shopify, "refunds_create.json")
	mustStatus(t, post(h, connectors.Shopify, body, signedHeaders(t, connectors.Shopify, "refunds/create", "w-4", body)), http.StatusAccepted)
	ev, data = recorded(t, st, "shopify", "shopify.refund.890088186047892319")
	rf := data.(*events.OrderRefundedData)
	if ev.MemberID != member || rf.OrderID != "820982911946154508" || !rf.Amount.Equal(dec("250")) || rf.Currency != "CNY" ||
		len(rf.Lines) != 1 || rf.Lines[0].SKU != "TEA-OOLONG-250G" || rf.Lines[0].Quantity != 1 || !rf.Lines[0].Amount.Equal(dec("250")) {
		t.Errorf("refunds/create recorded %+v %+v", ev, rf)
	}
}

// A refund whose order was never recorded is refused for a retry, not
// recorded without a member.
func TestRefundBeforeOrderIsRetried(t *testing.T) {
	h, st := newHandler(t)
	body := sample(t, connectors.Shopify, "refunds_create.json")
	mustStatus(t, post(h, connectors.Shopify, body, signedHeaders(t, connectors.Shopify, "refunds/create", "w-4", body)), http.StatusConflict)
	if _, err := st.GetEvent(context.Background(), "shopify", "shopify.refund.890088186047892319"); err == nil {
		t.Error("the refund was recorded")
	}
}

func TestWooCommerceSamples(t *testing.T) {
	h, st := newHandler(t)
	member := "woocommerce-25"

	body := sample(t, connectors.WooCommerce, "customer.created.json")
	mustStatus(t, post(h, connectors.WooCommerce, body, signedHeaders(t, connectors.WooCommerce, "customer.created", "1", body)), http.StatusAccepted)
	ev, data := recorded(t, st, "woocommerce", "woocommerce.customer.25.created")
	reg := data.(*events.MemberRegisteredData)
	if ev.DeliveryID != "1" {
		t.Errorf("customer.created kept delivery id %q, want X-WC-Webhook-Delivery-ID", ev.DeliveryID)
	}
	if ev.MemberID != member || reg.Email != "john.doe@example.com" || reg.Name != "John Doe" || !reg.Consent.EmailMarketing || reg.Phone != "+14155550100" {
		t.Errorf("customer.created recorded %+v %+v", ev, reg)
	}

	body = sample(t, connectors.WooCommerce, "order.updated.json")
	mustStatus(t, post(h, connectors.WooCommerce, body, signedHeaders(t, connectors.WooCommerce, "order.updated", "2", body)), http.StatusAccepted)
	ev, data = recorded(t, st, "woocommerce", "woocommerce.order.727.paid")
	paid := data.(*events.OrderPaidData)
	if ev.MemberID != member || !paid.Amount.Equal(dec("700")) || paid.Currency != "CNY" || len(paid.Lines) != 2 ||
		!paid.Lines[0].Amount.Equal(dec("280")) || paid.Lines[1].SKU != "GAIWAN-01" || paid.CouponCode != "TEA50" || !ev.OccurredAt.Equal(time.Date(2026, 3, 2, 6, 5, 10, 0, time.UTC)) {
		t.Errorf("order.updated recorded %+v %+v", ev, paid)
	}

	// The later update carries the refund and repeats the order, which
	// is a duplicate.
	body = sample(t, connectors.WooCommerce, "order.updated.refunded.json")
	rec := post(h, connectors.WooCommerce, body, signedHeaders(t, connectors.WooCommerce, "order.updated", "3", body))
	mustStatus(t, rec, http.StatusAccepted)
	var acc ingest.Accepted
	if err := json.Unmarshal(rec.Body.Bytes(), &acc); err != nil || len(acc.IDs) != 1 || len(acc.Duplicates) != 1 || acc.Duplicates[0] != "woocommerce.order.727.paid" {
		t.Errorf("refund delivery answered %s", rec.Body)
	}
	ev, data = recorded(t, st, "woocommerce", "woocommerce.refund.730")
	rf := data.(*events.OrderRefundedData)
	if ev.MemberID != member || rf.OrderID != "727" || !rf.Amount.Equal(dec("140")) || rf.Currency != "CNY" {
		t.Errorf("refund recorded %+v %+v", ev, rf)
	}
}

// Youzan: a paid trade, then its refund, end as memberflow events; each
// push is acknowledged with the body Youzan reads as received (HTTP 200,
// {"code":0,"msg":"success"}), and its msg_id is kept as the delivery id.
func TestYouzanSamples(t *testing.T) {
	h, st := newHandler(t)
	member := "youzan-9F3mfC8o668730813524791296"

	body := sample(t, connectors.Youzan, "trade_TradePaid.json")
	mustYouzanAck(t, post(h, connectors.Youzan, body, signedHeaders(t, connectors.Youzan, "trade_TradePaid", "", body)))
	ev, data := recorded(t, st, "youzan", "youzan.trade.E20260302140510025604163.paid")
	paid := data.(*events.OrderPaidData)
	if ev.MemberID != member || !paid.Amount.Equal(dec("468")) || len(paid.Lines) != 2 || paid.Lines[0].SKU != "TEA-PUER-357G" ||
		!paid.Lines[0].Amount.Equal(dec("368")) || paid.Lines[1].Quantity != 2 || !ev.OccurredAt.Equal(time.Date(2026, 3, 2, 6, 5, 10, 0, time.UTC)) {
		t.Errorf("trade_TradePaid recorded %+v %+v", ev, paid)
	}
	var push struct {
		MsgID string `json:"msg_id"`
	}
	if err := json.Unmarshal(body, &push); err != nil || push.MsgID == "" || ev.DeliveryID != push.MsgID {
		t.Errorf("trade_TradePaid kept delivery id %q, want the push's msg_id %q", ev.DeliveryID, push.MsgID)
	}
	// Pushed again: recorded before, still acknowledged so Youzan stops.
	mustYouzanAck(t, post(h, connectors.Youzan, body, signedHeaders(t, connectors.Youzan, "trade_TradePaid", "", body)))

	body = sample(t, connectors.Youzan, "trade_refund_RefundSuccess.json")
	mustYouzanAck(t, post(h, connectors.Youzan, body, signedHeaders(t, connectors.Youzan, "trade_refund_RefundSuccess", "", body)))
	ev, data = recorded(t, st, "youzan", "youzan.refund.201603091120001234")
	rf := data.(*events.OrderRefundedData)
	if ev.MemberID != member || rf.OrderID != "E20260302140510025604163" || !rf.Amount.Equal(dec("50")) || rf.Currency != "CNY" {
		t.Errorf("refund recorded %+v %+v", ev, rf)
	}

	// Youzan's heartbeat (test: true) and a type memberflow does not map
	// are acknowledged the same way; a refused push is not.
	for _, b := range []string{
		`{"client_id":"memberflow-local-client","id":"x","msg":"","type":"trade_TradePaid","test":true}`,
		`{"client_id":"memberflow-local-client","id":"x","msg":"","type":"ITEM_Update","test":false}`,
	} {
		var p struct{ Type string }
		_ = json.Unmarshal([]byte(b), &p)
		mustYouzanAck(t, post(h, connectors.Youzan, []byte(b), signedHeaders(t, connectors.Youzan, p.Type, "", []byte(b))))
	}
	bad := []byte(`{"client_id":"memberflow-local-client","id":"x","msg":"%zz","type":"trade_TradePaid","test":false}`)
	rec := post(h, connectors.Youzan, bad, signedHeaders(t, connectors.Youzan, "trade_TradePaid", "", bad))
	mustStatus(t, rec, http.StatusBadRequest)
	if strings.Contains(rec.Body.String(), `"code"`) || !strings.Contains(rec.Body.String(), "msg") {
		t.Errorf("refused push answered %s, want an error naming msg and no acknowledgement", rec.Body)
	}
}

// mustYouzanAck wants the acknowledgement of Youzan's push guide.
func mustYouzanAck(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	mustStatus(t, rec, http.StatusOK)
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 2 || got["code"] != float64(0) || got["msg"] != "success" {
		t.Errorf("answer %s, want {\"code\":0,\"msg\":\"success\"}", rec.Body)
	}
}

// A delivery id that is not one is refused naming its header, before
// anything is recorded.
func TestBadDeliveryIDRefused(t *testing.T) {
	h, st := newHandler(t)
	body := sample(t, connectors.Shopify, "orders_paid.json")
	rec := post(h, connectors.Shopify, body, signedHeaders(t, connectors.Shopify, "orders/paid", "two words", body))
	mustStatus(t, rec, http.StatusBadRequest)
	if !strings.Contains(rec.Body.String(), connectors.ShopifyHeaderWebhookID) {
		t.Errorf("answer %s does not name %s", rec.Body, connectors.ShopifyHeaderWebhookID)
	}
	if _, err := st.GetEvent(context.Background(), "shopify", "shopify.order.820982911946154508.paid"); err == nil {
		t.Error("the order was recorded")
	}
}

// A platform's secret keys its connector only, never /v1/events.
func TestSplitSecrets(t *testing.T) {
	ev, native := connectors.SplitSecrets(map[string][]byte{"storefront": []byte("a"), "shopify": []byte("b"), "youzan": []byte("c")})
	if len(ev) != 1 || string(ev["storefront"]) != "a" || len(native) != 2 || string(native["shopify"]) != "b" || string(native["youzan"]) != "c" {
		t.Errorf("events %v, native %v", ev, native)
	}
}

// A payload that cannot be mapped is 400 naming the platform's field; an
// order with no customer is acknowledged, not recorded.
func TestPayloadProblems(t *testing.T) {
	h, _ := newHandler(t)
	order := func(change func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(sample(t, connectors.Shopify, "orders_paid.json"), &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		b, _ := json.Marshal(m)
		return b
	}
	line0 := func(m map[string]any) map[string]any { return m["line_items"].([]any)[0].(map[string]any) }
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"negative price", order(func(m map[string]any) { line0(m)["price"] = "-1.00" }), http.StatusBadRequest, "line_items[0].price"},
		{"three decimals", order(func(m map[string]any) { line0(m)["price"] = "1.005" }), http.StatusBadRequest, "line_items[0].price"},
		{"no quantity", order(func(m map[string]any) { line0(m)["quantity"] = 0 }), http.StatusBadRequest, "line_items[0].quantity"},
		{"discount above the lines", order(func(m map[string]any) { m["total_discounts"] = "5000.00" }), http.StatusBadRequest, "total_discounts"},
		{"not the programme's currency", order(func(m map[string]any) { m["currency"] = "USD" }), http.StatusBadRequest, "data.currency"},
		{"guest order", order(func(m map[string]any) { delete(m, "customer") }), http.StatusOK, `"ignored": "orders/paid"`},
		{"not JSON", []byte("<xml/>"), http.StatusBadRequest, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(h, connectors.Shopify, tc.body, signedHeaders(t, connectors.Shopify, "orders/paid", "w", tc.body))
			mustStatus(t, rec, tc.status)
			if !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("answer %s does not name %s", rec.Body, tc.want)
			}
		})
	}
}

// A phone-only customer is acknowledged as ignored, not refused: the
// platforms retry a refused delivery and then drop the subscription.
func TestCustomerWithoutEmailIsIgnored(t *testing.T) {
	h, _ := newHandler(t)
	for _, c := range []struct{ platform, topic, body string }{
		{connectors.Shopify, "customers/create", `{"id": 706405506930370084, "email": null, "phone": "+8613800000000", "created_at": "2026-11-20T09:30:00+08:00", "updated_at": "2026-11-20T09:30:00+08:00"}`},
		{connectors.WooCommerce, "customer.created", `{"id": 25, "email": "", "date_created_gmt": "2026-11-20T01:30:00", "date_modified_gmt": "2026-11-20T01:30:00", "billing": {"phone": "+8613800000000"}}`},
	} {
		body := []byte(c.body)
		rec := post(h, c.platform, body, signedHeaders(t, c.platform, c.topic, "w-noemail", body))
		mustStatus(t, rec, http.StatusOK)
		var got map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["ignored"] != c.topic || got["reason"] != "customer without an email" {
			t.Errorf("%s %s: body %s, want ignored without an email", c.platform, c.topic, rec.Body)
		}
	}
}
