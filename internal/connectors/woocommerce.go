package connectors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
)

// WooCommerce's webhook headers (woocommerce.github.io/woocommerce-rest-api-docs,
// "Webhooks": X-WC-Webhook-Signature is the base64 HMAC-SHA256 of the raw
// body keyed with the webhook's secret).
const (
	WooHeaderSignature  = "X-WC-Webhook-Signature"
	WooHeaderTopic      = "X-WC-Webhook-Topic"
	WooHeaderDeliveryID = "X-WC-Webhook-Delivery-ID"
)

// wooConsentMeta are the customer meta_data keys that state marketing
// consent: WooCommerce core has no consent field, the Mailchimp for
// WooCommerce plugin writes this one ("1" when subscribed). Without it a
// customer has not consented.
var wooConsentMeta = []string{"mailchimp_woocommerce_is_subscribed"}

type wooPlatform struct{ plainAnswers }

func (wooPlatform) deliveryID(h http.Header, _ []byte) (string, string) {
	return h.Get(WooHeaderDeliveryID), WooHeaderDeliveryID
}

func (wooPlatform) verify(secret []byte, h http.Header, body []byte) error {
	return verifyBase64HMAC(secret, WooHeaderSignature, h, body)
}

func (wooPlatform) topic(h http.Header, _ []byte) string { return h.Get(WooHeaderTopic) }

// wooTime is WooCommerce's *_gmt date: UTC without a zone.
type wooTime struct{ time.Time }

func (t *wooTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || s == "" {
		return nil // null: not set
	}
	v, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.UTC)
	if err != nil {
		return fmt.Errorf("date %q: must be YYYY-MM-DDTHH:MM:SS", s)
	}
	t.Time = v
	return nil
}

type wooMeta struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type wooCustomer struct {
	ID              json.Number `json:"id"`
	DateCreatedGMT  wooTime     `json:"date_created_gmt"`
	DateModifiedGMT wooTime     `json:"date_modified_gmt"`
	Email           string      `json:"email"`
	FirstName       string      `json:"first_name"`
	LastName        string      `json:"last_name"`
	Billing         struct {
		Phone string `json:"phone"`
	} `json:"billing"`
	MetaData []wooMeta `json:"meta_data"`
}

func (c wooCustomer) consent() bool {
	for _, m := range c.MetaData {
		for _, k := range wooConsentMeta {
			if m.Key == k {
				v := strings.ToLower(fmt.Sprint(m.Value))
				return v == "1" || v == "true" || v == "yes"
			}
		}
	}
	return false
}

type wooOrder struct {
	ID          json.Number `json:"id"`
	Status      string      `json:"status"`
	Currency    string      `json:"currency"`
	CustomerID  json.Number `json:"customer_id"`
	DatePaidGMT wooTime     `json:"date_paid_gmt"`
	LineItems   []struct {
		ID       json.Number `json:"id"`
		Name     string      `json:"name"`
		SKU      string      `json:"sku"`
		Quantity int         `json:"quantity"`
		Total    string      `json:"total"`
	} `json:"line_items"`
	CouponLines []struct {
		Code string `json:"code"`
	} `json:"coupon_lines"`
	Refunds []struct {
		ID    json.Number `json:"id"`
		Total string      `json:"total"` // negative, e.g. "-10.00"
	} `json:"refunds"`
}

