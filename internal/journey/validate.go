package journey

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// MaxSpan bounds every duration of a definition — delays, timeouts,
// cooldowns, windows, expiries, and offsets either way: 5 years (of
// 365.25 days). Longer is a typo, and a workflow timer that long would
// outlive any version of the engine.
const MaxSpan = 1827 * Day

// MaxWeight bounds a split path's weight: weights are relative, and small
// numbers keep the engine's arithmetic on them far from overflowing.
const MaxWeight = 10000

// MaxSteps bounds the steps of a journey: a marketer's journey has a
// handful, and the bound keeps validating what anyone sends to the API
// cheap.
const MaxSteps = 500

// MemberDates are the member dates memberflow keeps: the dates a date
// trigger or an until_date may read without declaring them, and that an
// update step may not set (the programme owns them).
var MemberDates = []string{"birthday", "tier_review_on", "trial_ends_on", "registered_at", "last_order_at"}

// Weekdays are the values of a weekly broadcast's weekday.
var Weekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// Broadcast schedules (Broadcast.Every).
const (
	EveryOnce  = "once"
	EveryDay   = "day"
	EveryWeek  = "week"
	EveryMonth = "month"
)

// CondKind says what a CEL expression must evaluate to.
type CondKind string

// Expression kinds: conditions (when, audience, check) are bool; values
// (send vars, update set, webhook body) may be of any type.
const (
	CondBool CondKind = "bool"
	CondAny  CondKind = "any"
)

// Conditions compiles and type-checks CEL expressions (internal/journey/cond
// implements it; journey does not import it). Compile checks expr as kind
// over member, now and event, where event is one of eventTypes (nil or
// empty: an event of any type, the generic envelope). An error that has a
// Column() int method is pointed at that (1-based) column of the
// expression.
type Conditions interface {
	Compile(expr string, kind CondKind, eventTypes []string) error
}

// Checks is what validation needs to know about the rest of the system.
// A nil field skips its check (Parse-level shape and the graph are always
// checked), so tools without a catalog or a CEL environment can still
// validate the structure.
type Checks struct {
	// Template looks up an email template: an error when it does not
	// exist, else the variables it requires (internal/mail's Required).
	Template func(name string) (required []string, err error)
	// StandardVars are the template variables a send step provides
	// without vars: what every send carries (name, brand, shop_url,
	// unsubscribe_url: activities.TemplateData) and what the step's
	// reward adds (coupon_code, coupon_name, coupon_valid_until;
	// boost_multiplier, boost_until). Without it the required variables
	// are not checked.
	StandardVars func(s Step) []string
	// Coupon reports whether the programme has a coupon kind.
	Coupon func(kind string) bool
	// Conditions compiles CEL expressions; nil skips CEL.
	Conditions Conditions
	// EventTypes are the event types journeys may name: events.Types()
	// and internal ones such as member.segment_changed.
	EventTypes []string
	// DateAttributes are the member dates a date trigger or until_date
	// may read: MemberDates and the custom date attributes declared for
	// the programme. An attribute an update step of the same journey sets
	// is accepted as well (the journey writes the date it later reads).
	DateAttributes []string
}

// Validate reports every problem of the definition, each naming its path
// and the rule, as a *ValidationError (nil when there is none). It does
// not repeat Parse's checks of types and keys; a Definition built in code
// should be validated the same way.
func (d Definition) Validate(c Checks) error {
	v := validator{d: d, c: c, ids: map[string]int{}, set: map[string]bool{}}
	// The goal's goto is checked before the steps are; it needs their ids.
	ids := map[string]int{}
	for i, s := range d.Steps {
		if _, dup := ids[s.ID]; !dup {
			ids[s.ID] = i
		}
	}
	goalIDs := ids
	for _, s := range d.Steps {
		if s.Update != nil {
			for k := range s.Update.Set {
				v.set[k] = true
			}
		}
	}
	v.definition()
	v.trigger()
	v.entry()
	v.ids = goalIDs
	v.goal()
	v.ids = map[string]int{}
	v.exits()
	v.steps()
	v.graph()
	return v.ps.err()
}

