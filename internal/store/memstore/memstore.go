// Package memstore is an in-memory store.Store for unit tests of the layers
// above the store. It keeps the DynamoDB adapter's semantics (idempotency,
// versions, final states, ordering) and passes the same contract test, so a
// test that passes here means the same against DynamoDB.
package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

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

type sendEventKey struct{ memberID, id string }

// firstKey names the first event of a type for one send.
type firstKey struct{ memberID, sendKey, eventType string }

type conversionKey struct{ memberID, orderID, sendKey string }

type entryKey struct {
	memberID string
	seq      int64
}

// account is a stored ledger account: the account as a read decodes the
// JSON the DynamoDB adapter keeps, handed out as deep copies so a
// caller's later changes to its Account cannot reach the store, and the
// balances the store guards at zero.
type account struct {
	decoded  loyalty.Account
	version  int64
	balances loyalty.Balances
	nextDue  string
	// reviewDay is the UTC day of the account's ReviewAt, "" for none:
	// the DynamoDB adapter's review index.
	reviewDay string
}

// Store is an in-memory store.Store, safe for concurrent use.
type Store struct {
	mu          sync.Mutex
	events      map[eventKey]store.RecordedEvent
	members     map[string]loyalty.Member
	applied     map[appliedKey]bool
	enrollments map[enrollmentKey]loyalty.Enrollment
	sends       map[sendKey]store.Send

	sendEvents   map[sendEventKey]store.SendEvent
	firstEvents  map[firstKey]bool
	suppressions map[string]store.Suppression
	conversions  map[conversionKey]bool
	// stats are the step counters by journey, step and stats key.
	stats map[string]map[string]map[string]int64
	// sentDays counts sends moved to sent by journey and SentDay.
	sentDays map[string]map[string]int64

	accounts      map[string]account
	entries       map[entryKey][]byte
	ledgerApplied map[appliedKey]loyalty.Recorded
	claims        map[string]string
	counters      map[string]int
	liability     map[string]decimal.Decimal

	contacts map[string]contactState

	engine engineState

	analytics analyticsState

	audit auditLog

	lift liftState

	// addresses are the erased addresses' hashes (SuppressAddress).
	addresses map[string]time.Time

	idx indexes
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

		sendEvents:   make(map[sendEventKey]store.SendEvent),
		firstEvents:  make(map[firstKey]bool),
		suppressions: make(map[string]store.Suppression),
		conversions:  make(map[conversionKey]bool),
		stats:        make(map[string]map[string]map[string]int64),
		sentDays:     make(map[string]map[string]int64),

		accounts:      make(map[string]account),
		entries:       make(map[entryKey][]byte),
		ledgerApplied: make(map[appliedKey]loyalty.Recorded),
		claims:        make(map[string]string),
		counters:      make(map[string]int),
		liability:     make(map[string]decimal.Decimal),

		contacts: make(map[string]contactState),

		engine: newEngineState(),

		idx: newIndexes(),
	}
}

// Ping always succeeds: memory is always reachable.
func (s *Store) Ping(context.Context) error { return nil }

