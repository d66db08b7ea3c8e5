package analytics_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/templates"
)

// TestScoreRFMWithTheProgrammeSegments scores a small shop with the
// segments of templates/program.yaml.
func TestScoreRFMWithTheProgrammeSegments(t *testing.T) {
	p, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		t.Fatal(err)
	}
	asOf := analytics.DayFromDate(2024, 12, 31)
	buys := func(daysAgo []int, amount int64) []analytics.Transaction {
		var txs []analytics.Transaction
		for _, d := range daysAgo {
			txs = append(txs, analytics.Transaction{Day: asOf - analytics.Day(d), Amount: decimal.NewFromInt(amount)})
		}
		return txs
	}
	// A background of 100 members sets the quintiles: last purchases
	// spread over 2..299 days ago; 30% one purchase day in the window,
	// 20% two, 20% three, 20% four, 10% six; 10 to 59 a purchase.
	var all [][]analytics.Transaction
	for i := 0; i < 100; i++ {
		n := []int{1, 1, 1, 2, 2, 3, 3, 4, 4, 6}[i%10]
		days := make([]int, n)
		for k := range days {
			days[k] = 3*i + 2 + k
		}
		all = append(all, buys(days, int64(10+(i*37)%50)))
	}
	background := len(all)
	// Against it, each of these has clear scores (in the comments).
	customers := []struct {
		name string
		txs  []analytics.Transaction
		want string
	}{
		{"weekly big spender", buys([]int{1, 8, 15, 22, 29, 36, 43, 50}, 100), "champions"},                   // 5 5 5
		{"weekly small spender", buys([]int{2, 9, 16, 23, 30, 37, 44, 51}, 4), "loyal"},                       // 5 5 2
		{"was weekly, gone for months", buys([]int{200, 207, 214, 221, 228, 235, 242, 249}, 90), "cant_lose"}, // 2 5 5
		{"was regular, gone", buys([]int{190, 260, 330}, 10), "at_risk"},                                      // 2 3 ·
		{"regular, slowing", buys([]int{150, 200, 250}, 10), "need_attention"},                                // 3 3 ·
		{"two purchases, recent", buys([]int{3, 40}, 30), "potential_loyalists"},                              // 5 2 ·
		{"first purchase yesterday", buys([]int{1}, 20), "new"},                                               // 5 1 ·
		{"one purchase five months ago", buys([]int{150}, 20), "about_to_sleep"},                              // 3 1 ·
		{"one purchase seven months ago", buys([]int{225}, 20), "hibernating"},                                // 2 1 ·
		{"one purchase ten months ago", buys([]int{300}, 20), "lost"},                                         // 1 1 ·
		{"bought two years ago", buys([]int{730}, 500), "lost"},                                               // 1 1 1: outside the window
		{"never bought", nil, ""},
	}
	for _, c := range customers {
		all = append(all, c.txs)
	}
	scores, q, err := analytics.ScoreRFM(all, asOf, p.RFM.WindowDays, p.RFM)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("breakpoints: recency %v frequency %v monetary %v over %d customers", q.Recency, q.Frequency, q.Monetary, q.Customers)
	for i, c := range customers {
		s := scores[background+i]
		if s.Segment != c.want {
			t.Errorf("%s: scores %d %d %d segment %q, want %q", c.name, s.R, s.F, s.M, s.Segment, c.want)
		}
	}
	if s := scores[len(scores)-1]; s.R != 0 || s.F != 0 || s.M != 0 {
		t.Errorf("never bought: scores %d %d %d, want none", s.R, s.F, s.M)
	}
}
