package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// runEngineIndexes checks the indexes the journey engine pages through:
// a journey's active and held enrollments, every member, members by date.
func runEngineIndexes(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("enrollment of the engine round-trips", func(t *testing.T) {
		s := newStore(t)
		e := engineEnrollment(uniqueID("m"), uniqueJourney(), 3)
		got, created := startEnrollment(t, s, e)
		if !created {
			t.Error("created = false on first start")
		}
		checkEqual(t, "returned enrollment", got, e)
		checkEqual(t, "stored enrollment", getEnrollment(t, s, e), e)
	})

	t.Run("active and held enrollments", func(t *testing.T) {
		s, j, p := newStore(t), uniqueJourney(), uniqueID("m")
		a1, a2 := engineEnrollment(p+"-a", j, 1), engineEnrollment(p+"-a", j, 2)
		b1, c1, d1 := engineEnrollment(p+"-b", j, 1), engineEnrollment(p+"-c", j, 1), engineEnrollment(p+"-d", j, 1)
		for _, e := range []loyalty.Enrollment{d1, a2, b1, a1, c1} {
			startEnrollment(t, s, e)
		}
		startEnrollment(t, s, engineEnrollment(p+"-a", uniqueJourney(), 1)) // another journey

		checkEqual(t, "active", allActive(t, s, j, 2), []loyalty.Enrollment{a1, a2, b1, c1, d1})
		checkEqual(t, "held", allHeld(t, s, j, 2), []loyalty.Enrollment(nil))

		setHeld(t, s, b1, true)
		setHeld(t, s, c1, true)
		setHeld(t, s, c1, true) // holding what is held changes nothing
		b1.Held, c1.Held = true, true
		checkEqual(t, "held", allHeld(t, s, j, 1), []loyalty.Enrollment{b1, c1})
		checkEqual(t, "active with held", allActive(t, s, j, 10), []loyalty.Enrollment{a1, a2, b1, c1, d1})
		checkEqual(t, "held enrollment", getEnrollment(t, s, b1), b1)

		setHeld(t, s, c1, false) // released
		c1.Held = false
		checkEqual(t, "held after release", allHeld(t, s, j, 10), []loyalty.Enrollment{b1})
		checkEqual(t, "released enrollment", getEnrollment(t, s, c1), c1)

		// Ending takes an enrollment out of both listings.
		end := base.Add(time.Hour)
		for _, e := range []loyalty.Enrollment{b1, a2} {
			if err := s.EndEnrollment(t.Context(), e.MemberID, e.Journey, e.Number, loyalty.EnrollmentExited, "archived", end); err != nil {
				t.Fatalf("EndEnrollment: %v", err)
			}
		}
		checkEqual(t, "held after end", allHeld(t, s, j, 10), []loyalty.Enrollment(nil))
		checkEqual(t, "active after end", allActive(t, s, j, 10), []loyalty.Enrollment{a1, c1, d1})
		ended := b1
		ended.Status, ended.Reason, ended.EndedAt, ended.Held = loyalty.EnrollmentExited, "archived", end, false
		checkEqual(t, "ended held enrollment", getEnrollment(t, s, b1), ended)

		// An ended enrollment is not held again, nor moved on.
		setHeld(t, s, b1, true)
		if err := s.SetEnrollmentStep(t.Context(), b1.MemberID, j, 1, "later", []string{"x"}); err != nil {
			t.Errorf("SetEnrollmentStep of an ended enrollment: %v, want nil", err)
		}
		checkEqual(t, "ended enrollment after hold and step", getEnrollment(t, s, b1), ended)
		checkEqual(t, "held after holding an ended one", allHeld(t, s, j, 10), []loyalty.Enrollment(nil))

		// A page ends where the journey's enrollments do.
		page, next, err := s.ListActiveEnrollments(t.Context(), j, "", 3)
		if err != nil || len(page) != 3 || next != "" {
			t.Errorf("ListActiveEnrollments(limit 3 of 3) = %d, %q, %v; want 3 and no next page", len(page), next, err)
		}
	})

	t.Run("started held", func(t *testing.T) {
		s, j := newStore(t), uniqueJourney()
		e := engineEnrollment(uniqueID("m"), j, 1)
		e.Held = true
		startEnrollment(t, s, e)
		checkEqual(t, "held", allHeld(t, s, j, 10), []loyalty.Enrollment{e})
	})

	t.Run("step and listen", func(t *testing.T) {
		s := newStore(t)
		e := engineEnrollment(uniqueID("m"), uniqueJourney(), 1)
		startEnrollment(t, s, e)
		if err := s.SetEnrollmentStep(t.Context(), e.MemberID, e.Journey, e.Number, "wait_trial", []string{"subscription.trial_started", "order.paid"}); err != nil {
			t.Fatalf("SetEnrollmentStep: %v", err)
		}
		e.Step, e.Listen = "wait_trial", []string{"subscription.trial_started", "order.paid"}
		checkEqual(t, "enrollment", getEnrollment(t, s, e), e)
		if err := s.SetEnrollmentStep(t.Context(), e.MemberID, e.Journey, e.Number, "", nil); err != nil {
			t.Fatalf("SetEnrollmentStep(none): %v", err)
		}
		e.Step, e.Listen = "", nil
		checkEqual(t, "enrollment", getEnrollment(t, s, e), e)
	})

	t.Run("hold and step of no enrollment", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		if err := s.SetEnrollmentHeld(t.Context(), id, uniqueJourney(), 1, true); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetEnrollmentHeld: err = %v, want ErrNotFound", err)
		}
		if err := s.SetEnrollmentStep(t.Context(), id, uniqueJourney(), 1, "s", nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetEnrollmentStep: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("listings reject invalid arguments", func(t *testing.T) {
		s := newStore(t)
		for _, tc := range []struct {
			name, journey string
			limit         int
		}{{"bad journey", "Bad-Name", 10}, {"limit 0", uniqueJourney(), 0}} {
			if _, _, err := s.ListActiveEnrollments(t.Context(), tc.journey, "", tc.limit); err == nil {
				t.Errorf("%s: ListActiveEnrollments = nil error, want one", tc.name)
			}
			if _, _, err := s.ListHeldEnrollments(t.Context(), tc.journey, "", tc.limit); err == nil {
				t.Errorf("%s: ListHeldEnrollments = nil error, want one", tc.name)
			}
		}
	})

	t.Run("members page through every shard", func(t *testing.T) {
		s, p := newStore(t), uniqueID("m")
		want := map[string]loyalty.Member{}
		for i := range 40 {
			m := fullMember(p + "-" + string(rune('a'+i/26)) + string(rune('a'+i%26)))
			saveMember(t, s, m, "e1")
			want[m.ID] = m
		}
		seen := map[string]int{}
		for shard := range store.MemberShards {
			// The shards are shared with every subtest: ours sort right
			// after p, and end where an id without it begins.
			var ids []string
			after := p
		pages:
			for {
				page, err := s.MembersPage(t.Context(), shard, after, 3)
				if err != nil {
					t.Fatalf("MembersPage(%d, %q): %v", shard, after, err)
				}
				if len(page) > 3 {
					t.Fatalf("MembersPage(%d) returned %d members, want at most 3", shard, len(page))
				}
				for _, m := range page {
					if !strings.HasPrefix(m.ID, p) {
						break pages
					}
					if got := store.MemberShard(m.ID); got != shard {
						t.Errorf("member %s in shard %d, want %d", m.ID, shard, got)
					}
					checkEqual(t, "member "+m.ID, m, want[m.ID])
					ids = append(ids, m.ID)
					seen[m.ID]++
				}
				if len(page) < 3 {
					break
				}
				after = page[len(page)-1].ID
			}
			if !slices.IsSorted(ids) {
				t.Errorf("shard %d pages in order %v, want ids sorted", shard, ids)
			}
		}
		for id := range want {
			if seen[id] != 1 {
				t.Errorf("member %s seen %d times across the shards, want once", id, seen[id])
			}
		}
		if len(seen) != len(want) {
			t.Errorf("%d members seen, want %d", len(seen), len(want))
		}
	})

	t.Run("members page rejects invalid arguments", func(t *testing.T) {
		s := newStore(t)
		for _, tc := range []struct {
			name         string
			shard, limit int
		}{{"shard -1", -1, 10}, {"shard past the last", store.MemberShards, 10}, {"limit 0", 0, 0}} {
			if _, err := s.MembersPage(t.Context(), tc.shard, "", tc.limit); err == nil {
				t.Errorf("%s: MembersPage = nil error, want one", tc.name)
			}
		}
	})

	t.Run("member dates set, move and remove", func(t *testing.T) {
		s, p := newStore(t), uniqueID("m")
		const attr, day1, day2 = "trial_ends_on", "2026-07-01", "2026-07-02"
		a, b, c := p+"-a", p+"-b", p+"-c"
		setDate(t, s, a, attr, day1)
		setDate(t, s, b, attr, day1)
		setDate(t, s, c, attr, day2)
		setDate(t, s, a, "vip_since", day1) // another attribute

		checkIDs(t, "day 1", ourIDs(p, membersByDate(t, s, attr, day1, p, 10)), []string{a, b})
		checkIDs(t, "day 1 first page", membersByDate(t, s, attr, day1, p, 1), []string{a})
		checkIDs(t, "day 1 second page", ourIDs(p, membersByDate(t, s, attr, day1, a, 1)), []string{b})
		checkIDs(t, "other attribute", ourIDs(p, membersByDate(t, s, "vip_since", day1, p, 10)), []string{a})

		setDate(t, s, a, attr, day2)
		setDate(t, s, a, attr, day2) // setting what is set
		checkIDs(t, "day 1 after a move", ourIDs(p, membersByDate(t, s, attr, day1, p, 10)), []string{b})
		checkIDs(t, "day 2 after a move", ourIDs(p, membersByDate(t, s, attr, day2, p, 10)), []string{a, c})

		setDate(t, s, b, attr, "")
		setDate(t, s, b, attr, "") // removing what is gone
		checkIDs(t, "day 1 after removal", ourIDs(p, membersByDate(t, s, attr, day1, p, 10)), nil)
		checkIDs(t, "other attribute after removal", ourIDs(p, membersByDate(t, s, "vip_since", day1, p, 10)), []string{a})
	})

	t.Run("member dates reject invalid arguments", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		for _, tc := range []struct{ name, member, attr, day string }{
			{"no member", "", "trial_ends_on", "2026-07-01"},
			{"bad attribute", id, "Trial-Ends", "2026-07-01"},
			{"bad day", id, "trial_ends_on", "2026-13-01"},
		} {
			if err := s.SetMemberDate(t.Context(), tc.member, tc.attr, tc.day); err == nil {
				t.Errorf("%s: SetMemberDate = nil, want an error", tc.name)
			}
		}
		for _, tc := range []struct {
			name, attr, day string
			limit           int
		}{
			{"bad attribute", "Trial-Ends", "2026-07-01", 10},
			{"no day", "trial_ends_on", "", 10},
			{"limit 0", "trial_ends_on", "2026-07-01", 0},
		} {
			if _, err := s.MembersByDate(t.Context(), tc.attr, tc.day, "", tc.limit); err == nil {
				t.Errorf("%s: MembersByDate = nil error, want one", tc.name)
			}
		}
	})
}

