package analytics

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// BGNBDParams are the four parameters of the BG/NBD model (Fader, Hardie &
// Lee 2005): while alive, a customer buys at rate λ ~ Gamma(r, α) per
// period; after each repeat purchase they drop out with probability
// p ~ Beta(a, b).
type BGNBDParams struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
}

func (p BGNBDParams) slice() []float64 { return []float64{p.R, p.Alpha, p.A, p.B} }

// BGNBD is a fitted BG/NBD model: the estimate, its standard errors and
// how the fit went.
type BGNBD struct {
	Params BGNBDParams `json:"params"`
	StdErr BGNBDParams `json:"std_err"`
	Fit    FitReport   `json:"fit"`
}

// LogLikelihood is the log of the BG/NBD likelihood of one customer's
// summary (eq. 6 of the paper):
//
//	L = A₁·A₂·(A₃ + δ₍ₓ>₀₎A₄), A₁ = Γ(r+x)αʳ/Γ(r),
//	A₂ = Γ(a+b)Γ(b+x)/(Γ(b)Γ(a+b+x)), A₃ = (α+T)^−(r+x),
//	A₄ = a/(b+x−1)·(α+tₓ)^−(r+x).
func (p BGNBDParams) LogLikelihood(s Summary) float64 {
	x := float64(s.Frequency)
	return bgPerX(p, x, nil) + bgPerGroup(p, x, s.Recency, s.Age, nil)
}

// bgPerX is ln A₁ + ln A₂, the part that depends on x alone; with grad it
// also adds its derivatives in (r, α, a, b).
func bgPerX(p BGNBDParams, x float64, grad []float64) float64 {
	r, alpha, a, b := p.R, p.Alpha, p.A, p.B
	ll := lgamma(r+x) - lgamma(r) + r*math.Log(alpha) +
		lgamma(a+b) + lgamma(b+x) - lgamma(b) - lgamma(a+b+x)
	if grad != nil {
		psiAB, psiABX := mathext.Digamma(a+b), mathext.Digamma(a+b+x)
		grad[0] += mathext.Digamma(r+x) - mathext.Digamma(r) + math.Log(alpha)
		grad[1] += r / alpha
		grad[2] += psiAB - psiABX
		grad[3] += psiAB + mathext.Digamma(b+x) - mathext.Digamma(b) - psiABX
	}
	return ll
}

