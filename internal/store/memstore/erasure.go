package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/memberflow/memberflow/internal/store"
)

// MemberEvents returns the member's recorded events by source then id.
func (s *Store) MemberEvents(_ context.Context, memberID string) ([]store.RecordedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.RecordedEvent
	for _, ev := range s.events {
		if ev.MemberID == memberID {
			ev.Payload = append(json.RawMessage(nil), ev.Payload...)
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b store.RecordedEvent) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// RedactEvent redacts one recorded event's payload.
func (s *Store) RedactEvent(_ context.Context, source, id string, p store.PersonalData, _ time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := eventKey{source, id}
	ev, ok := s.events[k]
	if !ok {
		return false, fmt.Errorf("redact event %s/%s: %w", source, id, store.ErrNotFound)
	}
	red, changed := p.RedactJSON(ev.Payload)
	if changed {
		ev.Payload = red
		s.events[k] = ev
	}
	return changed, nil
}

// SuppressAddress records the hash once.
func (s *Store) SuppressAddress(_ context.Context, hash string, at time.Time) error {
	if hash == "" {
		return fmt.Errorf("suppress address: a hash is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.suppressAddress(hash, at)
	return nil
}

// suppressAddress records the hash unless it is; s.mu must be held.
func (s *Store) suppressAddress(hash string, at time.Time) bool {
	if s.addresses == nil {
		s.addresses = make(map[string]time.Time)
	}
	if _, ok := s.addresses[hash]; ok {
		return false
	}
	s.addresses[hash] = at.UTC()
	return true
}

// addressSuppression is the suppression of the member's address, if it
// was erased; s.mu must be held.
func (s *Store) addressSuppression(memberID, email string) *store.Suppression {
	h := store.AddressHash(email)
	if h == "" {
		return nil
	}
	at, ok := s.addresses[h]
	if !ok {
		return nil
	}
	return &store.Suppression{MemberID: memberID, Reason: store.SuppressedErasedReason, Source: store.SuppressedErasedSource, At: at}
}

// MarkErased sets the erased mark once.
func (s *Store) MarkErased(_ context.Context, memberID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[memberID]
	if !ok {
		return fmt.Errorf("mark %s erased: %w", memberID, store.ErrNotFound)
	}
	if m.Erased() {
		return nil
	}
	m.ErasedAt = at.UTC()
	m.Version++
	s.members[memberID] = m
	return nil
}

// EraseMember blanks the profile and removes its values from everything
// else kept about the member, as the DynamoDB adapter does.
func (s *Store) EraseMember(_ context.Context, memberID string, at time.Time) (store.Erased, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[memberID]
	if !ok {
		return store.Erased{}, fmt.Errorf("erase member %s: %w", memberID, store.ErrNotFound)
	}
	out := store.Erased{MemberID: memberID}
	var evs []store.RecordedEvent
	for _, ev := range s.events {
		if ev.MemberID == memberID {
			evs = append(evs, ev)
		}
	}
	p := store.PersonalDataOf(m, evs)
	if h := store.AddressHash(m.Email); h != "" {
		out.Suppressed = s.suppressAddress(h, at)
	}
	if store.MemberHasPersonalData(m) || !m.Erased() {
		b := store.BlankMember(m, at)
		b.Version++
		s.putMember(b)
		out.Profile = true
	}
	for k, ev := range s.events {
		if ev.MemberID != memberID {
			continue
		}
		if red, changed := p.RedactJSON(ev.Payload); changed {
			ev.Payload = red
			s.events[k] = ev
			out.Events++
		}
	}
	// The journal keeps each cause's input as received: redacted by
	// field, so the ledger can still replay it.
	for k, rec := range s.ledgerApplied {
		if k.memberID != memberID {
			continue
		}
		if red, changed := p.RedactRecord(rec); changed {
			s.ledgerApplied[k] = red
			out.Items++
		}
	}
	// Ledger entries and timeline entries are kept as JSON: redacted by
	// field, which keeps amounts, keys and rules.
	for k, b := range s.entries {
		if k.memberID != memberID {
			continue
		}
		if red, changed := p.RedactJSON(b); changed {
			s.entries[k] = red
			out.Items++
		}
	}
	for k, b := range s.engine.timeline[memberID] {
		if red, changed := p.RedactJSON(b); changed {
			s.engine.timeline[memberID][k] = red
			out.Items++
		}
	}
	if p.Empty() {
		return out, nil
	}
	redact := func(v *string) bool {
		r := p.Redact(*v)
		changed := r != *v
		*v = r
		return changed
	}
	for k, snd := range s.sends {
		if k.memberID == memberID && redact(&snd.Reason) {
			s.sends[k] = snd
			out.Items++
		}
	}
	for k, ev := range s.sendEvents {
		if k.memberID != memberID {
			continue
		}
		if a, b := redact(&ev.Reason), redact(&ev.URL); a || b {
			s.sendEvents[k] = ev
			out.Items++
		}
	}
	if sup, ok := s.suppressions[memberID]; ok && redact(&sup.Reason) {
		s.suppressions[memberID] = sup
		out.Items++
	}
	return out, nil
}
