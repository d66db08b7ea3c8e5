package api

import (
	"net/http"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// ProgramView is GET /v1/program: the loyalty programme the ledger runs,
// as configured (templates/program.yaml), for the console's programme
// screen. Amounts are decimal strings in the programme's currency.
type ProgramView struct {
	Currency    string               `json:"currency"`
	TimeZone    string               `json:"time_zone"`
	Growth      GrowthView           `json:"growth"`
	Tiers       []TierView           `json:"tiers"`
	Points      PointsView           `json:"points"`
	Coupons     []CouponView         `json:"coupons"`
	StoredValue StoredValueView      `json:"stored_value"`
	Paid        loyalty.PaidDocument `json:"paid"`
	Referral    ReferralView         `json:"referral"`
	Birthday    BirthdayView         `json:"birthday"`
	RFM         RFMView              `json:"rfm"`
}

// GrowthView is how growth value is earned.
type GrowthView struct {
	PerCurrencyUnit     decimal.Decimal `json:"per_currency_unit"`
	WindowDays          int             `json:"window_days"`
	InteractionMaxShare decimal.Decimal `json:"interaction_max_share"`
	CheckIn             InteractionView `json:"check_in"`
	Review              InteractionView `json:"review"`
	Share               InteractionView `json:"share"`
}

// InteractionView is one interaction's growth and caps (0: no cap).
type InteractionView struct {
	Value    decimal.Decimal `json:"value"`
	PerDay   int             `json:"per_day"`
	PerMonth int             `json:"per_month"`
}

// TierView is one tier, lowest first.
type TierView = loyalty.TierDocument

// PointsView is how points are earned, kept and redeemed.
type PointsView struct {
	PerAmount           decimal.Decimal `json:"per_amount"`
	PendingDays         int             `json:"pending_days"`
	ExpiryMonths        int             `json:"expiry_months"`
	MemberDay           int             `json:"member_day"` // day of month, 0 = none
	MemberDayMultiplier decimal.Decimal `json:"member_day_multiplier"`
	RedeemMin           int             `json:"redeem_min"`
	RedeemMaxShare      decimal.Decimal `json:"redeem_max_share"`
	PointValue          decimal.Decimal `json:"point_value"`
}

// CouponView is one coupon kind (0 limits: unlimited).
type CouponView struct {
	Code           string          `json:"code"`
	Name           string          `json:"name"`
	Threshold      decimal.Decimal `json:"threshold"`
	Discount       decimal.Decimal `json:"discount"`
	ValidDays      int             `json:"valid_days"`
	PerMemberLimit int             `json:"per_member_limit"`
	GlobalLimit    int             `json:"global_limit"`
}

// StoredValueView is the stored-value wallet and its top-up bonus ladder.
type StoredValueView struct {
	Badge string          `json:"badge"`
	Bonus []BonusStepView `json:"bonus"`
}

// BonusStepView is one rung of the top-up bonus ladder.
type BonusStepView struct {
	Min   decimal.Decimal `json:"min"`
	Bonus decimal.Decimal `json:"bonus"`
}

// ReferralView is the member-get-member rewards.
type ReferralView struct {
	RefereeCoupon  string          `json:"referee_coupon"`
	ReferrerPoints int             `json:"referrer_points"`
	ReferrerGrowth decimal.Decimal `json:"referrer_growth"`
	MonthlyCap     int             `json:"monthly_cap"`
}

// BirthdayView is the birthday gift.
type BirthdayView struct {
	Coupon          string `json:"coupon"`
	MinDaysSinceSet int    `json:"min_days_since_set"`
}

// RFMView is the RFM scoring window and its segments, tried in order.
type RFMView struct {
	WindowDays int              `json:"window_days"`
	Segments   []RFMSegmentView `json:"segments"`
}

// RFMSegmentView is one segment: the 1–5 score ranges (inclusive) it
// holds.
type RFMSegmentView struct {
	Code string `json:"code"`
	Name string `json:"name"`
	R    [2]int `json:"r"`
	F    [2]int `json:"f"`
	M    [2]int `json:"m"`
}

// programView is p as GET /v1/program answers it; the journeys' own view
// of the programme (loyalty.ProgramDocument) supplies the parts they share.
func programView(p *loyalty.Program) ProgramView {
	doc := p.Document()
	interaction := func(i loyalty.Interaction) InteractionView {
		return InteractionView{Value: i.Value, PerDay: i.PerDay, PerMonth: i.PerMonth}
	}
	v := ProgramView{
		Currency: p.Currency, TimeZone: doc.TimeZone,
		Growth: GrowthView{PerCurrencyUnit: p.Growth.PerCurrencyUnit, WindowDays: p.Growth.WindowDays,
			InteractionMaxShare: p.Growth.InteractionMaxShare, CheckIn: interaction(p.Growth.CheckIn),
			Review: interaction(p.Growth.Review), Share: interaction(p.Growth.Share)},
		Tiers: doc.Tiers,
		Points: PointsView{PerAmount: p.Points.PerAmount, PendingDays: p.Points.PendingDays, ExpiryMonths: p.Points.ExpiryMonths,
			MemberDay: p.Points.MemberDay, MemberDayMultiplier: p.Points.MemberDayMultiplier, RedeemMin: p.Points.RedeemMin,
			RedeemMaxShare: p.Points.RedeemMaxShare, PointValue: p.Points.PointValue},
		Coupons:     make([]CouponView, 0, len(p.Coupons)),
		StoredValue: StoredValueView{Badge: p.StoredValue.Badge, Bonus: make([]BonusStepView, 0, len(p.StoredValue.Bonus))},
		Paid:        doc.Paid,
		Referral: ReferralView{RefereeCoupon: p.Referral.RefereeCoupon, ReferrerPoints: p.Referral.ReferrerPoints,
			ReferrerGrowth: p.Referral.ReferrerGrowth, MonthlyCap: p.Referral.MonthlyCap},
		Birthday: BirthdayView{Coupon: p.Birthday.Coupon, MinDaysSinceSet: p.Birthday.MinDaysSinceSet},
		RFM:      RFMView{WindowDays: p.RFM.WindowDays, Segments: make([]RFMSegmentView, 0, len(p.RFM.Segments))},
	}
	for _, c := range p.Coupons {
		v.Coupons = append(v.Coupons, CouponView{Code: c.Code, Name: c.Name, Threshold: c.Threshold, Discount: c.Discount,
			ValidDays: c.ValidDays, PerMemberLimit: c.PerMemberLimit, GlobalLimit: c.GlobalLimit})
	}
	for _, b := range p.StoredValue.Bonus {
		v.StoredValue.Bonus = append(v.StoredValue.Bonus, BonusStepView{Min: b.Min, Bonus: b.Bonus})
	}
	for _, s := range p.RFM.Segments {
		v.RFM.Segments = append(v.RFM.Segments, RFMSegmentView{Code: s.Code, Name: s.Name,
			R: [2]int{s.R.Min, s.R.Max}, F: [2]int{s.F.Min, s.F.Max}, M: [2]int{s.M.Min, s.M.Max}})
	}
	return v
}

func (h *Handler) getProgram(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, programView(h.Ledger.Rules.Program))
}