// PutEvents records the new events of the batch and reports the others as
// duplicates or conflicts, in input order; with any conflict it records
// nothing.
func (s *Store) PutEvents(_ context.Context, evs []store.RecordedEvent) (store.PutEventsResult, error) {
	var res store.PutEventsResult
	if err := store.CheckPutEvents(evs); err != nil {
		return res, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	batch := make(map[eventKey]string, len(evs)) // digest of the first occurrence
	var fresh []store.RecordedEvent
	for _, ev := range evs {
		k := eventKey{ev.Source, ev.ID}
		recorded, ok := s.events[k]
		digest := recorded.Digest
		if !ok {
			digest, ok = batch[k]
		}
		switch {
		case !ok:
			batch[k] = ev.Digest
			fresh = append(fresh, ev)
			res.Accepted = append(res.Accepted, ev.ID)
		case store.SameContent(digest, ev.Digest):
			res.Duplicates = append(res.Duplicates, ev.ID)
		default:
			res.Conflicts = append(res.Conflicts, ev.ID)
		}
	}
	if len(res.Conflicts) > 0 {
		res.Accepted = nil
		return res, nil
	}
	for _, ev := range fresh {
		s.events[eventKey{ev.Source, ev.ID}] = cloneEvent(ev)
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
	return cloneMember(m), nil
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
	attrs, err := jsonValues(m.Attributes)
	if err != nil {
		return fmt.Errorf("save member %s: attributes: %w", m.ID, err)
	}
	m.Attributes = attrs
	s.putMember(cloneMember(m))
	s.applied[appliedKey{m.ID, eventID}] = true
	return nil
}

// cloneMember copies the member's slices, so neither the caller nor the
// store can change the other's, as with a real database.
func cloneMember(m loyalty.Member) loyalty.Member {
	m.Consent.UnsubscribedGroups = slices.Clone(m.Consent.UnsubscribedGroups)
	m.Tags = slices.Clone(m.Tags)
	if m.Scores != nil {
		sc := *m.Scores
		m.Scores = &sc
	}
	if m.Attributes != nil {
		m.Attributes = cloneJSON(m.Attributes).(map[string]any)
	}
	return m
}

// jsonValues returns values as the DynamoDB adapter reads them back: gone
// through JSON, numbers are float64 and an empty map is none.
func jsonValues(values map[string]any) (map[string]any, error) {
	if len(values) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(values)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

// cloneJSON deep-copies a value decoded from JSON.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = cloneJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneJSON(e)
		}
		return out
	}
	return v
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
		return cloneEnrollment(cur), false, nil
	}
	s.putEnrollment(k, cloneEnrollment(e))
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
	// An ended enrollment waits for nothing, so it is held no longer.
	e.Status, e.EndedAt, e.Held = status, at, false
	if reason != "" {
		e.Reason = reason
	}
	s.putEnrollment(k, e)
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
	return cloneEnrollment(e), nil
}

// ListEnrollments returns the member's enrollments by journey then number.
func (s *Store) ListEnrollments(_ context.Context, memberID string) ([]loyalty.Enrollment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.enrollmentsIn(s.idx.memberEnrollments[memberID], func(loyalty.Enrollment) bool { return true }, byJourneyThenNumber)
	if len(out) == 0 {
		return nil, nil
	}
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
	s.idx.memberSends[snd.MemberID] = append(s.idx.memberSends[snd.MemberID], k)
	return snd, true, nil
}

