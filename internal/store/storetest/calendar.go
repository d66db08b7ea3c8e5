package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// The calendar partitions (a birthday, a day) are shared by every subtest
// and run against one table, so each subtest pages from a cursor of its
// own: ids that start with prefix p sort right after p, before any id
// that does not, so a page after p begins with the subtest's members.

func runCalendar(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("members by birthday", func(t *testing.T) {
		s, p := newStore(t), uniqueID("m")
		born := func(id, birthday string) loyalty.Member {
			m := fullMember(p + id)
			m.Birthday = birthday
			saveMember(t, s, m, "e1")
			return m
		}
		a, b := born("-a", "1990-12-10"), born("-b", "1985-12-10")
		leap := born("-c", "2000-02-29")
		none := born("-d", "")

		page := membersByBirthday(t, s, "1210", p, 1)
		checkEqual(t, "first page of 1210", page, []loyalty.Member{a})
		page = membersByBirthday(t, s, "1210", a.ID, 1)
		checkEqual(t, "second page of 1210", page, []loyalty.Member{b})
		checkIDs(t, "third page of 1210", ours(p, membersByBirthday(t, s, "1210", b.ID, 1)), nil)
		checkIDs(t, "0229", ours(p, membersByBirthday(t, s, "0229", p, 10)), []string{leap.ID})
		checkIDs(t, "0228", ours(p, membersByBirthday(t, s, "0228", p, 10)), nil)

		// A changed birthday moves the member; a cleared one takes it out.
		a.Version, a.Birthday = 2, "1990-02-29"
		saveMember(t, s, a, "e2")
		none.Version, none.Birthday = 2, "1970-12-10"
		saveMember(t, s, none, "e2")
		b.Version, b.Birthday = 2, ""
		saveMember(t, s, b, "e2")
		checkIDs(t, "1210 after changes", ours(p, membersByBirthday(t, s, "1210", p, 10)), []string{none.ID})
		checkIDs(t, "0229 after changes", ours(p, membersByBirthday(t, s, "0229", p, 10)), []string{a.ID, leap.ID})
	})

	t.Run("members by last order day", func(t *testing.T) {
		s, p := newStore(t), uniqueID("m")
		// 23:30 at UTC-2 is 01:30 the next day in UTC, the day it counts on.
		at := time.Date(2026, 7, 3, 23, 30, 0, 0, time.FixedZone("UTC-2", -2*3600))
		const day, dayBefore, dayAfter = "2026-07-04", "2026-07-03", "2026-07-05"
		ordered := func(id string, at time.Time) loyalty.Member {
			m := fullMember(p + id)
			m.LastOrderAt = at
			saveMember(t, s, m, "e1")
			return m
		}
		a, b := ordered("-a", at), ordered("-b", at.Add(20*time.Hour))
		ordered("-c", time.Time{})

		checkEqual(t, "first page of "+day, membersByLastOrderDay(t, s, day, p, 1), []loyalty.Member{a})
		checkEqual(t, "second page of "+day, membersByLastOrderDay(t, s, day, a.ID, 1), []loyalty.Member{b})
		checkIDs(t, "third page of "+day, ours(p, membersByLastOrderDay(t, s, day, b.ID, 1)), nil)
		checkIDs(t, dayBefore, ours(p, membersByLastOrderDay(t, s, dayBefore, p, 10)), nil)

		// A new order moves the member to its day; no order takes it out.
		a.Version, a.LastOrderAt = 2, at.Add(24*time.Hour)
		saveMember(t, s, a, "e2")
		b.Version, b.LastOrderAt = 2, time.Time{}
		saveMember(t, s, b, "e2")
		checkIDs(t, day+" after changes", ours(p, membersByLastOrderDay(t, s, day, p, 10)), nil)
		checkEqual(t, dayAfter+" after changes", membersByLastOrderDay(t, s, dayAfter, p, 1), []loyalty.Member{a})
	})

	t.Run("accounts by review day", func(t *testing.T) {
		s, p := newStore(t), uniqueID("m")
		// 00:30 at UTC+1 is 23:30 the day before in UTC.
		at := time.Date(2027, 2, 13, 0, 30, 0, 0, time.FixedZone("UTC+1", 3600))
		const day, dayAfter = "2027-02-12", "2027-02-13"
		review := func(id string, version int64, at time.Time) loyalty.Account {
			c := change(p+id, version)
			c.Account.ReviewAt = at
			commitLedger(t, s, c)
			return c.Account
		}
		a, b := review("-a", 1, at), review("-b", 1, at.Add(-23*time.Hour))
		review("-c", 1, time.Time{})

		checkEqual(t, "first page of "+day, accountsByReviewDay(t, s, day, p, 1), []loyalty.Account{a})
		checkEqual(t, "second page of "+day, accountsByReviewDay(t, s, day, a.MemberID, 1), []loyalty.Account{b})
		checkIDs(t, "third page of "+day, ourAccounts(p, accountsByReviewDay(t, s, day, b.MemberID, 1)), nil)
		checkIDs(t, dayAfter, ourAccounts(p, accountsByReviewDay(t, s, dayAfter, p, 10)), nil)

		// A review moved to another day moves the account; none takes it out.
		a = review("-a", 2, at.AddDate(1, 0, 0))
		review("-b", 2, time.Time{})
		checkIDs(t, day+" after changes", ourAccounts(p, accountsByReviewDay(t, s, day, p, 10)), nil)
		checkEqual(t, "2028-02-12 after changes", accountsByReviewDay(t, s, "2028-02-12", p, 1), []loyalty.Account{a})
	})

	t.Run("rejects invalid arguments", func(t *testing.T) {
		s := newStore(t)
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"birthday limit 0", func() error { _, err := s.MembersByBirthday(t.Context(), "1210", "", 0); return err }},
			{"birthday empty", func() error { _, err := s.MembersByBirthday(t.Context(), "", "", 1); return err }},
			{"birthday as date", func() error { _, err := s.MembersByBirthday(t.Context(), "12-10", "", 1); return err }},
			{"birthday month 13", func() error { _, err := s.MembersByBirthday(t.Context(), "1310", "", 1); return err }},
			{"last order limit 0", func() error { _, err := s.MembersByLastOrderDay(t.Context(), "2026-07-04", "", 0); return err }},
			{"last order empty", func() error { _, err := s.MembersByLastOrderDay(t.Context(), "", "", 1); return err }},
			{"last order MMDD", func() error { _, err := s.MembersByLastOrderDay(t.Context(), "0704", "", 1); return err }},
			{"review limit 0", func() error { _, err := s.AccountsByReviewDay(t.Context(), "2027-02-12", "", 0); return err }},
			{"review empty", func() error { _, err := s.AccountsByReviewDay(t.Context(), "", "", 1); return err }},
			{"review not a day", func() error { _, err := s.AccountsByReviewDay(t.Context(), "2027-02-30", "", 1); return err }},
		} {
			if err := tc.call(); err == nil {
				t.Errorf("%s: err = nil, want an error", tc.name)
			}
		}
	})
}

