// Package memstore is an in-memory store.Store for unit tests of the layers
// above the store. It keeps the DynamoDB adapter's semantics (idempotency,
// versions, final states, ordering) and passes the same contract test, so a
// test that passes here means the same against DynamoDB.
package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

type eventKey struct{ source, id string }

type appliedKey struct{ memberID, eventID string }

type enrollmentKey struct {
	memberID, journey string
	number            int
}

type sendKey struct{ memberID, key string }

// Store is an in-memory store.Store, safe for concurrent use.
type Store struct {
	mu          sync.Mutex
	events      map[eventKey]store.RecordedEvent
	members     map[string]loyalty.Member
	applied     map[appliedKey]bool
	enrollments map[enrollmentKey]loyalty.Enrollment
	sends       map[sendKey]store.Send
}

var _ store.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	return &Store{
		events:      make(map[eventKey]store.RecordedEvent),
		members:     make(map[string]loyalty.Member),
		applied:     make(map[appliedKey]bool),
		enrollments: make(map[enrollmentKey]loyalty.Enrollment),
		sends:       make(map[sendKey]store.Send),
	}
}

// Ping always succeeds: memory is always reachable.
func (s *Store) Ping(context.Context) error { return nil }

// PutEvents records the new events of the batch and reports the others as
// duplicates, in input order.
func (s *Store) PutEvents(_ context.Context, evs []store.RecordedEvent) (store.PutEventsResult, error) {
	var res store.PutEventsResult
	if err := store.CheckPutEvents(evs); err != nil {
		return res, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		k := eventKey{ev.Source, ev.ID}
		if _, ok := s.events[k]; ok {
			res.Duplicates = append(res.Duplicates, ev.ID)
			continue
		}
		s.events[k] = cloneEvent(ev)
		res.Accepted = append(res.Accepted, ev.ID)
	}
	return res, nil
}

// GetEvent reads one recorded event.
func (s *Store) GetEvent(_ context.Context, source, id string) (store.RecordedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.events[eventKey{source, id}]
	if !ok {
		return store.RecordedEvent{}, fmt.Errorf("get event %s/%s: %w", source, id, store.ErrNotFound)
	}
	return cloneEvent(ev), nil
}

// cloneEvent copies the payload so neither the caller nor the store can
// change the other's bytes, as with a real database.
func cloneEvent(ev store.RecordedEvent) store.RecordedEvent {
	ev.Payload = slices.Clone(ev.Payload)
	return ev
}

// GetMember reads a member's projection.
func (s *Store) GetMember(_ context.Context, id string) (loyalty.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[id]
	if !ok {
		return loyalty.Member{}, fmt.Errorf("get member %s: %w", id, store.ErrNotFound)
	}
	return m, nil
}

// SaveMember stores m as the result of eventID, with the same precedence as
// the DynamoDB adapter: a replayed event is ErrDuplicate even when the
// version is stale too.
func (s *Store) SaveMember(_ context.Context, m loyalty.Member, eventID string) error {
	if err := store.CheckSaveMember(m, eventID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.applied[appliedKey{m.ID, eventID}] {
		return fmt.Errorf("save member %s for event %s: %w", m.ID, eventID, store.ErrDuplicate)
	}
	var stored int64 // 0: no projection yet
	if cur, ok := s.members[m.ID]; ok {
		stored = cur.Version
	}
	if stored != m.Version-1 {
		return fmt.Errorf("save member %s at version %d: %w", m.ID, m.Version, store.ErrConflict)
	}
	s.members[m.ID] = m
	s.applied[appliedKey{m.ID, eventID}] = true
	return nil
}

// StartEnrollment creates the enrollment unless it exists.
func (s *Store) StartEnrollment(_ context.Context, e loyalty.Enrollment) (loyalty.Enrollment, bool, error) {
	e, err := store.NewEnrollment(e)
	if err != nil {
		return loyalty.Enrollment{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := enrollmentKey{e.MemberID, e.Journey, e.Number}
	if cur, ok := s.enrollments[k]; ok {
		return cur, false, nil
	}
	s.enrollments[k] = e
	return e, true, nil
}

// EndEnrollment moves an active enrollment to a final status; an already
// final one is left as it is.
func (s *Store) EndEnrollment(_ context.Context, memberID, journey string, number int, status loyalty.EnrollmentStatus, reason string, at time.Time) error {
	if !status.Final() {
		return fmt.Errorf("end enrollment %s/%s/%d: status %q is not final", journey, memberID, number, status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := enrollmentKey{memberID, journey, number}
	e, ok := s.enrollments[k]
	if !ok {
		return fmt.Errorf("end enrollment %s/%s/%d: %w", journey, memberID, number, store.ErrNotFound)
	}
	if e.Status != loyalty.EnrollmentActive {
		return nil
	}
	e.Status, e.EndedAt = status, at
	if reason != "" {
		e.Reason = reason
	}
	s.enrollments[k] = e
	return nil
}

// GetEnrollment reads one enrollment.
func (s *Store) GetEnrollment(_ context.Context, memberID, journey string, number int) (loyalty.Enrollment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.enrollments[enrollmentKey{memberID, journey, number}]
	if !ok {
		return loyalty.Enrollment{}, fmt.Errorf("get enrollment %s/%s/%d: %w", journey, memberID, number, store.ErrNotFound)
	}
	return e, nil
}

// ListEnrollments returns the member's enrollments by journey then number.
func (s *Store) ListEnrollments(_ context.Context, memberID string) ([]loyalty.Enrollment, error) {
	s.mu.Lock()
	var out []loyalty.Enrollment
	for k, e := range s.enrollments {
		if k.memberID == memberID {
			out = append(out, e)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b loyalty.Enrollment) int {
		return cmp.Or(cmp.Compare(a.Journey, b.Journey), cmp.Compare(a.Number, b.Number))
	})
	return out, nil
}

// ReserveSend creates the pending ledger row unless its key is taken.
func (s *Store) ReserveSend(_ context.Context, snd store.Send) (store.Send, bool, error) {
	snd, err := store.NewSend(snd)
	if err != nil {
		return store.Send{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sendKey{snd.MemberID, snd.Key}
	if cur, ok := s.sends[k]; ok {
		return cur, false, nil
	}
	s.sends[k] = snd
	return snd, true, nil
}

// CompleteSend moves a pending row to sent or skipped; a final row is left
// as it is.
func (s *Store) CompleteSend(_ context.Context, memberID, key string, status store.SendStatus, messageID, reason string, at time.Time) error {
	if status != store.SendSent && status != store.SendSkipped {
		return fmt.Errorf("complete send %s: status %q, want sent or skipped", key, status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sendKey{memberID, key}
	snd, ok := s.sends[k]
	if !ok {
		return fmt.Errorf("complete send %s: %w", key, store.ErrNotFound)
	}
	if snd.Status != store.SendPending {
		return nil
	}
	snd.Status, snd.UpdatedAt = status, at
	if messageID != "" {
		snd.MessageID = messageID
	}
	if reason != "" {
		snd.Reason = reason
	}
	s.sends[k] = snd
	return nil
}

// ListSends returns the member's ledger rows oldest first.
func (s *Store) ListSends(_ context.Context, memberID string) ([]store.Send, error) {
	s.mu.Lock()
	var out []store.Send
	for k, snd := range s.sends {
		if k.memberID == memberID {
			out = append(out, snd)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Send) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}
