// Package engine decides journey steps: who enters, which branch case or
// split path a member takes, which event a wait or an exit accepts, when a
// delay or a date rule falls in a member's zone, what an email's variables
// are. It is pure — definitions (internal/journey), CEL conditions
// (internal/journey/cond) and the member document (internal/loyalty) in,
// decisions out — so the workflow's activities, the calendar scans and
// the simulator take the same decisions from the same code. Acting on them
// (sends, rewards, store writes) is the activities' job.
package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journey/cond"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// Engine decides; it holds the CEL environment and the programme.
type Engine struct {
	Cond    *cond.Env
	Program *loyalty.Program
	doc     loyalty.ProgramDocument
}

// New builds an engine for the programme.
func New(p *loyalty.Program) (*Engine, error) {
	env, err := cond.NewEnv()
	if err != nil {
		return nil, err
	}
	return &Engine{Cond: env, Program: p, doc: p.Document()}, nil
}

// Subject is what a decision is about: the member's document as of now,
// their latest event (nil: none) and the decision time.
type Subject struct {
	Member loyalty.MemberDocument
	Event  *events.Envelope
	Now    time.Time
}

// Location is the zone that decides the member's days: theirs, or the
// programme's when they gave none or an unknown one.
func (e *Engine) Location(m loyalty.Member) *time.Location {
	if m.Timezone != "" {
		if loc, err := zone(m.Timezone); err == nil {
			return loc
		}
	}
	if e.Program != nil && e.Program.Location != nil {
		return e.Program.Location
	}
	return time.UTC
}

// input is the CEL input of a subject, with member.timezone set to the zone
// that decides (so local_date and days_between need no fallback).
func (e *Engine) input(s Subject) cond.Input {
	m := s.Member
	m.Timezone = e.Location(s.Member.Member).String()
	return cond.Input{Member: m, Event: s.Event, Now: s.Now, Program: e.doc}
}

// Holds evaluates a condition of the definition; an empty expression
// holds. It returns the values the condition read.
func (e *Engine) Holds(expr string, eventTypes []string, s Subject) (bool, map[string]any, error) {
	if strings.TrimSpace(expr) == "" {
		return true, nil, nil
	}
	p, err := e.Cond.Compile(expr, cond.Bool, eventTypes)
	if err != nil {
		return false, nil, fmt.Errorf("condition %q: %w", expr, err)
	}
	ok, read, err := p.EvalBool(e.input(s))
	if err != nil {
		return false, read, fmt.Errorf("condition %q: %w", expr, err)
	}
	return ok, read, nil
}

// Value evaluates a value expression (an email variable, an attribute an
// update sets, a webhook body field).
func (e *Engine) Value(expr string, s Subject) (any, map[string]any, error) {
	p, err := e.Cond.Compile(expr, cond.Any, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("value %q: %w", expr, err)
	}
	v, err := p.Eval(e.input(s))
	if err != nil {
		return nil, v.Read, fmt.Errorf("value %q: %w", expr, err)
	}
	return v.Result, v.Read, nil
}

// Text is a value as an email or a webhook shows it: decimals as written,
// timestamps as the member-local day, durations in whole days, lists and
// maps as JSON.
func Text(v any, loc *time.Location) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case decimal.Decimal:
		return x.String()
	case time.Time:
		return x.In(loc).Format(time.DateOnly)
	case time.Duration:
		return strconv.FormatInt(int64(x/(24*time.Hour)), 10)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Vars evaluates a send's variables.
func (e *Engine) Vars(send *journey.Send, s Subject) (map[string]string, map[string]any, error) {
	if send == nil || len(send.Vars) == 0 {
		return nil, nil, nil
	}
	loc := e.Location(s.Member.Member)
	out := make(map[string]string, len(send.Vars))
	read := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(send.Vars)) {
		v, r, err := e.Value(send.Vars[name], s)
		maps.Copy(read, r)
		if err != nil {
			return nil, read, fmt.Errorf("vars.%s: %w", name, err)
		}
		out[name] = Text(v, loc)
	}
	return out, read, nil
}

// EntryDecision is whether a triggered member enters, and why not.
type EntryDecision struct {
	Enter  bool
	Reason string         // audience, once, cooldown, paused, archived, open
	Values map[string]any // what the audience condition read
}

