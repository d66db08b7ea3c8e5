package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"golang.org/x/time/rate"

	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// The journey scans: date and inactivity triggers are found through the
// store's calendar indexes and broadcasts through the member index, hour
// by hour, with no workflow sleeping for months per member. A journey
// whose steps are only sends and rewards at fixed offsets
// (Definition.CalendarRunnable) runs inside the scan through the one step
// executor (Step); any other starts a Journey workflow per entrant. Every
// effect is keyed member#journey#enrollment#step#year and every timeline
// entry is dated by the step's moment, so a rerun, an overlapping window,
// a retry or a restart gives nothing twice.

// JourneyScanRequest asks for a journey scan's plan (PlanJourneyScan) or
// for one batch of it (ScanJourney): the members whose moment falls in
// the window (At − CatchUp, At].
type JourneyScanRequest struct {
	Journey string        `json:"journey"`
	At      time.Time     `json:"at"`
	CatchUp time.Duration `json:"catch_up"`
	// Plan is what PlanJourneyScan planned for the run (batches only).
	Plan   JourneyScanPlan   `json:"plan"`
	Cursor JourneyScanCursor `json:"cursor"`
	// PageSize is how many members one store read returns (default 100).
	PageSize int `json:"page_size"`
	// MaxMembers ends the batch after about this many members (default
	// ten pages), so the workflow's history grows by one activity per
	// batch, not per page.
	MaxMembers int `json:"max_members"`
}

// JourneyScanPlan is what one run of a journey's scan reads: partitions
// of the store's indexes, each naming its index ("birthday:1123",
// "review:2026-11-23", "last_order:2026-11-23", "date:<attribute>:<day>",
// "shard:7"), and "held" for the enrollments a pause held, which run
// first after a resume.
type JourneyScanPlan struct {
	Partitions []string `json:"partitions,omitempty"`
	// Occurrence is a broadcast's day (YYYY-MM-DD) and Start its first
	// moment anywhere (the broadcast's time of day where the day begins
	// first): the decision time of every entry of the pass.
	Occurrence string    `json:"occurrence,omitempty"`
	Start      time.Time `json:"start,omitzero"`
}

// JourneyScanCursor is where a scan is: the partition and, within it, the
// last member done (the listing's own cursor for "held").
type JourneyScanCursor struct {
	Partition int    `json:"partition"`
	After     string `json:"after,omitempty"`
}

// JourneyScanResult reports one batch.
type JourneyScanResult struct {
	Cursor  JourneyScanCursor `json:"cursor"`
	Done    bool              `json:"done"`
	Scanned int               `json:"scanned"`
	Counts  map[string]int    `json:"counts"`
	// Rate is the entries a second a broadcast pass is paced at (0 for
	// other scans).
	Rate float64 `json:"rate,omitempty"`
}

// JourneyDeferredStepWorkflow is the workflow type that waits out the
// contact policy's deferral of a step a scan ran (workflows.
// JourneyDeferredStep); activities start it by name because the
// workflows package imports this one.
const JourneyDeferredStepWorkflow = "JourneyDeferredStep"

// JourneyDeferredStepWorkflowID names the deferral workflow of one step:
// one per step key, so a second scan attaches to it.
func JourneyDeferredStepWorkflowID(key string) string { return "step/" + key }

// JourneyDeferredStepInput is the input of the deferral workflow: the
// step as the scan asked for it, and when to ask again.
type JourneyDeferredStepInput struct {
	Request StepRequest `json:"request"`
	Until   time.Time   `json:"until"`
}

// DefaultBroadcastRate is a broadcast's pace, in entries a second, when
// its definition names none.
const DefaultBroadcastRate = 50

// BroadcastLimiter paces a broadcast pass at its rate (entries a second;
// DefaultBroadcastRate when unset), with a second's worth of burst.
func BroadcastLimiter(b journey.Broadcast) *rate.Limiter {
	r := b.Rate
	if r <= 0 {
		r = DefaultBroadcastRate
	}
	return rate.NewLimiter(rate.Limit(r), r)
}

// heldPartition is the plan's pseudo-partition of held enrollments.
const heldPartition = "held"

