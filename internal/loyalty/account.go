package loyalty

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Account is one member's standing in the programme: tier, growth, point
// lots, coupons, stored value and paid membership. It changes only through
// Rules (Apply, Advance, Adjust, IssueCoupon, GrantBoost, ReferralReward),
// each change producing the ledger entries that explain it; the persisted
// balances always equal the sum of the member's entries.
type Account struct {
	MemberID string `json:"member_id"`
	// Version increases by one with every persisted change; stores use it
	// for optimistic concurrency.
	Version int64 `json:"version"`
	// Seq is the number of ledger entries written so far; entry n has Seq n.
	Seq int64 `json:"seq"`

	Tier      string    `json:"tier"`
	TierSince time.Time `json:"tier_since,omitzero"`
	ReviewAt  time.Time `json:"review_at,omitzero"` // zero for the lowest tier
	// DayTier is the effective tier at the start of DayTierDay (programme
	// time zone): the tier "before the order" for points multipliers, so the
	// order in which one day's events arrive does not change what they earn.
	DayTier    string `json:"day_tier,omitempty"`
	DayTierDay string `json:"day_tier_day,omitempty"`

	Growth  []GrowthRecord `json:"growth,omitempty"`
	Lots    []Lot          `json:"lots,omitempty"`
	Coupons []Coupon       `json:"coupons,omitempty"`
	// CouponsIssued counts coupons ever issued per kind (per-member limits).
	CouponsIssued map[string]int `json:"coupons_issued,omitempty"`
	// Boosts are points multipliers granted for a while (a win-back's
	// "double points for 14 days"). They are kept for a year after they
	// end so that granting again under the same key is still recognised.
	Boosts []Boost `json:"boosts,omitempty"`

	Principal decimal.Decimal `json:"principal"`
	Bonus     decimal.Decimal `json:"bonus"`
	// Shortfall is points that should have been taken back (refunds, spends
	// beyond the balance) but could not be, because balances never go
	// below zero.
	Shortfall int64 `json:"shortfall,omitempty"`

	Paid      *Paid `json:"paid,omitempty"`
	TrialUsed bool  `json:"trial_used,omitempty"`

	Orders      []OrderRecord `json:"orders,omitempty"`
	HeldRefunds []HeldRefund  `json:"held_refunds,omitempty"`

	ReferralCode    string         `json:"referral_code,omitempty"` // the member's own code
	ReferredBy      string         `json:"referred_by,omitempty"`
	FirstOrder      string         `json:"first_order,omitempty"`
	ReferralSettled bool           `json:"referral_settled,omitempty"`
	ReferralRewards map[string]int `json:"referral_rewards,omitempty"` // as referrer, by month YYYY-MM

	BirthdayYears []int    `json:"birthday_years,omitempty"` // years whose birthday gift was decided
	Badges        []string `json:"badges,omitempty"`

	// Due is the day (YYYY-MM-DD) the account was last indexed as next
	// changing by time alone; the ledger service keeps it in step with the
	// store's sweep index.
	Due string `json:"due,omitempty"`

	// Through and ThroughCause are the causal position the account
	// reflects: the latest input (by time, then cause) applied to it, or
	// the moment time was last advanced to. An input that sorts before it
	// arrived late (stream records of different items carry no order), and
	// the ledger recomputes the account in causal order instead of
	// applying the input on top (see Replay).
	Through      time.Time `json:"through,omitzero"`
	ThroughCause string    `json:"through_cause,omitempty"`
	// Journaled says every input of this account is in the ledger's
	// journal, so it can be recomputed from nothing. Accounts created
	// before the journal existed lack it and are only ever applied to.
	Journaled bool `json:"journaled,omitempty"`
}

// InOrder reports whether an input at at with cause sorts after everything
// the account reflects, so applying it on top gives what causal order
// gives.
func (a Account) InOrder(at time.Time, cause string) bool {
	return at.After(a.Through) || (at.Equal(a.Through) && cause > a.ThroughCause)
}

// reached moves the causal position forward to (at, cause); it never moves
// back.
func (a *Account) reached(at time.Time, cause string) {
	switch {
	case at.After(a.Through):
		a.Through, a.ThroughCause = at, cause
	case at.Equal(a.Through) && cause > a.ThroughCause:
		a.ThroughCause = cause
	}
}

// GrowthKind separates growth that counts in full from interaction growth,
// which is capped to a share of the total.
type GrowthKind string

// Growth kinds.
const (
	GrowthSpend       GrowthKind = "spend"       // money paid
	GrowthInteraction GrowthKind = "interaction" // check-ins, reviews, shares
	GrowthReward      GrowthKind = "reward"      // referral rewards, adjustments
)

// GrowthRecord is growth earned (or taken back, when negative) at a time.
// A refund's reversal carries the order's time, so it leaves the rolling
// window together with the growth it cancels.
type GrowthRecord struct {
	Key    string          `json:"key"`
	At     time.Time       `json:"at"`
	Kind   GrowthKind      `json:"kind"`
	Source string          `json:"source"` // order, check_in, review, share, referral, adjustment
	Amount decimal.Decimal `json:"amount"`
}

