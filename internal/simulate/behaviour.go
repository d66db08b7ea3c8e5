package simulate

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"gonum.org/v1/gonum/stat/distuv"
	"gopkg.in/yaml.v3"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// BehaviourParams are the numbers of the behaviour model. DefaultBehaviour
// documents each default; a --behaviour file (YAML or JSON) overrides any
// of them, and a key the model does not know is an error naming it.
type BehaviourParams struct {
	// Orders is the repeat-buying process (BG/NBD, in days): while alive a
	// member orders at a rate λ ~ Gamma(r, α) per day, and after each
	// order drops out with probability p ~ Beta(a, b).
	Orders OrderParams `json:"orders" yaml:"orders"`
	// Spend is the value of an order (Gamma-Gamma, in the programme's
	// currency): Gamma(p, ν) with ν ~ Gamma(q, v) per member; the mean
	// order over members is p·v/(q−1).
	Spend SpendParams `json:"spend" yaml:"spend"`
	// Trial is the programme's paid-membership trial.
	Trial TrialParams `json:"trial" yaml:"trial"`
	// Email is how members react to journey emails.
	Email EmailParams `json:"email" yaml:"email"`
	// Coupons is the share of granted coupons members are expected to
	// redeem, which prices them in the report.
	Coupons CouponParams `json:"coupons" yaml:"coupons"`
	// Treatment is a journey's true effect, by journey name: the extra
	// chance (0–1) that a member who receives an enrollment's first email
	// reaches the journey's goal because of it (its goal event, else an
	// order) within Email.ConvertWithin. It is what a lift report must
	// recover; the default is none.
	Treatment map[string]float64 `json:"treatment,omitempty" yaml:"treatment,omitempty"`
}

// OrderParams are the BG/NBD parameters with time in days.
type OrderParams struct {
	R     float64 `json:"r" yaml:"r"`
	Alpha float64 `json:"alpha" yaml:"alpha"`
	A     float64 `json:"a" yaml:"a"`
	B     float64 `json:"b" yaml:"b"`
}

// SpendParams are the Gamma-Gamma parameters of spend per order.
type SpendParams struct {
	P float64 `json:"p" yaml:"p"`
	Q float64 `json:"q" yaml:"q"`
	V float64 `json:"v" yaml:"v"`
}

// TrialParams say who tries the paid membership and how trials end.
type TrialParams struct {
	// Start is the chance a member starts a trial within a year (pro
	// rata over the simulated days, at a uniform moment).
	Start float64 `json:"start" yaml:"start"`
	// Convert is the chance a trial converts on its own at its end.
	Convert float64 `json:"convert" yaml:"convert"`
	// Cancel is the chance a trial that does not convert is cancelled
	// during the trial; the rest lapse silently.
	Cancel float64 `json:"cancel" yaml:"cancel"`
}

// EmailParams are the propensities of members to react to an email.
type EmailParams struct {
	Open  float64 `json:"open" yaml:"open"`   // chance an email is opened
	Click float64 `json:"click" yaml:"click"` // chance an opened email is clicked
	// Convert is the chance a click leads to the journey's goal (its goal
	// event when the model can make it — an order, a subscription
	// conversion — else an order) within ConvertWithin, attributable to
	// the email.
	Convert       float64          `json:"convert" yaml:"convert"`
	ConvertWithin journey.Duration `json:"convert_within" yaml:"convert_within"`
	// Unsubscribe is the chance an opened email makes the member leave
	// marketing email.
	Unsubscribe float64 `json:"unsubscribe" yaml:"unsubscribe"`
	// Templates overrides the rates of one email template.
	Templates map[string]EmailRates `json:"templates,omitempty" yaml:"templates,omitempty"`
}

// EmailRates override some of EmailParams' rates for one template.
type EmailRates struct {
	Open        *float64 `json:"open,omitempty" yaml:"open,omitempty"`
	Click       *float64 `json:"click,omitempty" yaml:"click,omitempty"`
	Convert     *float64 `json:"convert,omitempty" yaml:"convert,omitempty"`
	Unsubscribe *float64 `json:"unsubscribe,omitempty" yaml:"unsubscribe,omitempty"`
}

// CouponParams are the expected redemption rates of granted coupons.
type CouponParams struct {
	Redemption float64            `json:"redemption" yaml:"redemption"`
	Kinds      map[string]float64 `json:"kinds,omitempty" yaml:"kinds,omitempty"` // by coupon kind
}

