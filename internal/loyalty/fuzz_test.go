package loyalty_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
	"github.com/memberflow/memberflow/templates"
)

// FuzzLoadProgram checks LoadProgram on any file: it either refuses it with
// a *ProgramError listing problems, or returns a programme whose every
// promise holds, so no rule has to re-check the numbers it reads.
func FuzzLoadProgram(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := loyalty.LoadProgram(src)
		if err != nil {
			var pe *loyalty.ProgramError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("error %v is not a *ProgramError with problems", err)
			}
			for i, pr := range pe.Problems {
				if strings.TrimSpace(pr) == "" {
					t.Fatalf("problem %d is empty", i)
				}
			}
			if p != nil {
				t.Fatal("LoadProgram returned a programme with its error")
			}
			return
		}
		for _, problem := range programProblems(p) {
			t.Error(problem)
		}
	})
}

// programProblems lists every way p breaks what LoadProgram promises.
func programProblems(p *loyalty.Program) []string {
	var ps []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			ps = append(ps, fmt.Sprintf(format, args...))
		}
	}
	one := decimal.NewFromInt(1)
	positive := func(name string, d decimal.Decimal) { check(d.IsPositive(), "%s = %s, want > 0", name, d) }
	nonNegative := func(name string, d decimal.Decimal) { check(!d.IsNegative(), "%s = %s, want >= 0", name, d) }
	share := func(name string, d decimal.Decimal) {
		check(d.IsPositive() && d.LessThanOrEqual(one), "%s = %s, want a share in (0, 1]", name, d)
	}

	check(isUpperASCII(p.Currency, 3), "currency %q is not three letters A-Z", p.Currency)
	check(p.Location != nil, "time zone is nil")

	g := p.Growth
	positive("growth.per_currency_unit", g.PerCurrencyUnit)
	check(g.WindowDays >= 1, "growth.window_days = %d", g.WindowDays)
	check(g.InteractionMaxShare.IsPositive() && g.InteractionMaxShare.LessThan(one), "growth.interaction_max_share = %s, want (0, 1)", g.InteractionMaxShare)
	for name, in := range map[string]loyalty.Interaction{"check_in": g.CheckIn, "review": g.Review, "share": g.Share} {
		positive("growth.interactions."+name+".value", in.Value)
		check(in.PerDay >= 0 && in.PerMonth >= 0, "growth.interactions.%s caps %d/%d are negative", name, in.PerDay, in.PerMonth)
	}

	check(len(p.Tiers) > 0, "no tiers")
	codes := map[string]bool{}
	for i, tier := range p.Tiers {
		check(tier.Code != "" && !codes[tier.Code], "tiers[%d].code %q is empty or repeated", i, tier.Code)
		codes[tier.Code] = true
		positive(fmt.Sprintf("tiers[%d].birthday_multiplier", i), tier.BirthdayMultiplier)
		if i == 0 {
			check(tier.Threshold.IsZero(), "the first tier's threshold is %s, want 0", tier.Threshold)
		} else {
			check(tier.Threshold.GreaterThan(p.Tiers[i-1].Threshold), "tiers[%d].threshold %s is not above the previous %s", i, tier.Threshold, p.Tiers[i-1].Threshold)
		}
		if got := p.EarnedTier(tier.Threshold); got != tier.Code {
			check(false, "EarnedTier(%s) = %s, want %s", tier.Threshold, got, tier.Code)
		}
	}

	pt := p.Points
	positive("points.per_amount", pt.PerAmount)
	check(pt.PendingDays >= 0 && pt.ExpiryMonths >= 1 && pt.RedeemMin >= 0, "points days/months/min out of range: %+v", pt)
	check(pt.MemberDay >= 0 && pt.MemberDay <= 28, "points.member_day = %d", pt.MemberDay)
	positive("points.member_day.multiplier", pt.MemberDayMultiplier)
	share("points.redemption.max_share", pt.RedeemMaxShare)
	positive("points.redemption.point_value", pt.PointValue)

	kinds := map[string]bool{}
	for i, c := range p.Coupons {
		check(c.Code != "" && len(c.Code) <= 12 && isUpperAlnum(c.Code) && !kinds[c.Code], "coupons[%d].code %q", i, c.Code)
		kinds[c.Code] = true
		nonNegative(fmt.Sprintf("coupons[%d].threshold", i), c.Threshold)
		positive(fmt.Sprintf("coupons[%d].discount", i), c.Discount)
		check(c.ValidDays >= 1 && c.PerMemberLimit >= 0 && c.GlobalLimit >= 0, "coupons[%d] days/limits %+v", i, c)
		if got, ok := p.Coupon(c.Code); !ok || got.Code != c.Code {
			check(false, "Coupon(%q) does not find it", c.Code)
		}
	}

	check(p.StoredValue.Badge != "", "stored_value.badge is empty")
	for i, b := range p.StoredValue.Bonus {
		positive(fmt.Sprintf("stored_value.bonus[%d].min", i), b.Min)
		positive(fmt.Sprintf("stored_value.bonus[%d].bonus", i), b.Bonus)
		if i > 0 {
			check(b.Min.GreaterThan(p.StoredValue.Bonus[i-1].Min), "stored_value.bonus[%d].min is not ascending", i)
		}
	}

	pd := p.Paid
	check(pd.Plan != "", "paid.plan is empty")
	positive("paid.price", pd.Price)
	nonNegative("paid.trial.price", pd.TrialPrice)
	positive("paid.points_multiplier", pd.PointsMultiplier)
	check(pd.PeriodMonths >= 1 && pd.TrialDays >= 1, "paid period/trial %d/%d", pd.PeriodMonths, pd.TrialDays)
	check(pd.TierFloor == "" || codes[pd.TierFloor], "paid.tier_floor %q is not a tier", pd.TierFloor)

	r := p.Referral
	check(r.ReferrerPoints >= 0 && r.MonthlyCap >= 0, "referral numbers %+v", r)
	nonNegative("referral.referrer_growth", r.ReferrerGrowth)
	check(r.RefereeCoupon == "" || kinds[r.RefereeCoupon], "referral.referee_coupon %q is not a coupon", r.RefereeCoupon)
	check(p.Birthday.Coupon == "" || kinds[p.Birthday.Coupon], "birthday.coupon %q is not a coupon", p.Birthday.Coupon)
	check(p.Birthday.MinDaysSinceSet >= 0, "birthday.min_days_since_set = %d", p.Birthday.MinDaysSinceSet)

	check(!p.Holdout.IsNegative() && p.Holdout.LessThanOrEqual(decimal.NewFromInt(loyalty.MaxHoldout)), "holdout = %s%%, want 0%% to %d%%", p.Holdout, loyalty.MaxHoldout)
	check(p.RFM.WindowDays >= 1, "rfm.window_days = %d", p.RFM.WindowDays)
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			for m := 1; m <= 5; m++ {
				check(p.RFM.Segment(r, f, m) != "", "rfm: scores %d %d %d have no segment", r, f, m)
			}
		}
	}
	return ps
}

