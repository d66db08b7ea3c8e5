// Package journey is the journey language: a journey is data — a trigger,
// entry rules, a goal, exits, a priority and steps (send, reward, delay,
// wait, branch, split, update, webhook, end) with ids and goto — read from
// YAML or JSON strictly, validated against the programme, the email
// catalog and CEL type-checks, and run by one interpreter (workflows) and
// one step executor (activities) on every path: event-triggered workflows,
// calendar scans and the simulator. It imports neither AWS, Temporal nor
// SendGrid.
//
// Definitions are published as immutable versions; every enrollment is
// pinned to the version it started on.
package journey

import (
	"time"

	"github.com/shopspring/decimal"
)

// End is the goto target that ends the enrollment.
const End = "end"

// Status is where a journey is in its life.
type Status string

// Journey statuses. A draft is saved but never ran; live takes entries;
// paused takes none and holds in-flight members before their next send or
// reward; archived has ended every enrollment and takes none.
const (
	StatusDraft    Status = "draft"
	StatusLive     Status = "live"
	StatusPaused   Status = "paused"
	StatusArchived Status = "archived"
)

// Definition is one journey as a marketer writes it.
type Definition struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Priority orders emails waiting for the contact policy's slots:
	// higher goes first (0..100).
	Priority int `json:"priority" yaml:"priority"`
	// Holdout is the share of members held out (0..50%): they are decided
	// like the others but get no sends and no rewards.
	Holdout Percent `json:"holdout,omitempty" yaml:"holdout,omitempty"`
	Trigger Trigger `json:"trigger" yaml:"trigger"`
	Entry   Entry   `json:"entry,omitempty" yaml:"entry,omitempty"`
	Goal    *Goal   `json:"goal,omitempty" yaml:"goal,omitempty"`
	// Exit lists events that end an enrollment at once, even mid-delay.
	Exit  []ExitRule `json:"exit,omitempty" yaml:"exit,omitempty"`
	Steps []Step     `json:"steps" yaml:"steps"`

	// Version is set when the definition is published (1, 2, …); the file
	// or request body does not carry it.
	Version int `json:"version,omitempty" yaml:"-"`
}

// Trigger says how members enter: exactly one of its fields is set.
type Trigger struct {
	// Event enters on an event of this type, when When holds.
	Event string `json:"event,omitempty" yaml:"event,omitempty"`
	When  string `json:"when,omitempty" yaml:"when,omitempty"`
	// Date enters on a member date (± offset) at a member-local time.
	Date *DateRule `json:"date,omitempty" yaml:"date,omitempty"`
	// Inactivity enters when a member had no event of a type for a while.
	Inactivity *Inactivity `json:"inactivity,omitempty" yaml:"inactivity,omitempty"`
	// API enters members enrolled by HTTP.
	API *APITrigger `json:"api,omitempty" yaml:"api,omitempty"`
	// Broadcast enters every member matching an audience, once or
	// recurring.
	Broadcast *Broadcast `json:"broadcast,omitempty" yaml:"broadcast,omitempty"`
}

// TriggerKind names the kind of a trigger.
type TriggerKind string

// Trigger kinds.
const (
	TriggerEvent      TriggerKind = "event"
	TriggerDate       TriggerKind = "date"
	TriggerInactivity TriggerKind = "inactivity"
	TriggerAPI        TriggerKind = "api"
	TriggerBroadcast  TriggerKind = "broadcast"
)

