package simulate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/cost"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// Report is what the journeys did in a simulation, read from what the
// engine recorded: the members' enrollments, timelines (every decision and
// its reason), send rows and accounts, the journeys' counters and step
// statistics, and the emails in the order they were sent. It holds no
// wall-clock value, so a seed's report is the same on every run.
type Report struct {
	Journeys []string `json:"journeys"` // simulated together, by name
	Members  Cohort   `json:"members"`
	Start    string   `json:"start"` // the first simulated day, YYYY-MM-DD in the programme's zone
	Days     int      `json:"days"`
	Seed     int64    `json:"seed"`
	Currency string   `json:"currency"`

	Totals      Totals           `json:"totals"`
	PerJourney  []JourneySummary `json:"per_journey"`
	Steps       []StepSummary    `json:"steps"`
	Reasons     []ReasonCount    `json:"deferrals_and_skips"`
	Collisions  []CapCollision   `json:"cap_collisions"`
	Paths       []PathCount      `json:"paths"`
	Rewards     []RewardLine     `json:"rewards"`
	Orders      Orders           `json:"orders"`
	Temporal    TemporalActions  `json:"temporal_actions"`
	SendsPerDay []DaySends       `json:"sends_per_day"`
}

// Cohort is who was simulated.
type Cohort struct {
	Total    int `json:"total"`
	Existing int `json:"registered_before_start"`
	Consent  int `json:"email_consent"`
}

// Totals are the simulation's sums over journeys.
type Totals struct {
	Enrolled   int   `json:"enrolled"`
	Sent       int   `json:"sent"`
	Deferrals  int   `json:"deferrals"`
	Skipped    int   `json:"skipped"`
	Goals      int64 `json:"goals"`
	RewardCost Money `json:"reward_cost"`
}

// JourneySummary is one journey's enrollments, outcomes and cost.
type JourneySummary struct {
	Name      string `json:"name"`
	Enrolled  int    `json:"enrolled"`
	Active    int    `json:"active_at_end"`
	Completed int    `json:"completed"`
	Exited    int    `json:"exited"`
	// Ended counts ended enrollments by status and reason
	// ("exited:converted", "completed:lapsed").
	Ended map[string]int `json:"ended"`
	// HeldOut counts the enrollments in the journey's or the programme's
	// holdout: decided like the others, sent and given nothing.
	HeldOut int   `json:"held_out"`
	Goals   int64 `json:"goals"`
	// GoalRate is goals per enrollment, rounded to 4 places.
	GoalRate   float64 `json:"goal_rate"`
	Sent       int     `json:"sent"`
	Deferrals  int     `json:"deferrals"`
	Skipped    int     `json:"skipped"`
	Pending    int     `json:"pending_at_end"` // emails still waiting for a slot when the simulation ended
	RewardCost Money   `json:"reward_cost"`
}

// StepSummary is one send step's emails: sent (the send rows), the
// provider feedback the members gave (the step's statistics), deferral
// decisions and skips.
type StepSummary struct {
	Journey     string `json:"journey"`
	Step        string `json:"step"`
	Sent        int    `json:"sent"`
	Opened      int64  `json:"opened"`
	Clicked     int64  `json:"clicked"`
	Conversions int64  `json:"conversions"`
	Deferrals   int    `json:"deferrals"`
	Skipped     int    `json:"skipped"`
}

// ReasonCount is how often a journey's emails were deferred (decisions:
// one email may wait several times) or skipped, by the executor's reason
// code (contact.ReasonQuietHours, contact.ReasonCap; activities.Skip*, the
// contact policy's with its own reason: "contact_policy: expired").
type ReasonCount struct {
	Journey string `json:"journey"`
	Kind    string `json:"kind"` // deferred or skipped
	Reason  string `json:"reason"`
	Count   int    `json:"count"`
}

// CapCollision is how often the frequency cap held back an email of
// Journey while emails of HeldBy had taken the member's slots (those sent
// to the member within the policy's window before): the collisions the
// journeys' priorities decide.
type CapCollision struct {
	Journey   string `json:"journey"`
	HeldBy    string `json:"held_by"`
	Deferrals int    `json:"deferrals"`
	Skips     int    `json:"skips"`
}

