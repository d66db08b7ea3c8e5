package loyalty

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// Program is a membership programme: the numbers every loyalty rule reads.
// It is data (templates/program.yaml), loaded and validated by LoadProgram;
// the zero value is not usable.
type Program struct {
	Currency    string
	Location    *time.Location // programme time zone: days, months, member day
	Growth      GrowthRules
	Tiers       []Tier // lowest first; Tiers[0].Threshold is 0
	Points      PointsRules
	Coupons     []CouponKind
	StoredValue StoredValueRules
	Paid        PaidRules
	Referral    ReferralRules
	Birthday    BirthdayRules
	RFM         RFMRules
	// Holdout is the programme-wide holdout in percent (0..50): the same
	// members, chosen by a stable hash of the member alone, are held out
	// of every journey — enrolled and decided like the others, sent and
	// given nothing — so the whole programme's lift can be measured.
	Holdout decimal.Decimal
}

// MaxHoldout is the largest holdout, programme-wide or a journey's, in
// percent: beyond it the treated arm would be the smaller one.
const MaxHoldout = 50

// GrowthRules say how growth value (成长值) is earned.
type GrowthRules struct {
	PerCurrencyUnit     decimal.Decimal
	WindowDays          int
	InteractionMaxShare decimal.Decimal // of counted growth, e.g. 0.4
	CheckIn             Interaction
	Review              Interaction
	Share               Interaction
}

// Interaction is the growth one kind of interaction earns and its caps
// (0 = no cap).
type Interaction struct {
	Value    decimal.Decimal
	PerDay   int
	PerMonth int
}

// Tier is one membership level.
type Tier struct {
	Code               string
	Name               string
	Threshold          decimal.Decimal
	BirthdayMultiplier decimal.Decimal
}

// PointsRules say how points are earned, kept and spent.
type PointsRules struct {
	PerAmount           decimal.Decimal
	PendingDays         int
	ExpiryMonths        int
	MemberDay           int // day of month, 0 = none
	MemberDayMultiplier decimal.Decimal
	RedeemMin           int
	RedeemMaxShare      decimal.Decimal
	PointValue          decimal.Decimal
}

// CouponKind is one kind of threshold coupon (满减).
type CouponKind struct {
	Code           string
	Name           string
	Threshold      decimal.Decimal
	Discount       decimal.Decimal
	ValidDays      int
	PerMemberLimit int // 0 = unlimited
	GlobalLimit    int // 0 = unlimited
}

// BonusStep is one rung of the top-up bonus ladder.
type BonusStep struct {
	Min   decimal.Decimal
	Bonus decimal.Decimal
}

// StoredValueRules describe the stored-value wallet (储值).
type StoredValueRules struct {
	Badge string
	Bonus []BonusStep // ascending by Min
}

// PaidRules describe the paid membership (SVIP).
type PaidRules struct {
	Plan             string
	Price            decimal.Decimal
	PeriodMonths     int
	TrialPrice       decimal.Decimal
	TrialDays        int
	PointsMultiplier decimal.Decimal
	TierFloor        string
}

// ReferralRules describe member-get-member rewards.
type ReferralRules struct {
	RefereeCoupon  string
	ReferrerPoints int
	ReferrerGrowth decimal.Decimal
	MonthlyCap     int
}

// BirthdayRules describe the birthday gift.
type BirthdayRules struct {
	Coupon          string
	MinDaysSinceSet int
}

// dec is a decimal read from YAML. Amounts are written as strings in the
// file, but a bare number is accepted too: it is parsed from its source text,
// never through a float.
type dec struct{ decimal.Decimal }

func (d *dec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: must be a decimal number such as \"12.50\"", n.Line)
	}
	v, err := decimal.NewFromString(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a decimal number", n.Line, n.Value)
	}
	d.Decimal = v
	return nil
}

