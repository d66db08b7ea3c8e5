package connectors

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
)

// Shopify's webhook headers (shopify.dev, "Deliver webhooks through HTTPS":
// verify X-Shopify-Hmac-Sha256, the base64 HMAC-SHA256 of the raw body keyed
// with the app's client secret; X-Shopify-Webhook-Id is the same on every
// retry of one delivery).
const (
	ShopifyHeaderHMAC      = "X-Shopify-Hmac-Sha256"
	ShopifyHeaderTopic     = "X-Shopify-Topic"
	ShopifyHeaderWebhookID = "X-Shopify-Webhook-Id"
)

// SignBase64HMAC is the base64 HMAC-SHA256 of body keyed with secret, the
// signature of Shopify and of WooCommerce.
func SignBase64HMAC(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// verifyBase64HMAC checks header (a base64 HMAC-SHA256 of body) in
// constant time.
func verifyBase64HMAC(secret []byte, header string, h http.Header, body []byte) error {
	v := h.Get(header)
	if v == "" {
		return fmt.Errorf("invalid signature: %s header is missing", header)
	}
	got, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return fmt.Errorf("invalid signature: %s must be base64", header)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return fmt.Errorf("invalid signature: %s does not match the body", header)
	}
	return nil
}

type shopifyPlatform struct{ plainAnswers }

func (shopifyPlatform) deliveryID(h http.Header, _ []byte) (string, string) {
	return h.Get(ShopifyHeaderWebhookID), ShopifyHeaderWebhookID
}

func (shopifyPlatform) verify(secret []byte, h http.Header, body []byte) error {
	return verifyBase64HMAC(secret, ShopifyHeaderHMAC, h, body)
}

func (shopifyPlatform) topic(h http.Header, _ []byte) string { return h.Get(ShopifyHeaderTopic) }

type shopifyConsent struct {
	State string `json:"state"`
}

type shopifyCustomer struct {
	ID                    json.Number     `json:"id"`
	Email                 string          `json:"email"`
	FirstName             string          `json:"first_name"`
	LastName              string          `json:"last_name"`
	Phone                 string          `json:"phone"`
	CreatedAt             time.Time       `json:"created_at"`
	UpdatedAt             time.Time       `json:"updated_at"`
	EmailMarketingConsent *shopifyConsent `json:"email_marketing_consent"`
}

type shopifyLineItem struct {
	ID          json.Number `json:"id"`
	SKU         string      `json:"sku"`
	Title       string      `json:"title"`
	ProductType string      `json:"product_type"`
	Quantity    int         `json:"quantity"`
	Price       string      `json:"price"`
}

type shopifyOrder struct {
	ID             json.Number       `json:"id"`
	ProcessedAt    time.Time         `json:"processed_at"`
	Currency       string            `json:"currency"`
	TotalDiscounts string            `json:"total_discounts"`
	LineItems      []shopifyLineItem `json:"line_items"`
	DiscountCodes  []struct {
		Code string `json:"code"`
	} `json:"discount_codes"`
	PaymentGatewayNames []string         `json:"payment_gateway_names"`
	Customer            *shopifyCustomer `json:"customer"`
}

type shopifyRefund struct {
	ID              json.Number `json:"id"`
	OrderID         json.Number `json:"order_id"`
	CreatedAt       time.Time   `json:"created_at"`
	RefundLineItems []struct {
		Quantity    int             `json:"quantity"`
		Subtotal    string          `json:"subtotal"`
		LineItem    shopifyLineItem `json:"line_item"`
		SubtotalSet struct {
			ShopMoney struct {
				CurrencyCode string `json:"currency_code"`
			} `json:"shop_money"`
		} `json:"subtotal_set"`
	} `json:"refund_line_items"`
	Transactions []struct {
		Kind     string `json:"kind"`
		Status   string `json:"status"`
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	} `json:"transactions"`
}

// shopifyOrderEventID is the id of an order's order.paid: one per order,
// so any redelivery of orders/paid is a duplicate.
func shopifyOrderEventID(orderID string) string { return "shopify.order." + orderID + ".paid" }

func (shopifyPlatform) mapDelivery(ctx context.Context, d delivery) ([]event, string, error) {
	switch d.topic {
	case "customers/create", "customers/update":
		var c shopifyCustomer
		if err := json.Unmarshal(d.body, &c); err != nil {
			return nil, "", bad("body", "must be a Shopify customer object: "+err.Error())
		}
		id, err := checkID("id", c.ID.String())
		if err != nil {
			return nil, "", err
		}
		member := Shopify + "-" + id
		consent := c.EmailMarketingConsent != nil && c.EmailMarketingConsent.State == "subscribed"
		name := fullName(c.FirstName, c.LastName, "")
		if d.topic == "customers/create" {
			// memberflow reaches members by email: a phone-only customer is
			// acknowledged and ignored (a refusal would have the platform retry,
			// then drop the subscription).
			if strings.TrimSpace(c.Email) == "" {
				return nil, "customer without an email", nil
			}
			return []event{registered("shopify.customer."+id+".created", member, c.CreatedAt,
				c.Email, text(name, "Shopify customer "+id), phoneOrEmpty(c.Phone), consent)}, "", nil
		}
		// One event per version of the customer: a redelivery is a
		// duplicate, a later update a new event.
		return []event{profileUpdated(fmt.Sprintf("shopify.customer.%s.updated.%d", id, c.UpdatedAt.Unix()), member, c.UpdatedAt,
			c.Email, name, phoneOrEmpty(c.Phone), consent)}, "", nil
	case "orders/paid":
		var o shopifyOrder
		if err := json.Unmarshal(d.body, &o); err != nil {
			return nil, "", bad("body", "must be a Shopify order object: "+err.Error())
		}
		if o.Customer == nil || o.Customer.ID == "" {
			return nil, "guest order: no customer to link to a member", nil
		}
		ev, err := shopifyOrderPaid(o)
		if err != nil {
			return nil, "", err
		}
		return []event{ev}, "", nil
	case "refunds/create":
		var rf shopifyRefund
		if err := json.Unmarshal(d.body, &rf); err != nil {
			return nil, "", bad("body", "must be a Shopify refund object: "+err.Error())
		}
		ev, err := shopifyRefunded(ctx, d, rf)
		if err != nil {
			return nil, "", err
		}
		return []event{ev}, "", nil
	}
	return nil, "topic not mapped", nil
}