// PathCount is how many members took one path of a branch, split or wait
// step, and their share of the step's members.
type PathCount struct {
	Journey string  `json:"journey"`
	Step    string  `json:"step"`
	Kind    string  `json:"kind"` // branch, split or wait
	Path    string  `json:"path"` // "case 0 → offer", "path 1 → b", "timeout → reminder_7d"
	Count   int     `json:"count"`
	Share   float64 `json:"share"`
}

// RewardLine is one kind of reward one step granted and what it is
// expected to cost: coupons at face value times the share expected to be
// redeemed, points at the programme's point value, boosts at the value of
// the extra points members earned under them (against ×1).
type RewardLine struct {
	Journey    string  `json:"journey"`
	Step       string  `json:"step"`
	Reward     string  `json:"reward"` // "coupon NEW8", "points", "boost ×2"
	Granted    int     `json:"granted"`
	Points     int64   `json:"points,omitempty"`
	FaceValue  Money   `json:"face_value,omitzero"`
	Redemption float64 `json:"expected_redemption,omitempty"`
	Cost       Money   `json:"cost"`
}

// Orders are the simulated members' orders in the simulated days, and
// those attributed to a journey email (a click within the attribution
// window).
type Orders struct {
	Count      int   `json:"count"`
	Revenue    Money `json:"revenue"`
	Attributed int64 `json:"attributed_to_emails"`
}

// TemporalActions are what the same journeys would cost on Temporal by
// the engine's accounting (internal/cost, as `make cost` counts real
// histories). The schedules' runs (scans every hour, the ledger sweep)
// cost the same however few members there are, so per member they weigh
// heavily in a small cohort.
type TemporalActions struct {
	Total         int64   `json:"total"`
	PerMemberYear float64 `json:"per_member_per_year"`
	// ByKind is Total by kind of action (workflow_starts, schedule_actions,
	// activities, activity_retries, heartbeats, timers, signals, …);
	// kinds with none are left out.
	ByKind map[string]int `json:"by_kind,omitempty"`
}

// DaySends is one simulated day's sent emails, by journey.
type DaySends struct {
	Day       string         `json:"day"`
	Total     int            `json:"total"`
	ByJourney map[string]int `json:"by_journey,omitempty"`
}

// Money is an amount in the report's currency, written with two decimals
// ("1234.50").
type Money struct{ decimal.Decimal }

// MarshalJSON writes the amount as a decimal string with two places.
func (m Money) MarshalJSON() ([]byte, error) { return json.Marshal(m.StringFixed(2)) }

// UnmarshalJSON reads a decimal string.
func (m *Money) UnmarshalJSON(b []byte) error { return m.Decimal.UnmarshalJSON(b) }

// IsZero lets omitzero leave out a zero amount.
func (m Money) IsZero() bool { return m.Decimal.IsZero() }

func (m Money) String() string { return m.StringFixed(2) }

// Format prints the amount with two decimals for every verb (the embedded
// decimal's Format would not).
func (m Money) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, m.StringFixed(2)) }

// timelinePage is how many timeline entries NewReport reads at once.
const timelinePage = 500

