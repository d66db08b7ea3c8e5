package engine_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/templates"
)

var shanghai = must(time.LoadLocation("Asia/Shanghai"))

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func newEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.New(loyalty.MustLoadProgram(templates.Program))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func parse(t *testing.T, src string) journey.Definition {
	t.Helper()
	d, err := journey.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func order(amount string, at time.Time) *events.Envelope {
	a := decimal.RequireFromString(amount)
	data, _ := json.Marshal(events.OrderPaidData{OrderID: "o", Amount: a, Currency: "CNY", Payments: []events.Payment{{Method: events.PaymentCard, Amount: a}}})
	return &events.Envelope{ID: "e1", Version: 1, Type: events.OrderPaid, OccurredAt: at, MemberID: "m", Data: data}
}

const upsell = `
name: svip_upsell
priority: 50
trigger:
  event: order.paid
  when: "event.data.amount >= 500 && member.paid.status != 'active'"
entry:
  audience: "member.consent.email_marketing"
  cooldown: 90d
goal: { event: subscription.converted, within: 30d, exit: true }
exit: [ { event: member.unsubscribed } ]
steps:
  - id: check
    branch:
      - { when: "member.tier in ['V3', 'V4']", goto: offer }
      - { goto: end }
  - id: offer
    send: { email: trial_offer }
`

func TestTriggerEntryAndMatch(t *testing.T) {
	e := newEngine(t)
	def := parse(t, upsell)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai)
	doc := loyalty.MemberDocument{Member: loyalty.Member{ID: "m", Consent: loyalty.Consent{EmailMarketing: true}}}
	for _, tc := range []struct {
		amount string
		want   bool
	}{{"500.00", true}, {"499.99", false}, {"1200", true}} {
		ok, read, err := e.Trigger(def, engine.Subject{Member: doc, Event: order(tc.amount, now), Now: now})
		if err != nil || ok != tc.want {
			t.Errorf("amount %s: trigger %v, %v; want %v", tc.amount, ok, err, tc.want)
		}
		if read["member.paid.status"] != "" {
			t.Errorf("read %v: a member who never paid reads status \"\"", read)
		}
	}
	// Entry: audience, cooldown.
	in, err := e.Entry(def, engine.Subject{Member: doc, Now: now})
	if err != nil || !in.Enter {
		t.Fatalf("entry = %+v, %v", in, err)
	}
	doc.Enrollments = []loyalty.Enrollment{{Journey: "svip_upsell", Number: 1, StartedAt: now.AddDate(0, 0, -30)}}
	if in, _ := e.Entry(def, engine.Subject{Member: doc, Now: now}); in.Enter || in.Reason != "cooldown" {
		t.Errorf("entry within the cooldown = %+v", in)
	}
	doc.Enrollments[0].StartedAt = now.AddDate(0, 0, -91)
	doc.Consent.EmailMarketing = false
	if in, _ := e.Entry(def, engine.Subject{Member: doc, Now: now}); in.Enter || in.Reason != "audience" || in.Values["member.consent.email_marketing"] != false {
		t.Errorf("entry outside the audience = %+v", in)
	}
	// What events mean to an open enrollment.
	conv := &events.Envelope{ID: "c", Type: events.SubscriptionConverted, OccurredAt: now.AddDate(0, 0, 10), Data: json.RawMessage(`{"subscription_id":"s","plan":"svip","price":"199","currency":"CNY","period_ends_at":"2027-12-01T00:00:00Z"}`)}
	m, err := e.MatchEvent(def, now, engine.Subject{Member: doc, Event: conv, Now: now})
	if err != nil || !m.Goal || m.Exit != "goal" {
		t.Errorf("conversion within 30d = %+v, %v", m, err)
	}
	conv.OccurredAt = now.AddDate(0, 0, 31)
	if m, _ := e.MatchEvent(def, now, engine.Subject{Member: doc, Event: conv, Now: now}); m.Goal || m.Exit != "" {
		t.Errorf("conversion after 30d = %+v", m)
	}
	unsub := &events.Envelope{ID: "u", Type: events.MemberUnsubscribed, OccurredAt: now, Data: json.RawMessage(`{}`)}
	if m, _ := e.MatchEvent(def, now, engine.Subject{Member: doc, Event: unsub, Now: now}); m.Exit != "member.unsubscribed" {
		t.Errorf("unsubscribe = %+v", m)
	}
	if got := engine.Listen(def); len(got) != 2 || got[0] != "member.unsubscribed" || got[1] != "subscription.converted" {
		t.Errorf("listen = %v", got)
	}
}

