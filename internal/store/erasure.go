package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// Erasure is what a member's rights need of the store: the events
// recorded about them (for an export) and their erasure, and the
// suppression of an erased address by its hash.
//
// What an erasure keeps, and why the member id stays: every item about a
// member lives under a key built from the member id (their partition,
// the ledger's entries and markers, claims' owners, the journeys'
// counted markers, the liability shard they add to). The ledger must
// keep its amounts, keys and rules so balances, the liability report and
// the audit log stay correct, and rewriting every key under a new id
// would be a many-item move that can fail half-way and would change
// which liability shard the member's amounts sit in. So erasure keeps
// the items under the member id and removes the personal data from
// them: the id, the storefront's opaque customer number, is the
// pseudonym of what remains. Nothing in memberflow links it back to a
// person once the profile, the events and the sends are blanked, and no
// mapping to anything else is recorded. (The storefront still knows its
// own customer number; that link is the storefront's to erase.)
type Erasure interface {
	// MemberEvents returns the recorded webhook events of the member, by
	// source then id. Events recorded before the member's event index
	// existed are not listed.
	MemberEvents(ctx context.Context, memberID string) ([]RecordedEvent, error)
	// MarkErased is an erasure's first write: it sets the profile's
	// erased mark (loyalty.Member.ErasedAt = at) unless it is set, and
	// moves the profile's version on, so a projection write that read
	// the profile before is refused and repeated (and then keeps the
	// member's personal data off, loyalty.Project). From the mark on,
	// dispatch stores the member's events redacted and no journey enters
	// them, so the enrollments the erasure then ends are all there are,
	// and EraseMember afterwards removes the data. Marking a marked
	// profile changes nothing; ErrNotFound when there is no profile.
	MarkErased(ctx context.Context, memberID string, at time.Time) error
	// EraseMember removes the member's personal data from every item the
	// store holds about them and marks the profile erased
	// (loyalty.Member.ErasedAt = at, kept from the first erasure): the
	// profile loses email, name, phone, birthday and attributes; the
	// recorded events' payloads, the ledger's journal records, ledger
	// entries and timeline entries are redacted by field (RedactJSON, so
	// they still decode and the ledger can replay its journal); send
	// rows, send events and the suppression lose the values inside their
	// free text. The values looked for are the profile's and every value
	// the member's events carried (PersonalDataOf), so data changed before
	// the erasure goes too. Amounts, ids, keys, rules, statuses and
	// versions are left as they are. The profile's address, if any, is suppressed by
	// its hash (SuppressAddress) before it is removed. Erasing again
	// finds nothing left and changes nothing; ErrNotFound when the
	// member has no profile. The mark is what keeps the profile and the
	// table free of their data afterwards (loyalty.Project, RedactEvent).
	EraseMember(ctx context.Context, memberID string, at time.Time) (Erased, error)
	// RedactEvent removes the personal data of one recorded event's
	// payload (p.RedactJSON) and reports whether anything changed; the
	// digest, keys and the rest stay. Dispatch calls it for an event of
	// an erased member that arrived, or was still in the stream, after
	// the erasure. ErrNotFound when the event is not recorded.
	RedactEvent(ctx context.Context, source, id string, p PersonalData, at time.Time) (bool, error)
	// SuppressAddress records an address hash (AddressHash) as never to
	// be mailed; a hash recorded already keeps its first record. Every
	// SendContext of a member whose email has that hash reports a
	// suppression, whatever the member id.
	SuppressAddress(ctx context.Context, hash string, at time.Time) error
}

// Erased says what EraseMember did: how many items it changed.
type Erased struct {
	MemberID string `json:"member_id"`
	// Profile says the profile held personal data or was not yet
	// marked erased, and was blanked and marked.
	Profile bool `json:"profile"`
	// Events are the recorded events whose payload was redacted.
	Events int `json:"events"`
	// Items are the member's other items (send rows, send events,
	// timeline, suppression, ledger entries …) a personal value was
	// removed from.
	Items int `json:"items"`
	// Suppressed says the address's hash was recorded by this call.
	Suppressed bool `json:"suppressed"`
}

// Reason and source of the Suppression SendContext reports for an erased
// address.
const (
	SuppressedErasedReason = "erased: the address belongs to an erased member"
	SuppressedErasedSource = "erasure"
)

// ErasedMark replaces a personal value inside a longer string.
const ErasedMark = "[erased]"

// NormalizeEmail is the form an address is hashed in: trimmed and lower
// case.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// AddressHash is the SHA-256 of the normalised address, hex encoded; ""
// for no address.
func AddressHash(email string) string {
	n := NormalizeEmail(email)
	if n == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(n))
	return hex.EncodeToString(sum[:])
}

