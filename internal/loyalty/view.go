package loyalty

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Adjustment is a manual grant (positive) or deduction (negative) made by
// an operator. Key makes it idempotent; Reason and Actor are kept in the
// entry for audit.
type Adjustment struct {
	Key   string `json:"key"`
	Actor string `json:"actor"`
	// Operator is who made the adjustment as they named themselves; Actor
	// adds which token acted. A key repeated with another operator,
	// reason or amount is another request, not a retry.
	Operator    string          `json:"operator,omitempty"`
	Reason      string          `json:"reason"`
	Points      int64           `json:"points,omitempty"`
	StoredValue decimal.Decimal `json:"stored_value"` // principal
	Growth      decimal.Decimal `json:"growth"`
	Coupon      string          `json:"coupon,omitempty"` // kind to grant
}

// Adjust applies a manual adjustment. It refuses (EInvalid) an adjustment
// without a reason or effect, a deduction larger than the balance, and an
// unknown coupon kind; nothing changes then.
func (r *Rules) Adjust(a Account, m Member, adj Adjustment, at time.Time) (Result, error) {
	return r.adjust(a, m, adj, at, false)
}

// SameRequest reports whether two adjustments under one key are the same
// request (a retry), whoever's token sent it.
func (adj Adjustment) SameRequest(o Adjustment) bool {
	return adj.Key == o.Key && adj.Operator == o.Operator && adj.Reason == o.Reason && adj.Points == o.Points &&
		adj.StoredValue.Equal(o.StoredValue) && adj.Growth.Equal(o.Growth) && adj.Coupon == o.Coupon
}

// adjust is Adjust; replaying, a deduction that was accepted when it was
// made takes what the recomputed balance holds (points beyond it become
// shortfall) rather than being refused, because an operator's action is
// never undone by a recomputation.
func (r *Rules) adjust(a Account, m Member, adj Adjustment, at time.Time, replay bool) (Result, error) {
	p := r.Program
	if strings.TrimSpace(adj.Reason) == "" {
		return Result{}, Errorf(EInvalid, "reason: is required for every adjustment (it is kept for audit)")
	}
	if adj.Points == 0 && adj.StoredValue.IsZero() && adj.Growth.IsZero() && adj.Coupon == "" {
		return Result{}, Errorf(EInvalid, "points, stored_value, growth or coupon: at least one must be given")
	}
	if adj.Coupon != "" {
		if _, ok := p.Coupon(adj.Coupon); !ok {
			return Result{}, Errorf(EInvalid, "coupon: must be one of the programme's coupon kinds, not %q", adj.Coupon)
		}
	}
	c := r.begin(a, m, at)
	c.advance(at)
	if adj.Points < 0 && -adj.Points > c.a.PointsAvailable() && !replay {
		return Result{}, Errorf(EInvalid, "points: cannot deduct %d, only %d are available", -adj.Points, c.a.PointsAvailable())
	}
	if adj.StoredValue.IsNegative() && adj.StoredValue.Neg().GreaterThan(c.a.Principal) {
		if !replay {
			return Result{}, Errorf(EInvalid, "stored_value: cannot deduct %s, the principal is %s", adj.StoredValue.Neg(), c.a.Principal)
		}
		adj.StoredValue = c.a.Principal.Neg()
	}
	base := Entry{EventID: "", Actor: adj.Actor}
	why := fmt.Sprintf("manual adjustment by %s: %s", adj.Actor, adj.Reason)
	if adj.Points > 0 {
		e := base
		e.Key, e.Rule, e.Reason, e.Available = adj.Key+"#adjust.points", "adjust.points", why, adj.Points
		e.Lots = []LotMove{c.addLot(adj.Key+"#adjust.points", "adjustment", adj.Points, at, true)}
		c.entry(e)
	} else if adj.Points < 0 {
		moves, taken, missing := c.spend(-adj.Points)
		c.a.Shortfall += missing
		e := base
		e.Key, e.Rule, e.Reason, e.Available, e.Shortfall, e.Lots = adj.Key+"#adjust.points", "adjust.points", why, -taken, missing, moves
		c.entry(e)
	}
	if !adj.StoredValue.IsZero() {
		c.a.Principal = c.a.Principal.Add(adj.StoredValue)
		e := base
		e.Key, e.Rule, e.Reason, e.Principal = adj.Key+"#adjust.stored_value", "adjust.stored_value", why, adj.StoredValue
		c.entry(e)
	}
	if !adj.Growth.IsZero() {
		c.addGrowth(adj.Key+"#adjust.growth", at, GrowthReward, "adjustment", adj.Growth)
		e := base
		e.Key, e.Rule, e.Reason, e.Growth = adj.Key+"#adjust.growth", "adjust.growth", why, adj.Growth
		c.entry(e)
		if adj.Growth.IsPositive() {
			c.upgrade(adj.Key)
		} else {
			c.demoteAfterRefund(adj.Key)
		}
	}
	if adj.Coupon != "" {
		c.issueCoupon(adj.Key, adj.Coupon, "adjust.coupon", why, nil)
	}
	for i := range c.res.Entries {
		c.res.Entries[i].Actor = adj.Actor
	}
	c.prune()
	return c.done(), nil
}

