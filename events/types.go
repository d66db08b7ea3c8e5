package events

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Type names an event type, as sent in the envelope's "type" field.
type Type string

// The event types storefronts can send. Each has a schema in schemas/, a
// sample in samples/ and a data struct.
const (
	// MemberRegistered means a member signed up; its data is MemberRegisteredData.
	MemberRegistered Type = "member.registered"
	// MemberProfileUpdated means a member changed profile fields; its data is MemberProfileUpdatedData.
	MemberProfileUpdated Type = "member.profile_updated"
	// MemberUnsubscribed means a member left marketing email; its data is MemberUnsubscribedData.
	MemberUnsubscribed Type = "member.unsubscribed"
	// OrderPaid means a member paid for an order; its data is OrderPaidData.
	OrderPaid Type = "order.paid"
	// OrderRefunded means an order was refunded; its data is OrderRefundedData.
	OrderRefunded Type = "order.refunded"
	// MemberCheckedIn means a member checked in somewhere; its data is MemberCheckedInData.
	MemberCheckedIn Type = "member.checked_in"
	// ReviewPosted means a member reviewed a product; its data is ReviewPostedData.
	ReviewPosted Type = "review.posted"
	// ContentShared means a member shared content; its data is ContentSharedData.
	ContentShared Type = "content.shared"
	// SubscriptionTrialStarted means a trial began; its data is SubscriptionTrialStartedData.
	SubscriptionTrialStarted Type = "subscription.trial_started"
	// SubscriptionConverted means a trial became paid; its data is SubscriptionConvertedData.
	SubscriptionConverted Type = "subscription.converted"
	// SubscriptionCancelled means a subscription was cancelled; its data is SubscriptionCancelledData.
	SubscriptionCancelled Type = "subscription.cancelled"
	// SubscriptionRenewed means a paid period was renewed; its data is SubscriptionRenewedData.
	SubscriptionRenewed Type = "subscription.renewed"
	// WalletToppedUp means money was added to a wallet; its data is WalletToppedUpData.
	WalletToppedUp Type = "wallet.topped_up"
)

// MaxBatch is the most events one request body may carry: one body is
// recorded all-or-nothing in a single DynamoDB transaction, which holds at
// most 100 items.
const MaxBatch = 100

// newData maps each type to a constructor of its data struct. It is also
// the list of known types: Types and ParseType are derived from it. A new
// type also needs a schema, a sample and an entry in envelope.json's "type"
// enum; the tests fail until it has all three.
var newData = map[Type]func() any{
	MemberRegistered:         func() any { return new(MemberRegisteredData) },
	MemberProfileUpdated:     func() any { return new(MemberProfileUpdatedData) },
	MemberUnsubscribed:       func() any { return new(MemberUnsubscribedData) },
	OrderPaid:                func() any { return new(OrderPaidData) },
	OrderRefunded:            func() any { return new(OrderRefundedData) },
	MemberCheckedIn:          func() any { return new(MemberCheckedInData) },
	ReviewPosted:             func() any { return new(ReviewPostedData) },
	ContentShared:            func() any { return new(ContentSharedData) },
	SubscriptionTrialStarted: func() any { return new(SubscriptionTrialStartedData) },
	SubscriptionConverted:    func() any { return new(SubscriptionConvertedData) },
	SubscriptionCancelled:    func() any { return new(SubscriptionCancelledData) },
	SubscriptionRenewed:      func() any { return new(SubscriptionRenewedData) },
	WalletToppedUp:           func() any { return new(WalletToppedUpData) },
}

// sortedTypes is computed once because Types is called per request when
// building error messages.
var sortedTypes = func() []Type {
	ts := make([]Type, 0, len(newData))
	for t := range newData {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}()

// Types returns every known event type, sorted. The slice is the caller's
// to keep or change.
func Types() []Type {
	return slices.Clone(sortedTypes)
}

// DataType returns the Go type of t's data struct (OrderPaidData for
// OrderPaid, MemberSegmentChangedData for the internal
// MemberSegmentChanged), or nil when t is not a known type. Journey
// conditions are type-checked against it.
func DataType(t Type) reflect.Type {
	mk, ok := dataConstructor(t)
	if !ok {
		return nil
	}
	return reflect.TypeOf(mk()).Elem()
}

// ParseType returns s as a Type, or an error listing the known types when s
// is not one of them.
func ParseType(s string) (Type, error) {
	t := Type(s)
	if _, ok := newData[t]; !ok {
		return "", fmt.Errorf("events: unknown event type %q: must be one of: %s", s, typeList())
	}
	return t, nil
}

// typeList is the known types joined for messages.
func typeList() string {
	names := make([]string, len(sortedTypes))
	for i, t := range sortedTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}