// DefaultBehaviour is the model without a --behaviour file:
//
//   - orders: the BG/NBD estimates of Fader, Hardie & Lee (2005) for the
//     CDNOW cohort, r 0.243, α 4.414 weeks = 30.9 days, a 0.793, b 2.426:
//     about 2.9 orders a year for a member who stays, most of whom drop out
//     after a few orders;
//   - spend: their Gamma-Gamma estimates for CDNOW, p 6.25, q 3.74, with
//     v 15.44 dollars scaled to 110 yuan: a mean order of about 250 CNY
//     (v is in the programme's currency: scale it for another);
//   - trial: 10% of members start a trial within a year; 35% of trials
//     convert on their own, 30% of the rest are cancelled, the others lapse;
//   - email: 30% open, 15% of openers click, 20% of clicks convert within
//     3 days; 0.2% of openers unsubscribe;
//   - coupons: 30% of granted coupons are redeemed;
//   - treatment: none.
func DefaultBehaviour() BehaviourParams {
	return BehaviourParams{
		Orders:  OrderParams{R: 0.243, Alpha: 30.9, A: 0.793, B: 2.426},
		Spend:   SpendParams{P: 6.25, Q: 3.74, V: 110},
		Trial:   TrialParams{Start: 0.10, Convert: 0.35, Cancel: 0.30},
		Email:   EmailParams{Open: 0.30, Click: 0.15, Convert: 0.20, ConvertWithin: journey.Duration(3 * journey.Day), Unsubscribe: 0.002},
		Coupons: CouponParams{Redemption: 0.30},
	}
}

// LoadBehaviour reads a --behaviour file (YAML or JSON) over the
// defaults: what it sets replaces the default, what it leaves out stays.
// A key the model does not know is an error naming its path and line.
func LoadBehaviour(src []byte) (BehaviourParams, error) {
	p := DefaultBehaviour()
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return p, fmt.Errorf("behaviour: %w", err)
	}
	if len(root.Content) == 0 {
		return p, nil // an empty file: the defaults
	}
	if err := checkKeys(root.Content[0], reflect.TypeOf(p), ""); err != nil {
		return p, err
	}
	if err := root.Content[0].Decode(&p); err != nil {
		return p, fmt.Errorf("behaviour: %w", err)
	}
	return p, p.Validate()
}

