package analytics

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// cdnowFile is the CDNOW sample as committed (testdata/README.md says where
// it comes from), so a clean clone tests without ../shared.
const cdnowFile = "testdata/CDNOW_sample.txt"

// cdnowCalibration reads the CDNOW sample and summarises its 2,357
// customers at the literature's calibration end, 1997-09-30 (39 weeks from
// the first purchases), in weeks.
func cdnowCalibration(t testing.TB) []Summary {
	t.Helper()
	f, err := os.Open(cdnowFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	customers, err := ReadTransactions(f, FormatCDNOW)
	if err != nil {
		t.Fatal(err)
	}
	ss := SummariseAll(customers, DayFromDate(1997, 9, 30), PeriodWeek)
	if got, want := len(ss), 2357; got != want {
		t.Fatalf("%d customers, want %d", got, want)
	}
	return ss
}

// TestCDNOWCopyMatchesShared keeps the committed copy equal to the shared
// data set it was taken from, where that is present.
func TestCDNOWCopyMatchesShared(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "data", "cdnow", "CDNOW_sample.txt")
	want, err := os.ReadFile(shared)
	if err != nil {
		// ../shared sits beside the working checkout, not in the
		// repository: a clone elsewhere (CI's) tests the committed copy.
		t.Skipf("the shared CDNOW sample is not here: %v", err)
	}
	got, err := os.ReadFile(cdnowFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s", cdnowFile, shared)
	}
}

// TestCDNOWFit fits both models to the CDNOW calibration period and
// compares them with the literature: BG/NBD r = 0.243, α = 4.414,
// a = 0.793, b = 2.426, LL = −9582.4 (Fader, Hardie & Lee 2005, table 1 and
// their BG/NBD Excel note), and Gamma-Gamma p = 6.25, q = 3.74, γ = 15.44
// on the 946 repeat customers (Fader & Hardie, "The Gamma-Gamma model of
// monetary value", 2013). It then checks that the estimate is a maximum:
// no parameter set within ±1% or ±5% of it, one parameter or several at a
// time, has a higher likelihood.
func TestCDNOWFit(t *testing.T) {
	ss := cdnowCalibration(t)
	m, err := Fit(ss, DayFromDate(1997, 9, 30), PeriodWeek, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bg, gg := m.BGNBD, m.GammaGamma
	t.Logf("bgnbd %+v se %+v fit %+v", bg.Params, bg.StdErr, bg.Fit)
	t.Logf("gammagamma %+v se %+v fit %+v", gg.Params, gg.StdErr, gg.Fit)
	for _, c := range []struct {
		name      string
		got, want float64
		tol       float64 // the literature's rounding
	}{
		{"r", bg.Params.R, 0.243, 0.0005},
		{"alpha", bg.Params.Alpha, 4.414, 0.0005},
		{"a", bg.Params.A, 0.793, 0.0005},
		{"b", bg.Params.B, 2.426, 0.0005},
		{"ll", bg.Fit.LogLikelihood, -9582.4, 0.05},
		{"p", gg.Params.P, 6.25, 0.005},
		{"q", gg.Params.Q, 3.74, 0.005},
		{"v", gg.Params.V, 15.44, 0.005},
	} {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.5g, literature %g (±%g)", c.name, c.got, c.want, c.tol)
		}
	}
	if bg.Fit.Customers != 2357 || gg.Fit.Customers != 946 {
		t.Errorf("customers: bgnbd %d (want 2357), gammagamma %d (want 946)", bg.Fit.Customers, gg.Fit.Customers)
	}

	bgLL := newBGData(ss).logLik(1)
	var repeat []Summary
	for _, s := range ss {
		if s.Frequency > 0 {
			repeat = append(repeat, s)
		}
	}
	ggLL := newGGData(repeat).logLik(1)
	for _, step := range []float64{0.01, 0.05} {
		checkNoBetterNeighbour(t, "bgnbd", bgLL, bg.Params.slice(), bg.Fit.LogLikelihood, step)
		checkNoBetterNeighbour(t, "gammagamma", ggLL, gg.Params.slice(), gg.Fit.LogLikelihood, step)
	}
}

// checkNoBetterNeighbour evaluates the likelihood at every point of the
// grid {−step, 0, +step}ⁿ around the estimate (each parameter alone and
// every combination) and fails if any scores above it.
func checkNoBetterNeighbour(t *testing.T, model string, ll logLikFunc, est []float64, best float64, step float64) {
	t.Helper()
	n := len(est)
	points := 1
	for range n {
		points *= 3
	}
	p := make([]float64, n)
	for k := 0; k < points; k++ {
		code, moved := k, false
		for i := range p {
			d := float64(code%3 - 1)
			code /= 3
			p[i] = est[i] * (1 + d*step)
			moved = moved || d != 0
		}
		if !moved {
			continue
		}
		if ll := ll(p, nil); ll > best {
			t.Errorf("%s: LL at %.6g (±%.0f%%) is %.6f, above the estimate's %.6f", model, p, 100*step, ll, best)
		}
	}
}