// bgPerGroup is ln(A₃ + δA₄), summed in log space; with grad it also adds
// its derivatives in (r, α, a, b).
func bgPerGroup(p BGNBDParams, x, tx, T float64, grad []float64) float64 {
	r, alpha, a, b := p.R, p.Alpha, p.A, p.B
	logAT := math.Log(alpha + T)
	ll3 := -(r + x) * logAT
	if x == 0 {
		if grad != nil {
			grad[0] -= logAT
			grad[1] -= r / (alpha + T)
		}
		return ll3
	}
	logATx := math.Log(alpha + tx)
	ll4 := math.Log(a) - math.Log(b+x-1) - (r+x)*logATx
	hi, lo := ll3, ll4
	if lo > hi {
		hi, lo = lo, hi
	}
	ll := hi + math.Log1p(math.Exp(lo-hi))
	if grad != nil {
		w4 := math.Exp(ll4 - ll) // A₄'s share of A₃ + A₄
		w3 := 1 - w4
		grad[0] -= w3*logAT + w4*logATx
		grad[1] -= (r + x) * (w3/(alpha+T) + w4/(alpha+tx))
		grad[2] += w4 / a
		grad[3] -= w4 / (b + x - 1)
	}
	return ll
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// bgGroup is one distinct (x, tₓ, T) and how many customers have it.
type bgGroup struct {
	x, tx, T float64
	n        float64
}

// bgData is a cohort as the likelihood sums it: identical summaries, very
// common when time is counted in whole days or weeks, are one weighted
// group, and the x-only part is summed once per distinct x.
type bgData struct {
	groups    []bgGroup
	perX      []bgGroup // x and its count; tx, T unused
	customers int
}

func newBGData(summaries []Summary) bgData {
	type key struct{ x, tx, T float64 }
	counts := map[key]float64{}
	xs := map[float64]float64{}
	for _, s := range summaries {
		x := float64(s.Frequency)
		counts[key{x, s.Recency, s.Age}]++
		xs[x]++
	}
	d := bgData{customers: len(summaries)}
	for k, n := range counts {
		d.groups = append(d.groups, bgGroup{x: k.x, tx: k.tx, T: k.T, n: n})
	}
	// Sorted, so the sum's rounding is the same on every run.
	slices.SortFunc(d.groups, func(a, b bgGroup) int {
		return cmp.Or(cmp.Compare(a.x, b.x), cmp.Compare(a.tx, b.tx), cmp.Compare(a.T, b.T))
	})
	for x, n := range xs {
		d.perX = append(d.perX, bgGroup{x: x, n: n})
	}
	slices.SortFunc(d.perX, func(a, b bgGroup) int { return cmp.Compare(a.x, b.x) })
	return d
}

// logLik is the cohort's total log-likelihood at (r, α, a, b).
func (d bgData) logLik(workers int) logLikFunc {
	return func(pv, grad []float64) float64 {
		p := bgFromSlice(pv)
		return sumLogLik(grad, workers,
			len(d.groups), func(i int, g []float64) (float64, float64) {
				grp := d.groups[i]
				return bgPerGroup(p, grp.x, grp.tx, grp.T, g), grp.n
			},
			len(d.perX), func(i int, g []float64) (float64, float64) {
				return bgPerX(p, d.perX[i].x, g), d.perX[i].n
			})
	}
}

// FitBGNBD fits the BG/NBD model to a cohort's summaries by maximum
// likelihood. It refuses (NotConvergedError) a fit that did not converge
// to a strict maximum.
func FitBGNBD(summaries []Summary, opts FitOptions) (BGNBD, error) {
	if len(summaries) == 0 {
		return BGNBD{}, errors.New("bgnbd fit: no customers")
	}
	repeat := false
	var meanX, meanT float64
	for _, s := range summaries {
		if s.Frequency < 0 || s.Recency < 0 || s.Age < s.Recency || math.IsNaN(s.Age) || math.IsInf(s.Age, 0) {
			return BGNBD{}, fmt.Errorf("bgnbd fit: summary %+v is not a customer (need x ≥ 0 and 0 ≤ tₓ ≤ T)", s)
		}
		repeat = repeat || s.Frequency > 0
		meanX += float64(s.Frequency)
		meanT += s.Age
	}
	if !repeat {
		return BGNBD{}, errors.New("bgnbd fit: no customer made a repeat transaction, so the model is not identified")
	}
	meanX /= float64(len(summaries))
	meanT /= float64(len(summaries))
	d := newBGData(summaries)
	// A start with the cohort's purchase rate: r/α ≈ (x+1)/T on average.
	start := BGNBDParams{R: 1, Alpha: math.Max(meanT/(meanX+1), 1e-3), A: 1, B: 1}
	est, err := maximise("bgnbd", d.logLik(opts.workers()), start.slice(), len(summaries))
	if err != nil {
		return BGNBD{}, err
	}
	m := BGNBD{Params: bgFromSlice(est.params), StdErr: bgFromSlice(est.stdErr), Fit: est.report}
	m.Fit.Groups = len(d.groups)
	return m, nil
}

func bgFromSlice(v []float64) BGNBDParams {
	return BGNBDParams{R: v[0], Alpha: v[1], A: v[2], B: v[3]}
}

// PAlive is the probability that a customer with this summary is still
// alive at the end of the calibration period (eq. 12 of the paper): 1 for a
// customer without repeat transactions, who by the model cannot have
// dropped out yet.
func (p BGNBDParams) PAlive(s Summary) float64 {
	if s.Frequency == 0 {
		return 1
	}
	x := float64(s.Frequency)
	return 1 / (1 + math.Exp(p.logDeadOdds(x, s.Recency, s.Age)))
}

// logDeadOdds is ln[a/(b+x−1)·((α+T)/(α+tₓ))^(r+x)], the log odds of dead
// against alive, for x > 0.
func (p BGNBDParams) logDeadOdds(x, tx, T float64) float64 {
	return math.Log(p.A) - math.Log(p.B+x-1) + (p.R+x)*(math.Log(p.Alpha+T)-math.Log(p.Alpha+tx))
}

// nearOne is how close to 1 a is treated as a = 1 in ExpectedTransactions.
const nearOne = 1e-4

// ExpectedTransactions is the expected number of transactions of a customer
// with this summary in the next t periods (eq. 10 of the paper):
//
//	E[Y(t) | x, tₓ, T] = (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ·
//	    ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))] / (1 + δ₍ₓ>₀₎·a/(b+x−1)·((α+T)/(α+tₓ))^(r+x))
//
// The expression is 0/0 at a = 1, where the expectation is smooth in a;
// within nearOne of 1 it is interpolated linearly between a = 1 ± nearOne
// (an error of order nearOne², below the estimate's own uncertainty).
func (p BGNBDParams) ExpectedTransactions(s Summary, t float64) (float64, error) {
	if t < 0 || math.IsNaN(t) {
		return 0, fmt.Errorf("expected transactions: horizon %g is negative", t)
	}
	if t == 0 {
		return 0, nil
	}
	if d := p.A - 1; math.Abs(d) < nearOne {
		lo, hi := p, p
		lo.A, hi.A = 1-nearOne, 1+nearOne
		eLo, err := lo.expectedTransactions(s, t)
		if err != nil {
			return 0, err
		}
		eHi, err := hi.expectedTransactions(s, t)
		if err != nil {
			return 0, err
		}
		w := (d + nearOne) / (2 * nearOne)
		return eLo + w*(eHi-eLo), nil
	}
	return p.expectedTransactions(s, t)
}

func (p BGNBDParams) expectedTransactions(s Summary, t float64) (float64, error) {
	r, alpha, a, b := p.R, p.Alpha, p.A, p.B
	x, tx, T := float64(s.Frequency), s.Recency, s.Age
	z := t / (alpha + T + t)
	l2f1, err := logHyp2f1(r+x, b+x, a+b+x-1, z)
	if err != nil {
		return 0, fmt.Errorf("expected transactions of x=%d tx=%g T=%g: %w", s.Frequency, tx, T, err)
	}
	// 1 − (1−z)^(r+x)·₂F₁, computed as −expm1 for accuracy when it is small.
	bracket := -math.Expm1((r+x)*math.Log1p(-z) + l2f1)
	num := (a + b + x - 1) / (a - 1) * bracket
	if x == 0 {
		return num, nil
	}
	return num / (1 + math.Exp(p.logDeadOdds(x, tx, T))), nil
}