// Entry decides whether a member the trigger matched enters: the
// journey's entry rules over the member's earlier enrollments in it
// (Member.Enrollments). Trigger conditions are checked before (Trigger).
func (e *Engine) Entry(def journey.Definition, s Subject) (EntryDecision, error) {
	var prior []loyalty.Enrollment
	for _, en := range s.Member.Enrollments {
		if en.Journey == def.Name {
			prior = append(prior, en)
		}
	}
	if def.Entry.Once && len(prior) > 0 {
		return EntryDecision{Reason: "once", Values: map[string]any{"enrollments": len(prior)}}, nil
	}
	if cd := def.Entry.Cooldown.D(); cd > 0 {
		for _, en := range prior {
			if s.Now.Sub(en.StartedAt) < cd {
				return EntryDecision{Reason: "cooldown", Values: map[string]any{"previous_started_at": en.StartedAt, "cooldown": def.Entry.Cooldown.D().String()}}, nil
			}
		}
	}
	ok, read, err := e.Holds(def.Entry.Audience, eventTypes(def.Trigger.Event), s)
	if err != nil {
		return EntryDecision{Reason: "audience", Values: read}, err
	}
	if !ok {
		return EntryDecision{Reason: "audience", Values: read}, nil
	}
	return EntryDecision{Enter: true, Values: read}, nil
}

func eventTypes(t string) []string {
	if t == "" {
		return nil
	}
	return []string{t}
}

// Trigger reports whether an event triggers the journey: its type and
// the trigger's when.
func (e *Engine) Trigger(def journey.Definition, s Subject) (bool, map[string]any, error) {
	if s.Event == nil || def.Trigger.Event != string(s.Event.Type) {
		return false, nil, nil
	}
	return e.Holds(def.Trigger.When, eventTypes(def.Trigger.Event), s)
}

// Match is what an event means to an open enrollment of def.
type Match struct {
	// Exit is the reason the event ends the enrollment ("goal" for a goal
	// with exit, the event's type for an exit rule; "" when it does not).
	Exit string
	// Goal says the event reaches the journey's goal.
	Goal bool
	// Wait says the enrollment may be waiting for it (a wait step names
	// its type); the workflow checks the wait's own condition.
	Wait   bool
	Values map[string]any
}

