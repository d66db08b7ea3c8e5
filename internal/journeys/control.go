package journeys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// DefaultPage is how many enrollments Control reads per page while it
// resumes or archives a journey.
const DefaultPage = 200

// Exit reasons Control gives the enrollments it ends.
const (
	ExitArchived = "archived"
	ExitRemoved  = "removed"
	// ExitErased ends the enrollments of a member who was erased.
	ExitErased = "erased"
)

// Control is what a marketer does to journeys through the HTTP API:
// validate, save drafts, publish, pause, resume, archive, enrol and remove
// members, and read journeys and their versions. Its errors are
// *loyalty.Error (ENotFound, EConflict, EInvalid) for httpx, or a
// *journey.ValidationError for a definition that does not validate.
type Control struct {
	Journeys *Service
	Enroller *Enroller
	Store    store.Store
	// Ledger reads the member document an api entry decides on.
	Ledger *ledger.Service
	Now    func() time.Time // nil: time.Now
	// Page is how many enrollments are read at once (default DefaultPage).
	Page int
}

func (c *Control) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// runs checks that enrollments can be started and told: a deployment
// that built the Control without a Runner answers with an error before
// it changes anything, instead of failing half-way.
func (c *Control) runs() error {
	if c.Enroller == nil || c.Enroller.Runner == nil {
		return errors.New("journeys control: no enrollment Runner is configured in this deployment")
	}
	return nil
}

func (c *Control) page() int {
	if c.Page > 0 {
		return c.Page
	}
	return DefaultPage
}

// Summary is one journey in a listing: its state (without the draft's
// source) and its enrollment counts.
type Summary struct {
	Name         string         `json:"name"`
	Status       journey.Status `json:"status"`
	Live         int            `json:"live"`
	Latest       int            `json:"latest"`
	HasDraft     bool           `json:"has_draft"`
	DraftSavedAt time.Time      `json:"draft_saved_at,omitzero"`
	UpdatedAt    time.Time      `json:"updated_at"`
	Enrolled     int64          `json:"enrolled"`
	Active       int64          `json:"active"`
	GoalReached  int64          `json:"goal_reached"`
}

func summary(st store.JourneyState, counters map[string]int64) Summary {
	return Summary{Name: st.Name, Status: st.Status, Live: st.Live, Latest: st.Latest, HasDraft: st.Draft != "",
		DraftSavedAt: st.DraftSavedAt, UpdatedAt: st.UpdatedAt,
		Enrolled: counters[store.CountEnrolled], Active: store.JourneyActive(counters), GoalReached: counters[store.CountGoal]}
}

// List is every journey the store knows, by name, with its counts.
func (c *Control) List(ctx context.Context) ([]Summary, error) {
	states, err := c.Store.ListJourneys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list journeys: %w", err)
	}
	out := make([]Summary, 0, len(states))
	for _, st := range states {
		counters, err := c.Store.JourneyCounters(ctx, st.Name)
		if err != nil {
			return nil, fmt.Errorf("counters of journey %s: %w", st.Name, err)
		}
		out = append(out, summary(st, counters))
	}
	return out, nil
}

// Detail is one journey: its summary, the draft's source, every version
// (newest first, without sources) and the live version's definition and
// source.
type Detail struct {
	Summary
	Draft    string        `json:"draft,omitempty"`
	Versions []VersionInfo `json:"versions"`
	// Definition and Source are the live version's (absent before the
	// first publish).
	Definition *journey.Definition `json:"definition,omitempty"`
	Source     string              `json:"source,omitempty"`
}

// VersionInfo is one published version in Detail: when and by whom (the
// versions endpoint serves its definition and source).
type VersionInfo struct {
	Version     int       `json:"version"`
	PublishedAt time.Time `json:"published_at"`
	PublishedBy string    `json:"published_by,omitempty"`
}

