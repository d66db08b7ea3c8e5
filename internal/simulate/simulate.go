// Package simulate runs journeys over a cohort of members in simulated
// time, before they are launched: the engine's own step code (the
// activities' step executor and the journey interpreter, on the in-memory
// store) with every named journey live at once, members behaving by a
// small behaviour model, and a report of what the journeys did.
//
// The driver (Run) owns the clock, the event queue and the enrollments;
// the cohort and behaviour model (Member, Behaviour) decide who the
// members are and what they do; the report (NewReport) reads what the
// engine recorded in the store. This file is the contract between them.
package simulate

import (
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/cost"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// Member is one simulated member: who they are when they register.
type Member struct {
	ID         string
	Registered time.Time
	// Birthday "YYYY-MM-DD" or "" (none given).
	Birthday string
	Timezone string // IANA name or "" (the programme's)
	Tier     string // starting tier code or "" (the programme's first)
	Consent  bool   // email marketing consent
	Email    string // synthetic address, unique per member
}

// Email is one email the engine sent in the simulation.
type Email struct {
	MemberID   string
	Journey    string
	Step       string
	Template   string
	Key        string // the send's idempotency key
	Enrollment int
	At         time.Time
}

// Reaction is what a member does about an email: the provider feedback
// (opened, clicked) and the events the email caused (an order, a trial
// start), each with its OccurredAt set.
type Reaction struct {
	Opened, Clicked bool
	Events          []events.Envelope
}

// Behaviour decides what members do, deterministically for its seed.
type Behaviour interface {
	// Plan returns the events the member causes without any journey's
	// help over [from, to): registration first, then orders (a
	// repeat-buying process with spend per order), trial starts and
	// conversions; sorted by OccurredAt.
	Plan(m Member, from, to time.Time) []events.Envelope
	// OnEmail returns the member's reaction to an email.
	OnEmail(m Member, e Email) Reaction
}

// Progress is reported once per simulated day.
type Progress struct {
	Day, Days int
	Members   int
	Elapsed   time.Duration
}

// Config is one simulation.
type Config struct {
	Program   *loyalty.Program
	Journeys  []journey.Definition // all live at once
	Members   []Member
	Start     time.Time // first simulated instant (the cohort registers from here on)
	Days      int
	Seed      int64
	Behaviour Behaviour
	// Progress, when set, is called after each simulated day.
	Progress func(Progress)
}

// Outcome is what Run leaves: the in-memory store holding everything the
// engine recorded (profiles, ledger, enrollments, timelines, sends), the
// emails in the order they were sent, and the Temporal actions the same
// run would have cost by the engine's accounting.
type Outcome struct {
	Config  Config
	Store   store.Store
	Emails  []Email
	Actions int64
	// ActionKinds is Actions by kind (starts, schedule actions,
	// activities, timers, signals …), as `make cost` counts them.
	ActionKinds cost.Actions
	Elapsed     time.Duration
}