// Kind is the trigger's kind ("" when none or several are set, which
// validation reports).
func (t Trigger) Kind() TriggerKind {
	var kinds []TriggerKind
	if t.Event != "" {
		kinds = append(kinds, TriggerEvent)
	}
	if t.Date != nil {
		kinds = append(kinds, TriggerDate)
	}
	if t.Inactivity != nil {
		kinds = append(kinds, TriggerInactivity)
	}
	if t.API != nil {
		kinds = append(kinds, TriggerAPI)
	}
	if t.Broadcast != nil {
		kinds = append(kinds, TriggerBroadcast)
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// DateRule is a moment derived from a member date: the date of Attribute
// plus Offset, at the member-local time of day At ("HH:MM"; default
// "10:00"), in the member's zone (the programme's when unknown).
type DateRule struct {
	// Attribute is birthday (yearly), tier_review_on, trial_ends_on,
	// registered_at, last_order_at, or a custom date attribute.
	Attribute string   `json:"attribute" yaml:"attribute"`
	Offset    Duration `json:"offset,omitempty" yaml:"offset,omitempty"`
	At        string   `json:"at,omitempty" yaml:"at,omitempty"`
}

// Inactivity enters a member whose newest event of Event is For ago.
type Inactivity struct {
	Event string   `json:"event" yaml:"event"`
	For   Duration `json:"for" yaml:"for"`
	// At is the member-local time of day entries happen ("HH:MM";
	// default "10:00").
	At string `json:"at,omitempty" yaml:"at,omitempty"`
}

// APITrigger enters members enrolled through POST
// /v1/journeys/{name}/enrollments.
type APITrigger struct{}

// Broadcast enters every member the audience matches at At (member-local
// time of day) on the days Every says, paced at Rate entries a second.
type Broadcast struct {
	Audience string `json:"audience,omitempty" yaml:"audience,omitempty"`
	At       string `json:"at" yaml:"at"`
	// Every is once (on Date), day, week (on Weekday) or month (on Day).
	Every   string `json:"every" yaml:"every"`
	Date    string `json:"date,omitempty" yaml:"date,omitempty"`       // YYYY-MM-DD, with every: once
	Day     int    `json:"day,omitempty" yaml:"day,omitempty"`         // 1..28, with every: month
	Weekday string `json:"weekday,omitempty" yaml:"weekday,omitempty"` // monday.., with every: week
	Rate    int    `json:"rate,omitempty" yaml:"rate,omitempty"`       // entries a second (default 50)
}

// Entry decides whether a triggered member enters.
type Entry struct {
	// Audience is a CEL condition over the member.
	Audience string `json:"audience,omitempty" yaml:"audience,omitempty"`
	// Once allows at most one enrollment ever per member.
	Once bool `json:"once,omitempty" yaml:"once,omitempty"`
	// Cooldown refuses a new enrollment within this long of the start of
	// the member's previous one.
	Cooldown Duration `json:"cooldown,omitempty" yaml:"cooldown,omitempty"`
}

// Goal is the conversion the journey is for: recorded when reached, and
// with Exit the enrollment ends at once.
type Goal struct {
	Event string `json:"event,omitempty" yaml:"event,omitempty"`
	When  string `json:"when,omitempty" yaml:"when,omitempty"`
	// Check is a CEL condition over the member that also counts as the
	// goal when it holds before a send or a reward (an event whose signal
	// was missed, an order that came before the enrollment).
	Check string `json:"check,omitempty" yaml:"check,omitempty"`
	// Within bounds how long after enrollment the goal counts (0: while
	// enrolled).
	Within Duration `json:"within,omitempty" yaml:"within,omitempty"`
	Exit   bool     `json:"exit,omitempty" yaml:"exit,omitempty"`
	// Goto, instead of Exit, sends the member to this step when the goal
	// is reached (once): a thank-you for the conversion, wherever the
	// member was in the journey. Check is not asked before that step.
	Goto string `json:"goto,omitempty" yaml:"goto,omitempty"`
}

// ExitRule ends an enrollment at once on an event.
type ExitRule struct {
	Event string `json:"event" yaml:"event"`
	When  string `json:"when,omitempty" yaml:"when,omitempty"`
}

// Step is one step. Exactly one kind is set, except that Send and Reward
// may share a step.
type Step struct {
	ID      string   `json:"id" yaml:"id"`
	Send    *Send    `json:"send,omitempty" yaml:"send,omitempty"`
	Reward  *Reward  `json:"reward,omitempty" yaml:"reward,omitempty"`
	Delay   *Delay   `json:"delay,omitempty" yaml:"delay,omitempty"`
	Wait    *Wait    `json:"wait,omitempty" yaml:"wait,omitempty"`
	Branch  []Case   `json:"branch,omitempty" yaml:"branch,omitempty"`
	Split   []Path   `json:"split,omitempty" yaml:"split,omitempty"`
	Update  *Update  `json:"update,omitempty" yaml:"update,omitempty"`
	Webhook *Webhook `json:"webhook,omitempty" yaml:"webhook,omitempty"`
	End     *EndStep `json:"end,omitempty" yaml:"end,omitempty"`
	Expires Duration `json:"expires,omitempty" yaml:"expires,omitempty"`
	Goto    string   `json:"goto,omitempty" yaml:"goto,omitempty"`
}

// StepKind names what a step does.
type StepKind string

// Step kinds. A step with both a send and a reward is KindSend (the
// reward is granted first).
const (
	KindSend    StepKind = "send"
	KindReward  StepKind = "reward"
	KindDelay   StepKind = "delay"
	KindWait    StepKind = "wait"
	KindBranch  StepKind = "branch"
	KindSplit   StepKind = "split"
	KindUpdate  StepKind = "update"
	KindWebhook StepKind = "webhook"
	KindEnd     StepKind = "end"
)

// Kind is the step's kind ("" when none or a forbidden mix is set, which
// validation reports).
func (s Step) Kind() StepKind {
	var kinds []StepKind
	if s.Send != nil {
		kinds = append(kinds, KindSend)
	} else if s.Reward != nil {
		kinds = append(kinds, KindReward)
	}
	if s.Delay != nil {
		kinds = append(kinds, KindDelay)
	}
	if s.Wait != nil {
		kinds = append(kinds, KindWait)
	}
	if s.Branch != nil {
		kinds = append(kinds, KindBranch)
	}
	if s.Split != nil {
		kinds = append(kinds, KindSplit)
	}
	if s.Update != nil {
		kinds = append(kinds, KindUpdate)
	}
	if s.Webhook != nil {
		kinds = append(kinds, KindWebhook)
	}
	if s.End != nil {
		kinds = append(kinds, KindEnd)
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// Send sends an email template; Vars are extra template variables, each a
// CEL expression over member, event and now.
type Send struct {
	Email string            `json:"email" yaml:"email"`
	Vars  map[string]string `json:"vars,omitempty" yaml:"vars,omitempty"`
}

// Reward is what a step grants, under the step's idempotency key.
type Reward struct {
	Coupon string `json:"coupon,omitempty" yaml:"coupon,omitempty"`
	Points int    `json:"points,omitempty" yaml:"points,omitempty"`
	Boost  *Boost `json:"boost,omitempty" yaml:"boost,omitempty"`
	// BirthdayGift is the programme's yearly birthday gift, given by the
	// ledger (once a year, not for a birthday set shortly before it); only
	// for journeys triggered by the birthday.
	BirthdayGift bool `json:"birthday_gift,omitempty" yaml:"birthday_gift,omitempty"`
}

// Boost multiplies the points of orders for Days days.
type Boost struct {
	Multiplier decimal.Decimal `json:"multiplier" yaml:"multiplier"`
	Days       int             `json:"days" yaml:"days"`
}

// Delay waits: For a duration, Until a member-local time of day
// ("HH:MM", the next one), or UntilDate a member date ± offset.
type Delay struct {
	For       Duration  `json:"for,omitempty" yaml:"for,omitempty"`
	Until     string    `json:"until,omitempty" yaml:"until,omitempty"`
	UntilDate *DateRule `json:"until_date,omitempty" yaml:"until_date,omitempty"`
}

// Wait waits for an event (one of Event, when When holds) until Timeout
// passes or UntilDate comes, then goes on to OnEvent or OnTimeout.
type Wait struct {
	Event     Events    `json:"event" yaml:"event"`
	When      string    `json:"when,omitempty" yaml:"when,omitempty"`
	Timeout   Duration  `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	UntilDate *DateRule `json:"until_date,omitempty" yaml:"until_date,omitempty"`
	OnEvent   string    `json:"on_event" yaml:"on_event"`
	OnTimeout string    `json:"on_timeout" yaml:"on_timeout"`
}

// Case is one branch case: the first whose When holds (an empty When
// always does) decides where the member goes.
type Case struct {
	When string `json:"when,omitempty" yaml:"when,omitempty"`
	Goto string `json:"goto" yaml:"goto"`
}

// Path is one split path, taken by a stable share of members.
type Path struct {
	Weight int    `json:"weight" yaml:"weight"`
	Goto   string `json:"goto" yaml:"goto"`
}

// Update sets member attributes (each a CEL expression) and tags.
type Update struct {
	Set        map[string]string `json:"set,omitempty" yaml:"set,omitempty"`
	AddTags    []string          `json:"add_tags,omitempty" yaml:"add_tags,omitempty"`
	RemoveTags []string          `json:"remove_tags,omitempty" yaml:"remove_tags,omitempty"`
}

// Webhook posts JSON to URL, signed per the Standard Webhooks scheme,
// retried, idempotent by its key (the webhook-id). Body values are CEL
// expressions.
type Webhook struct {
	URL  string            `json:"url" yaml:"url"`
	Body map[string]string `json:"body,omitempty" yaml:"body,omitempty"`
}

// EndStep ends the enrollment; Reason, when set, is the outcome recorded
// (completed: <reason>), e.g. lapsed.
type EndStep struct {
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
}

// Events is one event type or several; YAML and JSON take a string or a
// list.
type Events []string

// Duration is a time.Duration written "90s", "72h" or "30d" (negative
// allowed where an offset is meant: "-30d").
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Percent is a share written "5%" (or a number 0..100).
type Percent decimal.Decimal

// Step returns the step with id; ok is false when there is none.
func (d Definition) Step(id string) (Step, bool) {
	for _, s := range d.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return Step{}, false
}

// Next is the step after the one at index i in order, or End after the
// last one; a step's Goto overrides it.
func (d Definition) Next(i int) string {
	if g := d.Steps[i].Goto; g != "" {
		return g
	}
	if i+1 < len(d.Steps) {
		return d.Steps[i+1].ID
	}
	return End
}

// Index is the position of the step with id, or -1.
func (d Definition) Index(id string) int {
	for i, s := range d.Steps {
		if s.ID == id {
			return i
		}
	}
	return -1
}