// Get reads one journey.
func (c *Control) Get(ctx context.Context, name string) (Detail, error) {
	st, err := c.state(ctx, name)
	if err != nil {
		return Detail{}, err
	}
	counters, err := c.Store.JourneyCounters(ctx, name)
	if err != nil {
		return Detail{}, fmt.Errorf("counters of journey %s: %w", name, err)
	}
	vs, err := c.Store.ListJourneyVersions(ctx, name)
	if err != nil {
		return Detail{}, fmt.Errorf("versions of journey %s: %w", name, err)
	}
	d := Detail{Summary: summary(st, counters), Draft: st.Draft, Versions: make([]VersionInfo, 0, len(vs))}
	for _, v := range vs {
		d.Versions = append(d.Versions, VersionInfo{Version: v.Version, PublishedAt: v.PublishedAt, PublishedBy: v.PublishedBy})
	}
	if st.Live > 0 {
		v, err := c.Version(ctx, name, st.Live)
		if err != nil {
			return Detail{}, err
		}
		d.Definition, d.Source = &v.Definition, v.Source
	}
	return d, nil
}

// Version reads one published version with its source.
func (c *Control) Version(ctx context.Context, name string, version int) (store.JourneyVersion, error) {
	v, err := c.Store.GetJourneyVersion(ctx, name, version)
	if errors.Is(err, store.ErrNotFound) {
		if _, serr := c.state(ctx, name); serr != nil {
			return store.JourneyVersion{}, serr
		}
		return store.JourneyVersion{}, loyalty.Errorf(loyalty.ENotFound, "journey %s has no version %d", name, version)
	}
	if err != nil {
		return store.JourneyVersion{}, fmt.Errorf("read journey %s version %d: %w", name, version, err)
	}
	return v, nil
}

// state reads a journey's state; ENotFound names the journey.
func (c *Control) state(ctx context.Context, name string) (store.JourneyState, error) {
	st, err := c.Store.GetJourney(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return st, loyalty.Errorf(loyalty.ENotFound, "journey %s not found", name)
	}
	if err != nil {
		return st, fmt.Errorf("read journey %s: %w", name, err)
	}
	return st, nil
}

// SaveDraft validates src and saves it as the draft of journey name (the
// name it carries must be name); it does not go live. A draft that does
// not validate writes nothing.
func (c *Control) SaveDraft(ctx context.Context, name string, src []byte) (store.JourneyState, error) {
	def, err := c.Journeys.Validate(src)
	if err != nil {
		return store.JourneyState{}, err
	}
	if def.Name != name {
		return store.JourneyState{}, loyalty.Errorf(loyalty.EInvalid, "name: is %q in the definition, must be %q like the path", def.Name, name)
	}
	if err := c.Store.SaveJourneyDraft(ctx, name, string(src), c.now()); err != nil {
		return store.JourneyState{}, fmt.Errorf("save draft of journey %s: %w", name, err)
	}
	return c.state(ctx, name)
}

// PublishDraft publishes the journey's saved draft; by is who publishes.
func (c *Control) PublishDraft(ctx context.Context, name, by string) (Published, error) {
	st, err := c.state(ctx, name)
	if err != nil {
		return Published{}, err
	}
	if st.Draft == "" {
		return Published{}, loyalty.Errorf(loyalty.ENotFound, "journey %s has no saved draft to publish", name)
	}
	return c.Journeys.Publish(ctx, []byte(st.Draft), by)
}

// Changed is the outcome of a pause, resume or archive: the journey's
// status after it and how many enrollments it concerned.
type Changed struct {
	Name   string         `json:"name"`
	Status journey.Status `json:"status"`
	// InFlight (pause) is how many enrollments are active: each is held
	// before its next send or reward.
	InFlight int64 `json:"in_flight"`
	// Resumed (resume) is how many held enrollments were told to go on.
	Resumed int `json:"resumed"`
	// Ended (archive) is how many active enrollments were ended.
	Ended int `json:"ended"`
}

// Pause stops a live journey taking members; the step executor holds
// the members in flight before their next send or reward.
func (c *Control) Pause(ctx context.Context, name string) (Changed, error) {
	st, err := c.Journeys.Status(ctx, name, []journey.Status{journey.StatusLive}, journey.StatusPaused)
	if err != nil {
		return Changed{}, err
	}
	counters, err := c.Store.JourneyCounters(ctx, name)
	if err != nil {
		return Changed{}, fmt.Errorf("counters of journey %s: %w", name, err)
	}
	return Changed{Name: name, Status: st.Status, InFlight: store.JourneyActive(counters)}, nil
}

