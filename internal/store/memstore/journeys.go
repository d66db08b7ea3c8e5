package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// engineState is what the journey engine's ports keep: journeys and
// their versions, counters, timelines and member dates.
type engineState struct {
	journeys map[string]store.JourneyState
	// versions are kept as their JSON (what the DynamoDB adapter keeps)
	// decodes, and handed out as deep copies, so nobody can change a
	// published version through a slice they hold.
	versions map[versionKey]store.JourneyVersion
	counted  map[appliedKey]bool
	counters map[string]map[string]int64
	// timeline holds each member's entries by timelineSort.
	timeline map[string]map[string][]byte
	// dates files members by attribute and UTC day.
	dates map[dateKey]string
}

type versionKey struct {
	name    string
	version int
}

type dateKey struct{ memberID, attribute string }

func newEngineState() engineState {
	return engineState{
		journeys: make(map[string]store.JourneyState),
		versions: make(map[versionKey]store.JourneyVersion),
		counted:  make(map[appliedKey]bool),
		counters: make(map[string]map[string]int64),
		timeline: make(map[string]map[string][]byte),
		dates:    make(map[dateKey]string),
	}
}

// PublishJourney stores version expectLatest+1 and makes it live, with
// the DynamoDB adapter's draft rule: a draft that is what was published
// is cleared.
func (s *Store) PublishJourney(_ context.Context, v store.JourneyVersion, expectLatest int) error {
	v, err := store.NewJourneyVersion(v, expectLatest)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("publish journey %s: %w", v.Name, err)
	}
	var stored store.JourneyVersion
	if err := json.Unmarshal(b, &stored); err != nil {
		return fmt.Errorf("publish journey %s: %w", v.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.engine.journeys[v.Name]
	if st.Latest != expectLatest {
		return fmt.Errorf("publish journey %s version %d: latest is %d: %w", v.Name, v.Version, st.Latest, store.ErrConflict)
	}
	if _, taken := s.engine.versions[versionKey{v.Name, v.Version}]; taken {
		return fmt.Errorf("publish journey %s version %d: %w", v.Name, v.Version, store.ErrConflict)
	}
	s.engine.versions[versionKey{v.Name, v.Version}] = stored
	if !ok {
		st = store.JourneyState{Name: v.Name}
	}
	st.Status, st.Live, st.Latest, st.UpdatedAt = journey.StatusLive, v.Version, v.Version, v.PublishedAt
	if st.Draft == v.Source {
		st.Draft, st.DraftSavedAt = "", time.Time{}
	}
	s.engine.journeys[v.Name] = st
	return nil
}

// GetJourney reads the journey's state.
func (s *Store) GetJourney(_ context.Context, name string) (store.JourneyState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.engine.journeys[name]
	if !ok {
		return store.JourneyState{}, fmt.Errorf("get journey %s: %w", name, store.ErrNotFound)
	}
	return st, nil
}

// ListJourneys returns every journey's state by name.
func (s *Store) ListJourneys(context.Context) ([]store.JourneyState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.JourneyState, 0, len(s.engine.journeys))
	for _, name := range slices.Sorted(maps.Keys(s.engine.journeys)) {
		out = append(out, s.engine.journeys[name])
	}
	return out, nil
}

// GetJourneyVersion reads one version.
func (s *Store) GetJourneyVersion(_ context.Context, name string, version int) (store.JourneyVersion, error) {
	s.mu.Lock()
	v, ok := s.engine.versions[versionKey{name, version}]
	s.mu.Unlock()
	if !ok {
		return store.JourneyVersion{}, fmt.Errorf("get journey %s version %d: %w", name, version, store.ErrNotFound)
	}
	return deepCopy(v), nil
}

// ListJourneyVersions returns the journey's versions newest first,
// without their source.
func (s *Store) ListJourneyVersions(_ context.Context, name string) ([]store.JourneyVersion, error) {
	s.mu.Lock()
	var out []store.JourneyVersion
	for k, v := range s.engine.versions {
		if k.name == name {
			v.Source = ""
			out = append(out, deepCopy(v))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b store.JourneyVersion) int { return cmp.Compare(b.Version, a.Version) })
	return out, nil
}

