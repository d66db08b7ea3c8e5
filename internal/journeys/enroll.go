package journeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// Runner starts and signals the interpreter workflows of enrollments;
// workflows.Runner implements it over the Temporal client. Both are
// idempotent: starting a running or finished enrollment's workflow again,
// or signalling one that has ended, is not an error.
type Runner interface {
	StartEnrollment(ctx context.Context, s Start) error
	SignalEnrollment(ctx context.Context, workflowID string, s Signal) error
}

// Start is what an enrollment's workflow starts with.
type Start struct {
	WorkflowID string
	Definition journey.Definition
	MemberID   string
	Enrollment int
	Event      json.RawMessage // the trigger event as recorded; nil for none
	Anchor     time.Time
}

// Signal is what an enrollment is told: an event it listens for (Exit:
// it ends it, with this reason; Goto: the goal's step), or a resume.
type Signal struct {
	Resume bool
	ID     string
	Type   string
	Event  json.RawMessage
	Exit   string
	Goto   string
}

// WorkflowID names the interpreter workflow of one enrollment:
// journey/<name>/<member>/<number> (workflows.JourneyWorkflowID).
func WorkflowID(name, memberID string, number int) string {
	return fmt.Sprintf("journey/%s/%s/%d", name, memberID, number)
}

// Enroller decides and records who enters a journey, and starts their
// enrollment: dispatch for event triggers, the API for api triggers, the
// scans for date, inactivity and broadcast triggers.
type Enroller struct {
	Store  store.Store
	Engine *engine.Engine
	Runner Runner
	Now    func() time.Time
}

func (e *Enroller) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Entry is one candidate for a journey.
type Entry struct {
	Live   Live
	Member loyalty.MemberDocument
	Event  *events.Envelope // the trigger event; nil for none
	// Number names the enrollment; Anchor is the trigger's moment.
	Number int
	Anchor time.Time
	// Scan says the caller (a calendar scan) runs the steps itself when the
	// journey is calendar-runnable: no workflow is started then.
	Scan bool
	// At is the decision time (zero: now). A scan passes the moment of the
	// step it enters the member for, so an hourly rerun in the same window
	// decides the same and records a refusal once.
	At time.Time
}

// Entered is what Enter did.
type Entered struct {
	Enrollment loyalty.Enrollment
	// New says this call enrolled the member; false for a refusal or an
	// enrollment that existed (a redelivered event).
	New bool
	// Refused is why the member did not enter ("" when they did).
	Refused string
	// Values are the inputs that decided a refusal, as on the timeline.
	Values map[string]any
}

// Number is the enrollment number of an entry at trigger moment at: 1 for
// a journey a member enters once, else the moment in seconds — a
// redelivered trigger names the same enrollment.
func Number(def journey.Definition, at time.Time) int {
	if def.Entry.Once {
		return 1
	}
	return int(at.Unix())
}

// DayNumber is a calendar enrollment's number: its anchor day YYYYMMDD
// (the year for a yearly date such as the birthday).
func DayNumber(day time.Time, yearly bool) int {
	if yearly {
		return day.Year()
	}
	n, _ := strconv.Atoi(day.Format("20060102"))
	return n
}

