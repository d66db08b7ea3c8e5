package contact_test

import (
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/contact"
)

var shanghai = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func at(day, hour, minute int) time.Time {
	return time.Date(2026, 11, day, hour, minute, 0, 0, shanghai)
}

func TestQuietHoursDeferToNine(t *testing.T) {
	p := contact.Default()
	cases := []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"evening", at(10, 21, 0), at(11, 9, 0)},
		{"late night", at(10, 23, 59), at(11, 9, 0)},
		{"small hours", at(11, 3, 0), at(11, 9, 0)},
		{"just before nine", at(11, 8, 59), at(11, 9, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.Decide(contact.State{}, contact.Request{Key: "k", Journey: "birthday", Priority: 60}, c.now, shanghai)
			if d.Verdict != contact.Defer || !d.At.Equal(c.want) || d.Reason != contact.ReasonQuietHours {
				t.Errorf("decision = %s %s %s, want defer to %s for quiet hours", d.Verdict, d.At, d.Reason, c.want)
			}
			if len(d.State.Contacts) != 0 || len(d.State.Waiters) != 1 {
				t.Errorf("a quiet-hours deferral takes no slot and waits in line: %+v", d.State)
			}
		})
	}
	for _, now := range []time.Time{at(11, 9, 0), at(11, 20, 59)} {
		if d := p.Decide(contact.State{}, contact.Request{Key: "k", Journey: "birthday", Priority: 60}, now, shanghai); d.Verdict != contact.Send {
			t.Errorf("at %s: %s, want send", now, d.Verdict)
		}
	}
	// Quiet hours are the member's: 10:00 in Shanghai is 03:00 in Berlin.
	berlin := mustLoc("Europe/Berlin")
	d := p.Decide(contact.State{}, contact.Request{Key: "k", Journey: "birthday", Priority: 60}, at(11, 10, 0), berlin)
	if want := time.Date(2026, 11, 11, 9, 0, 0, 0, berlin); d.Verdict != contact.Defer || !d.At.Equal(want) {
		t.Errorf("Berlin member: %s %s, want defer to %s", d.Verdict, d.At, want)
	}
}

// noSlack is the default policy with exact seven-day windows, so the
// slots below fall on round times.
func noSlack() contact.Policy {
	p := contact.Default()
	p.Slack = 0
	return p
}

func TestCapTwoPerSevenDaysDefersToNextSlot(t *testing.T) {
	p := noSlack()
	st := contact.State{}
	for i, k := range []string{"a", "b"} {
		d := p.Decide(st, contact.Request{Key: k, Journey: "activation", Priority: 20}, at(10+i, 10, 0), shanghai)
		if d.Verdict != contact.Send {
			t.Fatalf("send %s: %s", k, d.Verdict)
		}
		st = d.State
	}
	d := p.Decide(st, contact.Request{Key: "c", Journey: "winback", Priority: 10}, at(12, 10, 0), shanghai)
	// The first contact (10th 10:00) leaves the window on the 17th at 10:00.
	if d.Verdict != contact.Defer || !d.At.Equal(at(17, 10, 0)) || d.Reason != contact.ReasonCap {
		t.Fatalf("third email = %s %s %s, want defer to the 17th 10:00 (cap)", d.Verdict, d.At, d.Reason)
	}
	if len(d.State.Waiters) != 1 || d.State.Waiters[0].Key != "c" {
		t.Fatalf("waiters = %+v, want c waiting", d.State.Waiters)
	}
	// Asking again at the slot sends, and the waiter leaves.
	d = p.Decide(d.State, contact.Request{Key: "c", Journey: "winback", Priority: 10}, at(17, 10, 0), shanghai)
	if d.Verdict != contact.Send || len(d.State.Waiters) != 0 {
		t.Errorf("at the slot: %s, waiters %+v", d.Verdict, d.State.Waiters)
	}
	// A slot that opens in quiet hours moves to 09:00.
	st = contact.State{Contacts: []contact.Contact{{Key: "a", At: at(10, 22, 30)}, {Key: "b", At: at(11, 10, 0)}}}
	d = p.Decide(st, contact.Request{Key: "c", Journey: "birthday", Priority: 60}, at(12, 10, 0), shanghai)
	if d.Verdict != contact.Defer || !d.At.Equal(at(18, 9, 0)) {
		t.Errorf("slot in quiet hours: %s %s, want the 18th 09:00", d.Verdict, d.At)
	}
}