// checkKeys walks a YAML node against the Go type it decodes into and
// names the first key the type does not have.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil // a scalar or list: Decode checks its type
	}
	switch t.Kind() {
	case reflect.Struct:
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("behaviour line %d: %s: unknown key (must be one of %s)", k.Line, join(path, k.Value), strings.Join(names, ", "))
			}
			if err := checkKeys(n.Content[i+1], ft, join(path, k.Value)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Validate names the first parameter out of its range.
func (p BehaviourParams) Validate() error {
	type check struct {
		name string
		v    float64
		ok   bool
		rule string
	}
	positive := func(name string, v float64) check {
		return check{name, v, v > 0 && !math.IsInf(v, 0), "must be a positive number"}
	}
	share := func(name string, v float64) check {
		return check{name, v, v >= 0 && v <= 1, "must be a probability from 0 to 1"}
	}
	cs := []check{
		positive("orders.r", p.Orders.R), positive("orders.alpha", p.Orders.Alpha),
		positive("orders.a", p.Orders.A), positive("orders.b", p.Orders.B),
		positive("spend.p", p.Spend.P), {"spend.q", p.Spend.Q, p.Spend.Q > 1 && !math.IsInf(p.Spend.Q, 0), "must be above 1 (the mean order is p·v/(q−1))"},
		positive("spend.v", p.Spend.V),
		share("trial.start", p.Trial.Start), share("trial.convert", p.Trial.Convert), share("trial.cancel", p.Trial.Cancel),
		share("email.open", p.Email.Open), share("email.click", p.Email.Click), share("email.convert", p.Email.Convert),
		share("email.unsubscribe", p.Email.Unsubscribe),
		{"email.convert_within", float64(p.Email.ConvertWithin), p.Email.ConvertWithin > 0 && p.Email.ConvertWithin.D() <= 30*journey.Day, "must be a duration from 1s to 30d"},
		share("coupons.redemption", p.Coupons.Redemption),
	}
	for _, name := range sortedKeys(p.Email.Templates) {
		r := p.Email.Templates[name]
		for _, f := range []struct {
			n string
			v *float64
		}{{"open", r.Open}, {"click", r.Click}, {"convert", r.Convert}, {"unsubscribe", r.Unsubscribe}} {
			if f.v != nil {
				cs = append(cs, share("email.templates."+name+"."+f.n, *f.v))
			}
		}
	}
	for _, k := range sortedKeys(p.Coupons.Kinds) {
		cs = append(cs, share("coupons.kinds."+k, p.Coupons.Kinds[k]))
	}
	for _, j := range sortedKeys(p.Treatment) {
		cs = append(cs, share("treatment."+j, p.Treatment[j]))
	}
	for _, c := range cs {
		if !c.ok || math.IsNaN(c.v) {
			return fmt.Errorf("behaviour: %s: %s, got %v", c.name, c.rule, c.v)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Model is the behaviour model: a Behaviour, deterministic for its seed,
// whose every draw about a member comes from that member's own random
// streams (PCG seeded by the seed and the member's id, and for an email
// by its idempotency key), so no result depends on the order members or
// emails are handled in.
type Model struct {
	Params  BehaviourParams
	Seed    int64
	Program *loyalty.Program
	// goals is the event a conversion on a journey's email causes.
	goals map[string]events.Type

	mu      sync.Mutex
	treated map[string]bool // member#journey#enrollment whose first email was seen
}

// Historian is a Behaviour that also tells what a member registered before
// the simulation did before it: their registration and the orders of the
// growth window that put them in their starting tier. The driver applies
// these to the ledger and the projection without running journeys on
// them, so existing members start with a tier, a review date and a last
// order as a real programme's do.
type Historian interface {
	History(m Member, before time.Time) []events.Envelope
}

// CouponRedeemer is a Behaviour that knows what share of a coupon kind's
// grants members redeem; the report prices coupons with it.
type CouponRedeemer interface {
	CouponRedemption(kind string) float64
}

var (
	_ Behaviour      = (*Model)(nil)
	_ Historian      = (*Model)(nil)
	_ CouponRedeemer = (*Model)(nil)
)

// NewBehaviour is the model with params (DefaultBehaviour or
// LoadBehaviour's) for the journeys simulated: a conversion on a journey's
// email causes its goal event. A treatment for a journey that is not
// simulated is an error.
func NewBehaviour(params BehaviourParams, seed int64, p *loyalty.Program, defs []journey.Definition) (*Model, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	goals := map[string]events.Type{}
	for _, d := range defs {
		goals[d.Name] = events.OrderPaid
		if d.Goal != nil {
			switch events.Type(d.Goal.Event) {
			case events.SubscriptionConverted, events.SubscriptionTrialStarted:
				goals[d.Name] = events.Type(d.Goal.Event)
			}
		}
	}
	for _, j := range sortedKeys(params.Treatment) {
		if _, ok := goals[j]; !ok {
			return nil, fmt.Errorf("behaviour: treatment.%s: no journey %q is simulated", j, j)
		}
	}
	return &Model{Params: params, Seed: seed, Program: p, goals: goals, treated: map[string]bool{}}, nil
}

// stream is the member's random stream for one purpose.
func (b *Model) stream(parts ...string) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(b.Seed), subSeed(parts...)))
}

// traits are a member's buying habits, drawn once from their own
// streams: the same in Plan, History and OnEmail.
type traits struct {
	buyer analytics.Buyer
	nu    float64 // the rate of the member's Gamma spend per order
	loc   *time.Location
}

func (b *Model) traits(m Member) traits {
	bg := analytics.BGNBDParams{R: b.Params.Orders.R, Alpha: b.Params.Orders.Alpha, A: b.Params.Orders.A, B: b.Params.Orders.B}
	gg := analytics.GammaGammaParams{P: b.Params.Spend.P, Q: b.Params.Spend.Q, V: b.Params.Spend.V}
	t := traits{buyer: bg.DrawBuyer(b.stream("buyer", m.ID)), nu: gg.DrawSpend(b.stream("spend", m.ID)).Beta, loc: b.Program.Location}
	if m.Timezone != "" {
		if l, err := time.LoadLocation(m.Timezone); err == nil {
			t.loc = l
		}
	}
	return t
}

// amount draws one order's value from the member's spend, in cents, at
// least 1.00.
func (b *Model) amount(rng *rand.Rand, t traits) decimal.Decimal {
	v := gammaRand(rng, b.Params.Spend.P, t.nu)
	return decimal.NewFromFloat(max(v, 1)).Round(2)
}

// gammaRand draws Gamma(shape, rate) from rng.
func gammaRand(rng *rand.Rand, shape, rate float64) float64 {
	return distuv.Gamma{Alpha: shape, Beta: rate, Src: rng}.Rand()
}

// life is everything the member does without a journey's help up to
// until: their history before from when registered earlier, and what
// they do over [from, until). Both History and Plan read it, so they
// agree.
type life struct {
	history, plan []events.Envelope
}

func (b *Model) life(m Member, from, until time.Time) life {
	t := b.traits(m)
	var l life
	add := func(e events.Envelope) {
		if e.OccurredAt.Before(from) {
			l.history = append(l.history, e)
		} else if e.OccurredAt.Before(until) {
			l.plan = append(l.plan, e)
		}
	}
	add(b.registration(m))
	// Purchase times come from one stream and everything else about the
	// orders from another, so a longer span only adds orders at its end.
	orders, details := b.stream("orders", m.ID), b.stream("order details", m.ID)
	n := 0
	order := func(at time.Time, amount decimal.Decimal) {
		n++
		add(b.order(m, fmt.Sprintf("%d", n), at, amount, details))
	}
	// Before from: the orders of the growth window that put the member in
	// their tier, at the times the buying process gives.
	alive := true
	start := m.Registered
	if m.Registered.Before(from) {
		winStart := from.AddDate(0, 0, -b.Program.Growth.WindowDays)
		if winStart.Before(m.Registered) {
			winStart = m.Registered
		}
		var times []float64
		times, alive = t.buyer.Purchases(orders, 0, days(from.Sub(winStart)))
		lo, hi, needs := b.tierBand(m.Tier)
		if len(times) == 0 && needs {
			times = []float64{details.Float64() * days(from.Sub(winStart))}
		}
		if len(times) > 0 {
			// Amounts share a total inside the tier's band.
			total := lo.Add(hi.Sub(lo).Mul(decimal.NewFromFloat(details.Float64()))).Div(b.Program.Growth.PerCurrencyUnit).Round(2)
			for i, a := range split(details, total, len(times)) {
				order(b.daytime(details, winStart.Add(dur(times[i])), t.loc, winStart, from), a)
			}
		}
		start = from
	}
	if alive {
		// From from (or registration) on: the buying process, each order
		// at a daytime hour of its day.
		times, _ := t.buyer.Purchases(orders, 0, days(until.Sub(start)))
		for _, x := range times {
			at := b.daytime(details, start.Add(dur(x)), t.loc, start, time.Time{})
			order(at, b.amount(details, t))
		}
	}
	for _, e := range b.trial(m, from, until) {
		add(e)
	}
	sortEvents(l.history)
	sortEvents(l.plan)
	return l
}

// Plan is what the member does over [from, to) without any journey's
// help: their registration when it falls in the span, orders (the
// repeat-buying process, spend per order), and a trial's start and its
// conversion or cancellation; sorted by OccurredAt. A member registered
// before from goes on from the history History returns for the same from.
func (b *Model) Plan(m Member, from, to time.Time) []events.Envelope {
	return b.life(m, from, to).plan
}

// History is what a member registered before before did until then:
// their registration and the orders of the programme's growth window
// whose total puts them in their starting tier (m.Tier; the lowest when
// empty), at times the buying process gives. A member who dropped out
// after the last of them orders no more in Plan.
func (b *Model) History(m Member, before time.Time) []events.Envelope {
	return b.life(m, before, before).history
}

// tierBand is the growth range [lo, hi) that holds a tier: from its
// threshold to the next tier's (the top tier up to twice its threshold),
// and whether reaching it needs an order at all.
func (b *Model) tierBand(code string) (lo, hi decimal.Decimal, needs bool) {
	tiers := b.Program.Tiers
	i := slices.IndexFunc(tiers, func(t loyalty.Tier) bool { return t.Code == code })
	if i < 0 {
		i = 0
	}
	lo = tiers[i].Threshold
	switch {
	case i+1 < len(tiers):
		hi = tiers[i+1].Threshold
	case lo.IsPositive():
		hi = lo.Mul(decimal.NewFromInt(2))
	default:
		hi = decimal.NewFromInt(100)
	}
	// Inside the band, away from its edges: a cent more or less of
	// rounding never changes the tier.
	w := hi.Sub(lo)
	return lo.Add(w.Div(decimal.NewFromInt(10))), hi.Sub(w.Div(decimal.NewFromInt(10))), lo.IsPositive()
}

// split cuts total into n positive amounts of whole cents.
func split(rng *rand.Rand, total decimal.Decimal, n int) []decimal.Decimal {
	cents := total.Shift(2).IntPart()
	if cents < int64(n)*100 {
		n = max(int(cents/100), 1)
	}
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		w[i] = rng.ExpFloat64() + 0.2
		sum += w[i]
	}
	out := make([]decimal.Decimal, 0, n)
	left := cents
	for i := range n - 1 {
		c := max(int64(float64(cents)*w[i]/sum), 100)
		if left-c < int64(n-1-i)*100 {
			c = left - int64(n-1-i)*100
		}
		out = append(out, decimal.New(c, -2))
		left -= c
	}
	return append(out, decimal.New(left, -2))
}