// View is a member's standing as of a time, as the API shows it.
type View struct {
	Tier         string  `json:"tier"`
	TierName     string  `json:"tier_name"`
	TierReviewOn *string `json:"tier_review_on"` // YYYY-MM-DD; null for the lowest tier
	// TierBirthdayMultiplier is the points multiplier of the tier the
	// member enjoys in their birthday month.
	TierBirthdayMultiplier decimal.Decimal `json:"tier_birthday_multiplier"`
	// NextTier is the tier above the member's own, with the counted
	// growth still needed to reach it; null at the top.
	NextTier *NextTierView `json:"next_tier"`
	// TierOutlook is what the next tier review would do if the member
	// earned nothing more (tier-expiry warnings read it).
	TierOutlook OutlookView     `json:"tier_outlook"`
	Growth      GrowthTotals    `json:"growth"`
	Points      PointsView      `json:"points"`
	StoredValue StoredValueView `json:"stored_value"`
	Coupons     []CouponView    `json:"coupons"`
	Boosts      []BoostView     `json:"boosts"` // active now
	Paid        *PaidView       `json:"paid"`
	Badges      []string        `json:"badges"`
	Referral    ReferralView    `json:"referral"`
}

// NextTierView is the tier above the member's and how far it is.
type NextTierView struct {
	Code         string          `json:"code"`
	Name         string          `json:"name"`
	Threshold    decimal.Decimal `json:"threshold"`
	GrowthNeeded decimal.Decimal `json:"growth_needed"`
}

// OutlookView is Outlook as the member document shows it, with tier names
// and the review day in the programme's calendar.
type OutlookView struct {
	Tier         string          `json:"tier"`
	TierName     string          `json:"tier_name"`
	ReviewOn     string          `json:"review_on,omitempty"` // YYYY-MM-DD; "" without a review
	Demote       bool            `json:"demote"`
	FallTo       string          `json:"fall_to,omitempty"`
	FallToName   string          `json:"fall_to_name,omitempty"`
	GrowthNeeded decimal.Decimal `json:"growth_needed"`
	HeldByPaid   bool            `json:"held_by_paid"`
}

// ReferralView is the member's own referral code and who referred them.
type ReferralView struct {
	Code       string `json:"code"`
	ReferredBy string `json:"referred_by,omitempty"`
}

// PointsView is the points balance.
type PointsView struct {
	Pending      int64         `json:"pending"`
	Available    int64         `json:"available"`
	Shortfall    int64         `json:"shortfall,omitempty"`
	ExpiringNext *ExpiringView `json:"expiring_next"`
}

// ExpiringView is the next batch of points to expire.
type ExpiringView struct {
	Amount int64     `json:"amount"`
	At     time.Time `json:"at"`
}

// StoredValueView is the wallet.
type StoredValueView struct {
	Currency  string          `json:"currency"`
	Principal decimal.Decimal `json:"principal"`
	Bonus     decimal.Decimal `json:"bonus"`
}