// PlanJourneyScan plans one run of a journey's scan at req.At: nothing for
// a journey that is not live (archived, a draft) or has no date,
// inactivity or broadcast trigger; for a paused one, only the partitions
// of its calendar-runnable versions, whose due steps it holds; for a live
// one, the held enrollments first and then the partitions that can hold
// members due in the window, for every published version (an open
// enrollment keeps its version's timing); for a broadcast, the member
// index's shards when an occurrence began in the window.
func (a *Activities) PlanJourneyScan(ctx context.Context, req JourneyScanRequest) (JourneyScanPlan, error) {
	live, ok, err := a.liveJourney(ctx, req.Journey)
	if err != nil || !ok {
		return JourneyScanPlan{}, err
	}
	def := live.Definition
	paused := live.State.Status == journey.StatusPaused
	switch def.Trigger.Kind() {
	case journey.TriggerDate, journey.TriggerInactivity:
		defs, err := a.published(ctx, live)
		if err != nil {
			return JourneyScanPlan{}, fmt.Errorf("plan scan of %s: %w", req.Journey, err)
		}
		if paused {
			defs = slices.DeleteFunc(defs, func(d journey.Definition) bool { return !d.CalendarRunnable() })
		}
		parts := PlanJourneyPartitions(defs, req.At, req.CatchUp)
		if !paused {
			parts = append([]string{heldPartition}, parts...)
		}
		return JourneyScanPlan{Partitions: parts}, nil
	case journey.TriggerBroadcast:
		if paused {
			return JourneyScanPlan{}, nil
		}
		day, start, ok := BroadcastOccurrence(*def.Trigger.Broadcast, req.At, req.CatchUp)
		if !ok {
			return JourneyScanPlan{}, nil
		}
		parts := make([]string, store.MemberShards)
		for i := range parts {
			parts[i] = "shard:" + strconv.Itoa(i)
		}
		return JourneyScanPlan{Partitions: parts, Occurrence: day.Format(time.DateOnly), Start: start}, nil
	}
	return JourneyScanPlan{}, nil
}

// liveJourney is the journey's entry in the live set (live or paused).
func (a *Activities) liveJourney(ctx context.Context, name string) (journeys.Live, bool, error) {
	set, err := a.Journeys.LiveSet(ctx)
	if err != nil {
		return journeys.Live{}, false, fmt.Errorf("live journeys: %w", err)
	}
	for _, l := range set {
		if l.Definition.Name == name {
			return l, true, nil
		}
	}
	return journeys.Live{}, false, nil
}

// EarliestZone is where a day begins first (UTC+14): a broadcast's
// schedule fires at its time of day there, and every member's enrollment
// then sleeps to their own.
const EarliestZone = "Pacific/Kiritimati"

var earliest = func() *time.Location {
	if loc, err := loadLocation(EarliestZone); err == nil {
		return loc
	}
	return time.FixedZone("UTC+14", 14*3600)
}()