// daytime moves an instant to a member-local hour of its day drawn from
// RegistrationHours (people shop when they are awake), kept after lo and,
// unless hi is zero, before hi.
func (b *Model) daytime(rng *rand.Rand, at time.Time, loc *time.Location, lo, hi time.Time) time.Time {
	d := at.In(loc)
	t := time.Date(d.Year(), d.Month(), d.Day(), pickIndex(rng, RegistrationHours[:]), rng.IntN(60), rng.IntN(60), 0, loc).UTC()
	if !t.After(lo) || !hi.IsZero() && !t.Before(hi) {
		return at.Truncate(time.Second).UTC()
	}
	return t
}

func days(d time.Duration) float64 { return d.Hours() / 24 }
func dur(days float64) time.Duration {
	return time.Duration(days * float64(24*time.Hour)).Truncate(time.Second)
}

// trialPlan is the member's own trial, whatever the simulated span: a
// member who has not tried the paid membership starts the trial after
// registration at an exponential time whose chance within a year is
// Trial.Start (a member registered long ago may have had their turn
// before the simulation, and then starts none), and it converts at its
// end, is cancelled during it, or lapses.
func (b *Model) trialPlan(m Member) []events.Envelope {
	p := b.Program
	if p.Paid.Plan == "" || b.Params.Trial.Start <= 0 {
		return nil
	}
	rng := b.stream("trial", m.ID)
	rate := -math.Log1p(-min(b.Params.Trial.Start, 1-1e-9)) / 365 // per day
	start := m.Registered.Add(time.Hour + dur(rng.ExpFloat64()/rate))
	ends := start.AddDate(0, 0, p.Paid.TrialDays)
	out := []events.Envelope{b.event(events.SubscriptionTrialStarted, "evt-trial-"+m.ID, m.ID, start, events.SubscriptionTrialStartedData{
		SubscriptionID: subscriptionID(m.ID), Plan: p.Paid.Plan, Price: p.Paid.TrialPrice, Currency: p.Currency, TrialEndsAt: ends,
	})}
	switch u := rng.Float64(); {
	case u < b.Params.Trial.Convert:
		at := ends.Add(time.Duration(rng.Int64N(int64(time.Hour)))).Truncate(time.Second)
		out = append(out, b.converted(m.ID, "evt-conv-"+m.ID, at))
	case u < b.Params.Trial.Convert+(1-b.Params.Trial.Convert)*b.Params.Trial.Cancel:
		at := start.Add(time.Duration(rng.Int64N(int64(ends.Sub(start))))).Truncate(time.Second)
		out = append(out, b.event(events.SubscriptionCancelled, "evt-cancel-"+m.ID, m.ID, at, events.SubscriptionCancelledData{
			SubscriptionID: subscriptionID(m.ID), Plan: p.Paid.Plan, Reason: "changed my mind", EffectiveAt: &ends,
		}))
	}
	return out
}

