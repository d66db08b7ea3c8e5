package memstore

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/memberflow/memberflow/internal/store"
)

// liftState is the journeys' lift counters: by journey and cell, and the
// keys counted (for goals, on which day).
type liftState struct {
	cohorts map[string]map[store.LiftCell]*store.LiftCohort
	counted map[appliedKey]int
}

func (l *liftState) cohort(journeyName string, cell store.LiftCell) *store.LiftCohort {
	if l.cohorts == nil {
		l.cohorts = map[string]map[store.LiftCell]*store.LiftCohort{}
	}
	byCell := l.cohorts[journeyName]
	if byCell == nil {
		byCell = map[store.LiftCell]*store.LiftCohort{}
		l.cohorts[journeyName] = byCell
	}
	c := byCell[cell]
	if c == nil {
		c = &store.LiftCohort{LiftCell: cell, Days: map[int]store.LiftOutcome{}}
		byCell[cell] = c
	}
	return c
}

// first marks the key counted; false when it was already.
func (l *liftState) first(k appliedKey, day int) bool {
	if l.counted == nil {
		l.counted = map[appliedKey]int{}
	}
	if _, ok := l.counted[k]; ok {
		return false
	}
	l.counted[k] = day
	return true
}

// CountLift adds the count to its cells once per member and key.
func (s *Store) CountLift(_ context.Context, c store.LiftCount) error {
	if err := store.CheckLiftCount(c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lift.first(appliedKey{c.MemberID, c.Key}, c.Day) {
		return nil
	}
	for _, cell := range c.Cells {
		co := s.lift.cohort(c.Journey, cell)
		co.Members += c.Members
		if !c.Outcome.IsZero() {
			co.Days[c.Day] = co.Days[c.Day].Add(c.Outcome)
		}
	}
	return nil
}

// CountLiftGoal counts the key's goal on the earliest day it is told of.
func (s *Store) CountLiftGoal(_ context.Context, c store.LiftCount) error {
	if err := store.CheckLiftCount(c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := appliedKey{c.MemberID, c.Key}
	old, counted := s.lift.counted[k]
	if counted && old <= c.Day {
		return nil
	}
	if s.lift.counted == nil {
		s.lift.counted = map[appliedKey]int{}
	}
	s.lift.counted[k] = c.Day
	for _, cell := range c.Cells {
		co := s.lift.cohort(c.Journey, cell)
		if counted {
			co.Days[old] = co.Days[old].Add(store.LiftOutcome{Goals: -1})
			if co.Days[old].IsZero() {
				delete(co.Days, old)
			}
		}
		co.Days[c.Day] = co.Days[c.Day].Add(store.LiftOutcome{Goals: 1})
	}
	return nil
}

// LiftCohorts returns copies of the journey's cohorts by day, arm, path.
func (s *Store) LiftCohorts(_ context.Context, journeyName string) ([]store.LiftCohort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.LiftCohort, 0, len(s.lift.cohorts[journeyName]))
	for _, c := range s.lift.cohorts[journeyName] {
		cp := *c
		cp.Days = maps.Clone(c.Days)
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b store.LiftCohort) int { return compareCells(a.LiftCell, b.LiftCell) })
	return out, nil
}

func compareCells(a, b store.LiftCell) int {
	return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Arm, b.Arm), cmp.Compare(a.Path, b.Path))
}
