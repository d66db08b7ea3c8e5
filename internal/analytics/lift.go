package analytics

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
	"gonum.org/v1/gonum/stat/distuv"
)

// Lift: what a journey did for its treated members against a control
// group that was decided alike and sent nothing (a holdout), or one A/B
// path against another.
//
// Conversion lift is the difference of the two conversion rates, with a
// 95% confidence interval by Newcombe's hybrid score method (Newcombe
// 1998, "Interval estimation for the difference between independent
// proportions", method 10): each rate's Wilson score interval, combined.
// Unlike the Wald interval it stays inside [-1, 1], keeps close to its
// nominal coverage for small samples and rare conversions, and gives an
// interval of width > 0 when an arm has no conversion at all.
//
// When the interval holds 0 the verdict says how many more members per
// arm a difference of the size observed would need: the sample size for
// two proportions at 80% power and α = 0.05 two-sided (Fleiss, Levin &
// Paik, "Statistical Methods for Rates and Proportions", 3rd ed., §4.2,
// without continuity correction), for the arms' current allocation ratio.
//
// Money (revenue, reward cost) stays decimal; rates, intervals and the
// ROI are ratios and computed in float64.

// Confidence and Power are the verdict's settings.
const (
	Confidence = 0.95
	Power      = 0.80
)

// LiftArm is one arm of a comparison within a window after enrollment:
// its members (enrollments), those who reached the goal, their orders,
// revenue and what the journey's rewards to them cost.
type LiftArm struct {
	Members     int64
	Conversions int64
	Orders      int64
	Revenue     decimal.Decimal
	RewardCost  decimal.Decimal
}

// ArmStats is an arm as the lift report shows it: the counts and per
// member rates.
type ArmStats struct {
	Members          int64           `json:"members"`
	Conversions      int64           `json:"conversions"`
	ConversionRate   float64         `json:"conversion_rate"`
	Orders           int64           `json:"orders"`
	OrdersPerMember  float64         `json:"orders_per_member"`
	Revenue          decimal.Decimal `json:"revenue"`
	RevenuePerMember decimal.Decimal `json:"revenue_per_member"`
	RewardCost       decimal.Decimal `json:"reward_cost"`
}

// Stats is the arm's per-member figures (zero for an empty arm); money
// per member is rounded to cents.
func (a LiftArm) Stats() ArmStats {
	s := ArmStats{Members: a.Members, Conversions: a.Conversions, Orders: a.Orders, Revenue: a.Revenue, RewardCost: a.RewardCost}
	if a.Members > 0 {
		n := float64(a.Members)
		s.ConversionRate = float64(a.Conversions) / n
		s.OrdersPerMember = float64(a.Orders) / n
		s.RevenuePerMember = a.Revenue.Div(decimal.NewFromInt(a.Members)).Round(2)
	}
	return s
}

// Verdict statuses.
const (
	VerdictSignificant = "significant"
	VerdictNotYet      = "not_yet"
	VerdictNoData      = "no_data"
)

// Verdict is the comparison in plain words: significant when the
// interval of the conversion lift excludes 0; otherwise not yet, with
// how many more members each arm needs (MoreTreated, MoreControl; absent
// when no difference was observed to size the sample for).
type Verdict struct {
	Status      string `json:"status"`
	Text        string `json:"text"`
	MoreTreated *int64 `json:"more_treated,omitempty"`
	MoreControl *int64 `json:"more_control,omitempty"`
}

// Comparison is a treated arm against a control, within one window.
type Comparison struct {
	Treated string `json:"treated"`
	Control string `json:"control"`
	// ConversionLift is the treated rate minus the control's (0.05 is
	// five points); RelativeLift is it over the control's rate (null
	// when the control converted nobody).
	ConversionLift float64  `json:"conversion_lift"`
	RelativeLift   *float64 `json:"relative_lift"`
	// CI95 is the 95% interval of ConversionLift (Newcombe); null when
	// an arm is empty.
	CI95 *[2]float64 `json:"ci95"`
	// IncrementalConversions, IncrementalRevenue and
	// IncrementalRewardCost are what the treated arm did beyond what the
	// control's rates give for as many members: x_t − x_c·n_t/n_c.
	IncrementalConversions float64         `json:"incremental_conversions"`
	IncrementalRevenue     decimal.Decimal `json:"incremental_revenue"`
	IncrementalRewardCost  decimal.Decimal `json:"incremental_reward_cost"`
	// ROI is (incremental revenue − incremental reward cost) /
	// incremental reward cost: 0.5 returns the rewards' cost and half
	// again. Null when the treated arm's rewards cost no more than the
	// control's.
	ROI     *float64 `json:"roi"`
	Verdict Verdict  `json:"verdict"`
}