func membersByBirthday(t *testing.T, s store.Store, mmdd, after string, limit int) []loyalty.Member {
	t.Helper()
	got, err := s.MembersByBirthday(t.Context(), mmdd, after, limit)
	if err != nil {
		t.Fatalf("MembersByBirthday(%s, %q, %d): %v", mmdd, after, limit, err)
	}
	return got
}

func membersByLastOrderDay(t *testing.T, s store.Store, day, after string, limit int) []loyalty.Member {
	t.Helper()
	got, err := s.MembersByLastOrderDay(t.Context(), day, after, limit)
	if err != nil {
		t.Fatalf("MembersByLastOrderDay(%s, %q, %d): %v", day, after, limit, err)
	}
	return got
}

func accountsByReviewDay(t *testing.T, s store.Store, day, after string, limit int) []loyalty.Account {
	t.Helper()
	got, err := s.AccountsByReviewDay(t.Context(), day, after, limit)
	if err != nil {
		t.Fatalf("AccountsByReviewDay(%s, %q, %d): %v", day, after, limit, err)
	}
	return got
}

// ours returns the ids of the members that start with prefix, in order.
func ours(prefix string, ms []loyalty.Member) []string {
	var ids []string
	for _, m := range ms {
		if strings.HasPrefix(m.ID, prefix) {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// ourAccounts returns the member ids of the accounts that start with
// prefix, in order.
func ourAccounts(prefix string, as []loyalty.Account) []string {
	var ids []string
	for _, a := range as {
		if strings.HasPrefix(a.MemberID, prefix) {
			ids = append(ids, a.MemberID)
		}
	}
	return ids
}
