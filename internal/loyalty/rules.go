package loyalty

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
)

// Rules applies a Program to accounts. All methods are pure: they take an
// account by value and return the changed copy with its entries, so they can
// be replayed, tested and benchmarked without a store.
type Rules struct {
	Program *Program
	// CodeSecret keys the HMAC that turns an idempotency key into a coupon
	// code: codes are the same on every replay of the same cause, and nobody
	// without the secret can guess a valid one.
	CodeSecret []byte
}

// Input is one recorded event and what the ledger service looked up for it.
type Input struct {
	Member Member // the projection, after the event was applied to it
	Event  events.Envelope
	Data   any // Event.DecodeData()'s result
	// Referrer is the member whose referral code a registration carries;
	// nil when there is none or the code is unknown.
	Referrer *Member
	// TrialTakenBy is another member who already holds a trial claim on one
	// of this member's person keys ("" when none).
	TrialTakenBy string
	// Exhausted lists coupon kinds whose global limit is reached.
	Exhausted []string
}

// change accumulates one application's entries, claims and effects.
type change struct {
	r   *Rules
	a   *Account
	m   Member
	res Result
	at  time.Time
}

func (r *Rules) begin(a Account, m Member, at time.Time) *change {
	a = a.clone()
	if a.MemberID == "" {
		a.MemberID = m.ID
	}
	if a.Tier == "" {
		a.Tier = r.Program.Tiers[0].Code
	}
	c := &change{r: r, a: &a, m: m, at: at}
	if a.ReferralCode == "" && a.MemberID != "" {
		// Every account gets its code, and the claim that maps the code
		// back to it, with its first change.
		a.ReferralCode = ReferralCodeFor(a.MemberID)
		c.res.Claims = append(c.res.Claims, Claim{Key: "refcode#" + a.ReferralCode, Owner: a.MemberID})
	}
	return c
}

func (c *change) done() Result {
	c.a.refreshBadges(c.r.Program)
	c.res.Account = *c.a
	return c.res
}

// entry appends an entry with the next sequence number.
func (c *change) entry(e Entry) *Entry {
	c.a.Seq++
	e.Seq = c.a.Seq
	e.MemberID = c.a.MemberID
	if e.At.IsZero() {
		e.At = c.at
	}
	e.At = e.At.UTC()
	c.res.Entries = append(c.res.Entries, e)
	return &c.res.Entries[len(c.res.Entries)-1]
}

func (a Account) clone() Account {
	a.Growth = slices.Clone(a.Growth)
	a.Lots = slices.Clone(a.Lots)
	a.Coupons = slices.Clone(a.Coupons)
	a.Boosts = slices.Clone(a.Boosts)
	a.Orders = slices.Clone(a.Orders)
	for i := range a.Orders {
		a.Orders[i].Lines = slices.Clone(a.Orders[i].Lines)
		a.Orders[i].RefundedLines = slices.Clone(a.Orders[i].RefundedLines)
		a.Orders[i].RefundIDs = slices.Clone(a.Orders[i].RefundIDs)
		a.Orders[i].Refunds = slices.Clone(a.Orders[i].Refunds)
	}
	a.HeldRefunds = slices.Clone(a.HeldRefunds)
	a.BirthdayYears = slices.Clone(a.BirthdayYears)
	a.Badges = slices.Clone(a.Badges)
	a.CouponsIssued = cloneMap(a.CouponsIssued)
	a.ReferralRewards = cloneMap(a.ReferralRewards)
	if a.Paid != nil {
		p := *a.Paid
		a.Paid = &p
	}
	return a
}