func (wooPlatform) mapDelivery(_ context.Context, d delivery) ([]event, string, error) {
	switch d.topic {
	case "customer.created", "customer.updated":
		var c wooCustomer
		if err := json.Unmarshal(d.body, &c); err != nil {
			return nil, "", bad("body", "must be a WooCommerce customer object: "+err.Error())
		}
		id, err := checkID("id", c.ID.String())
		if err != nil {
			return nil, "", err
		}
		member := WooCommerce + "-" + id
		name := fullName(c.FirstName, c.LastName, "")
		if d.topic == "customer.created" {
			// memberflow reaches members by email: a phone-only customer is
			// acknowledged and ignored (a refusal would have the platform retry,
			// then drop the subscription).
			if strings.TrimSpace(c.Email) == "" {
				return nil, "customer without an email", nil
			}
			return []event{registered("woocommerce.customer."+id+".created", member, c.DateCreatedGMT.Time,
				c.Email, text(name, "WooCommerce customer "+id), phoneOrEmpty(c.Billing.Phone), c.consent())}, "", nil
		}
		return []event{profileUpdated(fmt.Sprintf("woocommerce.customer.%s.updated.%d", id, c.DateModifiedGMT.Unix()), member, c.DateModifiedGMT.Time,
			c.Email, name, phoneOrEmpty(c.Billing.Phone), c.consent())}, "", nil
	case "order.created", "order.updated":
		var o wooOrder
		if err := json.Unmarshal(d.body, &o); err != nil {
			return nil, "", bad("body", "must be a WooCommerce order object: "+err.Error())
		}
		return wooOrderEvents(o)
	}
	return nil, "topic not mapped", nil
}

// wooOrderEvents maps an order that has been paid (date_paid_gmt set) to
// its order.paid, and each of its refunds to an order.refunded. Lines are
// the line totals after coupons (WooCommerce spreads coupons over lines),
// so there is no order-level discount; shipping and taxes earn nothing.
//
// WooCommerce's order payload gives a refund's total only, not its lines
// nor its date: refunds are by amount, and dated at the order's payment so
// that every later order.updated repeating them is a duplicate rather than
// a conflict.
func wooOrderEvents(o wooOrder) ([]event, string, error) {
	if o.DatePaidGMT.IsZero() {
		return nil, "order not paid (status " + o.Status + ")", nil
	}
	if o.CustomerID.String() == "" || o.CustomerID.String() == "0" {
		return nil, "guest order: no customer to link to a member", nil
	}
	orderID, err := checkID("id", o.ID.String())
	if err != nil {
		return nil, "", err
	}
	customer, err := checkID("customer_id", o.CustomerID.String())
	if err != nil {
		return nil, "", err
	}
	member := WooCommerce + "-" + customer
	if len(o.LineItems) == 0 {
		return nil, "", bad("line_items", "must have at least one line")
	}
	data := events.OrderPaidData{OrderID: orderID, Currency: o.Currency}
	for i, li := range o.LineItems {
		l, err := line(fmt.Sprintf("line_items[%d]", i), "total", "quantity", text(li.SKU, "woocommerce-line-"+li.ID.String()), "uncategorized", li.Quantity, li.Total)
		if err != nil {
			return nil, "", err
		}
		data.Amount = data.Amount.Add(l.Amount)
		data.Lines = append(data.Lines, l)
	}
	if len(o.CouponLines) > 0 && idPattern.MatchString(o.CouponLines[0].Code) {
		data.CouponCode = o.CouponLines[0].Code
	}
	data.Payments = []events.Payment{{Method: events.PaymentCard, Amount: data.Amount}}
	at := o.DatePaidGMT.Time
	evs := []event{{ID: "woocommerce.order." + orderID + ".paid", Type: string(events.OrderPaid), OccurredAt: at, MemberID: member, Data: data}}
	for i, rf := range o.Refunds {
		refundID, err := checkID(fmt.Sprintf("refunds[%d].id", i), rf.ID.String())
		if err != nil {
			return nil, "", err
		}
		total, err := decimal.NewFromString(rf.Total)
		if err != nil {
			return nil, "", bad(fmt.Sprintf("refunds[%d].total", i), "must be a decimal amount like \"-10.00\"")
		}
		amount, err := money(fmt.Sprintf("refunds[%d].total", i), total.Abs().String())
		if err != nil {
			return nil, "", err
		}
		evs = append(evs, event{ID: "woocommerce.refund." + refundID, Type: string(events.OrderRefunded), OccurredAt: at, MemberID: member,
			Data: events.OrderRefundedData{OrderID: orderID, RefundID: refundID, Amount: amount, Currency: o.Currency}})
	}
	return evs, "", nil
}