// validator holds what the rules share.
type validator struct {
	d   Definition
	c   Checks
	ps  problems
	ids map[string]int  // step id → index of its first step
	set map[string]bool // attributes the journey's update steps set
}

func (v *validator) bad(path, format string, args ...any) {
	v.ps.add(path, fmt.Sprintf(format, args...))
}

// definition checks the name, priority and holdout.
func (v *validator) definition() {
	d := v.d
	switch {
	case d.Name == "":
		v.bad("name", "is required")
	case !validName.MatchString(d.Name):
		v.bad("name", "%q must be 2 to 41 lower-case letters, digits and _, starting with a letter", d.Name)
	}
	if d.Priority < 0 || d.Priority > 100 {
		v.bad("priority", "must be between 0 and 100, not %d", d.Priority)
	}
	if d.Holdout.Decimal().GreaterThan(decimal.NewFromInt(50)) {
		v.bad("holdout", "must be at most 50%%, not %s", d.Holdout)
	}
}

// triggerEvents is what `event` is in the conditions evaluated on entry.
func (v *validator) triggerEvents() []string {
	if v.d.Trigger.Event != "" {
		return []string{v.d.Trigger.Event}
	}
	return nil
}

// trigger checks the trigger.
func (v *validator) trigger() {
	t := v.d.Trigger
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"event", t.Event != ""}, {"date", t.Date != nil}, {"inactivity", t.Inactivity != nil}, {"api", t.API != nil}, {"broadcast", t.Broadcast != nil}} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	switch len(kinds) {
	case 0:
		v.bad("trigger", "needs exactly one of event, date, inactivity, api, broadcast")
	case 1:
	default:
		v.bad("trigger", "needs exactly one of event, date, inactivity, api, broadcast, not %s", strings.Join(kinds, " and "))
	}
	if t.When != "" && t.Event == "" {
		v.bad("trigger.when", "only goes with trigger.event")
	}
	if t.Event != "" {
		v.eventType("trigger.event", t.Event)
		v.cel("trigger.when", t.When, CondBool, []string{t.Event})
	}
	if t.Date != nil {
		v.dateRule("trigger.date", *t.Date)
	}
	if in := t.Inactivity; in != nil {
		v.eventType("trigger.inactivity.event", in.Event)
		v.positive("trigger.inactivity.for", in.For)
		v.clock("trigger.inactivity.at", in.At, false)
	}
	if b := t.Broadcast; b != nil {
		v.broadcast(*b)
	}
}

// broadcast checks a broadcast trigger's schedule.
func (v *validator) broadcast(b Broadcast) {
	const p = "trigger.broadcast"
	v.cel(p+".audience", b.Audience, CondBool, nil)
	v.clock(p+".at", b.At, true)
	if b.Rate < 0 {
		v.bad(p+".rate", "must be at least 1 entry a second, not %d", b.Rate)
	}
	switch b.Every {
	case "":
		v.bad(p+".every", "is required: once, day, week or month")
		return
	case EveryOnce, EveryDay, EveryWeek, EveryMonth:
	default:
		v.bad(p+".every", "must be once, day, week or month, not %q", b.Every)
		return
	}
	needs := func(key string, set bool, what string) {
		switch {
		case set && b.Every != what:
			v.bad(p+"."+key, "only goes with every: %s", what)
		case !set && b.Every == what:
			v.bad(p+"."+key, "is required with every: %s", what)
		}
	}
	needs("date", b.Date != "", EveryOnce)
	needs("day", b.Day != 0, EveryMonth)
	needs("weekday", b.Weekday != "", EveryWeek)
	if b.Date != "" {
		if _, err := time.Parse(time.DateOnly, b.Date); err != nil || !validDate.MatchString(b.Date) {
			v.bad(p+".date", "%q must be a day like 2027-01-08", b.Date)
		}
	}
	if b.Day != 0 && (b.Day < 1 || b.Day > 28) {
		v.bad(p+".day", "must be a day of the month from 1 to 28 (every month has it), not %d", b.Day)
	}
	if b.Weekday != "" && !slices.Contains(Weekdays, b.Weekday) {
		v.bad(p+".weekday", "must be one of %s, not %q", strings.Join(Weekdays, ", "), b.Weekday)
	}
}