func cloneMap(m map[string]int) map[string]int {
	if m == nil {
		return nil
	}
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Apply applies one member event to the account. Time-based changes due by
// the event's time (releases, expiries, reviews, lapses) are applied first.
// Events the programme does not act on give an empty result.
func (r *Rules) Apply(a Account, in Input) Result {
	at := in.Event.OccurredAt
	c := r.begin(a, in.Member, at)
	c.advance(at)
	c.snapshotDay(at)
	cause := in.Event.ID
	switch d := in.Data.(type) {
	case *events.MemberRegisteredData:
		c.register(cause, in)
	case *events.OrderPaidData:
		c.orderPaid(cause, d)
	case *events.OrderRefundedData:
		c.refund(HeldRefund{EventID: cause, At: at, OrderID: d.OrderID, RefundID: d.RefundID, Amount: d.Amount, Lines: lineAmounts(d.Lines)})
	case *events.WalletToppedUpData:
		c.topUp(cause, d)
	case *events.MemberCheckedInData:
		c.interact(cause, "check_in", r.Program.Growth.CheckIn)
	case *events.ReviewPostedData:
		c.interact(cause, "review", r.Program.Growth.Review)
	case *events.ContentSharedData:
		c.interact(cause, "share", r.Program.Growth.Share)
	case *events.SubscriptionTrialStartedData:
		c.trial(cause, d, in.TrialTakenBy)
	case *events.SubscriptionConvertedData:
		c.paidPeriod(cause, "paid.convert", d.Plan, d.SubscriptionID, d.PeriodEndsAt)
	case *events.SubscriptionRenewedData:
		c.paidPeriod(cause, "paid.renew", d.Plan, d.SubscriptionID, d.PeriodEndsAt)
	case *events.SubscriptionCancelledData:
		c.cancel(cause, d)
	}
	c.prune()
	return c.done()
}

// Advance applies every time-based change due by now: pending points
// released, lots expired, paid memberships lapsed, tier reviews, birthday
// gifts. Reads call it to show the account as of now; the sweep persists it.
func (r *Rules) Advance(a Account, m Member, now time.Time) Result {
	c := r.begin(a, m, now)
	c.advance(now)
	c.prune()
	c.a.reached(now, "")
	return c.done()
}

func (c *change) snapshotDay(at time.Time) {
	day := c.r.Program.Day(at)
	if day > c.a.DayTierDay {
		c.a.DayTierDay = day
		c.a.DayTier = c.r.EffectiveTier(*c.a, c.r.Program.StartOfDay(at))
	}
}

// EffectiveTier is the tier the member enjoys at t: their tier, raised to
// the paid membership's floor while it is active.
func (r *Rules) EffectiveTier(a Account, t time.Time) string {
	tier := a.Tier
	if tier == "" {
		tier = r.Program.Tiers[0].Code
	}
	if a.Paid.ActiveAt(t) && r.Program.Paid.TierFloor != "" &&
		r.Program.tierIndex(r.Program.Paid.TierFloor) > r.Program.tierIndex(tier) {
		return r.Program.Paid.TierFloor
	}
	return tier
}

// ---- growth and tiers ----

// GrowthTotals is growth in the rolling window ending at a time.
type GrowthTotals struct {
	Spend       decimal.Decimal `json:"spend"`
	Interaction decimal.Decimal `json:"interaction"` // as earned, before the cap
	Reward      decimal.Decimal `json:"reward"`
	Counted     decimal.Decimal `json:"counted"`
}

// Growth sums the growth in the window (at-WindowDays, at] and applies the
// interaction cap: interaction may be at most InteractionMaxShare of counted
// growth, i.e. at most share/(1-share) of the rest.
func (r *Rules) Growth(a Account, at time.Time) GrowthTotals {
	from := at.AddDate(0, 0, -r.Program.Growth.WindowDays)
	var g GrowthTotals
	for _, rec := range a.Growth {
		if !rec.At.After(from) || rec.At.After(at) {
			continue
		}
		switch rec.Kind {
		case GrowthSpend:
			g.Spend = g.Spend.Add(rec.Amount)
		case GrowthInteraction:
			g.Interaction = g.Interaction.Add(rec.Amount)
		case GrowthReward:
			g.Reward = g.Reward.Add(rec.Amount)
		}
	}
	rest := decimal.Max(g.Spend.Add(g.Reward), decimal.Zero)
	share := r.Program.Growth.InteractionMaxShare
	limit := rest.Mul(share).Div(decimal.NewFromInt(1).Sub(share)).Truncate(2)
	g.Counted = rest.Add(decimal.Min(g.Interaction, limit))
	return g
}

func (c *change) addGrowth(key string, at time.Time, kind GrowthKind, source string, amount decimal.Decimal) {
	if amount.IsZero() {
		return
	}
	c.a.Growth = append(c.a.Growth, GrowthRecord{Key: key, At: at, Kind: kind, Source: source, Amount: amount})
}

// upgrade raises the tier to the highest one counted growth reaches.
func (c *change) upgrade(cause string) {
	p := c.r.Program
	earned := p.EarnedTier(c.r.Growth(*c.a, c.at).Counted)
	if p.tierIndex(earned) <= p.tierIndex(c.a.Tier) {
		return
	}
	from := c.a.Tier
	c.setTier(earned, c.at)
	c.entry(Entry{Key: cause + "#tier.upgrade", Rule: "tier.upgrade", Tier: earned, EventID: eventOf(cause),
		Reason: fmt.Sprintf("counted growth reached %s's threshold %s; %s → %s", earned, mustTier(p, earned).Threshold, from, earned)})
}

// demoteAfterRefund drops the tier at once, to what the remaining growth
// earns, when a refund takes counted growth below the tier's threshold.
func (c *change) demoteAfterRefund(cause string) {
	p := c.r.Program
	counted := c.r.Growth(*c.a, c.at).Counted
	cur := mustTier(p, c.a.Tier)
	if counted.GreaterThanOrEqual(cur.Threshold) {
		return
	}
	earned := p.EarnedTier(counted)
	from := c.a.Tier
	c.setTier(earned, c.at)
	c.entry(Entry{Key: cause + "#tier.demote", Rule: "tier.demote", Tier: earned, EventID: eventOf(cause),
		Reason: fmt.Sprintf("refund left counted growth %s below %s's threshold %s; %s → %s", counted, from, cur.Threshold, from, earned)})
}

func (c *change) setTier(code string, at time.Time) {
	p := c.r.Program
	c.a.Tier = code
	c.a.TierSince = p.StartOfDay(at)
	c.a.ReviewAt = time.Time{}
	if p.tierIndex(code) > 0 {
		c.a.ReviewAt = c.a.TierSince.AddDate(1, 0, 0)
	}
}

func mustTier(p *Program, code string) Tier {
	t, ok := p.Tier(code)
	if !ok {
		return p.Tiers[0]
	}
	return t
}

// tierReview is what the anniversary review at an account's ReviewAt
// decides on the growth recorded so far.
type tierReview struct {
	at      time.Time
	counted decimal.Decimal // counted growth in the window ending at the review
	tier    Tier            // the tier under review
	lower   string          // the tier it falls to; "" when it is kept
}

// tierReviewOf decides the review due at a.ReviewAt: the tier is kept when
// counted growth reaches its threshold, else it falls one tier (never
// more, whatever the growth would earn). Both the review itself and
// ReviewOutlook go through it.
func (r *Rules) tierReviewOf(a Account) tierReview {
	p := r.Program
	tr := tierReview{at: a.ReviewAt, counted: r.Growth(a, a.ReviewAt).Counted, tier: mustTier(p, a.Tier)}
	if i := p.tierIndex(tr.tier.Code); i > 0 && tr.counted.LessThan(tr.tier.Threshold) {
		tr.lower = p.Tiers[i-1].Code
	}
	return tr
}

// review runs the tier anniversary review due at c.a.ReviewAt.
func (c *change) review() {
	p := c.r.Program
	tr := c.r.tierReviewOf(*c.a)
	at, counted, cur := tr.at, tr.counted, tr.tier
	key := fmt.Sprintf("%s#tier.review#%s", c.a.MemberID, p.Day(at))
	if tr.lower == "" {
		c.a.ReviewAt = at.AddDate(1, 0, 0)
		c.entry(Entry{Key: key, At: at, Rule: "tier.review", Tier: cur.Code,
			Reason: fmt.Sprintf("review: counted growth %s keeps %s (threshold %s)", counted, cur.Code, cur.Threshold)})
		return
	}
	c.setTier(tr.lower, at)
	c.entry(Entry{Key: key, At: at, Rule: "tier.review", Tier: tr.lower,
		Reason: fmt.Sprintf("review: counted growth %s below %s's threshold %s; down one tier to %s", counted, cur.Code, cur.Threshold, tr.lower)})
}

// Outlook is what the next tier anniversary review would do if the member
// earned nothing more before it; tier-expiry warnings are built on it.
type Outlook struct {
	// Tier is the tier under review: the member's own, not raised by a
	// paid membership's floor.
	Tier string `json:"tier"`
	// ReviewAt is when the review is due; zero for the lowest tier, which
	// has none.
	ReviewAt time.Time `json:"review_at,omitzero"`
	// Counted is the growth that will still count at ReviewAt: the rolling
	// window ending then, with the interaction cap.
	Counted decimal.Decimal `json:"counted"`
	// Demote says the review would lower the tier the member enjoys, to
	// FallTo (one tier down at most).
	Demote bool   `json:"demote"`
	FallTo string `json:"fall_to,omitempty"`
	// GrowthNeeded is how much more counted growth by ReviewAt keeps Tier:
	// zero when Counted already does. With HeldByPaid it is still what
	// Tier lacks on its own.
	GrowthNeeded decimal.Decimal `json:"growth_needed"`
	// HeldByPaid says Counted falls short but a paid membership active at
	// ReviewAt keeps the member at its tier floor, so nothing they enjoy
	// changes (Demote is false).
	HeldByPaid bool `json:"held_by_paid"`
}

// ReviewOutlook answers, as of at, what the member's next anniversary
// review would do if they earned nothing more: everything due by at is
// applied first (without persisting), then the review is decided as it
// will be at ReviewAt, on the growth that will still be in the window then.
func (r *Rules) ReviewOutlook(a Account, m Member, at time.Time) Outlook {
	a = r.Advance(a, m, at).Account
	o := Outlook{Tier: a.Tier, ReviewAt: a.ReviewAt, Counted: decimal.Zero, GrowthNeeded: decimal.Zero}
	if a.ReviewAt.IsZero() {
		return o
	}
	tr := r.tierReviewOf(a)
	o.Counted = tr.counted
	if tr.lower == "" {
		return o
	}
	o.GrowthNeeded = tr.tier.Threshold.Sub(tr.counted)
	after := a
	after.Tier = tr.lower
	enjoyed := r.EffectiveTier(after, tr.at)
	if enjoyed == r.EffectiveTier(a, tr.at) {
		o.HeldByPaid = true
		return o
	}
	o.Demote, o.FallTo = true, enjoyed
	return o
}

// ---- points ----

// releaseAt is when points earned at t become available: at the start of
// the day after the return window (pending_days whole days after the day of
// t), so a refund on the last day of the window still finds them pending.
func (p *Program) releaseAt(t time.Time) time.Time {
	return p.StartOfDay(t).AddDate(0, 0, p.Points.PendingDays+1)
}

// expiresAt is when a lot released at t expires: at the end of the
// expiry_months-th month after the month of t.
func (p *Program) expiresAt(released time.Time) time.Time {
	l := released.In(p.Location)
	return time.Date(l.Year(), l.Month()+time.Month(p.Points.ExpiryMonths)+1, 1, 0, 0, 0, 0, p.Location)
}

// multiplier is the highest applicable points multiplier for an order at t.
func (c *change) multiplier(at time.Time) (decimal.Decimal, string) {
	best, why := c.programmeMultiplier(at)
	if b, ok := c.boostAt(at); ok && b.Multiplier.GreaterThan(best) {
		return b.Multiplier, "boost"
	}
	return best, why
}

// boostAt is the highest boost active at t (the first of equals).
func (c *change) boostAt(at time.Time) (Boost, bool) {
	var best Boost
	found := false
	for _, b := range c.a.Boosts {
		if b.ActiveAt(at) && (!found || b.Multiplier.GreaterThan(best.Multiplier)) {
			best, found = b, true
		}
	}
	return best, found
}

// programmeMultiplier is the highest multiplier for an order at t
// without the member's boosts: what the programme alone gives.
func (c *change) programmeMultiplier(at time.Time) (decimal.Decimal, string) {
	p := c.r.Program
	best, why := decimal.NewFromInt(1), "base"
	consider := func(m decimal.Decimal, reason string) {
		if m.GreaterThan(best) {
			best, why = m, reason
		}
	}
	if inBirthdayMonth(c.m.Birthday, at.In(p.Location)) {
		tier := c.a.DayTier
		if tier == "" || c.a.DayTierDay != p.Day(at) {
			tier = c.r.EffectiveTier(*c.a, at)
		}
		consider(mustTier(p, tier).BirthdayMultiplier, "birthday month ("+tier+")")
	}
	if p.Points.MemberDay != 0 && at.In(p.Location).Day() == p.Points.MemberDay {
		consider(p.Points.MemberDayMultiplier, "member day")
	}
	if c.a.Paid.ActiveAt(at) && c.a.Paid.Plan == p.Paid.Plan {
		consider(p.Paid.PointsMultiplier, "paid membership")
	}
	return best, why
}

// pointsFor is the points a base amount earns at a multiplier: one per full
// per_amount, then multiplied and floored.
func (p *Program) pointsFor(base, mult decimal.Decimal) int64 {
	if !base.IsPositive() {
		return 0
	}
	units := base.Div(p.Points.PerAmount).Floor()
	return units.Mul(mult).Floor().IntPart()
}

// addLot creates a lot of n points; released lots are available at once.
func (c *change) addLot(id, source string, n int64, releaseAt time.Time, released bool) LotMove {
	p := c.r.Program
	l := Lot{ID: id, Source: source, Earned: n, Points: n, ReleaseAt: releaseAt, ExpiresAt: p.expiresAt(releaseAt), Released: released}
	c.a.Lots = append(c.a.Lots, l)
	return LotMove{Lot: id, ReleaseDay: p.Day(releaseAt), Points: n}
}

// spend takes n available points, earliest-expiring lots first, and returns
// the moves and what could not be taken.
func (c *change) spend(n int64) (moves []LotMove, taken, missing int64) {
	for _, i := range c.a.spendOrder() {
		if n == 0 {
			break
		}
		l := &c.a.Lots[i]
		k := min(l.Points, n)
		l.Points -= k
		n -= k
		taken += k
		moves = append(moves, LotMove{Lot: l.ID, ReleaseDay: c.r.Program.Day(l.ReleaseAt), Points: -k})
	}
	return moves, taken, n
}

func (c *change) lot(id string) *Lot {
	for i := range c.a.Lots {
		if c.a.Lots[i].ID == id {
			return &c.a.Lots[i]
		}
	}
	return nil
}

// ---- coupons ----

// issueCoupon gives the member a coupon of kind under an idempotency key.
func (c *change) issueCoupon(key, kind, rule, why string, exhausted []string) (Coupon, bool) {
	p := c.r.Program
	ck, ok := p.Coupon(kind)
	if !ok {
		c.entry(Entry{Key: key + "#" + rule, Rule: rule + ".refused", EventID: eventOf(key), Reason: "coupon kind " + kind + " is " + errProgram.Error()})
		return Coupon{}, false
	}
	if slices.ContainsFunc(c.a.Coupons, func(x Coupon) bool { return x.Key == key }) {
		return Coupon{}, false // issued before under this key
	}
	if ck.PerMemberLimit > 0 && c.a.CouponsIssued[kind] >= ck.PerMemberLimit {
		c.entry(Entry{Key: key + "#" + rule, Rule: rule + ".refused", EventID: eventOf(key),
			Reason: fmt.Sprintf("%s: per-member limit of %d reached", kind, ck.PerMemberLimit)})
		return Coupon{}, false
	}
	if ck.GlobalLimit > 0 && slices.Contains(exhausted, kind) {
		c.entry(Entry{Key: key + "#" + rule, Rule: rule + ".refused", EventID: eventOf(key),
			Reason: fmt.Sprintf("%s: global limit of %d reached", kind, ck.GlobalLimit)})
		return Coupon{}, false
	}
	cp := Coupon{
		Code: c.r.couponCode(kind, key), Kind: kind, Key: key, IssuedAt: c.at,
		ExpiresAt: p.StartOfDay(c.at).AddDate(0, 0, ck.ValidDays+1),
	}
	c.a.Coupons = append(c.a.Coupons, cp)
	if c.a.CouponsIssued == nil {
		c.a.CouponsIssued = map[string]int{}
	}
	c.a.CouponsIssued[kind]++
	c.res.Claims = append(c.res.Claims, Claim{Key: "coupon#" + cp.Code, Owner: c.a.MemberID})
	if ck.GlobalLimit > 0 {
		c.res.Counters = append(c.res.Counters, Counter{Key: "coupon-issued#" + kind, Limit: ck.GlobalLimit})
	}
	c.entry(Entry{Key: key + "#" + rule, Rule: rule, EventID: eventOf(key),
		Reason: fmt.Sprintf("%s %s (%s) valid until %s; %s", kind, ck.Name, cp.Code, p.Day(cp.ExpiresAt.Add(-time.Second)), why),
		Coupon: &CouponMove{Code: cp.Code, Kind: kind, ExpiresDay: p.Day(cp.ExpiresAt), Delta: 1}})
	return cp, true
}

// couponCode derives an unguessable code from the issuing key: the same key
// always yields the same code, so a replay cannot mint a second coupon.
func (r *Rules) couponCode(kind, key string) string {
	mac := hmac.New(sha256.New, r.CodeSecret)
	mac.Write([]byte(kind + "\x00" + key))
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(mac.Sum(nil)[:10])
	return kind + "-" + s[:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// ReferralCodeFor is a member's own referral code. It is derived from the
// member id so it is the same on every replay; a claim in the store maps it
// back to the member.
func ReferralCodeFor(memberID string) string {
	sum := sha256.Sum256([]byte("memberflow-referral\x00" + memberID))
	return "R" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:8])[:11]
}

// IssueCoupon gives the member a coupon of kind under key (e.g. a journey
// step's idempotency key). Issuing again under the same key changes nothing.
func (r *Rules) IssueCoupon(a Account, m Member, key, kind, why string, at time.Time, exhausted []string) Result {
	c := r.begin(a, m, at)
	c.advance(at)
	c.issueCoupon(key, kind, "coupon.issue", why, exhausted)
	return c.done()
}

// GrantBoost gives the member a points multiplier for days days from at
// (Until is at + days×24h) under key (e.g. a journey step's idempotency
// key); granting again under the same key changes nothing. Like every
// multiplier it does not stack: an order earns at the highest that applies.
// It refuses (EInvalid, nothing changes) a multiplier of 1 or less and
// fewer than one day.
func (r *Rules) GrantBoost(a Account, m Member, key string, multiplier decimal.Decimal, days int, why string, at time.Time) (Result, error) {
	if key == "" {
		return Result{}, Errorf(EInvalid, "key: is required (it makes the grant idempotent)")
	}
	if !multiplier.GreaterThan(decimal.NewFromInt(1)) {
		return Result{}, Errorf(EInvalid, "multiplier: must be greater than 1, not %s", multiplier)
	}
	if days < 1 {
		return Result{}, Errorf(EInvalid, "days: must be at least 1, not %d", days)
	}
	c := r.begin(a, m, at)
	c.advance(at)
	if !slices.ContainsFunc(c.a.Boosts, func(b Boost) bool { return b.Key == key }) {
		b := Boost{Key: key, Multiplier: multiplier, From: at, Until: at.Add(time.Duration(days) * 24 * time.Hour)}
		c.a.Boosts = append(c.a.Boosts, b)
		c.entry(Entry{Key: key, Rule: "boost.grant", EventID: eventOf(key),
			Reason: fmt.Sprintf("points ×%s until %s; %s", multiplier, b.Until.In(r.Program.Location).Format(time.RFC3339), why)})
	}
	c.prune()
	return c.done(), nil
}

// ---- events ----

func (c *change) register(cause string, in Input) {
	d := in.Data.(*events.MemberRegisteredData)
	if d.ReferralCode == "" || c.a.ReferredBy != "" {
		return
	}
	switch {
	case in.Referrer == nil:
		c.entry(Entry{Key: cause + "#referral", Rule: "referral.refused", EventID: cause, Reason: "referral code is not a member's code"})
	case samePerson(*in.Referrer, in.Member):
		c.entry(Entry{Key: cause + "#referral", Rule: "referral.refused", EventID: cause, Reason: "referrer and referee are the same person (member, email or phone)"})
	default:
		c.a.ReferredBy = in.Referrer.ID
		if k := c.r.Program.Referral.RefereeCoupon; k != "" {
			c.issueCoupon(cause, k, "referral.coupon", "registered with referrer "+in.Referrer.ID+"'s code", in.Exhausted)
		}
	}
}

func lineAmounts(ls []events.OrderLine) []LineAmount {
	out := make([]LineAmount, 0, len(ls))
	for _, l := range ls {
		out = append(out, LineAmount{SKU: l.SKU, Amount: l.Amount})
	}
	return out
}

func (c *change) orderPaid(cause string, d *events.OrderPaidData) {
	p := c.r.Program
	if slices.ContainsFunc(c.a.Orders, func(o OrderRecord) bool { return o.OrderID == d.OrderID }) {
		c.entry(Entry{Key: cause + "#order", Rule: "order.duplicate", EventID: cause, Reason: "order " + d.OrderID + " was already applied by another event"})
		return
	}
	var card, sv, pointsPaid decimal.Decimal
	for _, pay := range d.Payments {
		switch pay.Method {
		case events.PaymentCard:
			card = card.Add(pay.Amount)
		case events.PaymentStoredValue:
			sv = sv.Add(pay.Amount)
		case events.PaymentPoints:
			pointsPaid = pointsPaid.Add(pay.Amount)
		}
	}
	rec := OrderRecord{OrderID: d.OrderID, EventID: cause, At: c.at, Amount: d.Amount, Lines: lineAmounts(d.Lines)}

	// Stored value: principal and bonus in proportion.
	if sv.IsPositive() {
		principal, bonus, short := drawStoredValue(c.a.Principal, c.a.Bonus, sv)
		c.a.Principal = c.a.Principal.Sub(principal)
		c.a.Bonus = c.a.Bonus.Sub(bonus)
		rec.SVPrincipal = principal
		reason := fmt.Sprintf("order %s paid %s %s from stored value: %s principal, %s bonus", d.OrderID, sv, p.Currency, principal, bonus)
		if short.IsPositive() {
			reason += fmt.Sprintf("; %s more than the balance was reported", short)
		}
		c.entry(Entry{Key: cause + "#order.stored_value", Rule: "order.stored_value", EventID: cause, Reason: reason, Principal: principal.Neg(), Bonus: bonus.Neg()})
	}

	// Points redemption.
	redeem := int64(d.PointsRedeemed)
	if redeem == 0 && pointsPaid.IsPositive() {
		redeem = pointsPaid.Div(p.Points.PointValue).Floor().IntPart()
	}
	if redeem > 0 {
		moves, taken, missing := c.spend(redeem)
		c.a.Shortfall += missing
		reason := fmt.Sprintf("order %s redeemed %d points", d.OrderID, redeem)
		maxPts := d.Amount.Mul(p.Points.RedeemMaxShare).Div(p.Points.PointValue).Floor().IntPart()
		if redeem < int64(p.Points.RedeemMin) || redeem > maxPts {
			reason += fmt.Sprintf(" (outside the redemption rule: at least %d and at most %d for this order)", p.Points.RedeemMin, maxPts)
		}
		if missing > 0 {
			reason += fmt.Sprintf("; %d more than available recorded as shortfall", missing)
		}
		c.entry(Entry{Key: cause + "#order.redeem", Rule: "order.redeem", EventID: cause, Reason: reason, Available: -taken, Shortfall: missing, Lots: moves})
	}

	// Coupon.
	if d.CouponCode != "" {
		c.useCoupon(cause, d)
	}

	// Growth and points on what was paid with money of the member's own.
	rec.Base = card.Add(rec.SVPrincipal)
	growth := rec.Base.Mul(p.Growth.PerCurrencyUnit)
	c.addGrowth(cause+"#order.growth", c.at, GrowthSpend, "order", growth)
	if growth.IsPositive() {
		c.entry(Entry{Key: cause + "#order.growth", Rule: "order.growth", EventID: cause, Growth: growth,
			Reason: fmt.Sprintf("order %s: %s %s paid by card and stored-value principal", d.OrderID, rec.Base, p.Currency)})
	}
	mult, why := c.multiplier(c.at)
	rec.Multiplier = mult
	rec.Points = p.pointsFor(rec.Base, mult)
	if why == "boost" {
		// What the boost cost: the points beyond what the programme alone
		// would have given the order.
		b, _ := c.boostAt(c.at)
		without, _ := c.programmeMultiplier(c.at)
		rec.Boost, rec.BoostPoints = b.Key, rec.Points-p.pointsFor(rec.Base, without)
	}
	if rec.Points > 0 {
		rec.Lot = cause + "#order.points"
		mv := c.addLot(rec.Lot, "order:"+d.OrderID, rec.Points, p.releaseAt(c.at), false)
		c.entry(Entry{Key: cause + "#order.points", Rule: "order.points", EventID: cause, Pending: rec.Points, Lots: []LotMove{mv},
			Reason: fmt.Sprintf("order %s: %s full %s × %s (%s), pending until %s", d.OrderID, rec.Base.Div(p.Points.PerAmount).Floor(), p.Points.PerAmount, mult, why, p.Day(p.releaseAt(c.at)))})
	}
	c.a.Orders = append(c.a.Orders, rec)
	if c.a.FirstOrder == "" {
		c.a.FirstOrder = d.OrderID
	}
	c.upgrade(cause)

	// Refunds that arrived before this order.
	held := c.a.HeldRefunds[:0:0]
	var mine []HeldRefund
	for _, h := range c.a.HeldRefunds {
		if h.OrderID == d.OrderID {
			mine = append(mine, h)
		} else {
			held = append(held, h)
		}
	}
	c.a.HeldRefunds = held
	for _, h := range mine {
		c.refund(h)
	}
}

// drawStoredValue splits a stored-value payment between principal and bonus
// in proportion to the balances; what exceeds the balance is returned as
// short.
func drawStoredValue(principal, bonus, amount decimal.Decimal) (p, b, short decimal.Decimal) {
	total := principal.Add(bonus)
	if !total.IsPositive() {
		return decimal.Zero, decimal.Zero, amount
	}
	if amount.GreaterThanOrEqual(total) {
		return principal, bonus, amount.Sub(total)
	}
	p = amount.Mul(principal).Div(total).Round(2)
	b = amount.Sub(p)
	if b.GreaterThan(bonus) {
		b = bonus
		p = amount.Sub(b)
	}
	if p.GreaterThan(principal) {
		p = principal
		b = amount.Sub(p)
	}
	return p, b, decimal.Zero
}

func (c *change) useCoupon(cause string, d *events.OrderPaidData) {
	p := c.r.Program
	i := slices.IndexFunc(c.a.Coupons, func(x Coupon) bool { return x.Code == d.CouponCode })
	refuse := func(why string) {
		c.entry(Entry{Key: cause + "#order.coupon", Rule: "order.coupon.refused", EventID: cause, Reason: "coupon " + d.CouponCode + ": " + why})
	}
	if i < 0 {
		refuse("not a coupon of this member's programme account; not tracked")
		return
	}
	cp := &c.a.Coupons[i]
	ck, _ := p.Coupon(cp.Kind)
	switch {
	case cp.Used():
		refuse("already used on order " + cp.OrderID)
	case !c.at.Before(cp.ExpiresAt):
		refuse("expired at " + cp.ExpiresAt.Format(time.RFC3339))
	case d.Amount.LessThan(ck.Threshold):
		refuse(fmt.Sprintf("order amount %s is below the threshold %s", d.Amount, ck.Threshold))
	default:
		cp.UsedAt, cp.OrderID = c.at, d.OrderID
		c.entry(Entry{Key: cause + "#order.coupon", Rule: "order.coupon", EventID: cause,
			Reason: fmt.Sprintf("%s %s used on order %s", cp.Kind, ck.Name, d.OrderID),
			Coupon: &CouponMove{Code: cp.Code, Kind: cp.Kind, ExpiresDay: p.Day(cp.ExpiresAt), Delta: -1}})
	}
}

func (c *change) refund(h HeldRefund) {
	p := c.r.Program
	cause := h.EventID
	oi := slices.IndexFunc(c.a.Orders, func(o OrderRecord) bool { return o.OrderID == h.OrderID })
	if oi < 0 {
		if !slices.ContainsFunc(c.a.HeldRefunds, func(x HeldRefund) bool { return x.EventID == h.EventID }) {
			c.a.HeldRefunds = append(c.a.HeldRefunds, h)
		}
		return
	}
	o := &c.a.Orders[oi]
	if h.RefundID != "" && slices.Contains(o.RefundIDs, h.RefundID) {
		return
	}
	o.RefundIDs = append(o.RefundIDs, h.RefundID)
	o.Refunds = append(o.Refunds, RefundRecord{RefundID: h.RefundID, At: h.At, Amount: h.Amount})

	// How much of the order is now refunded: by line when lines are given.
	if len(h.Lines) > 0 {
		for _, l := range h.Lines {
			orig := decimal.Zero
			for _, ol := range o.Lines {
				if ol.SKU == l.SKU {
					orig = orig.Add(ol.Amount)
				}
			}
			already := decimal.Zero
			j := slices.IndexFunc(o.RefundedLines, func(x LineAmount) bool { return x.SKU == l.SKU })
			if j >= 0 {
				already = o.RefundedLines[j].Amount
			}
			next := decimal.Min(orig, already.Add(l.Amount))
			if len(o.Lines) == 0 {
				next = already.Add(l.Amount) // order had no lines: trust the refund
			}
			if j >= 0 {
				o.RefundedLines[j].Amount = next
			} else {
				o.RefundedLines = append(o.RefundedLines, LineAmount{SKU: l.SKU, Amount: next})
			}
		}
		total := decimal.Zero
		for _, l := range o.RefundedLines {
			total = total.Add(l.Amount)
		}
		o.Refunded = decimal.Min(o.Amount, total)
	} else {
		o.Refunded = decimal.Min(o.Amount, o.Refunded.Add(h.Amount))
	}
	remaining := decimal.Zero
	if o.Amount.IsPositive() {
		remaining = o.Base.Mul(o.Amount.Sub(o.Refunded)).Div(o.Amount).Truncate(2)
	}

	// Growth: back to what the remaining amount earns, dated at the order.
	growthNow := remaining.Mul(p.Growth.PerCurrencyUnit)
	growthRev := o.Base.Mul(p.Growth.PerCurrencyUnit).Sub(o.GrowthReversed).Sub(growthNow)
	if growthRev.IsPositive() {
		o.GrowthReversed = o.GrowthReversed.Add(growthRev)
		c.addGrowth(cause+"#refund.growth", o.At, GrowthSpend, "refund", growthRev.Neg())
		c.entry(Entry{Key: cause + "#refund.growth", Rule: "refund.growth", EventID: cause, Growth: growthRev.Neg(),
			Reason: fmt.Sprintf("refund %s of order %s (%s of %s refunded): growth -%s", h.RefundID, o.OrderID, o.Refunded, o.Amount, growthRev)})
	}

	// Points: pending first (this order's lot), then available.
	pointsRev := o.Points - o.PointsReversed - p.pointsFor(remaining, o.Multiplier)
	if pointsRev > 0 {
		o.PointsReversed += pointsRev
		var e Entry
		e.Key, e.Rule, e.EventID = cause+"#refund.points", "refund.points", cause
		need := pointsRev
		if l := c.lot(o.Lot); l != nil && !l.Released && !l.Expired && l.Points > 0 {
			k := min(l.Points, need)
			l.Points -= k
			need -= k
			e.Pending -= k
			e.Lots = append(e.Lots, LotMove{Lot: l.ID, ReleaseDay: p.Day(l.ReleaseAt), Points: -k})
		}
		moves, taken, missing := c.spend(need)
		e.Available -= taken
		e.Lots = append(e.Lots, moves...)
		e.Shortfall = missing
		c.a.Shortfall += missing
		e.Reason = fmt.Sprintf("refund %s of order %s (%s of %s refunded): %d points reversed", h.RefundID, o.OrderID, o.Refunded, o.Amount, pointsRev)
		if missing > 0 {
			e.Reason += fmt.Sprintf("; %d already spent, recorded as shortfall", missing)
		}
		c.entry(e)
	}

	// Stored value: the principal share returns; the bonus share does not.
	if o.SVPrincipal.IsPositive() && o.Amount.IsPositive() {
		due := o.SVPrincipal.Mul(o.Refunded).Div(o.Amount).Round(2).Sub(o.SVReturned)
		if due.IsPositive() {
			o.SVReturned = o.SVReturned.Add(due)
			c.a.Principal = c.a.Principal.Add(due)
			c.entry(Entry{Key: cause + "#refund.stored_value", Rule: "refund.stored_value", EventID: cause, Principal: due,
				Reason: fmt.Sprintf("refund %s of order %s: %s principal returned to stored value (bonus is not returned)", h.RefundID, o.OrderID, due)})
		}
	}
	c.demoteAfterRefund(cause)
}

func (c *change) topUp(cause string, d *events.WalletToppedUpData) {
	p := c.r.Program
	bonus := decimal.Zero
	for _, s := range p.StoredValue.Bonus {
		if d.Amount.GreaterThanOrEqual(s.Min) {
			bonus = s.Bonus
		}
	}
	c.a.Principal = c.a.Principal.Add(d.Amount)
	c.entry(Entry{Key: cause + "#topup", Rule: "topup", EventID: cause, Principal: d.Amount,
		Reason: fmt.Sprintf("top-up %s: %s %s", d.TopupID, d.Amount, p.Currency)})
	if bonus.IsPositive() {
		c.a.Bonus = c.a.Bonus.Add(bonus)
		c.entry(Entry{Key: cause + "#topup.bonus", Rule: "topup.bonus", EventID: cause, Bonus: bonus,
			Reason: fmt.Sprintf("top-up %s of %s reaches the bonus step: +%s bonus", d.TopupID, d.Amount, bonus)})
	}
}

func (c *change) interact(cause, source string, rule Interaction) {
	p := c.r.Program
	day, month := p.Day(c.at), p.Day(c.at)[:7]
	var today, thisMonth int
	for _, g := range c.a.Growth {
		if g.Source != source {
			continue
		}
		d := p.Day(g.At)
		if d == day {
			today++
		}
		if d[:7] == month {
			thisMonth++
		}
	}
	capped := ""
	switch {
	case rule.PerDay > 0 && today >= rule.PerDay:
		capped = fmt.Sprintf("at most %d a day", rule.PerDay)
	case rule.PerMonth > 0 && thisMonth >= rule.PerMonth:
		capped = fmt.Sprintf("at most %d a month", rule.PerMonth)
	}
	if capped != "" {
		c.entry(Entry{Key: cause + "#" + source, Rule: source + ".capped", EventID: cause, Reason: source + " earns no growth: " + capped})
		return
	}
	c.addGrowth(cause+"#"+source, c.at, GrowthInteraction, source, rule.Value)
	c.entry(Entry{Key: cause + "#" + source, Rule: source, EventID: cause, Growth: rule.Value,
		Reason: fmt.Sprintf("%s: +%s interaction growth (%d this month)", source, rule.Value, thisMonth+1)})
	c.upgrade(cause)
}

func (c *change) trial(cause string, d *events.SubscriptionTrialStartedData, takenBy string) {
	p := c.r.Program
	if d.Plan != p.Paid.Plan {
		return
	}
	refuse := func(why string) {
		c.entry(Entry{Key: cause + "#paid.trial", Rule: "paid.trial.refused", EventID: cause, Reason: "trial refused: " + why})
	}
	switch {
	case c.a.TrialUsed:
		refuse("this member has had a trial")
	case takenBy != "" && takenBy != c.a.MemberID:
		refuse("the same person (email or phone) had a trial as another member")
	default:
		ends := d.TrialEndsAt
		if ends.IsZero() {
			ends = c.at.AddDate(0, 0, p.Paid.TrialDays)
		}
		c.a.TrialUsed = true
		c.a.Paid = &Paid{Plan: d.Plan, SubscriptionID: d.SubscriptionID, Status: PaidTrial, Trial: true, StartedAt: c.at, EndsAt: ends}
		for _, k := range PersonKeys(c.m) {
			c.res.Claims = append(c.res.Claims, Claim{Key: "trial#" + k, Owner: c.a.MemberID})
		}
		c.res.Claims = append(c.res.Claims, Claim{Key: "trial#member:" + c.a.MemberID, Owner: c.a.MemberID})
		c.entry(Entry{Key: cause + "#paid.trial", Rule: "paid.trial", EventID: cause,
			Reason: fmt.Sprintf("%s trial at %s %s until %s", d.Plan, d.Price, d.Currency, ends.Format(time.RFC3339))})
	}
}

func (c *change) paidPeriod(cause, rule, plan, sub string, ends time.Time) {
	p := c.r.Program
	if plan != p.Paid.Plan {
		return
	}
	if ends.IsZero() {
		ends = c.at.AddDate(0, p.Paid.PeriodMonths, 0)
	}
	if c.a.Paid == nil {
		c.a.Paid = &Paid{Plan: plan, SubscriptionID: sub, StartedAt: c.at}
	}
	if ends.Before(c.a.Paid.EndsAt) {
		ends = c.a.Paid.EndsAt // a late, older renewal never shortens the period
	}
	c.a.Paid.Status, c.a.Paid.Trial, c.a.Paid.EndsAt, c.a.Paid.SubscriptionID = PaidActive, false, ends, sub
	c.entry(Entry{Key: cause + "#" + rule, Rule: rule, EventID: cause,
		Reason: fmt.Sprintf("%s paid until %s", plan, ends.Format(time.RFC3339))})
}

func (c *change) cancel(cause string, d *events.SubscriptionCancelledData) {
	if d.Plan != c.r.Program.Paid.Plan || c.a.Paid == nil {
		return
	}
	ends := c.at
	if d.EffectiveAt != nil {
		ends = *d.EffectiveAt
	}
	if ends.After(c.a.Paid.EndsAt) {
		ends = c.a.Paid.EndsAt
	}
	c.a.Paid.Status, c.a.Paid.EndsAt = PaidCancelled, ends
	c.entry(Entry{Key: cause + "#paid.cancel", Rule: "paid.cancel", EventID: cause,
		Reason: fmt.Sprintf("%s cancelled; benefits end %s", d.Plan, ends.Format(time.RFC3339))})
}

// ---- time ----

// advance applies everything due by now, in time order.
func (c *change) advance(now time.Time) {
	p := c.r.Program
	for {
		kind, at := c.nextDue()
		if kind == "" || at.After(now) {
			return
		}
		switch kind {
		case "release":
			c.release(at)
		case "expire":
			c.expire(at)
		case "lapse":
			c.a.Paid.Status = PaidLapsed
			ended := c.a.Paid.EndsAt
			c.entry(Entry{Key: fmt.Sprintf("%s#paid.lapse#%s", c.a.Paid.SubscriptionID, ended.UTC().Format(time.RFC3339)), At: at, Rule: "paid.lapse",
				Reason: fmt.Sprintf("%s ended %s without renewal", c.a.Paid.Plan, ended.Format(time.RFC3339))})
		case "review":
			c.review()
		case "birthday":
			c.birthday(at)
		case "held":
			c.a.HeldRefunds = slices.DeleteFunc(c.a.HeldRefunds, func(h HeldRefund) bool { return !p.heldUntil(h).After(at) })
		}
	}
}

// lapseGrace is how long after a paid period ends its status is recorded
// as lapsed. Benefits stop at the end itself (Paid.ActiveAt); the grace only
// lets a renewal that arrives seconds late continue the membership instead
// of ledgering a lapse and a restart.
const lapseGrace = 24 * time.Hour

// heldUntil is how long a refund waits for its order before it is dropped.
func (p *Program) heldUntil(h HeldRefund) time.Time { return h.At.AddDate(0, 0, 30) }

// nextDue returns the earliest time-based change and when it is due.
func (c *change) nextDue() (string, time.Time) {
	var kind string
	var at time.Time
	consider := func(k string, t time.Time) {
		if t.IsZero() {
			return
		}
		if kind == "" || t.Before(at) {
			kind, at = k, t
		}
	}
	for _, l := range c.a.Lots {
		if l.Expired {
			continue
		}
		if !l.Released {
			consider("release", l.ReleaseAt)
		} else if l.Points > 0 {
			consider("expire", l.ExpiresAt)
		}
	}
	if c.a.Paid != nil && c.a.Paid.Status != PaidLapsed {
		consider("lapse", c.a.Paid.EndsAt.Add(lapseGrace))
	}
	consider("review", c.a.ReviewAt)
	for _, h := range c.a.HeldRefunds {
		consider("held", c.r.Program.heldUntil(h))
	}
	if t, ok := c.nextBirthday(); ok {
		consider("birthday", t)
	}
	return kind, at
}

// NextDue is when the account next changes by time alone (zero if never);
// the sweep index is keyed by its day.
func (r *Rules) NextDue(a Account, m Member) time.Time {
	c := r.begin(a, m, time.Time{})
	_, at := c.nextDue()
	return at
}

func (c *change) release(at time.Time) {
	p := c.r.Program
	for i := range c.a.Lots {
		l := &c.a.Lots[i]
		if l.Released || l.Expired || l.ReleaseAt.After(at) {
			continue
		}
		l.Released = true
		if l.Points > 0 {
			c.entry(Entry{Key: l.ID + "#release", At: l.ReleaseAt, Rule: "points.release", Pending: -l.Points, Available: l.Points,
				Reason: fmt.Sprintf("%d points from %s left the %d-day return window", l.Points, l.Source, p.Points.PendingDays)})
		}
		c.referralOnRelease(l)
	}
}

func (c *change) expire(at time.Time) {
	p := c.r.Program
	for i := range c.a.Lots {
		l := &c.a.Lots[i]
		if !l.Released || l.Expired || l.ExpiresAt.After(at) {
			continue
		}
		l.Expired = true
		if l.Points > 0 {
			c.entry(Entry{Key: l.ID + "#expire", At: l.ExpiresAt, Rule: "points.expire", Available: -l.Points,
				Lots:   []LotMove{{Lot: l.ID, ReleaseDay: p.Day(l.ReleaseAt), Points: -l.Points}},
				Reason: fmt.Sprintf("%d points from %s expired (end of the %d-month validity)", l.Points, l.Source, p.Points.ExpiryMonths)})
			l.Points = 0
		}
	}
}

// referralOnRelease asks for the referrer's reward when the referee's first
// order leaves its return window with something left of it.
func (c *change) referralOnRelease(l *Lot) {
	if c.a.ReferredBy == "" || c.a.ReferralSettled || c.a.FirstOrder == "" || l.Source != "order:"+c.a.FirstOrder {
		return
	}
	c.a.ReferralSettled = true
	oi := slices.IndexFunc(c.a.Orders, func(o OrderRecord) bool { return o.OrderID == c.a.FirstOrder })
	if oi < 0 || !c.a.Orders[oi].Refunded.LessThan(c.a.Orders[oi].Amount) {
		c.entry(Entry{Key: c.a.MemberID + "#referral.settle", At: l.ReleaseAt, Rule: "referral.void",
			Reason: "first order was refunded in full; referrer " + c.a.ReferredBy + " earns nothing"})
		return
	}
	c.res.Effects = append(c.res.Effects, Effect{
		MemberID: c.a.ReferredBy, Referee: c.a.MemberID, At: l.ReleaseAt,
		Cause: c.a.MemberID + "#referral#" + c.a.FirstOrder,
	})
}

// ReferralReward credits the referrer for a referee whose first order left
// its return window, unless they are the same person or the referrer has
// had the monthly maximum.
func (r *Rules) ReferralReward(a Account, referrer, referee Member, e Effect) Result {
	p := r.Program
	c := r.begin(a, referrer, e.At)
	c.advance(e.At)
	month := p.Day(e.At)[:7]
	switch {
	case slices.ContainsFunc(c.a.Growth, func(g GrowthRecord) bool { return g.Key == e.Cause }):
		// Rewarded before for this referee (the store's applied marker
		// refuses the replay too; this keeps the rule itself idempotent).
	case samePerson(referrer, referee):
		c.entry(Entry{Key: e.Cause, Rule: "referral.refused", Reason: "referee " + referee.ID + " is the same person as the referrer"})
	case p.Referral.MonthlyCap > 0 && c.a.ReferralRewards[month] >= p.Referral.MonthlyCap:
		c.entry(Entry{Key: e.Cause, Rule: "referral.capped", Reason: fmt.Sprintf("referee %s: at most %d referral rewards in %s", referee.ID, p.Referral.MonthlyCap, month)})
	default:
		if c.a.ReferralRewards == nil {
			c.a.ReferralRewards = map[string]int{}
		}
		c.a.ReferralRewards[month]++
		var moves []LotMove
		n := int64(p.Referral.ReferrerPoints)
		if n > 0 {
			moves = append(moves, c.addLot(e.Cause, "referral:"+referee.ID, n, e.At, true))
		}
		c.addGrowth(e.Cause, e.At, GrowthReward, "referral", p.Referral.ReferrerGrowth)
		c.entry(Entry{Key: e.Cause, Rule: "referral.reward", Available: n, Growth: p.Referral.ReferrerGrowth, Lots: moves,
			Reason: fmt.Sprintf("referee %s's first order left its return window: +%d points, +%s growth", referee.ID, n, p.Referral.ReferrerGrowth)})
		c.upgrade(e.Cause)
	}
	c.prune()
	return c.done()
}

// ---- birthday ----

// BirthdayIn is the member's birthday in year (29 February is 28 February
// in other years), as the start of that day in the programme time zone.
func (p *Program) BirthdayIn(birthday string, year int) (time.Time, bool) {
	b, err := time.Parse(time.DateOnly, birthday)
	if err != nil {
		return time.Time{}, false
	}
	day := b.Day()
	if b.Month() == time.February && day == 29 && !isLeap(year) {
		day = 28
	}
	return time.Date(year, b.Month(), day, 0, 0, 0, 0, p.Location), true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func inBirthdayMonth(birthday string, t time.Time) bool {
	b, err := time.Parse(time.DateOnly, birthday)
	return err == nil && b.Month() == t.Month()
}

// nextBirthday is the next birthday whose gift is not decided yet.
func (c *change) nextBirthday() (time.Time, bool) {
	p := c.r.Program
	if p.Birthday.Coupon == "" || c.m.Birthday == "" || c.a.MemberID == "" {
		return time.Time{}, false
	}
	// The first birthday that can qualify is the first one after the date
	// was given (or, for profiles from before that was recorded, after
	// registration).
	from := c.m.BirthdaySetAt
	if from.IsZero() {
		from = c.m.RegisteredAt
	}
	if from.IsZero() {
		return time.Time{}, false
	}
	y := from.In(p.Location).Year()
	if len(c.a.BirthdayYears) > 0 {
		y = max(y, slices.Max(c.a.BirthdayYears)+1)
	}
	t, ok := p.BirthdayIn(c.m.Birthday, y)
	if ok && t.Before(p.StartOfDay(from)) {
		// The birthday had passed when the member joined: next year.
		t, ok = p.BirthdayIn(c.m.Birthday, y+1)
	}
	return t, ok
}

// BirthdayGiftKey is the key the member's birthday gift of year is issued
// under (Coupon.Key, and the cause of its entry).
func BirthdayGiftKey(memberID string, year int) string {
	return fmt.Sprintf("%s#birthday#%d", memberID, year)
}

func (c *change) birthday(at time.Time) {
	p := c.r.Program
	year := at.In(p.Location).Year()
	c.a.BirthdayYears = append(c.a.BirthdayYears, year)
	key := BirthdayGiftKey(c.a.MemberID, year)
	if set := c.m.BirthdaySetAt; !set.IsZero() && set.After(at.AddDate(0, 0, -p.Birthday.MinDaysSinceSet)) {
		c.entry(Entry{Key: key, At: at, Rule: "birthday.refused",
			Reason: fmt.Sprintf("birthday was set or changed fewer than %d days before it (on %s)", p.Birthday.MinDaysSinceSet, p.Day(set))})
		return
	}
	saved := c.at
	c.at = at
	c.issueCoupon(key, p.Birthday.Coupon, "birthday.coupon", fmt.Sprintf("birthday gift %d", year), nil)
	c.at = saved
}

// ---- upkeep ----

// prune drops what can no longer matter, keeping the account item small:
// growth and orders older than the window plus the return window, spent or
// expired lots, coupons gone for 90 days, boosts ended a year ago (a grant
// retried within that year still finds its key; the store's applied
// marker refuses one retried later).
func (c *change) prune() {
	p := c.r.Program
	horizon := c.at.AddDate(0, 0, -(p.Growth.WindowDays + p.Points.PendingDays + 31))
	c.a.Growth = slices.DeleteFunc(c.a.Growth, func(g GrowthRecord) bool { return g.At.Before(horizon) })
	c.a.Orders = slices.DeleteFunc(c.a.Orders, func(o OrderRecord) bool { return o.At.Before(horizon) })
	c.a.Lots = slices.DeleteFunc(c.a.Lots, func(l Lot) bool {
		return (l.Expired || (l.Released && l.Points == 0)) && l.ReleaseAt.Before(c.at.AddDate(0, 0, -1))
	})
	old := c.at.AddDate(0, 0, -90)
	c.a.Coupons = slices.DeleteFunc(c.a.Coupons, func(x Coupon) bool {
		return (x.Used() && x.UsedAt.Before(old)) || x.ExpiresAt.Before(old)
	})
	c.a.Boosts = slices.DeleteFunc(c.a.Boosts, func(b Boost) bool { return b.Until.AddDate(1, 0, 0).Before(c.at) })
	if n := len(c.a.BirthdayYears); n > 3 {
		c.a.BirthdayYears = slices.Clone(c.a.BirthdayYears[n-3:])
	}
	for k := range c.a.ReferralRewards {
		if k < p.Day(old)[:7] {
			delete(c.a.ReferralRewards, k)
		}
	}
}

func (a *Account) refreshBadges(p *Program) {
	has := slices.Contains(a.Badges, p.StoredValue.Badge)
	positive := a.Principal.Add(a.Bonus).IsPositive()
	switch {
	case positive && !has:
		a.Badges = append(a.Badges, p.StoredValue.Badge)
	case !positive && has:
		a.Badges = slices.DeleteFunc(a.Badges, func(b string) bool { return b == p.StoredValue.Badge })
	}
}

// Day is t's calendar day (YYYY-MM-DD) in the programme time zone.
func (p *Program) Day(t time.Time) string { return t.In(p.Location).Format(time.DateOnly) }

// StartOfDay is midnight of t's day in the programme time zone.
func (p *Program) StartOfDay(t time.Time) time.Time {
	l := t.In(p.Location)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, p.Location)
}

// eventOf returns the event id part of a cause key (everything before the
// first '#'); causes that are not events give "".
func eventOf(cause string) string {
	if strings.Contains(cause, "#") {
		return ""
	}
	return cause
}
