// Package store declares the persistence ports memberflow's handlers,
// activities and workflows depend on. Adapters live in subpackages
// (dynamo for DynamoDB, memstore for unit tests of other layers); both pass
// the same contract test in storetest.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// Errors every adapter returns (wrapped) so callers can branch with errors.Is.
var (
	// ErrNotFound: the item does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: the idempotency key was already used; nothing changed.
	ErrDuplicate = errors.New("already applied")
	// ErrConflict: an optimistic-concurrency check failed; re-read and retry.
	ErrConflict = errors.New("concurrent update")
)

// RecordedEvent is one webhook event as stored: the exact bytes received plus
// the fields the dispatcher routes on.
type RecordedEvent struct {
	Source     string          `json:"source"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	MemberID   string          `json:"member_id"`
	OccurredAt time.Time       `json:"occurred_at"`
	ReceivedAt time.Time       `json:"received_at"`
	Payload    json.RawMessage `json:"payload"` // the event object exactly as signed
	// Digest identifies the payload's content whatever its formatting
	// (events.Envelope.Digest). Events recorded before digests existed
	// have none.
	Digest string `json:"digest,omitempty"`
}

// PutEventsResult says, by id and in input order, which events of a batch
// were new, which had been recorded before with the same content (same
// source and id, same digest) and which had been recorded before with other
// content.
type PutEventsResult struct {
	Accepted   []string
	Duplicates []string
	// Conflicts are ids recorded before with another digest, or repeated
	// within the batch with another digest. When there is any, nothing of
	// the batch was written and Accepted is empty.
	Conflicts []string
}

// Events records webhook events exactly once.
type Events interface {
	// PutEvents writes every event of the batch that is not yet recorded, in
	// one all-or-nothing step: either all new events are written or none.
	// An event already recorded (same source and id) with the same digest,
	// or with none because it was recorded before digests existed, is a
	// duplicate and left untouched; a later repeat within the batch is a
	// duplicate of the first when the digests match. One recorded (or
	// repeated) with another digest is a conflict, and then nothing of the
	// batch is written. Every event needs a digest. At most 100 events per
	// call.
	PutEvents(ctx context.Context, evs []RecordedEvent) (PutEventsResult, error)
	// GetEvent reads one recorded event; ErrNotFound when absent.
	GetEvent(ctx context.Context, source, id string) (RecordedEvent, error)
}

// Members stores the member projection and its enrollments.
type Members interface {
	// GetMember returns the projection; ErrNotFound when the member has none.
	GetMember(ctx context.Context, id string) (loyalty.Member, error)
	// SaveMember writes m as the result of applying event eventID. It fails
	// with ErrDuplicate (nothing written) when eventID was already applied to
	// this member, and with ErrConflict when the stored version is no longer
	// m.Version-1 (0 meaning "no projection yet"). On success the stored
	// version is m.Version.
	SaveMember(ctx context.Context, m loyalty.Member, eventID string) error

	// StartEnrollment records an active enrollment unless one with the same
	// member, journey and number exists; it returns the stored enrollment and
	// whether this call created it.
	StartEnrollment(ctx context.Context, e loyalty.Enrollment) (loyalty.Enrollment, bool, error)
	// EndEnrollment moves an enrollment to a final status. Ending an already
	// ended enrollment changes nothing and is not an error.
	EndEnrollment(ctx context.Context, memberID, journey string, number int, status loyalty.EnrollmentStatus, reason string, at time.Time) error
	// GetEnrollment reads one enrollment; ErrNotFound when absent.
	GetEnrollment(ctx context.Context, memberID, journey string, number int) (loyalty.Enrollment, error)
	// ListEnrollments returns the member's enrollments ordered by journey then number.
	ListEnrollments(ctx context.Context, memberID string) ([]loyalty.Enrollment, error)
}

// SendStatus is where one email send is.
type SendStatus string

// Send statuses.
const (
	SendPending SendStatus = "pending" // reserved; the provider may or may not have it
	SendSent    SendStatus = "sent"    // the provider accepted it
	SendSkipped SendStatus = "skipped" // deliberately not sent (no consent, suppressed …)
)

// Send is the ledger row of one email, keyed by its idempotency key
// (member#journey#enrollment#step).
type Send struct {
	Key        string     `json:"key"`
	MemberID   string     `json:"member_id"`
	Journey    string     `json:"journey"`
	Enrollment int        `json:"enrollment"`
	Step       string     `json:"step"`
	Template   string     `json:"template"`
	Status     SendStatus `json:"status"`
	MessageID  string     `json:"message_id,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	// AttemptedAt is when the provider was last called for this row (zero:
	// never). A retry that finds a pending row with an attempt checks the
	// provider's feedback before sending again.
	AttemptedAt time.Time `json:"attempted_at,omitzero"`
}

