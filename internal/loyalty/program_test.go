package loyalty_test

import (
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/templates"
)

func TestDefaultProgram(t *testing.T) {
	p, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		t.Fatal(err)
	}
	if p.Currency != "CNY" || p.Location.String() != "Asia/Shanghai" || len(p.Tiers) != 4 || len(p.Coupons) != 3 {
		t.Errorf("program = %+v", p)
	}
	for code, threshold := range map[string]string{"V1": "0", "V2": "150", "V3": "500", "V4": "1000"} {
		if tier, ok := p.Tier(code); !ok || !tier.Threshold.Equal(dec(threshold)) {
			t.Errorf("tier %s = %+v", code, tier)
		}
	}
	if c, _ := p.Coupon("FREE25"); !c.Threshold.IsZero() || !c.Discount.Equal(dec("25")) || c.ValidDays != 7 {
		t.Errorf("FREE25 = %+v", c)
	}
}

func TestLoadProgramNamesTheKey(t *testing.T) {
	base := string(templates.Program)
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"unknown key", "pending_days: 7", "pending_dayz: 7", "pending_dayz"},
		{"not a decimal", `per_amount: "100"`, `per_amount: "a hundred"`, "a hundred"},
		{"float-looking but fine", `per_amount: "100"`, `per_amount: 100`, ""},
		{"tiers out of order", `{ code: V3, name: 金卡, threshold: "500"`, `{ code: V3, name: 金卡, threshold: "100"`, "tiers[2].threshold: must be above the previous tier's"},
		{"duplicate tier", "code: V4", "code: V3", "tiers[3].code: must be unique"},
		{"bad time zone", "time_zone: Asia/Shanghai", "time_zone: Mars/Olympus", "time_zone:"},
		{"missing value", `per_amount: "100"`, "", "points.per_amount: is required"},
		{"share above 1", `max_share: "0.2"`, `max_share: "1.5"`, "points.redemption.max_share"},
		{"floor tier unknown", "tier_floor: V3", "tier_floor: V9", "paid.tier_floor"},
		{"referee coupon unknown", "referee_coupon: FREE25", "referee_coupon: FREE99", "referral.referee_coupon"},
		{"member day 31", "day_of_month: 8", "day_of_month: 31", "points.member_day.day_of_month"},
		{"bad coupon code", "code: NEW8", "code: new8", "coupons[0].code"},
		{"negative limit", "per_member_limit: 1 }", "per_member_limit: -1 }", "coupons[0].per_member_limit"},
		{"currency with a digit", "currency: CNY", "currency: C1Y", "currency: must be a three-letter"},
		{"currency of symbols", "currency: CNY", `currency: "$$$"`, "currency: must be a three-letter"},
		{"holdout above 50%", "holdout: 0%", "holdout: 60%", `holdout: must be a share from 0% to 50% written like "2%", not "60%"`},
		{"holdout without %", "holdout: 0%", "holdout: 2", `holdout: must be a share from 0% to 50%`},
		{"holdout negative", "holdout: 0%", "holdout: -1%", `holdout: must be a share from 0% to 50%`},
		{"holdout 2.5%", "holdout: 0%", "holdout: 2.5%", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.from, tc.to, 1)
			if src == base && tc.from != tc.to {
				t.Fatalf("%q not found in program.yaml", tc.from)
			}
			_, err := loyalty.LoadProgram([]byte(src))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