func TestDeadlineSkips(t *testing.T) {
	p := contact.Default()
	st := contact.State{Contacts: []contact.Contact{{Key: "a", At: at(10, 10, 0)}, {Key: "b", At: at(11, 10, 0)}}}
	d := p.Decide(st, contact.Request{Key: "c", Journey: "trial", Priority: 80, Deadline: at(14, 0, 0)}, at(12, 10, 0), shanghai)
	if d.Verdict != contact.Skip || d.Reason != contact.ReasonCap {
		t.Fatalf("past its deadline: %s %s, want skip (cap)", d.Verdict, d.Reason)
	}
	if len(d.State.Waiters) != 0 || len(d.State.Contacts) != 2 {
		t.Errorf("a skipped email neither waits nor takes a slot: %+v", d.State)
	}
	// Quiet hours past the deadline skip too.
	d = p.Decide(contact.State{}, contact.Request{Key: "q", Journey: "trial", Priority: 80, Deadline: at(10, 23, 0)}, at(10, 22, 0), shanghai)
	if d.Verdict != contact.Skip || d.Reason != contact.ReasonQuietHours {
		t.Errorf("quiet past deadline: %s %s", d.Verdict, d.Reason)
	}
}

func TestPriorityServesHigherWaiterFirst(t *testing.T) {
	p := noSlack()
	full := contact.State{Contacts: []contact.Contact{{Key: "a", At: at(10, 10, 0)}, {Key: "b", At: at(11, 10, 0)}}}
	// A win-back email waits first, then a tier-expiry warning arrives.
	d := p.Decide(full, contact.Request{Key: "wb", Journey: "winback", Priority: 10}, at(12, 10, 0), shanghai)
	if d.Verdict != contact.Defer || !d.At.Equal(at(17, 10, 0)) {
		t.Fatalf("win-back: %s %s", d.Verdict, d.At)
	}
	d = p.Decide(d.State, contact.Request{Key: "te", Journey: "tier_expiry", Priority: 90}, at(12, 11, 0), shanghai)
	if d.Verdict != contact.Defer || !d.At.Equal(at(17, 10, 0)) {
		t.Fatalf("tier expiry gets the first slot: %s %s, want the 17th 10:00", d.Verdict, d.At)
	}
	st := d.State
	// At the first slot the win-back email yields to the warning …
	d = p.Decide(st, contact.Request{Key: "wb", Journey: "winback", Priority: 10}, at(17, 10, 0), shanghai)
	if d.Verdict != contact.Defer || !d.At.Equal(at(18, 10, 0)) {
		t.Fatalf("win-back at the first slot: %s %s, want defer to the 18th 10:00 behind the warning", d.Verdict, d.At)
	}
	// … which sends.
	d = p.Decide(d.State, contact.Request{Key: "te", Journey: "tier_expiry", Priority: 90}, at(17, 10, 0), shanghai)
	if d.Verdict != contact.Send {
		t.Fatalf("warning at its slot: %s", d.Verdict)
	}
	// Then the win-back email gets the next slot.
	d = p.Decide(d.State, contact.Request{Key: "wb", Journey: "winback", Priority: 10}, at(18, 10, 0), shanghai)
	if d.Verdict != contact.Send {
		t.Errorf("win-back at the second slot: %s %s", d.Verdict, d.At)
	}
}

func TestDecideIsIdempotentPerKey(t *testing.T) {
	p := contact.Default()
	d := p.Decide(contact.State{}, contact.Request{Key: "a", Journey: "activation", Priority: 20}, at(10, 10, 0), shanghai)
	again := p.Decide(d.State, contact.Request{Key: "a", Journey: "activation", Priority: 20}, at(10, 10, 5), shanghai)
	if again.Verdict != contact.Send || len(again.State.Contacts) != 1 {
		t.Errorf("retry of a sent key: %s, contacts %d; want send with one contact", again.Verdict, len(again.State.Contacts))
	}
	// Contacts leave the state after the window; waiters after their deadline.
	st := contact.State{
		Contacts: []contact.Contact{{Key: "old", At: at(1, 10, 0)}},
		Waiters:  []contact.Waiter{{Key: "gone", Journey: "trial", Priority: 80, Since: at(1, 10, 0), Deadline: at(2, 10, 0)}},
	}
	d = p.Decide(st, contact.Request{Key: "n", Journey: "winback", Priority: 10}, at(20, 10, 0), shanghai)
	if d.Verdict != contact.Send || len(d.State.Contacts) != 1 || len(d.State.Waiters) != 0 {
		t.Errorf("pruning: %s %+v", d.Verdict, d.State)
	}
}

