// Package journey reads and validates journey definitions
// (templates/journeys/<name>.yaml): the steps of one lifecycle — when each
// runs, which email it sends, which reward it grants — so marketers change
// delays, templates, rewards and on/off without a deploy of code. A
// definition is validated when the worker starts and pinned into each
// enrollment (its workflow input, or its enrollment record for journeys a
// calendar scan drives), so an edit affects new enrollments only.
//
// Every lifecycle is built from the same step shape — send, reward, a
// delay from the journey's anchor, an optional local time of day, a
// deadline after which the step no longer makes sense — so
// marketer-defined journeys can later be composed from the same steps.
package journeyv1

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// The built-in journeys.
const (
	Activation = "activation"
	Birthday   = "birthday"
	TierExpiry = "tier_expiry"
	Winback    = "winback"
	Trial      = "trial"
)

// Names lists the built-in journeys in the contact policy's priority order
// (highest first).
var Names = []string{TierExpiry, Trial, Birthday, Activation, Winback}

// Step triggers of the trial journey.
const (
	OnConverted = "converted" // the trial became a paid membership
	OnEnded     = "ended"     // the trial was cancelled or lapsed
)

// Definition is one journey as a marketer configures it.
type Definition struct {
	Name    string `yaml:"name" json:"name"`
	Version int    `yaml:"version" json:"version"`
	Enabled bool   `yaml:"enabled" json:"enabled"`
	Steps   []Step `yaml:"steps" json:"steps"`
}

// Step is one step of a journey. When it runs is After the journey's
// anchor (enrollment, birthday, last order) or Before it (tier review,
// trial end), at LocalTime on that day when set (member local time), or on
// a trial outcome (On).
type Step struct {
	Name      string   `yaml:"name" json:"name"`
	After     Duration `yaml:"after,omitempty" json:"after,omitempty"`
	Before    Duration `yaml:"before,omitempty" json:"before,omitempty"`
	LocalTime string   `yaml:"local_time,omitempty" json:"local_time,omitempty"` // "HH:MM"
	On        string   `yaml:"on,omitempty" json:"on,omitempty"`
	Email     string   `yaml:"email,omitempty" json:"email,omitempty"`
	Reward    *Reward  `yaml:"reward,omitempty" json:"reward,omitempty"`
	// Expires is how long after the step's time its email still makes
	// sense; a send the contact policy would delay past it is skipped
	// (and counted). Zero: it never goes stale.
	Expires Duration `yaml:"expires,omitempty" json:"expires,omitempty"`
	// Window is how long an offer step waits for its goal before the
	// journey exits (trial offer).
	Window Duration `yaml:"window,omitempty" json:"window,omitempty"`
}

// Reward is what a step grants; every grant carries the step's
// idempotency key, so a retry grants nothing more.
type Reward struct {
	Coupon string `yaml:"coupon,omitempty" json:"coupon,omitempty"`
	Boost  *Boost `yaml:"boost,omitempty" json:"boost,omitempty"`
}

// Boost multiplies the points of orders for Days days.
type Boost struct {
	Multiplier decimal.Decimal `yaml:"multiplier" json:"multiplier"`
	Days       int             `yaml:"days" json:"days"`
}

// Clock returns the step's local time of day as hour and minute; ok is
// false when it has none.
func (s Step) Clock() (hour, minute int, ok bool) {
	if s.LocalTime == "" {
		return 0, 0, false
	}
	t, err := time.Parse("15:04", s.LocalTime)
	if err != nil {
		return 0, 0, false
	}
	return t.Hour(), t.Minute(), true
}

// Step returns the named step; ok is false when there is none.
func (d Definition) Step(name string) (Step, bool) {
	i := slices.IndexFunc(d.Steps, func(s Step) bool { return s.Name == name })
	if i < 0 {
		return Step{}, false
	}
	return d.Steps[i], true
}

// JSON is the definition as pinned into an enrollment record.
func (d Definition) JSON() string {
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("journey %s: marshal: %v", d.Name, err)) // plain data; cannot fail
	}
	return string(b)
}

