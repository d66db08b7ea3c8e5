package storetest

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/store"
)

// fullAuditEntry sets every field the caller sets; the "fixture sets
// every field" subtest fails when store.AuditEntry gains one it does not
// set (ID aside, which the store gives).
func fullAuditEntry(target, key string, at time.Time) store.AuditEntry {
	return store.AuditEntry{
		At: at, Action: "adjustment", Target: target, Token: "sha256:0a1b2c3d",
		Key: key, Outcome: store.OutcomeFailed, Status: 409,
		Detail: map[string]string{"points": "-200", "reason": "goodwill"},
	}
}

// auditSince is a moment no other run of the contract appends near: the
// table may be shared by every run against a long-lived endpoint, and
// ListAudit reads everything from since.
func auditSince() time.Time {
	return time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rand.Int64N(int64(200 * 365 * 24 * time.Hour))))
}

// ownAudit pages through the log from since with pages of limit and
// keeps the entries of target, checking the order and the cursor.
func ownAudit(t *testing.T, s store.Store, since time.Time, limit int, target string) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	after, prev := "", ""
	for range 100 {
		page, next, err := s.ListAudit(t.Context(), since, after, limit)
		if err != nil {
			t.Fatalf("ListAudit(%s, %q, %d): %v", since, after, limit, err)
		}
		if len(page) > limit {
			t.Fatalf("page of %d entries, limit %d", len(page), limit)
		}
		for _, e := range page {
			if e.ID <= prev {
				t.Fatalf("entry %s after %s: not oldest first", e.ID, prev)
			}
			if e.At.Before(since) {
				t.Fatalf("entry %s at %s is before since %s", e.ID, e.At, since)
			}
			prev = e.ID
			if e.Target == target {
				out = append(out, e)
			}
		}
		if next == "" {
			return out
		}
		if got, want := next, page[len(page)-1].ID; got != want {
			t.Fatalf("next = %q, want the last entry's id %q", got, want)
		}
		after = next
	}
	t.Fatal("ListAudit did not end in 100 pages")
	return nil
}

