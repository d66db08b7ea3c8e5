package engine

import (
	"strings"
	"sync"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// zones caches time zones by name: time.LoadLocation reads the zone
// database on every call, and a scan asks once per member.
var zones sync.Map

func zone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// Yearly reports whether a member date recurs every year (the birthday)
// rather than falling once.
func Yearly(attribute string) bool { return attribute == "birthday" }

// memberDate is a member date: a calendar day (birthday, a review day, a
// custom date) or an instant (when a trial ends, when they registered or
// last ordered).
type memberDate struct {
	day     string    // YYYY-MM-DD, for calendar days
	instant time.Time // for instants
}

// ProfileDate reports whether the member date attribute is read from the
// member's profile alone (birthday, registration, last order, the dates
// dispatch files), not from their standing (tier review, trial end): a
// document holding only the profile (loyalty.MemberDocument{Member: m})
// reads it as the full document does.
func ProfileDate(attribute string) bool {
	switch attribute {
	case "tier_review_on", "trial_ends_on":
		return false
	}
	return true
}

// dateOf reads the member date attribute names; ok is false when the
// member has none.
func dateOf(attribute string, d loyalty.MemberDocument) (memberDate, bool) {
	switch attribute {
	case "birthday":
		return memberDate{day: d.Birthday}, d.Birthday != ""
	case "tier_review_on":
		if d.TierReviewOn == nil {
			return memberDate{}, false
		}
		return memberDate{day: *d.TierReviewOn}, true
	case "trial_ends_on":
		if d.Paid == nil || d.Paid.EndsAt.IsZero() {
			return memberDate{}, false
		}
		return memberDate{instant: d.Paid.EndsAt}, true
	case "registered_at":
		return memberDate{instant: d.RegisteredAt}, !d.RegisteredAt.IsZero()
	case "last_order_at":
		return memberDate{instant: d.LastOrderAt}, !d.LastOrderAt.IsZero()
	}
	if v, ok := customDate(d, attribute); ok {
		if _, err := time.Parse(time.DateOnly, v); err == nil {
			return memberDate{day: v}, true
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return memberDate{instant: t}, true
		}
	}
	return memberDate{}, false
}

// clock is the time of day at ("HH:MM"), or journey.DefaultAt when empty.
func clock(at string) (int, int) {
	if at == "" {
		at = journey.DefaultAt
	}
	h, m, err := journey.ParseClock(at)
	if err != nil {
		h, m, _ = journey.ParseClock(journey.DefaultAt)
	}
	return h, m
}

// onDay is the moment of the rule on the member-local calendar day y-m-d:
// the day plus the rule's offset, at its time of day.
func onDay(y int, mo time.Month, d int, rule journey.DateRule, loc *time.Location) time.Time {
	h, mi := clock(rule.At)
	off := rule.Offset.D()
	days := int(off / journey.Day)
	rest := off - time.Duration(days)*journey.Day
	return time.Date(y, mo, d+days, h, mi, 0, 0, loc).Add(rest)
}

// Moment is when the rule falls for a member date that is not yearly:
// the date plus the offset, at the rule's member-local time of day; an
// instant without a time of day keeps its own time (a trial's end + 2h).
func Moment(rule journey.DateRule, d loyalty.MemberDocument, loc *time.Location) (time.Time, bool) {
	md, ok := dateOf(rule.Attribute, d)
	if !ok {
		return time.Time{}, false
	}
	if !md.instant.IsZero() {
		if rule.At == "" {
			return md.instant.Add(rule.Offset.D()), true
		}
		l := md.instant.In(loc)
		return onDay(l.Year(), l.Month(), l.Day(), rule, loc), true
	}
	day, err := time.Parse(time.DateOnly, md.day)
	if err != nil {
		return time.Time{}, false
	}
	return onDay(day.Year(), day.Month(), day.Day(), rule, loc), true
}

// Occurrence is when a yearly rule (the birthday) falls in year, 29
// February kept on 28 February in common years.
func Occurrence(rule journey.DateRule, d loyalty.MemberDocument, loc *time.Location, year int) (time.Time, bool) {
	md, ok := dateOf(rule.Attribute, d)
	if !ok || md.day == "" {
		return time.Time{}, false
	}
	b, err := time.Parse(time.DateOnly, md.day)
	if err != nil {
		return time.Time{}, false
	}
	day := b.Day()
	if b.Month() == time.February && day == 29 && !isLeap(year) {
		day = 28
	}
	return onDay(year, b.Month(), day, rule, loc), true
}

// Next is the first moment of the rule at or after now: the member date's
// own moment, or for a yearly date this year's occurrence or the next.
// ok is false when the member has no such date; a past moment of a date
// that is not yearly is returned as it is (the caller waits for nothing).
func Next(rule journey.DateRule, d loyalty.MemberDocument, loc *time.Location, now time.Time) (time.Time, bool) {
	if !Yearly(rule.Attribute) {
		return Moment(rule, d, loc)
	}
	y := now.In(loc).Year()
	for _, yr := range []int{y - 1, y, y + 1} {
		if t, ok := Occurrence(rule, d, loc, yr); ok && !t.Before(now) {
			return t, true
		}
	}
	return time.Time{}, false
}

// Until is the next member-local hh:mm at or after now.
func Until(at string, loc *time.Location, now time.Time) time.Time {
	h, m := clock(at)
	l := now.In(loc)
	t := time.Date(l.Year(), l.Month(), l.Day(), h, m, 0, 0, loc)
	if t.Before(now) {
		t = time.Date(l.Year(), l.Month(), l.Day()+1, h, m, 0, 0, loc)
	}
	return t
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// customDate is a custom date attribute's value (set by an update step,
// kept as "YYYY-MM-DD" or an RFC 3339 time).
func customDate(d loyalty.MemberDocument, attribute string) (string, bool) {
	v, ok := d.Attributes[attribute].(string)
	return v, ok
}

// InactivityRule is an inactivity trigger as a date rule: the member's
// newest event of the type plus the trigger's for, at its time of day.
// Orders read last_order_at; other types read the custom date attribute
// InactivityAttribute names, which dispatch files (store.SetMemberDate)
// for every event of a type a live inactivity journey watches.
func InactivityRule(in journey.Inactivity) journey.DateRule {
	return journey.DateRule{Attribute: InactivityAttribute(in.Event), Offset: in.For, At: in.At}
}

// InactivityAttribute is the member date that holds the day of the
// member's newest event of type eventType.
func InactivityAttribute(eventType string) string {
	if eventType == string(events.OrderPaid) {
		return "last_order_at"
	}
	return "last_" + strings.NewReplacer(".", "_", "-", "_").Replace(eventType)
}
