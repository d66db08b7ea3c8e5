package analytics

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"
)

// DefaultRFMWindowDays is the RFM window when the programme names none.
const DefaultRFMWindowDays = 365

// RFMValues are a customer's raw RFM measures on a day.
type RFMValues struct {
	// RecencyDays is the number of days from the last purchase to the
	// day of scoring (0: bought that day).
	RecencyDays int `json:"recency_days"`
	// Frequency is the number of days with a purchase in the window.
	Frequency int `json:"frequency"`
	// Monetary is the amount bought in the window.
	Monetary decimal.Decimal `json:"monetary"`
}

// RFMValuesOf measures a customer on the day asOf over the window of the
// windowDays days ending with asOf (asOf−windowDays < day ≤ asOf); later
// transactions are ignored. ok is false for a customer without any purchase
// on or before asOf, who has no RFM. A customer whose purchases all precede
// the window has Frequency 0 and Monetary 0.
func RFMValuesOf(txs []Transaction, asOf Day, windowDays int) (v RFMValues, ok bool) {
	days := dailyTotals(txs, asOf)
	if len(days) == 0 {
		return RFMValues{}, false
	}
	v = RFMValues{RecencyDays: int(asOf - days[len(days)-1].Day), Monetary: decimal.Zero}
	for _, d := range days {
		if d.Day > asOf-Day(windowDays) {
			v.Frequency++
			v.Monetary = v.Monetary.Add(d.Amount)
		}
	}
	return v, true
}

// RFMQuintiles are the breakpoints of the 1–5 scores on a day: what a
// refresh computes from every member's RFMValues before scoring any of
// them, and what explains a score afterwards.
//
// Ties are handled by rank, deterministically: a customer's score on a
// measure is 1 plus the number of whole fifths of the population that are
// strictly worse than them (more days since the last purchase; fewer
// purchase days; less spent). Equal values therefore always get equal
// scores and no score depends on the order of the input; a value many
// customers share (a single purchase in the window) takes the score of the
// lowest of them, so some scores may go unused — with 60% single buyers,
// frequency scores are 1 for them and 4 or 5 for the rest. In terms of the
// breakpoints: with the population sorted worst first, Bₛ is the value at
// position ⌈s·n/5⌉ (1-based) and the score is 1 + #{s ∈ 1..4 : value
// better than Bₛ}.
//
// The population is the customers with at least one purchase in the
// window; a customer whose purchases all precede it scores 1, 1, 1.
type RFMQuintiles struct {
	AsOf       Day `json:"as_of"`
	WindowDays int `json:"window_days"`
	// Customers is the population the breakpoints were taken over.
	Customers int                `json:"customers"`
	Recency   [4]int             `json:"recency_days"`
	Frequency [4]int             `json:"frequency"`
	Monetary  [4]decimal.Decimal `json:"monetary"`
}

// NewRFMQuintiles takes the breakpoints over the customers' values measured
// by RFMValuesOf at asOf over windowDays.
func NewRFMQuintiles(values []RFMValues, asOf Day, windowDays int) (RFMQuintiles, error) {
	if windowDays < 1 {
		return RFMQuintiles{}, fmt.Errorf("rfm: window of %d days, want 1 or more", windowDays)
	}
	var rec, freq []int
	var mon []decimal.Decimal
	for _, v := range values {
		if v.Frequency > 0 {
			rec = append(rec, v.RecencyDays)
			freq = append(freq, v.Frequency)
			mon = append(mon, v.Monetary)
		}
	}
	if len(rec) == 0 {
		return RFMQuintiles{}, errors.New("rfm: no customer bought in the window")
	}
	return RFMQuintiles{
		AsOf: asOf, WindowDays: windowDays, Customers: len(rec),
		// Worst first: the most days since the last purchase.
		Recency:   breakpoints(rec, func(a, b int) int { return cmp.Compare(b, a) }),
		Frequency: breakpoints(freq, cmp.Compare[int]),
		Monetary:  breakpoints(mon, decimal.Decimal.Cmp),
	}, nil
}

// breakpoints sorts vals worst first by better (better(a, b) > 0 when a is
// better than b) and takes the value at position ⌈s·n/5⌉ for s = 1..4.
func breakpoints[T any](vals []T, better func(a, b T) int) [4]T {
	slices.SortFunc(vals, better)
	n := len(vals)
	var b [4]T
	for s := 1; s <= 4; s++ {
		b[s-1] = vals[(s*n+4)/5-1]
	}
	return b
}

// score is 1 + the number of breakpoints v is strictly better than: v is
// better than Bₛ exactly when at least ⌈s·n/5⌉ customers, a share of s/5 or
// more, are strictly worse than v.
func score[T any](v T, b [4]T, better func(a, b T) int) int {
	s := 1
	for _, bp := range b {
		if better(v, bp) > 0 {
			s++
		}
	}
	return s
}

// Scores are the 1–5 recency, frequency and monetary scores of values
// (5 best).
func (q RFMQuintiles) Scores(v RFMValues) (r, f, m int) {
	return score(v.RecencyDays, q.Recency, func(a, b int) int { return cmp.Compare(b, a) }),
		score(v.Frequency, q.Frequency, cmp.Compare[int]),
		score(v.Monetary, q.Monetary, decimal.Decimal.Cmp)
}

// Segmenter names the segment of a customer's three scores. The segments
// are data, not code: loyalty.RFMRules, loaded from the rfm section of
// templates/program.yaml, is the Segmenter of the product.
type Segmenter interface {
	Segment(r, f, m int) string
}

// RFMScore is a customer's RFM scores and segment.
type RFMScore struct {
	Values  RFMValues `json:"values"`
	R       int       `json:"r"`
	F       int       `json:"f"`
	M       int       `json:"m"`
	Segment string    `json:"segment"`
}

// ScoreRFM scores every customer on the day asOf over the window of
// windowDays days and names their segment. The result is in the order of
// customers; a customer without any purchase on or before asOf gets the
// zero RFMScore (scores 0, no segment).
func ScoreRFM(customers [][]Transaction, asOf Day, windowDays int, seg Segmenter) ([]RFMScore, RFMQuintiles, error) {
	values := make([]RFMValues, len(customers))
	has := make([]bool, len(customers))
	for i, txs := range customers {
		values[i], has[i] = RFMValuesOf(txs, asOf, windowDays)
	}
	q, err := NewRFMQuintiles(values, asOf, windowDays)
	if err != nil {
		return nil, RFMQuintiles{}, err
	}
	out := make([]RFMScore, len(customers))
	for i, v := range values {
		if !has[i] {
			continue
		}
		r, f, m := q.Scores(v)
		out[i] = RFMScore{Values: v, R: r, F: f, M: m, Segment: seg.Segment(r, f, m)}
	}
	return out, q, nil
}
