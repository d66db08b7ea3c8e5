package simulate

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/projection"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
)

func TestLoadBehaviour(t *testing.T) {
	def := DefaultBehaviour()
	got, err := LoadBehaviour(nil)
	if err != nil || !reflect.DeepEqual(got, def) {
		t.Fatalf("empty file: %+v, %v; want the defaults", got, err)
	}
	got, err = LoadBehaviour([]byte("email:\n  open: 0.5\n  templates:\n    trial_offer: { click: 0.4 }\ntreatment: { activation: 0.05 }\ncoupons: { kinds: { NEW8: 0.6 } }\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultBehaviour()
	want.Email.Open = 0.5
	click := 0.4
	want.Email.Templates = map[string]EmailRates{"trial_offer": {Click: &click}}
	want.Treatment = map[string]float64{"activation": 0.05}
	want.Coupons.Kinds = map[string]float64{"NEW8": 0.6}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// JSON is YAML too.
	got, err = LoadBehaviour([]byte(`{"orders": {"r": 0.5}, "email": {"convert_within": "2d"}}`))
	if err != nil || got.Orders.R != 0.5 || got.Orders.Alpha != def.Orders.Alpha || got.Email.ConvertWithin.D() != 48*time.Hour {
		t.Errorf("JSON: %+v, %v", got, err)
	}
	// The parameters in effect read back as themselves.
	if back, err := LoadBehaviour([]byte(want.YAML())); err != nil || !reflect.DeepEqual(back, want) {
		t.Errorf("YAML round trip: %+v, %v\n%s", back, err, want.YAML())
	}
}

func TestLoadBehaviourErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unknown top key", "order: {r: 1}\n", "line 1: order: unknown key (must be one of orders, spend, trial, email, coupons, treatment)"},
		{"unknown nested key", "email:\n  open: 0.3\n  opn: 0.4\n", "line 3: email.opn: unknown key"},
		{"unknown template rate", "email:\n  templates:\n    trial_offer: { clik: 0.4 }\n", "email.templates.trial_offer.clik: unknown key"},
		{"not a probability", "email: { open: 1.5 }\n", "email.open: must be a probability from 0 to 1, got 1.5"},
		{"template rate", "email: { templates: { x: { convert: -1 } } }\n", "email.templates.x.convert: must be a probability"},
		{"q at most 1", "spend: { q: 1 }\n", "spend.q: must be above 1"},
		{"negative rate", "orders: { alpha: -3 }\n", "orders.alpha: must be a positive number"},
		{"duration", "email: { convert_within: 90d }\n", "email.convert_within: must be a duration from 1s to 30d"},
		{"wrong type", "email: { open: lots }\n", "cannot unmarshal"},
		{"treatment", "treatment: { winback: 2 }\n", "treatment.winback: must be a probability"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBehaviour([]byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

// definitions are shipped journeys (lifecycles and examples) by name,
// validated as publishing validates them.
func definitions(t testing.TB, names ...string) []journey.Definition {
	t.Helper()
	srcs, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	checks, err := Checks(program(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []journey.Definition
	for _, n := range names {
		d, err := journey.Decode(srcs[n], checks)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out = append(out, d)
	}
	return out
}

func model(t testing.TB, params BehaviourParams, seed int64) *Model {
	t.Helper()
	b, err := NewBehaviour(params, seed, program(t), definitions(t, "activation", "trial", "winback", "svip_upsell"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPlanEvents checks every event a cohort does in a year: ingest's own
// parser with the programme's rules accepts it, it is in the span and in
// time order, registrations come first, ids never repeat.
func TestPlanEvents(t *testing.T) {
	p := program(t)
	b := model(t, DefaultBehaviour(), 3)
	const days = 365
	end := simStart.AddDate(0, 0, days)
	parser := events.Parser{Rules: events.Rules{Currency: p.Currency, PointValue: p.Points.PointValue}}
	ids := map[string]bool{}
	counts := map[events.Type]int{}
	var spend decimal.Decimal
	for _, m := range Generate(2000, 3, simStart, days, p) {
		evs := b.Plan(m, simStart, end)
		for i, e := range evs {
			counts[e.Type]++
			if ids[e.ID] {
				t.Fatalf("event id %s repeats", e.ID)
			}
			ids[e.ID] = true
			if e.MemberID != m.ID {
				t.Fatalf("%s is about %s, planned for %s", e.ID, e.MemberID, m.ID)
			}
			if e.OccurredAt.Before(simStart) || !e.OccurredAt.Before(end) {
				t.Fatalf("%s at %s is outside the span", e.ID, e.OccurredAt)
			}
			if i > 0 && e.OccurredAt.Before(evs[i-1].OccurredAt) {
				t.Fatalf("%s at %s comes after %s at %s", e.ID, e.OccurredAt, evs[i-1].ID, evs[i-1].OccurredAt)
			}
			if e.Type == events.MemberRegistered && i != 0 {
				t.Fatalf("%s's registration is event %d", m.ID, i)
			}
			if e.Type != events.MemberRegistered && m.Registered.After(e.OccurredAt) {
				t.Fatalf("%s at %s before %s registered", e.ID, e.OccurredAt, m.ID)
			}
			raw, _ := json.Marshal(map[string]any{"id": e.ID, "type": e.Type, "occurred_at": e.OccurredAt, "member_id": e.MemberID, "data": e.Data})
			if _, err := parser.ParseBatch(context.Background(), raw); err != nil {
				t.Fatalf("ingest refuses %s: %v\n%s", e.ID, err, raw)
			}
			if e.Digest == "" || len(e.Raw) == 0 {
				t.Fatalf("%s has no digest or raw bytes", e.ID)
			}
			if e.Type == events.OrderPaid {
				d, _ := e.DecodeData()
				spend = spend.Add(d.(*events.OrderPaidData).Amount)
			}
		}
		if !m.Registered.Before(simStart) && (len(evs) == 0 || evs[0].Type != events.MemberRegistered) {
			t.Fatalf("%s registered in the span without a registration event", m.ID)
		}
	}
	t.Logf("events: %v", counts)
	for _, typ := range []events.Type{events.MemberRegistered, events.OrderPaid, events.SubscriptionTrialStarted, events.SubscriptionConverted, events.SubscriptionCancelled} {
		if counts[typ] == 0 {
			t.Errorf("no %s in a year of 2000 members", typ)
		}
	}
	// Orders and spend: the mean order is p·v/(q−1) ≈ 251.
	mean, _ := spend.Div(decimal.NewFromInt(int64(counts[events.OrderPaid]))).Float64()
	want := DefaultBehaviour().Spend.P * DefaultBehaviour().Spend.V / (DefaultBehaviour().Spend.Q - 1)
	if math.Abs(mean/want-1) > 0.12 {
		t.Errorf("mean order %.2f, model mean %.2f", mean, want)
	}
	// About 10% of members who had no trial before start one in a year.
	if f := float64(counts[events.SubscriptionTrialStarted]) / 2000; f < 0.05 || f > 0.11 {
		t.Errorf("%.3f of members started a trial", f)
	}
}

func TestPlanIsDeterministicAndConsistent(t *testing.T) {
	p := program(t)
	ms := Generate(100, 9, simStart, 120, p)
	end := simStart.AddDate(0, 0, 120)
	a, b := model(t, DefaultBehaviour(), 9), model(t, DefaultBehaviour(), 9)
	other := model(t, DefaultBehaviour(), 10)
	differ := 0
	for i := len(ms) - 1; i >= 0; i-- { // the other model goes backwards
		m := ms[i]
		pa := a.Plan(m, simStart, end)
		if !reflect.DeepEqual(pa, b.Plan(m, simStart, end)) {
			t.Fatalf("%s: two models of one seed plan differently", m.ID)
		}
		if !reflect.DeepEqual(pa, other.Plan(m, simStart, end)) {
			differ++
		}
		// A longer span begins with the shorter one.
		longer := a.Plan(m, simStart, end.AddDate(0, 0, 200))
		if len(longer) < len(pa) || len(pa) > 0 && !reflect.DeepEqual(longer[:len(pa)], pa) {
			t.Fatalf("%s: the 320-day plan does not begin with the 120-day one", m.ID)
		}
	}
	if differ < 30 {
		t.Errorf("seeds 9 and 10 planned differently for only %d of 100 members", differ)
	}
}

// TestHistoryPutsMembersInTheirTier applies each existing member's history
// to the real projection and ledger and checks the tier they start in.
func TestHistoryPutsMembersInTheirTier(t *testing.T) {
	ctx := context.Background()
	p := program(t)
	b := model(t, DefaultBehaviour(), 5)
	st := memstore.New()
	var now time.Time
	l, err := ledger.New(templates.Program, []byte("0123456789abcdef"), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Now = func() time.Time { return now }
	checked := map[string]int{}
	for _, m := range Generate(300, 5, simStart, 120, p) {
		if !m.Registered.Before(simStart) {
			if h := b.History(m, simStart); len(h) != 0 {
				t.Fatalf("new member %s has a history", m.ID)
			}
			continue
		}
		h := b.History(m, simStart)
		if len(h) == 0 || h[0].Type != events.MemberRegistered {
			t.Fatalf("%s's history does not start with the registration", m.ID)
		}
		for _, e := range h {
			if !e.OccurredAt.Before(simStart) {
				t.Fatalf("%s's history has %s at %s", m.ID, e.ID, e.OccurredAt)
			}
			data, err := e.DecodeData()
			if err != nil {
				t.Fatal(err)
			}
			now = e.OccurredAt
			if _, err := projection.Apply(ctx, st, e, data); err != nil {
				t.Fatal(err)
			}
			if err := l.ApplyEvent(ctx, e, data); err != nil {
				t.Fatal(err)
			}
		}
		a, err := st.GetAccount(ctx, m.ID)
		if err != nil && m.Tier != "V1" {
			t.Fatalf("%s: %v", m.ID, err)
		}
		tier := l.Rules.EffectiveTier(a, simStart)
		if tier == "" {
			tier = p.Tiers[0].Code
		}
		if tier != m.Tier {
			t.Errorf("%s starts in %s, the cohort says %s", m.ID, tier, m.Tier)
		}
		checked[m.Tier]++
	}
	if len(checked) != len(p.Tiers) {
		t.Errorf("tiers checked: %v", checked)
	}
}

func emailsOf(ms []Member, journeyName, template string, at time.Time) []Email {
	out := make([]Email, len(ms))
	for i, m := range ms {
		out[i] = Email{MemberID: m.ID, Journey: journeyName, Step: "s", Template: template, Key: m.ID + "#" + journeyName + "#1#s#2027", Enrollment: 1, At: at}
	}
	return out
}

func TestOnEmailRates(t *testing.T) {
	p := program(t)
	b := model(t, DefaultBehaviour(), 11)
	ms := Generate(20000, 11, simStart, 365, p)
	at := simStart.AddDate(0, 1, 0)
	var opened, clicked, orders, unsub int
	for i, e := range emailsOf(ms, "activation", "activation_nudge", at) {
		r := b.OnEmail(ms[i], e)
		if r.Clicked && !r.Opened {
			t.Fatal("clicked unopened")
		}
		if r.Opened {
			opened++
		}
		if r.Clicked {
			clicked++
		}
		for _, ev := range r.Events {
			if !ev.OccurredAt.After(at) || ev.OccurredAt.After(at.Add(b.Params.Email.ConvertWithin.D())) {
				t.Fatalf("%s at %s, not within %s of the email", ev.ID, ev.OccurredAt, b.Params.Email.ConvertWithin)
			}
			switch ev.Type {
			case events.OrderPaid:
				orders++
			case events.MemberUnsubscribed:
				unsub++
			default:
				t.Fatalf("an activation email caused %s", ev.Type)
			}
		}
	}
	n := float64(len(ms))
	e := DefaultBehaviour().Email
	check := func(name string, got int, want float64) {
		t.Helper()
		sd := math.Sqrt(want * (1 - want) / n)
		if math.Abs(float64(got)/n-want) > 4*sd {
			t.Errorf("%s: %.4f of emails, model %.4f (±%.4f at 4 sd)", name, float64(got)/n, want, 4*sd)
		}
	}
	check("opened", opened, e.Open)
	check("clicked", clicked, e.Open*e.Click)
	check("converted", orders, e.Open*e.Click*e.Convert)
	check("unsubscribed", unsub, e.Open*e.Unsubscribe)
	// The same email asked again, in any order, gets the same reaction.
	es := emailsOf(ms[:50], "activation", "activation_nudge", at)
	for i := len(es) - 1; i >= 0; i-- {
		if !reflect.DeepEqual(b.OnEmail(ms[i], es[i]), model(t, DefaultBehaviour(), 11).OnEmail(ms[i], es[i])) {
			t.Fatalf("%s: reactions differ", ms[i].ID)
		}
	}
}

// TestTreatmentEffect gives a journey a true effect of 5 points with no
// other conversions: about 5% of enrollments reach the goal, at their
// first email only.
func TestTreatmentEffect(t *testing.T) {
	p := program(t)
	params := DefaultBehaviour()
	params.Email.Convert = 0
	params.Email.Unsubscribe = 0
	params.Treatment = map[string]float64{"svip_upsell": 0.05, "activation": 0.05}
	b := model(t, params, 12)
	ms := Generate(20000, 12, simStart, 365, p)
	at := simStart.AddDate(0, 2, 0)
	converted := 0
	for i, e := range emailsOf(ms, "svip_upsell", "svip_offer", at) {
		r := b.OnEmail(ms[i], e)
		second := e
		second.Key += "#2"
		if len(b.OnEmail(ms[i], second).Events) != 0 {
			t.Fatalf("%s converted again at the enrollment's second email", ms[i].ID)
		}
		for _, ev := range r.Events {
			if ev.Type != events.SubscriptionConverted {
				t.Fatalf("svip_upsell's goal is a conversion; the email caused %s", ev.Type)
			}
			converted++
		}
	}
	n := float64(len(ms))
	// Members whose own trial converts gain nothing: about a trial share
	// times the conversion share of members.
	sd := math.Sqrt(0.05 * 0.95 / n)
	if f := float64(converted) / n; f > 0.05+4*sd || f < 0.05*0.9-4*sd {
		t.Errorf("%.4f of enrollments converted by the treatment, want about 0.05", f)
	}
	if _, err := NewBehaviour(DefaultBehaviour(), 1, p, nil); err != nil {
		t.Fatal(err)
	}
	params.Treatment = map[string]float64{"no_such": 0.1}
	if _, err := NewBehaviour(params, 1, p, definitions(t, "activation")); err == nil || !strings.Contains(err.Error(), "treatment.no_such") {
		t.Errorf("a treatment of a journey not simulated: %v", err)
	}
}

func TestCouponRedemption(t *testing.T) {
	params := DefaultBehaviour()
	params.Coupons.Kinds = map[string]float64{"NEW8": 0.6}
	b := model(t, params, 1)
	if got := b.CouponRedemption("NEW8"); got != 0.6 {
		t.Errorf("NEW8: %v", got)
	}
	if got := b.CouponRedemption("C15"); got != params.Coupons.Redemption {
		t.Errorf("C15: %v", got)
	}
}
