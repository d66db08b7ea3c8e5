package analytics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
	"gonum.org/v1/gonum/diff/fd"
)

// TestGammaGammaLogLikelihoodByHand checks the Gamma-Gamma density
// f(mₓ | x) = Γ(px+q)/(Γ(px)Γ(q)) · v^q · mₓ^(px−1) · x^(px) / (v + x·mₓ)^(px+q)
// against values worked out by hand:
//
//   - p=1, q=2, v=1, x=1, m=1: Γ(3)/(Γ(1)Γ(2)) · 1 · 1 · 1 / 2³ = 2/8 = 1/4.
//   - p=2, q=3, v=4, x=2, m=3: px = 4, Γ(7)/(Γ(4)Γ(3)) = 720/12 = 60,
//     v^q = 64, m³ = 27, x⁴ = 16, (4 + 6)⁷ = 10⁷, so
//     f = 60·64·27·16/10⁷ = 0.165888.
func TestGammaGammaLogLikelihoodByHand(t *testing.T) {
	for _, tc := range []struct {
		p    GammaGammaParams
		x    int
		m    string
		want float64
	}{
		{GammaGammaParams{1, 2, 1}, 1, "1", 0.25},
		{GammaGammaParams{2, 3, 4}, 2, "3", 0.165888},
	} {
		s := Summary{Frequency: tc.x, MeanRepeatSpend: decimal.RequireFromString(tc.m)}
		if got, want := tc.p.LogLikelihood(s), math.Log(tc.want); !closeTo(got, want, 1e-12) {
			t.Errorf("LL(x=%d m=%s | %+v) = %.15g, want ln(%g) = %.15g", tc.x, tc.m, tc.p, got, tc.want, want)
		}
	}
}

// TestExpectedSpendByHand: E[M] = p(v + x·mₓ)/(px + q − 1); for p=2, q=3,
// v=4, x=2, m=3 that is 2·10/6 = 10/3, and without repeats it is the
// population mean pv/(q−1) = 4. With q ≤ 1 the population mean does not
// exist.
func TestExpectedSpendByHand(t *testing.T) {
	p := GammaGammaParams{P: 2, Q: 3, V: 4}
	if got, _ := p.ExpectedSpend(Summary{Frequency: 2, MeanRepeatSpend: decimal.NewFromInt(3)}); !closeTo(got, 10.0/3, 1e-15) {
		t.Errorf("E[M | x=2, m=3] = %v, want 10/3", got)
	}
	if got, _ := p.ExpectedSpend(Summary{}); !closeTo(got, 4, 1e-15) {
		t.Errorf("E[M | x=0] = %v, want 4", got)
	}
	if _, err := (GammaGammaParams{P: 2, Q: 0.8, V: 4}).ExpectedSpend(Summary{}); err == nil {
		t.Error("E[M | x=0] with q < 1: no error")
	}
}

func TestGammaGammaGradientAndGrouping(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	truth := GammaGammaParams{P: 2, Q: 4, V: 30}
	xs := make([]int, 3*sumChunk)
	for i := range xs {
		xs[i] = 1 + rng.IntN(6)
	}
	var ss []Summary
	for i, m := range simulateSpend(rng, truth, xs) {
		ss = append(ss, Summary{Frequency: xs[i], MeanRepeatSpend: m})
	}
	d := newGGData(ss)
	ll := d.logLik(3)
	var want float64
	for _, s := range ss {
		want += truth.LogLikelihood(s)
	}
	if got := ll(truth.slice(), nil); !closeTo(got, want, 1e-11) {
		t.Errorf("grouped LL = %.12g, sum over customers = %.12g", got, want)
	}
	for _, at := range []GammaGammaParams{truth, {P: 0.3, Q: 1.5, V: 2}, {P: 9, Q: 20, V: 500}} {
		got := make([]float64, 3)
		ll(at.slice(), got)
		want := fd.Gradient(nil, func(x []float64) float64 { return ll(x, nil) }, at.slice(), &fd.Settings{Formula: fd.Central})
		for i := range got {
			if !closeTo(got[i], want[i], 1e-5) {
				t.Errorf("at %+v: ∂LL/∂%s = %.10g, central difference %.10g", at, []string{"p", "q", "v"}[i], got[i], want[i])
			}
		}
	}
}

// TestGammaGammaRecovery fits the spends of the recovery cohorts, 5,000
// customers each. Gamma-Gamma sees only each customer's mean spend, so p
// and v are weakly identified: at this size σ(v)/v ≈ 5.6% and σ(p)/p ≈ 3.4%
// (over 30 other seeds the root-mean-square errors were 5.3% and 3.7%, so
// the reported errors are honest), and over seeds 1–20 v fell outside 10%
// on two (seed 1: −12.5%, seed 2: −10.1%). As
// for BG/NBD, each estimate must be within 3.5 of its standard errors and
// within 20%; the 10% bar is TestRecoveryWithin10Percent's.
func TestGammaGammaRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("fits six cohorts")
	}
	for _, seed := range recoverySeeds {
		m, err := FitGammaGamma(recoveryCohort(seed, 5000), FitOptions{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		checkRecovery(t, fmt.Sprintf("seed %d, %d repeat customers", seed, m.Fit.Customers), []string{"p", "q", "v"},
			recoveryGammaGamma.slice(), m.Params.slice(), m.StdErr.slice(), 0.20, 3.5)
	}
}