// SendRef names a send row and the journey step its moves are counted
// in: what a caller that reserved the row knows without reading it again.
type SendRef struct {
	MemberID string
	Key      string
	Journey  string
	Step     string
}

// Ref returns the reference of the row.
func (s Send) Ref() SendRef {
	return SendRef{MemberID: s.MemberID, Key: s.Key, Journey: s.Journey, Step: s.Step}
}

// Sends is the ledger that makes email sends effectively once.
type Sends interface {
	// ReserveSend writes s (status pending) unless a row with s.Key exists; it
	// returns the stored row and whether this call created it.
	ReserveSend(ctx context.Context, s Send) (Send, bool, error)
	// CompleteSend moves the pending row ref names to sent (with the
	// provider's message id) or skipped (with a reason). Completing a row
	// that is already final changes nothing; ErrNotFound when there is no
	// row. The move is counted once, however many callers complete the row,
	// in the stats of the row's journey step: "sent", or "skipped:<code>"
	// where code is the reason up to its first ':' (e.g.
	// "skipped:no_consent"). ref's Journey and Step are the caller's
	// knowledge of the row's (Send.Ref), which spares the adapter a read;
	// when they are not the row's, the row's own are counted.
	CompleteSend(ctx context.Context, ref SendRef, status SendStatus, messageID, reason string, at time.Time) error
	// MarkSendAttempt records on a pending row that the provider is about to
	// be called; a zero at clears it (the provider answered and did not
	// take the message). It is a claim: it succeeds only while the row's
	// attempt is still prev (zero: none), and fails with ErrConflict when
	// another caller changed it first — two callers of one key can never
	// both call the provider. ErrNotFound when the row does not exist. A
	// final row is left as it is (no error).
	MarkSendAttempt(ctx context.Context, memberID, key string, at, prev time.Time) error
	// SendContext reads, strongly consistently and in one round trip,
	// what deciding one send of the member's enrollment in the journey
	// needs: the member, the enrollment, the suppression and the contact
	// state. ErrNotFound when the member has no profile.
	SendContext(ctx context.Context, memberID, journey string, enrollment int) (SendContext, error)
	// GetSend reads one row; ErrNotFound when absent.
	GetSend(ctx context.Context, memberID, key string) (Send, error)
	// ListSends returns the member's send rows, oldest first.
	ListSends(ctx context.Context, memberID string) ([]Send, error)
}

// SendContext is what the store holds about a member that decides
// whether and when one of their emails goes.
type SendContext struct {
	Member loyalty.Member
	// Enrollment is the send's enrollment; nil when there is none.
	Enrollment *loyalty.Enrollment
	// Suppression is the member's; nil when they are not suppressed.
	Suppression *Suppression
	// Contact and ContactVersion are as GetContact returns them.
	Contact        contact.State
	ContactVersion int64
}

// Provider event types memberflow records (SendGrid's names).
const (
	EventProcessed        = "processed"
	EventDelivered        = "delivered"
	EventOpen             = "open"
	EventClick            = "click"
	EventBounce           = "bounce"
	EventDropped          = "dropped"
	EventDeferred         = "deferred"
	EventSpamReport       = "spamreport"
	EventUnsubscribe      = "unsubscribe"
	EventGroupUnsubscribe = "group_unsubscribe"
	EventGroupResubscribe = "group_resubscribe"
)