// personalKeys are the JSON fields RedactJSON removes wherever they are
// in a payload: contact data, names, birthdays, addresses and free text.
var personalKeys = map[string]bool{
	"email": true, "phone": true, "name": true, "first_name": true, "last_name": true,
	"full_name": true, "birthday": true, "birth_date": true, "date_of_birth": true,
	"note": true, "notes": true, "comment": true, "comments": true, "message": true,
	"customer_note": true, "address": true, "address1": true, "address2": true,
	"billing": true, "shipping": true, "billing_address": true, "shipping_address": true,
	"default_address": true, "addresses": true, "mobile": true, "nickname": true,
}

// PersonalKey reports whether a field of that name holds personal data.
// A dotted name (a timeline value's path, "member.email") is judged by
// its last part.
func PersonalKey(name string) bool { return personalKeys[strings.ToLower(lastPart(name))] }

// lastPart is the part of a dotted path after its last dot.
func lastPart(name string) string { return name[strings.LastIndexByte(name, '.')+1:] }

// identifierKeys are the JSON fields RedactJSON leaves exactly as they
// are: ids, types, keys, codes, enums, amounts and times of the events
// (events/schemas), the ledger's journal records and entries, and the
// timeline. The ledger and the journeys match on these, and a personal
// value found inside one is a coincidence, not data about the person: a
// member named "Ted" must not turn "member.profile_updated" into
// "member.profile_upda[erased]", nor "Tom" the event id
// "shopify.customer.7.updated" into "shopify.cus[erased]er.7.updated".
// Every other string is free text (a reason, a location, a timeline
// value, a field of a shape memberflow does not know) and has the
// personal values replaced inside it. TestRedactionKnowsEveryField
// keeps this list complete.
var identifierKeys = map[string]bool{
	// The event envelope.
	"id": true, "version": true, "type": true, "occurred_at": true, "member_id": true,
	// Event data.
	"order_id": true, "refund_id": true, "amount": true, "currency": true, "sku": true, "category": true,
	"quantity": true, "discount": true, "coupon_code": true, "points_redeemed": true, "method": true,
	"timezone": true, "locale": true, "referral_code": true, "email_marketing": true, "group": true,
	"review_id": true, "product_sku": true, "rating": true, "content_id": true, "channel": true,
	"subscription_id": true, "plan": true, "price": true, "trial_ends_at": true, "period_ends_at": true,
	"effective_at": true, "topup_id": true,
	// Journal records (loyalty.Recorded and its parameters).
	"cause": true, "kind": true, "at": true, "key": true, "multiplier": true, "days": true, "actor": true,
	"operator": true, "points": true, "stored_value": true, "growth": true, "coupon": true, "referee": true,
	// Ledger entries.
	"seq": true, "rule": true, "event_id": true, "points_pending": true, "points_available": true,
	"points_shortfall": true, "stored_value_principal": true, "stored_value_bonus": true, "tier": true,
	"lot": true, "release_day": true, "code": true, "expires_day": true, "delta": true,
	// Timeline entries.
	"journey": true, "enrollment": true, "step": true, "until": true,
}

// IdentifierKey reports whether RedactJSON keeps a field of that name as
// it is; a dotted name ("event.id") is judged by its last part.
func IdentifierKey(name string) bool { return identifierKeys[lastPart(name)] }

// PersonalData is the set of a member's personal values an erasure looks
// for in strings.
type PersonalData struct{ values []string }

// NewPersonalData collects the members' emails (as written, normalised
// and URL encoded, as a link would carry them), names, phones and
// birthdays: one member's profile, or a profile and what their events
// ever set on it (PersonalDataOf). Values shorter than three characters
// are left out: they would match inside unrelated text.
func NewPersonalData(ms ...loyalty.Member) PersonalData {
	var p PersonalData
	add := func(v string) {
		v = strings.TrimSpace(v)
		if len(v) >= 3 && !slices.Contains(p.values, v) {
			p.values = append(p.values, v)
		}
	}
	for _, m := range ms {
		add(m.Email)
		add(NormalizeEmail(m.Email))
		if m.Email != "" {
			add(url.QueryEscape(m.Email))
			add(url.QueryEscape(NormalizeEmail(m.Email)))
		}
		add(m.Name)
		add(m.Phone)
		add(m.Birthday)
	}
	// The longest first, so a value inside another is not replaced
	// before the one that holds it.
	slices.SortStableFunc(p.values, func(a, b string) int { return len(b) - len(a) })
	return p
}

