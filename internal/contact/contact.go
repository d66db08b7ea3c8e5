// Package contact is the contact policy every journey's email goes
// through: no marketing email in the member's quiet hours, at most Cap
// marketing emails per member in any Window, and when more emails want a
// member than the cap allows, the more important journey goes first. A
// capped email is deferred to the next slot it can have, not dropped,
// unless that slot is after the step's deadline.
//
// The package is pure: it decides from a member's State and the time; the
// store keeps the State (one small item per member, version-checked) and
// the activities call Decide before every send.
package contact

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Policy is the programme-wide contact policy.
type Policy struct {
	// QuietFrom and QuietUntil are the quiet hours in the member's local
	// time (hours of the day, 0–23): from 21 until 9 means no email from
	// 21:00 until 09:00 the next morning.
	QuietFrom, QuietUntil int
	// Cap marketing emails per member in any Window.
	Cap    int
	Window time.Duration
	// Slack lets a contact leave the window this much early, so a step
	// scheduled exactly one window after an earlier email (a day-7 nudge
	// after the welcome) is not held back by the milliseconds between a
	// step's scheduled time and the moment its email went.
	Slack time.Duration
}

// Default is the policy as shipped: quiet 21:00–09:00, two emails per
// member per seven days. Which email goes first when several wait is each
// journey's own priority (its definition's priority:, carried by the
// request).
func Default() Policy {
	return Policy{QuietFrom: 21, QuietUntil: 9, Cap: 2, Window: 7 * 24 * time.Hour, Slack: 5 * time.Minute}
}

// Validate reports a policy that cannot be applied.
func (p Policy) Validate() error {
	switch {
	case p.QuietFrom < 0 || p.QuietFrom > 23 || p.QuietUntil < 0 || p.QuietUntil > 23:
		return fmt.Errorf("contact policy: quiet hours must be hours 0–23, got %d–%d", p.QuietFrom, p.QuietUntil)
	case p.Cap < 1:
		return fmt.Errorf("contact policy: cap must be at least 1, got %d", p.Cap)
	case p.Window <= 0:
		return fmt.Errorf("contact policy: window must be positive, got %s", p.Window)
	case p.Slack < 0 || p.Slack >= p.Window:
		return fmt.Errorf("contact policy: slack must be at least 0 and less than the window, got %s", p.Slack)
	}
	return nil
}

// Contact is one email that took one of the member's slots.
type Contact struct {
	Key     string    `json:"key"` // the send's idempotency key
	Journey string    `json:"journey"`
	At      time.Time `json:"at"`
}

// Waiter is an email deferred by the cap, waiting for a slot; waiters of
// higher priority are served first.
type Waiter struct {
	Key      string    `json:"key"`
	Journey  string    `json:"journey"`
	Priority int       `json:"priority,omitempty"`
	Since    time.Time `json:"since"`    // when it first asked
	Deadline time.Time `json:"deadline"` // after this it no longer waits
}

// State is one member's contact history as far as the policy needs it.
type State struct {
	Contacts []Contact `json:"contacts,omitempty"`
	Waiters  []Waiter  `json:"waiters,omitempty"`
}

// Request asks for a slot for one email.
type Request struct {
	Key     string
	Journey string
	// Priority ranks the email when emails compete for the member's
	// capped slots: a higher number goes first (the journey's priority).
	Priority int
	// Deadline is the last moment the email still makes sense; zero means
	// it never goes stale.
	Deadline time.Time
}

// Verdict is what the policy decided.
type Verdict string

// Verdicts.
const (
	Send  Verdict = "send"  // send now; the slot is taken in the new state
	Defer Verdict = "defer" // ask again at Decision.At
	Skip  Verdict = "skip"  // the next slot is after the deadline
)

// Reasons a send waits or is skipped.
const (
	ReasonQuietHours = "quiet_hours"
	ReasonCap        = "frequency_cap"
	// ReasonExpired: asked after its deadline (a retry, a late run).
	ReasonExpired = "expired"
)

// Decision is the policy's answer and the state to store with it.
type Decision struct {
	Verdict Verdict
	At      time.Time // Send: now; Defer: when to ask again; Skip: the slot it would have had
	Reason  string    // why it waits or was skipped
	State   State     // the member's state after the decision
}

// Decide answers req at now for a member in loc. It is idempotent: a
// request whose key already took a slot is told to send (the caller's own
// send ledger keeps the email itself once).
func (p Policy) Decide(st State, req Request, now time.Time, loc *time.Location) Decision {
	st = p.prune(st, now)
	if i := slices.IndexFunc(st.Contacts, func(c Contact) bool { return c.Key == req.Key }); i >= 0 {
		return Decision{Verdict: Send, At: st.Contacts[i].At, State: st}
	}
	if !req.Deadline.IsZero() && now.After(req.Deadline) {
		// Too late to make sense, even with a slot free now.
		return Decision{Verdict: Skip, At: now, Reason: ReasonExpired, State: st.Release(req.Key)}
	}
	slot, reason := p.slot(st, req, now, loc)
	if !slot.After(now) {
		st.Waiters = slices.DeleteFunc(st.Waiters, func(w Waiter) bool { return w.Key == req.Key })
		st.Contacts = append(st.Contacts, Contact{Key: req.Key, Journey: req.Journey, At: now})
		return Decision{Verdict: Send, At: now, State: st}
	}
	if !req.Deadline.IsZero() && slot.After(req.Deadline) {
		st.Waiters = slices.DeleteFunc(st.Waiters, func(w Waiter) bool { return w.Key == req.Key })
		return Decision{Verdict: Skip, At: slot, Reason: reason, State: st}
	}
	// Every deferred email waits in line, quiet hours included: when the
	// slots open (at 09:00, or as the window moves) the more important
	// journey goes first.
	if !slices.ContainsFunc(st.Waiters, func(w Waiter) bool { return w.Key == req.Key }) {
		// A waiter never blocks for ever: one whose caller died is
		// forgotten after its deadline, or two windows when it has none.
		deadline := req.Deadline
		if deadline.IsZero() {
			deadline = now.Add(2 * p.Window)
		}
		st.Waiters = append(st.Waiters, Waiter{Key: req.Key, Journey: req.Journey, Priority: req.Priority, Since: now, Deadline: deadline})
	}
	return Decision{Verdict: Defer, At: slot, Reason: reason, State: st}
}