// CouponView is one coupon.
type CouponView struct {
	Code      string    `json:"code"`
	Kind      string    `json:"kind"`
	ExpiresAt time.Time `json:"expires_at"`
	Used      bool      `json:"used"`
}

// BoostView is a points multiplier the member has now.
type BoostView struct {
	Multiplier decimal.Decimal `json:"multiplier"`
	Until      time.Time       `json:"until"`
}

// PaidView is the paid membership.
type PaidView struct {
	Plan           string     `json:"plan"`
	SubscriptionID string     `json:"subscription_id"`
	Status         PaidStatus `json:"status"`
	Trial          bool       `json:"trial"`
	StartedAt      time.Time  `json:"started_at"`
	EndsAt         time.Time  `json:"ends_at"`
}

// View shows the account as of now: everything due by now is applied
// first (without persisting), so a read never shows a stale balance because
// the sweep has not run yet.
func (r *Rules) View(a Account, m Member, now time.Time) View {
	p := r.Program
	a = r.Advance(a, m, now).Account
	tier := r.EffectiveTier(a, now)
	v := View{
		Tier: tier, TierName: mustTier(p, tier).Name,
		Growth:      r.Growth(a, now),
		Points:      PointsView{Pending: a.PointsPending(), Available: a.PointsAvailable(), Shortfall: a.Shortfall},
		StoredValue: StoredValueView{Currency: p.Currency, Principal: a.Principal, Bonus: a.Bonus},
		Coupons:     []CouponView{},
		Boosts:      []BoostView{},
		Badges:      slices.Clone(a.Badges),
		Referral:    ReferralView{Code: a.ReferralCode, ReferredBy: a.ReferredBy},
	}
	if v.Badges == nil {
		v.Badges = []string{}
	}
	if !a.ReviewAt.IsZero() {
		d := p.Day(a.ReviewAt)
		v.TierReviewOn = &d
	}
	v.TierBirthdayMultiplier = mustTier(p, tier).BirthdayMultiplier
	if i := p.tierIndex(a.Tier); i+1 < len(p.Tiers) {
		next := p.Tiers[i+1]
		v.NextTier = &NextTierView{Code: next.Code, Name: next.Name, Threshold: next.Threshold,
			GrowthNeeded: decimal.Max(decimal.Zero, next.Threshold.Sub(v.Growth.Counted))}
	}
	o := r.ReviewOutlook(a, m, now)
	v.TierOutlook = OutlookView{Tier: o.Tier, TierName: mustTier(p, o.Tier).Name, Demote: o.Demote, FallTo: o.FallTo,
		GrowthNeeded: o.GrowthNeeded, HeldByPaid: o.HeldByPaid}
	if !o.ReviewAt.IsZero() {
		v.TierOutlook.ReviewOn = p.Day(o.ReviewAt)
	}
	if o.FallTo != "" {
		v.TierOutlook.FallToName = mustTier(p, o.FallTo).Name
	}
	for _, l := range a.Lots {
		if !l.Released || l.Expired || l.Points == 0 {
			continue
		}
		switch {
		case v.Points.ExpiringNext == nil || l.ExpiresAt.Before(v.Points.ExpiringNext.At):
			v.Points.ExpiringNext = &ExpiringView{Amount: l.Points, At: l.ExpiresAt}
		case l.ExpiresAt.Equal(v.Points.ExpiringNext.At):
			v.Points.ExpiringNext.Amount += l.Points
		}
	}
	for _, c := range a.Coupons {
		if !c.Used() && !now.Before(c.ExpiresAt) {
			continue // expired and never used: no longer the member's
		}
		v.Coupons = append(v.Coupons, CouponView{Code: c.Code, Kind: c.Kind, ExpiresAt: c.ExpiresAt, Used: c.Used()})
	}
	for _, b := range a.Boosts {
		if b.ActiveAt(now) {
			v.Boosts = append(v.Boosts, BoostView{Multiplier: b.Multiplier, Until: b.Until})
		}
	}
	if a.Paid != nil {
		v.Paid = &PaidView{Plan: a.Paid.Plan, SubscriptionID: a.Paid.SubscriptionID, Status: a.Paid.Status, Trial: a.Paid.Trial,
			StartedAt: a.Paid.StartedAt, EndsAt: a.Paid.EndsAt}
	}
	return v
}

