package loyalty

import (
	"slices"
	"time"
)

// Member is the projection of one member built from their recorded events:
// who they are, how to reach them and whether they may be marketed to.
type Member struct {
	ID       string `json:"id"`
	Email    string `json:"email,omitempty"`
	Name     string `json:"name,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Birthday string `json:"birthday,omitempty"` // YYYY-MM-DD
	// BirthdaySetAt is when the birthday was first given or last changed:
	// a birthday changed shortly before it does not earn that year's gift.
	BirthdaySetAt time.Time `json:"birthday_set_at,omitzero"`
	Timezone      string    `json:"timezone,omitempty"` // IANA name
	Locale        string    `json:"locale,omitempty"`
	ReferralCode  string    `json:"referral_code,omitempty"`
	Consent       Consent   `json:"consent"`
	RegisteredAt  time.Time `json:"registered_at,omitzero"`
	// LastOrderAt is the occurred_at of the newest order.paid seen.
	LastOrderAt time.Time `json:"last_order_at,omitzero"`
	// OrderCount counts order.paid events applied to the projection.
	OrderCount int `json:"order_count"`
	// UpdatedAt is the occurred_at of the newest event applied.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Attributes are the member's custom attributes, set by journeys'
	// update steps (JSON values: strings, numbers, booleans, lists,
	// objects; numbers read back as float64).
	Attributes map[string]any `json:"attributes,omitempty"`
	// Tags are the member's tags, added and removed by update steps, in
	// the order they were added.
	Tags []string `json:"tags,omitempty"`
	// ErasedAt is when the member's personal data was erased (DELETE
	// /v1/members/{id}); zero when it never was. It is the erased mark:
	// Project never writes personal data onto an erased profile again,
	// dispatch stores their later events redacted, and journeys enter
	// them no more. Their orders still count in the ledger, under the
	// member id as the pseudonym.
	ErasedAt time.Time `json:"erased_at,omitzero"`
	// Scores are the member's customer-base scores (rfm, p_alive,
	// expected_orders_90d, clv_12m, analytics), written by the nightly
	// analytics refresh; nil (and absent from the JSON) until a refresh
	// scores the member. Embedded so the document reads member.rfm.segment.
	*Scores
	// Version increases by one with every applied event and every change
	// of the scores; stores use it for optimistic concurrency.
	Version int64 `json:"-"`
}

// Erased reports whether the member's personal data was erased.
func (m Member) Erased() bool { return !m.ErasedAt.IsZero() }

// WithoutPersonalData is m without email, name, phone and birthday: what
// Project leaves of an event's personal values on an erased profile.
func (m Member) WithoutPersonalData() Member {
	m.Email, m.Name, m.Phone, m.Birthday = "", "", "", ""
	m.BirthdaySetAt = time.Time{}
	return m
}

// Consent records what the member agreed to be contacted about.
type Consent struct {
	EmailMarketing bool      `json:"email_marketing"`
	UpdatedAt      time.Time `json:"updated_at,omitzero"`
	// UnsubscribedGroups are the email groups (SendGrid ASM groups, by
	// memberflow name) the member left while keeping the others.
	UnsubscribedGroups []string `json:"unsubscribed_groups,omitempty"`
}

// MayEmail reports whether the member may get marketing email of the group:
// consent given and that group not left.
func (c Consent) MayEmail(group string) bool {
	return c.EmailMarketing && !slices.Contains(c.UnsubscribedGroups, group)
}

// EnrollmentStatus is where an enrollment is in its journey.
type EnrollmentStatus string

// Enrollment statuses. Active enrollments may receive signals; the others
// are final.
const (
	EnrollmentActive    EnrollmentStatus = "active"
	EnrollmentCompleted EnrollmentStatus = "completed" // ran to its end
	EnrollmentExited    EnrollmentStatus = "exited"    // left early on its goal
)

// Final reports whether no more steps will run for the enrollment.
func (s EnrollmentStatus) Final() bool { return s == EnrollmentCompleted || s == EnrollmentExited }

// Enrollment is one member's pass through one journey. Number counts the
// member's enrollments in that journey, starting at 1, so the triple
// (member, journey, number) names it for ever.
type Enrollment struct {
	MemberID   string           `json:"member_id"`
	Journey    string           `json:"journey"`
	Number     int              `json:"number"`
	WorkflowID string           `json:"workflow_id"`
	Status     EnrollmentStatus `json:"status"`
	Reason     string           `json:"reason,omitempty"` // why it ended
	StartedAt  time.Time        `json:"started_at"`
	EndedAt    time.Time        `json:"ended_at,omitzero"`
	// Definition is the journey definition pinned at enrollment (JSON),
	// for journeys whose later steps are run by a calendar scan rather
	// than by the enrollment's own workflow input: a marketer's edit
	// changes new enrollments only.
	Definition string `json:"definition,omitempty"`
	// Version is the published journey version the enrollment is pinned
	// to (0: one of the engine's older enrollments, pinned by Definition
	// or its workflow's input).
	Version int `json:"version,omitempty"`
	// Listen are the event types dispatch signals the enrollment for: its
	// journey's goal and exits and the events of the wait it is in.
	Listen []string `json:"listen,omitempty"`
	// Held is set while the journey is paused and the enrollment waits,
	// before its next send or reward, to be resumed.
	Held bool `json:"held,omitempty"`
	// Anchor is the trigger moment the enrollment's delays and goal
	// window count from.
	Anchor time.Time `json:"anchor,omitzero"`
	// Step is the last step the enrollment reached; informative (the
	// workflow's state is what runs).
	Step string `json:"step,omitempty"`
	// Arm is the enrollment's group for the journey's lift, decided once
	// at enrollment: treated, or held out (decided like the others, sent
	// and given nothing). Empty on enrollments recorded before holdouts
	// existed: they run as treated and take no part in lift.
	Arm Arm `json:"arm,omitempty"`
}

// Arm is the group an enrollment is in for its journey's lift.
type Arm string

// Arms. ArmHoldout is the journey's own holdout; ArmProgrammeHoldout the
// programme-wide one, whose members get nothing from any journey.
const (
	ArmTreated          Arm = "treated"
	ArmHoldout          Arm = "holdout"
	ArmProgrammeHoldout Arm = "programme_holdout"
)

// HeldOut reports whether the arm gets no sends and no rewards.
func (a Arm) HeldOut() bool { return a == ArmHoldout || a == ArmProgrammeHoldout }

// MemberDocument is everything memberflow holds about a member as one
// document: the projection, the standing in the programme as of now and
// the enrollments. It is GET /v1/members/{id}, and the `member` every
// journey condition reads.
type MemberDocument struct {
	Member
	View
	Enrollments []Enrollment `json:"enrollments"`
}
