package analytics

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/shopspring/decimal"
	"gonum.org/v1/gonum/mathext"
)

// GammaGammaParams are the three parameters of the Gamma-Gamma model of
// spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV"): a
// customer's transaction values are Gamma(p, ν) with their own ν ~
// Gamma(q, v), independent of how often they buy.
type GammaGammaParams struct {
	P float64 `json:"p"`
	Q float64 `json:"q"`
	V float64 `json:"v"`
}

func (p GammaGammaParams) slice() []float64 { return []float64{p.P, p.Q, p.V} }

// GammaGamma is a fitted Gamma-Gamma model: the estimate, its standard
// errors and how the fit went.
type GammaGamma struct {
	Params GammaGammaParams `json:"params"`
	StdErr GammaGammaParams `json:"std_err"`
	Fit    FitReport        `json:"fit"`
}

// LogLikelihood is the log of the Gamma-Gamma density of a customer's mean
// repeat spend mₓ over x ≥ 1 repeat transactions:
//
//	f(mₓ | x) = Γ(px+q)/(Γ(px)Γ(q)) · v^q · mₓ^(px−1) · x^(px) / (v + x·mₓ)^(px+q)
//
// The summary must have x ≥ 1 and mₓ > 0.
func (p GammaGammaParams) LogLikelihood(s Summary) float64 {
	x := float64(s.Frequency)
	m := s.MeanRepeatSpend.InexactFloat64()
	return ggPerX(p, x, nil) + ggPerGroup(p, x, m, math.Log(m), math.Log(x), nil)
}

// ggPerX is the part of the log density that depends on x alone:
// ln Γ(px+q) − ln Γ(px) − ln Γ(q); with grad it adds its derivatives.
func ggPerX(p GammaGammaParams, x float64, grad []float64) float64 {
	px := p.P * x
	if grad != nil {
		psiPXQ := mathext.Digamma(px + p.Q)
		grad[0] += x * (psiPXQ - mathext.Digamma(px))
		grad[1] += psiPXQ - mathext.Digamma(p.Q)
	}
	return lgamma(px+p.Q) - lgamma(px) - lgamma(p.Q)
}

// ggPerGroup is the rest: q ln v + (px−1) ln m + px ln x − (px+q) ln(v+xm).
func ggPerGroup(p GammaGammaParams, x, m, logM, logX float64, grad []float64) float64 {
	px := p.P * x
	logV := math.Log(p.V)
	logVXM := math.Log(p.V + x*m)
	if grad != nil {
		grad[0] += x * (logM + logX - logVXM)
		grad[1] += logV - logVXM
		grad[2] += p.Q/p.V - (px+p.Q)/(p.V+x*m)
	}
	return p.Q*logV + (px-1)*logM + px*logX - (px+p.Q)*logVXM
}

// ggGroup is one distinct (x, mₓ) and how many customers have it.
type ggGroup struct {
	x, m, logM, logX float64
	n                float64
}

type ggData struct {
	groups    []ggGroup
	perX      []ggGroup // x and its count
	customers int
}

func newGGData(summaries []Summary) ggData {
	type key struct{ x, m float64 }
	counts := map[key]float64{}
	xs := map[float64]float64{}
	for _, s := range summaries {
		x := float64(s.Frequency)
		counts[key{x, s.MeanRepeatSpend.InexactFloat64()}]++
		xs[x]++
	}
	d := ggData{customers: len(summaries)}
	for k, n := range counts {
		d.groups = append(d.groups, ggGroup{x: k.x, m: k.m, logM: math.Log(k.m), logX: math.Log(k.x), n: n})
	}
	slices.SortFunc(d.groups, func(a, b ggGroup) int { return cmp.Or(cmp.Compare(a.x, b.x), cmp.Compare(a.m, b.m)) })
	for x, n := range xs {
		d.perX = append(d.perX, ggGroup{x: x, n: n})
	}
	slices.SortFunc(d.perX, func(a, b ggGroup) int { return cmp.Compare(a.x, b.x) })
	return d
}

// logLik is the cohort's total log-likelihood at (p, q, v).
func (d ggData) logLik(workers int) logLikFunc {
	return func(pv, grad []float64) float64 {
		p := ggFromSlice(pv)
		return sumLogLik(grad, workers,
			len(d.groups), func(i int, g []float64) (float64, float64) {
				grp := d.groups[i]
				return ggPerGroup(p, grp.x, grp.m, grp.logM, grp.logX, g), grp.n
			},
			len(d.perX), func(i int, g []float64) (float64, float64) {
				return ggPerX(p, d.perX[i].x, g), d.perX[i].n
			})
	}
}

// FitGammaGamma fits the Gamma-Gamma model by maximum likelihood on the
// customers with at least one repeat transaction and a positive mean repeat
// spend (the others carry no information on spend per transaction beyond
// the first, which the model leaves out). It refuses (NotConvergedError) a
// fit that did not converge to a strict maximum.
func FitGammaGamma(summaries []Summary, opts FitOptions) (GammaGamma, error) {
	var repeat []Summary
	var meanM float64
	for _, s := range summaries {
		if s.Frequency >= 1 && s.MeanRepeatSpend.IsPositive() {
			repeat = append(repeat, s)
			meanM += s.MeanRepeatSpend.InexactFloat64()
		}
	}
	if len(repeat) < 2 {
		return GammaGamma{}, errors.New("gammagamma fit: fewer than 2 customers with a repeat transaction and a positive mean spend")
	}
	meanM /= float64(len(repeat))
	d := newGGData(repeat)
	// Start where the population mean spend pv/(q−1) is the sample's.
	start := GammaGammaParams{P: 1, Q: 2, V: meanM}
	est, err := maximise("gammagamma", d.logLik(opts.workers()), start.slice(), len(repeat))
	if err != nil {
		return GammaGamma{}, err
	}
	m := GammaGamma{Params: ggFromSlice(est.params), StdErr: ggFromSlice(est.stdErr), Fit: est.report}
	m.Fit.Groups = len(d.groups)
	return m, nil
}

func ggFromSlice(v []float64) GammaGammaParams {
	return GammaGammaParams{P: v[0], Q: v[1], V: v[2]}
}

// ExpectedSpend is the expected spend per transaction of a customer with
// this summary (the paper's conditional expectation):
//
//	E[M | p, q, v, mₓ, x] = p(v + x·mₓ)/(px + q − 1),
//
// a weighted mean of the population mean pv/(q−1) and the customer's own
// mean repeat spend. For a customer without repeat transactions it is the
// population mean, which exists only for q > 1.
func (p GammaGammaParams) ExpectedSpend(s Summary) (float64, error) {
	x := float64(s.Frequency)
	m := 0.0
	if s.Frequency > 0 {
		m = s.MeanRepeatSpend.InexactFloat64()
	}
	den := p.P*x + p.Q - 1
	if den <= 0 {
		return 0, fmt.Errorf("expected spend with x=%d: px+q−1 = %g, so the model has no finite mean (q = %g ≤ 1)", s.Frequency, den, p.Q)
	}
	return p.P * (p.V + x*m) / den, nil
}

// money turns a model's float amount into a decimal of the data's currency,
// rounded to hundredths (the models are not more precise than that).
func money(v float64) decimal.Decimal {
	return decimal.NewFromFloat(v).Round(2)
}