// entry checks the entry rules.
func (v *validator) entry() {
	e := v.d.Entry
	v.cel("entry.audience", e.Audience, CondBool, v.triggerEvents())
	v.span("entry.cooldown", e.Cooldown)
}

// goal checks the goal.
func (v *validator) goal() {
	g := v.d.Goal
	if g == nil {
		return
	}
	if g.Event == "" && g.Check == "" {
		v.bad("goal", "needs event or check (or both)")
	}
	if g.When != "" && g.Event == "" {
		v.bad("goal.when", "only goes with goal.event")
	}
	if g.Event != "" {
		v.eventType("goal.event", g.Event)
		v.cel("goal.when", g.When, CondBool, []string{g.Event})
	}
	v.cel("goal.check", g.Check, CondBool, nil)
	v.span("goal.within", g.Within)
	if g.Goto != "" {
		if g.Exit {
			v.bad("goal.goto", "goes with exit: false — the goal either ends the journey or sends the member to a step")
		}
		if g.Goto == End {
			v.bad("goal.goto", "use exit: true to end the journey on the goal")
		} else {
			v.target("goal.goto", g.Goto)
		}
	}
}

// exits checks the exit rules.
func (v *validator) exits() {
	for i, x := range v.d.Exit {
		p := fmt.Sprintf("exit[%d]", i)
		v.eventType(p+".event", x.Event)
		if x.Event != "" {
			v.cel(p+".when", x.When, CondBool, []string{x.Event})
		}
	}
}

// steps checks every step on its own.
func (v *validator) steps() {
	if len(v.d.Steps) == 0 {
		v.bad("steps", "needs at least one step")
		return
	}
	if len(v.d.Steps) > MaxSteps {
		v.bad("steps", "has %d steps; a journey has at most %d", len(v.d.Steps), MaxSteps)
	}
	for i, s := range v.d.Steps {
		p := fmt.Sprintf("steps[%d]", i)
		switch {
		case s.ID == "":
			v.bad(p+".id", "is required")
		case s.ID == End:
			v.bad(p+".id", "end is reserved for goto: end; choose another id")
		case !validStepID.MatchString(s.ID):
			v.bad(p+".id", "%q must be up to 41 lower-case letters, digits and _, starting with a letter (it is part of idempotency keys)", s.ID)
		}
		if j, dup := v.ids[s.ID]; dup && s.ID != "" {
			v.bad(p+".id", "%q is also the id of steps[%d]", s.ID, j)
		} else {
			v.ids[s.ID] = i
		}
	}
	for i, s := range v.d.Steps {
		v.step(fmt.Sprintf("steps[%d]", i), s)
	}
}

// kindNames lists the parts a step has, for "exactly one" messages.
func kindNames(s Step) []string {
	var names []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"send", s.Send != nil}, {"reward", s.Reward != nil}, {"delay", s.Delay != nil}, {"wait", s.Wait != nil}, {"branch", s.Branch != nil}, {"split", s.Split != nil}, {"update", s.Update != nil}, {"webhook", s.Webhook != nil}, {"end", s.End != nil}} {
		if k.set {
			names = append(names, k.name)
		}
	}
	return names
}

