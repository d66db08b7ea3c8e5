package engine_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
)

func TestHoldoutShares(t *testing.T) {
	const n = 40000
	pct := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	split := journey.Step{ID: "ab", Split: []journey.Path{{Weight: 50, Goto: "a"}, {Weight: 50, Goto: "b"}}}
	arms := map[loyalty.Arm]int{}
	// Path "a" among each arm: the holdout must not pick one path's
	// members more than the other's.
	pathA := map[loyalty.Arm]int{}
	for i := range n {
		id := "m-" + itoa(i)
		arm := engine.Holdout(id, "winback", pct("10"), pct("2"))
		arms[arm]++
		if _, p := engine.Split(split, id, "winback"); p == "a" {
			pathA[arm]++
		}
		if again := engine.Holdout(id, "winback", pct("10"), pct("2")); again != arm {
			t.Fatalf("member %s was %s, then %s", id, arm, again)
		}
		// Programme-wide: by the member alone, so out of every journey.
		if arm == loyalty.ArmProgrammeHoldout {
			if other := engine.Holdout(id, "activation", decimal.Zero, pct("2")); other != loyalty.ArmProgrammeHoldout {
				t.Fatalf("member %s is in the programme holdout of winback but %s of activation", id, other)
			}
		}
		// No holdout: everybody is treated.
		if got := engine.Holdout(id, "winback", decimal.Zero, decimal.Zero); got != loyalty.ArmTreated {
			t.Fatalf("member %s with no holdout = %s", id, got)
		}
	}
	// Expected: programme 2% = 800; journey 10% of the other 98% = 3920.
	// Binomial standard deviations are about 28 and 60; allow 4 of them.
	within := func(name string, got, want, tol int) {
		if got < want-tol || got > want+tol {
			t.Errorf("%s = %d of %d, want %d ± %d", name, got, n, want, tol)
		}
	}
	within("programme holdout", arms[loyalty.ArmProgrammeHoldout], 800, 112)
	within("journey holdout", arms[loyalty.ArmHoldout], 3920, 240)
	for arm, k := range arms {
		// Half of each arm on path a; sd = sqrt(k)/2.
		tol := 2 * intSqrt(k)
		within(string(arm)+" on path a", pathA[arm], k/2, tol)
	}
	if !loyalty.ArmHoldout.HeldOut() || !loyalty.ArmProgrammeHoldout.HeldOut() || loyalty.ArmTreated.HeldOut() || loyalty.Arm("").HeldOut() {
		t.Error("HeldOut: only the two holdout arms are held out")
	}
}

func TestEngineArmReadsBothHoldouts(t *testing.T) {
	e := newEngine(t)
	def := journey.Definition{Name: "winback"}
	if err := def.Holdout.UnmarshalJSON([]byte(`"50%"`)); err != nil {
		t.Fatal(err)
	}
	counts := map[loyalty.Arm]int{}
	for i := range 2000 {
		counts[e.Arm(def, "m-"+itoa(i))]++
	}
	// The shipped programme's holdout, then half of the rest.
	prog := e.Program.Holdout.InexactFloat64() / 100
	wantHeld := 2000 * (1 - prog) / 2
	if got := float64(counts[loyalty.ArmHoldout]); got < wantHeld-140 || got > wantHeld+140 {
		t.Errorf("arms = %v, want about %.0f in the journey's holdout", counts, wantHeld)
	}
	if prog == 0 && counts[loyalty.ArmProgrammeHoldout] != 0 {
		t.Errorf("arms = %v with no programme holdout", counts)
	}
}

func TestSplitPaths(t *testing.T) {
	def := parse(t, `
name: ab_test
trigger: { event: order.paid }
steps:
  - id: first
    split: [ { weight: 1, goto: a }, { weight: 1, goto: b } ]
  - id: a
    split: [ { weight: 3, goto: b }, { weight: 1, goto: end } ]
  - id: b
    end: {}
`)
	for i := range 50 {
		id := "m-" + itoa(i)
		got := engine.SplitPaths(def, id)
		for _, step := range []string{"first", "a"} {
			st, _ := def.Step(step)
			want, _ := engine.Split(st, id, def.Name)
			if p, ok := got[step]; !ok || p != want {
				t.Fatalf("%s: paths %v, want %s → %d", id, got, step, want)
			}
		}
		if len(got) != 2 {
			t.Fatalf("%s: paths %v, want the two split steps", id, got)
		}
	}
	if got := engine.SplitPaths(parse(t, upsell), "m"); got != nil {
		t.Errorf("a journey without a split has paths %v", got)
	}
}

func intSqrt(n int) int {
	r := 0
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		key              string
		member, j, step  string
		enrollment, year int
		ok               bool
	}{
		{key: engine.Key("m-1", "winback", 20260924, "d60", 2026), member: "m-1", j: "winback", enrollment: 20260924, step: "d60", year: 2026, ok: true},
		{key: engine.Key("shop#42", "activation", 1, "welcome", 2027), member: "shop#42", j: "activation", enrollment: 1, step: "welcome", year: 2027, ok: true},
		{key: loyalty.BirthdayGiftKey("m-1", 2026)},
		{key: "m-1#winback#x#d60#2026"},
		{key: "#winback#1#d60#2026"},
		{key: "adjust:k"},
	} {
		m, j, n, step, year, ok := engine.ParseKey(tc.key)
		if ok != tc.ok || m != tc.member || j != tc.j || n != tc.enrollment || step != tc.step || year != tc.year {
			t.Errorf("ParseKey(%q) = %q %q %d %q %d %v", tc.key, m, j, n, step, year, ok)
		}
	}
}
