package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

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
	// EraseMember removes the member's personal data (PersonalData) from
	// every item the store holds about them and marks the profile erased
	// (loyalty.Member.ErasedAt = at, kept from the first erasure): the
	// profile loses email, name, phone, birthday and attributes, the
	// recorded events'
	// payloads lose their personal fields (RedactJSON), and every other
	// item of the member loses the profile's values wherever a string
	// holds them. Amounts, keys, rules and versions of the ledger are
	// left as they are. The profile's address, if any, is suppressed by
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
func PersonalKey(name string) bool { return personalKeys[strings.ToLower(name)] }

// PersonalData is the set of a member's personal values an erasure looks
// for in strings.
type PersonalData struct{ values []string }

// NewPersonalData collects m's email (as written, normalised and URL
// encoded, as a link would carry it), name, phone and birthday. Values
// shorter than three characters are left out: they would match inside
// unrelated text.
func NewPersonalData(m loyalty.Member) PersonalData {
	var p PersonalData
	add := func(v string) {
		v = strings.TrimSpace(v)
		if len(v) >= 3 && !slices.Contains(p.values, v) {
			p.values = append(p.values, v)
		}
	}
	add(m.Email)
	add(NormalizeEmail(m.Email))
	if m.Email != "" {
		add(url.QueryEscape(m.Email))
		add(url.QueryEscape(NormalizeEmail(m.Email)))
	}
	add(m.Name)
	add(m.Phone)
	add(m.Birthday)
	// The longest first, so a value inside another is not replaced
	// before the one that holds it.
	slices.SortFunc(p.values, func(a, b string) int { return len(b) - len(a) })
	return p
}

// Empty reports whether there is nothing to look for.
func (p PersonalData) Empty() bool { return len(p.values) == 0 }

// Redact replaces every personal value in s with ErasedMark; the email
// is matched whatever its case.
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

// RedactJSON returns raw without its personal fields (PersonalKey) at any
// depth and with p's values redacted from every other string. It reports
// whether anything changed. A payload that is not JSON is redacted as
// text.
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
	out, err := json.Marshal(v)
	if err != nil {
		red := p.Redact(string(raw))
		return []byte(red), red != string(raw)
	}
	return out, true
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
