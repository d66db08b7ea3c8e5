package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/store"
)

// fullTimelineEntry sets every field; the "fixture sets every field"
// subtest fails when store.TimelineEntry gains one it does not set.
// Values are JSON values as they read back (numbers are float64).
func fullTimelineEntry(memberID, key, kind string, at time.Time) store.TimelineEntry {
	return store.TimelineEntry{
		MemberID:   memberID,
		Journey:    "svip_upsell",
		Version:    3,
		Enrollment: 2,
		Step:       "offer",
		Kind:       kind,
		Reason:     "quiet_hours",
		Values: map[string]any{
			"event.data.amount >= 500": true,
			"member.tier":              "V3",
			"event.data.amount":        512.5,
			"member.tags":              []any{"vip", "early"},
			"member.paid":              map[string]any{"status": "none"},
		},
		At:    at,
		Until: at.Add(9 * time.Hour),
		Key:   key,
	}
}

func runTimeline(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("fixture sets every field", func(t *testing.T) {
		checkAllSet(t, reflect.ValueOf(fullTimelineEntry("m", "k", "deferred", base)), "TimelineEntry")
	})

	t.Run("newest first, paged", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		var all []store.TimelineEntry
		// Appended out of order; two share a moment and sort by key.
		for _, tc := range []struct {
			key  string
			kind string
			at   time.Duration
		}{
			{"k3", "sent", 3 * time.Second}, {"k1", "enrolled", 0}, {"k5b", "skipped", 5 * time.Second},
			{"k2", "branch", 2*time.Second + 500*time.Millisecond}, {"k5a", "deferred", 5 * time.Second},
		} {
			e := fullTimelineEntry(id, fmt.Sprintf("%s#svip_upsell#2#step#2026", tc.key), tc.kind, base.Add(tc.at))
			appendTimeline(t, s, e)
			all = append(all, e)
		}
		appendTimeline(t, s, fullTimelineEntry(uniqueID("m"), "other", "sent", base)) // another member
		want := []store.TimelineEntry{all[2], all[4], all[0], all[3], all[1]}

		var got []store.TimelineEntry
		before := ""
		for page := 0; ; page++ {
			entries, next := listTimeline(t, s, id, 2, before)
			if len(entries) > 2 {
				t.Fatalf("page %d has %d entries, want at most 2", page, len(entries))
			}
			got = append(got, entries...)
			if next == "" {
				break
			}
			if page > 3 {
				t.Fatalf("still paging after %d pages", page)
			}
			before = next
		}
		checkEqual(t, "timeline", got, want)
		entries, next := listTimeline(t, s, id, 5, "")
		checkEqual(t, "one page of all", entries, want)
		if next != "" {
			t.Errorf("next = %q after the last entry, want \"\"", next)
		}
	})

	t.Run("append is idempotent", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		a := fullTimelineEntry(id, "ka", "enrolled", base)
		b := fullTimelineEntry(id, "kb", "sent", base.Add(time.Second))
		appendTimeline(t, s, a, b)
		appendTimeline(t, s, a, b) // the activity's retry

		// A retry deciding otherwise leaves the first decision, and a
		// batch with an entry written before writes the others.
		changed := a
		changed.Reason, changed.Values = "retried", map[string]any{"x": 1.0}
		c := fullTimelineEntry(id, "kc", "goal_reached", base.Add(2*time.Second))
		appendTimeline(t, s, changed, c, c)
		appendTimeline(t, s, b)
		entries, _ := listTimeline(t, s, id, 10, "")
		checkEqual(t, "timeline", entries, []store.TimelineEntry{c, b, a})

		// The same key and time with another kind is another entry.
		d := a
		d.Kind = "not_enrolled"
		appendTimeline(t, s, d)
		if entries, _ := listTimeline(t, s, id, 10, ""); len(entries) != 4 {
			t.Errorf("timeline has %d entries, want 4", len(entries))
		}
	})

	t.Run("concurrent repeats write once", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		es := []store.TimelineEntry{
			fullTimelineEntry(id, "k1", "enrolled", base),
			fullTimelineEntry(id, "k2", "sent", base.Add(time.Second)),
			fullTimelineEntry(id, "k3", "exited", base.Add(2*time.Second)),
		}
		checkNoErrors(t, "append", concurrently(8, func(int) error { return s.AppendTimeline(t.Context(), es...) }))
		entries, _ := listTimeline(t, s, id, 10, "")
		checkEqual(t, "timeline", entries, []store.TimelineEntry{es[2], es[1], es[0]})
	})

	t.Run("nothing to append", func(t *testing.T) {
		if err := newStore(t).AppendTimeline(t.Context()); err != nil {
			t.Errorf("AppendTimeline() = %v, want nil", err)
		}
	})

	t.Run("rejects invalid entries", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		ok := fullTimelineEntry(id, "k", "sent", base)
		many := make([]store.TimelineEntry, store.MaxTimelineEntries+1)
		for i := range many {
			many[i] = fullTimelineEntry(id, fmt.Sprintf("k%d", i), "sent", base)
		}
		for _, tc := range []struct {
			name    string
			entries []store.TimelineEntry
		}{
			{"no member", []store.TimelineEntry{func() store.TimelineEntry { e := ok; e.MemberID = ""; return e }()}},
			{"no key", []store.TimelineEntry{func() store.TimelineEntry { e := ok; e.Key = ""; return e }()}},
			{"no kind", []store.TimelineEntry{func() store.TimelineEntry { e := ok; e.Kind = ""; return e }()}},
			{"kind with #", []store.TimelineEntry{func() store.TimelineEntry { e := ok; e.Kind = "a#b"; return e }()}},
			{"no time", []store.TimelineEntry{func() store.TimelineEntry { e := ok; e.At = time.Time{}; return e }()}},
			{"too many", many},
			{"one bad among good", []store.TimelineEntry{ok, func() store.TimelineEntry { e := ok; e.Key = ""; return e }()}},
		} {
			if err := s.AppendTimeline(t.Context(), tc.entries...); err == nil {
				t.Errorf("%s: AppendTimeline = nil, want an error", tc.name)
			}
		}
		if entries, _ := listTimeline(t, s, id, 10, ""); len(entries) != 0 {
			t.Errorf("timeline after rejected appends = %+v, want none", entries)
		}
		if _, _, err := s.ListTimeline(t.Context(), id, 0, ""); err == nil {
			t.Error("ListTimeline(limit 0) = nil error, want one")
		}
		if _, _, err := s.ListTimeline(t.Context(), "", 10, ""); err == nil {
			t.Error("ListTimeline(no member) = nil error, want one")
		}
	})
}

func appendTimeline(t *testing.T, s store.Store, entries ...store.TimelineEntry) {
	t.Helper()
	if err := s.AppendTimeline(t.Context(), entries...); err != nil {
		t.Fatalf("AppendTimeline: %v", err)
	}
}

func listTimeline(t *testing.T, s store.Store, memberID string, limit int, before string) ([]store.TimelineEntry, string) {
	t.Helper()
	entries, next, err := s.ListTimeline(t.Context(), memberID, limit, before)
	if err != nil {
		t.Fatalf("ListTimeline(%s, %d, %q): %v", memberID, limit, before, err)
	}
	return entries, next
}
