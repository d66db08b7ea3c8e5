package analytics_test

import (
	"math"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/analytics"
)

const z95 = 1.959963984540054 // Φ⁻¹(0.975)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Wilson by hand, z = 1.959964, z² = 3.841459:
//
//	1 of 3:  p = 0.333333, 1 + z²/n = 2.280486,
//	         centre = (0.333333 + 3.841459/6) / 2.280486 = 0.426916,
//	         half = 1.959964/2.280486 · √(0.222222/3 + 3.841459/36)
//	              = 0.859448 · √(0.074074 + 0.106707) = 0.859448 · 0.425183 = 0.365424,
//	         → (0.061492, 0.792340)
//	0 of 2:  p = 0, 1 + z²/n = 2.920730, centre = 0.960365/2.920730 = 0.328810,
//	         half = 0.671052 · √(3.841459/16) = 0.671052 · 0.489995 = 0.328810,
//	         → (0, 0.657620)
//	0 of 30: → (0, 0.113513);  3 of 30: → (0.034600, 0.256211)
func TestWilsonByHand(t *testing.T) {
	for _, tc := range []struct {
		x, n   int64
		lo, hi float64
	}{
		{1, 3, 0.061492, 0.792340},
		{0, 2, 0, 0.657620},
		{0, 30, 0, 0.113513},
		{3, 30, 0.034600, 0.256211},
		{56, 70, 0.691834, 0.876953},
		{48, 80, 0.490455, 0.700382},
	} {
		lo, hi := analytics.Wilson(tc.x, tc.n, z95)
		if !near(lo, tc.lo, 5e-6) || !near(hi, tc.hi, 5e-6) {
			t.Errorf("Wilson(%d/%d) = (%.6f, %.6f), want (%.6f, %.6f)", tc.x, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
	if lo, hi := analytics.Wilson(0, 0, z95); lo != 0 || hi != 1 {
		t.Errorf("Wilson(0/0) = (%v, %v), want (0, 1)", lo, hi)
	}
}

// Newcombe's hybrid score interval (method 10). The first seven rows are
// the worked examples of Newcombe (1998), Table II, method 10, to four
// places; the others were computed by hand from the Wilson intervals
// above, e.g. 1/3 against 0/2:
//
//	δ = 0.333333 − 0 = 0.333333
//	L = δ − √((0.333333 − 0.061492)² + (0.657620 − 0)²)
//	  = 0.333333 − √(0.073898 + 0.432464) = 0.333333 − 0.711591 = −0.378257
//	U = δ + √((0.792340 − 0.333333)² + (0 − 0)²) = 0.333333 + 0.459007 = 0.792340
//
// and 0/30 against 3/30 (the treated arm converted nobody):
//
//	δ = 0 − 0.1 = −0.1
//	L = δ − √((0 − 0)² + (0.256211 − 0.1)²) = −0.1 − 0.156211 = −0.256211
//	U = δ + √((0.113513 − 0)² + (0.1 − 0.034600)²)
//	  = −0.1 + √(0.012885 + 0.004277) = −0.1 + 0.131006 = 0.031006
func TestNewcombeTable(t *testing.T) {
	for _, tc := range []struct {
		x1, n1, x2, n2 int64
		lo, hi         float64
		tol            float64
	}{
		{56, 70, 48, 80, 0.0524, 0.3339, 5e-5},
		{9, 10, 3, 10, 0.1705, 0.8090, 5e-5},
		{5, 56, 0, 29, -0.0381, 0.1926, 5e-5},
		{0, 10, 0, 20, -0.1611, 0.2775, 5e-5},
		{0, 10, 0, 10, -0.2775, 0.2775, 5e-5},
		{10, 10, 0, 20, 0.6791, 1.0000, 5e-5},
		{10, 10, 0, 10, 0.6075, 1.0000, 5e-5},
		// Tiny samples and zero-conversion arms, by hand.
		{1, 3, 0, 2, -0.378257, 0.792340, 5e-6},
		{0, 30, 3, 30, -0.256211, 0.031006, 5e-6},
		{0, 20, 0, 25, -0.133192, 0.161125, 5e-6},
	} {
		lo, hi := analytics.Newcombe(tc.x1, tc.n1, tc.x2, tc.n2, z95)
		if !near(lo, tc.lo, tc.tol) || !near(hi, tc.hi, tc.tol) {
			t.Errorf("Newcombe(%d/%d − %d/%d) = (%.6f, %.6f), want (%.4f, %.4f)", tc.x1, tc.n1, tc.x2, tc.n2, lo, hi, tc.lo, tc.hi)
		}
		if lo < -1 || hi > 1 || lo > hi {
			t.Errorf("Newcombe(%d/%d − %d/%d) = (%v, %v) leaves [-1, 1]", tc.x1, tc.n1, tc.x2, tc.n2, lo, hi)
		}
	}
}

// Sample sizes by hand, z_{0.975} = 1.959964, z_{0.80} = 0.841621:
//
//	15% vs 10%, k = 1: p̄ = 0.125,
//	  1.959964·√(0.125·0.875·2) = 1.959964·0.467707 = 0.916689
//	  0.841621·√(0.1275 + 0.09) = 0.841621·0.466369 = 0.392506
//	  n = 1.309195² / 0.05² = 1.713992 / 0.0025 = 685.6 per arm
//	12% vs 10%, k = 1: p̄ = 0.11 → (0.867270 + 0.372221)² / 0.0004 = 3840.8 per arm
//	12% vs 10%, k = 10: p̄ = (1.2 + 0.1)/11 = 0.118182,
//	  1.959964·√(0.118182·0.881818·1.1) = 0.663604
//	  0.841621·√(0.1056/10 + 0.09) = 0.266888
//	  n₂ = 0.930492² / 0.0004 = 2164.5, n₁ = 21645.4
func TestSampleSize(t *testing.T) {
	for _, tc := range []struct {
		p1, p2, k float64
		n1, n2    float64
	}{
		{0.15, 0.10, 1, 685.6, 685.6},
		{0.12, 0.10, 1, 3840.8, 3840.8},
		{0.12, 0.10, 10, 21645.4, 2164.5},
	} {
		n1, n2, ok := analytics.SampleSize(tc.p1, tc.p2, tc.k, 0.05, 0.8)
		if !ok || !near(n1, tc.n1, 0.1) || !near(n2, tc.n2, 0.1) {
			t.Errorf("SampleSize(%v, %v, k=%v) = %.1f, %.1f, %v; want %.1f, %.1f", tc.p1, tc.p2, tc.k, n1, n2, ok, tc.n1, tc.n2)
		}
	}
	if _, _, ok := analytics.SampleSize(0.1, 0.1, 1, 0.05, 0.8); ok {
		t.Error("equal rates have a sample size")
	}
}

func arm(n, x, orders int64, revenue, cost string) analytics.LiftArm {
	return analytics.LiftArm{Members: n, Conversions: x, Orders: orders, Revenue: decimal.RequireFromString(revenue), RewardCost: decimal.RequireFromString(cost)}
}

// Comparisons and verdicts against hand-computed tables.
func TestCompare(t *testing.T) {
	t.Run("incremental revenue, cost and ROI", func(t *testing.T) {
		// Treated 1000 members, 150 converted, 1,800 orders worth 30,000,
		// rewards 2,000; holdout 100, 10 converted, 120 orders worth 2,500.
		// Scaled to 1000 members the holdout gives 100 conversions and
		// 25,000: incremental conversions 50, revenue 5,000, cost 2,000,
		// ROI (5,000 − 2,000) / 2,000 = 1.5.
		c := analytics.Compare("treated", arm(1000, 150, 1800, "30000", "2000"), "holdout", arm(100, 10, 120, "2500", "0"))
		if !near(c.ConversionLift, 0.05, 1e-12) || c.RelativeLift == nil || !near(*c.RelativeLift, 0.5, 1e-12) {
			t.Errorf("lift = %v, relative %v; want 0.05, 0.5", c.ConversionLift, c.RelativeLift)
		}
		if !near(c.IncrementalConversions, 50, 1e-9) || !c.IncrementalRevenue.Equal(decimal.NewFromInt(5000)) || !c.IncrementalRewardCost.Equal(decimal.NewFromInt(2000)) {
			t.Errorf("incremental: %v conversions, %s revenue, %s cost", c.IncrementalConversions, c.IncrementalRevenue, c.IncrementalRewardCost)
		}
		if c.ROI == nil || !near(*c.ROI, 1.5, 1e-12) {
			t.Errorf("ROI = %v, want 1.5", c.ROI)
		}
		// 150/1000 − 10/100: (−0.027217, 0.100549) holds 0.
		if c.CI95 == nil || !near(c.CI95[0], -0.027217, 5e-6) || !near(c.CI95[1], 0.100549, 5e-6) || c.Verdict.Status != analytics.VerdictNotYet {
			t.Errorf("CI %v, verdict %+v", c.CI95, c.Verdict)
		}
		s := arm(1000, 150, 1800, "30000", "2000").Stats()
		if !near(s.ConversionRate, 0.15, 1e-12) || !near(s.OrdersPerMember, 1.8, 1e-12) || !s.RevenuePerMember.Equal(decimal.NewFromInt(30)) {
			t.Errorf("stats = %+v", s)
		}
	})

	t.Run("significant", func(t *testing.T) {
		// Newcombe's example (a): (0.0524, 0.3339) excludes 0.
		c := analytics.Compare("treated", arm(70, 56, 0, "0", "0"), "holdout", arm(80, 48, 0, "0", "0"))
		if c.Verdict.Status != analytics.VerdictSignificant || c.Verdict.Text != "significant" || c.Verdict.MoreTreated != nil {
			t.Errorf("verdict = %+v", c.Verdict)
		}
		if c.ROI != nil {
			t.Errorf("ROI without reward cost = %v, want none", *c.ROI)
		}
	})

	t.Run("not yet, equal arms", func(t *testing.T) {
		// 12/100 vs 10/100: (−0.0696, 0.1100) holds 0. 3840.8 per arm
		// needed → 3841 − 100 = 3741 more each, "about 3,800".
		c := analytics.Compare("treated", arm(100, 12, 0, "0", "0"), "holdout", arm(100, 10, 0, "0", "0"))
		v := c.Verdict
		if v.Status != analytics.VerdictNotYet || v.MoreTreated == nil || *v.MoreTreated != 3741 || *v.MoreControl != 3741 ||
			v.Text != "not yet — about 3,800 more members per arm" {
			t.Errorf("verdict = %+v (%v, %v)", v, deref(v.MoreTreated), deref(v.MoreControl))
		}
	})

	t.Run("not yet, a small holdout", func(t *testing.T) {
		// 60/500 vs 5/50, k = 10: 21645.4 and 2164.5 needed → 21146
		// more treated, 2115 more held out.
		c := analytics.Compare("treated", arm(500, 60, 0, "0", "0"), "holdout", arm(50, 5, 0, "0", "0"))
		v := c.Verdict
		if v.Status != analytics.VerdictNotYet || deref(v.MoreTreated) != 21146 || deref(v.MoreControl) != 2115 ||
			v.Text != "not yet — about 2,200 more holdout members and 22,000 more treated" {
			t.Errorf("verdict = %+v (%v, %v)", v, deref(v.MoreTreated), deref(v.MoreControl))
		}
	})

	t.Run("zero conversions in both arms", func(t *testing.T) {
		c := analytics.Compare("treated", arm(20, 0, 0, "0", "0"), "holdout", arm(25, 0, 0, "0", "0"))
		if c.CI95 == nil || !near(c.CI95[0], -0.133192, 5e-6) || !near(c.CI95[1], 0.161125, 5e-6) {
			t.Errorf("CI = %v", c.CI95)
		}
		if c.RelativeLift != nil || c.Verdict.Status != analytics.VerdictNotYet || c.Verdict.MoreTreated != nil ||
			c.Verdict.Text != "not yet — no difference between the arms so far" {
			t.Errorf("relative %v, verdict %+v", c.RelativeLift, c.Verdict)
		}
	})

	t.Run("an empty arm", func(t *testing.T) {
		c := analytics.Compare("path a", arm(40, 4, 0, "10", "0"), "holdout", analytics.LiftArm{})
		if c.Verdict.Status != analytics.VerdictNoData || c.Verdict.Text != "no data yet — no holdout members" || c.CI95 != nil || c.ROI != nil {
			t.Errorf("comparison = %+v", c)
		}
	})

	t.Run("cheaper arm has no ROI", func(t *testing.T) {
		// Path b costs less per member than path a: no ROI to report.
		c := analytics.Compare("path b", arm(100, 10, 10, "1000", "50"), "path a", arm(100, 10, 10, "900", "80"))
		if c.ROI != nil || !c.IncrementalRewardCost.Equal(decimal.NewFromInt(-30)) || !c.IncrementalRevenue.Equal(decimal.NewFromInt(100)) {
			t.Errorf("ROI %v, cost %s, revenue %s", c.ROI, c.IncrementalRewardCost, c.IncrementalRevenue)
		}
	})
}

func deref(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}