// Lot is one earn of points: pending until ReleaseAt, then available until
// ExpiresAt. Points is what is left of it.
type Lot struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Earned    int64     `json:"earned"`
	Points    int64     `json:"points"`
	ReleaseAt time.Time `json:"release_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Released  bool      `json:"released,omitempty"`
	Expired   bool      `json:"expired,omitempty"`
}

// Coupon is one issued coupon.
type Coupon struct {
	Code      string    `json:"code"`
	Kind      string    `json:"kind"`
	Key       string    `json:"key"` // idempotency key it was issued under
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	OrderID   string    `json:"order_id,omitempty"`
}

// Used reports whether the coupon was redeemed.
func (c Coupon) Used() bool { return !c.UsedAt.IsZero() }

// Boost is a points multiplier granted to one member from From until (not
// including) Until. It competes with the programme's multipliers: an order
// earns at the highest one that applies; they never stack.
type Boost struct {
	Key        string          `json:"key"` // idempotency key it was granted under
	Multiplier decimal.Decimal `json:"multiplier"`
	From       time.Time       `json:"from"`
	Until      time.Time       `json:"until"`
}

// ActiveAt reports whether the boost applies to an order at t.
func (b Boost) ActiveAt(t time.Time) bool { return !t.Before(b.From) && t.Before(b.Until) }

// PaidStatus is where a paid membership is.
type PaidStatus string

// Paid membership statuses. A cancelled membership keeps its benefits until
// EndsAt; a lapsed one has none.
const (
	PaidTrial     PaidStatus = "trial"
	PaidActive    PaidStatus = "active"
	PaidCancelled PaidStatus = "cancelled"
	PaidLapsed    PaidStatus = "lapsed"
)

// Paid is the member's paid membership (SVIP).
type Paid struct {
	Plan           string     `json:"plan"`
	SubscriptionID string     `json:"subscription_id"`
	Status         PaidStatus `json:"status"`
	Trial          bool       `json:"trial"`
	StartedAt      time.Time  `json:"started_at"`
	EndsAt         time.Time  `json:"ends_at"`
}

// ActiveAt reports whether the membership gives its benefits at t.
func (p *Paid) ActiveAt(t time.Time) bool {
	return p != nil && p.Status != PaidLapsed && !t.Before(p.StartedAt) && t.Before(p.EndsAt)
}

// OrderRecord is what a paid order earned, kept so refunds can take back
// exactly that.
type OrderRecord struct {
	OrderID     string          `json:"order_id"`
	EventID     string          `json:"event_id"`
	At          time.Time       `json:"at"`
	Amount      decimal.Decimal `json:"amount"`
	Base        decimal.Decimal `json:"base"` // card + stored-value principal
	Multiplier  decimal.Decimal `json:"multiplier"`
	Points      int64           `json:"points"`
	Lot         string          `json:"lot,omitempty"`
	SVPrincipal decimal.Decimal `json:"sv_principal"` // drawn from the wallet
	Lines       []LineAmount    `json:"lines,omitempty"`
	// Boost is the key of the boost that set the order's multiplier (""
	// when the programme's own did) and BoostPoints the points it added
	// beyond the programme's: what the boost cost on this order.
	Boost       string `json:"boost,omitempty"`
	BoostPoints int64  `json:"boost_points,omitempty"`

	Refunded       decimal.Decimal `json:"refunded"`
	RefundedLines  []LineAmount    `json:"refunded_lines,omitempty"`
	PointsReversed int64           `json:"points_reversed,omitempty"`
	GrowthReversed decimal.Decimal `json:"growth_reversed"`
	SVReturned     decimal.Decimal `json:"sv_returned"`
	RefundIDs      []string        `json:"refund_ids,omitempty"`
	// Refunds are the refunds applied to the order, in the order applied
	// (accounts from before they were kept have RefundIDs only): what a
	// journey's lift counts when it learns of the order late.
	Refunds []RefundRecord `json:"refunds,omitempty"`
}

// RefundRecord is one refund applied to an order: its id, its moment and
// the amount refunded.
type RefundRecord struct {
	RefundID string          `json:"refund_id"`
	At       time.Time       `json:"at"`
	Amount   decimal.Decimal `json:"amount"`
}

// LineAmount is a line total by SKU.
type LineAmount struct {
	SKU    string          `json:"sku"`
	Amount decimal.Decimal `json:"amount"`
}

// HeldRefund is a refund that arrived before its order; it is applied when
// the order arrives, so events of one day may come in any order.
type HeldRefund struct {
	EventID  string          `json:"event_id"`
	At       time.Time       `json:"at"`
	OrderID  string          `json:"order_id"`
	RefundID string          `json:"refund_id"`
	Amount   decimal.Decimal `json:"amount"`
	Lines    []LineAmount    `json:"lines,omitempty"`
}

// Entry is one append-only ledger line: what changed, by how much, and why.
// Key is its idempotency key, derived from the cause (event id, adjustment
// key, lot) and the rule, so the same cause can never count twice.
type Entry struct {
	Seq       int64           `json:"seq"`
	Key       string          `json:"key"`
	MemberID  string          `json:"member_id"`
	At        time.Time       `json:"at"`
	Rule      string          `json:"rule"`
	Reason    string          `json:"reason"`
	EventID   string          `json:"event_id,omitempty"`
	Actor     string          `json:"actor,omitempty"`
	Pending   int64           `json:"points_pending,omitempty"`
	Available int64           `json:"points_available,omitempty"`
	Shortfall int64           `json:"points_shortfall,omitempty"`
	Principal decimal.Decimal `json:"stored_value_principal"`
	Bonus     decimal.Decimal `json:"stored_value_bonus"`
	Growth    decimal.Decimal `json:"growth"`
	Tier      string          `json:"tier,omitempty"` // the tier after a tier change
	Lots      []LotMove       `json:"lots,omitempty"`
	Coupon    *CouponMove     `json:"coupon,omitempty"`
}

// LotMove is a change in a lot's outstanding points.
type LotMove struct {
	Lot        string `json:"lot"`
	ReleaseDay string `json:"release_day"` // YYYY-MM-DD, programme time zone
	Points     int64  `json:"points"`
}

// CouponMove is a coupon issued (+1) or used (-1).
type CouponMove struct {
	Code       string `json:"code"`
	Kind       string `json:"kind"`
	ExpiresDay string `json:"expires_day"` // first day it is no longer valid
	Delta      int    `json:"delta"`
}

// Claim takes a key that only one member may hold (a coupon code, a
// referral code, a person's trial). Stores refuse a claim held by another
// owner.
type Claim struct {
	Key   string `json:"key"`
	Owner string `json:"owner"`
}

// Counter is a global count that must stay at or below Limit (a coupon
// kind's global limit).
type Counter struct {
	Key   string `json:"key"`
	Limit int    `json:"limit"`
}

// Effect is a change due on another member's account, applied in the same
// transaction by the ledger service (the referrer's reward).
type Effect struct {
	MemberID string    `json:"member_id"`
	Cause    string    `json:"cause"`
	Referee  string    `json:"referee"`
	At       time.Time `json:"at"`
}

// Result is the outcome of one rule application.
type Result struct {
	Account  Account
	Entries  []Entry
	Claims   []Claim
	Counters []Counter
	Effects  []Effect
}

// PointsPending is the sum of lots still in their return window.
func (a *Account) PointsPending() int64 {
	var n int64
	for _, l := range a.Lots {
		if !l.Released && !l.Expired {
			n += l.Points
		}
	}
	return n
}

// PointsAvailable is the sum of released, unexpired lots.
func (a *Account) PointsAvailable() int64 {
	var n int64
	for _, l := range a.Lots {
		if l.Released && !l.Expired {
			n += l.Points
		}
	}
	return n
}

// Balances are the sums the store keeps beside the account and guards at
// zero.
type Balances struct {
	Pending   int64
	Available int64
	Principal decimal.Decimal
	Bonus     decimal.Decimal
}

// Balances returns the account's balances.
func (a *Account) Balances() Balances {
	return Balances{Pending: a.PointsPending(), Available: a.PointsAvailable(), Principal: a.Principal, Bonus: a.Bonus}
}

// SumEntries adds up entries' balance changes; for a member's complete
// ledger it equals Account.Balances.
func SumEntries(es []Entry) Balances {
	var b Balances
	for _, e := range es {
		b.Pending += e.Pending
		b.Available += e.Available
		b.Principal = b.Principal.Add(e.Principal)
		b.Bonus = b.Bonus.Add(e.Bonus)
	}
	return b
}

// Equal reports whether two balances are the same amounts.
func (b Balances) Equal(o Balances) bool {
	return b.Pending == o.Pending && b.Available == o.Available && b.Principal.Equal(o.Principal) && b.Bonus.Equal(o.Bonus)
}

// PersonKeys are hashes of what identifies a person across member ids
// (normalised email and phone). They detect trial abuse and self-referral
// without keeping the email or phone itself in another item.
func PersonKeys(m Member) []string {
	var keys []string
	if e := strings.ToLower(strings.TrimSpace(m.Email)); e != "" {
		keys = append(keys, "email:"+hash(e))
	}
	if p := strings.Map(keepPhone, m.Phone); p != "" {
		keys = append(keys, "phone:"+hash(p))
	}
	return keys
}

func keepPhone(r rune) rune {
	if r == '+' || (r >= '0' && r <= '9') {
		return r
	}
	return -1
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

func samePerson(a, b Member) bool {
	if a.ID == b.ID {
		return true
	}
	bk := PersonKeys(b)
	for _, k := range PersonKeys(a) {
		if slices.Contains(bk, k) {
			return true
		}
	}
	return false
}

// sortLotsForSpend orders lot indexes earliest-expiring first.
func (a *Account) spendOrder() []int {
	idx := make([]int, 0, len(a.Lots))
	for i, l := range a.Lots {
		if l.Released && !l.Expired && l.Points > 0 {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		return cmp.Or(a.Lots[x].ExpiresAt.Compare(a.Lots[y].ExpiresAt), cmp.Compare(a.Lots[x].ID, a.Lots[y].ID))
	})
	return idx
}