// shopifyOrderPaid maps orders/paid. Lines are the full line prices
// (price × quantity) and the order's total_discounts is the discount, so
// amount is the goods paid for: shipping and taxes earn no points.
// Shopify's payload does not split the amount by gateway, so it is one
// payment, from stored value when the only gateway is a gift card.
func shopifyOrderPaid(o shopifyOrder) (event, error) {
	orderID, err := checkID("id", o.ID.String())
	if err != nil {
		return event{}, err
	}
	customer, err := checkID("customer.id", o.Customer.ID.String())
	if err != nil {
		return event{}, err
	}
	if len(o.LineItems) == 0 {
		return event{}, bad("line_items", "must have at least one line")
	}
	data := events.OrderPaidData{OrderID: orderID, Currency: o.Currency}
	sum := decimal.Zero
	for i, li := range o.LineItems {
		price, err := money(fmt.Sprintf("line_items[%d].price", i), li.Price)
		if err != nil {
			return event{}, err
		}
		if li.Quantity < 1 {
			return event{}, bad(fmt.Sprintf("line_items[%d].quantity", i), "must be at least 1")
		}
		amount := price.Mul(decimal.NewFromInt(int64(li.Quantity)))
		sum = sum.Add(amount)
		data.Lines = append(data.Lines, events.OrderLine{SKU: shopifySKU(li), Category: text(li.ProductType, "uncategorized"), Quantity: li.Quantity, Amount: amount})
	}
	if o.TotalDiscounts != "" {
		if data.Discount, err = money("total_discounts", o.TotalDiscounts); err != nil {
			return event{}, err
		}
	}
	data.Amount = sum.Sub(data.Discount)
	if data.Amount.IsNegative() {
		return event{}, bad("total_discounts", "must not exceed the line items' total")
	}
	if len(o.DiscountCodes) > 0 && idPattern.MatchString(o.DiscountCodes[0].Code) {
		data.CouponCode = o.DiscountCodes[0].Code
	}
	method := events.PaymentCard
	if len(o.PaymentGatewayNames) == 1 && o.PaymentGatewayNames[0] == "gift_card" {
		method = events.PaymentStoredValue
	}
	data.Payments = []events.Payment{{Method: method, Amount: data.Amount}}
	return event{ID: shopifyOrderEventID(orderID), Type: string(events.OrderPaid), OccurredAt: o.ProcessedAt, MemberID: Shopify + "-" + customer, Data: data}, nil
}

// shopifySKU is the line's SKU, or its variant's line id when the
// merchant set none (the schema needs one).
func shopifySKU(li shopifyLineItem) string {
	return text(li.SKU, "shopify-line-"+li.ID.String())
}

// shopifyRefunded maps refunds/create by line: each refund line item at
// its subtotal. A refund without lines (an amount only) is the sum of its
// successful refund transactions. Refund payloads carry no customer, so the
// member is the one of the order's recorded order.paid.
func shopifyRefunded(ctx context.Context, d delivery, rf shopifyRefund) (event, error) {
	refundID, err := checkID("id", rf.ID.String())
	if err != nil {
		return event{}, err
	}
	orderID, err := checkID("order_id", rf.OrderID.String())
	if err != nil {
		return event{}, err
	}
	member, ok, err := d.orderMember(ctx, shopifyOrderEventID(orderID))
	if err != nil {
		return event{}, err
	}
	if !ok {
		return event{}, fmt.Errorf("%w: refund %s is of order %s", errOrderUnknown, refundID, orderID)
	}
	data := events.OrderRefundedData{OrderID: orderID, RefundID: refundID}
	for i, rl := range rf.RefundLineItems {
		l, err := line(fmt.Sprintf("refund_line_items[%d]", i), "subtotal", "quantity", shopifySKU(rl.LineItem), text(rl.LineItem.ProductType, "uncategorized"), rl.Quantity, rl.Subtotal)
		if err != nil {
			return event{}, err
		}
		data.Amount = data.Amount.Add(l.Amount)
		data.Currency = rl.SubtotalSet.ShopMoney.CurrencyCode
		data.Lines = append(data.Lines, l)
	}
	for i, t := range rf.Transactions {
		if t.Kind != "refund" || t.Status != "success" {
			continue
		}
		if data.Currency == "" {
			data.Currency = t.Currency
		}
		if len(rf.RefundLineItems) == 0 {
			amount, err := money(fmt.Sprintf("transactions[%d].amount", i), t.Amount)
			if err != nil {
				return event{}, err
			}
			data.Amount = data.Amount.Add(amount)
		}
	}
	if data.Currency == "" {
		return event{}, bad("transactions", "must name the refund's currency (or refund_line_items[].subtotal_set.shop_money.currency_code)")
	}
	return event{ID: "shopify.refund." + refundID, Type: string(events.OrderRefunded), OccurredAt: rf.CreatedAt, MemberID: member, Data: data}, nil
}
