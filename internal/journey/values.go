package journey

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// The patterns of the language. templates/journeys/journey.schema.json
// carries the same expressions (a test holds them equal), so an editor
// and Parse or Validate refuse the same values.
const (
	// NamePattern is what a journey name looks like: it is the journey's
	// identity in keys, workflow IDs and URLs.
	NamePattern = `^[a-z][a-z0-9_]{1,40}$`
	// StepIDPattern is what a step id looks like: it is part of
	// idempotency keys, so it is short and plain.
	StepIDPattern = `^[a-z][a-z0-9_]{0,40}$`
	// AttributePattern is what a member attribute set by an update step
	// (or read by a date rule) looks like.
	AttributePattern = `^[a-z][a-z0-9_]{0,40}$`
	// VarPattern is what a template variable name looks like.
	VarPattern = `^[A-Za-z_][A-Za-z0-9_]*$`
	// ClockPattern is a member-local time of day, "HH:MM" (24 hours).
	ClockPattern = `^([01][0-9]|2[0-3]):[0-5][0-9]$`
	// DatePattern is a calendar day, "YYYY-MM-DD".
	DatePattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`
	// DurationPattern is every duration the language reads: whole days
	// ("30d") or what time.ParseDuration reads ("72h", "90s", "1h30m"),
	// negative for offsets.
	DurationPattern = `^-?([0-9]+d|0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$`
	// PercentPattern is a share written as a string: "5%" or "2.5%".
	PercentPattern = `^[0-9]+(\.[0-9]+)?%$`
)

var (
	validName      = regexp.MustCompile(NamePattern)
	validStepID    = regexp.MustCompile(StepIDPattern)
	validAttribute = regexp.MustCompile(AttributePattern)
	validVar       = regexp.MustCompile(VarPattern)
	validClock     = regexp.MustCompile(ClockPattern)
	validDate      = regexp.MustCompile(DatePattern)
	validDuration  = regexp.MustCompile(DurationPattern)
	validPercent   = regexp.MustCompile(PercentPattern)
	dayDuration    = regexp.MustCompile(`^(-?)([0-9]+)d$`)
)

// Day is the "d" of durations: 24 hours, whatever the calendar says
// (delays that follow the calendar use until or until_date).
const Day = 24 * time.Hour

// maxDays is the most days a time.Duration holds (about 292 years); more
// would wrap around to some other duration (journeyv1's FuzzJourneyDuration
// found that).
const maxDays = int64(math.MaxInt64 / int64(Day))

// ParseDuration reads "<n>d" (days of 24 hours, "-<n>d" for offsets
// before a date) or the forms of time.ParseDuration without a "+" sign
// ("72h", "90s", "1h30m"), refusing what a time.Duration cannot hold.
func ParseDuration(s string) (Duration, error) {
	if !validDuration.MatchString(s) {
		return 0, fmt.Errorf("%q is not a duration like 90s, 72h or 30d", s)
	}
	if m := dayDuration.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil || n > maxDays {
			return 0, fmt.Errorf("%q is too long: at most %dd", s, maxDays)
		}
		d := time.Duration(n) * Day
		if m[1] == "-" {
			d = -d
		}
		return Duration(d), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is too long for a duration", s)
	}
	return Duration(d), nil
}

// String writes whole days as "<n>d" and anything else the way
// time.Duration does, so ParseDuration reads it back as the same value.
func (d Duration) String() string {
	if d != 0 && time.Duration(d)%Day == 0 {
		return strconv.FormatInt(int64(time.Duration(d)/Day), 10) + "d"
	}
	return time.Duration(d).String()
}

// MarshalJSON writes the duration as its String.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string like 30d: %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration as its String.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := durationNode(n)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// durationNode reads a duration from a YAML node: strings only, so that
// `for: 30` (thirty what?) is refused.
func durationNode(n *yaml.Node) (Duration, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return 0, fmt.Errorf("must be a duration like 90s, 72h or 30d, not %s", describe(n))
	}
	return ParseDuration(n.Value)
}

// maxDigits bounds the digits and the exponent of exact decimals in a
// definition: multipliers and shares are small numbers, and "1e999999999"
// would otherwise take gigabytes to print.
const maxDigits = 30

// parseDecimal reads an exact decimal and returns it in its shortest form
// (2.0 reads as 2), so that a definition read back from its canonical JSON
// is equal to the one it was written from.
func parseDecimal(s string) (decimal.Decimal, error) {
	v, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, err
	}
	if v.NumDigits() > maxDigits || v.Exponent() > maxDigits || v.Exponent() < -maxDigits {
		return decimal.Decimal{}, fmt.Errorf("more than %d digits", maxDigits)
	}
	if v.IsZero() {
		return decimal.Decimal{}, nil
	}
	return decimal.NewFromString(v.String())
}

// decimalNode reads a number or a numeric string from a YAML node.
func decimalNode(n *yaml.Node) (decimal.Decimal, error) {
	switch {
	case n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float" || n.ShortTag() == "!!str"):
		v, err := parseDecimal(strings.ReplaceAll(n.Value, "_", ""))
		if err != nil {
			return decimal.Decimal{}, fmt.Errorf("must be a number like 2 or 1.5, not %q", n.Value)
		}
		return v, nil
	default:
		return decimal.Decimal{}, fmt.Errorf("must be a number like 2 or 1.5, not %s", describe(n))
	}
}

// hundred is the most a Percent holds.
var hundred = decimal.NewFromInt(100)

// ParsePercent reads "5%", "2.5%" or a number (5 means 5%) between 0 and
// 100, exactly.
func ParsePercent(s string) (Percent, error) {
	num := s
	if validPercent.MatchString(s) {
		num = strings.TrimSuffix(s, "%")
	}
	v, err := parseDecimal(num)
	if err != nil {
		return Percent{}, fmt.Errorf("%q is not a share like 5%%", s)
	}
	if v.IsNegative() || v.GreaterThan(hundred) {
		return Percent{}, fmt.Errorf("%q is not between 0%% and 100%%", s)
	}
	return Percent(v), nil
}

// Decimal is the share in percent (5 for 5%).
func (p Percent) Decimal() decimal.Decimal { return decimal.Decimal(p) }

// IsZero reports whether the share is 0%.
func (p Percent) IsZero() bool { return decimal.Decimal(p).IsZero() }

// String writes the share as "5%".
func (p Percent) String() string { return decimal.Decimal(p).String() + "%" }

// MarshalJSON writes the share as its String.
func (p Percent) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// UnmarshalJSON reads "5%" or a number.
func (p *Percent) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("a share must be a string like 5%% or a number: %w", err)
		}
		s = n.String()
	}
	v, err := ParsePercent(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// UnmarshalYAML reads "5%" or a number.
func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	v, err := percentNode(n)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// percentNode reads a share from a YAML node: a "5%" string or a number; a
// string without "%" is refused, as the schema does.
func percentNode(n *yaml.Node) (Percent, error) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str":
			if !validPercent.MatchString(n.Value) {
				return Percent{}, fmt.Errorf("must be a share like 5%%, not %q", n.Value)
			}
			return ParsePercent(n.Value)
		case "!!int", "!!float":
			return ParsePercent(strings.ReplaceAll(n.Value, "_", ""))
		}
	}
	return Percent{}, fmt.Errorf("must be a share like 5%%, not %s", describe(n))
}

// MarshalJSON writes one event type as a string and several as a list.
func (e Events) MarshalJSON() ([]byte, error) {
	if len(e) == 1 {
		return json.Marshal(e[0])
	}
	return json.Marshal([]string(e))
}

// UnmarshalJSON reads a string or a list of strings.
func (e *Events) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*e = Events{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("event must be an event type or a list of them: %w", err)
	}
	if len(many) == 0 {
		many = nil
	}
	*e = many
	return nil
}

// UnmarshalYAML reads a string or a list of strings.
func (e *Events) UnmarshalYAML(n *yaml.Node) error {
	var d decoder
	d.events(n, "event", e)
	if len(d.problems) > 0 {
		return fmt.Errorf("%s", d.problems[0].Rule)
	}
	return nil
}

// ParseClock reads a member-local time of day "HH:MM".
func ParseClock(s string) (hour, minute int, err error) {
	if !validClock.MatchString(s) {
		return 0, 0, fmt.Errorf("%q is not a time of day like 10:00", s)
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not a time of day like 10:00", s)
	}
	return t.Hour(), t.Minute(), nil
}

// DefaultAt is the member-local time of day of a date rule or an
// inactivity trigger without one.
const DefaultAt = "10:00"

// clockOffset is the time of day at (DefaultAt when empty) as a duration
// from midnight.
func clockOffset(at string) time.Duration {
	if at == "" {
		at = DefaultAt
	}
	h, m, err := ParseClock(at)
	if err != nil {
		return 0
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
}