// step checks one step.
func (v *validator) step(p string, s Step) {
	kind := s.Kind()
	if kind == "" {
		if names := kindNames(s); len(names) == 0 {
			v.bad(p, "needs one of send, reward, delay, wait, branch, split, update, webhook, end")
		} else {
			v.bad(p, "needs exactly one of send (with or without reward), reward, delay, wait, branch, split, update, webhook, end, not %s", strings.Join(names, " and "))
		}
	}
	if s.End != nil && s.End.Reason != "" && !validStepID.MatchString(s.End.Reason) {
		v.bad(p+".end.reason", "%q must be lower-case letters, digits and _ (it is an outcome name)", s.End.Reason)
	}
	if s.Goto != "" {
		switch kind {
		case KindWait, KindBranch, KindSplit, KindEnd:
			v.bad(p+".goto", "a %s step goes where its %s says; remove goto", kind, map[StepKind]string{KindWait: "on_event and on_timeout", KindBranch: "cases", KindSplit: "paths", KindEnd: "end"}[kind])
		default:
			v.target(p+".goto", s.Goto)
		}
	}
	if s.Expires != 0 {
		if s.Send == nil && s.Reward == nil {
			v.bad(p+".expires", "only a send or reward step expires")
		}
		v.span(p+".expires", s.Expires)
	}
	if s.Send != nil {
		v.send(p+".send", s)
	}
	if s.Reward != nil {
		v.reward(p+".reward", *s.Reward)
	}
	if s.Delay != nil {
		v.delay(p+".delay", *s.Delay)
	}
	if s.Wait != nil {
		v.wait(p+".wait", *s.Wait)
	}
	if s.Branch != nil {
		v.branch(p+".branch", s.Branch)
	}
	if s.Split != nil {
		v.split(p+".split", s.Split)
	}
	if s.Update != nil {
		v.update(p+".update", *s.Update)
	}
	if s.Webhook != nil {
		v.webhook(p+".webhook", *s.Webhook)
	}
}

// send checks the template and that the step gives every variable it
// requires.
func (v *validator) send(p string, s Step) {
	snd := s.Send
	if snd.Email == "" {
		v.bad(p+".email", "is required: the name of an email template")
	}
	for _, k := range slices.Sorted(maps.Keys(snd.Vars)) {
		kp := keyPath(p+".vars", k)
		if !validVar.MatchString(k) {
			v.bad(kp, "is not a variable name (letters, digits and _, not starting with a digit)")
		}
		v.cel(kp, snd.Vars[k], CondAny, nil)
	}
	if snd.Email == "" || v.c.Template == nil {
		return
	}
	required, err := v.c.Template(snd.Email)
	if err != nil {
		v.bad(p+".email", "%q is not an email template: %v", snd.Email, err)
		return
	}
	if v.c.StandardVars == nil {
		return
	}
	have := map[string]bool{}
	for _, name := range v.c.StandardVars(s) {
		have[name] = true
	}
	for name := range snd.Vars {
		have[name] = true
	}
	var missing []string
	for _, name := range required {
		if !have[name] && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		v.bad(p+".vars", "template %q requires %s, which this step does not provide: set them in vars (a coupon or boost reward on the step provides its own)", snd.Email, strings.Join(missing, ", "))
	}
}

// reward checks what a step grants.
func (v *validator) reward(p string, r Reward) {
	if r.Coupon == "" && r.Points == 0 && r.Boost == nil && !r.BirthdayGift {
		v.bad(p, "needs coupon, points, boost or birthday_gift")
	}
	if r.Coupon != "" && v.c.Coupon != nil && !v.c.Coupon(r.Coupon) {
		v.bad(p+".coupon", "%q is not a coupon of the programme", r.Coupon)
	}
	if r.Points < 0 {
		v.bad(p+".points", "must be more than 0, not %d", r.Points)
	}
	if b := r.Boost; b != nil {
		if !b.Multiplier.GreaterThan(decimal.NewFromInt(1)) {
			v.bad(p+".boost.multiplier", "must be more than 1, not %s", b.Multiplier)
		}
		if b.Days < 1 || b.Days > int(MaxSpan/Day) {
			v.bad(p+".boost.days", "must be from 1 to %d, not %d", int(MaxSpan/Day), b.Days)
		}
	}
	if r.BirthdayGift {
		if t := v.d.Trigger.Date; t == nil || t.Attribute != "birthday" {
			v.bad(p+".birthday_gift", "only a journey triggered by the birthday (trigger.date.attribute: birthday) gives the birthday gift")
		}
	}
}