// NewReport reads what the engine recorded in o.Store about o's members
// and journeys.
func NewReport(ctx context.Context, o Outcome) (*Report, error) {
	cfg := o.Config
	p := cfg.Program
	if p == nil {
		return nil, errors.New("simulate report: the outcome has no programme")
	}
	if o.Store == nil {
		return nil, errors.New("simulate report: the outcome has no store")
	}
	loc := p.Location
	end := cfg.Start.AddDate(0, 0, cfg.Days)
	r := &Report{
		Start: cfg.Start.In(loc).Format(time.DateOnly), Days: cfg.Days, Seed: cfg.Seed, Currency: p.Currency,
		Members: Cohort{Total: len(cfg.Members)},
	}
	defs := map[string]journey.Definition{}
	for _, d := range cfg.Journeys {
		defs[d.Name] = d
		r.Journeys = append(r.Journeys, d.Name)
	}
	slices.Sort(r.Journeys)
	rb := newBuilder(r, defs, p, redemption(cfg.Behaviour))

	// The emails sent, by member, for cap collisions; by local day.
	byMember := map[string][]Email{}
	for _, e := range o.Emails {
		byMember[e.MemberID] = append(byMember[e.MemberID], e)
	}
	for _, es := range byMember {
		slices.SortStableFunc(es, func(a, b Email) int { return a.At.Compare(b.At) })
	}
	rb.sendsPerDay(o.Emails, cfg.Start, cfg.Days)

	for _, m := range cfg.Members {
		if m.Registered.Before(cfg.Start) {
			r.Members.Existing++
		}
		if m.Consent {
			r.Members.Consent++
		}
		if err := rb.member(ctx, o.Store, m.ID, byMember[m.ID], cfg.Start, end); err != nil {
			return nil, err
		}
	}
	for _, name := range r.Journeys {
		counters, err := o.Store.JourneyCounters(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("simulate report: counters of %s: %w", name, err)
		}
		rb.journey(name).Goals = counters[store.CountGoal]
		stats, err := o.Store.JourneyStats(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("simulate report: statistics of %s: %w", name, err)
		}
		for _, s := range stats {
			st := rb.step(name, s.Step)
			st.Opened, st.Clicked, st.Conversions = s.Counts[store.EventOpen], s.Counts[store.EventClick], s.Counts["conversion"]
			r.Orders.Attributed += s.Counts["conversion"]
		}
	}
	rb.finish()
	r.Temporal.Total = o.Actions
	r.Temporal.ByKind = actionKinds(o.ActionKinds)
	if n := len(cfg.Members); n > 0 && cfg.Days > 0 {
		r.Temporal.PerMemberYear = round(float64(o.Actions)/float64(n)/(float64(cfg.Days)/365), 2)
	}
	return r, nil
}