// Enter decides whether the member enters (paused journeys and the entry
// rules refuse, recorded on the timeline with the values that decided),
// records the enrollment with its pinned version, and starts its workflow
// unless a scan runs it.
func (e *Enroller) Enter(ctx context.Context, in Entry) (Entered, error) {
	def := in.Live.Definition
	now := e.now()
	if !in.At.IsZero() {
		now = in.At
	}
	key := fmt.Sprintf("%s#%s#%d#entry", in.Member.ID, def.Name, in.Number)
	refuse := func(reason string, values map[string]any) (Entered, error) {
		err := e.Store.AppendTimeline(ctx, store.TimelineEntry{MemberID: in.Member.ID, Journey: def.Name, Version: def.Version, Enrollment: in.Number,
			Kind: "not_enrolled", Reason: reason, Values: values, At: now, Key: key})
		return Entered{Refused: reason, Values: values}, err
	}
	for _, en := range in.Member.Enrollments {
		if en.Journey == def.Name && en.Number == in.Number {
			// Entered before (a redelivered event, a rerun scan): make sure
			// its workflow runs, and change nothing else. One of the first
			// engine (no version) runs its own workflow.
			// A call that failed after recording it may not have counted
			// it: count it again (once per key) while a retry can still
			// come (a stream record lives 24 hours; a scan reruns its
			// window), with the version it is pinned to.
			if e.now().Sub(en.StartedAt) < recountFor {
				if err := e.countEnrolled(ctx, def, en, key); err != nil {
					return Entered{}, err
				}
			}
			if !en.Status.Final() && en.WorkflowID != "" && en.Version != 0 && !in.Member.Erased() {
				if err := e.start(ctx, in, en); err != nil {
					return Entered{}, err
				}
			}
			return Entered{Enrollment: en}, nil
		}
	}
	if in.Live.State.Status == journey.StatusPaused {
		return refuse("paused", nil)
	}
	// An erased member is messaged and rewarded by no journey again,
	// whatever enters them (an event, a scan, the API); their open
	// enrollments ended with the erasure (ExitErased).
	if in.Member.Erased() {
		return refuse(ExitErased, nil)
	}
	d, err := e.Engine.Entry(def, engine.Subject{Member: in.Member, Event: in.Event, Now: now})
	if err != nil {
		return Entered{}, fmt.Errorf("entry of %s into %s: %w", in.Member.ID, def.Name, err)
	}
	if !d.Enter {
		return refuse(d.Reason, d.Values)
	}
	runs := !(in.Scan && def.CalendarRunnable())
	// The arm is decided once, here, and kept with the enrollment: a later
	// change of the programme's holdout does not move members between arms
	// mid-journey.
	arm := e.Engine.Arm(def, in.Member.ID)
	enr := loyalty.Enrollment{MemberID: in.Member.ID, Journey: def.Name, Number: in.Number, Version: def.Version,
		Status: loyalty.EnrollmentActive, StartedAt: now, Anchor: in.Anchor, Listen: engine.Listen(def), Arm: arm}
	if runs {
		enr.WorkflowID = WorkflowID(def.Name, in.Member.ID, in.Number)
	}
	stored, created, err := e.Store.StartEnrollment(ctx, enr)
	if err != nil {
		return Entered{}, fmt.Errorf("enroll %s into %s: %w", in.Member.ID, def.Name, err)
	}
	if created {
		if err := e.countEnrolled(ctx, def, stored, key); err != nil {
			return Entered{}, err
		}
		values := d.Values
		if arm.HeldOut() {
			values = maps.Clone(values)
			if values == nil {
				values = map[string]any{}
			}
			values["arm"] = string(arm)
		}
		if err := e.Store.AppendTimeline(ctx, store.TimelineEntry{MemberID: in.Member.ID, Journey: def.Name, Version: def.Version, Enrollment: in.Number,
			Kind: "enrolled", Values: values, At: now, Key: key}); err != nil {
			return Entered{}, err
		}
	}
	if runs && !stored.Status.Final() {
		if err := e.start(ctx, in, stored); err != nil {
			return Entered{}, err
		}
	}
	return Entered{Enrollment: stored, New: created}, nil
}

func (e *Enroller) start(ctx context.Context, in Entry, enr loyalty.Enrollment) error {
	def := in.Live.Definition
	if enr.Version != def.Version {
		// Pinned to the version it started on.
		var err error
		if def, err = e.version(ctx, def.Name, enr.Version); err != nil {
			return err
		}
	}
	var raw json.RawMessage
	if in.Event != nil {
		raw = in.Event.Raw
		if len(raw) == 0 {
			b, err := json.Marshal(in.Event)
			if err != nil {
				return err
			}
			raw = b
		}
	}
	return e.Runner.StartEnrollment(ctx, Start{WorkflowID: enr.WorkflowID, Definition: def, MemberID: enr.MemberID,
		Enrollment: enr.Number, Event: raw, Anchor: enr.Anchor})
}

func (e *Enroller) version(ctx context.Context, name string, v int) (journey.Definition, error) {
	jv, err := e.Store.GetJourneyVersion(ctx, name, v)
	if err != nil {
		return journey.Definition{}, fmt.Errorf("journey %s version %d: %w", name, v, err)
	}
	def := jv.Definition
	def.Version = v
	return def, nil
}

// End ends an enrollment that no workflow runs (a calendar one) or tells
// its workflow to: the status, the journey's counters, the timeline.
func (e *Enroller) End(ctx context.Context, enr loyalty.Enrollment, reason string, at time.Time) error {
	if enr.WorkflowID != "" {
		return e.Runner.SignalEnrollment(ctx, enr.WorkflowID, Signal{Exit: reason})
	}
	if err := e.Store.EndEnrollment(ctx, enr.MemberID, enr.Journey, enr.Number, loyalty.EnrollmentExited, reason, at); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	key := fmt.Sprintf("%s#%s#%d", enr.MemberID, enr.Journey, enr.Number)
	if err := e.Store.CountJourney(ctx, enr.Journey, enr.MemberID, key+"#ended", map[string]int64{store.CountEnded: 1, store.CountExited(reason): 1}); err != nil {
		return err
	}
	return e.Store.AppendTimeline(ctx, store.TimelineEntry{MemberID: enr.MemberID, Journey: enr.Journey, Version: enr.Version, Enrollment: enr.Number,
		Kind: "exited", Reason: reason, At: at, Key: key + "#" + enr.Step})
}