// trial is the member's own trial's events in [from, until); a trial that
// started before from is left out whole (the member had it before).
func (b *Model) trial(m Member, from, until time.Time) []events.Envelope {
	evs := b.trialPlan(m)
	if len(evs) == 0 || evs[0].OccurredAt.Before(from) {
		return nil
	}
	var out []events.Envelope
	for _, e := range evs {
		if e.OccurredAt.Before(until) {
			out = append(out, e)
		}
	}
	return out
}

// convertsAnyway reports whether the member's own trial started before at
// and converts (or converted), whatever any email says.
func (b *Model) convertsAnyway(m Member, at time.Time) bool {
	evs := b.trialPlan(m)
	if len(evs) == 0 || !evs[0].OccurredAt.Before(at) {
		return false
	}
	return slices.ContainsFunc(evs, func(e events.Envelope) bool { return e.Type == events.SubscriptionConverted })
}

func subscriptionID(member string) string { return "svip-" + member }

func (b *Model) converted(member, id string, at time.Time) events.Envelope {
	p := b.Program
	return b.event(events.SubscriptionConverted, id, member, at, events.SubscriptionConvertedData{
		SubscriptionID: subscriptionID(member), Plan: p.Paid.Plan, Price: p.Paid.Price, Currency: p.Currency,
		PeriodEndsAt: at.AddDate(0, p.Paid.PeriodMonths, 0),
	})
}

