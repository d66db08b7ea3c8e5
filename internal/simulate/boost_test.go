package simulate

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/templates"
)

// A boost costs the points the ledger recorded it adding to each order
// (OrderRecord.BoostPoints under its key), not every point above ×1: a
// higher tier's own multiplier, and orders another boost set, are not its
// cost.
func TestReportBoostCostIsTheLedgersBoostPoints(t *testing.T) {
	p, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
	key := "m-1#winback#1#double#2027"
	other := "m-1#other#1#double#2027"
	r := &Report{}
	b := newBuilder(r, map[string]journey.Definition{"winback": {Name: "winback"}}, p, func(string) float64 { return 0 })
	line := &RewardLine{Journey: "winback", Step: "double", Reward: "boost ×2"}
	b.rewards[[3]string{"winback", "double", "boost ×2"}] = line
	acc := loyalty.Account{
		Boosts: []loyalty.Boost{{Key: key, Multiplier: decimal.NewFromInt(2), From: at, Until: at.Add(14 * 24 * time.Hour)}},
		Orders: []loyalty.OrderRecord{
			// A V3 member's ×2 tier multiplier while the boost was on:
			// 100 of base, 200 points, 100 of them the boost's.
			{OrderID: "o-1", At: at.Add(time.Hour), Base: decimal.NewFromInt(100), Multiplier: decimal.NewFromInt(2), Points: 200, Boost: key, BoostPoints: 60},
			// The tier's own ×2 after the boost ended: not the boost's.
			{OrderID: "o-2", At: at.Add(20 * 24 * time.Hour), Base: decimal.NewFromInt(100), Multiplier: decimal.NewFromInt(2), Points: 200},
			// Another journey's boost at the same multiplier.
			{OrderID: "o-3", At: at.Add(2 * time.Hour), Base: decimal.NewFromInt(50), Multiplier: decimal.NewFromInt(2), Points: 100, Boost: other, BoostPoints: 50},
		},
	}
	b.boosts(acc)
	if line.Points != 60 {
		t.Errorf("boost line = %d points, want the 60 the ledger recorded under its key", line.Points)
	}
}