func isUpperASCII(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range []byte(s) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func isUpperAlnum(s string) bool {
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzLoadProgram equal to the programme
// files the tests load: templates/program.yaml and each edit
// TestLoadProgramNamesTheKey makes to it. go test ./internal/loyalty -run
// TestFuzzSeeds -update-seeds rewrites it.
func TestFuzzSeeds(t *testing.T) {
	base := string(templates.Program)
	// The same file without its comments: a shorter seed gets more of
	// the fuzzer's mutations onto the values.
	var bare []string
	for _, l := range strings.Split(base, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			bare = append(bare, l)
		}
	}
	seeds := []fuzzseed.Seed{
		fuzzseed.New("program-yaml", []byte(base)),
		fuzzseed.New("program-yaml-without-comments", []byte(strings.Join(bare, "\n")+"\n")),
	}
	for _, e := range []struct{ name, from, to string }{
		{"unknown-key", "pending_days: 7", "pending_dayz: 7"},
		{"not-a-decimal", `per_amount: "100"`, `per_amount: "a hundred"`},
		{"float-looking-but-fine", `per_amount: "100"`, `per_amount: 100`},
		{"tiers-out-of-order", `{ code: V3, name: 金卡, threshold: "500"`, `{ code: V3, name: 金卡, threshold: "100"`},
		{"duplicate-tier", "code: V4", "code: V3"},
		{"bad-time-zone", "time_zone: Asia/Shanghai", "time_zone: Mars/Olympus"},
		{"missing-value", `per_amount: "100"`, ""},
		{"share-above-1", `max_share: "0.2"`, `max_share: "1.5"`},
		{"floor-tier-unknown", "tier_floor: V3", "tier_floor: V9"},
		{"referee-coupon-unknown", "referee_coupon: FREE25", "referee_coupon: FREE99"},
		{"member-day-31", "day_of_month: 8", "day_of_month: 31"},
		{"bad-coupon-code", "code: NEW8", "code: new8"},
		{"negative-limit", "per_member_limit: 1 }", "per_member_limit: -1 }"},
		{"currency-with-a-digit", "currency: CNY", "currency: C1Y"},
		{"currency-of-symbols", "currency: CNY", `currency: "$$$"`},
		{"holdout-above-50", "holdout: 0%", "holdout: 60%"},
		{"holdout-without-percent", "holdout: 0%", "holdout: 2"},
	} {
		src := strings.Replace(base, e.from, e.to, 1)
		if src == base {
			t.Fatalf("%q not found in program.yaml", e.from)
		}
		seeds = append(seeds, fuzzseed.New(e.name, []byte(src)))
	}
	fuzzseed.Check(t, "FuzzLoadProgram", seeds)
}
