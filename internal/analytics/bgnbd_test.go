package analytics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mathext"
)

func closeTo(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Max(math.Abs(want), 1e-300)
}

// TestBGNBDLogLikelihoodByHand checks eq. 6 of the paper, L = A₁·A₂·(A₃ +
// δ₍ₓ>₀₎A₄), against values worked out by hand:
//
//   - r=α=a=b=1, x=0, T=1: A₁ = Γ(1)·1¹/Γ(1) = 1, A₂ = Γ(2)Γ(1)/(Γ(1)Γ(2)) = 1,
//     A₃ = (1/(1+1))¹ = 1/2, so L = 1/2.
//   - r=α=a=b=1, x=1, tₓ=1, T=2: A₁ = Γ(2)/Γ(1) = 1, A₂ = Γ(2)Γ(2)/(Γ(1)Γ(3)) = 1/2,
//     A₃ = (1/3)² = 1/9, A₄ = 1/(1+1−1)·(1/2)² = 1/4, so L = ½(1/9 + 1/4) = 13/72.
//   - r=2, α=3, a=2, b=3, x=2, tₓ=4, T=6: A₁ = Γ(4)·3²/Γ(2) = 54,
//     A₂ = Γ(5)Γ(5)/(Γ(3)Γ(7)) = 576/1440 = 2/5, A₃ = 9⁻⁴ = 1/6561,
//     A₄ = 2/(3+2−1)·7⁻⁴ = 1/4802, so L = 54·(2/5)·(1/6561 + 1/4802) ≈ 0.0077903.
//   - r=½, α=2, x=0, T=2 (a, b do not matter without repeats):
//     A₁ = Γ(½)·2^½/Γ(½) = √2, A₂ = 1, A₃ = 4^−½ = ½, so L = √2/2.
func TestBGNBDLogLikelihoodByHand(t *testing.T) {
	for _, tc := range []struct {
		p    BGNBDParams
		s    Summary
		want float64 // the likelihood, not its log
	}{
		{BGNBDParams{1, 1, 1, 1}, Summary{Frequency: 0, Age: 1}, 0.5},
		{BGNBDParams{1, 1, 1, 1}, Summary{Frequency: 1, Recency: 1, Age: 2}, 13.0 / 72},
		{BGNBDParams{2, 3, 2, 3}, Summary{Frequency: 2, Recency: 4, Age: 6}, 54.0 * 2 / 5 * (1.0/6561 + 1.0/4802)},
		{BGNBDParams{0.5, 2, 7, 0.3}, Summary{Frequency: 0, Age: 2}, math.Sqrt2 / 2},
	} {
		if got, want := tc.p.LogLikelihood(tc.s), math.Log(tc.want); !closeTo(got, want, 1e-12) {
			t.Errorf("LL(%+v | %+v) = %.15g, want ln(%.10g) = %.15g", tc.s, tc.p, got, tc.want, want)
		}
	}
}

// TestPAliveByHand: P(alive) = 1/(1 + δ·a/(b+x−1)·((α+T)/(α+tₓ))^(r+x)); for
// r=α=a=b=1, x=1, tₓ=1, T=2 that is 1/(1 + (3/2)²) = 4/13, which is also
// A₃/(A₃+A₄) of the second case above.
func TestPAliveByHand(t *testing.T) {
	for _, tc := range []struct {
		p    BGNBDParams
		s    Summary
		want float64
	}{
		{BGNBDParams{1, 1, 1, 1}, Summary{Frequency: 1, Recency: 1, Age: 2}, 4.0 / 13},
		{BGNBDParams{1, 1, 1, 1}, Summary{Frequency: 0, Age: 50}, 1},
		{BGNBDParams{2, 3, 2, 3}, Summary{Frequency: 2, Recency: 6, Age: 6}, 1 / (1 + 2.0/4)},
		{BGNBDParams{2, 3, 2, 3}, Summary{Frequency: 2, Recency: 4, Age: 6}, (1.0 / 6561) / (1.0/6561 + 1.0/4802)},
	} {
		if got := tc.p.PAlive(tc.s); !closeTo(got, tc.want, 1e-12) {
			t.Errorf("PAlive(%+v | %+v) = %.15g, want %.15g", tc.s, tc.p, got, tc.want)
		}
	}
}