// delay checks a delay.
func (v *validator) delay(p string, d Delay) {
	n := 0
	for _, set := range []bool{d.For != 0, d.Until != "", d.UntilDate != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.bad(p, "needs exactly one of for, until, until_date")
	}
	if d.For != 0 {
		v.positive(p+".for", d.For)
	}
	v.clock(p+".until", d.Until, false)
	if d.UntilDate != nil {
		v.dateRule(p+".until_date", *d.UntilDate)
	}
}

// wait checks a wait.
func (v *validator) wait(p string, w Wait) {
	if len(w.Event) == 0 {
		v.bad(p+".event", "is required: the event type (or list of them) to wait for")
	}
	listed := map[string]bool{}
	for i, e := range w.Event {
		ep := p + ".event"
		if len(w.Event) > 1 {
			ep = fmt.Sprintf("%s[%d]", ep, i)
		}
		v.eventType(ep, e)
		if listed[e] {
			v.bad(ep, "%q is listed twice", e)
		}
		listed[e] = true
	}
	if len(w.Event) > 0 {
		v.cel(p+".when", w.When, CondBool, slices.Clone(w.Event))
	}
	switch {
	case w.Timeout == 0 && w.UntilDate == nil:
		v.bad(p, "needs timeout or until_date: how long to wait")
	case w.Timeout != 0 && w.UntilDate != nil:
		v.bad(p, "needs exactly one of timeout, until_date")
	}
	if w.Timeout != 0 {
		v.positive(p+".timeout", w.Timeout)
	}
	if w.UntilDate != nil {
		v.dateRule(p+".until_date", *w.UntilDate)
	}
	v.target(p+".on_event", w.OnEvent)
	v.target(p+".on_timeout", w.OnTimeout)
}

// branch checks the cases of a branch.
func (v *validator) branch(p string, cases []Case) {
	if len(cases) == 0 {
		v.bad(p, "needs at least one case")
	}
	for i, c := range cases {
		cp := fmt.Sprintf("%s[%d]", p, i)
		if c.When == "" && i < len(cases)-1 {
			v.bad(cp+".when", "is required: only the last case may leave it out (it is taken when no case before it holds)")
		}
		v.cel(cp+".when", c.When, CondBool, nil)
		v.target(cp+".goto", c.Goto)
	}
}

// split checks the paths of a split.
func (v *validator) split(p string, paths []Path) {
	if len(paths) < 2 {
		v.bad(p, "needs at least two paths")
	}
	for i, path := range paths {
		pp := fmt.Sprintf("%s[%d]", p, i)
		if path.Weight < 1 || path.Weight > MaxWeight {
			v.bad(pp+".weight", "must be from 1 to %d, not %d", MaxWeight, path.Weight)
		}
		v.target(pp+".goto", path.Goto)
	}
}

// update checks an update.
func (v *validator) update(p string, u Update) {
	if len(u.Set) == 0 && len(u.AddTags) == 0 && len(u.RemoveTags) == 0 {
		v.bad(p, "needs set, add_tags or remove_tags")
	}
	for _, k := range slices.Sorted(maps.Keys(u.Set)) {
		kp := keyPath(p+".set", k)
		switch {
		case !validAttribute.MatchString(k):
			v.bad(kp, "is not an attribute name (up to 41 lower-case letters, digits and _, starting with a letter)")
		case slices.Contains(MemberDates, k):
			v.bad(kp, "is kept by the programme; a journey cannot set it")
		}
		v.cel(kp, u.Set[k], CondAny, nil)
	}
	for _, list := range []struct {
		key  string
		tags []string
	}{{"add_tags", u.AddTags}, {"remove_tags", u.RemoveTags}} {
		for i, tag := range list.tags {
			if strings.TrimSpace(tag) == "" {
				v.bad(fmt.Sprintf("%s.%s[%d]", p, list.key, i), "must not be empty")
			}
		}
	}
}