// A step one window after an earlier email (the day-7 nudge after the
// welcome) is not held back by the moments between the step's time and
// when the earlier email went; the window is that much shorter.
func TestSlackLetsAWeeklyStepThrough(t *testing.T) {
	p := contact.Default()
	welcome := at(10, 10, 0).Add(800 * time.Millisecond) // the activity ran a moment after the step's time
	st := contact.State{Contacts: []contact.Contact{{Key: "w", At: welcome}, {Key: "n", At: at(13, 10, 0)}}}
	if d := p.Decide(st, contact.Request{Key: "last", Journey: "activation", Priority: 20}, at(17, 10, 0), shanghai); d.Verdict != contact.Send {
		t.Errorf("day-7 step = %s until %s, want send", d.Verdict, d.At)
	}
	if d := noSlack().Decide(st, contact.Request{Key: "last", Journey: "activation", Priority: 20}, at(17, 10, 0), shanghai); d.Verdict != contact.Defer {
		t.Errorf("without slack the day-7 step = %s, want defer", d.Verdict)
	}
	bad := contact.Default()
	bad.Slack = bad.Window
	if err := bad.Validate(); err == nil {
		t.Error("a slack as long as the window validated")
	}
	if err := contact.Default().Validate(); err != nil {
		t.Errorf("default policy: %v", err)
	}
}

func TestReleaseFreesWaiterAndSlot(t *testing.T) {
	p := noSlack()
	st := contact.State{}
	for i, k := range []string{"a", "b"} {
		st = p.Decide(st, contact.Request{Key: k, Journey: "activation", Priority: 20}, at(10+i, 10, 0), shanghai).State
	}
	d := p.Decide(st, contact.Request{Key: "c", Journey: "winback", Priority: 10}, at(12, 10, 0), shanghai)
	if d.Verdict != contact.Defer || !d.State.Holds("c") {
		t.Fatalf("c = %s, holds %v", d.Verdict, d.State.Holds("c"))
	}
	// The provider refused "b": its slot is free, and c may go now.
	st = d.State.Release("b")
	if st.Holds("b") {
		t.Fatal("b still held after release")
	}
	if d := p.Decide(st, contact.Request{Key: "c", Journey: "winback", Priority: 10}, at(12, 10, 0), shanghai); d.Verdict != contact.Send {
		t.Errorf("after releasing b, c = %s, want send", d.Verdict)
	}
	if st = st.Release("c"); st.Holds("c") || len(st.Contacts) != 1 {
		t.Errorf("after releasing c: %+v", st)
	}
}

// Two emails held by quiet hours meet at 09:00 with one slot left: the
// more important one goes, whichever asks first.
func TestPriorityAtTheEndOfQuietHours(t *testing.T) {
	p := noSlack()
	st := contact.State{Contacts: []contact.Contact{{Key: "a", At: at(10, 10, 0)}}}
	d := p.Decide(st, contact.Request{Key: "act", Journey: "activation", Priority: 20}, at(10, 22, 0), shanghai)
	d = p.Decide(d.State, contact.Request{Key: "trial", Journey: "trial", Priority: 80}, at(10, 23, 0), shanghai)
	if d.Verdict != contact.Defer || !d.At.Equal(at(11, 9, 0)) {
		t.Fatalf("trial at night = %s %s", d.Verdict, d.At)
	}
	// The activation email's timer fires first at 09:00 but yields.
	first := p.Decide(d.State, contact.Request{Key: "act", Journey: "activation", Priority: 20}, at(11, 9, 0), shanghai)
	if first.Verdict == contact.Send {
		t.Fatalf("activation took the last slot ahead of the trial email")
	}
	if got := p.Decide(first.State, contact.Request{Key: "trial", Journey: "trial", Priority: 80}, at(11, 9, 0), shanghai); got.Verdict != contact.Send {
		t.Errorf("trial at 09:00 = %s, want send", got.Verdict)
	}
}

// Asked after its deadline (a retry, a late run), an email is skipped
// even when a slot is free.
func TestExpiredRequestIsSkipped(t *testing.T) {
	d := contact.Default().Decide(contact.State{}, contact.Request{Key: "d1", Journey: "tier_expiry", Priority: 90, Deadline: at(10, 10, 0)}, at(10, 11, 0), shanghai)
	if d.Verdict != contact.Skip || d.Reason != contact.ReasonExpired || len(d.State.Contacts) != 0 {
		t.Errorf("expired request = %s %s %+v", d.Verdict, d.Reason, d.State)
	}
}
