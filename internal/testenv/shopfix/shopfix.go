// Package shopfix simulates a shop's customers for tests of the analytics
// refresh: each buys as the BG/NBD model says (a purchase rate drawn from
// a gamma distribution, a chance to drop out after each repeat purchase
// drawn from a beta distribution) and spends as the Gamma-Gamma model
// says, so a refresh over them has models to find.
package shopfix

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shopspring/decimal"
	"gonum.org/v1/gonum/stat/distuv"
)

// Params are the simulated population's BG/NBD (R, Alpha per day, A, B)
// and Gamma-Gamma (P, Q, V) parameters.
type Params struct {
	R, Alpha, A, B float64
	P, Q, V        float64
}

// Shop is a shop whose customers buy every few weeks and spend about 100
// (a mean of P·V/(Q−1)), half of them dropping out within a handful of
// purchases: its models converge on a few hundred customers.
var Shop = Params{R: 0.8, Alpha: 25, A: 0.6, B: 2.5, P: 3, Q: 4, V: 100}

// Customer is one simulated customer and their orders, oldest first.
type Customer struct {
	ID     string
	Orders []Order
}

// Order is one order: when it was paid and its amount (two decimals).
type Order struct {
	At     time.Time
	Amount decimal.Decimal
}

// Simulate makes n customers, ids "<prefix>-0000" on, whose first order
// falls in the first half of the days days from start and whose later ones
// fall before start+days, at random times of day. The same seed gives the
// same customers.
func Simulate(seed uint64, p Params, n int, prefix string, start time.Time, days int) []Customer {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	lambda := distuv.Gamma{Alpha: p.R, Beta: p.Alpha, Src: rng}
	dropout := distuv.Beta{Alpha: p.A, Beta: p.B, Src: rng}
	nu := distuv.Gamma{Alpha: p.Q, Beta: p.V, Src: rng}
	span := float64(days)
	out := make([]Customer, n)
	for i := range out {
		l, pd := lambda.Rand(), dropout.Rand()
		value := distuv.Gamma{Alpha: p.P, Beta: nu.Rand(), Src: rng}
		amount := func() decimal.Decimal {
			return decimal.Max(decimal.NewFromFloat(value.Rand()).Round(2), decimal.New(1, -2))
		}
		at := func(day float64) time.Time { return start.Add(time.Duration(day * float64(24*time.Hour))) }
		t := rng.Float64() * span / 2
		c := Customer{ID: fmt.Sprintf("%s-%04d", prefix, i), Orders: []Order{{At: at(t), Amount: amount()}}}
		for t += rng.ExpFloat64() / l; t < span; t += rng.ExpFloat64() / l {
			c.Orders = append(c.Orders, Order{At: at(t), Amount: amount()})
			if rng.Float64() < pd {
				break
			}
		}
		out[i] = c
	}
	return out
}
