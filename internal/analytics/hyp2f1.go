package analytics

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Limits of the region where gonum's Hypergeo (Cephes hyp2f1) is used for
// the BG/NBD conditional expectation. Cephes does not report its own loss of
// precision, and its large-argument transformations call math.Gamma(c),
// which overflows near 171; TestHyp2f1GonumAgreesWithSeries checks gonum
// against the series below over this region.
const (
	gonumMaxC = 150
	gonumMaxZ = 0.95
)

// hyp2f1SeriesMaxTerms bounds the series; at the largest arguments the
// models meet (x in the hundreds, z near 0.99) it needs a few tens of
// thousands of terms.
const hyp2f1SeriesMaxTerms = 2_000_000

// logHyp2f1 is ln ₂F₁(a, b; c; z) for a, b > 0 and 0 ≤ z < 1, the arguments
// of the BG/NBD conditional expectation (eq. 10 of Fader, Hardie & Lee
// 2005). It uses gonum's mathext.Hypergeo where that is checked to be
// accurate (c ≤ gonumMaxC, z ≤ gonumMaxZ, a finite positive result), and
// otherwise logHyp2f1Series, whose convergence is checked. c ≤ 0 (only
// possible for x = 0 when the fitted a + b ≤ 1) is left to gonum, whose
// series handles a negative non-integer c; a non-finite result is an error.
func logHyp2f1(a, b, c, z float64) (float64, error) {
	if z == 0 {
		return 0, nil
	}
	if c <= gonumMaxC && z <= gonumMaxZ {
		if v := mathext.Hypergeo(a, b, c, z); v > 0 && !math.IsInf(v, 0) {
			return math.Log(v), nil
		}
	}
	if c <= 0 {
		return 0, fmt.Errorf("2F1(%g, %g; %g; %g): no finite positive value for c ≤ 0", a, b, c, z)
	}
	return logHyp2f1Series(a, b, c, z)
}

// logHyp2f1Series sums the defining series Σ (a)ₖ(b)ₖ/((c)ₖ k!) zᵏ for
// a, b, c > 0 and 0 ≤ z < 1, where every term is positive, so the sum has
// no cancellation; it rescales as it goes so that sums beyond float64's
// range (large x, z near 1) come back as their logarithm.
//
// The convergence check bounds the tail. The ratio of consecutive terms is
// ρₖ = z·f(k) with f(k) = (a+k)(b+k)/((c+k)(k+1)) = 1 + g(k),
// g(k) = (αk+β)/((c+k)(k+1)), α = a+b−c−1, β = ab−c, and f(k) → 1. Past
// monoFrom(α, β, c) g is monotone, so every later ratio is at most
// ρ* = max(ρₖ, z) and, once ρ* < 1, the tail is at most termₖ·ρ*/(1−ρ*);
// the sum stops when that is below 1e-16 of the sum.
func logHyp2f1Series(a, b, c, z float64) (float64, error) {
	if !(a > 0 && b > 0 && c > 0 && z >= 0 && z < 1) {
		return 0, fmt.Errorf("2F1(%g, %g; %g; %g): the series needs a, b, c > 0 and 0 ≤ z < 1", a, b, c, z)
	}
	const (
		rescaleAbove = 1e250
		tolerance    = 1e-16
	)
	from := monoFrom(a+b-c-1, a*b-c, c)
	var logScale float64
	term, sum := 1.0, 1.0
	for k := 0; k < hyp2f1SeriesMaxTerms; k++ {
		fk := float64(k)
		ratio := (a + fk) * (b + fk) / ((c + fk) * (fk + 1)) * z
		term *= ratio
		sum += term
		if sum > rescaleAbove {
			sum /= rescaleAbove
			term /= rescaleAbove
			logScale += math.Log(rescaleAbove)
		}
		if fk >= from {
			// term is now term k+1; ρₖ₊₁, ρₖ₊₂, … lie between ρₖ and z.
			rho := math.Max(ratio, z)
			if rho < 1 && term*rho/(1-rho) <= tolerance*sum {
				return math.Log(sum) + logScale, nil
			}
		}
	}
	return 0, fmt.Errorf("2F1(%g, %g; %g; %g): the series did not converge in %d terms", a, b, c, z, hyp2f1SeriesMaxTerms)
}

// monoFrom is a k beyond which g(k) = (αk+β)/((c+k)(k+1)) is monotone, for
// c > 0 and k ≥ 0. g′ has the sign of −αk² − 2βk + αc − β(c+1), a quadratic
// with at most two roots; beyond the larger one the sign no longer changes.
func monoFrom(alpha, beta, c float64) float64 {
	qa, qb, qc := -alpha, -2*beta, alpha*c-beta*(c+1)
	if qa == 0 {
		if qb == 0 {
			return 0
		}
		return math.Max(0, -qc/qb)
	}
	disc := qb*qb - 4*qa*qc
	if disc < 0 {
		return 0
	}
	sq := math.Sqrt(disc)
	return math.Max(0, math.Max((-qb+sq)/(2*qa), (-qb-sq)/(2*qa)))
}
