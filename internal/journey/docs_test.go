package journey

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/mail"
)

// The documents the tests read live here (and in testdata/*.yaml), so
// that TestFuzzSeeds can keep every one of them in FuzzParseJourney's
// corpus and TestSchemaAgreesWithGo can hold the schema to each.

// fixtures are the example journeys in testdata, by name.
var fixtures = []string{"svip_upsell", "member_day"}

// fixture reads testdata/<name>.yaml.
func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// kitchenSink uses every step kind and every part of a definition, with
// an event trigger.
const kitchenSink = `# yaml-language-server: $schema=../../../templates/journeys/journey.schema.json
name: kitchen_sink
description: Every step kind
priority: 10
holdout: 5%
trigger:
  event: order.paid
  when: "event.data.amount >= 500"
entry:
  audience: "member.consent.email_marketing"
  once: false
  cooldown: 90d
goal:
  event: subscription.converted
  when: "event.data.plan == 'svip'"
  check: "member.paid.status == 'active'"
  within: 30d
  exit: true
exit:
  - event: member.unsubscribed
  - { event: order.refunded, when: "event.data.amount > 0" }
steps:
  - id: welcome
    send: { email: welcome, vars: { headline: "'Hello ' + member.name" } }
    reward: { coupon: FREE25 }
    expires: 3d
  - id: pause
    delay: { for: 3d }
  - id: wait_trial
    wait: { event: [subscription.trial_started, order.paid], when: "event.type != ''", timeout: 2d, on_event: tag, on_timeout: check }
  - id: check
    branch:
      - { when: "member.tier in ['V3', 'V4']", goto: ab }
      - { goto: end }
  - id: ab
    split:
      - { weight: 50, goto: offer }
      - { weight: 50, goto: tag }
  - id: offer
    reward: { points: 10, boost: { multiplier: "1.5", days: 14 } }
    goto: tag
  - id: tag
    update: { set: { vip_since: "now" }, add_tags: [vip], remove_tags: [prospect] }
  - id: notify
    webhook: { url: "https://crm.example/hook", body: { member: "member.id" } }
  - id: morning
    delay: { until: "09:00" }
  - id: done
    end: {}
`

// birthdayJourney has a date trigger that is calendar-runnable.
const birthdayJourney = `name: birthday
trigger:
  date: { attribute: birthday, offset: -7d, at: "09:00" }
steps:
  - id: early
    send: { email: plain }
  - id: to_the_day
    delay: { until_date: { attribute: birthday, at: "10:00" } }
  - id: gift
    send: { email: plain }
    reward: { birthday_gift: true }
  - id: later
    delay: { for: 3d }
  - id: reminder
    send: { email: plain }
    expires: 1d
`

// winbackJourney has an inactivity trigger and a weekly broadcast's
// cousin: a JSON source.
const winbackJourney = `{
	"name": "winback",
	"trigger": {"inactivity": {"event": "order.paid", "for": "60d"}},
	"entry": {"once": true},
	"exit": [{"event": "order.paid"}],
	"steps": [
		{"id": "miss_you", "send": {"email": "plain"}, "reward": {"coupon": "FREE25"}},
		{"id": "later", "delay": {"for": "14d"}},
		{"id": "last", "send": {"email": "plain"}, "goto": "end"}
	]
}
`

// weeklyBroadcast is a weekly broadcast with a webhook and an update.
const weeklyBroadcast = `name: weekly_digest
trigger:
  broadcast: { audience: "member.consent.email_marketing", at: "08:30", every: week, weekday: monday }
steps:
  - id: digest
    send: { email: plain }
  - id: mark
    update: { set: { digest_at: "now" } }
  - id: wait_a_week
    delay: { until_date: { attribute: digest_at, offset: 7d } }
  - id: ping
    webhook: { url: "http://127.0.0.1:8080/hook" }
`

// apiJourney is enrolled by HTTP and loops with a wait in the loop.
const apiJourney = `name: nudges
trigger:
  api: {}
steps:
  - id: nudge
    send: { email: plain }
  - id: listen
    wait: { event: order.paid, timeout: 30d, on_event: end, on_timeout: nudge }
`