// BroadcastOccurrence is the broadcast's latest occurrence whose first
// moment anywhere (its time of day in EarliestZone) is at or before at and
// after at − catchUp: its day (midnight UTC, naming the calendar day) and
// that moment. ok is false when none is.
func BroadcastOccurrence(b journey.Broadcast, at time.Time, catchUp time.Duration) (time.Time, time.Time, bool) {
	h, mi, err := journey.ParseClock(b.At)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	l := at.In(earliest)
	for d := 0; d <= int(catchUp/journey.Day)+1; d++ {
		day := time.Date(l.Year(), l.Month(), l.Day()-d, 0, 0, 0, 0, time.UTC)
		start := time.Date(day.Year(), day.Month(), day.Day(), h, mi, 0, 0, earliest)
		if start.After(at) {
			continue
		}
		if !start.After(at.Add(-catchUp)) {
			break
		}
		if broadcastOn(b, day) {
			return day, start, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// broadcastOn reports whether the broadcast occurs on the calendar day.
func broadcastOn(b journey.Broadcast, day time.Time) bool {
	switch b.Every {
	case journey.EveryDay:
		return true
	case journey.EveryWeek:
		return strings.EqualFold(day.Weekday().String(), b.Weekday)
	case journey.EveryMonth:
		return day.Day() == b.Day
	case journey.EveryOnce:
		return day.Format(time.DateOnly) == b.Date
	}
	return false
}

// PlanJourneyPartitions lists the index partitions that can hold members
// whose moment by one of defs (the trigger's, and for a calendar-runnable
// definition every step's) falls in (at − catchUp, at], one day wider on
// each side because a member's local day differs from the UTC day the
// indexes file by up to 14 hours. Sorted, without repeats.
func PlanJourneyPartitions(defs []journey.Definition, at time.Time, catchUp time.Duration) []string {
	from, to := at.Add(-catchUp-journey.Day), at.Add(journey.Day)
	var parts []string
	for _, def := range defs {
		rule, ok := triggerRule(def)
		if !ok {
			continue
		}
		offsets := def.StepOffsets()
		if offsets == nil {
			offsets = []time.Duration{rule.Offset.D() + clockOf(rule.At)}
		}
		for _, off := range offsets {
			for d := from.Add(-off).UTC().Truncate(journey.Day); !d.After(to.Add(-off)); d = d.Add(journey.Day) {
				parts = append(parts, partitionsOn(rule.Attribute, d)...)
			}
		}
	}
	slices.Sort(parts)
	return slices.Compact(parts)
}

// partitionsOn names the partitions of the index of attribute that file
// the UTC day d.
func partitionsOn(attribute string, d time.Time) []string {
	day := d.Format(time.DateOnly)
	switch attribute {
	case "birthday":
		out := []string{"birthday:" + d.Format("0102")}
		// 29 February birthdays are kept on the 28th in common years.
		if d.Month() == time.February && d.Day() == 28 && !isLeapYear(d.Year()) {
			out = append(out, "birthday:0229")
		}
		return out
	case "tier_review_on":
		return []string{"review:" + day}
	case "last_order_at":
		return []string{"last_order:" + day}
	}
	return []string{"date:" + attribute + ":" + day}
}

func isLeapYear(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// triggerRule is a date or inactivity trigger as a date rule.
func triggerRule(def journey.Definition) (journey.DateRule, bool) {
	switch t := def.Trigger; t.Kind() {
	case journey.TriggerDate:
		return *t.Date, true
	case journey.TriggerInactivity:
		return engine.InactivityRule(*t.Inactivity), true
	}
	return journey.DateRule{}, false
}

// clockOf is a time of day (journey.DefaultAt when empty) as the duration
// from midnight.
func clockOf(at string) time.Duration {
	if at == "" {
		at = journey.DefaultAt
	}
	h, m, err := journey.ParseClock(at)
	if err != nil {
		return 0
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
}

// fromMidnight is the moment off after midnight (a member-local midnight):
// whole days by the calendar, so a step at 10:00 stays at 10:00 across a
// daylight-saving change, then the time of day.
func fromMidnight(midnight time.Time, off time.Duration) time.Time {
	days := off / journey.Day
	rest := off - days*journey.Day
	if rest < 0 {
		days--
		rest += journey.Day
	}
	return time.Date(midnight.Year(), midnight.Month(), midnight.Day()+int(days), 0, 0, 0, 0, midnight.Location()).Add(rest)
}

// ScanJourney runs one batch of a journey's scan: the plan's partitions
// page by page from the cursor. It heartbeats after every page and a
// retry resumes there; one member's permanent failure is counted and
// logged, and the scan goes on (perMember).
func (a *Activities) ScanJourney(ctx context.Context, req JourneyScanRequest) (JourneyScanResult, error) {
	if a.Ledger == nil || a.Engine == nil || a.Journeys == nil || a.Enroller == nil {
		return JourneyScanResult{}, errors.New("journey scan: the ledger, engine, journeys and enroller must be configured")
	}
	if req.PageSize < 1 {
		req.PageSize = 100
	}
	if req.MaxMembers < req.PageSize {
		req.MaxMembers = 10 * req.PageSize
	}
	res := JourneyScanResult{Cursor: req.Cursor, Counts: map[string]int{}}
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		var hb JourneyScanResult
		if err := activity.GetHeartbeatDetails(ctx, &hb); err == nil && hb.Counts != nil {
			res = hb
		}
	}
	live, ok, err := a.liveJourney(ctx, req.Journey)
	if err != nil {
		return res, retryAsAsked(err)
	}
	if !ok {
		// Archived (or unpublished) since the plan: nothing more to do.
		res.Done = true
		return res, nil
	}
	s := &journeyScan{a: a, req: req, live: live, counts: res.Counts}
	if b := live.Definition.Trigger.Broadcast; b != nil {
		s.limiter = BroadcastLimiter(*b)
		res.Rate = float64(s.limiter.Limit())
	}
	parts := req.Plan.Partitions
	for res.Cursor.Partition < len(parts) && res.Scanned < req.MaxMembers {
		part := parts[res.Cursor.Partition]
		n, next, err := s.page(ctx, part, res.Cursor.After)
		if err != nil {
			return res, retryAsAsked(fmt.Errorf("scan %s %s: %w", req.Journey, part, err))
		}
		res.Scanned += n
		if next == "" {
			res.Cursor = JourneyScanCursor{Partition: res.Cursor.Partition + 1}
		} else {
			res.Cursor.After = next
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, res)
		}
	}
	res.Done = res.Cursor.Partition >= len(parts)
	a.log().InfoContext(ctx, "journey scan batch", "journey", req.Journey, "scanned", res.Scanned, "done", res.Done, "counts", res.Counts)
	return res, nil
}

// journeyScan is one batch's state.
type journeyScan struct {
	a       *Activities
	req     JourneyScanRequest
	live    journeys.Live
	counts  map[string]int
	limiter *rate.Limiter
	// defs are the journey's published versions (definitions), and
	// timings their calendar timing by version.
	defs    []journey.Definition
	timings map[int]timing
}

// page reads one page of a partition and acts on its members; next is
// the cursor of the page after ("" at the partition's end).
func (s *journeyScan) page(ctx context.Context, part, after string) (int, string, error) {
	ps := s.req.PageSize
	cal := s.a.Store
	index, key, _ := strings.Cut(part, ":")
	var ids []string
	var filed string // the day a date partition files its members under
	switch index {
	case heldPartition:
		enrs, next, err := cal.ListHeldEnrollments(ctx, s.req.Journey, after, ps)
		if err != nil {
			return 0, "", err
		}
		for _, e := range enrs {
			if err := s.a.perMember(ctx, s.counts, e.MemberID, s.resumeHeld(ctx, e)); err != nil {
				return 0, "", fmt.Errorf("member %s: %w", e.MemberID, err)
			}
		}
		return len(enrs), next, nil
	case "birthday":
		ms, err := cal.MembersByBirthday(ctx, key, after, ps)
		ids = memberIDs(ms, err)
		if err != nil {
			return 0, "", err
		}
	case "review":
		accs, err := cal.AccountsByReviewDay(ctx, key, after, ps)
		if err != nil {
			return 0, "", err
		}
		for _, acc := range accs {
			ids = append(ids, acc.MemberID)
		}
	case "last_order":
		ms, err := cal.MembersByLastOrderDay(ctx, key, after, ps)
		ids = memberIDs(ms, err)
		if err != nil {
			return 0, "", err
		}
	case "date":
		attribute, day, _ := strings.Cut(key, ":")
		var err error
		if ids, err = cal.MembersByDate(ctx, attribute, day, after, ps); err != nil {
			return 0, "", err
		}
		filed = day
	case "shard":
		shard, err := strconv.Atoi(key)
		if err != nil {
			return 0, "", fmt.Errorf("partition %q: %w", part, err)
		}
		ms, err := cal.MembersPage(ctx, shard, after, ps)
		ids = memberIDs(ms, err)
		if err != nil {
			return 0, "", err
		}
	default:
		return 0, "", fmt.Errorf("partition %q names no index", part)
	}
	for _, id := range ids {
		var err error
		if index == "shard" {
			err = s.broadcast(ctx, id)
		} else {
			err = s.dated(ctx, id, filed)
		}
		if err := s.a.perMember(ctx, s.counts, id, err); err != nil {
			return 0, "", fmt.Errorf("member %s: %w", id, err)
		}
	}
	next := ""
	if len(ids) == ps {
		next = ids[len(ids)-1]
	}
	return len(ids), next, nil
}

func memberIDs(ms []loyalty.Member, err error) []string {
	if err != nil {
		return nil
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// due reports whether t falls in the window (At − CatchUp, At].
func (s *journeyScan) due(t time.Time) bool {
	return t.After(s.req.At.Add(-s.req.CatchUp)) && !t.After(s.req.At)
}

// anchor is one trigger date of a member: the member-local midnight that
// starts its day, and the enrollment it names.
type anchor struct {
	midnight time.Time
	number   int
}

// anchors are the member's trigger dates by rule that can be due: this
// year's, last year's and next year's for a yearly date (the window may
// span New Year, an offset may cross it), the one date otherwise.
func (s *journeyScan) anchors(rule journey.DateRule, doc loyalty.MemberDocument, loc *time.Location) []anchor {
	day := journey.DateRule{Attribute: rule.Attribute, At: "00:00"}
	yearly := engine.Yearly(rule.Attribute)
	if !yearly {
		m, ok := engine.Moment(day, doc, loc)
		if !ok {
			return nil
		}
		return []anchor{{midnight: m, number: journeys.DayNumber(m, false)}}
	}
	var out []anchor
	y := s.req.At.In(loc).Year()
	for _, yr := range []int{y - 1, y, y + 1} {
		if m, ok := engine.Occurrence(day, doc, loc, yr); ok {
			out = append(out, anchor{midnight: m, number: journeys.DayNumber(m, true)})
		}
	}
	return out
}

// dated acts on a member found through a date index: the calendar step
// due in the window (calendar-runnable journeys), or the entry of a member
// whose trigger moment is in it (the others, which then run as a Journey
// workflow). filed is the day a member-date index filed them under.
func (s *journeyScan) dated(ctx context.Context, memberID, filed string) error {
	live := s.live.Definition
	rule, ok := triggerRule(live)
	m := &found{read: func() (loyalty.MemberDocument, error) {
		doc, err := s.a.Ledger.Document(ctx, memberID, s.a.now())
		if err == nil && ok {
			doc = withFiled(doc, live, rule, filed)
		}
		return doc, err
	}}
	if ok && engine.ProfileDate(rule.Attribute) {
		// A run reads the partitions of three days around its window, so
		// most members it finds are not due in it, or had their step
		// from an earlier run: when the trigger's date is on the profile,
		// that is seen on the profile (and the enrollments) alone, and
		// the standing is read only for a member to enter or act on.
		p, err := s.a.Store.GetMember(ctx, memberID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p = loyalty.Member{ID: memberID}
		case err != nil:
			return err
		}
		if p.Version > 0 {
			if due, err := s.mayBeDue(ctx, p, filed, rule); err != nil || !due {
				if err == nil {
					s.counts["not_due"]++
				}
				return err
			}
		}
		enrs, err := s.a.Store.ListEnrollments(ctx, memberID)
		if err != nil {
			return fmt.Errorf("read enrollments of %s: %w", memberID, err)
		}
		m.doc = withFiled(loyalty.MemberDocument{Member: p, Enrollments: enrs}, live, rule, filed)
	} else if _, err := m.standing(); err != nil {
		return err
	}
	doc := m.doc
	if doc.Member.Version == 0 {
		s.counts["no_profile"]++
		return nil
	}
	if !ok {
		return nil
	}
	loc := s.a.Engine.Location(doc.Member)
	acted := false
	for _, an := range s.anchors(rule, doc, loc) {
		var err error
		enr := enrollmentOf(doc, live.Name, an.number)
		def := live
		if enr != nil && enr.Version != 0 && enr.Version != live.Version {
			// An open enrollment keeps its version, timing included.
			if def, err = s.a.Journeys.Version(ctx, live.Name, enr.Version); err != nil {
				return err
			}
		}
		var did bool
		if s.timing(def).runnable {
			did, err = s.calendar(ctx, m, def, an, enr)
		} else {
			did, err = s.enterWorkflow(ctx, m, def, an, enr, loc)
		}
		if err != nil {
			return err
		}
		acted = acted || did
	}
	if !acted {
		s.counts["not_due"]++
	}
	return nil
}

// found is a member a scan found: the document it decides on, first
// without the standing when the trigger's date is on the profile, and
// read in full (the standing as of now) only when it is needed.
type found struct {
	doc  loyalty.MemberDocument
	full bool
	read func() (loyalty.MemberDocument, error)
}

// standing is the member's full document.
func (f *found) standing() (loyalty.MemberDocument, error) {
	if !f.full {
		doc, err := f.read()
		if err != nil {
			return loyalty.MemberDocument{}, err
		}
		f.doc, f.full = doc, true
	}
	return f.doc, nil
}

// withFiled is the document with the member date a member-date index
// filed them under: dispatch files the day of the member's newest event
// of an inactivity trigger's type and keeps no attribute, so the day is
// the member date.
func withFiled(doc loyalty.MemberDocument, live journey.Definition, rule journey.DateRule, filed string) loyalty.MemberDocument {
	if live.Trigger.Inactivity == nil || filed == "" || rule.Attribute == "last_order_at" {
		return doc
	}
	doc.Attributes = maps.Clone(doc.Attributes)
	if doc.Attributes == nil {
		doc.Attributes = map[string]any{}
	}
	doc.Attributes[rule.Attribute] = filed
	return doc
}

// mayBeDue reports whether the member, found in a partition of a journey
// whose trigger date is on the profile, may have a step or an entry due
// in the window by any published version: false only when none can be.
// A version whose trigger reads the standing leaves it to the full
// reading (true).
func (s *journeyScan) mayBeDue(ctx context.Context, m loyalty.Member, filed string, rule journey.DateRule) (bool, error) {
	defs, err := s.definitions(ctx)
	if err != nil {
		return false, err
	}
	doc := withFiled(loyalty.MemberDocument{Member: m}, s.live.Definition, rule, filed)
	loc := s.a.Engine.Location(doc.Member)
	for _, an := range s.anchors(rule, doc, loc) {
		for _, def := range defs {
			if t := s.timing(def); t.runnable {
				for _, off := range t.offsets {
					if s.due(fromMidnight(an.midnight, off)) {
						return true, nil
					}
				}
				continue
			}
			r, ok := triggerRule(def)
			if !ok || !engine.ProfileDate(r.Attribute) {
				return true, nil
			}
			at, ok := engine.Moment(r, doc, loc)
			if engine.Yearly(r.Attribute) {
				at, ok = engine.Occurrence(r, doc, loc, an.midnight.Year())
			}
			if ok && s.due(at) {
				return true, nil
			}
		}
	}
	return false, nil
}

// timing is a version's calendar timing (Definition.CalendarRunnable,
// StepOffsets and its send steps), worked out once a batch.
type timing struct {
	runnable bool
	offsets  []time.Duration
	sends    []int
}

func (s *journeyScan) timing(def journey.Definition) timing {
	if t, ok := s.timings[def.Version]; ok {
		return t
	}
	if s.timings == nil {
		s.timings = map[int]timing{}
	}
	t := timing{runnable: def.CalendarRunnable(), offsets: def.StepOffsets(), sends: sendSteps(def)}
	s.timings[def.Version] = t
	return t
}

// definitions are the journey's live version and every other published
// one (an open enrollment keeps its version's timing), read once a
// batch.
func (s *journeyScan) definitions(ctx context.Context) ([]journey.Definition, error) {
	if s.defs != nil {
		return s.defs, nil
	}
	defs, err := s.a.published(ctx, s.live)
	if err != nil {
		return nil, err
	}
	s.defs = defs
	return defs, nil
}

// published is the live version of a journey and every other published
// one: from the live set when it carries them, else from the store.
func (a *Activities) published(ctx context.Context, live journeys.Live) ([]journey.Definition, error) {
	def := live.Definition
	versions := live.Versions
	if versions == nil {
		vs, err := a.Store.ListJourneyVersions(ctx, def.Name)
		if err != nil {
			return nil, fmt.Errorf("versions of %s: %w", def.Name, err)
		}
		for _, v := range vs {
			d := v.Definition
			d.Version = v.Version
			versions = append(versions, d)
		}
	}
	defs := []journey.Definition{def}
	for _, v := range versions {
		if v.Version != def.Version {
			defs = append(defs, v)
		}
	}
	return defs, nil
}

// sendSteps are the indexes of def's send and reward steps, in step order
// (StepOffsets gives their offsets in the same order).
func sendSteps(def journey.Definition) []int {
	var out []int
	for i, st := range def.Steps {
		if k := st.Kind(); k == journey.KindSend || k == journey.KindReward {
			out = append(out, i)
		}
	}
	return out
}

// calendar runs, for one anchor, the latest send or reward step of def
// due in the window that the member has not had: entering them first if
// they are not enrolled, holding it while the journey is paused. It
// reports whether a step was due.
func (s *journeyScan) calendar(ctx context.Context, m *found, def journey.Definition, an anchor, enr *loyalty.Enrollment) (bool, error) {
	offsets, idx := s.timing(def).offsets, s.timing(def).sends
	k := -1
	for i, off := range offsets {
		if s.due(fromMidnight(an.midnight, off)) {
			k = i
		}
	}
	if k < 0 {
		return false, nil
	}
	step := def.Steps[idx[k]]
	at := fromMidnight(an.midnight, offsets[k])
	if enr == nil {
		if s.live.State.Status == journey.StatusPaused {
			// A pause takes no new entries.
			s.counts["paused"]++
			return true, nil
		}
		doc, err := m.standing()
		if err != nil {
			return true, err
		}
		rule, _ := triggerRule(def)
		got, err := s.a.Enroller.Enter(ctx, journeys.Entry{Live: s.live, Member: doc, Number: an.number,
			Anchor: fromMidnight(an.midnight, rule.Offset.D()+clockOf(rule.At)), Scan: true, At: at})
		if err != nil {
			return true, err
		}
		if got.Refused != "" {
			s.counts["not_enrolled:"+got.Refused]++
			return true, nil
		}
		if got.New {
			s.counts["entered"]++
			if err := s.supersede(ctx, doc, def, an, at); err != nil {
				return true, err
			}
		}
		e := got.Enrollment
		enr = &e
	}
	switch {
	case enr.Status.Final():
		s.counts["done_before"]++
		return true, nil
	case enr.WorkflowID != "":
		// A workflow runs it (an enrollment of a version that was not
		// calendar-runnable).
		s.counts["workflow"]++
		return true, nil
	case enr.Held:
		// Held at its step until the journey resumes; nothing is dropped.
		s.counts["held"]++
		return true, nil
	case enr.Step != "" && def.Index(enr.Step) >= idx[k]:
		s.counts["done_before"]++
		return true, nil
	}
	return true, s.runStep(ctx, def, *enr, step.ID, at, idx[k] == idx[len(idx)-1])
}

// supersede ends the member's other open enrollments of a journey that is
// not yearly when a new one begins: a moved review date, a newer last
// order.
func (s *journeyScan) supersede(ctx context.Context, doc loyalty.MemberDocument, def journey.Definition, an anchor, at time.Time) error {
	rule, _ := triggerRule(def)
	if engine.Yearly(rule.Attribute) {
		return nil
	}
	for _, e := range doc.Enrollments {
		if e.Journey != def.Name || e.Number == an.number || e.Status.Final() {
			continue
		}
		if err := s.a.Enroller.End(ctx, e, "superseded", at); err != nil {
			return fmt.Errorf("supersede %s enrollment %d: %w", e.Journey, e.Number, err)
		}
		s.counts["superseded"]++
	}
	return nil
}

// runStep runs one calendar step through the step executor at its moment
// and records where the enrollment is: held (paused), exited (its goal
// found reached, archived), deferred (a JourneyDeferredStep workflow asks
// again when the contact policy allows), or done, which after the last
// step completes the enrollment.
func (s *journeyScan) runStep(ctx context.Context, def journey.Definition, enr loyalty.Enrollment, stepID string, at time.Time, last bool) error {
	a := s.a
	// Decisions are dated by the step's moment, not the scan's clock, so
	// a rerun writes the same timeline entries; a millisecond apart from
	// the entry (at) and from the end (at + 2ms) they read in order.
	req := StepRequest{MemberID: enr.MemberID, Journey: def.Name, Version: def.Version, Enrollment: enr.Number, Step: stepID, At: at.Add(time.Millisecond), Ref: at}
	res, err := a.Step(ctx, def, req)
	if err != nil {
		return err
	}
	if res.Reward != nil && !res.Reward.Pending && res.Reward.Refused == "" {
		s.counts["rewarded"]++
	}
	end := req
	end.At = at.Add(2 * time.Millisecond)
	if res.Exit != "" {
		s.counts["exited:"+res.Exit]++
		return a.finish(ctx, end, loyalty.EnrollmentExited, res.Exit)
	}
	if err := a.Store.SetEnrollmentStep(ctx, enr.MemberID, def.Name, enr.Number, stepID, engine.Listen(def)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("record step %s of %s/%s/%d: %w", stepID, def.Name, enr.MemberID, enr.Number, err)
	}
	switch {
	case res.Held:
		s.counts["held"]++
		return nil
	case !res.DeferUntil.IsZero():
		s.counts["deferred"]++
		return s.deferStep(ctx, def, req, res.DeferUntil)
	case res.HeldOut:
		s.counts[SkipHeldOut]++
	case res.Send != nil && res.Send.Status == store.SendSent:
		s.counts["sent"]++
	case res.Send != nil && res.Send.Status == store.SendSkipped:
		s.counts[store.SkippedStatsKey(res.Send.Reason)]++
	}
	if last {
		s.counts["completed"]++
		return a.finish(ctx, end, loyalty.EnrollmentCompleted, "completed")
	}
	return nil
}

// deferStep hands a deferred step to its JourneyDeferredStep workflow: a
// scan never waits, and no workflow exists per member unless a step
// actually has to wait. The workflow runs the step again (same key), and
// finishes the enrollment after its last step.
func (s *journeyScan) deferStep(ctx context.Context, def journey.Definition, req StepRequest, until time.Time) error {
	a := s.a
	if a.Workflows == nil {
		return nil
	}
	key := engine.Key(req.MemberID, def.Name, req.Enrollment, req.Step, req.Ref.UTC().Year())
	_, err := a.Workflows.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       JourneyDeferredStepWorkflowID(key),
		TaskQueue:                a.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, JourneyDeferredStepWorkflow, JourneyDeferredStepInput{Request: req, Until: until})
	if err != nil && !isAlreadyStarted(err) {
		return fmt.Errorf("start deferral of %s: %w", key, err)
	}
	return nil
}

// resumeHeld runs the step a pause held a calendar enrollment at, at its
// own moment whatever the window (resume continues members where they
// were); the executor releases the hold. Enrollments a workflow runs are
// resumed by their signal, not here.
func (s *journeyScan) resumeHeld(ctx context.Context, enr loyalty.Enrollment) error {
	if enr.WorkflowID != "" || enr.Step == "" || enr.Status.Final() {
		return nil
	}
	def := s.live.Definition
	if enr.Version != 0 && enr.Version != def.Version {
		var err error
		if def, err = s.a.Journeys.Version(ctx, enr.Journey, enr.Version); err != nil {
			return err
		}
	}
	rule, ok := triggerRule(def)
	idx := sendSteps(def)
	k := slices.Index(idx, def.Index(enr.Step))
	if !ok || !def.CalendarRunnable() || k < 0 {
		return nil
	}
	doc, err := s.a.Ledger.Document(ctx, enr.MemberID, s.a.now())
	if err != nil {
		return err
	}
	midnight, ok := anchorDay(enr.Number, engine.Yearly(rule.Attribute), rule, doc, s.a.Engine.Location(doc.Member))
	if !ok {
		return nil
	}
	s.counts["resumed"]++
	return s.runStep(ctx, def, enr, enr.Step, fromMidnight(midnight, def.StepOffsets()[k]), k == len(idx)-1)
}

// anchorDay is the member-local midnight of the day a calendar
// enrollment's number names (journeys.DayNumber): YYYYMMDD, or the year
// of a yearly date.
func anchorDay(number int, yearly bool, rule journey.DateRule, doc loyalty.MemberDocument, loc *time.Location) (time.Time, bool) {
	if yearly {
		return engine.Occurrence(journey.DateRule{Attribute: rule.Attribute, At: "00:00"}, doc, loc, number)
	}
	d, err := time.ParseInLocation("20060102", strconv.Itoa(number), loc)
	return d, err == nil
}

// enterWorkflow enters a member of a journey that runs as a Journey
// workflow when its trigger moment falls in the window: the workflow's
// steps count from that moment (the anchor).
func (s *journeyScan) enterWorkflow(ctx context.Context, m *found, def journey.Definition, an anchor, enr *loyalty.Enrollment, loc *time.Location) (bool, error) {
	rule, _ := triggerRule(def)
	doc := m.doc
	if !engine.ProfileDate(rule.Attribute) {
		var err error
		if doc, err = m.standing(); err != nil {
			return true, err
		}
	}
	var at time.Time
	var ok bool
	if engine.Yearly(rule.Attribute) {
		at, ok = engine.Occurrence(rule, doc, loc, an.midnight.Year())
	} else {
		at, ok = engine.Moment(rule, doc, loc)
	}
	if !ok || !s.due(at) {
		return false, nil
	}
	if enr != nil && enr.Status.Final() {
		s.counts["done_before"]++
		return true, nil
	}
	if s.live.State.Status == journey.StatusPaused {
		s.counts["paused"]++
		return true, nil
	}
	doc, err := m.standing()
	if err != nil {
		return true, err
	}
	got, err := s.a.Enroller.Enter(ctx, journeys.Entry{Live: s.live, Member: doc, Number: an.number, Anchor: at, At: at})
	if err != nil {
		return true, err
	}
	switch {
	case got.Refused != "":
		s.counts["not_enrolled:"+got.Refused]++
	case got.New:
		s.counts["entered"]++
		return true, s.supersede(ctx, doc, def, an, at)
	default:
		s.counts["done_before"]++
	}
	return true, nil
}

// broadcast enters one member into the occurrence of a broadcast when
// its audience holds for them, paced at the broadcast's rate; the
// member's Journey workflow sleeps until their own local time of day on
// the occurrence's day. A member the audience leaves out is not
// triggered: no timeline entry for each member of the programme.
func (s *journeyScan) broadcast(ctx context.Context, memberID string) error {
	def := s.live.Definition
	b := def.Trigger.Broadcast
	day, err := time.Parse(time.DateOnly, s.req.Plan.Occurrence)
	if err != nil {
		return fmt.Errorf("broadcast occurrence %q: %w", s.req.Plan.Occurrence, err)
	}
	at := s.req.Plan.Start
	doc, err := s.a.Ledger.Document(ctx, memberID, at)
	if err != nil {
		return err
	}
	number := journeys.DayNumber(day, false)
	if e := enrollmentOf(doc, def.Name, number); e != nil && e.Status.Final() {
		s.counts["done_before"]++
		return nil
	}
	ok, _, err := s.a.Engine.Holds(b.Audience, nil, engine.Subject{Member: doc, Now: at})
	if err != nil {
		return err
	}
	if !ok {
		s.counts["audience"]++
		return nil
	}
	loc := s.a.Engine.Location(doc.Member)
	h, mi, err := journey.ParseClock(b.At)
	if err != nil {
		return err
	}
	if !s.a.Unpaced {
		if err := s.limiter.Wait(ctx); err != nil {
			return err
		}
	}
	got, err := s.a.Enroller.Enter(ctx, journeys.Entry{Live: s.live, Member: doc, Number: number,
		Anchor: time.Date(day.Year(), day.Month(), day.Day(), h, mi, 0, 0, loc), At: at})
	if err != nil {
		return err
	}
	switch {
	case got.Refused != "":
		s.counts["not_enrolled:"+got.Refused]++
	case got.New:
		s.counts["entered"]++
	default:
		s.counts["done_before"]++
	}
	return nil
}