// programFile is program.yaml as written; LoadProgram checks it and turns it
// into a Program.
type programFile struct {
	Currency string `yaml:"currency"`
	TimeZone string `yaml:"time_zone"`
	Growth   struct {
		PerCurrencyUnit     *dec `yaml:"per_currency_unit"`
		WindowDays          int  `yaml:"window_days"`
		InteractionMaxShare *dec `yaml:"interaction_max_share"`
		Interactions        struct {
			CheckIn interactionFile `yaml:"check_in"`
			Review  interactionFile `yaml:"review"`
			Share   interactionFile `yaml:"share"`
		} `yaml:"interactions"`
	} `yaml:"growth"`
	Tiers []struct {
		Code               string `yaml:"code"`
		Name               string `yaml:"name"`
		Threshold          *dec   `yaml:"threshold"`
		BirthdayMultiplier *dec   `yaml:"birthday_multiplier"`
	} `yaml:"tiers"`
	Points struct {
		PerAmount    *dec `yaml:"per_amount"`
		PendingDays  int  `yaml:"pending_days"`
		ExpiryMonths int  `yaml:"expiry_months"`
		MemberDay    struct {
			DayOfMonth int  `yaml:"day_of_month"`
			Multiplier *dec `yaml:"multiplier"`
		} `yaml:"member_day"`
		Redemption struct {
			MinPoints  int  `yaml:"min_points"`
			MaxShare   *dec `yaml:"max_share"`
			PointValue *dec `yaml:"point_value"`
		} `yaml:"redemption"`
	} `yaml:"points"`
	Coupons []struct {
		Code           string `yaml:"code"`
		Name           string `yaml:"name"`
		Threshold      *dec   `yaml:"threshold"`
		Discount       *dec   `yaml:"discount"`
		ValidDays      int    `yaml:"valid_days"`
		PerMemberLimit int    `yaml:"per_member_limit"`
		GlobalLimit    int    `yaml:"global_limit"`
	} `yaml:"coupons"`
	StoredValue struct {
		Badge string `yaml:"badge"`
		Bonus []struct {
			Min   *dec `yaml:"min"`
			Bonus *dec `yaml:"bonus"`
		} `yaml:"bonus"`
	} `yaml:"stored_value"`
	Paid struct {
		Plan         string `yaml:"plan"`
		Price        *dec   `yaml:"price"`
		PeriodMonths int    `yaml:"period_months"`
		Trial        struct {
			Price *dec `yaml:"price"`
			Days  int  `yaml:"days"`
		} `yaml:"trial"`
		PointsMultiplier *dec   `yaml:"points_multiplier"`
		TierFloor        string `yaml:"tier_floor"`
	} `yaml:"paid"`
	Referral struct {
		RefereeCoupon  string `yaml:"referee_coupon"`
		ReferrerPoints int    `yaml:"referrer_points"`
		ReferrerGrowth *dec   `yaml:"referrer_growth"`
		MonthlyCap     int    `yaml:"monthly_cap"`
	} `yaml:"referral"`
	Birthday struct {
		Coupon          string `yaml:"coupon"`
		MinDaysSinceSet int    `yaml:"min_days_since_set"`
	} `yaml:"birthday"`
	RFM     rfmFile `yaml:"rfm"`
	Holdout string  `yaml:"holdout"`
}

type interactionFile struct {
	Value    *dec `yaml:"value"`
	PerDay   int  `yaml:"per_day"`
	PerMonth int  `yaml:"per_month"`
}

// ProgramError lists every problem found in a programme file, each naming
// the key that is wrong.
type ProgramError struct{ Problems []string }

func (e *ProgramError) Error() string {
	return "program: " + strings.Join(e.Problems, "; ")
}