// locales by time zone, for the registration's locale.
var locales = map[string]string{
	"Asia/Shanghai": "zh-CN", "Asia/Hong_Kong": "zh-HK", "Asia/Taipei": "zh-TW", "Asia/Singapore": "en-SG",
	"Asia/Tokyo": "ja-JP", "America/Los_Angeles": "en-US", "America/New_York": "en-US", "Europe/London": "en-GB",
	"Australia/Sydney": "en-AU",
}

func (b *Model) registration(m Member) events.Envelope {
	d := events.MemberRegisteredData{
		Email: m.Email, Name: "Member " + strings.TrimPrefix(m.ID, "m-"), Timezone: m.Timezone,
		Locale: locales[m.Timezone], Consent: events.Consent{EmailMarketing: m.Consent},
	}
	if d.Email == "" {
		d.Email = EmailOf(m.ID)
	}
	if m.Birthday != "" {
		if t, err := time.Parse(time.DateOnly, m.Birthday); err == nil {
			d.Birthday = &events.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}
		}
	}
	return b.event(events.MemberRegistered, "evt-reg-"+m.ID, m.ID, m.Registered, d)
}

// Catalogue is what simulated members buy: a tea shop's lines.
var Catalogue = []struct{ SKU, Category string }{
	{"TEA-OOLONG-250G", "tea"}, {"TEA-PUER-357G", "tea"}, {"TEA-LONGJING-100G", "tea"},
	{"TEA-JASMINE-200G", "tea"}, {"TEASET-CLAY-01", "teaware"}, {"CUP-CELADON-2", "teaware"},
	{"SNACK-MOONCAKE-6", "snacks"},
}

// order is an order.paid of amount, paid by card, in one to three lines.
func (b *Model) order(m Member, n string, at time.Time, amount decimal.Decimal, rng *rand.Rand) events.Envelope {
	lines := min(1+rng.IntN(3), int(amount.Shift(2).IntPart()/100))
	var ls []events.OrderLine
	for i, a := range split(rng, amount, max(lines, 1)) {
		c := Catalogue[(rng.IntN(len(Catalogue))+i)%len(Catalogue)]
		ls = append(ls, events.OrderLine{SKU: c.SKU, Category: c.Category, Quantity: 1 + rng.IntN(2), Amount: a})
	}
	orderID := "o-" + m.ID + "-" + n
	return b.event(events.OrderPaid, "evt-"+orderID, m.ID, at, events.OrderPaidData{
		OrderID: orderID, Amount: amount, Currency: b.Program.Currency, Lines: ls,
		Payments: []events.Payment{{Method: events.PaymentCard, Amount: amount}},
	})
}

// event builds an event as a storefront would send it and parses it as
// ingest does (events.ParseBatch), so the driver records exactly what the
// schemas accept, with its digest. The model only builds valid events;
// one that is not is a bug in it, caught by its tests.
func (b *Model) event(typ events.Type, id, member string, at time.Time, data any) events.Envelope {
	d, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("simulate: encode %s data: %v", typ, err))
	}
	raw, err := json.Marshal(struct {
		ID         string          `json:"id"`
		Version    int             `json:"version"`
		Type       events.Type     `json:"type"`
		OccurredAt time.Time       `json:"occurred_at"`
		MemberID   string          `json:"member_id"`
		Data       json.RawMessage `json:"data"`
	}{id, 1, typ, at.UTC(), member, d})
	if err != nil {
		panic(fmt.Sprintf("simulate: encode %s event: %v", typ, err))
	}
	evs, err := events.ParseBatch(raw)
	if err != nil {
		panic(fmt.Sprintf("simulate: the behaviour model built an invalid %s event %s: %v", typ, id, err))
	}
	return evs[0]
}

