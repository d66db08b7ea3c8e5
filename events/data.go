package events

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Money amounts are decimal.Decimal so arithmetic on them is exact. On the
// wire they are decimal strings such as "12.50": decimal.Decimal marshals to
// a JSON string by default, and the schemas reject JSON numbers, so a float
// never gets near an amount.

// Consent is a member's marketing consent.
type Consent struct {
	EmailMarketing bool `json:"email_marketing"`
}

// MemberRegisteredData is the data of a member.registered event.
type MemberRegisteredData struct {
	Email        string  `json:"email"`
	Name         string  `json:"name"`
	Birthday     *Date   `json:"birthday,omitempty"` // nil when not given
	Timezone     string  `json:"timezone,omitempty"` // IANA name, e.g. "Asia/Shanghai"
	Locale       string  `json:"locale,omitempty"`   // BCP 47 tag, e.g. "zh-CN"
	Phone        string  `json:"phone,omitempty"`    // E.164, e.g. "+8613800000000"
	ReferralCode string  `json:"referral_code,omitempty"`
	Consent      Consent `json:"consent"`
}

// MemberProfileUpdatedData is the data of a member.profile_updated event.
// Only changed fields are sent, so every field is a pointer: nil means
// "unchanged", which a zero value could not express.
type MemberProfileUpdatedData struct {
	Email        *string  `json:"email,omitempty"`
	Name         *string  `json:"name,omitempty"`
	Birthday     *Date    `json:"birthday,omitempty"`
	Timezone     *string  `json:"timezone,omitempty"`
	Locale       *string  `json:"locale,omitempty"`
	Phone        *string  `json:"phone,omitempty"`
	ReferralCode *string  `json:"referral_code,omitempty"`
	Consent      *Consent `json:"consent,omitempty"`
}

// MemberUnsubscribedData is the data of a member.unsubscribed event. An
// empty Group means the member left all marketing email.
type MemberUnsubscribedData struct {
	Reason string `json:"reason,omitempty"`
	Group  string `json:"group,omitempty"`
}

// OrderLine is one line of an order or a refund. Amount is the line total,
// not the unit price.
type OrderLine struct {
	SKU      string          `json:"sku"`
	Category string          `json:"category"`
	Quantity int             `json:"quantity"`
	Amount   decimal.Decimal `json:"amount"`
}

// PaymentMethod is how (part of) an order was paid.
type PaymentMethod string

// The payment methods the order.paid schema accepts.
const (
	// PaymentCard is a bank or credit card payment.
	PaymentCard PaymentMethod = "card"
	// PaymentStoredValue is paid from the member's stored-value wallet.
	PaymentStoredValue PaymentMethod = "stored_value"
	// PaymentPoints is paid with loyalty points.
	PaymentPoints PaymentMethod = "points"
)

// Payment is one payment towards an order; an order may be split across
// several methods.
type Payment struct {
	Method PaymentMethod   `json:"method"`
	Amount decimal.Decimal `json:"amount"`
}

// OrderPaidData is the data of an order.paid event. Its amounts agree,
// which ParseBatch checks: the lines sum to Amount + Discount, the payments
// sum to Amount, and the points payments pay PointsRedeemed points at the
// programme's point value.
type OrderPaidData struct {
	OrderID  string          `json:"order_id"`
	Amount   decimal.Decimal `json:"amount"`   // what the member owes: lines less Discount
	Currency string          `json:"currency"` // ISO 4217, e.g. "CNY"
	Lines    []OrderLine     `json:"lines"`
	// Discount is the order-level reduction (coupon, promotion) not already
	// taken off the line amounts; zero when the lines carry it or there is none.
	Discount       decimal.Decimal `json:"discount,omitzero"`
	CouponCode     string          `json:"coupon_code,omitempty"`
	PointsRedeemed int             `json:"points_redeemed,omitempty"`
	Payments       []Payment       `json:"payments"`
}

// OrderRefundedData is the data of an order.refunded event. Lines is empty
// when the refund is not broken down by line.
type OrderRefundedData struct {
	OrderID  string          `json:"order_id"`
	RefundID string          `json:"refund_id"`
	Amount   decimal.Decimal `json:"amount"`
	Currency string          `json:"currency"`
	Lines    []OrderLine     `json:"lines,omitempty"`
}

// MemberCheckedInData is the data of a member.checked_in event.
type MemberCheckedInData struct {
	Location string `json:"location,omitempty"`
}

// ReviewPostedData is the data of a review.posted event.
type ReviewPostedData struct {
	ReviewID   string `json:"review_id"`
	ProductSKU string `json:"product_sku,omitempty"`
	Rating     int    `json:"rating"` // 1..5
}

// ContentSharedData is the data of a content.shared event.
type ContentSharedData struct {
	ContentID string `json:"content_id"`
	Channel   string `json:"channel,omitempty"`
}

// SubscriptionTrialStartedData is the data of a subscription.trial_started
// event.
type SubscriptionTrialStartedData struct {
	SubscriptionID string          `json:"subscription_id"`
	Plan           string          `json:"plan"`
	Price          decimal.Decimal `json:"price"`
	Currency       string          `json:"currency"`
	TrialEndsAt    time.Time       `json:"trial_ends_at"`
}

// SubscriptionConvertedData is the data of a subscription.converted event.
type SubscriptionConvertedData struct {
	SubscriptionID string          `json:"subscription_id"`
	Plan           string          `json:"plan"`
	Price          decimal.Decimal `json:"price"`
	Currency       string          `json:"currency"`
	PeriodEndsAt   time.Time       `json:"period_ends_at"`
}

// SubscriptionRenewedData is the data of a subscription.renewed event.
type SubscriptionRenewedData struct {
	SubscriptionID string          `json:"subscription_id"`
	Plan           string          `json:"plan"`
	Price          decimal.Decimal `json:"price"`
	Currency       string          `json:"currency"`
	PeriodEndsAt   time.Time       `json:"period_ends_at"`
}

// SubscriptionCancelledData is the data of a subscription.cancelled event.
// A nil EffectiveAt means the cancellation took effect when it occurred.
type SubscriptionCancelledData struct {
	SubscriptionID string     `json:"subscription_id"`
	Plan           string     `json:"plan"`
	Reason         string     `json:"reason,omitempty"`
	EffectiveAt    *time.Time `json:"effective_at,omitempty"`
}

// WalletToppedUpData is the data of a wallet.topped_up event.
type WalletToppedUpData struct {
	TopupID  string          `json:"topup_id"`
	Amount   decimal.Decimal `json:"amount"`
	Currency string          `json:"currency"`
}

// dateLayout is the civil date form used on the wire and by the schemas'
// "date" format.
const dateLayout = "2006-01-02"

// Date is a calendar date without a time or zone, such as a birthday: a
// birthday is the same day wherever the member is, so time.Time would invite
// off-by-one-day bugs. In JSON it is a "YYYY-MM-DD" string.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// String returns the date as YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText returns the date as YYYY-MM-DD; JSON encoding uses it.
func (d Date) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// UnmarshalText parses YYYY-MM-DD and rejects dates that do not exist, such
// as 1990-02-30; JSON decoding uses it.
func (d *Date) UnmarshalText(b []byte) error {
	t, err := parseDate(string(b))
	if err != nil {
		return err
	}
	*d = Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}
	return nil
}

// parseDate is shared by Date and the schemas' "date" format so that what
// validation accepts is exactly what decoding accepts. time.Parse checks the
// day against the month's length.
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a real calendar date in YYYY-MM-DD form", s)
	}
	return t, nil
}