// LoadProgram parses and validates a programme file. Unknown keys are
// errors (a typo must not silently fall back to zero), and every problem is
// reported at once, each naming its key.
func LoadProgram(src []byte) (*Program, error) {
	var f programFile
	d := yaml.NewDecoder(bytes.NewReader(src))
	d.KnownFields(true)
	if err := d.Decode(&f); err != nil {
		return nil, &ProgramError{Problems: []string{strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	v := &validator{}
	p := &Program{Currency: f.Currency}
	v.require(validCurrency(f.Currency), "currency", "must be a three-letter ISO 4217 code such as CNY")
	loc, err := time.LoadLocation(f.TimeZone)
	v.require(f.TimeZone != "" && err == nil, "time_zone", "must be an IANA time zone such as Asia/Shanghai")
	p.Location = loc

	g := f.Growth
	p.Growth = GrowthRules{
		PerCurrencyUnit:     v.positive("growth.per_currency_unit", g.PerCurrencyUnit),
		WindowDays:          v.atLeast("growth.window_days", g.WindowDays, 1),
		InteractionMaxShare: v.share("growth.interaction_max_share", g.InteractionMaxShare),
		CheckIn:             v.interaction("growth.interactions.check_in", g.Interactions.CheckIn),
		Review:              v.interaction("growth.interactions.review", g.Interactions.Review),
		Share:               v.interaction("growth.interactions.share", g.Interactions.Share),
	}
	v.require(p.Growth.InteractionMaxShare.LessThan(decimal.NewFromInt(1)), "growth.interaction_max_share", "must be below 1")

	v.require(len(f.Tiers) > 0, "tiers", "must list at least one tier")
	codes := map[string]bool{}
	for i, t := range f.Tiers {
		key := fmt.Sprintf("tiers[%d]", i)
		v.require(t.Code != "", key+".code", "is required")
		v.require(!codes[t.Code], key+".code", "must be unique ("+t.Code+" appears twice)")
		codes[t.Code] = true
		tier := Tier{Code: t.Code, Name: t.Name, Threshold: v.nonNegative(key+".threshold", t.Threshold), BirthdayMultiplier: v.positive(key+".birthday_multiplier", t.BirthdayMultiplier)}
		if i == 0 {
			v.require(tier.Threshold.IsZero(), key+".threshold", "of the first tier must be 0")
		} else if len(p.Tiers) > 0 {
			v.require(tier.Threshold.GreaterThan(p.Tiers[len(p.Tiers)-1].Threshold), key+".threshold", "must be above the previous tier's")
		}
		p.Tiers = append(p.Tiers, tier)
	}

	pt := f.Points
	p.Points = PointsRules{
		PerAmount:           v.positive("points.per_amount", pt.PerAmount),
		PendingDays:         v.atLeast("points.pending_days", pt.PendingDays, 0),
		ExpiryMonths:        v.atLeast("points.expiry_months", pt.ExpiryMonths, 1),
		MemberDay:           pt.MemberDay.DayOfMonth,
		MemberDayMultiplier: decimal.NewFromInt(1),
		RedeemMin:           v.atLeast("points.redemption.min_points", pt.Redemption.MinPoints, 0),
		RedeemMaxShare:      v.share("points.redemption.max_share", pt.Redemption.MaxShare),
		PointValue:          v.positive("points.redemption.point_value", pt.Redemption.PointValue),
	}
	if pt.MemberDay.DayOfMonth != 0 {
		v.require(pt.MemberDay.DayOfMonth >= 1 && pt.MemberDay.DayOfMonth <= 28, "points.member_day.day_of_month", "must be between 1 and 28 so every month has it")
		p.Points.MemberDayMultiplier = v.positive("points.member_day.multiplier", pt.MemberDay.Multiplier)
	}

	kinds := map[string]bool{}
	for i, c := range f.Coupons {
		key := fmt.Sprintf("coupons[%d]", i)
		v.require(validCouponKind(c.Code), key+".code", "must be 1-12 upper-case letters or digits")
		v.require(!kinds[c.Code], key+".code", "must be unique ("+c.Code+" appears twice)")
		kinds[c.Code] = true
		p.Coupons = append(p.Coupons, CouponKind{
			Code: c.Code, Name: c.Name,
			Threshold:      v.nonNegative(key+".threshold", c.Threshold),
			Discount:       v.positive(key+".discount", c.Discount),
			ValidDays:      v.atLeast(key+".valid_days", c.ValidDays, 1),
			PerMemberLimit: v.atLeast(key+".per_member_limit", c.PerMemberLimit, 0),
			GlobalLimit:    v.atLeast(key+".global_limit", c.GlobalLimit, 0),
		})
	}

	p.StoredValue.Badge = f.StoredValue.Badge
	v.require(f.StoredValue.Badge != "", "stored_value.badge", "is required")
	for i, b := range f.StoredValue.Bonus {
		key := fmt.Sprintf("stored_value.bonus[%d]", i)
		step := BonusStep{Min: v.positive(key+".min", b.Min), Bonus: v.positive(key+".bonus", b.Bonus)}
		if n := len(p.StoredValue.Bonus); n > 0 {
			v.require(step.Min.GreaterThan(p.StoredValue.Bonus[n-1].Min), key+".min", "must be above the previous step's")
		}
		p.StoredValue.Bonus = append(p.StoredValue.Bonus, step)
	}

	pd := f.Paid
	p.Paid = PaidRules{
		Plan: pd.Plan, Price: v.positive("paid.price", pd.Price),
		PeriodMonths:     v.atLeast("paid.period_months", pd.PeriodMonths, 1),
		TrialPrice:       v.nonNegative("paid.trial.price", pd.Trial.Price),
		TrialDays:        v.atLeast("paid.trial.days", pd.Trial.Days, 1),
		PointsMultiplier: v.positive("paid.points_multiplier", pd.PointsMultiplier),
		TierFloor:        pd.TierFloor,
	}
	v.require(pd.Plan != "", "paid.plan", "is required")
	v.require(pd.TierFloor == "" || codes[pd.TierFloor], "paid.tier_floor", "must be one of the tiers' codes")

	r := f.Referral
	p.Referral = ReferralRules{
		RefereeCoupon: r.RefereeCoupon, ReferrerPoints: v.atLeast("referral.referrer_points", r.ReferrerPoints, 0),
		ReferrerGrowth: v.nonNegative("referral.referrer_growth", r.ReferrerGrowth),
		MonthlyCap:     v.atLeast("referral.monthly_cap", r.MonthlyCap, 0),
	}
	v.require(r.RefereeCoupon == "" || kinds[r.RefereeCoupon], "referral.referee_coupon", "must be one of the coupons' codes")

	p.Birthday = BirthdayRules{Coupon: f.Birthday.Coupon, MinDaysSinceSet: v.atLeast("birthday.min_days_since_set", f.Birthday.MinDaysSinceSet, 0)}
	v.require(f.Birthday.Coupon == "" || kinds[f.Birthday.Coupon], "birthday.coupon", "must be one of the coupons' codes")

	p.RFM = v.rfm(f.RFM)
	p.Holdout = v.holdout("holdout", f.Holdout)

	if len(v.problems) > 0 {
		return nil, &ProgramError{Problems: v.problems}
	}
	return p, nil
}

// MustLoadProgram is LoadProgram for embedded, tested programme files.
func MustLoadProgram(src []byte) *Program {
	p, err := LoadProgram(src)
	if err != nil {
		panic(err)
	}
	return p
}

// validCurrency reports whether s has the form of an ISO 4217 code: three
// letters A-Z (upper-casing alone lets "C1Y" and "$$$" through).
func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range []byte(s) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func validCouponKind(s string) bool {
	if s == "" || len(s) > 12 {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

type validator struct{ problems []string }

func (v *validator) require(ok bool, key, rule string) {
	if !ok {
		v.problems = append(v.problems, key+": "+rule)
	}
}

func (v *validator) number(key string, d *dec, ok func(decimal.Decimal) bool, rule string) decimal.Decimal {
	if d == nil {
		v.problems = append(v.problems, key+": is required")
		return decimal.Zero
	}
	v.require(ok(d.Decimal), key, rule)
	return d.Decimal
}

func (v *validator) positive(key string, d *dec) decimal.Decimal {
	return v.number(key, d, decimal.Decimal.IsPositive, "must be greater than 0")
}

func (v *validator) nonNegative(key string, d *dec) decimal.Decimal {
	return v.number(key, d, func(x decimal.Decimal) bool { return !x.IsNegative() }, "must be 0 or more")
}

func (v *validator) share(key string, d *dec) decimal.Decimal {
	return v.number(key, d, func(x decimal.Decimal) bool {
		return x.IsPositive() && x.LessThanOrEqual(decimal.NewFromInt(1))
	}, "must be a share between 0 (exclusive) and 1")
}

// holdout reads a share written "2%" (absent: 0%) between 0% and
// MaxHoldout.
func (v *validator) holdout(key, s string) decimal.Decimal {
	if s == "" {
		return decimal.Zero
	}
	rule := fmt.Sprintf("must be a share from 0%% to %d%% written like \"2%%\", not %q", MaxHoldout, s)
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	d, err := decimal.NewFromString(num)
	if !ok || err != nil || d.IsNegative() || d.GreaterThan(decimal.NewFromInt(MaxHoldout)) {
		v.problems = append(v.problems, key+": "+rule)
		return decimal.Zero
	}
	return d
}

func (v *validator) atLeast(key string, n, min int) int {
	v.require(n >= min, key, fmt.Sprintf("must be %d or more", min))
	return n
}

func (v *validator) interaction(key string, f interactionFile) Interaction {
	return Interaction{
		Value:    v.positive(key+".value", f.Value),
		PerDay:   v.atLeast(key+".per_day", f.PerDay, 0),
		PerMonth: v.atLeast(key+".per_month", f.PerMonth, 0),
	}
}

// Tier returns the tier with the code, or false.
func (p *Program) Tier(code string) (Tier, bool) {
	i := p.tierIndex(code)
	if i < 0 {
		return Tier{}, false
	}
	return p.Tiers[i], true
}

func (p *Program) tierIndex(code string) int {
	return slices.IndexFunc(p.Tiers, func(t Tier) bool { return t.Code == code })
}

// Coupon returns the coupon kind with the code, or false.
func (p *Program) Coupon(code string) (CouponKind, bool) {
	i := slices.IndexFunc(p.Coupons, func(c CouponKind) bool { return c.Code == code })
	if i < 0 {
		return CouponKind{}, false
	}
	return p.Coupons[i], true
}

// EarnedTier is the highest tier whose threshold counted growth reaches.
func (p *Program) EarnedTier(counted decimal.Decimal) string {
	code := p.Tiers[0].Code
	for _, t := range p.Tiers {
		if counted.GreaterThanOrEqual(t.Threshold) {
			code = t.Code
		}
	}
	return code
}

// errProgram marks programme misuse by callers (a coupon kind that does not
// exist and so on).
var errProgram = errors.New("not in the programme")

// ProgramDocument is the programme as journeys read it (the `program` of
// their conditions and email variables): prices, tiers and coupons as
// configured, so an email names the programme's figures instead of a copy
// of them in the journey.
type ProgramDocument struct {
	Currency string           `json:"currency"`
	TimeZone string           `json:"time_zone"`
	Tiers    []TierDocument   `json:"tiers"`
	Coupons  []CouponDocument `json:"coupons"`
	Points   PointsDocument   `json:"points"`
	Paid     PaidDocument     `json:"paid"`
	Birthday BirthdayDocument `json:"birthday"`
	Referral ReferralDocument `json:"referral"`
}

// TierDocument is one tier.
type TierDocument struct {
	Code               string          `json:"code"`
	Name               string          `json:"name"`
	Threshold          decimal.Decimal `json:"threshold"`
	BirthdayMultiplier decimal.Decimal `json:"birthday_multiplier"`
}

// CouponDocument is one coupon kind.
type CouponDocument struct {
	Code      string          `json:"code"`
	Name      string          `json:"name"`
	Threshold decimal.Decimal `json:"threshold"`
	Discount  decimal.Decimal `json:"discount"`
	ValidDays int             `json:"valid_days"`
}

// PointsDocument is how points are earned and worth.
type PointsDocument struct {
	PerAmount    decimal.Decimal `json:"per_amount"`
	PendingDays  int             `json:"pending_days"`
	ExpiryMonths int             `json:"expiry_months"`
	PointValue   decimal.Decimal `json:"point_value"`
	MemberDay    int             `json:"member_day"`
}

// PaidDocument is the paid membership.
type PaidDocument struct {
	Plan             string          `json:"plan"`
	Price            decimal.Decimal `json:"price"`
	PeriodMonths     int             `json:"period_months"`
	TrialPrice       decimal.Decimal `json:"trial_price"`
	TrialDays        int             `json:"trial_days"`
	PointsMultiplier decimal.Decimal `json:"points_multiplier"`
	TierFloor        string          `json:"tier_floor"`
	TierFloorName    string          `json:"tier_floor_name"`
}

// BirthdayDocument is the birthday gift.
type BirthdayDocument struct {
	Coupon string `json:"coupon"`
}

// ReferralDocument is the referral rewards.
type ReferralDocument struct {
	RefereeCoupon  string `json:"referee_coupon"`
	ReferrerPoints int    `json:"referrer_points"`
}

// Document returns the programme as journeys read it.
func (p *Program) Document() ProgramDocument {
	d := ProgramDocument{Currency: p.Currency, Tiers: []TierDocument{}, Coupons: []CouponDocument{},
		Points: PointsDocument{PerAmount: p.Points.PerAmount, PendingDays: p.Points.PendingDays, ExpiryMonths: p.Points.ExpiryMonths,
			PointValue: p.Points.PointValue, MemberDay: p.Points.MemberDay},
		Paid: PaidDocument{Plan: p.Paid.Plan, Price: p.Paid.Price, PeriodMonths: p.Paid.PeriodMonths, TrialPrice: p.Paid.TrialPrice,
			TrialDays: p.Paid.TrialDays, PointsMultiplier: p.Paid.PointsMultiplier, TierFloor: p.Paid.TierFloor},
		Birthday: BirthdayDocument{Coupon: p.Birthday.Coupon},
		Referral: ReferralDocument{RefereeCoupon: p.Referral.RefereeCoupon, ReferrerPoints: p.Referral.ReferrerPoints},
	}
	if p.Location != nil {
		d.TimeZone = p.Location.String()
	}
	for _, t := range p.Tiers {
		d.Tiers = append(d.Tiers, TierDocument{Code: t.Code, Name: t.Name, Threshold: t.Threshold, BirthdayMultiplier: t.BirthdayMultiplier})
	}
	for _, c := range p.Coupons {
		d.Coupons = append(d.Coupons, CouponDocument{Code: c.Code, Name: c.Name, Threshold: c.Threshold, Discount: c.Discount, ValidDays: c.ValidDays})
	}
	if t, ok := p.Tier(p.Paid.TierFloor); ok {
		d.Paid.TierFloorName = t.Name
	}
	return d
}
