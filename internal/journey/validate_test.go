package journey

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// ruleCase is one edit of a valid base document and the problem it must
// cause: the path, and a phrase of the rule. schema says whether the
// JSON Schema sees the mistake too (it cannot see the catalog, the
// programme, CEL or the step graph).
type ruleCase struct {
	name, base, from, to string
	path, rule           string
	schema               bool
}

// ruleCases are the rules of Validate, one edit each.
var ruleCases = []ruleCase{
	// The definition.
	{"name-pattern", "kitchen", "name: kitchen_sink", "name: Kitchen-Sink", "name", "lower-case letters", true},
	{"name-too-short", "kitchen", "name: kitchen_sink", "name: k", "name", "2 to 41", true},
	{"priority-range", "kitchen", "priority: 10", "priority: 101", "priority", "between 0 and 100", true},
	{"priority-negative", "kitchen", "priority: 10", "priority: -1", "priority", "between 0 and 100", true},
	{"holdout-range", "kitchen", "holdout: 5%", "holdout: 51%", "holdout", "at most 50%", true},
	{"holdout-number", "kitchen", "holdout: 5%", "holdout: 60", "holdout", "at most 50%", true},

	// The trigger.
	{"trigger-two-kinds", "kitchen", "  event: order.paid\n", "  event: order.paid\n  api: {}\n", "trigger", "exactly one of event, date, inactivity, api, broadcast, not event and api", true},
	{"trigger-no-kind", "birthday", "trigger:\n  date: { attribute: birthday, offset: -7d, at: \"09:00\" }\n", "trigger: {}\n", "trigger", "needs exactly one", true},
	{"trigger-when-without-event", "kitchen", "  event: order.paid\n", "  api: {}\n", "trigger.when", "only goes with trigger.event", true},
	{"trigger-event-unknown", "kitchen", "event: order.paid\n  when", "event: order.payed\n  when", "trigger.event", `"order.payed" is not an event type`, false},
	{"trigger-date-attribute-unknown", "birthday", "date: { attribute: birthday,", "date: { attribute: anniversary,", "trigger.date.attribute", `"anniversary" is not a member date`, false},
	{"trigger-date-attribute-pattern", "birthday", "date: { attribute: birthday,", "date: { attribute: Birthday,", "trigger.date.attribute", "not an attribute name", true},
	{"trigger-date-at", "birthday", `offset: -7d, at: "09:00"`, `offset: -7d, at: "9:00"`, "trigger.date.at", "HH:MM", true},
	{"trigger-date-at-hour", "birthday", `offset: -7d, at: "09:00"`, `offset: -7d, at: "24:00"`, "trigger.date.at", "HH:MM", true},
	{"trigger-date-offset-range", "birthday", "offset: -7d", "offset: -2000d", "trigger.date.offset", "within 5 years", false},
	{"broadcast-every", "broadcast", "every: week, weekday: monday", "every: fortnight", "trigger.broadcast.every", "once, day, week or month", true},
	{"broadcast-every-missing", "broadcast", "every: week, weekday: monday", "weekday: monday", "trigger.broadcast.every", "is required", true},
	{"broadcast-week-needs-weekday", "broadcast", "every: week, weekday: monday", "every: week", "trigger.broadcast.weekday", "is required with every: week", true},
	{"broadcast-weekday", "broadcast", "weekday: monday", "weekday: mon", "trigger.broadcast.weekday", "must be one of monday", true},
	{"broadcast-day-only-monthly", "broadcast", "weekday: monday", "weekday: monday, day: 8", "trigger.broadcast.day", "only goes with every: month", true},
	{"broadcast-month-needs-day", "broadcast", "every: week, weekday: monday", "every: month", "trigger.broadcast.day", "is required with every: month", true},
	{"broadcast-day-range", "broadcast", "every: week, weekday: monday", "every: month, day: 29", "trigger.broadcast.day", "1 to 28", true},
	{"broadcast-once-needs-date", "broadcast", "every: week, weekday: monday", "every: once", "trigger.broadcast.date", "is required with every: once", true},
	{"broadcast-date", "broadcast", "every: week, weekday: monday", "every: once, date: 2027-02-30", "trigger.broadcast.date", "a day like 2027-01-08", false},
	{"broadcast-at-required", "broadcast", `at: "08:30", `, "", "trigger.broadcast.at", "is required", true},
	{"broadcast-at", "broadcast", `at: "08:30"`, `at: "8.30"`, "trigger.broadcast.at", "HH:MM", true},
	{"broadcast-rate", "broadcast", "weekday: monday", "weekday: monday, rate: -5", "trigger.broadcast.rate", "at least 1", true},
	{"broadcast-audience-cel", "broadcast", `audience: "member.consent.email_marketing"`, `audience: "member.points ?? 1"`, "trigger.broadcast.audience", "does not compile (column 15)", false},
	{"inactivity-for", "winback", `"for": "60d"`, `"for": "0s"`, "trigger.inactivity.for", "more than 0", false},
	{"inactivity-event", "winback", `{"event": "order.paid", "for"`, `{"event": "order.pay", "for"`, "trigger.inactivity.event", "not an event type", false},
	{"inactivity-at", "winback", `"for": "60d"}`, `"for": "60d", "at": "7am"}`, "trigger.inactivity.at", "HH:MM", true},

	// Entry, goal and exits.
	{"entry-cooldown-negative", "kitchen", "cooldown: 90d", "cooldown: -1d", "entry.cooldown", "must not be negative", true},
	{"entry-cooldown-range", "kitchen", "cooldown: 90d", "cooldown: 2000d", "entry.cooldown", "at most 5 years", false},
	{"entry-audience-cel", "kitchen", `audience: "member.consent.email_marketing"`, `audience: "member.consent.email_marketing + 1"`, "entry.audience", "not a bool", false},
	{"goal-needs-event-or-check", "kitchen", "  event: subscription.converted\n  when: \"event.data.plan == 'svip'\"\n  check: \"member.paid.status == 'active'\"\n", "", "goal", "needs event or check", true},
	{"goal-when-without-event", "kitchen", "  event: subscription.converted\n", "", "goal.when", "only goes with goal.event", true},
	{"goal-event-unknown", "kitchen", "event: subscription.converted", "event: subscription.convert", "goal.event", "not an event type", false},
	{"goal-within-negative", "kitchen", "within: 30d", "within: -30d", "goal.within", "must not be negative", true},
	{"end-reason", "kitchen", "    end: {}", "    end: { reason: Lapsed }", "steps[9].end.reason", "lower-case letters", true},
	{"goal-goto-with-exit", "kitchen", "within: 30d", "within: 30d\n  goto: welcome", "goal.goto", "goes with exit: false", false},
	{"goal-goto-unknown", "kitchen", "within: 30d\n  exit: true", "within: 30d\n  goto: nowhere", "goal.goto", `"nowhere"`, false},
	{"goal-goto-end", "kitchen", "within: 30d\n  exit: true", "within: 30d\n  goto: end", "goal.goto", "use exit: true", false},
	{"goal-check-cel", "kitchen", `check: "member.paid.status == 'active'"`, `check: "member.paid.status ?? 'active'"`, "goal.check", "column 20", false},
	{"exit-event-unknown", "kitchen", "- event: member.unsubscribed", "- event: member.gone", "exit[0].event", `"member.gone" is not an event type`, false},
	{"exit-when-cel", "kitchen", `when: "event.data.amount > 0"`, `when: "event.data.amount ?? 0"`, "exit[1].when", "does not compile", false},

	// Steps and ids.
	{"steps-none", "api", "steps:\n  - id: nudge\n    send: { email: plain }\n  - id: listen\n    wait: { event: order.paid, timeout: 30d, on_event: end, on_timeout: nudge }\n", "steps: []\n", "steps", "at least one step", true},
	{"step-id-missing", "api", "  - id: nudge\n    send", "  - send", "steps[0].id", "is required", true},
	{"step-id-pattern", "api", "id: nudge", "id: Nudge", "steps[0].id", "lower-case letters", true},
	{"step-id-end", "api", "id: listen", "id: end", "steps[1].id", "end is reserved", true},
	{"step-id-twice", "kitchen", "id: pause", "id: welcome", "steps[1].id", `"welcome" is also the id of steps[0]`, false},
	{"step-two-kinds", "kitchen", "    delay: { for: 3d }\n", "    delay: { for: 3d }\n    end: {}\n", "steps[1]", "not delay and end", true},
	{"step-no-kind", "kitchen", "    delay: { for: 3d }\n", "", "steps[1]", "needs one of send", true},
	{"goto-unknown", "kitchen", "    goto: tag\n", "    goto: tags\n", "steps[5].goto", `"tags" is not a step id`, false},
	{"goto-on-branch", "kitchen", "      - { goto: end }\n", "      - { goto: end }\n    goto: ab\n", "steps[3].goto", "a branch step goes where its cases says", true},
	{"goto-on-wait", "api", "on_timeout: nudge }", "on_timeout: nudge }\n    goto: end", "steps[1].goto", "remove goto", true},
	{"on-event-unknown", "kitchen", "on_event: tag", "on_event: tga", "steps[2].wait.on_event", `"tga" is not a step id`, false},
	{"on-timeout-missing", "kitchen", ", on_timeout: check", "", "steps[2].wait.on_timeout", "is required", true},
	{"branch-goto-unknown", "kitchen", "goto: ab }", "goto: abc }", "steps[3].branch[0].goto", `"abc" is not a step id`, false},
	{"branch-empty", "kitchen", "    branch:\n      - { when: \"member.tier in ['V3', 'V4']\", goto: ab }\n      - { goto: end }\n", "    branch: []\n", "steps[3].branch", "at least one case", true},
	{"branch-when-only-last", "kitchen", "      - { when: \"member.tier in ['V3', 'V4']\", goto: ab }\n      - { goto: end }\n", "      - { goto: ab }\n      - { goto: end }\n", "steps[3].branch[0].when", "only the last case may leave it out", false},
	{"branch-when-cel", "kitchen", `when: "member.tier in ['V3', 'V4']"`, `when: "member.tier ?? ['V3', 'V4']"`, "steps[3].branch[0].when", "column 13", false},
	{"split-one-path", "kitchen", "      - { weight: 50, goto: offer }\n", "", "steps[4].split", "at least two paths", true},
	{"split-weight", "kitchen", "weight: 50, goto: offer", "weight: 0, goto: offer", "steps[4].split[0].weight", "from 1 to 10000", true},
	{"split-goto", "kitchen", "weight: 50, goto: offer", "weight: 50, goto: offers", "steps[4].split[0].goto", `"offers" is not a step id`, false},

	// Step kinds.
	{"wait-event-unknown", "kitchen", "event: [subscription.trial_started, order.paid]", "event: [subscription.trial_started, order.payed]", "steps[2].wait.event[1]", `"order.payed" is not an event type`, false},
	{"wait-event-twice", "kitchen", "event: [subscription.trial_started, order.paid]", "event: [order.paid, order.paid]", "steps[2].wait.event[1]", "listed twice", true},
	{"wait-event-missing", "kitchen", "event: [subscription.trial_started, order.paid], ", "", "steps[2].wait.event", "is required", true},
	{"wait-no-timeout", "kitchen", "timeout: 2d, ", "", "steps[2].wait", "needs timeout or until_date", true},
	{"wait-timeout-and-date", "kitchen", "timeout: 2d, ", "timeout: 2d, until_date: { attribute: birthday }, ", "steps[2].wait", "exactly one of timeout, until_date", true},
	{"wait-timeout-negative", "kitchen", "timeout: 2d", "timeout: -2d", "steps[2].wait.timeout", "more than 0", true},
	{"wait-timeout-range", "kitchen", "timeout: 2d", "timeout: 2000d", "steps[2].wait.timeout", "at most 5 years", false},
	{"wait-when-cel", "kitchen", `when: "event.type != ''"`, `when: "event.type ?? ''"`, "steps[2].wait.when", "does not compile", false},
	{"delay-none", "kitchen", "delay: { for: 3d }", "delay: {}", "steps[1].delay", "exactly one of for, until, until_date", true},
	{"delay-two", "kitchen", "delay: { for: 3d }", `delay: { for: 3d, until: "10:00" }`, "steps[1].delay", "exactly one of for, until, until_date", true},
	{"delay-for-negative", "kitchen", "delay: { for: 3d }", "delay: { for: -3d }", "steps[1].delay.for", "more than 0", true},
	{"delay-for-range", "kitchen", "delay: { for: 3d }", "delay: { for: 1900d }", "steps[1].delay.for", "at most 5 years", false},
	{"delay-until", "kitchen", `until: "09:00"`, `until: "noon"`, "steps[8].delay.until", "HH:MM", true},
	{"delay-until-date-unknown", "broadcast", "attribute: digest_at", "attribute: digested_at", "steps[2].delay.until_date.attribute", "no update step of this journey sets it", false},
	{"update-nothing", "kitchen", `update: { set: { vip_since: "now" }, add_tags: [vip], remove_tags: [prospect] }`, "update: {}", "steps[6].update", "needs set, add_tags or remove_tags", true},
	{"update-attribute-pattern", "kitchen", `set: { vip_since: "now" }`, `set: { VipSince: "now" }`, "steps[6].update.set.VipSince", "not an attribute name", true},
	{"update-member-date", "kitchen", `set: { vip_since: "now" }`, `set: { birthday: "now" }`, "steps[6].update.set.birthday", "kept by the programme", true},
	{"update-empty-tag", "kitchen", "add_tags: [vip]", `add_tags: [vip, " "]`, "steps[6].update.add_tags[1]", "must not be empty", true},
	{"update-set-cel", "kitchen", `set: { vip_since: "now" }`, `set: { vip_since: "now ?? 1" }`, "steps[6].update.set.vip_since", "column 5", false},
	{"webhook-http", "kitchen", "https://crm.example/hook", "http://crm.example/hook", "steps[7].webhook.url", "must be an https:// URL", true},
	{"webhook-not-url", "kitchen", "https://crm.example/hook", "crm.example/hook", "steps[7].webhook.url", "must be an https:// URL", true},
	{"webhook-credentials", "kitchen", "https://crm.example/hook", "https://user:pw@crm.example/hook", "steps[7].webhook.url", "without credentials", true},
	{"webhook-url-missing", "broadcast", `webhook: { url: "http://127.0.0.1:8080/hook" }`, "webhook: {}", "steps[3].webhook.url", "is required", true},
	{"webhook-body-cel", "kitchen", `body: { member: "member.id" }`, `body: { member: "member.id ??" }`, "steps[7].webhook.body.member", "column 11", false},
	{"send-template-unknown", "kitchen", "email: welcome", "email: welcom", "steps[0].send.email", `"welcom" is not an email template`, false},
	{"send-email-missing", "kitchen", "send: { email: welcome, vars", "send: { vars", "steps[0].send.email", "is required", true},
	{"send-var-missing", "kitchen", `vars: { headline: "'Hello ' + member.name" }`, `vars: { title: "'Hello ' + member.name" }`, "steps[0].send.vars", `template "welcome" requires headline`, false},
	{"send-reward-var-missing", "kitchen", "    reward: { coupon: FREE25 }\n", "", "steps[0].send.vars", "requires coupon_code", false},
	{"send-var-name", "kitchen", "vars: { headline:", `vars: { "2x": "1", headline:`, `steps[0].send.vars["2x"]`, "not a variable name", true},
	{"send-var-cel", "kitchen", `headline: "'Hello ' + member.name"`, `headline: "'Hello ' ?? member.name"`, "steps[0].send.vars.headline", "column 10", false},
	{"reward-coupon-unknown", "kitchen", "coupon: FREE25", "coupon: FREE30", "steps[0].reward.coupon", `"FREE30" is not a coupon`, false},
	{"reward-nothing", "kitchen", "reward: { points: 10, boost: { multiplier: \"1.5\", days: 14 } }", "reward: {}", "steps[5].reward", "needs coupon, points, boost or birthday_gift", true},
	{"reward-points", "kitchen", "points: 10", "points: -10", "steps[5].reward.points", "more than 0", true},
	{"reward-multiplier", "kitchen", `multiplier: "1.5"`, `multiplier: "1"`, "steps[5].reward.boost.multiplier", "more than 1", true},
	{"reward-days", "kitchen", "days: 14", "days: 0", "steps[5].reward.boost.days", "from 1 to 1827", true},
	{"reward-birthday-gift-elsewhere", "kitchen", "points: 10, boost", "birthday_gift: true, points: 10, boost", "steps[5].reward.birthday_gift", "only a journey triggered by the birthday", false},
	{"reward-birthday-gift-other-date", "birthday", "date: { attribute: birthday, offset: -7d", "date: { attribute: registered_at, offset: -7d", "steps[2].reward.birthday_gift", "only a journey triggered by the birthday", false},
	{"expires-negative", "kitchen", "expires: 3d", "expires: -3d", "steps[0].expires", "must not be negative", true},
	{"expires-on-delay", "kitchen", "delay: { for: 3d }", "delay: { for: 3d }\n    expires: 1d", "steps[1].expires", "only a send or reward step expires", true},

	// The graph.
	{"unreachable-after-goto", "winback", `{"id": "later", "delay": {"for": "14d"}},`, `{"id": "later", "delay": {"for": "14d"}, "goto": "end"},`, "steps[2]", `"last"`, false},
	{"unreachable-after-wait", "api", "on_timeout: nudge }\n", "on_timeout: nudge }\n  - id: orphan\n    send: { email: plain }\n", "steps[2]", "is never reached", false},
	{"loop-without-pause", "kitchen", "    goto: tag\n", "    goto: ab\n", "steps[4]", `is on a loop with no delay or wait in it (through "ab", "offer")`, false},
	{"loop-self", "api", "    send: { email: plain }\n", "    send: { email: plain }\n    goto: nudge\n", "steps[0]", `(through "nudge")`, false},
	{"loop-through-date-wait", "api", "timeout: 30d", "until_date: { attribute: registered_at, offset: 365d }", "steps[0]", "is on a loop", false},
}

