// Package store declares the persistence ports memberflow's handlers,
// activities and workflows depend on. Adapters live in subpackages
// (dynamo for DynamoDB, memstore for unit tests of other layers); both pass
// the same contract test in storetest.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/journey"
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
	// DeliveryID is the sender's id of the request that recorded the
	// event (CheckDeliveryID): a Standard Webhooks webhook-id, Shopify's
	// X-Shopify-Webhook-Id, WooCommerce's delivery id or Youzan's msg_id;
	// "" when the request carried none. It says which delivery to look
	// for in the sender's logs; events are deduplicated by ID, so a
	// redelivery keeps the first delivery's id.
	DeliveryID string `json:"delivery_id,omitempty"`
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

	// ListActiveEnrollments returns up to limit of the journey's active
	// enrollments (held ones included), by member id then number, after
	// the cursor (next of the page before; "" to start). next is "" when
	// there are no more. The listing is an index, eventually consistent:
	// an enrollment started or ended a moment ago may be missing or
	// still listed. Enrollments started before the index existed are not
	// listed.
	ListActiveEnrollments(ctx context.Context, journey, after string, limit int) (page []loyalty.Enrollment, next string, err error)
	// ListHeldEnrollments is ListActiveEnrollments for the held ones.
	ListHeldEnrollments(ctx context.Context, journey, after string, limit int) (page []loyalty.Enrollment, next string, err error)
	// SetEnrollmentHeld holds (or releases) an active enrollment, which
	// puts it in (or takes it out of) ListHeldEnrollments. An enrollment
	// that has ended is left as it is (no error); ErrNotFound when there
	// is none.
	SetEnrollmentHeld(ctx context.Context, memberID, journey string, number int, held bool) error
	// SetEnrollmentStep records the step an active enrollment reached and
	// the event types it now listens for (nil: none). An ended
	// enrollment is left as it is (no error); ErrNotFound when there is
	// none.
	SetEnrollmentStep(ctx context.Context, memberID, journey string, number int, step string, listen []string) error

	// SetMemberDate files the member under a date attribute's UTC day
	// (YYYY-MM-DD) for MembersByDate, moving them from the day filed
	// before; day "" takes them out. Setting what is set already changes
	// nothing. Birthday, last order and tier review have indexes of
	// their own (Calendar) and need no call.
	SetMemberDate(ctx context.Context, memberID, attribute, day string) error
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
	// state; for a member with an address, one more read finds whether
	// the address was erased (SuppressAddress), reported as the
	// suppression when the member has none of their own. ErrNotFound
	// when the member has no profile.
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
	// Suppression is the member's, or else their address's
	// (SuppressedErasedSource); nil when neither is suppressed.
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
	// JourneySentDays returns, by UTC day (SentDay), how many of the
	// journey's sends moved to sent on each day from from to to, both
	// included; days with none are absent. A send is counted on the day
	// it moved (CompleteSend's at, or the processed or delivered event's
	// time), once, in the same write that counts it "sent" in its step.
	JourneySentDays(ctx context.Context, journey string, from, to time.Time) (map[string]int64, error)
}

// SentDay is the day a send at t counts under in JourneySentDays: its UTC
// date, YYYY-MM-DD.
func SentDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// JourneyVersion is one published version of a journey: immutable once
// written.
type JourneyVersion struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Definition is the version as the engine runs it; its Version is
	// Version.
	Definition journey.Definition `json:"definition"`
	// Source is the YAML or JSON as published, for the console and diffs.
	Source      string    `json:"source,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	// PublishedBy is the fingerprint of the token that published it.
	PublishedBy string `json:"published_by,omitempty"`
}

// JourneyState is where a journey is: its status, which version takes
// new entries, and the draft being prepared.
type JourneyState struct {
	Name   string         `json:"name"`
	Status journey.Status `json:"status"`
	// Live is the version new enrollments start on (0: none published).
	Live int `json:"live"`
	// Latest is the highest version published (0: none).
	Latest int `json:"latest"`
	// Draft is the source of a saved draft ("" none); DraftSavedAt is
	// when it was saved.
	Draft        string    `json:"draft,omitempty"`
	DraftSavedAt time.Time `json:"draft_saved_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Journey counter keys (CountJourney): enrollments started and ended and
// goals reached. Active enrollments are CountEnrolled minus CountEnded
// (JourneyActive), computed by the reader rather than stored.
const (
	CountEnrolled = "enrolled"
	CountEnded    = "ended"
	CountGoal     = "goal"
)

// CountExited is the counter key of enrollments that exited for reason
// (e.g. "exited:goal", "exited:archived").
func CountExited(reason string) string { return "exited:" + reason }

// CountEdge is the counter key of members who went from step from to
// step to ("edge:welcome>nudge").
func CountEdge(from, to string) string { return "edge:" + from + ">" + to }

// JourneyActive is how many enrollments counters says are in flight.
func JourneyActive(counters map[string]int64) int64 {
	return counters[CountEnrolled] - counters[CountEnded]
}