// Release forgets an email that will not go: a waiter that will not ask
// again, or a slot taken by an email the provider then refused (or that
// could not be rendered) — it was never a contact.
func (st State) Release(key string) State {
	st.Waiters = slices.DeleteFunc(slices.Clone(st.Waiters), func(w Waiter) bool { return w.Key == key })
	st.Contacts = slices.DeleteFunc(slices.Clone(st.Contacts), func(c Contact) bool { return c.Key == key })
	return st
}

// Holds reports whether the state holds the key, waiting or as a contact.
func (st State) Holds(key string) bool {
	return slices.ContainsFunc(st.Waiters, func(w Waiter) bool { return w.Key == key }) ||
		slices.ContainsFunc(st.Contacts, func(c Contact) bool { return c.Key == key })
}

// prune drops contacts that left the window and waiters past their
// deadline, so the state stays a handful of entries.
func (p Policy) prune(st State, now time.Time) State {
	out := State{}
	for _, c := range st.Contacts {
		if c.At.Add(p.Window).After(now) {
			out.Contacts = append(out.Contacts, c)
		}
	}
	for _, w := range st.Waiters {
		if w.Deadline.IsZero() || !w.Deadline.Before(now) {
			out.Waiters = append(out.Waiters, w)
		}
	}
	return out
}

// slot is the earliest moment at or after now the request may be sent,
// and what holds it back. Capped slots go to waiters in priority order
// (then first come): the request gets the slot after every waiter that
// outranks it, as if they were sent at the slots before it.
func (p Policy) slot(st State, req Request, now time.Time, loc *time.Location) (time.Time, string) {
	since := now
	if i := slices.IndexFunc(st.Waiters, func(w Waiter) bool { return w.Key == req.Key }); i >= 0 {
		since = st.Waiters[i].Since
	}
	ahead := 0
	for _, w := range st.Waiters {
		if w.Key != req.Key && p.outranks(w, req, since) {
			ahead++
		}
	}
	// Simulate: contacts taken so far, then one slot per waiter ahead,
	// then ours. Each email needs a moment when fewer than Cap contacts
	// lie in the window before it, outside quiet hours.
	taken := make([]time.Time, 0, len(st.Contacts)+ahead+1)
	for _, c := range st.Contacts {
		taken = append(taken, c.At)
	}
	slices.SortFunc(taken, func(a, b time.Time) int { return a.Compare(b) })
	reason := ""
	t := now
	for i := 0; i <= ahead; i++ {
		for {
			next, r := p.allowed(taken, t, loc)
			if !next.After(t) {
				break
			}
			if reason == "" || r == ReasonCap {
				reason = r
			}
			t = next
		}
		if i < ahead {
			taken = append(taken, t)
			reason = ReasonCap
		}
	}
	return t, reason
}

// allowed returns t when an email may go at t, or the next moment worth
// trying and why not t.
func (p Policy) allowed(taken []time.Time, t time.Time, loc *time.Location) (time.Time, string) {
	if q, ok := p.quietEnd(t, loc); ok {
		return q, ReasonQuietHours
	}
	window := p.Window - p.Slack
	var inWindow []time.Time
	for _, at := range taken {
		if !at.After(t) && at.Add(window).After(t) {
			inWindow = append(inWindow, at)
		}
	}
	if len(inWindow) >= p.Cap {
		// The oldest contacts in the window leave it one by one; the
		// (len-Cap+1)th oldest leaving makes room.
		return inWindow[len(inWindow)-p.Cap].Add(window), ReasonCap
	}
	return t, ""
}

// quietEnd reports whether t is in quiet hours in loc and, if so, when
// they end.
func (p Policy) quietEnd(t time.Time, loc *time.Location) (time.Time, bool) {
	if p.QuietFrom == p.QuietUntil {
		return t, false
	}
	lt := t.In(loc)
	h := lt.Hour()
	quiet := false
	if p.QuietFrom > p.QuietUntil { // spans midnight: 21–9
		quiet = h >= p.QuietFrom || h < p.QuietUntil
	} else {
		quiet = h >= p.QuietFrom && h < p.QuietUntil
	}
	if !quiet {
		return t, false
	}
	end := time.Date(lt.Year(), lt.Month(), lt.Day(), p.QuietUntil, 0, 0, 0, loc)
	if !end.After(lt) {
		end = time.Date(lt.Year(), lt.Month(), lt.Day()+1, p.QuietUntil, 0, 0, 0, loc)
	}
	return end, true
}

// outranks reports whether waiter w goes before req: higher priority, or
// the same priority and asked first.
func (p Policy) outranks(w Waiter, req Request, since time.Time) bool {
	if c := cmp.Compare(w.Priority, req.Priority); c != 0 {
		return c > 0
	}
	return w.Since.Before(since)
}