// validCases are edits that must keep a base document valid.
var validCases = []struct{ name, base, from, to string }{
	{"webhook-localhost", "kitchen", "https://crm.example/hook", "http://localhost:9000/hook"},
	{"send-var-given", "kitchen", "vars: { headline: \"'Hello ' + member.name\" } }\n    reward: { coupon: FREE25 }\n", "vars: { headline: \"'Hello ' + member.name\", coupon_code: \"'WELCOME'\" } }\n"},
	{"loop-with-delay", "kitchen", "  - id: done\n    end: {}\n", "  - id: done\n    delay: { for: 7d }\n    goto: welcome\n"},
	{"branch-last-with-when", "kitchen", "- { goto: end }", "- { when: \"true\", goto: end }"},
	{"broadcast-once", "broadcast", "every: week, weekday: monday", "every: once, date: 2027-01-08"},
	{"broadcast-daily", "broadcast", "every: week, weekday: monday", "every: day"},
	{"holdout-zero", "kitchen", "holdout: 5%", "holdout: 0%"},
	{"holdout-max", "kitchen", "holdout: 5%", "holdout: 50"},
	{"wait-one-event", "kitchen", "event: [subscription.trial_started, order.paid]", "event: subscription.trial_started"},
	{"custom-date-declared-by-update", "kitchen", "    delay: { until: \"09:00\" }\n", "    delay: { until_date: { attribute: vip_since, offset: 30d } }\n"},
	{"negative-offset", "birthday", "offset: -7d", "offset: -1827d"},
}