// CompleteSend moves a pending row to sent or skipped and counts the move
// under the row's own step; a final row is left as it is.
func (s *Store) CompleteSend(_ context.Context, ref store.SendRef, status store.SendStatus, messageID, reason string, at time.Time) error {
	statsKey, err := store.CheckCompleteSend(ref.Key, status, reason)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sendKey{ref.MemberID, ref.Key}
	snd, ok := s.sends[k]
	if !ok {
		return fmt.Errorf("complete send %s: %w", ref.Key, store.ErrNotFound)
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
	s.count(snd.Journey, snd.Step, statsKey)
	if status == store.SendSent {
		s.countSentDay(snd.Journey, snd.Step, at)
	}
	return nil
}

// MarkSendAttempt sets AttemptedAt on a pending row; a final row is left
// as it is.
func (s *Store) MarkSendAttempt(_ context.Context, memberID, key string, at, prev time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sendKey{memberID, key}
	snd, ok := s.sends[k]
	if !ok {
		return fmt.Errorf("mark send attempt %s: %w", key, store.ErrNotFound)
	}
	if snd.Status == store.SendPending && !snd.AttemptedAt.Equal(prev) {
		return fmt.Errorf("mark send attempt %s: %w", key, store.ErrConflict)
	}
	if snd.Status == store.SendPending {
		snd.AttemptedAt = at
		s.sends[k] = snd
	}
	return nil
}

// GetSend reads one ledger row.
func (s *Store) GetSend(_ context.Context, memberID, key string) (store.Send, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snd, ok := s.sends[sendKey{memberID, key}]
	if !ok {
		return store.Send{}, fmt.Errorf("get send %s: %w", key, store.ErrNotFound)
	}
	return snd, nil
}

// ListSends returns the member's ledger rows oldest first.
func (s *Store) ListSends(_ context.Context, memberID string) ([]store.Send, error) {
	s.mu.Lock()
	var out []store.Send
	for _, k := range s.idx.memberSends[memberID] {
		out = append(out, s.sends[k])
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Send) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}

// GetAccount reads a member's account.
func (s *Store) GetAccount(_ context.Context, memberID string) (loyalty.Account, error) {
	s.mu.Lock()
	acc, ok := s.accounts[memberID]
	s.mu.Unlock()
	if !ok {
		return loyalty.Account{}, fmt.Errorf("get account %s: %w", memberID, store.ErrNotFound)
	}
	return deepCopy(acc.decoded), nil
}

// maxTransactItems is the DynamoDB adapter's limit on items per commit,
// kept here so a commit that passes against memory passes against DynamoDB.
const maxTransactItems = 100

// liabilityShards and liabilityShard mirror the DynamoDB adapter's
// liability items, which decide how many items a commit writes and which
// deltas merge before they are applied.
const liabilityShards = 16

func liabilityShard(memberID string) int {
	h := fnv.New32a()
	h.Write([]byte(memberID))
	return int(h.Sum32() % liabilityShards)
}

// CommitLedger checks every change against the stored state, then applies
// all of them, or none. The checks run in the DynamoDB adapter's order of
// precedence: argument errors, a commit that refuses itself (two owners of
// one claim, a counter passed by this commit alone, too many items), a
// replayed cause, a stale version, a balance below zero, a claim held by
// another owner, a counter at its limit.
func (s *Store) CommitLedger(_ context.Context, changes ...store.LedgerChange) error {
	if len(changes) == 0 {
		return nil
	}
	if err := store.CheckCommitLedger(changes); err != nil {
		return err
	}
	what := "commit ledger of " + memberIDs(changes)

	// The commit on its own.
	items := 0
	owners := map[string]string{}
	type counterUse struct{ n, limit int }
	counters := map[string]counterUse{}
	shards := map[int]map[string]decimal.Decimal{}
	for _, c := range changes {
		items += 1 + len(c.Entries)
		if c.Cause != "" {
			items++
		}
		for _, cl := range c.Claims {
			if o, ok := owners[cl.Key]; ok && o != cl.Owner {
				return fmt.Errorf("%s: claim %s by %s and %s: %w", what, cl.Key, o, cl.Owner, store.ErrClaimed)
			}
			owners[cl.Key] = cl.Owner
		}
		for _, ct := range c.Counters {
			u, ok := counters[ct.Key]
			if !ok {
				u.limit = ct.Limit
			}
			u.n, u.limit = u.n+1, min(u.limit, ct.Limit)
			counters[ct.Key] = u
		}
		shard := liabilityShard(c.Account.MemberID)
		for k, d := range c.Liability {
			if shards[shard] == nil {
				shards[shard] = map[string]decimal.Decimal{}
			}
			shards[shard][k] = shards[shard][k].Add(d)
		}
	}
	for k, u := range counters {
		if u.n > u.limit {
			return fmt.Errorf("%s: counter %s: %d more would pass %d: %w", what, k, u.n, u.limit, store.ErrLimit)
		}
	}
	for shard, sums := range shards {
		maps.DeleteFunc(sums, func(_ string, d decimal.Decimal) bool { return d.IsZero() })
		if len(sums) == 0 {
			delete(shards, shard)
		}
	}
	if items += len(owners) + len(counters) + len(shards); items > maxTransactItems {
		return fmt.Errorf("%s: %d items exceed the %d of one transaction", what, items, maxTransactItems)
	}

	// The commit against the stored state.
	states := make([][]byte, len(changes))
	decoded := make([]loyalty.Account, len(changes))
	entries := make([][][]byte, len(changes))
	for i, c := range changes {
		var err error
		if states[i], err = json.Marshal(c.Account); err != nil {
			return fmt.Errorf("%s: marshal account %s: %w", what, c.Account.MemberID, err)
		}
		if err := json.Unmarshal(states[i], &decoded[i]); err != nil {
			return fmt.Errorf("%s: account %s: %w", what, c.Account.MemberID, err)
		}
		entries[i] = make([][]byte, len(c.Entries))
		for j, e := range c.Entries {
			if entries[i][j], err = json.Marshal(e); err != nil {
				return fmt.Errorf("%s: marshal entry %d: %w", what, e.Seq, err)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range changes {
		if _, done := s.ledgerApplied[appliedKey{c.Account.MemberID, c.Cause}]; c.Cause != "" && done {
			return fmt.Errorf("%s: %w", what, store.ErrDuplicate)
		}
	}
	for _, c := range changes {
		if s.accounts[c.Account.MemberID].version != c.Account.Version-1 {
			return fmt.Errorf("%s: %w", what, store.ErrConflict)
		}
		for _, e := range c.Entries {
			if _, ok := s.entries[entryKey{e.MemberID, e.Seq}]; ok {
				return fmt.Errorf("%s: %w", what, store.ErrConflict)
			}
		}
	}
	balances := make([]loyalty.Balances, len(changes))
	for i, c := range changes {
		cur, d := s.accounts[c.Account.MemberID].balances, loyalty.SumEntries(c.Entries)
		b := loyalty.Balances{
			Pending:   cur.Pending + d.Pending,
			Available: cur.Available + d.Available,
			Principal: cur.Principal.Add(d.Principal),
			Bonus:     cur.Bonus.Add(d.Bonus),
		}
		// Only a decrease is refused, as DynamoDB's floors guard only
		// balances this commit lowers.
		if (d.Pending < 0 && b.Pending < 0) || (d.Available < 0 && b.Available < 0) ||
			(d.Principal.IsNegative() && b.Principal.IsNegative()) || (d.Bonus.IsNegative() && b.Bonus.IsNegative()) {
			return fmt.Errorf("%s: %w", what, store.ErrNegative)
		}
		balances[i] = b
	}
	for k, o := range owners {
		if cur, ok := s.claims[k]; ok && cur != o {
			return fmt.Errorf("%s: claim %s held by %s: %w", what, k, cur, store.ErrClaimed)
		}
	}
	for k, u := range counters {
		if s.counters[k] > u.limit-u.n {
			return fmt.Errorf("%s: counter %s: %w", what, k, store.ErrLimit)
		}
	}

	for i, c := range changes {
		id := c.Account.MemberID
		old := s.accounts[id]
		acc := account{decoded: decoded[i], version: c.Account.Version, balances: balances[i], nextDue: c.NextDue,
			reviewDay: utcDay(c.Account.ReviewAt)}
		s.accounts[id] = acc
		refile(s.idx.byReviewDay, old.reviewDay, acc.reviewDay, id)
		refile(s.idx.byDueDay, old.nextDue, acc.nextDue, id)
		for j, e := range c.Entries {
			s.entries[entryKey{id, e.Seq}] = entries[i][j]
			s.idx.memberEntries[id] = append(s.idx.memberEntries[id], e.Seq)
		}
		if c.Cause != "" {
			rec := c.Record
			rec.Cause, rec.Params = c.Cause, slices.Clone(rec.Params)
			s.ledgerApplied[appliedKey{id, c.Cause}] = rec
			s.idx.memberCauses[id] = append(s.idx.memberCauses[id], c.Cause)
		}
	}
	maps.Copy(s.claims, owners)
	for k, u := range counters {
		s.counters[k] += u.n
	}
	for _, sums := range shards {
		for k, d := range sums {
			s.liability[k] = s.liability[k].Add(d)
		}
	}
	return nil
}

// ListEntries returns the member's entries newest first.
func (s *Store) ListEntries(_ context.Context, memberID string, limit int, before int64) ([]loyalty.Entry, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list entries of %s: limit %d, want at least 1", memberID, limit)
	}
	s.mu.Lock()
	var seqs []int64
	for _, seq := range s.idx.memberEntries[memberID] {
		if before <= 0 || seq < before {
			seqs = append(seqs, seq)
		}
	}
	slices.SortFunc(seqs, func(a, b int64) int { return cmp.Compare(b, a) })
	seqs = seqs[:min(limit, len(seqs))]
	raw := make([][]byte, len(seqs))
	for i, seq := range seqs {
		raw[i] = s.entries[entryKey{memberID, seq}]
	}
	s.mu.Unlock()
	out := make([]loyalty.Entry, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, fmt.Errorf("list entries of %s: %w", memberID, err)
		}
	}
	return out, nil
}

// ClaimOwner reads who holds a claim.
func (s *Store) ClaimOwner(_ context.Context, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, ok := s.claims[key]
	if !ok {
		return "", fmt.Errorf("claim owner of %s: %w", key, store.ErrNotFound)
	}
	return owner, nil
}

// LiabilityCounters returns a copy of the liability sums.
func (s *Store) LiabilityCounters(context.Context) (map[string]decimal.Decimal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.liability), nil
}

// DueAccounts returns member ids due on day after the cursor, in id order.
func (s *Store) DueAccounts(_ context.Context, day string, after string, limit int) ([]string, error) {
	if day == "" || limit < 1 {
		return nil, fmt.Errorf("due accounts on %q: a day and a limit of at least 1 are required", day)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return idsAfter(s.idx.byDueDay[day], after, limit), nil
}

// memberIDs names the members of a commit for error messages.
func memberIDs(changes []store.LedgerChange) string {
	ids := make([]string, len(changes))
	for i, c := range changes {
		ids[i] = c.Account.MemberID
	}
	return strings.Join(ids, ",")
}

// CauseApplied reports whether a commit with the cause was made.
func (s *Store) CauseApplied(_ context.Context, memberID, cause string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ledgerApplied[appliedKey{memberID, cause}]
	return ok, nil
}

// AppliedRecord returns the journal record committed with the cause.
func (s *Store) AppliedRecord(_ context.Context, memberID, cause string) (loyalty.Recorded, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.ledgerApplied[appliedKey{memberID, cause}]
	if !ok {
		return loyalty.Recorded{}, fmt.Errorf("applied record %s of %s: %w", cause, memberID, store.ErrNotFound)
	}
	rec.Params = slices.Clone(rec.Params)
	return rec, nil
}

// Journal returns the records of every cause committed to the member.
func (s *Store) Journal(_ context.Context, memberID string) ([]loyalty.Recorded, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []loyalty.Recorded
	for _, cause := range s.idx.memberCauses[memberID] {
		rec := s.ledgerApplied[appliedKey{memberID, cause}]
		rec.Params = slices.Clone(rec.Params)
		out = append(out, rec)
	}
	return out, nil
}

// MemberAndAccount reads the member's projection and account; an absent
// one is the bare id at version 0.
func (s *Store) MemberAndAccount(ctx context.Context, memberID string) (loyalty.Member, loyalty.Account, error) {
	m, err := s.GetMember(ctx, memberID)
	if errors.Is(err, store.ErrNotFound) {
		m, err = loyalty.Member{ID: memberID}, nil
	}
	if err != nil {
		return loyalty.Member{}, loyalty.Account{}, err
	}
	a, err := s.GetAccount(ctx, memberID)
	if errors.Is(err, store.ErrNotFound) {
		a, err = loyalty.Account{MemberID: memberID}, nil
	}
	if err != nil {
		return loyalty.Member{}, loyalty.Account{}, err
	}
	return m, a, nil
}

// SendContext reads the member, the enrollment, the suppression and the
// contact state the send is decided on.
func (s *Store) SendContext(ctx context.Context, memberID, journey string, enrollment int) (store.SendContext, error) {
	var sc store.SendContext
	var err error
	if sc.Member, err = s.GetMember(ctx, memberID); err != nil {
		return store.SendContext{}, fmt.Errorf("send context: %w", err)
	}
	s.mu.Lock()
	if e, ok := s.enrollments[enrollmentKey{memberID, journey, enrollment}]; ok {
		e = cloneEnrollment(e)
		sc.Enrollment = &e
	}
	if sup, ok := s.suppressions[memberID]; ok {
		sc.Suppression = &sup
	} else {
		sc.Suppression = s.addressSuppression(memberID, sc.Member.Email)
	}
	s.mu.Unlock()
	if sc.Contact, sc.ContactVersion, err = s.GetContact(ctx, memberID); err != nil {
		return store.SendContext{}, fmt.Errorf("send context: %w", err)
	}
	return sc, nil
}
