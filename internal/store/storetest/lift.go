package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// liftJourney is a journey name no other subtest or run uses.
func liftJourney() string { return "lift_" + strings.ToLower(uniqueID("j")[2:12]) }

func cohortsOf(t *testing.T, s store.Store, journeyName string) map[store.LiftCell]store.LiftCohort {
	t.Helper()
	cs, err := s.LiftCohorts(t.Context(), journeyName)
	if err != nil {
		t.Fatalf("LiftCohorts: %v", err)
	}
	out := map[store.LiftCell]store.LiftCohort{}
	for i, c := range cs {
		if i > 0 && (cs[i-1].Day > c.Day || cs[i-1].Day == c.Day && (cs[i-1].Arm > c.Arm || cs[i-1].Arm == c.Arm && cs[i-1].Path >= c.Path)) {
			t.Errorf("cohorts out of order: %+v before %+v", cs[i-1].LiftCell, c.LiftCell)
		}
		out[c.LiftCell] = c
	}
	return out
}

func countLift(t *testing.T, s store.Store, c store.LiftCount) {
	t.Helper()
	if err := s.CountLift(t.Context(), c); err != nil {
		t.Fatalf("CountLift %s: %v", c.Key, err)
	}
}

func countGoal(t *testing.T, s store.Store, c store.LiftCount) {
	t.Helper()
	if err := s.CountLiftGoal(t.Context(), c); err != nil {
		t.Fatalf("CountLiftGoal %s day %d: %v", c.Key, c.Day, err)
	}
}