// bases are the valid documents the tables edit.
var bases = map[string]string{
	"kitchen":   kitchenSink,
	"birthday":  birthdayJourney,
	"winback":   winbackJourney,
	"broadcast": weeklyBroadcast,
	"api":       apiJourney,
}

// baseNames is bases' keys in a stable order.
func baseNames() []string {
	names := make([]string, 0, len(bases))
	for n := range bases {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// edit replaces the first from in src with to, failing when from is not
// there (a table row whose edit silently did nothing would test nothing).
func edit(tb testing.TB, name, src, from, to string) []byte {
	tb.Helper()
	if !strings.Contains(src, from) {
		tb.Fatalf("%s: %q not found in the base document", name, from)
	}
	return []byte(strings.Replace(src, from, to, 1))
}

// catalog is the fake email catalog: what each template requires.
var catalog = map[string][]string{
	"welcome":    append(slices.Clone(mail.BaseVars), "coupon_code", "headline"),
	"svip_offer": append(slices.Clone(mail.BaseVars), "coupon_name", "coupon_code", "coupon_valid_until"),
	"member_day": append(slices.Clone(mail.BaseVars), "boost_multiplier", "boost_until"),
	"plain":      slices.Clone(mail.BaseVars),
	"needs_days": append(slices.Clone(mail.BaseVars), "days_left"),
}

// errNoTemplate is the fake catalog's unknown template.
var errNoTemplate = errors.New("no such template in templates/email")

// standardVars is what activities gives every send: mail.BaseVars and the
// variables of the step's reward.
func standardVars(s Step) []string {
	vars := slices.Clone(mail.BaseVars)
	if r := s.Reward; r != nil {
		if r.Coupon != "" {
			vars = append(vars, "coupon_code", "coupon_name", "coupon_valid_until")
		}
		if r.Boost != nil {
			vars = append(vars, "boost_multiplier", "boost_until")
		}
	}
	return vars
}

// eventTypes are the event types the tests' checks know.
func eventTypes() []string {
	var out []string
	for _, t := range events.Types() {
		out = append(out, string(t))
	}
	return append(out, "member.segment_changed")
}

// colError is a compile error pointing at a column, as cond's are.
type colError struct {
	col int
	msg string
}

func (e *colError) Error() string { return e.msg }
func (e *colError) Column() int   { return e.col }

// fakeCEL stands in for internal/journey/cond: "??" does not compile (at
// its column), a bool expression may not end in "+ 1", and with a calls
// map every call is recorded so tests can see what each place was
// compiled as.
type fakeCEL struct {
	mu    sync.Mutex
	calls map[string]string // expr → "kind events"
}

func (f *fakeCEL) Compile(expr string, kind CondKind, eventTypes []string) error {
	f.mu.Lock()
	if f.calls != nil {
		f.calls[expr] = fmt.Sprintf("%s %v", kind, eventTypes)
	}
	f.mu.Unlock()
	if i := strings.Index(expr, "??"); i >= 0 {
		return &colError{col: len([]rune(expr[:i])) + 1, msg: "Syntax error: token recognition error at: '??'"}
	}
	if kind == CondBool && strings.HasSuffix(expr, "+ 1") {
		return errors.New("found no matching overload: the condition is an int, not a bool")
	}
	return nil
}

// testChecks are the checks of a programme with the fake catalog, the
// programme's coupons and every event type.
func testChecks() Checks {
	return Checks{
		Template: func(name string) ([]string, error) {
			req, ok := catalog[name]
			if !ok {
				return nil, errNoTemplate
			}
			return req, nil
		},
		StandardVars:   standardVars,
		Coupon:         func(kind string) bool { return slices.Contains([]string{"NEW8", "C15", "FREE25"}, kind) },
		Conditions:     &fakeCEL{},
		EventTypes:     eventTypes(),
		DateAttributes: MemberDates,
	}
}
