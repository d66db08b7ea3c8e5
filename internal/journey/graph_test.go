package journey

import (
	"reflect"
	"testing"
	"time"
)

func TestTargets(t *testing.T) {
	d, err := Parse([]byte(kitchenSink))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id   string
		want []string
	}{
		{"welcome", []string{"pause"}},           // next in order
		{"wait_trial", []string{"tag", "check"}}, // on_event, on_timeout
		{"check", []string{"ab", End}},           // the cases
		{"ab", []string{"offer", "tag"}},         // the paths
		{"offer", []string{"tag"}},               // goto
		{"morning", []string{"done"}},            // a delay goes on
		{"done", nil},                            // end
		{"nowhere", nil},                         // no such step
	}
	for _, tc := range tests {
		if got := d.Targets(tc.id); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Targets(%s) = %v, want %v", tc.id, got, tc.want)
		}
	}

	// A branch whose last case has a when ends the enrollment when no
	// case holds; the last step goes on to end.
	d, err = Parse(edit(t, "targets", kitchenSink, "- { goto: end }", `- { when: "true", goto: tag }`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Targets("check"), []string{"ab", "tag", End}; !reflect.DeepEqual(got, want) {
		t.Errorf("Targets(check) = %v, want %v", got, want)
	}
	d, err = Parse([]byte(apiJourney))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Targets("listen"), []string{End, "nudge"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Targets(listen) = %v, want %v", got, want)
	}
	d.Steps = d.Steps[:1]
	if got, want := d.Targets("nudge"), []string{End}; !reflect.DeepEqual(got, want) {
		t.Errorf("Targets(nudge) as the last step = %v, want %v", got, want)
	}
}

func TestCalendarRunnable(t *testing.T) {
	const h = time.Hour
	tests := []struct {
		name, base, from, to string
		want                 []time.Duration // nil: not calendar-runnable
	}{
		// -7d at 09:00, then the birthday at 10:00 (twice: the delay
		// moves to it, the gift falls on it), then 3 days later.
		{"birthday", "birthday", "", "", []time.Duration{-7*Day + 9*h, 10 * h, 3*Day + 10*h}},
		// 60 days after the last order at 10:00, then 14 days later; a
		// final goto: end is allowed.
		{"winback", "winback", "", "", []time.Duration{60*Day + 10*h, 74*Day + 10*h}},
		{"event-trigger", "kitchen", "", "", nil},
		{"broadcast-trigger", "broadcast", "", "", nil},
		{"api-trigger", "api", "", "", nil},
		{"until-time-of-day", "birthday", "delay: { for: 3d }", `delay: { until: "10:00" }`, nil},
		{"until-other-date", "birthday", "until_date: { attribute: birthday,", "until_date: { attribute: registered_at,", nil},
		{"until-date-back-in-time", "birthday", `until_date: { attribute: birthday, at: "10:00" }`, `until_date: { attribute: birthday, offset: -8d }`, nil},
		{"goto-back", "birthday", "    expires: 1d\n", "    expires: 1d\n    goto: early\n", nil},
		{"goto-next-anyway", "birthday", "    send: { email: plain }\n  - id: to_the_day", "    send: { email: plain }\n    goto: to_the_day\n  - id: to_the_day", []time.Duration{-7*Day + 9*h, 10 * h, 3*Day + 10*h}},
		{"other-kind", "winback", `{"id": "later", "delay": {"for": "14d"}},`, `{"id": "later", "wait": {"event": "order.paid", "timeout": "14d", "on_event": "end", "on_timeout": "last"}},`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(bases[tc.base])
			if tc.from != "" {
				src = edit(t, tc.name, bases[tc.base], tc.from, tc.to)
			}
			d, err := Decode(src, testChecks())
			if err != nil {
				t.Fatal(err)
			}
			if got := d.CalendarRunnable(); got != (tc.want != nil) {
				t.Errorf("CalendarRunnable = %v, want %v", got, tc.want != nil)
			}
			if got := d.StepOffsets(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("StepOffsets = %v, want %v", got, tc.want)
			}
		})
	}
}