func TestBranchAndSplit(t *testing.T) {
	e := newEngine(t)
	def := parse(t, upsell)
	step, _ := def.Step("check")
	for _, tc := range []struct{ tier, want string }{{"V3", "offer"}, {"V4", "offer"}, {"V1", "end"}} {
		doc := loyalty.MemberDocument{View: loyalty.View{Tier: tc.tier}}
		i, next, read, err := e.Branch(step, engine.Subject{Member: doc, Now: time.Now()})
		if err != nil || next != tc.want || read["member.tier"] != tc.tier {
			t.Errorf("tier %s: case %d → %s (%v), %v", tc.tier, i, next, read, err)
		}
	}
	split := journey.Step{ID: "ab", Split: []journey.Path{{Weight: 70, Goto: "a"}, {Weight: 30, Goto: "b"}}}
	counts := map[string]int{}
	for i := range 10000 {
		_, p := engine.Split(split, "m-"+itoa(i), "j")
		counts[p]++
		if _, again := engine.Split(split, "m-"+itoa(i), "j"); again != p {
			t.Fatalf("member %d took %s then %s", i, p, again)
		}
	}
	if a := counts["a"]; a < 6800 || a > 7200 {
		t.Errorf("split 70/30 over 10,000 = %v, want a within ±2 points of 70%%", counts)
	}
}

func itoa(i int) string { return decimal.NewFromInt(int64(i)).String() }

func TestVarsAndDates(t *testing.T) {
	e := newEngine(t)
	review := "2027-01-10"
	doc := loyalty.MemberDocument{Member: loyalty.Member{ID: "m", Timezone: "Asia/Tokyo", Birthday: "1992-02-29"},
		View: loyalty.View{TierName: "金卡", TierBirthdayMultiplier: decimal.RequireFromString("3"), TierReviewOn: &review}}
	now := time.Date(2027, 1, 2, 23, 30, 0, 0, time.UTC) // 3 January in Tokyo
	vars, _, err := e.Vars(&journey.Send{Email: "x", Vars: map[string]string{
		"tier_name": "member.tier_name", "multiplier": "member.tier_birthday_multiplier",
		"days_left": "days_between(now, member.tier_review_on, member.timezone)", "price": "program.paid.price",
		"until": "now + duration('168h')",
	}}, engine.Subject{Member: doc, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tier_name": "金卡", "multiplier": "3", "days_left": "7", "price": "199", "until": "2027-01-10"}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("vars[%s] = %q, want %q", k, vars[k], v)
		}
	}
	tokyo := e.Location(doc.Member)
	// A review 7 days ahead at 10:00 Tokyo.
	at, ok := engine.Moment(journey.DateRule{Attribute: "tier_review_on", Offset: journey.Duration(-7 * journey.Day), At: "10:00"}, doc, tokyo)
	if !ok || !at.Equal(time.Date(2027, 1, 3, 10, 0, 0, 0, tokyo)) {
		t.Errorf("review -7d at 10:00 = %v", at)
	}
	// 29 February is kept on the 28th in common years.
	if at, ok := engine.Occurrence(journey.DateRule{Attribute: "birthday"}, doc, tokyo, 2027); !ok || !at.Equal(time.Date(2027, 2, 28, 10, 0, 0, 0, tokyo)) {
		t.Errorf("birthday 2027 = %v", at)
	}
	if at, ok := engine.Next(journey.DateRule{Attribute: "birthday", At: "09:30"}, doc, tokyo, now); !ok || !at.Equal(time.Date(2027, 2, 28, 9, 30, 0, 0, tokyo)) {
		t.Errorf("next birthday = %v", at)
	}
	// An instant keeps its time without a time of day: a trial's end + 2h.
	ends := time.Date(2027, 1, 20, 15, 4, 0, 0, time.UTC)
	doc.Paid = &loyalty.PaidView{EndsAt: ends}
	if at, ok := engine.Moment(journey.DateRule{Attribute: "trial_ends_on", Offset: journey.Duration(2 * time.Hour)}, doc, tokyo); !ok || !at.Equal(ends.Add(2*time.Hour)) {
		t.Errorf("trial end + 2h = %v", at)
	}
	if u := engine.Until("09:00", tokyo, now); !u.Equal(time.Date(2027, 1, 3, 9, 0, 0, 0, tokyo)) {
		t.Errorf("until 09:00 = %v", u)
	}
	if u := engine.Until("09:00", tokyo, time.Date(2027, 1, 3, 9, 0, 0, 0, tokyo)); !u.Equal(time.Date(2027, 1, 3, 9, 0, 0, 0, tokyo)) {
		t.Errorf("until 09:00 at 09:00 = %v", u)
	}
}

func TestCustomDateAttribute(t *testing.T) {
	doc := loyalty.MemberDocument{Member: loyalty.Member{ID: "m", Attributes: map[string]any{"anniversary": "2027-03-01", "count": 3.0}}}
	at, ok := engine.Moment(journey.DateRule{Attribute: "anniversary", Offset: journey.Duration(-journey.Day), At: "09:00"}, doc, shanghai)
	if !ok || !at.Equal(time.Date(2027, 2, 28, 9, 0, 0, 0, shanghai)) {
		t.Errorf("anniversary -1d at 09:00 = %v, %v", at, ok)
	}
	if _, ok := engine.Moment(journey.DateRule{Attribute: "count"}, doc, shanghai); ok {
		t.Error("a number read as a date")
	}
}
