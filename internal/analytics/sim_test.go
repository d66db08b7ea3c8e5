package analytics

import (
	"math/rand/v2"

	"github.com/shopspring/decimal"
	"gonum.org/v1/gonum/stat/distuv"
)

// The generative BG/NBD and Gamma-Gamma models, simulated from known
// parameters, for parameter recovery tests and the benchmark.

// simCustomer is a simulated customer's continuous-time history: repeat
// purchase times after the first purchase at 0, observed for T periods.
type simCustomer struct {
	repeats []float64
	T       float64
}

// simulateBGNBD draws n customers from the BG/NBD model (section 2 of
// Fader, Hardie & Lee 2005): λ ~ Gamma(r, α), p ~ Beta(a, b); while alive
// the customer buys as a Poisson process with rate λ, and after each
// repeat purchase drops out with probability p (not after the first
// purchase at time 0, which is why x = 0 customers are alive for sure).
// Each customer's observation length T is drawn by age.
func simulateBGNBD(rng *rand.Rand, p BGNBDParams, n int, age func(*rand.Rand) float64) []simCustomer {
	lambda := distuv.Gamma{Alpha: p.R, Beta: p.Alpha, Src: rng}
	dropout := distuv.Beta{Alpha: p.A, Beta: p.B, Src: rng}
	out := make([]simCustomer, n)
	for i := range out {
		l, pd := lambda.Rand(), dropout.Rand()
		c := simCustomer{T: age(rng)}
		for t := rng.ExpFloat64() / l; t <= c.T; t += rng.ExpFloat64() / l {
			c.repeats = append(c.repeats, t)
			if rng.Float64() < pd {
				break
			}
		}
		out[i] = c
	}
	return out
}

// summary is the customer's exact (continuous-time) BG/NBD summary.
func (c simCustomer) summary() Summary {
	s := Summary{Frequency: len(c.repeats), Age: c.T}
	if n := len(c.repeats); n > 0 {
		s.Recency = c.repeats[n-1]
	}
	return s
}

// simulateSpend draws Gamma-Gamma spends for customers with x[i] repeat
// transactions: ν ~ Gamma(q, v) per customer, each transaction's value
// ~ Gamma(p, ν); it returns each customer's mean repeat spend, rounded to
// cents as amounts are.
func simulateSpend(rng *rand.Rand, p GammaGammaParams, x []int) []decimal.Decimal {
	nu := distuv.Gamma{Alpha: p.Q, Beta: p.V, Src: rng}
	out := make([]decimal.Decimal, len(x))
	for i, n := range x {
		if n == 0 {
			continue
		}
		value := distuv.Gamma{Alpha: p.P, Beta: nu.Rand(), Src: rng}
		sum := 0.0
		for range n {
			sum += value.Rand()
		}
		out[i] = decimal.NewFromFloat(sum / float64(n)).Round(2)
	}
	return out
}

// simulateShop draws n customers' dated, priced transactions as a shop
// would record them: first purchases spread over the first year, purchase
// times from the BG/NBD model in days, each purchase on the day its time
// falls in (several on one day are merged by Summarise, as in real data),
// amounts from the Gamma-Gamma model rounded to cents. It returns the
// customers and the calibration end, two years after the start.
func simulateShop(rng *rand.Rand, bg BGNBDParams, gg GammaGammaParams, n int) ([][]Transaction, Day) {
	start := DayFromDate(2023, 1, 1)
	end := start + 730
	lambda := distuv.Gamma{Alpha: bg.R, Beta: bg.Alpha, Src: rng}
	dropout := distuv.Beta{Alpha: bg.A, Beta: bg.B, Src: rng}
	nu := distuv.Gamma{Alpha: gg.Q, Beta: gg.V, Src: rng}
	out := make([][]Transaction, n)
	for i := range out {
		l, pd := lambda.Rand(), dropout.Rand()
		value := distuv.Gamma{Alpha: gg.P, Beta: nu.Rand(), Src: rng}
		first := float64(rng.IntN(365)) + rng.Float64()
		amount := func() decimal.Decimal { return decimal.NewFromFloat(value.Rand()).Round(2) }
		txs := []Transaction{{Day: start + Day(first), Amount: amount()}}
		for t := first + rng.ExpFloat64()/l; t < float64(end-start+1); t += rng.ExpFloat64() / l {
			txs = append(txs, Transaction{Day: start + Day(t), Amount: amount()})
			if rng.Float64() < pd {
				break
			}
		}
		out[i] = txs
	}
	return out, end
}