func TestValidationNamesPathAndRule(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.name, func(t *testing.T) {
			src := edit(t, tc.name, bases[tc.base], tc.from, tc.to)
			d, err := Parse(src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = d.Validate(testChecks())
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			if !slices.ContainsFunc(ve.Problems, func(p Problem) bool { return p.Path == tc.path && strings.Contains(p.Rule, tc.rule) }) {
				t.Errorf("no problem %s: …%s…; got\n%s", tc.path, tc.rule, listProblems(ve.Problems))
			}
		})
	}
}

func TestValidDocumentsValidate(t *testing.T) {
	for _, name := range baseNames() {
		t.Run("base-"+name, func(t *testing.T) {
			d, err := Decode([]byte(bases[name]), testChecks())
			if err != nil {
				t.Fatal(err)
			}
			if d.Name == "" || len(d.Steps) == 0 {
				t.Fatalf("decoded %+v", d)
			}
		})
	}
	for _, name := range fixtures {
		t.Run("fixture-"+name, func(t *testing.T) {
			if _, err := Decode(fixture(t, name), testChecks()); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(edit(t, tc.name, bases[tc.base], tc.from, tc.to), testChecks()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestNilChecksAreSkipped shows that a zero Checks still checks the
// language's own rules but nothing it needs the programme for.
func TestNilChecksAreSkipped(t *testing.T) {
	src := edit(t, "nil-checks", kitchenSink, "email: welcome", "email: nowhere")
	src = []byte(strings.Replace(string(src), "coupon: FREE25", "coupon: NOPE", 1))
	d, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(Checks{}); err != nil {
		t.Errorf("Validate(Checks{}) = %v, want nil: the catalog and coupons are not checked", err)
	}
	if err := d.Validate(testChecks()); err == nil {
		t.Error("Validate(testChecks()) = nil, want the template and coupon refused")
	}
	d.Priority = 500
	if err := d.Validate(Checks{}); err == nil || !strings.Contains(err.Error(), "priority: must be between 0 and 100") {
		t.Errorf("Validate(Checks{}) = %v, want the priority refused", err)
	}
}

// TestConditionsGetTheirPlace checks the kind and the event types each CEL
// expression is compiled with.
func TestConditionsGetTheirPlace(t *testing.T) {
	d, err := Parse([]byte(kitchenSink))
	if err != nil {
		t.Fatal(err)
	}
	c := testChecks()
	cel := &fakeCEL{calls: map[string]string{}}
	c.Conditions = cel
	if err := d.Validate(c); err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]string{
		"event.data.amount >= 500":       "bool [order.paid]",             // trigger.when
		"member.consent.email_marketing": "bool [order.paid]",             // entry.audience: on the trigger event
		"event.data.plan == 'svip'":      "bool [subscription.converted]", // goal.when
		"member.paid.status == 'active'": "bool []",                       // goal.check: over the member
		"event.data.amount > 0":          "bool [order.refunded]",         // exit[1].when
		"event.type != ''":               "bool [subscription.trial_started order.paid]",
		"member.tier in ['V3', 'V4']":    "bool []", // branch: generic
		"'Hello ' + member.name":         "any []",  // send vars
		"now":                            "any []",  // update set
		"member.id":                      "any []",  // webhook body
	} {
		if got := cel.calls[expr]; got != want {
			t.Errorf("%s compiled as %q, want %q", expr, got, want)
		}
	}
}

// TestProblemsPointAtTheirLine checks that Decode's problems carry the
// line and column of their value, and for CEL the column inside it.
func TestProblemsPointAtTheirLine(t *testing.T) {
	src := edit(t, "lines", kitchenSink, `when: "event.data.amount >= 500"`, `when: "event.data.amount ?? 500"`)
	src = []byte(strings.Replace(string(src), "coupon: FREE25", "coupon: FREE30", 1))
	src = []byte(strings.Replace(string(src), "    delay: { for: 3d }\n", "    delay: {}\n", 1))
	_, err := Decode(src, testChecks())
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Decode = %v", err)
	}
	want := []Problem{
		// `  when: "event.data.amount ?? 500"` is line 8; the value's
		// quote is column 9, so "??" (column 19 of the expression) is
		// column 9+1+19-1.
		{Path: "trigger.when", Line: 8, Column: 28, ExprColumn: 19},
		{Path: "steps[0].reward.coupon", Line: 25, Column: 23},
		// A missing key points at the mapping that lacks it.
		{Path: "steps[1].delay", Line: 28, Column: 12},
	}
	for _, w := range want {
		i := slices.IndexFunc(ve.Problems, func(p Problem) bool { return p.Path == w.Path })
		if i < 0 {
			t.Errorf("no problem at %s in\n%s", w.Path, listProblems(ve.Problems))
			continue
		}
		p := ve.Problems[i]
		if p.Line != w.Line || p.Column != w.Column || p.ExprColumn != w.ExprColumn {
			t.Errorf("%s at line %d column %d (expression column %d), want %d, %d (%d)", p.Path, p.Line, p.Column, p.ExprColumn, w.Line, w.Column, w.ExprColumn)
		}
	}
}

// listProblems formats problems one a line for failure messages.
func listProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  ")
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestTooManySteps builds its definition in code: a document with more
// than MaxSteps steps would be too big a fuzz seed.
func TestTooManySteps(t *testing.T) {
	d := Definition{Name: "many_steps", Trigger: Trigger{API: &APITrigger{}}}
	for i := range MaxSteps + 1 {
		d.Steps = append(d.Steps, Step{ID: fmt.Sprintf("s%d", i), Delay: &Delay{For: Duration(Day)}})
	}
	err := d.Validate(Checks{})
	if err == nil || !strings.Contains(err.Error(), "steps: has 501 steps; a journey has at most 500") {
		t.Errorf("Validate = %v, want too many steps", err)
	}
	d.Steps = d.Steps[:MaxSteps]
	if err := d.Validate(Checks{}); err != nil {
		t.Errorf("Validate of %d steps = %v", MaxSteps, err)
	}
}