// Event tells the member's open enrollments about an event they listen
// for: exits end them (directly for calendar enrollments), a goal is
// recorded once and sent on (exit or goto), waits are told. Enrollments of
// the first engine (no version) are left to the caller.
func (e *Enroller) Event(ctx context.Context, versions func(ctx context.Context, name string, v int) (journey.Definition, error), doc loyalty.MemberDocument, ev *events.Envelope) error {
	typ := string(ev.Type)
	now := e.now()
	for _, enr := range doc.Enrollments {
		if enr.Status.Final() || enr.Version == 0 || !contains(enr.Listen, typ) {
			continue
		}
		// A trigger's own moment and what came before it are not news to
		// the enrollment (a late webhook of an older order).
		if !enr.Anchor.IsZero() && !ev.OccurredAt.After(enr.Anchor) {
			continue
		}
		def, err := versions(ctx, enr.Journey, enr.Version)
		if err != nil {
			return err
		}
		m, err := e.Engine.MatchEvent(def, enr.StartedAt, engine.Subject{Member: doc, Event: ev, Now: now})
		if err != nil {
			return fmt.Errorf("%s of %s: %w", enr.Journey, enr.MemberID, err)
		}
		key := fmt.Sprintf("%s#%s#%d", enr.MemberID, enr.Journey, enr.Number)
		if m.Goal {
			if err := e.Store.CountJourney(ctx, enr.Journey, enr.MemberID, key+"#goal", map[string]int64{store.CountGoal: 1}); err != nil {
				return err
			}
			if err := e.Store.AppendTimeline(ctx, store.TimelineEntry{MemberID: enr.MemberID, Journey: enr.Journey, Version: enr.Version,
				Enrollment: enr.Number, Kind: "goal_reached", Reason: typ, Values: m.Values, At: now, Key: key + "#goal"}); err != nil {
				return err
			}
		}
		raw := ev.Raw
		if len(raw) == 0 {
			if raw, err = json.Marshal(ev); err != nil {
				return err
			}
		}
		sig := Signal{ID: ev.ID, Type: typ, Event: raw}
		switch {
		case m.Exit == "goal":
			sig.Exit = "converted"
		case m.Exit != "":
			sig.Exit = m.Exit
		case m.Goal && def.Goal.Goto != "":
			sig.Goto = def.Goal.Goto
		case !m.Wait:
			continue
		}
		if enr.WorkflowID == "" {
			if sig.Exit != "" {
				if err := e.End(ctx, enr, sig.Exit, now); err != nil {
					return err
				}
			}
			continue
		}
		if err := e.Runner.SignalEnrollment(ctx, enr.WorkflowID, sig); err != nil {
			return err
		}
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// recountFor is how long after an enrollment started a repeat of its
// entry counts it again (countEnrolled): longer than any retry of the
// call that recorded it takes to come.
const recountFor = 24 * time.Hour

// countEnrolled counts an enrollment in the journey's counters and its
// lift cohorts (with what the member's account already holds that is
// news to it), each once per key: the call that recorded the enrollment
// and any retry of it count it once between them. def is the live
// version; the enrollment's own version decides its cohorts.
func (e *Enroller) countEnrolled(ctx context.Context, def journey.Definition, enr loyalty.Enrollment, key string) error {
	if err := e.Store.CountJourney(ctx, def.Name, enr.MemberID, key, map[string]int64{store.CountEnrolled: 1}); err != nil {
		return err
	}
	if enr.Arm == "" || enr.Version == 0 {
		return nil // no cohort (Lift)
	}
	if enr.Version != def.Version {
		v, err := e.Store.GetJourneyVersion(ctx, def.Name, enr.Version)
		if err != nil {
			return fmt.Errorf("journey %s version %d: %w", def.Name, enr.Version, err)
		}
		def = v.Definition
		def.Version = enr.Version
	}
	acc, err := e.Store.GetAccount(ctx, enr.MemberID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("account of %s: %w", enr.MemberID, err)
	}
	return e.Lift().Enrolled(ctx, def, enr, acc)
}
