package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
	return s.membersWhere(after, limit, func(m loyalty.Member) bool {
		b := m.Birthday
		return len(b) == len(time.DateOnly) && b[4] == '-' && b[7] == '-' && b[5:7]+b[8:10] == mmdd
	}), nil
}

// MembersByLastOrderDay returns members whose newest order was on the UTC
// day, after the cursor, in id order.
func (s *Store) MembersByLastOrderDay(_ context.Context, day, after string, limit int) ([]loyalty.Member, error) {
	if err := store.CheckDayPage("members by last order day "+day, day, limit); err != nil {
		return nil, err
	}
	return s.membersWhere(after, limit, func(m loyalty.Member) bool { return utcDay(m.LastOrderAt) == day }), nil
}

// membersWhere returns copies of up to limit members matching match with
// ids after the cursor, in id order.
func (s *Store) membersWhere(after string, limit int, match func(loyalty.Member) bool) []loyalty.Member {
	s.mu.Lock()
	var out []loyalty.Member
	for id, m := range s.members {
		if id > after && match(m) {
			out = append(out, cloneMember(m))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b loyalty.Member) int { return cmp.Compare(a.ID, b.ID) })
	return out[:min(limit, len(out))]
}

// AccountsByReviewDay returns accounts whose tier review is on the UTC
// day, after the cursor, in member-id order.
func (s *Store) AccountsByReviewDay(_ context.Context, day, after string, limit int) ([]loyalty.Account, error) {
	what := "accounts by review day " + day
	if err := store.CheckDayPage(what, day, limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var ids []string
	for id, acc := range s.accounts {
		if acc.reviewDay == day && id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = ids[:min(limit, len(ids))]
	states := make([][]byte, len(ids))
	for i, id := range ids {
		states[i] = s.accounts[id].state
	}
	s.mu.Unlock()
	out := make([]loyalty.Account, len(states))
	for i, b := range states {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, fmt.Errorf("%s: account %s: %w", what, ids[i], err)
		}
	}
	return out, nil
}