// Parse reads a definition pinned with JSON.
func Parse(pinned string) (Definition, error) {
	var d Definition
	if err := json.Unmarshal([]byte(pinned), &d); err != nil {
		return Definition{}, fmt.Errorf("pinned journey definition: %w", err)
	}
	return d, nil
}

// Duration is a time.Duration written as "30d", "72h" or "90s" in YAML.
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

var dayDuration = regexp.MustCompile(`^(\d+)d$`)

// maxDays is the most days a time.Duration holds (about 292 years); more
// would wrap around to some other duration, negative or not.
const maxDays = int64(math.MaxInt64 / (24 * time.Hour))

// ParseDuration reads "<n>d" (days of 24 hours) or anything
// time.ParseDuration accepts.
func ParseDuration(s string) (Duration, error) {
	if m := dayDuration.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > maxDays {
			return 0, fmt.Errorf("%q is too long: at most %dd", s, maxDays)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 30d, 72h or 90s", s)
	}
	return Duration(d), nil
}

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Checks is what validation needs to know about the rest of the system.
type Checks struct {
	// Template reports an email template that does not exist.
	Template func(name string) error
	// Coupon reports whether the programme has a coupon kind.
	Coupon func(kind string) bool
	// BirthdayCoupon is the programme's birthday coupon: the birthday
	// journey grants the ledger's yearly gift, so its step must name it.
	BirthdayCoupon string
}

// Set is the validated definitions by name.
type Set map[string]Definition

// Dir is where Load looks in Files.
const Dir = "journeys"