// PersonalDataOf is what an erasure of m looks for: the profile's values
// and every value the member's recorded events carried (each event
// projected onto an empty profile, as dispatch projects it), so an
// address, name or phone the member changed before the erasure is found
// too. An event that does not decode adds nothing; its payload still
// loses its personal fields by name (RedactJSON).
func PersonalDataOf(m loyalty.Member, evs []RecordedEvent) PersonalData {
	ms := []loyalty.Member{m}
	for _, ev := range evs {
		env, data, err := DecodeRecorded(ev.Payload)
		if err != nil {
			continue
		}
		carried, _ := loyalty.Project(loyalty.Member{ID: m.ID}, env, data)
		ms = append(ms, carried)
	}
	return NewPersonalData(ms...)
}

// DecodeRecorded decodes a recorded event's payload: its envelope (Raw
// set to the payload, which the ledger's journal keeps) and its data.
func DecodeRecorded(payload []byte) (events.Envelope, any, error) {
	var env events.Envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return env, nil, fmt.Errorf("decode recorded event: %w", err)
	}
	env.Raw = json.RawMessage(payload)
	data, err := env.DecodeData()
	if err != nil {
		return env, nil, fmt.Errorf("decode %s data of event %s: %w", env.Type, env.ID, err)
	}
	return env, data, nil
}

// Empty reports whether there is nothing to look for.
func (p PersonalData) Empty() bool { return len(p.values) == 0 }

// Redact replaces every personal value in s with ErasedMark; the email
// is matched whatever its case. It is for free text only: an identifier
// that happens to contain a value would change too.
func (p PersonalData) Redact(s string) string {
	for _, v := range p.values {
		s = replaceFold(s, v)
	}
	return s
}

func replaceFold(s, v string) string {
	ls, lv := strings.ToLower(s), strings.ToLower(v)
	if len(ls) != len(s) || len(lv) != len(v) {
		// Lower-casing changed byte lengths (outside ASCII): exact
		// matches only.
		return strings.ReplaceAll(s, v, ErasedMark)
	}
	if !strings.Contains(ls, lv) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(ls, lv)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(ErasedMark)
		s, ls = s[i+len(v):], ls[i+len(v):]
	}
}

// RedactJSON returns raw (a recorded event, a journal record's
// parameters, a ledger or timeline entry) without its personal data, by
// field: personal fields (PersonalKey) are removed at any depth,
// identifiers (IdentifierKey) are kept as they are, and p's values are
// replaced inside every other string. It reports whether anything
// changed. What it returns decodes as raw did: a field removed decodes
// as absent, which every type memberflow decodes these into allows, and
// no identifier, date, amount or time is rewritten. A payload that is
// not JSON is redacted as text.
func (p PersonalData) RedactJSON(raw []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		out := p.Redact(string(raw))
		return []byte(out), out != string(raw)
	}
	v, changed := p.redactValue(v)
	if !changed {
		return raw, false
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		red := p.Redact(string(raw))
		return []byte(red), red != string(raw)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), true
}

func (p PersonalData) redactValue(v any) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		changed := false
		for k, e := range t {
			if PersonalKey(k) {
				delete(t, k)
				changed = true
				continue
			}
			if IdentifierKey(k) {
				continue
			}
			ne, c := p.redactValue(e)
			if c {
				t[k], changed = ne, true
			}
		}
		return t, changed
	case []any:
		changed := false
		for i, e := range t {
			if ne, c := p.redactValue(e); c {
				t[i], changed = ne, true
			}
		}
		return t, changed
	case string:
		r := p.Redact(t)
		return r, r != t
	}
	return v, false
}

// RedactRecord is the journal record rec without p's personal data: its
// parameters redacted by field (RedactJSON), so the ledger can still
// decode and replay it (loyalty.DecodeCommand). Cause, kind and time
// stay.
func (p PersonalData) RedactRecord(rec loyalty.Recorded) (loyalty.Recorded, bool) {
	if len(rec.Params) == 0 {
		return rec, false
	}
	red, changed := p.RedactJSON(rec.Params)
	if changed {
		rec.Params = json.RawMessage(red)
	}
	return rec, changed
}

// BlankMember is m without personal data, marked erased at at (unless it
// was before): what an erased profile keeps.
func BlankMember(m loyalty.Member, at time.Time) loyalty.Member {
	m = m.WithoutPersonalData()
	m.Attributes = nil
	if m.ErasedAt.IsZero() {
		m.ErasedAt = at.UTC()
	}
	return m
}

// MemberHasPersonalData reports whether the profile still holds any.
func MemberHasPersonalData(m loyalty.Member) bool {
	return m.Email != "" || m.Name != "" || m.Phone != "" || m.Birthday != "" || len(m.Attributes) > 0
}
