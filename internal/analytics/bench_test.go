package analytics

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkFit100k fits BG/NBD and Gamma-Gamma to 100,000 simulated
// customers of a shop, in days over two years: the budget is 10 s
// on 2 cores (go test -bench Fit100k -cpu 2). Summarising is outside the
// timer (the refresh does it page by page as it reads members); the
// groups metric is the number of distinct (x, tₓ, T) the BG/NBD likelihood
// sums over.
func BenchmarkFit100k(b *testing.B) {
	rng := rand.New(rand.NewPCG(100, 100))
	bg := BGNBDParams{R: 0.8, Alpha: 40, A: 0.6, B: 2.5}
	gg := GammaGammaParams{P: 2, Q: 4, V: 60}
	customers, end := simulateShop(rng, bg, gg, 100_000)
	summaries := make([]Summary, 0, len(customers))
	for _, txs := range customers {
		if s, ok := Summarise(txs, end, PeriodDay); ok {
			summaries = append(summaries, s)
		}
	}
	var m Model
	for b.Loop() {
		var err error
		m, err = Fit(summaries, end, PeriodDay, FitOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(m.BGNBD.Fit.Customers), "customers")
	b.ReportMetric(float64(m.BGNBD.Fit.Groups), "bgnbd-groups")
	b.ReportMetric(float64(m.BGNBD.Fit.Evaluations+m.GammaGamma.Fit.Evaluations), "evaluations")
	b.Logf("bgnbd %+v (truth %+v), gammagamma %+v (truth %+v)", m.BGNBD.Params, bg, m.GammaGamma.Params, gg)
}
