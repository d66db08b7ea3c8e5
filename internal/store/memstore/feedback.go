package memstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/memberflow/memberflow/internal/store"
)

// RecordSendEvent stores the event once per id, counts its type once per
// send, and lets processed or delivered move a pending row to sent (which
// counts as "sent"), as the DynamoDB adapter does in one transaction.
func (s *Store) RecordSendEvent(_ context.Context, ev store.SendEvent) error {
	if err := store.CheckSendEvent(ev); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sendEventKey{ev.MemberID, ev.ID}
	if _, ok := s.sendEvents[k]; ok {
		return fmt.Errorf("record send event %s (%s of %s): %w", ev.ID, ev.Type, ev.SendKey, store.ErrDuplicate)
	}
	s.sendEvents[k] = ev
	s.idx.memberSendEvents[ev.MemberID] = append(s.idx.memberSendEvents[ev.MemberID], k)
	if first := (firstKey{ev.MemberID, ev.SendKey, ev.Type}); !s.firstEvents[first] {
		s.firstEvents[first] = true
		s.count(ev.Journey, ev.Step, ev.Type)
	}
	row := sendKey{ev.MemberID, ev.SendKey}
	if snd, ok := s.sends[row]; ok && snd.Status == store.SendPending && store.MarksSent(ev.Type) {
		snd.Status, snd.UpdatedAt = store.SendSent, ev.At
		if ev.MessageID != "" {
			snd.MessageID = ev.MessageID
		}
		s.sends[row] = snd
		s.count(snd.Journey, snd.Step, store.StatsSent)
		s.countSentDay(snd.Journey, snd.Step, ev.At)
	}
	return nil
}

// ListSendEvents returns the member's events from since on, by time and
// then id: the DynamoDB adapter's sort-key order.
func (s *Store) ListSendEvents(_ context.Context, memberID string, since time.Time) ([]store.SendEvent, error) {
	s.mu.Lock()
	var out []store.SendEvent
	for _, k := range s.idx.memberSendEvents[memberID] {
		if ev := s.sendEvents[k]; !ev.At.Before(since) {
			out = append(out, ev)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b store.SendEvent) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Suppress keeps the member's first suppression.
func (s *Store) Suppress(_ context.Context, sup store.Suppression) error {
	if err := store.CheckSuppression(sup); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.suppressions[sup.MemberID]; !ok {
		s.suppressions[sup.MemberID] = sup
	}
	return nil
}

// GetSuppression reads the member's suppression.
func (s *Store) GetSuppression(_ context.Context, memberID string) (store.Suppression, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sup, ok := s.suppressions[memberID]
	if !ok {
		return store.Suppression{}, fmt.Errorf("get suppression of %s: %w", memberID, store.ErrNotFound)
	}
	return sup, nil
}

// RecordConversion counts the order once per send.
func (s *Store) RecordConversion(_ context.Context, memberID, orderID string, send store.SendEvent, _ time.Time) error {
	if err := store.CheckConversion(memberID, orderID, send); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := conversionKey{memberID, orderID, send.SendKey}
	if s.conversions[k] {
		return fmt.Errorf("record conversion %s of %s: %w", orderID, send.SendKey, store.ErrDuplicate)
	}
	s.conversions[k] = true
	s.count(send.Journey, send.Step, store.StatsConversion)
	return nil
}

// JourneyStats returns copies of the journey's step counters by step name.
func (s *Store) JourneyStats(_ context.Context, journey string) ([]store.StepStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	steps := s.stats[journey]
	out := make([]store.StepStats, 0, len(steps))
	for _, step := range slices.Sorted(maps.Keys(steps)) {
		out = append(out, store.StepStats{Step: step, Counts: maps.Clone(steps[step])})
	}
	return out, nil
}

// JourneySentDays returns the journey's sends moved to sent by day, from
// from's day to to's.
func (s *Store) JourneySentDays(_ context.Context, journey string, from, to time.Time) (map[string]int64, error) {
	first, last := store.SentDay(from), store.SentDay(to)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for day, n := range s.sentDays[journey] {
		if day >= first && day <= last {
			out[day] = n
		}
	}
	return out, nil
}

// countSentDay counts a send moved to sent at at in its journey's day;
// s.mu must be held. Like count, a send without a journey or step has
// nothing to count in.
func (s *Store) countSentDay(journey, step string, at time.Time) {
	if journey == "" || step == "" {
		return
	}
	if s.sentDays[journey] == nil {
		s.sentDays[journey] = map[string]int64{}
	}
	s.sentDays[journey][store.SentDay(at)]++
}

// count adds one to a step's counter; s.mu must be held. A send without a
// journey or step has no stats to count in, as in the DynamoDB adapter.
func (s *Store) count(journey, step, key string) {
	if journey == "" || step == "" {
		return
	}
	if s.stats[journey] == nil {
		s.stats[journey] = map[string]map[string]int64{}
	}
	if s.stats[journey][step] == nil {
		s.stats[journey][step] = map[string]int64{}
	}
	s.stats[journey][step][key]++
}