// SaveJourneyDraft saves or removes the journey's draft.
func (s *Store) SaveJourneyDraft(_ context.Context, name, source string, at time.Time) error {
	if err := store.CheckJourneyName("save journey draft", name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.engine.journeys[name]
	switch {
	case !ok && source == "":
		return fmt.Errorf("remove draft of journey %s: %w", name, store.ErrNotFound)
	case !ok:
		st = store.JourneyState{Name: name, Status: journey.StatusDraft}
	}
	st.Draft, st.DraftSavedAt, st.UpdatedAt = source, at, at
	if source == "" {
		st.DraftSavedAt = time.Time{}
	}
	s.engine.journeys[name] = st
	return nil
}

// SetJourneyStatus moves the journey's status if it is one of from.
func (s *Store) SetJourneyStatus(_ context.Context, name string, from []journey.Status, to journey.Status, at time.Time) (store.JourneyState, error) {
	if err := store.CheckJourneyStatus(name, from, to); err != nil {
		return store.JourneyState{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.engine.journeys[name]
	switch {
	case !ok:
		return store.JourneyState{}, fmt.Errorf("set journey %s %s: %w", name, to, store.ErrNotFound)
	case !slices.Contains(from, st.Status):
		return st, fmt.Errorf("set journey %s %s: it is %s: %w", name, to, st.Status, store.ErrConflict)
	}
	st.Status, st.UpdatedAt = to, at
	s.engine.journeys[name] = st
	return st, nil
}

// CountJourney adds counts once per member and key.
func (s *Store) CountJourney(_ context.Context, journeyName, memberID, key string, counts map[string]int64) error {
	if err := store.CheckCountJourney(journeyName, memberID, key, counts); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := appliedKey{memberID, key}
	if s.engine.counted[k] {
		return nil
	}
	s.engine.counted[k] = true
	c := s.engine.counters[journeyName]
	if c == nil {
		c = map[string]int64{}
		s.engine.counters[journeyName] = c
	}
	for name, n := range counts {
		if n != 0 {
			c[name] += n
		}
	}
	return nil
}

// JourneyCounters returns a copy of the journey's counters.
func (s *Store) JourneyCounters(_ context.Context, journeyName string) (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := maps.Clone(s.engine.counters[journeyName])
	if out == nil {
		out = map[string]int64{}
	}
	return out, nil
}

// timelineLayout writes an entry's time with every digit, so entries
// sort by time as in the DynamoDB adapter's sort keys.
const timelineLayout = "2006-01-02T15:04:05.000000000Z"

// timelineSort is an entry's place in its member's timeline, and the
// cursor of ListTimeline: the DynamoDB adapter's order.
func timelineSort(e store.TimelineEntry) string {
	return e.At.UTC().Format(timelineLayout) + "#" + e.Key + "#" + e.Kind
}

// AppendTimeline writes each entry not written before.
func (s *Store) AppendTimeline(_ context.Context, entries ...store.TimelineEntry) error {
	entries, err := store.TimelineEntries(entries)
	if err != nil {
		return err
	}
	raw := make([][]byte, len(entries))
	for i, e := range entries {
		if raw[i], err = json.Marshal(e); err != nil {
			return fmt.Errorf("append timeline of %s: entry %s: %w", e.MemberID, e.Key, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range entries {
		tl := s.engine.timeline[e.MemberID]
		if tl == nil {
			tl = map[string][]byte{}
			s.engine.timeline[e.MemberID] = tl
		}
		if k := timelineSort(e); tl[k] == nil {
			tl[k] = raw[i]
		}
	}
	return nil
}

// ListTimeline returns the member's entries newest first, before the
// cursor.
func (s *Store) ListTimeline(_ context.Context, memberID string, limit int, before string) ([]store.TimelineEntry, string, error) {
	if err := store.CheckTimelinePage(memberID, limit); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	tl := s.engine.timeline[memberID]
	var keys []string
	for k := range tl {
		if before == "" || k < before {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	slices.Reverse(keys)
	next := ""
	if len(keys) > limit {
		keys, next = keys[:limit], keys[limit-1]
	}
	raw := make([][]byte, len(keys))
	for i, k := range keys {
		raw[i] = tl[k]
	}
	s.mu.Unlock()
	out := make([]store.TimelineEntry, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, "", fmt.Errorf("list timeline of %s: %w", memberID, err)
		}
	}
	return out, next, nil
}

// enrollmentCursor is an enrollment's place in a journey's listings, and
// their cursor: the DynamoDB adapter's order, by member id then number.
func enrollmentCursor(e loyalty.Enrollment) string {
	return fmt.Sprintf("M#%s#%06d", e.MemberID, e.Number)
}

// ListActiveEnrollments returns a page of the journey's active
// enrollments.
func (s *Store) ListActiveEnrollments(_ context.Context, journeyName, after string, limit int) ([]loyalty.Enrollment, string, error) {
	what := "list active enrollments of " + journeyName
	if err := store.CheckEnrollmentPage(what, journeyName, limit); err != nil {
		return nil, "", err
	}
	page, next := s.enrollmentsWhere(s.idx.activeEnrollments, journeyName, after, limit)
	return page, next, nil
}

// ListHeldEnrollments returns a page of the journey's held enrollments.
func (s *Store) ListHeldEnrollments(_ context.Context, journeyName, after string, limit int) ([]loyalty.Enrollment, string, error) {
	what := "list held enrollments of " + journeyName
	if err := store.CheckEnrollmentPage(what, journeyName, limit); err != nil {
		return nil, "", err
	}
	page, next := s.enrollmentsWhere(s.idx.heldEnrollments, journeyName, after, limit)
	return page, next, nil
}

// enrollmentsWhere pages through the journey's enrollments of an index
// (the active or the held ones).
func (s *Store) enrollmentsWhere(index map[string]set[enrollmentKey], journeyName, after string, limit int) ([]loyalty.Enrollment, string) {
	s.mu.Lock()
	out := s.enrollmentsIn(index[journeyName], func(e loyalty.Enrollment) bool { return enrollmentCursor(e) > after },
		func(a, b loyalty.Enrollment) int { return strings.Compare(enrollmentCursor(a), enrollmentCursor(b)) })
	s.mu.Unlock()
	if len(out) <= limit {
		return out, ""
	}
	return out[:limit], enrollmentCursor(out[limit-1])
}

// SetEnrollmentHeld holds or releases an active enrollment.
func (s *Store) SetEnrollmentHeld(_ context.Context, memberID, journeyName string, number int, held bool) error {
	return s.changeActive(fmt.Sprintf("set enrollment %s/%s/%d held %t", journeyName, memberID, number, held),
		enrollmentKey{memberID, journeyName, number}, func(e *loyalty.Enrollment) { e.Held = held })
}

// SetEnrollmentStep records an active enrollment's step and what it
// listens for.
func (s *Store) SetEnrollmentStep(_ context.Context, memberID, journeyName string, number int, step string, listen []string) error {
	return s.changeActive(fmt.Sprintf("set enrollment %s/%s/%d step %s", journeyName, memberID, number, step),
		enrollmentKey{memberID, journeyName, number}, func(e *loyalty.Enrollment) { e.Step, e.Listen = step, slices.Clone(listen) })
}

// changeActive changes an active enrollment; an ended one is left as it
// is.
func (s *Store) changeActive(what string, k enrollmentKey, change func(*loyalty.Enrollment)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.enrollments[k]
	if !ok {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if e.Status != loyalty.EnrollmentActive {
		return nil
	}
	change(&e)
	s.putEnrollment(k, e)
	return nil
}

// cloneEnrollment copies the enrollment's slice, so neither the caller
// nor the store can change the other's.
func cloneEnrollment(e loyalty.Enrollment) loyalty.Enrollment {
	e.Listen = slices.Clone(e.Listen)
	return e
}

// SetMemberDate files or unfiles the member under the attribute's day.
func (s *Store) SetMemberDate(_ context.Context, memberID, attribute, day string) error {
	if err := store.CheckMemberDate(memberID, attribute, day); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dateKey{memberID, attribute}
	if old := s.engine.dates[k]; old != "" {
		remove(s.idx.byDate, [2]string{attribute, old}, memberID)
	}
	if day == "" {
		delete(s.engine.dates, k)
	} else {
		s.engine.dates[k] = day
		add(s.idx.byDate, [2]string{attribute, day}, memberID)
	}
	return nil
}

// MembersByDate returns the ids of members filed under the attribute's
// day, after the cursor, in id order.
func (s *Store) MembersByDate(_ context.Context, attribute, day, after string, limit int) ([]string, error) {
	if err := store.CheckDatePage(fmt.Sprintf("members by date %s %s", attribute, day), attribute, day, limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return idsAfter(s.idx.byDate[[2]string{attribute, day}], after, limit), nil
}

// MembersPage returns members of one shard of the member index, after
// the cursor, in id order.
func (s *Store) MembersPage(_ context.Context, shard int, after string, limit int) ([]loyalty.Member, error) {
	if err := store.CheckMembersPage(shard, limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.membersIn(s.idx.byShard[shard], after, limit), nil
}
