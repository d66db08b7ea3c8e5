package analytics

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shopspring/decimal"
)

func TestRFMValuesOf(t *testing.T) {
	asOf, _ := ParseDay("2024-12-31")
	for _, tc := range []struct {
		name   string
		txs    []Transaction
		want   RFMValues
		wantOK bool
	}{
		{
			// 2024 is a leap year: the 365-day window ending 2024-12-31
			// starts 2024-01-02.
			name:   "window edges, same day, after asOf",
			txs:    []Transaction{tx("2024-01-01", "100"), tx("2024-01-02", "10"), tx("2024-06-01", "5"), tx("2024-06-01", "2.50"), tx("2025-01-01", "1000")},
			want:   RFMValues{RecencyDays: 213, Frequency: 2, Monetary: decimal.RequireFromString("17.5")},
			wantOK: true,
		},
		{
			name:   "bought on the day",
			txs:    []Transaction{tx("2024-12-31", "3")},
			want:   RFMValues{RecencyDays: 0, Frequency: 1, Monetary: decimal.NewFromInt(3)},
			wantOK: true,
		},
		{
			name:   "only before the window",
			txs:    []Transaction{tx("2022-12-31", "50")},
			want:   RFMValues{RecencyDays: 731, Frequency: 0, Monetary: decimal.Zero},
			wantOK: true,
		},
		{name: "only after asOf", txs: []Transaction{tx("2025-01-01", "50")}},
		{name: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := RFMValuesOf(tc.txs, asOf, 365)
			if ok != tc.wantOK || got.RecencyDays != tc.want.RecencyDays || got.Frequency != tc.want.Frequency || !got.Monetary.Equal(tc.want.Monetary) {
				t.Errorf("RFMValuesOf = %+v, %v; want %+v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// TestRFMQuintileScores: a score is 1 + the number of whole fifths of the
// population strictly worse than the customer.
func TestRFMQuintileScores(t *testing.T) {
	for _, tc := range []struct {
		name      string
		frequency []int
		want      []int
	}{
		// Distinct: breakpoints at the 2nd, 4th, 6th and 8th values.
		{"distinct", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []int{1, 1, 2, 2, 3, 3, 4, 4, 5, 5}},
		// 60% single buyers all score 1; a 2 has 60% strictly below it
		// (1 + 3 = 4); 3 and 5 have 80% or more (5). Scores 2 and 3 go
		// unused rather than split equal customers.
		{"ties", []int{1, 1, 1, 1, 1, 1, 2, 2, 3, 5}, []int{1, 1, 1, 1, 1, 1, 4, 4, 5, 5}},
		{"input order does not matter", []int{5, 1, 2, 1, 1, 3, 1, 2, 1, 1}, []int{5, 1, 4, 1, 1, 5, 1, 4, 1, 1}},
		{"everyone equal", []int{3, 3, 3, 3}, []int{1, 1, 1, 1}},
		{"one customer", []int{7}, []int{1}},
		// n = 2: the better has half the population below it: 1 + 2 = 3.
		{"two customers", []int{1, 2}, []int{1, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			values := make([]RFMValues, len(tc.frequency))
			for i, f := range tc.frequency {
				values[i] = RFMValues{RecencyDays: 1, Frequency: f, Monetary: decimal.NewFromInt(1)}
			}
			q, err := NewRFMQuintiles(values, 0, 365)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, v := range values {
				_, f, _ := q.Scores(v)
				got = append(got, f)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("frequency scores = %v, want %v (breakpoints %v)", got, tc.want, q.Frequency)
			}
		})
	}
}

func TestRFMRecencyAndMonetaryDirections(t *testing.T) {
	// Fewer days since the last purchase is better; equal amounts written
	// differently are equal.
	values := []RFMValues{
		{RecencyDays: 0, Frequency: 1, Monetary: decimal.RequireFromString("10.00")},
		{RecencyDays: 10, Frequency: 1, Monetary: decimal.RequireFromString("10")},
		{RecencyDays: 10, Frequency: 1, Monetary: decimal.RequireFromString("99.5")},
		{RecencyDays: 30, Frequency: 1, Monetary: decimal.RequireFromString("0.5")},
		{RecencyDays: 100, Frequency: 1, Monetary: decimal.RequireFromString("3")},
	}
	q, err := NewRFMQuintiles(values, 0, 365)
	if err != nil {
		t.Fatal(err)
	}
	var rs, ms []int
	for _, v := range values {
		r, _, m := q.Scores(v)
		rs, ms = append(rs, r), append(ms, m)
	}
	if want := []int{5, 3, 3, 2, 1}; !slices.Equal(rs, want) {
		t.Errorf("recency scores = %v, want %v", rs, want)
	}
	if want := []int{3, 3, 5, 1, 2}; !slices.Equal(ms, want) {
		t.Errorf("monetary scores = %v, want %v", ms, want)
	}
	// Outside the window (no purchase in it): the lowest scores, and not
	// part of the population.
	if r, f, m := q.Scores(RFMValues{RecencyDays: 400, Monetary: decimal.Zero}); r != 1 || f != 1 || m != 1 {
		t.Errorf("lapsed customer scores %d %d %d, want 1 1 1", r, f, m)
	}
}

// TestRFMScoresMatchTheDefinition compares the breakpoint scores with the
// definition, counted directly, on random populations with many ties.
func TestRFMScoresMatchTheDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for round := 0; round < 200; round++ {
		n := 1 + rng.IntN(60)
		values := make([]RFMValues, n)
		for i := range values {
			values[i] = RFMValues{RecencyDays: rng.IntN(8), Frequency: 1 + rng.IntN(4), Monetary: decimal.New(int64(rng.IntN(6)), -1)}
		}
		q, err := NewRFMQuintiles(values, 0, 365)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			var worseR, worseF, worseM int
			for _, u := range values {
				if u.RecencyDays > v.RecencyDays {
					worseR++
				}
				if u.Frequency < v.Frequency {
					worseF++
				}
				if u.Monetary.LessThan(v.Monetary) {
					worseM++
				}
			}
			def := func(worse int) int { return 1 + min(4, 5*worse/n) }
			r, f, m := q.Scores(v)
			if r != def(worseR) || f != def(worseF) || m != def(worseM) {
				t.Fatalf("n=%d %+v: scores %d %d %d, by definition %d %d %d", n, v, r, f, m, def(worseR), def(worseF), def(worseM))
			}
		}
	}
}

func TestRFMQuintilesNeedsSomeoneInTheWindow(t *testing.T) {
	if _, err := NewRFMQuintiles([]RFMValues{{RecencyDays: 500}}, 0, 365); err == nil {
		t.Error("no error without anyone in the window")
	}
	if _, err := NewRFMQuintiles([]RFMValues{{Frequency: 1}}, 0, 0); err == nil {
		t.Error("no error for a window of 0 days")
	}
}
