package analytics

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// The generative side of the models: one customer drawn from the BG/NBD
// and Gamma-Gamma mixing distributions, and their purchases. The
// parameter-recovery tests simulate cohorts with it, and the journey
// simulator (internal/simulate) draws its members' orders from it, so
// what the simulator assumes about buying is the model the fit estimates.

// Buyer is one customer of the BG/NBD model: while alive they buy as a
// Poisson process with Rate purchases per period, and after each repeat
// purchase they drop out with probability Dropout.
type Buyer struct {
	Rate    float64
	Dropout float64
}

// DrawBuyer draws one customer: λ ~ Gamma(r, α) (α a rate) and
// p ~ Beta(a, b), in that order from src.
func (p BGNBDParams) DrawBuyer(src rand.Source) Buyer {
	l := distuv.Gamma{Alpha: p.R, Beta: p.Alpha, Src: src}.Rand()
	d := distuv.Beta{Alpha: p.A, Beta: p.B, Src: src}.Rand()
	return Buyer{Rate: l, Dropout: d}
}

// Purchases returns the times of the buyer's purchases after from, up to
// and including until, for a buyer alive at from: exponential gaps of
// mean 1/Rate, and after each purchase a Dropout chance that it was the
// last. alive says whether the buyer is still alive at until. A buyer
// with no rate never buys.
func (b Buyer) Purchases(rng *rand.Rand, from, until float64) (times []float64, alive bool) {
	if !(b.Rate > 0) {
		return nil, true
	}
	for t := from + rng.ExpFloat64()/b.Rate; t <= until; t += rng.ExpFloat64() / b.Rate {
		times = append(times, t)
		if rng.Float64() < b.Dropout {
			return times, false
		}
	}
	return times, true
}

// DrawSpend draws one customer's spend per transaction from the
// Gamma-Gamma model: ν ~ Gamma(q, v) from src, and the returned
// distribution is Gamma(p, ν), drawing from src too. Its mean is p/ν; over
// customers, p·v/(q−1).
func (p GammaGammaParams) DrawSpend(src rand.Source) distuv.Gamma {
	nu := distuv.Gamma{Alpha: p.Q, Beta: p.V, Src: src}.Rand()
	return distuv.Gamma{Alpha: p.P, Beta: nu, Src: src}
}
