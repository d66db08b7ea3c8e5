package journeyv1_test

import (
	"io/fs"
	"math/big"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
	"github.com/memberflow/memberflow/templates"
)

// shippedChecks are the checks journey.Shipped validates with: the
// committed email templates and the default programme's coupons.
func shippedChecks(tb testing.TB) journey.Checks {
	tb.Helper()
	cat, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		tb.Fatal(err)
	}
	return journey.Checks{
		Template:       func(name string) error { _, err := cat.Group(name); return err },
		Coupon:         func(kind string) bool { _, ok := p.Coupon(kind); return ok },
		BirthdayCoupon: p.Birthday.Coupon,
	}
}

// keyed matches a problem that starts with the key it is about.
var keyed = regexp.MustCompile(`^(parse: |(name|version|steps)(\[\d+\](\.[a-z_.]+)?)?: )`)

// FuzzLoadJourney checks Decode on any file: what it accepts keeps every
// promise the workflows rely on (a journey memberflow runs, named steps in
// time order, each sending a known template or granting a real reward),
// and survives pinning: the JSON put into an enrollment reads back as the
// same definition, which still validates.
func FuzzLoadJourney(f *testing.F) {
	c := shippedChecks(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := journey.Decode(src, c)
		if err != nil {
			// Every problem names its key (or says the YAML would not
			// parse); problems come joined, one per line.
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				if !keyed.MatchString(e.Error()) {
					t.Fatalf("problem %q names no key", e)
				}
			}
			return
		}
		if !slices.Contains(journey.Names, d.Name) || d.Version < 1 || len(d.Steps) == 0 {
			t.Fatalf("accepted name %q, version %d, %d steps", d.Name, d.Version, len(d.Steps))
		}
		var last time.Duration
		for i, s := range d.Steps {
			if got, ok := d.Step(s.Name); !ok || got.Name != s.Name || slices.IndexFunc(d.Steps, func(o journey.Step) bool { return o.Name == s.Name }) != i {
				t.Fatalf("step %q is not found as itself, or is repeated", s.Name)
			}
			if s.After < 0 || s.Before < 0 || s.Expires < 0 || s.Window < 0 {
				t.Fatalf("step %s has a negative duration: %+v", s.Name, s)
			}
			if s.On == "" {
				at := s.After.D() - s.Before.D()
				if i > 0 && at < last {
					t.Fatalf("step %s at %s comes before the previous step at %s", s.Name, at, last)
				}
				last = at
			}
			if s.LocalTime != "" {
				if h, m, ok := s.Clock(); !ok || h < 0 || h > 23 || m < 0 || m > 59 {
					t.Fatalf("step %s local_time %q reads as %d:%d, %v", s.Name, s.LocalTime, h, m, ok)
				}
			}
			if s.Email == "" && s.Reward == nil {
				t.Fatalf("step %s does nothing", s.Name)
			}
			if s.Email != "" && c.Template(s.Email) != nil {
				t.Fatalf("step %s sends unknown template %q", s.Name, s.Email)
			}
			if r := s.Reward; r != nil {
				if r.Coupon != "" && !c.Coupon(r.Coupon) {
					t.Fatalf("step %s grants unknown coupon %q", s.Name, r.Coupon)
				}
				if b := r.Boost; b != nil && (!b.Multiplier.GreaterThan(decimal.NewFromInt(1)) || b.Days < 1) {
					t.Fatalf("step %s boost %s for %d days", s.Name, b.Multiplier, b.Days)
				}
			}
		}
		pinned := d.JSON()
		back, err := journey.Parse(pinned)
		if err != nil {
			t.Fatalf("pinned definition does not parse: %v\n%s", err, pinned)
		}
		if back.JSON() != pinned {
			t.Fatalf("pinned definition reads back differently:\n%s\n%s", back.JSON(), pinned)
		}
		if err := back.Validate(c); err != nil {
			t.Fatalf("pinned definition no longer validates: %v", err)
		}
	})
}

// days matches the "<n>d" form of a duration.
var days = regexp.MustCompile(`^(\d+)d$`)