// Resume makes a paused journey live again and tells every held
// enrollment's workflow to go on where it was. Held calendar enrollments
// (no workflow) need nothing: the next scan runs them.
func (c *Control) Resume(ctx context.Context, name string) (Changed, error) {
	if err := c.runs(); err != nil {
		return Changed{}, err
	}
	st, err := c.Journeys.Status(ctx, name, []journey.Status{journey.StatusPaused}, journey.StatusLive)
	if err != nil {
		return Changed{}, err
	}
	out := Changed{Name: name, Status: st.Status}
	err = c.each(ctx, name, c.Store.ListHeldEnrollments, func(enr loyalty.Enrollment) (bool, error) {
		if enr.WorkflowID == "" {
			return false, nil
		}
		if err := c.Enroller.Runner.SignalEnrollment(ctx, enr.WorkflowID, Signal{Resume: true}); err != nil {
			return false, fmt.Errorf("resume %s: %w", enr.WorkflowID, err)
		}
		return true, nil
	}, &out.Resumed)
	return out, err
}

// Archive ends a journey: it takes no members any more and every active
// enrollment ends with reason "archived". Archiving a journey that is
// archived already is a conflict; enrollments it missed (the listing
// is eventually consistent) end at their next send or reward.
func (c *Control) Archive(ctx context.Context, name string) (Changed, error) {
	if err := c.runs(); err != nil {
		return Changed{}, err
	}
	st, err := c.Journeys.Status(ctx, name, []journey.Status{journey.StatusLive, journey.StatusPaused, journey.StatusDraft}, journey.StatusArchived)
	if err != nil {
		return Changed{}, err
	}
	out := Changed{Name: name, Status: st.Status}
	now := c.now()
	err = c.each(ctx, name, c.Store.ListActiveEnrollments, func(enr loyalty.Enrollment) (bool, error) {
		if err := c.Enroller.End(ctx, enr, ExitArchived, now); err != nil {
			return false, fmt.Errorf("end %s of %s: %w", name, enr.MemberID, err)
		}
		return true, nil
	}, &out.Ended)
	return out, err
}