// SendEvent is one delivery event the provider reported for a send.
type SendEvent struct {
	ID         string    `json:"id"` // the provider's event id (sg_event_id)
	MemberID   string    `json:"member_id"`
	SendKey    string    `json:"send_key"` // the send's idempotency key
	Journey    string    `json:"journey"`
	Step       string    `json:"step"`
	Enrollment int       `json:"enrollment"`
	Type       string    `json:"type"`
	At         time.Time `json:"at"`
	MessageID  string    `json:"message_id,omitempty"`
	Reason     string    `json:"reason,omitempty"` // bounce or drop reason
	URL        string    `json:"url,omitempty"`    // clicked link
	Group      int       `json:"group,omitempty"`  // ASM group of (un)subscribe events
}

// Suppression keeps a member from receiving any journey email.
type Suppression struct {
	MemberID string    `json:"member_id"`
	Reason   string    `json:"reason"` // e.g. "bounce: 550 mailbox unavailable"
	Source   string    `json:"source"` // e.g. "sendgrid:bounce"
	At       time.Time `json:"at"`
}

// StepStats counts what happened to one journey step's sends. Keys are
// "sent", "skipped:<code>", the provider event types (counted once per
// send: a send opened five times is one "open") and "conversion".
type StepStats struct {
	Step   string           `json:"step"`
	Counts map[string]int64 `json:"counts"`
}

// Feedback stores what the provider reported about sends, the suppression
// list and the journey statistics built from both.
type Feedback interface {
	// RecordSendEvent stores ev once per ev.ID: a repeat fails with
	// ErrDuplicate and changes nothing. In the same write it counts ev.Type
	// in the step's stats if this send had no event of that type before,
	// and for processed or delivered moves a still-pending send row to sent
	// with ev.MessageID.
	RecordSendEvent(ctx context.Context, ev SendEvent) error
	// ListSendEvents returns the member's events at or after since, oldest
	// first.
	ListSendEvents(ctx context.Context, memberID string, since time.Time) ([]SendEvent, error)
	// Suppress puts the member on the suppression list; if they are on it
	// already the first record stays.
	Suppress(ctx context.Context, s Suppression) error
	// GetSuppression reads the member's suppression; ErrNotFound when none.
	GetSuppression(ctx context.Context, memberID string) (Suppression, error)
	// RecordConversion counts orderID as a conversion of the send once:
	// a repeat for the same order and send fails with ErrDuplicate.
	RecordConversion(ctx context.Context, memberID, orderID string, send SendEvent, at time.Time) error
	// JourneyStats returns every step's counts for the journey, by step
	// name; steps with nothing counted are absent.
	JourneyStats(ctx context.Context, journey string) ([]StepStats, error)
}

// Store is everything memberflow persists.
type Store interface {
	Events
	Members
	Sends
	Feedback
	Ledger
	Contacts
	Calendar
	// Ping checks the store is reachable (used by health checks).
	Ping(ctx context.Context) error
}

// LedgerChange is one member's part of a ledger commit: the account as it
// is after the change, the entries that explain it and what it claims.
type LedgerChange struct {
	// Account is the new state; Account.Version must be the stored version
	// plus one (1 for a member without an account yet).
	Account loyalty.Account
	// Entries are appended; each entry's Seq is unique per member.
	Entries []loyalty.Entry
	// Cause, when set, is recorded as applied to this member; a second
	// commit with the same cause fails with ErrDuplicate and writes nothing.
	Cause string
	// Record is what the journal keeps of the cause (its kind, time and
	// parameters) so the account can be recomputed in causal order; it is
	// stored with the cause's applied marker. Ignored without Cause.
	Record loyalty.Recorded
	// Claims must be free or already held by the same owner.
	Claims []loyalty.Claim
	// Counters are incremented by one each and must stay within Limit.
	Counters []loyalty.Counter
	// Liability is added to the outstanding-liability counters (keys from
	// loyalty.LiabilityDeltas).
	Liability map[string]decimal.Decimal
	// NextDue is the day (YYYY-MM-DD) the account next changes by time
	// alone, or "" for never; the sweep finds accounts by it.
	NextDue string
}

// More errors of the ledger port.
var (
	// ErrClaimed: a claim is held by another owner; nothing was written.
	ErrClaimed = errors.New("claimed by another member")
	// ErrLimit: a counter would pass its limit; nothing was written.
	ErrLimit = errors.New("limit reached")
	// ErrNegative: a balance would go below zero; nothing was written.
	ErrNegative = errors.New("balance would go below zero")
)