func runAudit(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("fixture sets every field", func(t *testing.T) {
		e := fullAuditEntry("member:m", "k", base)
		e.ID = "set by the store"
		checkAllSet(t, reflect.ValueOf(e), "AuditEntry")
	})
	t.Run("append round-trips every field", func(t *testing.T) {
		s, target, since := newStore(t), uniqueID("member:m"), auditSince()
		in := fullAuditEntry(target, uniqueID("k"), since.Add(1500*time.Millisecond).In(base.Location()))
		got, err := s.AppendAudit(t.Context(), in)
		if err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		if got.ID == "" || !strings.HasPrefix(got.ID, in.At.UTC().Format(store.AuditTimeLayout)+"#") {
			t.Fatalf("ID = %q, want it to start with the entry's time", got.ID)
		}
		list := ownAudit(t, s, since, store.MaxAuditPage, target)
		if len(list) != 1 {
			t.Fatalf("listed %d entries of %s, want 1", len(list), target)
		}
		want := in
		want.ID = got.ID
		if !list[0].At.Equal(want.At) {
			t.Fatalf("At = %s, want %s", list[0].At, want.At)
		}
		list[0].At = want.At
		if !reflect.DeepEqual(list[0], want) {
			t.Fatalf("listed %+v\nwant   %+v", list[0], want)
		}
	})
	t.Run("a key is appended once", func(t *testing.T) {
		s, target, since, key := newStore(t), uniqueID("member:m"), auditSince(), uniqueID("k")
		e := fullAuditEntry(target, key, since.Add(time.Second))
		if _, err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		first, err := s.AppendAudit(t.Context(), e)
		if !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("second AppendAudit with the key: %v, want ErrDuplicate", err)
		}
		e.At = since.Add(2 * time.Second)
		e.Detail = map[string]string{"reason": "another request"}
		again, err := s.AppendAudit(t.Context(), e)
		if !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("third AppendAudit with the key: %v, want ErrDuplicate", err)
		}
		// The duplicate answers with the entry the key made, whatever it
		// was asked to append.
		if again.ID == "" || !reflect.DeepEqual(again, first) || !again.At.Equal(since.Add(time.Second)) || again.Detail["reason"] == "another request" {
			t.Fatalf("duplicates returned %+v and %+v, want the first entry both times", first, again)
		}
		if got := ownAudit(t, s, since, 10, target); len(got) != 1 || !got[0].At.Equal(since.Add(time.Second)) {
			t.Fatalf("listed %+v, want the first entry alone", got)
		}
	})
	t.Run("entries without a key are all kept", func(t *testing.T) {
		s, target, since := newStore(t), uniqueID("journey:j"), auditSince()
		e := store.AuditEntry{At: since, Action: "journey.pause", Target: target, Token: "sha256:0a1b2c3d", Outcome: store.OutcomeRequested}
		for range 2 {
			if _, err := s.AppendAudit(t.Context(), e); err != nil {
				t.Fatalf("AppendAudit: %v", err)
			}
		}
		if got := ownAudit(t, s, since, 10, target); len(got) != 2 {
			t.Fatalf("listed %d entries, want 2 (same time, no key)", len(got))
		}
	})
	t.Run("list pages oldest first across days from since", func(t *testing.T) {
		s, target, since := newStore(t), uniqueID("journey:j"), auditSince()
		// Appended out of order, over three UTC days, one before since.
		offsets := []time.Duration{26 * time.Hour, time.Second, 50 * time.Hour, 3 * time.Second, -time.Second, 25 * time.Hour}
		for _, d := range offsets {
			e := store.AuditEntry{At: since.Add(d), Action: "journey.resume", Target: target, Token: "sha256:0a1b2c3d", Outcome: store.OutcomeRequested}
			if _, err := s.AppendAudit(t.Context(), e); err != nil {
				t.Fatalf("AppendAudit: %v", err)
			}
		}
		want := []time.Duration{time.Second, 3 * time.Second, 25 * time.Hour, 26 * time.Hour, 50 * time.Hour}
		for _, limit := range []int{1, 2, 5, 500} {
			got := ownAudit(t, s, since, limit, target)
			if len(got) != len(want) {
				t.Fatalf("limit %d: listed %d entries, want %d", limit, len(got), len(want))
			}
			for i, e := range got {
				if !e.At.Equal(since.Add(want[i])) {
					t.Fatalf("limit %d: entry %d at %s, want since+%s", limit, i, e.At, want[i])
				}
			}
		}
		// since is inclusive: the entry at since+3s is listed from it.
		if got := ownAudit(t, s, since.Add(3*time.Second), 500, target); len(got) != 4 {
			t.Fatalf("from since+3s: %d entries, want 4", len(got))
		}
	})
	t.Run("list refuses a bad page", func(t *testing.T) {
		s := newStore(t)
		for _, tc := range []struct {
			after string
			limit int
		}{{"", 0}, {"", store.MaxAuditPage + 1}, {"not-an-id", 10}} {
			if _, _, err := s.ListAudit(t.Context(), base, tc.after, tc.limit); err == nil {
				t.Errorf("ListAudit(after %q, limit %d) = nil error", tc.after, tc.limit)
			}
		}
	})
	t.Run("append refuses an incomplete entry", func(t *testing.T) {
		s := newStore(t)
		ok := store.AuditEntry{At: base, Action: "journey.pause", Target: "journey:j", Token: "sha256:0a1b2c3d", Outcome: store.OutcomeRequested}
		for name, change := range map[string]func(*store.AuditEntry){
			"no time":     func(e *store.AuditEntry) { e.At = time.Time{} },
			"no action":   func(e *store.AuditEntry) { e.Action = "" },
			"no target":   func(e *store.AuditEntry) { e.Target = "" },
			"bad outcome": func(e *store.AuditEntry) { e.Outcome = "done" },
			"id given":    func(e *store.AuditEntry) { e.ID = "x" },
		} {
			e := ok
			change(&e)
			if _, err := s.AppendAudit(t.Context(), e); err == nil {
				t.Errorf("%s: AppendAudit = nil error", name)
			}
		}
	})
}
