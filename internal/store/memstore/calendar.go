package memstore

import (
	"context"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// utcDay is the UTC date of t, "" for the zero time: the DynamoDB
// adapter's calendar partitions, which leave zero times out.
func utcDay(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// MembersByBirthday returns members born on mmdd after the cursor, in id
// order.
func (s *Store) MembersByBirthday(_ context.Context, mmdd, after string, limit int) ([]loyalty.Member, error) {
	if err := store.CheckBirthdayPage("members by birthday "+mmdd, mmdd, limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.membersIn(s.idx.byBirthday[mmdd], after, limit), nil
}

// MembersByLastOrderDay returns members whose newest order was on the UTC
// day, after the cursor, in id order.
func (s *Store) MembersByLastOrderDay(_ context.Context, day, after string, limit int) ([]loyalty.Member, error) {
	if err := store.CheckDayPage("members by last order day "+day, day, limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.membersIn(s.idx.byLastOrder[day], after, limit), nil
}

// AccountsByReviewDay returns accounts whose tier review is on the UTC
// day, after the cursor, in member-id order.
func (s *Store) AccountsByReviewDay(_ context.Context, day, after string, limit int) ([]loyalty.Account, error) {
	what := "accounts by review day " + day
	if err := store.CheckDayPage(what, day, limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	ids := idsAfter(s.idx.byReviewDay[day], after, limit)
	out := make([]loyalty.Account, len(ids))
	for i, id := range ids {
		out[i] = deepCopy(s.accounts[id].decoded)
	}
	s.mu.Unlock()
	return out, nil
}