// TestBGNBDGroupedLikelihood checks that the grouped, parallel sum the fit
// maximises is the sum of the customers' own log-likelihoods, and that it
// is the same number on one worker and on several.
func TestBGNBDGroupedLikelihood(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	p := BGNBDParams{R: 0.8, Alpha: 4, A: 0.7, B: 2.2}
	var ss []Summary
	// Whole weeks, so that many summaries repeat, and enough customers
	// for several chunks.
	for _, c := range simulateBGNBD(rng, p, 3*sumChunk*4, func(r *rand.Rand) float64 { return float64(20 + r.IntN(20)) }) {
		s := c.summary()
		s.Recency = math.Floor(s.Recency)
		ss = append(ss, s)
	}
	var want float64
	for _, s := range ss {
		want += p.LogLikelihood(s)
	}
	d := newBGData(ss)
	if len(d.groups) >= len(ss)/2 {
		t.Fatalf("%d groups for %d customers: the test wants repeats", len(d.groups), len(ss))
	}
	one := d.logLik(1)(p.slice(), nil)
	four := d.logLik(4)(p.slice(), make([]float64, 4))
	if !closeTo(one, want, 1e-11) {
		t.Errorf("grouped LL = %.12g, sum over customers = %.12g", one, want)
	}
	if one != four {
		t.Errorf("LL on 1 worker %.17g != on 4 workers %.17g", one, four)
	}
}

// TestBGNBDGradient checks the analytic gradient against central
// differences of the likelihood.
func TestBGNBDGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	truth := BGNBDParams{R: 0.5, Alpha: 3, A: 0.9, B: 1.7}
	var ss []Summary
	for _, c := range simulateBGNBD(rng, truth, 500, func(r *rand.Rand) float64 { return 10 + 30*r.Float64() }) {
		ss = append(ss, c.summary())
	}
	d := newBGData(ss)
	ll := d.logLik(2)
	for _, at := range []BGNBDParams{truth, {R: 2, Alpha: 0.5, A: 3, B: 0.4}, {R: 0.05, Alpha: 40, A: 0.2, B: 9}} {
		got := make([]float64, 4)
		ll(at.slice(), got)
		want := fd.Gradient(nil, func(x []float64) float64 { return ll(x, nil) }, at.slice(), &fd.Settings{Formula: fd.Central})
		for i := range got {
			if !closeTo(got[i], want[i], 1e-5) {
				t.Errorf("at %+v: ∂LL/∂%s = %.10g, central difference %.10g", at, []string{"r", "α", "a", "b"}[i], got[i], want[i])
			}
		}
	}
}

// expectedByQuadrature is E[Y(t) | x, tₓ, T] from the model's definition
// rather than eq. 10: alive (probability PAlive), the posterior is
// λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x), and a customer alive with
// (λ, p) makes (1 − e^(−λpt))/p transactions in t on average (geometric
// dropout), which integrates over λ to
// [1 − ((α+T)/(α+T+pt))^(r+x)]/p. What is left is one integral over p,
// taken with p = u^(1/a) so that the Beta density's p^(a−1) goes away.
func expectedByQuadrature(p BGNBDParams, s Summary, t float64) float64 {
	x := float64(s.Frequency)
	shape := p.B + x
	f := func(u float64) float64 {
		q := math.Pow(u, 1/p.A)
		if q == 0 {
			return (p.R + x) * t / (p.Alpha + s.Age) * math.Pow(1-q, shape-1)
		}
		g := -math.Expm1(-(p.R+x)*math.Log1p(q*t/(p.Alpha+s.Age))) / q
		return g * math.Pow(1-q, shape-1)
	}
	integral := quad.Fixed(f, 0, 1, 4000, quad.Legendre{}, 0)
	return p.PAlive(s) * integral / (p.A * mathext.Beta(p.A, shape))
}