// Load reads and validates every built-in journey from fsys
// (journeys/<name>.yaml). Every problem is reported, each naming the file
// and the key.
func Load(fsys fs.FS, c Checks) (Set, error) {
	set := Set{}
	var errs []error
	for _, name := range Names {
		file := path.Join(Dir, name+".yaml")
		b, err := fs.ReadFile(fsys, file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		d, err := Decode(b, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		if d.Name != name {
			errs = append(errs, fmt.Errorf("%s: name: is %q, must be %q like the file", file, d.Name, name))
			continue
		}
		set[name] = d
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// Decode parses one definition strictly (unknown keys are errors) and
// validates it.
func Decode(b []byte, c Checks) (Definition, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return Definition{}, fmt.Errorf("parse: %w", err)
	}
	return d, d.Validate(c)
}

var validStep = regexp.MustCompile(`^[a-z0-9_]+$`)

// shape is what each built-in journey requires of its steps.
type shape struct {
	after, before, on, localTime bool
	ons                          []string
}

var shapes = map[string]shape{
	Activation: {after: true},
	Birthday:   {after: true, localTime: true},
	TierExpiry: {before: true, localTime: true},
	Winback:    {after: true, localTime: true},
	Trial:      {before: true, on: true, ons: []string{OnConverted, OnEnded}},
}

// Validate reports every problem of the definition, each naming its key.
func (d Definition) Validate(c Checks) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	sh, ok := shapes[d.Name]
	if !ok {
		bad("name", "%q is not a journey memberflow runs (%s)", d.Name, strings.Join(Names, ", "))
	}
	if d.Version < 1 {
		bad("version", "must be at least 1, got %d", d.Version)
	}
	if len(d.Steps) == 0 {
		bad("steps", "a journey needs at least one step")
	}
	seen := map[string]bool{}
	var last time.Duration
	for i, s := range d.Steps {
		key := fmt.Sprintf("steps[%d]", i)
		switch {
		case !validStep.MatchString(s.Name):
			bad(key+".name", "%q must be lower-case letters, digits and _ (it is part of idempotency keys)", s.Name)
		case seen[s.Name]:
			bad(key+".name", "%q is used by an earlier step", s.Name)
		}
		seen[s.Name] = true
		if s.After < 0 || s.Before < 0 || s.Expires < 0 || s.Window < 0 {
			bad(key, "durations must not be negative")
		}
		timed := s.On == ""
		switch {
		case s.On != "" && (!sh.on || !slices.Contains(sh.ons, s.On)):
			bad(key+".on", "%q is not a trigger of %s (%s)", s.On, d.Name, strings.Join(sh.ons, ", "))
		case s.On != "" && (s.After != 0 || s.Before != 0):
			bad(key, "a step triggered by on: has no after/before")
		case timed && s.Before != 0 && !sh.before:
			bad(key+".before", "%s steps are timed with after:", d.Name)
		case timed && s.After != 0 && !sh.after:
			bad(key+".after", "%s steps are timed with before:", d.Name)
		case timed && s.After != 0 && s.Before != 0:
			bad(key, "set after: or before:, not both")
		case timed && sh.before && s.Before == 0:
			bad(key+".before", "%s steps need before: (e.g. 7d)", d.Name)
		}
		if timed {
			// Steps run in order: after: grows, before: shrinks.
			at := s.After.D() - s.Before.D()
			if i > 0 && at < last {
				bad(key, "steps must be in time order")
			}
			last = at
		}
		if s.LocalTime != "" {
			if _, _, ok := s.Clock(); !ok || !sh.localTime {
				if !sh.localTime {
					bad(key+".local_time", "%s steps do not take a local time", d.Name)
				} else {
					bad(key+".local_time", "%q must be HH:MM", s.LocalTime)
				}
			}
		}
		if s.Email == "" && s.Reward == nil {
			bad(key, "a step must send an email or grant a reward")
		}
		if s.Email != "" && c.Template != nil {
			if err := c.Template(s.Email); err != nil {
				bad(key+".email", "%v", err)
			}
		}
		if r := s.Reward; r != nil {
			if r.Coupon == "" && r.Boost == nil {
				bad(key+".reward", "needs coupon: or boost:")
			}
			if r.Coupon != "" && c.Coupon != nil && !c.Coupon(r.Coupon) {
				bad(key+".reward.coupon", "%q is not a coupon of the programme", r.Coupon)
			}
			if b := r.Boost; b != nil {
				if !b.Multiplier.GreaterThan(decimal.NewFromInt(1)) {
					bad(key+".reward.boost.multiplier", "must be greater than 1, got %s", b.Multiplier)
				}
				if b.Days < 1 {
					bad(key+".reward.boost.days", "must be at least 1, got %d", b.Days)
				}
			}
		}
		if s.Window != 0 && s.On != OnEnded {
			bad(key+".window", "only an on: ended offer step waits in a window")
		}
	}
	if d.Name == Trial {
		for _, on := range sh.ons {
			if !slices.ContainsFunc(d.Steps, func(s Step) bool { return s.On == on }) {
				bad("steps", "the trial journey needs a step with on: %s", on)
			}
		}
	}
	if d.Name == Birthday && len(d.Steps) != 1 {
		bad("steps", "the birthday journey has exactly one step, on the birthday")
	}
	if d.Name == Birthday && len(d.Steps) == 1 {
		s := d.Steps[0]
		switch {
		case s.After != 0:
			bad("steps[0].after", "the birthday step is on the birthday; set local_time instead")
		case s.Reward == nil || s.Reward.Coupon == "" || s.Reward.Boost != nil:
			bad("steps[0].reward", "the birthday step grants the programme's birthday coupon, and only that")
		case c.BirthdayCoupon != "" && s.Reward.Coupon != c.BirthdayCoupon:
			bad("steps[0].reward.coupon", "is %q, but the programme's birthday gift is %q (templates/program.yaml birthday.coupon)", s.Reward.Coupon, c.BirthdayCoupon)
		}
	}
	if d.Name == Activation && len(d.Steps) > 0 && d.Steps[0].After != 0 {
		bad("steps[0].after", "the first activation step runs at enrollment; it takes no after:")
	}
	return errors.Join(errs...)
}

// StepTime is when a timed step falls for an anchor: anchor + After −
// Before. Local times are applied by the caller, in the member's zone.
func (s Step) StepTime(anchor time.Time) time.Time {
	return anchor.Add(s.After.D() - s.Before.D())
}