// Journeys stores journey definitions as immutable versions, each
// journey's state and its counters.
type Journeys interface {
	// PublishJourney writes v as version expectLatest+1 (v.Version must
	// be 0 or that number; the stored Definition carries it) and makes it
	// the journey's live and latest version, in one step conditioned on
	// the journey's latest version still being expectLatest (0: none
	// published yet, or a new journey): ErrConflict otherwise, and then
	// nothing is written. Publishing makes the journey live whatever its
	// status was (a paused or archived journey too): enrollments held by
	// a pause stay held until the caller releases them. A saved draft
	// whose source is v.Source is cleared (it is what was published);
	// another draft stays.
	PublishJourney(ctx context.Context, v JourneyVersion, expectLatest int) error
	// GetJourney reads the journey's state; ErrNotFound when there is none.
	GetJourney(ctx context.Context, name string) (JourneyState, error)
	// ListJourneys returns every journey's state, by name.
	ListJourneys(ctx context.Context) ([]JourneyState, error)
	// GetJourneyVersion reads one version; ErrNotFound when absent.
	GetJourneyVersion(ctx context.Context, name string, version int) (JourneyVersion, error)
	// ListJourneyVersions returns the journey's versions newest first,
	// without their Source (GetJourneyVersion reads it).
	ListJourneyVersions(ctx context.Context, name string) ([]JourneyVersion, error)
	// SaveJourneyDraft saves source as the journey's draft, creating the
	// journey in status draft when it has no state yet; source "" removes
	// the draft (ErrNotFound for a journey that has no state).
	SaveJourneyDraft(ctx context.Context, name, source string, at time.Time) error
	// SetJourneyStatus moves the journey to status to if its status is one
	// of from, and returns the state after the move. When it is not, the
	// error is ErrConflict and the state returned is the current one;
	// ErrNotFound when the journey has no state.
	SetJourneyStatus(ctx context.Context, name string, from []journey.Status, to journey.Status, at time.Time) (JourneyState, error)

	// CountJourney adds counts to the journey's counters once per key (the
	// member's: e.g. the idempotency key of the decision counted): a
	// repeat of the key counts nothing and returns nil.
	CountJourney(ctx context.Context, journey, memberID, key string, counts map[string]int64) error
	// JourneyCounters returns the journey's counters (keys never counted
	// are absent).
	JourneyCounters(ctx context.Context, journey string) (map[string]int64, error)
}

// TimelineEntry is one decision about a member: why they did or did not
// get something. Key is the decision's idempotency key; with At and Kind
// it names the entry.
type TimelineEntry struct {
	MemberID   string `json:"member_id"`
	Journey    string `json:"journey,omitempty"`
	Version    int    `json:"version,omitempty"`
	Enrollment int    `json:"enrollment,omitempty"`
	Step       string `json:"step,omitempty"`
	// Kind is what was decided (enrolled, not_enrolled, branch, wait,
	// sent, deferred, skipped, reward_granted, reward_refused,
	// goal_reached, exited, held_out).
	Kind   string `json:"kind"`
	Reason string `json:"reason,omitempty"`
	// Values are the inputs that decided (a CEL expression → its value),
	// stored as JSON: numbers read back as float64.
	Values map[string]any `json:"values,omitempty"`
	// At is the decision time; Until, for a deferral, when it goes on.
	At    time.Time `json:"at"`
	Until time.Time `json:"until,omitzero"`
	Key   string    `json:"key"`
}

// Timeline stores the decisions about members, newest first.
type Timeline interface {
	// AppendTimeline writes the entries (at most 100), each once: an
	// entry already written (same member, At, Key and Kind) is left as it
	// is, so an activity's retry writes nothing twice and fails nothing.
	AppendTimeline(ctx context.Context, entries ...TimelineEntry) error
	// ListTimeline returns up to limit of the member's entries, newest
	// first, before the cursor (next of the page before; "" for the
	// newest). next is "" when there are no more.
	ListTimeline(ctx context.Context, memberID string, limit int, before string) (entries []TimelineEntry, next string, err error)
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
	Journeys
	Timeline
	Audit
	Erasure
	Lift
	Analytics
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
	// MembersByDate returns the ids of members filed (SetMemberDate)
	// under the date attribute on day, a UTC date YYYY-MM-DD.
	MembersByDate(ctx context.Context, attribute, day, after string, limit int) ([]string, error)
	// MembersPage returns members of one shard (0 ≤ shard <
	// MemberShards; MemberShard says a member's) of the index of every
	// member profile: a broadcast pages through all shards, which may run
	// in parallel, without scanning the table.
	MembersPage(ctx context.Context, shard int, after string, limit int) ([]loyalty.Member, error)
}

// MemberShards is how many shards the index of every member (MembersPage)
// is spread over: one partition would take every profile write of the
// programme.
const MemberShards = 16

// MemberShard is the shard of the member index a member is in; it is
// stable, so a member is in one shard for ever.
func MemberShard(memberID string) int {
	h := fnv.New32a()
	h.Write([]byte(memberID))
	return int(h.Sum32() % MemberShards)
}