func TestExpectedTransactionsAgainstQuadrature(t *testing.T) {
	cdnow := BGNBDParams{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	for _, tc := range []struct {
		p BGNBDParams
		s Summary
		t float64
	}{
		{cdnow, Summary{Frequency: 0, Age: 38.86}, 39},
		{cdnow, Summary{Frequency: 2, Recency: 30.43, Age: 38.86}, 39},
		{cdnow, Summary{Frequency: 7, Recency: 35, Age: 38}, 52},
		{cdnow, Summary{Frequency: 7, Recency: 5, Age: 38}, 52},
		{BGNBDParams{R: 1.5, Alpha: 6, A: 1.3, B: 4}, Summary{Frequency: 12, Recency: 40, Age: 52}, 13},
		{BGNBDParams{R: 1.5, Alpha: 6, A: 1.3, B: 4}, Summary{Frequency: 3, Recency: 1, Age: 1.5}, 100},  // z near 1
		{BGNBDParams{R: 1, Alpha: 2, A: 1.00004, B: 2}, Summary{Frequency: 4, Recency: 20, Age: 30}, 26}, // a ≈ 1
		{BGNBDParams{R: 1, Alpha: 2, A: 0.99996, B: 2}, Summary{Frequency: 0, Age: 30}, 26},
		{BGNBDParams{R: 0.8, Alpha: 40, A: 0.6, B: 2.5}, Summary{Frequency: 60, Recency: 700, Age: 730}, 90}, // days
		{BGNBDParams{R: 3, Alpha: 2, A: 0.4, B: 1}, Summary{Frequency: 160, Recency: 100, Age: 104}, 52},     // c > gonumMaxC: the series
	} {
		got, err := tc.p.ExpectedTransactions(tc.s, tc.t)
		if err != nil {
			t.Fatal(err)
		}
		if want := expectedByQuadrature(tc.p, tc.s, tc.t); !closeTo(got, want, 1e-6) {
			t.Errorf("E[Y(%g) | %+v, %+v] = %.10g, by quadrature %.10g", tc.t, tc.s, tc.p, got, want)
		}
	}
}

// TestExpectedTransactionsSmoothAtAOne: eq. 10 is 0/0 at a = 1; the value
// there must sit between its neighbours.
func TestExpectedTransactionsSmoothAtAOne(t *testing.T) {
	s := Summary{Frequency: 3, Recency: 20, Age: 30}
	var prev float64
	for i, a := range []float64{0.999, 0.99991, 0.99999, 1, 1.00001, 1.00009, 1.001} {
		e, err := BGNBDParams{R: 1, Alpha: 2, A: a, B: 2}.ExpectedTransactions(s, 26)
		if err != nil || math.IsNaN(e) {
			t.Fatalf("a=%g: %v, %v", a, e, err)
		}
		// A larger a means more dropout, so fewer transactions.
		if i > 0 && !(e < prev) {
			t.Errorf("a=%g: E = %.12g, not below %.12g at the smaller a", a, e, prev)
		}
		prev = e
	}
}

// recoverySeeds are the seeds every recovery test runs; fixed before the
// tests were first run, not chosen by their outcome.
var recoverySeeds = []uint64{1, 2, 3, 4, 5, 6}

// The recovery cohort: about a year's purchasing at 1.5 a week on average,
// dropout after 29% of repeats on average, observed 52–104 weeks.
var (
	recoveryBGNBD      = BGNBDParams{R: 3, Alpha: 2, A: 0.4, B: 1}
	recoveryGammaGamma = GammaGammaParams{P: 1, Q: 3, V: 10}
	recoveryAge        = func(r *rand.Rand) float64 { return 52 + 52*r.Float64() }
)

// recoveryCohort simulates n customers from the recovery parameters.
func recoveryCohort(seed uint64, n int) []Summary {
	rng := rand.New(rand.NewPCG(seed, 2))
	cs := simulateBGNBD(rng, recoveryBGNBD, n, recoveryAge)
	ss := make([]Summary, n)
	xs := make([]int, n)
	for i, c := range cs {
		ss[i] = c.summary()
		xs[i] = ss[i].Frequency
	}
	for i, m := range simulateSpend(rng, recoveryGammaGamma, xs) {
		ss[i].MeanRepeatSpend = m
	}
	return ss
}

// checkRecovery fails unless every estimate is within rel of the truth
// and, when se is given, within zMax of its own standard errors.
func checkRecovery(t *testing.T, label string, names []string, truth, est, se []float64, rel, zMax float64) {
	t.Helper()
	var line string
	for i := range truth {
		e := est[i]/truth[i] - 1
		line += fmt.Sprintf(" %s=%.4g (%+.1f%%", names[i], est[i], 100*e)
		if se != nil {
			z := (est[i] - truth[i]) / se[i]
			line += fmt.Sprintf(", %+.1f SE", z)
			if math.Abs(z) > zMax {
				t.Errorf("%s: %s = %.4g is %.1f standard errors (%.3g) from %g", label, names[i], est[i], z, se[i], truth[i])
			}
		}
		line += ")"
		if math.Abs(e) > rel {
			t.Errorf("%s: %s = %.4g is %.1f%% from %g, more than %.0f%%", label, names[i], est[i], 100*e, truth[i], 100*rel)
		}
	}
	t.Logf("%s:%s", label, line)
}

// TestBGNBDRecovery fits cohorts of 5,000 simulated customers. At this size
// the standard errors are 2.5–4.5% of the parameters (b's the largest), so
// a fixed 10% bar is about two of them: over seeds 1–20 of this design two
// seeds had an estimate outside it (seed 7: b +11.2%; seed 17: α −10.3%).
// The per-seed checks are therefore that every estimate is within 3.5 of
// its own reported standard errors — which also fails if the standard
// errors are understated — and within 20%; the 10% bar is
// TestRecoveryWithin10Percent's, at 20,000 customers.
func TestBGNBDRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("fits six cohorts")
	}
	for _, seed := range recoverySeeds {
		m, err := FitBGNBD(recoveryCohort(seed, 5000), FitOptions{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		checkRecovery(t, fmt.Sprintf("seed %d, 5000 customers", seed), []string{"r", "alpha", "a", "b"},
			recoveryBGNBD.slice(), m.Params.slice(), m.StdErr.slice(), 0.20, 3.5)
	}
}

// TestRecoveryWithin10Percent is the bar — every parameter of both
// models within 10% of the truth on several seeds — at 20,000 customers,
// where the largest standard error (Gamma-Gamma's v, ≈2.9%) puts 10% at
// three and a half of them.
func TestRecoveryWithin10Percent(t *testing.T) {
	if testing.Short() {
		t.Skip("fits three large cohorts")
	}
	for _, seed := range recoverySeeds[:3] {
		ss := recoveryCohort(seed, 20000)
		bg, err := FitBGNBD(ss, FitOptions{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		gg, err := FitGammaGamma(ss, FitOptions{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		label := fmt.Sprintf("seed %d, 20000 customers", seed)
		checkRecovery(t, label+", bgnbd", []string{"r", "alpha", "a", "b"}, recoveryBGNBD.slice(), bg.Params.slice(), nil, 0.10, 0)
		checkRecovery(t, label+", gammagamma", []string{"p", "q", "v"}, recoveryGammaGamma.slice(), gg.Params.slice(), nil, 0.10, 0)
	}
}
