package analytics

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mathext"
)

// TestHyp2f1ClosedForms checks both evaluations against closed forms:
// ₂F₁(1, 1; 2; z) = −ln(1−z)/z and ₂F₁(a, b; b; z) = (1−z)^−a, the latter
// also far beyond float64's range (a = 300, z = 0.99: ln = 1381.6).
func TestHyp2f1ClosedForms(t *testing.T) {
	for _, tc := range []struct {
		a, b, c, z float64
		wantLog    float64
	}{
		{1, 1, 2, 0.5, math.Log(-math.Log(0.5) / 0.5)},
		{1, 1, 2, 0.97, math.Log(-math.Log(0.03) / 0.97)},
		{2.5, 3, 3, 0.9, -2.5 * math.Log(0.1)},
		{300, 7, 7, 0.99, -300 * math.Log(0.01)},
		{0.3, 40, 40, 0.999, -0.3 * math.Log(0.001)},
	} {
		series, err := logHyp2f1Series(tc.a, tc.b, tc.c, tc.z)
		if err != nil {
			t.Fatal(err)
		}
		if !closeTo(series, tc.wantLog, 1e-12) {
			t.Errorf("series ln 2F1(%g, %g; %g; %g) = %.15g, want %.15g", tc.a, tc.b, tc.c, tc.z, series, tc.wantLog)
		}
		got, err := logHyp2f1(tc.a, tc.b, tc.c, tc.z)
		if err != nil {
			t.Fatal(err)
		}
		if !closeTo(got, tc.wantLog, 1e-10) {
			t.Errorf("ln 2F1(%g, %g; %g; %g) = %.15g, want %.15g", tc.a, tc.b, tc.c, tc.z, got, tc.wantLog)
		}
	}
}

// TestHyp2f1GonumAgreesWithSeries checks gonum's Hypergeo against the
// series over the region logHyp2f1 uses it in, at the arguments of eq. 10,
// (r+x, b+x; a+b+x−1; z), for the parameter ranges fits produce.
func TestHyp2f1GonumAgreesWithSeries(t *testing.T) {
	var checked, fallback int
	var worst float64
	for _, r := range []float64{0.05, 0.25, 1, 3, 10} {
		for _, a := range []float64{0.2, 0.8, 1.5, 4} {
			for _, b := range []float64{0.3, 1, 2.5, 10} {
				for _, x := range []float64{0, 1, 2, 5, 10, 30, 60, 100, 140} {
					for _, z := range []float64{1e-4, 0.1, 0.4, 0.7, 0.85, 0.9, 0.93, 0.95} {
						c := a + b + x - 1
						if c <= 0 || c > gonumMaxC {
							continue
						}
						s, err := logHyp2f1Series(r+x, b+x, c, z)
						if err != nil {
							t.Fatal(err)
						}
						g := mathext.Hypergeo(r+x, b+x, c, z)
						if !(g > 0) || math.IsInf(g, 0) {
							fallback++ // logHyp2f1 uses the series then
							continue
						}
						checked++
						// Relative to the function's value, not its log.
						d := math.Abs(math.Log(g) - s)
						worst = math.Max(worst, d)
						if d > 1e-9 {
							t.Errorf("r=%g a=%g b=%g x=%g z=%g: gonum ln 2F1 = %.15g, series %.15g", r, a, b, x, z, math.Log(g), s)
						}
					}
				}
			}
		}
	}
	t.Logf("%d argument sets agree to a relative %.2g; %d more overflow in gonum and take the series", checked, worst, fallback)
}

func TestHyp2f1SeriesRefusesOutsideItsDomain(t *testing.T) {
	for _, args := range [][4]float64{{1, 1, -0.5, 0.5}, {1, 1, 2, 1}, {1, 1, 2, -0.1}, {-1, 1, 2, 0.5}} {
		if _, err := logHyp2f1Series(args[0], args[1], args[2], args[3]); err == nil {
			t.Errorf("series at %v: no error", args)
		}
	}
}