// each pages through list and applies do to every enrollment, counting
// those it acted on in n. An enrollment gone meanwhile (NotFound) is
// passed over; any other error stops, with n counting what was done.
func (c *Control) each(ctx context.Context, name string, list func(ctx context.Context, journey, after string, limit int) ([]loyalty.Enrollment, string, error),
	do func(loyalty.Enrollment) (bool, error), n *int) error {
	after := ""
	for {
		page, next, err := list(ctx, name, after, c.page())
		if err != nil {
			return fmt.Errorf("list enrollments of journey %s: %w", name, err)
		}
		for _, enr := range page {
			acted, err := do(enr)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if acted {
				*n++
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// Enrolled is the outcome of an api entry.
type Enrolled struct {
	Journey  string `json:"journey"`
	MemberID string `json:"member_id"`
	// Enrolled says this request enrolled the member.
	Enrolled bool `json:"enrolled"`
	// Enrollment is the new enrollment, or the one the member is in
	// already under the same number.
	Enrollment *loyalty.Enrollment `json:"enrollment,omitempty"`
	// Refused is why the member did not enter: once, cooldown, audience,
	// paused (as on the timeline), or already_enrolled.
	Refused string `json:"refused,omitempty"`
	// Values are the inputs that decided (a CEL expression → its value).
	Values map[string]any `json:"values,omitempty"`
}

// RefusedAlreadyEnrolled is Enrolled.Refused for a member who is in the
// enrollment the request names already (a once journey, or a repeat
// within the same second).
const RefusedAlreadyEnrolled = "already_enrolled"

// EnrollAPI enters a member into a journey with an api trigger, now. The
// entry rules decide as for any trigger; a refusal is an answer (and a
// timeline entry), not an error.
func (c *Control) EnrollAPI(ctx context.Context, name, memberID string) (Enrolled, error) {
	if err := c.runs(); err != nil {
		return Enrolled{}, err
	}
	st, err := c.state(ctx, name)
	if err != nil {
		return Enrolled{}, err
	}
	if st.Live == 0 || (st.Status != journey.StatusLive && st.Status != journey.StatusPaused) {
		return Enrolled{}, loyalty.Errorf(loyalty.EConflict, "journey %s is %s: only a live journey takes members", name, st.Status)
	}
	def, err := c.Journeys.Version(ctx, name, st.Live)
	if err != nil {
		return Enrolled{}, err
	}
	if k := def.Trigger.Kind(); k != journey.TriggerAPI {
		return Enrolled{}, loyalty.Errorf(loyalty.EConflict, "journey %s is triggered by %s, not api: members enter it by its trigger only", name, k)
	}
	now := c.now()
	doc, err := c.Ledger.Document(ctx, memberID, now)
	if err != nil {
		return Enrolled{}, fmt.Errorf("read member %s: %w", memberID, err)
	}
	if doc.Member.Version == 0 {
		return Enrolled{}, loyalty.Errorf(loyalty.ENotFound, "member %s not found", memberID)
	}
	in, err := c.Enroller.Enter(ctx, Entry{Live: Live{State: st, Definition: def}, Member: doc, Number: Number(def, now), Anchor: now})
	if err != nil {
		return Enrolled{}, err
	}
	out := Enrolled{Journey: name, MemberID: memberID, Enrolled: in.New, Refused: in.Refused, Values: in.Values}
	if in.Refused == "" {
		enr := in.Enrollment
		out.Enrollment = &enr
		if !in.New {
			out.Refused = RefusedAlreadyEnrolled
		}
	}
	return out, nil
}

// Removed is the outcome of Remove.
type Removed struct {
	Journey  string `json:"journey"`
	MemberID string `json:"member_id"`
	// Ended are the enrollments told to end (reason "removed").
	Ended []loyalty.Enrollment `json:"ended"`
}

// Remove ends the member's open enrollments in the journey now, with
// reason "removed"; ENotFound when there are none.
func (c *Control) Remove(ctx context.Context, name, memberID string) (Removed, error) {
	if err := c.runs(); err != nil {
		return Removed{}, err
	}
	if _, err := c.state(ctx, name); err != nil {
		return Removed{}, err
	}
	enrs, err := c.Store.ListEnrollments(ctx, memberID)
	if err != nil {
		return Removed{}, fmt.Errorf("read enrollments of %s: %w", memberID, err)
	}
	out := Removed{Journey: name, MemberID: memberID, Ended: []loyalty.Enrollment{}}
	now := c.now()
	for _, enr := range enrs {
		if enr.Journey != name || enr.Status.Final() {
			continue
		}
		if err := c.Enroller.End(ctx, enr, ExitRemoved, now); err != nil {
			return out, fmt.Errorf("remove %s from %s: %w", memberID, name, err)
		}
		out.Ended = append(out.Ended, enr)
	}
	if len(out.Ended) == 0 {
		return out, loyalty.Errorf(loyalty.ENotFound, "member %s has no open enrollment in journey %s", memberID, name)
	}
	return out, nil
}

// EndMember ends every open enrollment of the member, in any journey, now
// and with reason (ExitErased for an erasure), the way Remove ends one
// journey's: a running workflow is told to exit, so it stops at its
// next step and records the exit itself; an enrollment no workflow runs
// is ended here. It returns the enrollments it ended; none is not an
// error. Without a Runner in this deployment, a member with open
// enrollments is refused before any is ended.
func (c *Control) EndMember(ctx context.Context, memberID, reason string) ([]loyalty.Enrollment, error) {
	enrs, err := c.Store.ListEnrollments(ctx, memberID)
	if err != nil {
		return nil, fmt.Errorf("read enrollments of %s: %w", memberID, err)
	}
	var open []loyalty.Enrollment
	for _, enr := range enrs {
		if !enr.Status.Final() {
			open = append(open, enr)
		}
	}
	if len(open) > 0 {
		if err := c.runs(); err != nil {
			return nil, err
		}
	}
	ended := []loyalty.Enrollment{}
	now := c.now()
	for _, enr := range open {
		if err := c.Enroller.End(ctx, enr, reason, now); err != nil {
			return ended, fmt.Errorf("end %s of %s: %w", enr.Journey, memberID, err)
		}
		ended = append(ended, enr)
	}
	return ended, nil
}
