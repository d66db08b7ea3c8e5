package analytics

import (
	"math/rand/v2"

	"github.com/shopspring/decimal"
)

// The generative BG/NBD and Gamma-Gamma models (generate.go), simulated
// from known parameters, for parameter recovery tests and the benchmark.

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
	out := make([]simCustomer, n)
	for i := range out {
		b := p.DrawBuyer(rng)
		c := simCustomer{T: age(rng)}
		c.repeats, _ = b.Purchases(rng, 0, c.T)
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
	out := make([]decimal.Decimal, len(x))
	for i, n := range x {
		if n == 0 {
			continue
		}
		value := p.DrawSpend(rng)
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
	out := make([][]Transaction, n)
	for i := range out {
		b := bg.DrawBuyer(rng)
		value := gg.DrawSpend(rng)
		first := float64(rng.IntN(365)) + rng.Float64()
		repeats, _ := b.Purchases(rng, first, float64(end-start+1))
		times := append([]float64{first}, repeats...)
		txs := make([]Transaction, len(times))
		for j, t := range times {
			txs[j] = Transaction{Day: start + Day(t), Amount: decimal.NewFromFloat(value.Rand()).Round(2)}
		}
		out[i] = txs
	}
	return out, end
}
