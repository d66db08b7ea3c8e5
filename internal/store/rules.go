package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/memberflow/memberflow/internal/loyalty"
)

// MaxEventsPerBatch is the most events one PutEvents call takes; it is also
// the item limit of one DynamoDB transaction, which is why a webhook batch
// (events.MaxBatch) may not be larger.
const MaxEventsPerBatch = 100

// The functions below are the ports' argument rules. Every adapter calls
// them first, so the adapters cannot disagree about what is valid.

// CheckPutEvents checks a PutEvents batch.
func CheckPutEvents(evs []RecordedEvent) error {
	if len(evs) > MaxEventsPerBatch {
		return fmt.Errorf("put events: batch of %d exceeds %d", len(evs), MaxEventsPerBatch)
	}
	for i, ev := range evs {
		if ev.Source == "" || ev.ID == "" {
			return fmt.Errorf("put events: event %d has no source or id", i)
		}
	}
	return nil
}

// CheckSaveMember checks SaveMember's arguments.
func CheckSaveMember(m loyalty.Member, eventID string) error {
	if m.ID == "" || eventID == "" {
		return fmt.Errorf("save member: member id and event id are required")
	}
	if m.Version < 1 {
		return fmt.Errorf("save member %s: version %d, want at least 1", m.ID, m.Version)
	}
	return nil
}

// NewEnrollment checks StartEnrollment's argument and returns it with the
// status defaulted to active.
func NewEnrollment(e loyalty.Enrollment) (loyalty.Enrollment, error) {
	if e.MemberID == "" || e.Journey == "" || e.Number < 1 {
		return e, fmt.Errorf("start enrollment %s/%s/%d: member, journey and a number from 1 are required", e.Journey, e.MemberID, e.Number)
	}
	switch e.Status {
	case "":
		e.Status = loyalty.EnrollmentActive
	case loyalty.EnrollmentActive:
	default:
		return e, fmt.Errorf("start enrollment %s/%s/%d: status %q, want active", e.Journey, e.MemberID, e.Number, e.Status)
	}
	return e, nil
}

// NewSend checks ReserveSend's argument and returns it with the status
// defaulted to pending.
func NewSend(s Send) (Send, error) {
	if s.MemberID == "" || s.Key == "" {
		return s, fmt.Errorf("reserve send %q: member id and key are required", s.Key)
	}
	switch s.Status {
	case "":
		s.Status = SendPending
	case SendPending:
	default:
		return s, fmt.Errorf("reserve send %s: status %q, want pending", s.Key, s.Status)
	}
	return s, nil
}

// CheckCommitLedger checks CommitLedger's arguments the same way for every
// adapter.
func CheckCommitLedger(changes []LedgerChange) error {
	seen := make(map[string]bool, len(changes))
	for _, c := range changes {
		id := c.Account.MemberID
		switch {
		case id == "":
			return errors.New("commit ledger: an account has no member id")
		case c.Account.Version < 1:
			return fmt.Errorf("commit ledger %s: version %d, want at least 1", id, c.Account.Version)
		case seen[id]:
			// One transaction may not touch an item twice.
			return fmt.Errorf("commit ledger %s: member appears twice in one commit", id)
		}
		seen[id] = true
		seqs := make(map[int64]bool, len(c.Entries))
		for _, e := range c.Entries {
			switch {
			case e.MemberID != id:
				return fmt.Errorf("commit ledger %s: entry %d belongs to %q", id, e.Seq, e.MemberID)
			case e.Seq < 1:
				return fmt.Errorf("commit ledger %s: entry seq %d, want at least 1", id, e.Seq)
			case seqs[e.Seq]:
				return fmt.Errorf("commit ledger %s: entry seq %d twice", id, e.Seq)
			}
			seqs[e.Seq] = true
		}
		for _, cl := range c.Claims {
			if cl.Key == "" || cl.Owner == "" {
				return fmt.Errorf("commit ledger %s: claim %q needs a key and an owner", id, cl.Key)
			}
		}
		for _, ct := range c.Counters {
			if ct.Key == "" || ct.Limit < 0 {
				return fmt.Errorf("commit ledger %s: counter %q needs a key and a limit of at least 0", id, ct.Key)
			}
		}
		for k := range c.Liability {
			// Each key is an attribute of a shard item: it must not be one
			// of the item's own attributes, and the expression builder
			// reads brackets as a list index.
			if k == "" || k == "PK" || k == "SK" || k == "entity" || strings.ContainsAny(k, "[]") {
				return fmt.Errorf("commit ledger %s: liability key %q not allowed", id, k)
			}
		}
	}
	return nil
}