// Listen is the event types an enrollment of def is told about: its goal,
// its exits and every event a wait step names.
func Listen(def journey.Definition) []string {
	var out []string
	if def.Goal != nil && def.Goal.Event != "" {
		out = append(out, def.Goal.Event)
	}
	for _, x := range def.Exit {
		out = append(out, x.Event)
	}
	for _, s := range def.Steps {
		if s.Wait != nil {
			out = append(out, s.Wait.Event...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// MatchEvent decides what an event means to an open enrollment that
// started at started: exits first, then the goal (within its window), then
// waits.
func (e *Engine) MatchEvent(def journey.Definition, started time.Time, s Subject) (Match, error) {
	var m Match
	typ := string(s.Event.Type)
	for _, x := range def.Exit {
		if x.Event != typ {
			continue
		}
		ok, read, err := e.Holds(x.When, []string{typ}, s)
		if err != nil {
			return m, err
		}
		if ok {
			return Match{Exit: typ, Values: read}, nil
		}
	}
	ok, read, err := e.ReachesGoal(def, started, s)
	if err != nil {
		return m, err
	}
	if ok {
		m.Goal, m.Values = true, read
		if def.Goal.Exit {
			m.Exit = "goal"
		}
	}
	for _, st := range def.Steps {
		if st.Wait != nil && slices.Contains(st.Wait.Event, typ) {
			m.Wait = true
		}
	}
	return m, nil
}

// ReachesGoal reports whether the subject's event reaches def's goal for
// an enrollment that started at started: the goal's event type, within
// its window, its condition holding.
func (e *Engine) ReachesGoal(def journey.Definition, started time.Time, s Subject) (bool, map[string]any, error) {
	g := def.Goal
	if g == nil || s.Event == nil || g.Event == "" || g.Event != string(s.Event.Type) {
		return false, nil, nil
	}
	if g.Within != 0 && s.Event.OccurredAt.Sub(started) > g.Within.D() {
		return false, nil, nil
	}
	return e.Holds(g.When, []string{g.Event}, s)
}

// GoalCheck reports whether the goal's member condition holds (checked
// before a send or a reward).
func (e *Engine) GoalCheck(def journey.Definition, s Subject) (bool, map[string]any, error) {
	if def.Goal == nil || def.Goal.Check == "" {
		return false, nil, nil
	}
	return e.Holds(def.Goal.Check, nil, s)
}

// Branch is the case a branch step takes: its index (-1 when none holds,
// which ends the enrollment) and where it goes.
func (e *Engine) Branch(step journey.Step, s Subject) (int, string, map[string]any, error) {
	read := map[string]any{}
	for i, c := range step.Branch {
		ok, r, err := e.Holds(c.When, nil, s)
		maps.Copy(read, r)
		if err != nil {
			return -1, "", read, fmt.Errorf("branch[%d]: %w", i, err)
		}
		if ok {
			return i, c.Goto, read, nil
		}
	}
	return -1, journey.End, read, nil
}

// Split is the path a member takes at a split step: a stable hash of the
// member, journey and step over the weights, so a member who enters again
// takes the same path.
func Split(step journey.Step, memberID, journeyName string) (int, string) {
	total := 0
	for _, p := range step.Split {
		total += p.Weight
	}
	if total <= 0 {
		return -1, journey.End
	}
	h := fnv.New64a()
	h.Write([]byte(memberID + "\x00" + journeyName + "\x00" + step.ID))
	n := int(h.Sum64() % uint64(total))
	for i, p := range step.Split {
		if n < p.Weight {
			return i, p.Goto
		}
		n -= p.Weight
	}
	return len(step.Split) - 1, step.Split[len(step.Split)-1].Goto
}

// Arm decides, at enrollment, whether the member is held out of def:
// Holdout over the programme's holdout and the definition's.
func (e *Engine) Arm(def journey.Definition, memberID string) loyalty.Arm {
	programme := decimal.Zero
	if e.Program != nil {
		programme = e.Program.Holdout
	}
	return Holdout(memberID, def.Name, def.Holdout.Decimal(), programme)
}

// Holdout is the arm a member enters a journey in, from two stable
// hashes: one of the member alone against the programme's holdout
// (percent), so the same members are out of every journey, and one of
// the member and the journey against the journey's. A member in both is
// in the programme's holdout. The hashes (SHA-256) are independent of
// each other and of Split's, so a holdout leaves every split path with
// its share of each arm. A member held out stays held out on re-entry.
func Holdout(memberID, journeyName string, journeyShare, programmeShare decimal.Decimal) loyalty.Arm {
	switch {
	case below(programmeShare, "programme\x00"+memberID):
		return loyalty.ArmProgrammeHoldout
	case below(journeyShare, "journey\x00"+journeyName+"\x00"+memberID):
		return loyalty.ArmHoldout
	}
	return loyalty.ArmTreated
}

// below reports whether the hash of s falls in the first share percent of
// the hash space, in steps of a millionth.
func below(share decimal.Decimal, s string) bool {
	if !share.IsPositive() {
		return false
	}
	sum := sha256.Sum256([]byte("holdout\x00" + s))
	bucket := binary.BigEndian.Uint64(sum[:8]) % 1_000_000
	return int64(bucket) < share.Mul(decimal.NewFromInt(10_000)).Floor().IntPart()
}

// SplitPaths are the paths of every split step of def the member takes
// (Split), by step id: the member's arm in each A/B test of the journey,
// known from enrollment because the hash does not depend on what the
// member does. Nil when def has no split.
func SplitPaths(def journey.Definition, memberID string) map[string]int {
	var out map[string]int
	for _, st := range def.Steps {
		if st.Kind() != journey.KindSplit {
			continue
		}
		if p, _ := Split(st, memberID, def.Name); p >= 0 {
			if out == nil {
				out = map[string]int{}
			}
			out[st.ID] = p
		}
	}
	return out
}

// ParseKey reads a step key (Key) back: ok is false for a key of another
// shape (the programme's birthday gift, an operator's adjustment). Member
// ids may hold '#', so the key is read from its end.
func ParseKey(key string) (memberID, journeyName string, enrollment int, step string, year int, ok bool) {
	parts := strings.Split(key, "#")
	if len(parts) < 5 {
		return "", "", 0, "", 0, false
	}
	n := len(parts)
	year, err := strconv.Atoi(parts[n-1])
	if err != nil {
		return "", "", 0, "", 0, false
	}
	enrollment, err = strconv.Atoi(parts[n-3])
	if err != nil {
		return "", "", 0, "", 0, false
	}
	memberID, journeyName, step = strings.Join(parts[:n-4], "#"), parts[n-4], parts[n-2]
	if memberID == "" || journeyName == "" || step == "" {
		return "", "", 0, "", 0, false
	}
	return memberID, journeyName, enrollment, step, year, true
}

// Key is the idempotency key of a step's effects (sends, rewards,
// webhooks, timeline entries): member#journey#enrollment#step#year.
func Key(memberID, journeyName string, enrollment int, step string, year int) string {
	return fmt.Sprintf("%s#%s#%d#%s#%d", memberID, journeyName, enrollment, step, year)
}
