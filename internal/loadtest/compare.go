package loadtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
)

// standing is what the twin comparison looks at in GET /v1/members/{id}:
// the programme fields, without what differs by member id by design
// (coupon codes, the referral code, coupon expiry, which follows the
// moment the welcome was sent).
type standing struct {
	Tier         string                  `json:"tier"`
	TierReviewOn *string                 `json:"tier_review_on"`
	Growth       loyalty.GrowthTotals    `json:"growth"`
	Points       loyalty.PointsView      `json:"points"`
	StoredValue  loyalty.StoredValueView `json:"stored_value"`
	Coupons      []loyalty.CouponView    `json:"coupons"`
}

// Mismatch is one field in which a member differs from its twin delivered
// in causal order (or, with Twin empty, a member whose stored balances are
// not the sum of its ledger entries).
type Mismatch struct {
	Member, Twin string
	Field        string
	Got, Want    string
}

// String reads "b-0003 vs a-0003: points.available 9, want 18".
func (m Mismatch) String() string {
	if m.Twin == "" {
		return fmt.Sprintf("%s: %s %s, want %s", m.Member, m.Field, m.Got, m.Want)
	}
	return fmt.Sprintf("%s vs %s: %s %s, want %s", m.Member, m.Twin, m.Field, m.Got, m.Want)
}

// fields flattens a standing into comparable strings. Decimals go through
// their canonical String so "300.00" and "300" are the same amount.
func (s standing) fields() map[string]string {
	opt := func(p *string) string {
		if p == nil {
			return "none"
		}
		return *p
	}
	expiring := "none"
	if e := s.Points.ExpiringNext; e != nil {
		expiring = fmt.Sprintf("%d at %s", e.Amount, e.At.UTC().Format(time.RFC3339))
	}
	var coupons []string
	for _, c := range s.Coupons {
		coupons = append(coupons, fmt.Sprintf("%s(used=%t)", c.Kind, c.Used))
	}
	slices.Sort(coupons)
	return map[string]string{
		"tier":                   s.Tier,
		"tier_review_on":         opt(s.TierReviewOn),
		"growth.spend":           s.Growth.Spend.String(),
		"growth.interaction":     s.Growth.Interaction.String(),
		"growth.reward":          s.Growth.Reward.String(),
		"growth.counted":         s.Growth.Counted.String(),
		"points.pending":         fmt.Sprint(s.Points.Pending),
		"points.available":       fmt.Sprint(s.Points.Available),
		"points.shortfall":       fmt.Sprint(s.Points.Shortfall),
		"points.expiring_next":   expiring,
		"coupons":                "[" + strings.Join(coupons, " ") + "]",
		"stored_value.currency":  s.StoredValue.Currency,
		"stored_value.principal": s.StoredValue.Principal.String(),
		"stored_value.bonus":     s.StoredValue.Bonus.String(),
	}
}

// compareTwins lists every field in which got (member) differs from want
// (twin), in a stable order.
func compareTwins(member, twin string, got, want standing) []Mismatch {
	g, w := got.fields(), want.fields()
	var out []Mismatch
	for _, k := range slices.Sorted(maps.Keys(w)) {
		if g[k] != w[k] {
			out = append(out, Mismatch{Member: member, Twin: twin, Field: k, Got: g[k], Want: w[k]})
		}
	}
	return out
}

// ledgerCheck reports a stored account whose balances are not the sum of
// its entries, and entry keys that occur more than once (a cause counted
// twice).
func ledgerCheck(member string, a loyalty.Account, es []loyalty.Entry) (mismatch []Mismatch, duplicateKeys []string) {
	if got, want := a.Balances(), loyalty.SumEntries(es); !got.Equal(want) {
		mismatch = append(mismatch, Mismatch{Member: member, Field: "balances (stored vs sum of entries)",
			Got: balancesString(got), Want: balancesString(want)})
	}
	seen := map[string]bool{}
	for _, e := range es {
		if seen[e.Key] {
			duplicateKeys = append(duplicateKeys, e.Key)
		}
		seen[e.Key] = true
	}
	return mismatch, duplicateKeys
}

func balancesString(b loyalty.Balances) string {
	return fmt.Sprintf("pending %d, available %d, principal %s, bonus %s", b.Pending, b.Available, b.Principal, b.Bonus)
}