// Ledger stores loyalty accounts and their append-only entries.
type Ledger interface {
	// GetAccount reads a member's account; ErrNotFound when it has none.
	GetAccount(ctx context.Context, memberID string) (loyalty.Account, error)
	// MemberAndAccount reads the member's projection and account together,
	// strongly consistently and in one round trip. Either may be absent:
	// the member is then loyalty.Member{ID: memberID} and the account
	// loyalty.Account{MemberID: memberID}, both at version 0.
	MemberAndAccount(ctx context.Context, memberID string) (loyalty.Member, loyalty.Account, error)
	// CommitLedger writes all changes in one transaction: each account
	// conditioned on its previous version (ErrConflict), each cause's
	// applied marker create-only (ErrDuplicate), every entry create-only,
	// the balances (points pending and available, stored-value principal
	// and bonus) updated by the entries' sums under conditions that keep
	// them at or above zero (ErrNegative), claims (ErrClaimed), counters
	// (ErrLimit) and the liability counters.
	CommitLedger(ctx context.Context, changes ...LedgerChange) error
	// ListEntries returns up to limit of the member's entries, newest
	// first, with Seq below before (0 = from the newest).
	ListEntries(ctx context.Context, memberID string, limit int, before int64) ([]loyalty.Entry, error)
	// CauseApplied reports whether a commit with this cause was made for
	// the member.
	CauseApplied(ctx context.Context, memberID, cause string) (bool, error)
	// AppliedRecord returns the journal record committed with the cause
	// (Cause set, the rest empty for a cause committed before the journal
	// existed); ErrNotFound when the cause was never committed.
	AppliedRecord(ctx context.Context, memberID, cause string) (loyalty.Recorded, error)
	// Journal returns the journal records of every cause committed to
	// the member's ledger, in no particular order.
	Journal(ctx context.Context, memberID string) ([]loyalty.Recorded, error)
	// ClaimOwner returns who holds a claim; ErrNotFound when nobody does.
	ClaimOwner(ctx context.Context, key string) (string, error)
	// LiabilityCounters returns the sum of every liability counter.
	LiabilityCounters(ctx context.Context) (map[string]decimal.Decimal, error)
	// DueAccounts returns up to limit member ids whose NextDue is day,
	// after the cursor (a member id; "" to start).
	DueAccounts(ctx context.Context, day string, after string, limit int) ([]string, error)
}

// Contacts keeps each member's contact-policy state (internal/contact):
// the marketing emails that took their slots and the emails waiting for
// one. It is one small item per member, changed under a version check so
// two journeys deciding at once cannot both take the last slot.
type Contacts interface {
	// GetContact returns the member's state and its version; a member
	// with none yet has the zero state and version 0.
	GetContact(ctx context.Context, memberID string) (contact.State, int64, error)
	// PutContact stores st as version+1 if the stored version is still
	// version (0: none stored yet); otherwise ErrConflict and nothing is
	// written.
	PutContact(ctx context.Context, memberID string, st contact.State, version int64) error
}

// Calendar reads the indexes the calendar journeys scan, one page at a
// time, in member-id order: the cursor is the last member id of the
// previous page ("" to start). Indexes are eventually consistent: an item
// written a moment ago may be missing from a page.
type Calendar interface {
	// MembersByBirthday returns members whose birthday (YYYY-MM-DD) falls
	// on mmdd ("MMDD", e.g. "0229").
	MembersByBirthday(ctx context.Context, mmdd, after string, limit int) ([]loyalty.Member, error)
	// MembersByLastOrderDay returns members whose newest order
	// (LastOrderAt) was on day, a UTC date YYYY-MM-DD.
	MembersByLastOrderDay(ctx context.Context, day, after string, limit int) ([]loyalty.Member, error)
	// AccountsByReviewDay returns accounts whose tier review (ReviewAt)
	// is on day, a UTC date YYYY-MM-DD.
	AccountsByReviewDay(ctx context.Context, day, after string, limit int) ([]loyalty.Account, error)
}