// engineEnrollment is an enrollment of the journey engine, with every
// field it sets at the start.
func engineEnrollment(memberID, journeyName string, number int) loyalty.Enrollment {
	e := enrollment(memberID, journeyName, number)
	e.Version, e.Listen, e.Anchor, e.Step = 2, []string{"subscription.converted", "member.unsubscribed"}, base.Add(-time.Minute), "wait_trial"
	return e
}

func setHeld(t *testing.T, s store.Store, e loyalty.Enrollment, held bool) {
	t.Helper()
	if err := s.SetEnrollmentHeld(t.Context(), e.MemberID, e.Journey, e.Number, held); err != nil {
		t.Fatalf("SetEnrollmentHeld(%s/%s/%d, %t): %v", e.Journey, e.MemberID, e.Number, held, err)
	}
}

// allActive pages through the journey's active enrollments limit at a
// time.
func allActive(t *testing.T, s store.Store, journeyName string, limit int) []loyalty.Enrollment {
	t.Helper()
	return allPages(t, "ListActiveEnrollments", limit, func(after string) ([]loyalty.Enrollment, string, error) {
		return s.ListActiveEnrollments(t.Context(), journeyName, after, limit)
	})
}

// allHeld pages through the journey's held enrollments limit at a time.
func allHeld(t *testing.T, s store.Store, journeyName string, limit int) []loyalty.Enrollment {
	t.Helper()
	return allPages(t, "ListHeldEnrollments", limit, func(after string) ([]loyalty.Enrollment, string, error) {
		return s.ListHeldEnrollments(t.Context(), journeyName, after, limit)
	})
}