func sortEvents(evs []events.Envelope) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].OccurredAt.Before(evs[j].OccurredAt) })
}

// rates are the email rates for a template, with its overrides.
func (b *Model) rates(template string) (open, click, convert, unsub float64) {
	e := b.Params.Email
	open, click, convert, unsub = e.Open, e.Click, e.Convert, e.Unsubscribe
	if r, ok := e.Templates[template]; ok {
		if r.Open != nil {
			open = *r.Open
		}
		if r.Click != nil {
			click = *r.Click
		}
		if r.Convert != nil {
			convert = *r.Convert
		}
		if r.Unsubscribe != nil {
			unsub = *r.Unsubscribe
		}
	}
	return
}

// OnEmail is the member's reaction to an email, from a stream of their own
// for that email's key: opened, clicked, and then maybe the journey's goal
// (an order, or converting the paid membership) within ConvertWithin, or
// an unsubscribe. The journey's treatment effect applies at an
// enrollment's first email the member gets. A member whose own trial
// is under way and converts anyway gains no second conversion from an
// email.
func (b *Model) OnEmail(m Member, e Email) Reaction {
	rng := b.stream("email", m.ID, e.Key)
	open, click, convert, unsub := b.rates(e.Template)
	var r Reaction
	r.Opened = rng.Float64() < open
	r.Clicked = r.Opened && rng.Float64() < click
	converts := r.Clicked && rng.Float64() < convert
	leaves := r.Opened && rng.Float64() < unsub
	if effect := b.Params.Treatment[e.Journey]; effect > 0 {
		k := fmt.Sprintf("%s#%s#%d", m.ID, e.Journey, e.Enrollment)
		b.mu.Lock()
		first := !b.treated[k]
		b.treated[k] = true
		b.mu.Unlock()
		if first && b.stream("treatment", m.ID, e.Journey, fmt.Sprint(e.Enrollment)).Float64() < effect {
			converts = true
		}
	}
	tag := emailTag(e.Key)
	if converts {
		at := e.At.Add(time.Duration(rng.Int64N(int64(b.Params.Email.ConvertWithin.D()-5*time.Minute)) + int64(5*time.Minute))).Truncate(time.Second)
		switch b.goals[e.Journey] {
		case events.SubscriptionConverted:
			if !b.convertsAnyway(m, e.At) {
				r.Events = append(r.Events, b.converted(m.ID, "evt-conv-"+m.ID+"-"+tag, at))
			}
		case events.SubscriptionTrialStarted:
			p := b.Program
			r.Events = append(r.Events, b.event(events.SubscriptionTrialStarted, "evt-trial-"+m.ID+"-"+tag, m.ID, at, events.SubscriptionTrialStartedData{
				SubscriptionID: subscriptionID(m.ID), Plan: p.Paid.Plan, Price: p.Paid.TrialPrice, Currency: p.Currency, TrialEndsAt: at.AddDate(0, 0, p.Paid.TrialDays),
			}))
		default:
			r.Events = append(r.Events, b.order(m, tag, at, b.amount(rng, b.traits(m)), rng))
		}
	}
	if leaves {
		at := e.At.Add(time.Duration(rng.Int64N(int64(24 * time.Hour)))).Truncate(time.Second)
		r.Events = append(r.Events, b.event(events.MemberUnsubscribed, "evt-unsub-"+m.ID+"-"+tag, m.ID, at, events.MemberUnsubscribedData{Reason: "too many emails"}))
	}
	sortEvents(r.Events)
	return r
}

// emailTag is a short id part for events an email caused (its key holds
// '#', which event ids may not).
func emailTag(key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	return "e" + hex.EncodeToString(h.Sum(nil))
}

// CouponRedemption is the expected share of kind's grants redeemed.
func (b *Model) CouponRedemption(kind string) float64 {
	if r, ok := b.Params.Coupons.Kinds[kind]; ok {
		return r
	}
	return b.Params.Coupons.Redemption
}

// YAML is the parameters as a --behaviour file would set them all.
func (p BehaviourParams) YAML() string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	_ = enc.Encode(p)
	return buf.String()
}
