package memstore

import (
	"cmp"
	"slices"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// indexes are the store's secondary indexes, kept in step with the items
// under s.mu: what the DynamoDB adapter finds through a partition key or
// a GSI, found here without walking every item, so a simulated year of
// ten thousand members (internal/simulate) reads what it would read from
// DynamoDB.
type indexes struct {
	// enrollments by member; active and held ones by journey.
	memberEnrollments map[string]set[enrollmentKey]
	activeEnrollments map[string]set[enrollmentKey]
	heldEnrollments   map[string]set[enrollmentKey]
	// sends, send events, ledger entries and journal causes by member.
	memberSends      map[string][]sendKey
	memberSendEvents map[string][]sendEventKey
	memberEntries    map[string][]int64
	memberCauses     map[string][]string
	// members by birthday (MMDD), by the UTC day of their last order
	// and by shard of the member index.
	byBirthday  map[string]set[string]
	byLastOrder map[string]set[string]
	byShard     map[int]set[string]
	// accounts by review day and by due day.
	byReviewDay map[string]set[string]
	byDueDay    map[string]set[string]
	// member dates by attribute and day.
	byDate map[[2]string]set[string]
}

type set[K comparable] map[K]struct{}

func newIndexes() indexes {
	return indexes{
		memberEnrollments: map[string]set[enrollmentKey]{}, activeEnrollments: map[string]set[enrollmentKey]{},
		heldEnrollments: map[string]set[enrollmentKey]{},
		memberSends:     map[string][]sendKey{}, memberSendEvents: map[string][]sendEventKey{},
		memberEntries: map[string][]int64{}, memberCauses: map[string][]string{},
		byBirthday: map[string]set[string]{}, byLastOrder: map[string]set[string]{}, byShard: map[int]set[string]{},
		byReviewDay: map[string]set[string]{}, byDueDay: map[string]set[string]{},
		byDate: map[[2]string]set[string]{},
	}
}

// add puts k in the set m[at].
func add[A comparable, K comparable](m map[A]set[K], at A, k K) {
	s := m[at]
	if s == nil {
		s = set[K]{}
		m[at] = s
	}
	s[k] = struct{}{}
}

// remove takes k out of the set m[at].
func remove[A comparable, K comparable](m map[A]set[K], at A, k K) {
	if s := m[at]; s != nil {
		delete(s, k)
		if len(s) == 0 {
			delete(m, at)
		}
	}
}

// refile moves id from the day (or other key) from to the key to; ""
// files nothing.
func refile(m map[string]set[string], from, to, id string) {
	if from == to {
		return
	}
	if from != "" {
		remove(m, from, id)
	}
	if to != "" {
		add(m, to, id)
	}
}

// birthdayKey is the MMDD a birthday (YYYY-MM-DD) is filed under, ""
// for none.
func birthdayKey(b string) string {
	if len(b) == len(time.DateOnly) && b[4] == '-' && b[7] == '-' {
		return b[5:7] + b[8:10]
	}
	return ""
}

// putMember stores m and refiles it; s.mu must be held.
func (s *Store) putMember(m loyalty.Member) {
	old, had := s.members[m.ID]
	if !had {
		add(s.idx.byShard, store.MemberShard(m.ID), m.ID)
	}
	refile(s.idx.byBirthday, birthdayKey(old.Birthday), birthdayKey(m.Birthday), m.ID)
	refile(s.idx.byLastOrder, utcDay(old.LastOrderAt), utcDay(m.LastOrderAt), m.ID)
	s.members[m.ID] = m
}

// putEnrollment stores e and refiles it; s.mu must be held.
func (s *Store) putEnrollment(k enrollmentKey, e loyalty.Enrollment) {
	add(s.idx.memberEnrollments, k.memberID, k)
	if e.Status == loyalty.EnrollmentActive {
		add(s.idx.activeEnrollments, k.journey, k)
	} else {
		remove(s.idx.activeEnrollments, k.journey, k)
	}
	if e.Status == loyalty.EnrollmentActive && e.Held {
		add(s.idx.heldEnrollments, k.journey, k)
	} else {
		remove(s.idx.heldEnrollments, k.journey, k)
	}
	s.enrollments[k] = e
}

// membersIn returns copies of up to limit members of ids after the cursor,
// in id order; s.mu must be held.
func (s *Store) membersIn(ids set[string], after string, limit int) []loyalty.Member {
	out := make([]loyalty.Member, 0, min(limit, len(ids)))
	for _, id := range idsAfter(ids, after, limit) {
		out = append(out, cloneMember(s.members[id]))
	}
	return out
}

// idsAfter are up to limit ids of the set after the cursor, in order.
func idsAfter(ids set[string], after string, limit int) []string {
	out := make([]string, 0, len(ids))
	for id := range ids {
		if id > after {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out[:min(limit, len(out))]
}

// enrollmentsIn returns copies of the enrollments of keys, ordered by cmp.
func (s *Store) enrollmentsIn(keys set[enrollmentKey], keep func(loyalty.Enrollment) bool, order func(a, b loyalty.Enrollment) int) []loyalty.Enrollment {
	out := make([]loyalty.Enrollment, 0, len(keys))
	for k := range keys {
		if e := s.enrollments[k]; keep(e) {
			out = append(out, cloneEnrollment(e))
		}
	}
	slices.SortFunc(out, order)
	return out
}

func byJourneyThenNumber(a, b loyalty.Enrollment) int {
	return cmp.Or(cmp.Compare(a.Journey, b.Journey), cmp.Compare(a.Number, b.Number))
}