// Compare compares treated with control, named by their labels (the
// verdict's text uses them).
func Compare(treatedLabel string, treated LiftArm, controlLabel string, control LiftArm) Comparison {
	c := Comparison{Treated: treatedLabel, Control: controlLabel, IncrementalRevenue: decimal.Zero, IncrementalRewardCost: decimal.Zero}
	switch {
	case treated.Members == 0 && control.Members == 0:
		c.Verdict = Verdict{Status: VerdictNoData, Text: "no data yet — no members in either arm"}
		return c
	case control.Members == 0:
		c.Verdict = Verdict{Status: VerdictNoData, Text: fmt.Sprintf("no data yet — no %s members", controlLabel)}
		return c
	case treated.Members == 0:
		c.Verdict = Verdict{Status: VerdictNoData, Text: fmt.Sprintf("no data yet — no %s members", treatedLabel)}
		return c
	}
	nt, nc := float64(treated.Members), float64(control.Members)
	pt, pc := float64(treated.Conversions)/nt, float64(control.Conversions)/nc
	c.ConversionLift = pt - pc
	if pc > 0 {
		r := (pt - pc) / pc
		c.RelativeLift = &r
	}
	z := zCrit()
	lo, hi := Newcombe(treated.Conversions, treated.Members, control.Conversions, control.Members, z)
	c.CI95 = &[2]float64{lo, hi}

	// What the control's rates give for as many members as the treated.
	scale := decimal.NewFromInt(treated.Members).Div(decimal.NewFromInt(control.Members))
	c.IncrementalConversions = float64(treated.Conversions) - float64(control.Conversions)*nt/nc
	c.IncrementalRevenue = treated.Revenue.Sub(control.Revenue.Mul(scale)).Round(2)
	c.IncrementalRewardCost = treated.RewardCost.Sub(control.RewardCost.Mul(scale)).Round(2)
	if c.IncrementalRewardCost.IsPositive() {
		roi := c.IncrementalRevenue.Sub(c.IncrementalRewardCost).Div(c.IncrementalRewardCost).InexactFloat64()
		c.ROI = &roi
	}
	c.Verdict = verdict(treatedLabel, pt, treated.Members, controlLabel, pc, control.Members, lo, hi)
	return c
}

func verdict(tl string, pt float64, nt int64, cl string, pc float64, nc int64, lo, hi float64) Verdict {
	if lo > 0 || hi < 0 {
		return Verdict{Status: VerdictSignificant, Text: VerdictSignificant}
	}
	k := float64(nt) / float64(nc)
	needT, needC, ok := SampleSize(pt, pc, k, 1-Confidence, Power)
	if !ok {
		return Verdict{Status: VerdictNotYet, Text: "not yet — no difference between the arms so far"}
	}
	moreT := max(int64(math.Ceil(needT))-nt, 0)
	moreC := max(int64(math.Ceil(needC))-nc, 0)
	v := Verdict{Status: VerdictNotYet, MoreTreated: &moreT, MoreControl: &moreC}
	switch {
	case moreT == 0 && moreC == 0:
		v.Text = "not yet — the arms have the size this difference needs; it is at the edge of what they can tell"
	case k >= 0.8 && k <= 1.25:
		v.Text = fmt.Sprintf("not yet — about %s more members per arm", about(max(moreT, moreC)))
	default:
		v.Text = fmt.Sprintf("not yet — about %s more %s members and %s more %s", about(moreC), cl, about(moreT), tl)
	}
	return v
}

// about writes n with two significant digits (rounded up) and thousands
// separators: 1234 → "1,300".
func about(n int64) string {
	if n >= 100 {
		unit := int64(math.Pow10(int(math.Floor(math.Log10(float64(n)))) - 1))
		n = (n + unit - 1) / unit * unit
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// zCrit is the two-sided critical value of the confidence level.
func zCrit() float64 { return distuv.UnitNormal.Quantile(1 - (1-Confidence)/2) }

// Wilson is the Wilson score interval of x successes in n trials at
// critical value z; (0, 1) for n = 0.
func Wilson(x, n int64, z float64) (float64, float64) {
	if n <= 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(x) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return math.Max(0, center-half), math.Min(1, center+half)
}

// Newcombe is the hybrid score interval of p1 − p2 (x1 of n1 against x2
// of n2) at critical value z: δ − √((p1−l1)² + (u2−p2)²) to
// δ + √((u1−p1)² + (p2−l2)²), with (l, u) each rate's Wilson interval.
func Newcombe(x1, n1, x2, n2 int64, z float64) (float64, float64) {
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	l1, u1 := Wilson(x1, n1, z)
	l2, u2 := Wilson(x2, n2, z)
	d := p1 - p2
	return d - math.Sqrt((p1-l1)*(p1-l1)+(u2-p2)*(u2-p2)), d + math.Sqrt((u1-p1)*(u1-p1)+(p2-l2)*(p2-l2))
}

// SampleSize is how many members each arm needs to tell rates p1 and p2
// apart at the power with a two-sided test at alpha, the first arm
// holding k times as many as the second:
//
//	n2 = (z_{1−α/2}·√(p̄q̄(1+1/k)) + z_{power}·√(p1q1/k + p2q2))² / (p1−p2)²,
//	n1 = k·n2, p̄ = (k·p1 + p2)/(k + 1).
//
// ok is false when the rates are equal (no size tells them apart) or k
// is not positive.
func SampleSize(p1, p2, k, alpha, power float64) (n1, n2 float64, ok bool) {
	d := p1 - p2
	if d == 0 || k <= 0 {
		return 0, 0, false
	}
	za := distuv.UnitNormal.Quantile(1 - alpha/2)
	zb := distuv.UnitNormal.Quantile(power)
	pbar := (k*p1 + p2) / (k + 1)
	num := za*math.Sqrt(pbar*(1-pbar)*(1+1/k)) + zb*math.Sqrt(p1*(1-p1)/k+p2*(1-p2))
	n2 = num * num / (d * d)
	return k * n2, n2, true
}
