package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Audit outcomes. An operator action's entry is written before the action
// runs (OutcomeRequested), so no action takes effect without one; when the
// action then fails, a second entry with OutcomeFailed and the answer's
// HTTP status follows it.
const (
	OutcomeRequested = "requested"
	OutcomeFailed    = "failed"
)

// AuditEntry is one operator action in the audit log. It holds no PII:
// targets name members by id and journeys by name, never by email, phone
// or name.
type AuditEntry struct {
	// ID is the entry's place in the log, given by the store when it is
	// appended: it sorts by At (entries of the same instant in no
	// particular order) and is the listing's cursor.
	ID string `json:"id"`
	// At is when the action was asked for.
	At time.Time `json:"at"`
	// Action is what was done: adjustment, journey.publish,
	// journey.draft, journey.pause, journey.resume, journey.archive,
	// journey.enroll, journey.remove, member.erase, member.export,
	// template.push.
	Action string `json:"action"`
	// Target is what it was done to: "member:<id>", "journey:<name>",
	// "journey:<name>/member:<id>" or "template:<name>".
	Target string `json:"target"`
	// Token is the fingerprint of the admin token that acted
	// (api.TokenID: "sha256:…").
	Token string `json:"token"`
	// Key makes the entry once: a second append with the same Key is
	// ErrDuplicate and writes nothing. It is the request's idempotency
	// key scoped by action and target; "" means every append is new.
	Key     string `json:"key,omitempty"`
	Outcome string `json:"outcome"`
	// Status is the HTTP status of a failed outcome; 0 otherwise.
	Status int `json:"status,omitempty"`
	// Detail is what the action asked for (an adjustment's amounts and
	// reason, a journey's version). Values are operator input, not member
	// data; an adjustment's reason is operator free text, kept because
	// the audit must say why, and the API's callers are told not to put
	// member contact data in it.
	Detail map[string]string `json:"detail,omitempty"`
}

// Audit is the append-only log of operator actions. There is no way to
// change or delete an entry: the port only appends and lists.
type Audit interface {
	// AppendAudit writes e (ID empty; the store sets it) and returns it as
	// stored. An entry with a Key already appended fails with ErrDuplicate
	// and changes nothing; it returns the entry appended under the Key,
	// so a caller can tell a retry from another request reusing the key.
	// An entry is never overwritten.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// ListAudit returns up to limit entries, oldest first, with At at or
	// after since and, when after is set, after the entry whose ID it is
	// (next of the page before). next is "" when there are no more.
	ListAudit(ctx context.Context, since time.Time, after string, limit int) (entries []AuditEntry, next string, err error)
}

// MaxAuditPage is the most entries one ListAudit returns.
const MaxAuditPage = 500

// CheckAuditEntry refuses an entry the log cannot hold, the same way in
// every adapter.
func CheckAuditEntry(e AuditEntry) error {
	switch {
	case e.ID != "":
		return fmt.Errorf("audit entry: ID is set by the store")
	case e.At.IsZero():
		return fmt.Errorf("audit entry: At is required")
	case e.Action == "" || e.Target == "":
		return fmt.Errorf("audit entry: Action and Target are required")
	case e.Outcome != OutcomeRequested && e.Outcome != OutcomeFailed:
		return fmt.Errorf("audit entry: Outcome %q is not %s or %s", e.Outcome, OutcomeRequested, OutcomeFailed)
	case strings.ContainsRune(e.Key, 0):
		return fmt.Errorf("audit entry: Key holds a NUL")
	}
	return nil
}

// AuditTimeLayout writes an entry's time in UTC with every digit of the
// nanoseconds, so IDs that start with it sort by time.
const AuditTimeLayout = "2006-01-02T15:04:05.000000000Z"

// AuditID is the ID of an entry appended at at with the random or
// derived suffix: its time, then the suffix, so IDs sort by time.
func AuditID(at time.Time, suffix string) string {
	return at.UTC().Format(AuditTimeLayout) + "#" + suffix
}

// CheckAuditPage refuses a page the log does not serve.
func CheckAuditPage(after string, limit int) error {
	if limit < 1 || limit > MaxAuditPage {
		return fmt.Errorf("list audit: limit %d is not from 1 to %d", limit, MaxAuditPage)
	}
	if after != "" {
		if _, err := time.Parse(AuditTimeLayout, strings.SplitN(after, "#", 2)[0]); err != nil || !strings.Contains(after, "#") {
			return fmt.Errorf("list audit: cursor %q is not an entry id", after)
		}
	}
	return nil
}
