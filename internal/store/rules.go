package store

import (
	"errors"
	"fmt"
	"strings"
	"time"

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
		if ev.Digest == "" {
			// Without one a changed body could not be told from a retry.
			return fmt.Errorf("put events: event %s/%s has no digest", ev.Source, ev.ID)
		}
		if err := CheckDeliveryID(ev.DeliveryID); err != nil {
			return fmt.Errorf("put events: event %s/%s: delivery id %w", ev.Source, ev.ID, err)
		}
	}
	return nil
}

// MaxDeliveryID is the longest delivery id kept with an event.
const MaxDeliveryID = 256

// CheckDeliveryID refuses a delivery id that is not 1 to MaxDeliveryID
// printable ASCII characters without spaces; "" (none) passes. The
// senders' ids (msg_…, UUIDs, numbers) all fit; anything else is not an
// id but input to refuse before it reaches a stored item.
func CheckDeliveryID(id string) error {
	if len(id) > MaxDeliveryID {
		return fmt.Errorf("must be at most %d characters", MaxDeliveryID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return fmt.Errorf("must be printable ASCII without spaces")
		}
	}
	return nil
}

// SameContent reports whether an event recorded with digest recorded and
// one arriving with digest arriving are the same event: their digests
// match, or the recorded one predates digests and has none (it cannot be
// told apart, so it is taken as the same, as before digests existed).
func SameContent(recorded, arriving string) bool {
	return recorded == "" || recorded == arriving
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

// Stats keys besides the provider event types and "skipped:<code>".
const (
	// StatsSent counts sends that moved from pending to sent.
	StatsSent = "sent"
	// StatsConversion counts orders attributed to a send.
	StatsConversion = "conversion"
	// statsSkippedPrefix begins the key of sends skipped for a reason.
	statsSkippedPrefix = "skipped:"
)

// SkippedStatsKey is the stats key of a send skipped for reason: the reason
// up to its first ':' (its code; what follows is detail that would split
// one cause over many keys), e.g. "skipped:no_consent".
func SkippedStatsKey(reason string) string {
	code, _, _ := strings.Cut(reason, ":")
	return statsSkippedPrefix + strings.TrimSpace(code)
}

// CheckCompleteSend checks CompleteSend's arguments and returns the stats
// key the move counts under. A skip needs a reason with a code, and the
// code may not hold brackets: the key becomes an attribute name, which the
// DynamoDB expression builder would read as a list index.
func CheckCompleteSend(key string, status SendStatus, reason string) (statsKey string, err error) {
	switch status {
	case SendSent:
		return StatsSent, nil
	case SendSkipped:
		k := SkippedStatsKey(reason)
		if k == statsSkippedPrefix || strings.ContainsAny(k, "[]") {
			return "", fmt.Errorf("complete send %s: skip reason %q needs a code without brackets before any ':'", key, reason)
		}
		return k, nil
	}
	return "", fmt.Errorf("complete send %s: status %q, want sent or skipped", key, status)
}

// sendEventTypes are the event types RecordSendEvent takes. The list is
// closed because each type is also a stats key: an open list would let a
// provider's new type, or a typo, collide with "sent" or "conversion".
var sendEventTypes = map[string]bool{
	EventProcessed: true, EventDelivered: true, EventOpen: true, EventClick: true,
	EventBounce: true, EventDropped: true, EventDeferred: true, EventSpamReport: true,
	EventUnsubscribe: true, EventGroupUnsubscribe: true, EventGroupResubscribe: true,
}

// CheckSendEvent checks RecordSendEvent's argument: it needs an id to be
// recorded once, a member and send to belong to, a journey and step to be
// counted in, and one of the Event* types.
func CheckSendEvent(ev SendEvent) error {
	if ev.ID == "" || ev.MemberID == "" || ev.SendKey == "" || ev.Journey == "" || ev.Step == "" {
		return fmt.Errorf("record send event %q: id, member id, send key, journey and step are required", ev.ID)
	}
	if !sendEventTypes[ev.Type] {
		return fmt.Errorf("record send event %s: unknown type %q", ev.ID, ev.Type)
	}
	return nil
}

// MarksSent reports whether an event of this type proves the provider
// accepted the send, so a send row still pending may move to sent.
func MarksSent(eventType string) bool {
	return eventType == EventProcessed || eventType == EventDelivered
}

// CheckSuppression checks Suppress's argument.
func CheckSuppression(s Suppression) error {
	if s.MemberID == "" {
		return errors.New("suppress: member id is required")
	}
	return nil
}

// CheckConversion checks RecordConversion's arguments: the send must be
// the member's and name the send and the step it counts for.
func CheckConversion(memberID, orderID string, send SendEvent) error {
	switch {
	case memberID == "" || orderID == "":
		return fmt.Errorf("record conversion %q of %q: member id and order id are required", orderID, memberID)
	case send.SendKey == "" || send.Journey == "" || send.Step == "":
		return fmt.Errorf("record conversion %s of %s: the send needs a key, journey and step", orderID, memberID)
	case send.MemberID != "" && send.MemberID != memberID:
		return fmt.Errorf("record conversion %s of %s: the send belongs to %s", orderID, memberID, send.MemberID)
	}
	return nil
}

// CheckBirthdayPage checks MembersByBirthday's arguments.
func CheckBirthdayPage(what, mmdd string, limit int) error {
	if _, err := time.Parse("0102", mmdd); err != nil {
		return fmt.Errorf("%s: mmdd %q is not a day of the year as MMDD", what, mmdd)
	}
	return checkLimit(what, limit)
}

// CheckDayPage checks the day and limit of a calendar query by UTC day.
func CheckDayPage(what, day string, limit int) error {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return fmt.Errorf("%s: day %q is not a date YYYY-MM-DD", what, day)
	}
	return checkLimit(what, limit)
}

func checkLimit(what string, limit int) error {
	if limit < 1 {
		return fmt.Errorf("%s: limit %d, want at least 1", what, limit)
	}
	return nil
}

// CheckPutContact checks PutContact's arguments.
func CheckPutContact(memberID string, version int64) error {
	switch {
	case memberID == "":
		return errors.New("put contact state: member id is required")
	case version < 0:
		return fmt.Errorf("put contact state of %s: version %d, want at least 0", memberID, version)
	}
	return nil
}