// webhook checks a webhook.
func (v *validator) webhook(p string, w Webhook) {
	if w.URL == "" {
		v.bad(p+".url", "is required")
	} else if u, err := url.Parse(w.URL); err != nil || u.Host == "" || u.User != nil || !(u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname())) {
		v.bad(p+".url", "%q must be an https:// URL without credentials (http only for localhost, in tests)", w.URL)
	}
	for _, k := range slices.Sorted(maps.Keys(w.Body)) {
		kp := keyPath(p+".body", k)
		if k == "" {
			v.bad(kp, "a body field needs a name")
		}
		v.cel(kp, w.Body[k], CondAny, nil)
	}
}

// isLoopback reports the hosts a test webhook may use plain http with.
func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// eventType checks that an event type is given and known.
func (v *validator) eventType(p, t string) {
	switch {
	case t == "":
		v.bad(p, "is required: an event type")
	case v.c.EventTypes != nil && !slices.Contains(v.c.EventTypes, t):
		v.bad(p, "%q is not an event type memberflow knows (%s)", t, strings.Join(v.c.EventTypes, ", "))
	}
}

// dateRule checks a member date ± offset at a time of day.
func (v *validator) dateRule(p string, r DateRule) {
	switch {
	case r.Attribute == "":
		v.bad(p+".attribute", "is required: %s or a custom date attribute", strings.Join(MemberDates, ", "))
	case !validAttribute.MatchString(r.Attribute):
		v.bad(p+".attribute", "%q is not an attribute name", r.Attribute)
	case v.c.DateAttributes != nil && !slices.Contains(v.c.DateAttributes, r.Attribute) && !v.set[r.Attribute]:
		v.bad(p+".attribute", "%q is not a member date (%s) and no update step of this journey sets it", r.Attribute, strings.Join(v.c.DateAttributes, ", "))
	}
	if r.Offset < -Duration(MaxSpan) || r.Offset > Duration(MaxSpan) {
		v.bad(p+".offset", "must be within 5 years (%s) either way, not %s", Duration(MaxSpan), r.Offset)
	}
	v.clock(p+".at", r.At, false)
}

// clock checks a member-local time of day.
func (v *validator) clock(p, at string, required bool) {
	if at == "" {
		if required {
			v.bad(p, "is required: a member-local time of day like 10:00")
		}
		return
	}
	if _, _, err := ParseClock(at); err != nil {
		v.bad(p, "%q must be a time of day HH:MM, like 10:00", at)
	}
}

// positive checks a duration that must be more than zero.
func (v *validator) positive(p string, d Duration) {
	if d <= 0 {
		v.bad(p, "must be more than 0, not %s", d)
		return
	}
	v.span(p, d)
}

// span checks a duration that may be zero.
func (v *validator) span(p string, d Duration) {
	switch {
	case d < 0:
		v.bad(p, "must not be negative, not %s", d)
	case d > Duration(MaxSpan):
		v.bad(p, "must be at most 5 years (%s), not %s", Duration(MaxSpan), d)
	}
}

// target checks a goto target.
func (v *validator) target(p, id string) {
	if id == "" {
		v.bad(p, "is required: a step id or end")
		return
	}
	if _, ok := v.ids[id]; !ok && id != End {
		v.bad(p, "%q is not a step id of this journey (or end)", id)
	}
}

// cel compiles an expression, when there is one and a compiler.
func (v *validator) cel(p, expr string, kind CondKind, eventTypes []string) {
	if expr == "" || v.c.Conditions == nil {
		return
	}
	err := v.c.Conditions.Compile(expr, kind, eventTypes)
	if err == nil {
		return
	}
	pr := Problem{Path: p, Rule: "does not compile: " + err.Error()}
	var col interface{ Column() int }
	if errors.As(err, &col) && col.Column() > 0 {
		pr.ExprColumn = col.Column()
		pr.Rule = fmt.Sprintf("does not compile (column %d): %v", pr.ExprColumn, err)
	}
	v.ps.list = append(v.ps.list, pr)
}
