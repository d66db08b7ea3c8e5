package journeyv1_test

import (
	"strings"
	"testing"
	"time"

	journey "github.com/memberflow/memberflow/internal/journey/v1"
)

func checks() journey.Checks {
	return journey.Checks{
		Template: func(string) error { return nil },
		Coupon:   func(k string) bool { return k == "NEW8" || k == "C15" || k == "FREE25" },
	}
}

func TestLoadShipped(t *testing.T) {
	set, err := journey.Load(journey.Files, checks())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, name := range journey.Names {
		d, ok := set[name]
		if !ok || !d.Enabled || d.Version < 1 {
			t.Errorf("%s: loaded %v, enabled %v", name, ok, d.Enabled)
		}
	}
	act := set[journey.Activation]
	if s, _ := act.Step("nudge"); s.After.D() != 72*time.Hour {
		t.Errorf("activation nudge after = %s, want 72h", s.After.D())
	}
	if s, _ := act.Step("welcome"); s.Reward == nil || s.Reward.Coupon != "NEW8" {
		t.Errorf("welcome reward = %+v, want NEW8", s.Reward)
	}
	wb := set[journey.Winback]
	if s, _ := wb.Step("d120"); s.Reward == nil || s.Reward.Boost == nil || s.Reward.Boost.Days != 14 || s.Reward.Boost.Multiplier.String() != "2" {
		t.Errorf("winback d120 reward = %+v", s.Reward)
	}
	// Pinning round-trips.
	back, err := journey.Parse(wb.JSON())
	if err != nil || back.JSON() != wb.JSON() {
		t.Errorf("pinned round trip: %v\n%s\n%s", err, back.JSON(), wb.JSON())
	}
}

func TestValidationNamesKeyAndRule(t *testing.T) {
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
	cases := []struct{ name, from, to, want string }{
		{"unknown key", "enabled: true", "enabled: true\ncolour: red", "field colour not found"},
		{"bad duration", "after: 3d", "after: three days", "is not a duration"},
		{"bad coupon", "coupon: NEW8", "coupon: NEW9", `steps[0].reward.coupon: "NEW9" is not a coupon`},
		{"out of order", "after: 3d", "after: 0s\n    before: 1d", "steps[1].before"},
		{"duplicate step", "name: nudge", "name: welcome", `steps[1].name: "welcome" is used`},
		{"bad step name", "name: nudge", "name: Nudge!", "steps[1].name"},
		{"version", "version: 1", "version: 0", "version: must be at least 1"},
		{"local time on activation", "after: 3d", "after: 3d\n    local_time: \"10:00\"", "steps[1].local_time"},
		{"nothing to do", "    email: activation_nudge\n", "", "a step must send an email or grant a reward"},
		{"trigger not of journey", "after: 3d", "on: converted", "steps[1].on"},
		{"welcome delayed", "    email: activation_welcome\n", "    email: activation_welcome\n    after: 1h\n", "steps[0].after"},
	}
	if _, err := journey.Decode([]byte(good), checks()); err != nil {
		t.Fatalf("good definition: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(good, c.from, c.to, 1)
			_, err := journey.Decode([]byte(src), checks())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	tmplErr := checks()
	tmplErr.Template = func(n string) error {
		if n == "activation_nudge" {
			return &missing{n}
		}
		return nil
	}
	if _, err := journey.Decode([]byte(good), tmplErr); err == nil || !strings.Contains(err.Error(), "steps[1].email: no template activation_nudge") {
		t.Errorf("missing template: %v", err)
	}
}

type missing struct{ name string }

func (m *missing) Error() string { return "no template " + m.name }

func TestTrialNeedsBothOutcomes(t *testing.T) {
	src := `name: trial
version: 1
enabled: true
steps:
  - { name: reminder, before: 1d, email: trial_reminder }
  - { name: thanks, on: converted, email: trial_thanks }
`
	_, err := journey.Decode([]byte(src), checks())
	if err == nil || !strings.Contains(err.Error(), "on: ended") {
		t.Errorf("err = %v, want a missing on: ended step", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "72h": 72 * time.Hour, "90s": 90 * time.Second} {
		got, err := journey.ParseDuration(in)
		if err != nil || got.D() != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got.D(), err, want)
		}
	}
}

func TestBirthdayStepMustGrantTheProgrammesGift(t *testing.T) {
	c := checks()
	c.BirthdayCoupon = "C15"
	src := `name: birthday
version: 1
enabled: true
steps:
  - { name: gift, local_time: "10:00", email: birthday_gift, reward: { coupon: C15 } }
`
	if _, err := journey.Decode([]byte(src), c); err != nil {
		t.Fatalf("shipped shape: %v", err)
	}
	for name, bad := range map[string]string{
		"other coupon": strings.Replace(src, "coupon: C15", "coupon: FREE25", 1),
		"no reward":    strings.Replace(src, ", reward: { coupon: C15 }", "", 1),
		"after":        strings.Replace(src, "local_time", "after: 1d, local_time", 1),
	} {
		if _, err := journey.Decode([]byte(bad), c); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

func TestParseDurationRefusesWhatADurationCannotHold(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"106751d", 106751 * 24 * time.Hour, true},
		{"106752d", 0, false},               // wrapped to a negative duration
		{"213504d", 0, false},               // wrapped to about 25 minutes
		{"99999999999999999999d", 0, false}, // not even an int64
	} {
		got, err := journey.ParseDuration(tc.in)
		if (err == nil) != tc.ok || got.D() != tc.want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s, ok %v", tc.in, got.D(), err, tc.want, tc.ok)
		}
	}
}