// FuzzJourneyDuration checks ParseDuration, which reads every after:,
// before:, expires: and window: of a journey file: "<n>d" is exactly n days
// of 24 hours or an error, never a different duration, and every other form
// means what time.ParseDuration says.
func FuzzJourneyDuration(f *testing.F) {
	day := big.NewInt(int64(24 * time.Hour))
	f.Fuzz(func(t *testing.T, s string) {
		d, err := journey.ParseDuration(s)
		if m := days.FindStringSubmatch(s); m != nil {
			n, _ := new(big.Int).SetString(m[1], 10)
			want := new(big.Int).Mul(n, day)
			if err == nil && (!want.IsInt64() || want.Int64() != int64(d)) {
				t.Fatalf("ParseDuration(%q) = %s (%d ns), want %s ns", s, d.D(), int64(d), want)
			}
			if err != nil && want.IsInt64() {
				t.Fatalf("ParseDuration(%q): %v, want %s ns", s, err, want)
			}
			return
		}
		want, werr := time.ParseDuration(s)
		if (err == nil) != (werr == nil) || (err == nil && d.D() != want) {
			t.Fatalf("ParseDuration(%q) = %s, %v; time.ParseDuration says %s, %v", s, d.D(), err, want, werr)
		}
	})
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzLoadJourney equal to the journey
// files the tests decode (the shipped ones, and the snippets of
// journey_test.go with each edit it makes), and FuzzJourneyDuration's to
// the durations they use. go test ./internal/journey -run
// TestFuzzSeeds -update-seeds rewrites it.
func TestFuzzSeeds(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, name := range journey.Names {
		b, err := fs.ReadFile(journey.Files, path.Join(journey.Dir, name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, fuzzseed.New("shipped-"+name, b))
	}
	replace := func(name, src, from, to string) {
		if !strings.Contains(src, from) {
			t.Fatalf("seed %s: %q not found", name, from)
		}
		seeds = append(seeds, fuzzseed.New(name, []byte(strings.Replace(src, from, to, 1))))
	}

	// TestValidationNamesKeyAndRule.
	const good = `name: activation
version: 1
enabled: true
steps:
  - name: welcome
    email: activation_welcome
    reward: { coupon: NEW8 }
  - name: nudge
    after: 3d
    email: activation_nudge
`
	seeds = append(seeds, fuzzseed.New("activation-good", []byte(good)))
	for _, e := range []struct{ name, from, to string }{
		{"unknown-key", "enabled: true", "enabled: true\ncolour: red"},
		{"bad-duration", "after: 3d", "after: three days"},
		{"bad-coupon", "coupon: NEW8", "coupon: NEW9"},
		{"out-of-order", "after: 3d", "after: 0s\n    before: 1d"},
		{"duplicate-step", "name: nudge", "name: welcome"},
		{"bad-step-name", "name: nudge", "name: Nudge!"},
		{"version", "version: 1", "version: 0"},
		{"local-time-on-activation", "after: 3d", "after: 3d\n    local_time: \"10:00\""},
		{"nothing-to-do", "    email: activation_nudge\n", ""},
		{"trigger-not-of-journey", "after: 3d", "on: converted"},
		{"welcome-delayed", "    email: activation_welcome\n", "    email: activation_welcome\n    after: 1h\n"},
	} {
		replace("activation-"+e.name, good, e.from, e.to)
	}

	// TestTrialNeedsBothOutcomes.
	seeds = append(seeds, fuzzseed.New("trial-one-outcome", []byte(`name: trial
version: 1
enabled: true
steps:
  - { name: reminder, before: 1d, email: trial_reminder }
  - { name: thanks, on: converted, email: trial_thanks }
`)))

	// TestBirthdayStepMustGrantTheProgrammesGift.
	const birthday = `name: birthday
version: 1
enabled: true
steps:
  - { name: gift, local_time: "10:00", email: birthday_gift, reward: { coupon: C15 } }
`
	seeds = append(seeds, fuzzseed.New("birthday-good", []byte(birthday)))
	replace("birthday-other-coupon", birthday, "coupon: C15", "coupon: FREE25")
	replace("birthday-no-reward", birthday, ", reward: { coupon: C15 }", "")
	replace("birthday-after", birthday, "local_time", "after: 1d, local_time")

	fuzzseed.Check(t, "FuzzLoadJourney", seeds)

	// TestParseDuration's inputs, every duration of the shipped files,
	// and the edges of int64 nanoseconds.
	var durations []fuzzseed.Seed
	for _, d := range []string{"30d", "72h", "90s", "3d", "4d", "7d", "6d", "20d", "5d", "1d", "12h", "0s", "1h30m", "-1d", "106751d", "106752d", "213504d", "99999999999999999999d", "9223372036854775807s"} {
		durations = append(durations, fuzzseed.New("d"+strings.ReplaceAll(d, "-", "minus"), d))
	}
	fuzzseed.Check(t, "FuzzJourneyDuration", durations)
}