// Liability counter keys. Points are counted per release day and coupons
// per kind and expiry day, so the report can tell pending from available
// from expired as of any moment without touching member accounts.
const (
	liabPoints    = "points#"
	liabCoupon    = "coupon#"
	liabPrincipal = "sv#principal"
	liabBonus     = "sv#bonus"
)

// LiabilityDeltas is what a set of entries adds to the liability counters.
func LiabilityDeltas(es []Entry) map[string]decimal.Decimal {
	out := map[string]decimal.Decimal{}
	add := func(k string, d decimal.Decimal) {
		if !d.IsZero() {
			out[k] = out[k].Add(d)
		}
	}
	for _, e := range es {
		for _, l := range e.Lots {
			add(liabPoints+l.ReleaseDay, decimal.NewFromInt(l.Points))
		}
		if e.Coupon != nil {
			add(liabCoupon+e.Coupon.Kind+"#"+e.Coupon.ExpiresDay, decimal.NewFromInt(int64(e.Coupon.Delta)))
		}
		add(liabPrincipal, e.Principal)
		add(liabBonus, e.Bonus)
	}
	for k, v := range out {
		if v.IsZero() {
			delete(out, k)
		}
	}
	return out
}

// Liability is what the programme owes its members as of a moment.
type Liability struct {
	AsOf        time.Time          `json:"as_of"`
	Currency    string             `json:"currency"`
	Points      PointsLiability    `json:"points"`
	StoredValue StoredValueView    `json:"stored_value"`
	Coupons     []CouponsLiability `json:"coupons"`
}

// PointsLiability is outstanding points and their value in money.
type PointsLiability struct {
	Pending   int64           `json:"pending"`
	Available int64           `json:"available"`
	Value     decimal.Decimal `json:"value"` // (pending + available) × point value
}

// CouponsLiability is unused, unexpired coupons of one kind.
type CouponsLiability struct {
	Kind     string          `json:"kind"`
	Unused   int64           `json:"unused"`
	Discount decimal.Decimal `json:"discount_value"` // unused × discount
}

// LiabilityAt turns summed counters into the report as of now.
func (p *Program) LiabilityAt(counters map[string]decimal.Decimal, now time.Time) Liability {
	l := Liability{AsOf: now, Currency: p.Currency, Coupons: []CouponsLiability{},
		StoredValue: StoredValueView{Currency: p.Currency, Principal: counters[liabPrincipal], Bonus: counters[liabBonus]}}
	unused := map[string]int64{}
	for k, v := range counters {
		switch {
		case strings.HasPrefix(k, liabPoints):
			day := strings.TrimPrefix(k, liabPoints)
			release, err := time.ParseInLocation(time.DateOnly, day, p.Location)
			if err != nil {
				continue
			}
			switch {
			case now.Before(release):
				l.Points.Pending += v.IntPart()
			case now.Before(p.expiresAt(release)):
				l.Points.Available += v.IntPart()
			}
		case strings.HasPrefix(k, liabCoupon):
			kind, day, ok := strings.Cut(strings.TrimPrefix(k, liabCoupon), "#")
			exp, err := time.ParseInLocation(time.DateOnly, day, p.Location)
			if ok && err == nil && now.Before(exp) {
				unused[kind] += v.IntPart()
			}
		}
	}
	l.Points.Value = decimal.NewFromInt(l.Points.Pending + l.Points.Available).Mul(p.Points.PointValue)
	for _, ck := range p.Coupons {
		n := unused[ck.Code]
		l.Coupons = append(l.Coupons, CouponsLiability{Kind: ck.Code, Unused: n, Discount: ck.Discount.Mul(decimal.NewFromInt(n))})
	}
	return l
}