// actionKinds names the non-zero counts of a.
func actionKinds(a cost.Actions) map[string]int {
	out := map[string]int{}
	for k, n := range map[string]int{
		"workflow_starts": a.WorkflowStarts, "schedule_actions": a.ScheduleActions, "activities": a.Activities,
		"activity_retries": a.ActivityRetries, "heartbeats": a.Heartbeats, "timers": a.Timers, "signals": a.Signals,
		"external_signals": a.ExternalSignals, "markers": a.Markers, "search_attributes": a.SearchAttributes,
		"child_workflows": a.ChildWorkflows,
	} {
		if n != 0 {
			out[k] = n
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// redemption is the expected redemption of a coupon kind: the
// behaviour's when it knows, else the default model's.
func redemption(b Behaviour) func(kind string) float64 {
	if cr, ok := b.(CouponRedeemer); ok {
		return cr.CouponRedemption
	}
	def := DefaultBehaviour().Coupons
	return func(kind string) float64 {
		if r, ok := def.Kinds[kind]; ok {
			return r
		}
		return def.Redemption
	}
}

// builder gathers the report's counts while NewReport reads members.
type builder struct {
	r          *Report
	defs       map[string]journey.Definition
	program    *loyalty.Program
	redemption func(string) float64

	journeys   map[string]*JourneySummary
	steps      map[[2]string]*StepSummary
	reasons    map[[3]string]int
	collisions map[[2]string]*CapCollision
	paths      map[[4]string]int
	rewards    map[[3]string]*RewardLine
	granted    map[[2]string]bool // decision key and reward already counted
	revenue    decimal.Decimal
}

func newBuilder(r *Report, defs map[string]journey.Definition, p *loyalty.Program, red func(string) float64) *builder {
	b := &builder{
		r: r, defs: defs, program: p, redemption: red,
		journeys: map[string]*JourneySummary{}, steps: map[[2]string]*StepSummary{}, reasons: map[[3]string]int{},
		collisions: map[[2]string]*CapCollision{}, paths: map[[4]string]int{}, rewards: map[[3]string]*RewardLine{},
		granted: map[[2]string]bool{},
	}
	for _, name := range r.Journeys {
		b.journey(name)
	}
	return b
}

func (b *builder) simulated(name string) bool { _, ok := b.defs[name]; return ok }

func (b *builder) journey(name string) *JourneySummary {
	j := b.journeys[name]
	if j == nil {
		j = &JourneySummary{Name: name, Ended: map[string]int{}}
		b.journeys[name] = j
	}
	return j
}

func (b *builder) step(journeyName, step string) *StepSummary {
	k := [2]string{journeyName, step}
	s := b.steps[k]
	if s == nil {
		s = &StepSummary{Journey: journeyName, Step: step}
		b.steps[k] = s
	}
	return s
}

// member reads one member's enrollments, timeline, send rows and account.
func (b *builder) member(ctx context.Context, st store.Store, id string, emails []Email, start, end time.Time) error {
	enrs, err := st.ListEnrollments(ctx, id)
	if err != nil {
		return fmt.Errorf("simulate report: enrollments of %s: %w", id, err)
	}
	for _, e := range enrs {
		if !b.simulated(e.Journey) {
			continue
		}
		j := b.journey(e.Journey)
		j.Enrolled++
		if e.Arm.HeldOut() {
			j.HeldOut++
		}
		switch {
		case e.Status == loyalty.EnrollmentExited:
			j.Exited++
			j.Ended["exited:"+e.Reason]++
		case e.Status.Final():
			j.Completed++
			if e.Reason == "" || e.Reason == string(e.Status) {
				j.Ended[string(e.Status)]++
			} else {
				j.Ended[string(e.Status)+":"+e.Reason]++
			}
		default:
			j.Active++
		}
	}

	sends, err := st.ListSends(ctx, id)
	if err != nil {
		return fmt.Errorf("simulate report: sends of %s: %w", id, err)
	}
	for _, s := range sends {
		if !b.simulated(s.Journey) {
			continue
		}
		j, sp := b.journey(s.Journey), b.step(s.Journey, s.Step)
		switch s.Status {
		case store.SendSent:
			j.Sent++
			sp.Sent++
		case store.SendSkipped:
			j.Skipped++
			sp.Skipped++
			reason := skipCode(s.Reason)
			b.reasons[[3]string{s.Journey, "skipped", reason}]++
			if reason == activities.SkipContactPolicy+": "+contact.ReasonCap {
				b.collide(s.Journey, emails, s.UpdatedAt, false)
			}
		case store.SendPending:
			j.Pending++
		}
	}

	before := ""
	for {
		page, next, err := st.ListTimeline(ctx, id, timelinePage, before)
		if err != nil {
			return fmt.Errorf("simulate report: timeline of %s: %w", id, err)
		}
		for _, e := range page {
			if b.simulated(e.Journey) {
				b.decision(e, emails)
			}
		}
		if next == "" {
			break
		}
		before = next
	}

	a, err := st.GetAccount(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("simulate report: account of %s: %w", id, err)
	}
	for _, o := range a.Orders {
		if !o.At.Before(start) && o.At.Before(end) {
			b.r.Orders.Count++
			b.revenue = b.revenue.Add(o.Amount)
		}
	}
	b.boosts(a)
	return nil
}

// skipCode is a skip reason without its detail ("reward_refused: coupon
// NEW8 …" → "reward_refused"), keeping the contact policy's own reason
// ("contact_policy: expired").
func skipCode(reason string) string {
	if strings.HasPrefix(reason, activities.SkipContactPolicy+": ") {
		return reason
	}
	code, _, _ := strings.Cut(reason, ":")
	return cmp.Or(code, "unknown")
}

// decision counts one timeline entry.
func (b *builder) decision(e store.TimelineEntry, emails []Email) {
	switch activities.DecisionKind(e.Kind) {
	case activities.DecisionDeferred:
		b.journey(e.Journey).Deferrals++
		b.step(e.Journey, e.Step).Deferrals++
		b.reasons[[3]string{e.Journey, "deferred", cmp.Or(e.Reason, "unknown")}]++
		if e.Reason == contact.ReasonCap {
			b.collide(e.Journey, emails, e.At, true)
		}
	case activities.DecisionBranch:
		kind, path := "branch", e.Reason
		if strings.HasPrefix(e.Reason, "split path ") {
			kind, path = "split", "path "+strings.TrimPrefix(e.Reason, "split path ")
		}
		if to, ok := e.Values["goto"].(string); ok {
			path += " → " + to
		}
		b.paths[[4]string{e.Journey, e.Step, kind, path}]++
	case activities.DecisionWait:
		path := e.Reason
		if s, ok := b.defs[e.Journey].Step(e.Step); ok && s.Wait != nil {
			switch e.Reason {
			case "event":
				path = "event → " + s.Wait.OnEvent
			case "timeout":
				path = "timeout → " + s.Wait.OnTimeout
			}
		}
		b.paths[[4]string{e.Journey, e.Step, "wait", path}]++
	case activities.DecisionRewardGranted:
		b.reward(e)
	}
}

// collide counts an email of journeyName the cap held back at at against
// the journeys whose emails held the member's slots then.
func (b *builder) collide(journeyName string, emails []Email, at time.Time, deferral bool) {
	window := contact.Default().Window
	seen := map[string]bool{}
	for _, e := range emails {
		if e.At.After(at) {
			break
		}
		if at.Sub(e.At) < window && !seen[e.Journey] {
			seen[e.Journey] = true
			k := [2]string{journeyName, e.Journey}
			c := b.collisions[k]
			if c == nil {
				c = &CapCollision{Journey: journeyName, HeldBy: e.Journey}
				b.collisions[k] = c
			}
			if deferral {
				c.Deferrals++
			} else {
				c.Skips++
			}
		}
	}
}

// reward counts a granted reward — its coupon, points or boost — once per
// step of an enrollment: a step whose email waited runs again, and its
// reward (granted once, under the step's key) is recorded again.
func (b *builder) reward(e store.TimelineEntry) {
	line := func(what string) *RewardLine {
		if b.granted[[2]string{e.Key, what}] {
			return nil
		}
		b.granted[[2]string{e.Key, what}] = true
		k := [3]string{e.Journey, e.Step, what}
		l := b.rewards[k]
		if l == nil {
			l = &RewardLine{Journey: e.Journey, Step: e.Step, Reward: what}
			b.rewards[k] = l
		}
		l.Granted++
		return l
	}
	if kind, ok := e.Values["coupon"].(string); ok && kind != "" {
		if l := line("coupon " + kind); l != nil {
			if c, ok := b.program.Coupon(kind); ok {
				l.FaceValue = Money{c.Discount}
			}
			l.Redemption = b.redemption(kind)
		}
	}
	if pts, ok := e.Values["points"].(float64); ok && pts > 0 {
		if l := line("points"); l != nil {
			l.Points += int64(pts)
		}
	}
	if m, ok := e.Values["boost"].(string); ok && m != "" {
		line("boost ×" + m)
	}
}

// boosts prices the account's journey boosts: the points the ledger
// recorded each boost adding to an order beyond the programme's own
// multiplier (OrderRecord.Boost and BoostPoints), on the line of the
// step that granted it (its key is the step's idempotency key).
func (b *builder) boosts(a loyalty.Account) {
	for _, bo := range a.Boosts {
		parts := strings.Split(bo.Key, "#")
		if len(parts) != 5 || !b.simulated(parts[1]) {
			continue
		}
		var extra int64
		for _, o := range a.Orders {
			if o.Boost == bo.Key {
				extra += o.BoostPoints
			}
		}
		k := [3]string{parts[1], parts[3], "boost ×" + bo.Multiplier.String()}
		if l := b.rewards[k]; l != nil {
			l.Points += extra
		}
	}
}

// sendsPerDay buckets the emails by day in the programme's zone, every
// simulated day listed.
func (b *builder) sendsPerDay(emails []Email, start time.Time, days int) {
	loc := b.program.Location
	index := map[string]int{}
	first := start.In(loc)
	for i := range days {
		d := time.Date(first.Year(), first.Month(), first.Day()+i, 0, 0, 0, 0, loc).Format(time.DateOnly)
		index[d] = i
		b.r.SendsPerDay = append(b.r.SendsPerDay, DaySends{Day: d})
	}
	for _, e := range emails {
		i, ok := index[e.At.In(loc).Format(time.DateOnly)]
		if !ok {
			continue
		}
		ds := &b.r.SendsPerDay[i]
		ds.Total++
		if ds.ByJourney == nil {
			ds.ByJourney = map[string]int{}
		}
		ds.ByJourney[e.Journey]++
	}
}

// finish turns the maps into the report's sorted lists and prices the
// rewards.
func (b *builder) finish() {
	r := b.r
	total := decimal.Zero
	costs := map[string]decimal.Decimal{}
	for _, l := range b.rewards {
		var c decimal.Decimal
		switch {
		case strings.HasPrefix(l.Reward, "coupon "):
			c = l.FaceValue.Mul(decimal.NewFromInt(int64(l.Granted))).Mul(decimal.NewFromFloat(l.Redemption))
		default: // points and boosts' extra points
			c = decimal.NewFromInt(l.Points).Mul(b.program.Points.PointValue)
		}
		l.Cost = Money{c.Round(2)}
		costs[l.Journey] = costs[l.Journey].Add(l.Cost.Decimal)
		r.Rewards = append(r.Rewards, *l)
	}
	slices.SortFunc(r.Rewards, func(a, c RewardLine) int {
		return cmp.Or(cmp.Compare(a.Journey, c.Journey), b.stepOrder(a.Journey, a.Step, c.Step), cmp.Compare(a.Reward, c.Reward))
	})
	for _, name := range r.Journeys {
		j := b.journeys[name]
		if j.Enrolled > 0 {
			j.GoalRate = round(float64(j.Goals)/float64(j.Enrolled), 4)
		}
		j.RewardCost = Money{costs[name]}
		total = total.Add(costs[name])
		r.PerJourney = append(r.PerJourney, *j)
		r.Totals.Enrolled += j.Enrolled
		r.Totals.Sent += j.Sent
		r.Totals.Deferrals += j.Deferrals
		r.Totals.Skipped += j.Skipped
		r.Totals.Goals += j.Goals
	}
	r.Totals.RewardCost = Money{total}
	r.Orders.Revenue = Money{b.revenue}
	for _, s := range b.steps {
		r.Steps = append(r.Steps, *s)
	}
	slices.SortFunc(r.Steps, func(a, c StepSummary) int {
		return cmp.Or(cmp.Compare(a.Journey, c.Journey), b.stepOrder(a.Journey, a.Step, c.Step))
	})
	for k, n := range b.reasons {
		r.Reasons = append(r.Reasons, ReasonCount{Journey: k[0], Kind: k[1], Reason: k[2], Count: n})
	}
	slices.SortFunc(r.Reasons, func(a, c ReasonCount) int {
		return cmp.Or(cmp.Compare(a.Journey, c.Journey), cmp.Compare(a.Kind, c.Kind), cmp.Compare(c.Count, a.Count), cmp.Compare(a.Reason, c.Reason))
	})
	for _, c := range b.collisions {
		r.Collisions = append(r.Collisions, *c)
	}
	slices.SortFunc(r.Collisions, func(a, c CapCollision) int {
		return cmp.Or(cmp.Compare(a.Journey, c.Journey), cmp.Compare(a.HeldBy, c.HeldBy))
	})
	stepTotal := map[[2]string]int{}
	for k, n := range b.paths {
		stepTotal[[2]string{k[0], k[1]}] += n
	}
	for k, n := range b.paths {
		r.Paths = append(r.Paths, PathCount{Journey: k[0], Step: k[1], Kind: k[2], Path: k[3], Count: n,
			Share: round(float64(n)/float64(stepTotal[[2]string{k[0], k[1]}]), 4)})
	}
	slices.SortFunc(r.Paths, func(a, c PathCount) int {
		return cmp.Or(cmp.Compare(a.Journey, c.Journey), b.stepOrder(a.Journey, a.Step, c.Step), cmp.Compare(a.Path, c.Path))
	})
}

// stepOrder compares two steps of a journey by their place in its
// definition (unknown steps last, by name).
func (b *builder) stepOrder(journeyName, x, y string) int {
	d := b.defs[journeyName]
	ix, iy := d.Index(x), d.Index(y)
	if ix < 0 {
		ix = math.MaxInt
	}
	if iy < 0 {
		iy = math.MaxInt
	}
	return cmp.Or(cmp.Compare(ix, iy), cmp.Compare(x, y))
}

func round(x float64, places int) float64 {
	f := math.Pow(10, float64(places))
	return math.Round(x*f) / f
}

// WriteJSON writes the report as indented JSON (keys in a fixed order,
// maps sorted), ending with a newline.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// ChartFile is the name of the sends-per-day chart written next to a
// report (package chart draws it).
const ChartFile = "sends-per-day.svg"

// WriteMarkdown writes the report as Markdown tables.
func (r *Report) WriteMarkdown(w io.Writer) error {
	mw := &mdWriter{w: w}
	mw.f("# Simulation: %s\n\n", strings.Join(r.Journeys, ", "))
	mw.f("%d members (%d registered before the start, %d with email consent), %d days from %s, seed %d. Money in %s.\n\n",
		r.Members.Total, r.Members.Existing, r.Members.Consent, r.Days, r.Start, r.Seed, r.Currency)
	mw.f("Enrollments %d, emails sent %d, deferrals %d, skipped %d, goals reached %d; reward cost %s %s; Temporal actions %d (%.2f per member per year).\n\n",
		r.Totals.Enrolled, r.Totals.Sent, r.Totals.Deferrals, r.Totals.Skipped, r.Totals.Goals, r.Totals.RewardCost.String(), r.Currency, r.Temporal.Total, r.Temporal.PerMemberYear)

	mw.f("## Journeys\n\n")
	mw.table([]string{"journey", "enrolled", "active at end", "completed", "exited", "held out", "goals", "goal rate", "sent", "deferrals", "skipped", "reward cost"},
		"lrrrrrrrrrrr", func(row func(...string)) {
			for _, j := range r.PerJourney {
				row(j.Name, itoa(j.Enrolled), itoa(j.Active), itoa(j.Completed), itoa(j.Exited), itoa(j.HeldOut), itoa64(j.Goals),
					pct(j.GoalRate), itoa(j.Sent), itoa(j.Deferrals), itoa(j.Skipped), j.RewardCost.String())
			}
		})
	mw.f("How enrollments ended:\n\n")
	mw.table([]string{"journey", "ended", "enrollments"}, "llr", func(row func(...string)) {
		for _, j := range r.PerJourney {
			for _, k := range sortedKeys(j.Ended) {
				row(j.Name, k, itoa(j.Ended[k]))
			}
		}
	})

	mw.f("## Emails by step\n\n")
	mw.table([]string{"journey", "step", "sent", "opened", "clicked", "conversions", "deferrals", "skipped"}, "llrrrrrr", func(row func(...string)) {
		for _, s := range r.Steps {
			row(s.Journey, s.Step, itoa(s.Sent), itoa64(s.Opened), itoa64(s.Clicked), itoa64(s.Conversions), itoa(s.Deferrals), itoa(s.Skipped))
		}
	})

	mw.f("## Deferrals and skips by reason\n\n")
	mw.table([]string{"journey", "decision", "reason", "count"}, "lllr", func(row func(...string)) {
		for _, c := range r.Reasons {
			row(c.Journey, c.Kind, c.Reason, itoa(c.Count))
		}
	})

	mw.f("## Frequency-cap collisions\n\nAn email held back by the cap, against the journeys whose emails had taken the member's slots in the window before it.\n\n")
	mw.table([]string{"email of", "held back by", "deferrals", "skips"}, "llrr", func(row func(...string)) {
		for _, c := range r.Collisions {
			row(c.Journey, c.HeldBy, itoa(c.Deferrals), itoa(c.Skips))
		}
	})

	mw.f("## Branches, splits and waits\n\n")
	mw.table([]string{"journey", "step", "kind", "path", "members", "share"}, "llllrr", func(row func(...string)) {
		for _, p := range r.Paths {
			row(p.Journey, p.Step, p.Kind, p.Path, itoa(p.Count), pct(p.Share))
		}
	})

	mw.f("## Rewards\n\nCoupons at face value × expected redemption; points and boosts' extra points at the programme's point value.\n\n")
	mw.table([]string{"journey", "step", "reward", "granted", "points", "face value", "expected redemption", "cost"}, "lllrrrrr", func(row func(...string)) {
		for _, l := range r.Rewards {
			face, red, pts := "", "", ""
			if !l.FaceValue.IsZero() {
				face = l.FaceValue.String()
			}
			if strings.HasPrefix(l.Reward, "coupon ") {
				red = pct(l.Redemption)
			}
			if l.Points != 0 {
				pts = itoa64(l.Points)
			}
			row(l.Journey, l.Step, l.Reward, itoa(l.Granted), pts, face, red, l.Cost.String())
		}
		row("**total**", "", "", "", "", "", "", "**"+r.Totals.RewardCost.String()+"**")
	})

	if len(r.Temporal.ByKind) > 0 {
		mw.f("## Temporal actions\n\n%d actions, %.2f per member per year (the hourly schedules cost the same for any cohort, so a small one pays more per member).\n\n",
			r.Temporal.Total, r.Temporal.PerMemberYear)
		mw.table([]string{"kind", "actions"}, "lr", func(row func(...string)) {
			for _, k := range sortedKeys(r.Temporal.ByKind) {
				row(k, itoa(r.Temporal.ByKind[k]))
			}
		})
	}

	mw.f("## Orders\n\nOrders in the simulated days: %d, %s %s; attributed to journey emails: %d.\n\n", r.Orders.Count, r.Orders.Revenue.String(), r.Currency, r.Orders.Attributed)

	mw.f("## Sends per week\n\nThe chart of sends per day is [%s](%s).\n\n", ChartFile, ChartFile)
	weeks := r.weeks()
	head := append([]string{"week from"}, r.Journeys...)
	head = append(head, "total")
	mw.table(head, "l"+strings.Repeat("r", len(r.Journeys)+1), func(row func(...string)) {
		for _, wk := range weeks {
			cells := []string{wk.Day}
			for _, j := range r.Journeys {
				cells = append(cells, itoa(wk.ByJourney[j]))
			}
			row(append(cells, itoa(wk.Total))...)
		}
	})
	return mw.err
}

// weeks sums the days by seven from the first.
func (r *Report) weeks() []DaySends {
	var out []DaySends
	for i, d := range r.SendsPerDay {
		if i%7 == 0 {
			out = append(out, DaySends{Day: d.Day, ByJourney: map[string]int{}})
		}
		w := &out[len(out)-1]
		w.Total += d.Total
		for j, n := range d.ByJourney {
			w.ByJourney[j] += n
		}
	}
	return out
}

type mdWriter struct {
	w   io.Writer
	err error
}

func (m *mdWriter) f(format string, args ...any) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, format, args...)
	}
}

// table writes a Markdown table; align has one 'l' or 'r' per column. A
// table without rows says so instead.
func (m *mdWriter) table(head []string, align string, rows func(row func(...string))) {
	var body [][]string
	rows(func(cells ...string) { body = append(body, cells) })
	if len(body) == 0 {
		m.f("(none)\n\n")
		return
	}
	m.f("| %s |\n|", strings.Join(head, " | "))
	for i := range head {
		if align[i] == 'r' {
			m.f("---:|")
		} else {
			m.f("---|")
		}
	}
	m.f("\n")
	for _, r := range body {
		m.f("| %s |\n", strings.Join(r, " | "))
	}
	m.f("\n")
}

func itoa(n int) string     { return fmt.Sprint(n) }
func itoa64(n int64) string { return fmt.Sprint(n) }
func pct(x float64) string  { return fmt.Sprintf("%.1f%%", 100*x) }