func allPages(t *testing.T, what string, limit int, list func(after string) ([]loyalty.Enrollment, string, error)) []loyalty.Enrollment {
	t.Helper()
	var out []loyalty.Enrollment
	after := ""
	for range 100 {
		page, next, err := list(after)
		if err != nil {
			t.Fatalf("%s(after %q): %v", what, after, err)
		}
		if len(page) > limit || (next != "" && len(page) != limit) {
			t.Fatalf("%s(after %q) = %d enrollments and next %q, want a full page before a next one", what, after, len(page), next)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		after = next
	}
	t.Fatalf("%s still paging after 100 pages", what)
	return nil
}

func setDate(t *testing.T, s store.Store, memberID, attribute, day string) {
	t.Helper()
	if err := s.SetMemberDate(t.Context(), memberID, attribute, day); err != nil {
		t.Fatalf("SetMemberDate(%s, %s, %q): %v", memberID, attribute, day, err)
	}
}

func membersByDate(t *testing.T, s store.Store, attribute, day, after string, limit int) []string {
	t.Helper()
	ids, err := s.MembersByDate(t.Context(), attribute, day, after, limit)
	if err != nil {
		t.Fatalf("MembersByDate(%s, %s, %q, %d): %v", attribute, day, after, limit, err)
	}
	return ids
}

// ourIDs keeps the ids of this subtest's members, whose ids start with
// prefix.
func ourIDs(prefix string, ids []string) []string {
	var out []string
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	return out
}