func checkOutcome(t *testing.T, what string, got, want store.LiftOutcome) {
	t.Helper()
	if got.Goals != want.Goals || got.Orders != want.Orders || !got.Revenue.Equal(want.Revenue) || got.Coupons != want.Coupons ||
		!got.CouponCost.Equal(want.CouponCost) || got.Points != want.Points || !got.PointsCost.Equal(want.PointsCost) ||
		got.BoostPoints != want.BoostPoints || !got.BoostCost.Equal(want.BoostCost) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func runLift(t *testing.T, newStore func(t *testing.T) store.Store) {
	d := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	day := "2026-03-14"
	treated := store.LiftCell{Arm: loyalty.ArmTreated, Day: day}
	onPathA := store.LiftCell{Arm: loyalty.ArmTreated, Path: store.SplitPath("ab", 0), Day: day}
	held := store.LiftCell{Arm: loyalty.ArmHoldout, Day: day}

	t.Run("members and outcomes once per key, in every cell", func(t *testing.T) {
		s, j := newStore(t), liftJourney()
		// Members on different stats shards, so the adapter sums them.
		var members []string
		for i := range 6 {
			m := uniqueID(fmt.Sprintf("m%d", i))
			members = append(members, m)
			c := store.LiftCount{Journey: j, MemberID: m, Key: m + "#enrolled", Cells: []store.LiftCell{treated, onPathA}, Members: 1}
			countLift(t, s, c)
			countLift(t, s, c) // a retry
		}
		order := store.LiftCount{Journey: j, MemberID: members[0], Key: "order#o1", Cells: []store.LiftCell{treated, onPathA}, Day: 3,
			Outcome: store.LiftOutcome{Orders: 1, Revenue: d("199.99"), Coupons: 1, CouponCost: d("15"), BoostPoints: 2, BoostCost: d("2")}}
		countLift(t, s, order)
		countLift(t, s, order) // a redelivered record
		countLift(t, s, store.LiftCount{Journey: j, MemberID: members[1], Key: "order#o2", Cells: []store.LiftCell{treated, onPathA}, Day: 3,
			Outcome: store.LiftOutcome{Orders: 1, Revenue: d("0.01")}})
		countLift(t, s, store.LiftCount{Journey: j, MemberID: members[0], Key: "refund#r1", Cells: []store.LiftCell{treated, onPathA}, Day: 89,
			Outcome: store.LiftOutcome{Revenue: d("-50.5")}})
		countLift(t, s, store.LiftCount{Journey: j, MemberID: members[2], Key: "points#k", Cells: []store.LiftCell{treated}, Day: 0,
			Outcome: store.LiftOutcome{Points: 10, PointsCost: d("10")}})
		countLift(t, s, store.LiftCount{Journey: j, MemberID: "h1", Key: "h1#enrolled", Cells: []store.LiftCell{held}, Members: 1})

		got := cohortsOf(t, s, j)
		if len(got) != 3 {
			t.Fatalf("cohorts = %+v, want three cells", got)
		}
		for _, cell := range []store.LiftCell{treated, onPathA} {
			c := got[cell]
			if c.Members != 6 {
				t.Errorf("%+v: members = %d, want 6", cell, c.Members)
			}
			checkOutcome(t, fmt.Sprintf("%+v day 3", cell), c.Days[3], store.LiftOutcome{Orders: 2, Revenue: d("200.00"), Coupons: 1, CouponCost: d("15"), BoostPoints: 2, BoostCost: d("2")})
			checkOutcome(t, fmt.Sprintf("%+v day 89", cell), c.Days[89], store.LiftOutcome{Revenue: d("-50.5")})
		}
		checkOutcome(t, "treated day 0", got[treated].Days[0], store.LiftOutcome{Points: 10, PointsCost: d("10")})
		if _, ok := got[onPathA].Days[0]; ok || len(got[treated].Days) != 3 || len(got[onPathA].Days) != 2 {
			t.Errorf("days: treated %v, path a %v", got[treated].Days, got[onPathA].Days)
		}
		if h := got[held]; h.Members != 1 || len(h.Days) != 0 {
			t.Errorf("holdout cohort = %+v", h)
		}
		if other := cohortsOf(t, s, liftJourney()); len(other) != 0 {
			t.Errorf("another journey has cohorts %+v", other)
		}
	})

	t.Run("a goal counts once, on the earliest day told", func(t *testing.T) {
		s, j := newStore(t), liftJourney()
		m := uniqueID("m")
		goal := func(day int) store.LiftCount {
			return store.LiftCount{Journey: j, MemberID: m, Key: m + "#goal", Cells: []store.LiftCell{treated, onPathA}, Day: day}
		}
		countGoal(t, s, goal(5))
		countGoal(t, s, goal(9)) // a later goal event: no change
		countGoal(t, s, goal(5))
		got := cohortsOf(t, s, j)
		if c := got[treated]; c.Days[5].Goals != 1 || len(c.Days) != 1 {
			t.Fatalf("after days 5, 9, 5: %+v", c.Days)
		}
		countGoal(t, s, goal(2)) // an earlier goal event arrives late
		for _, cell := range []store.LiftCell{treated, onPathA} {
			c := cohortsOf(t, s, j)[cell]
			if c.Days[2].Goals != 1 || len(c.Days) != 1 {
				t.Errorf("%+v after day 2 = %+v, want one goal on day 2 only", cell, c.Days)
			}
		}
	})

	t.Run("concurrent counts of one key count once", func(t *testing.T) {
		s, j := newStore(t), liftJourney()
		m := uniqueID("m")
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 8 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				errs <- s.CountLift(t.Context(), store.LiftCount{Journey: j, MemberID: m, Key: "order#o", Cells: []store.LiftCell{treated}, Day: 1,
					Outcome: store.LiftOutcome{Orders: 1, Revenue: d("10")}})
			}()
			go func() {
				defer wg.Done()
				errs <- s.CountLiftGoal(t.Context(), store.LiftCount{Journey: j, MemberID: m, Key: "goal", Cells: []store.LiftCell{treated}, Day: 10 + i%4})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent count: %v", err)
			}
		}
		c := cohortsOf(t, s, j)[treated]
		checkOutcome(t, "day 1", c.Days[1], store.LiftOutcome{Orders: 1, Revenue: d("10")})
		goals := int64(0)
		for day, o := range c.Days {
			goals += o.Goals
			if o.Goals != 0 && day != 10 {
				t.Errorf("goal on day %d, want day 10 (the earliest)", day)
			}
		}
		if goals != 1 {
			t.Errorf("%d goals in all, want 1: %+v", goals, c.Days)
		}
	})

	t.Run("bad counts are refused and count nothing", func(t *testing.T) {
		s, j := newStore(t), liftJourney()
		for name, c := range map[string]store.LiftCount{
			"day past the window": {Journey: j, MemberID: "m", Key: "k1", Cells: []store.LiftCell{treated}, Day: store.LiftDays},
			"negative day":        {Journey: j, MemberID: "m", Key: "k2", Cells: []store.LiftCell{treated}, Day: -1},
			"no arm":              {Journey: j, MemberID: "m", Key: "k3", Cells: []store.LiftCell{{Day: day}}, Members: 1},
			"no cell":             {Journey: j, MemberID: "m", Key: "k4", Members: 1},
			"bad day":             {Journey: j, MemberID: "m", Key: "k5", Cells: []store.LiftCell{{Arm: loyalty.ArmTreated, Day: "14/03/2026"}}, Members: 1},
			"bracket path":        {Journey: j, MemberID: "m", Key: "k6", Cells: []store.LiftCell{{Arm: loyalty.ArmTreated, Path: "a[0]", Day: day}}, Members: 1},
			"no key":              {Journey: j, MemberID: "m", Cells: []store.LiftCell{treated}, Members: 1},
			"bad journey":         {Journey: "Bad Name", MemberID: "m", Key: "k7", Cells: []store.LiftCell{treated}, Members: 1},
		} {
			if err := s.CountLift(t.Context(), c); err == nil {
				t.Errorf("%s: CountLift accepted %+v", name, c)
			}
			if err := s.CountLiftGoal(t.Context(), c); err == nil {
				t.Errorf("%s: CountLiftGoal accepted %+v", name, c)
			}
		}
		if got := cohortsOf(t, s, j); len(got) != 0 {
			t.Errorf("cohorts after refused counts = %+v", got)
		}
	})
}
