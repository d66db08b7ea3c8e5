package loyalty

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
)

// An account is the fold of its inputs in causal order: storefront events
// at the time they occurred, and the ledger's own commands (journey coupons
// and boosts, operators' adjustments, referral rewards) at the time they
// were made. Inputs usually arrive in that order and are applied on top of
// the account. Stream records of different items carry no order, though,
// so an input may arrive after later ones; then the account is recomputed
// from its journal — every input it ever took, kept by the ledger — with
// the late input in its place (Replay), and the difference to what is
// stored is booked as new entries (Rebase). Arrival order therefore never
// changes the outcome.

// InputKind says what made an input and so how its parameters read.
type InputKind string

// The kinds of input an account takes.
const (
	// InputEvent is a recorded storefront event; Params is the event
	// object as recorded.
	InputEvent InputKind = "event"
	// InputCoupon is a coupon issued under a key (a journey step);
	// Params is CouponInput.
	InputCoupon InputKind = "coupon"
	// InputBoost is a points multiplier granted under a key; Params is
	// BoostInput.
	InputBoost InputKind = "boost"
	// InputAdjust is an operator's adjustment; Params is Adjustment.
	InputAdjust InputKind = "adjust"
	// InputReferral is a referrer's reward for a referee; Params is Effect.
	InputReferral InputKind = "referral"
)

// Recorded is what the ledger's journal keeps of one input: its cause (the
// idempotency key it was committed under), when it happened and what
// applying it again needs.
type Recorded struct {
	Cause  string          `json:"cause"`
	Kind   InputKind       `json:"kind"`
	At     time.Time       `json:"at"`
	Params json.RawMessage `json:"params,omitempty"`
}

// CouponInput is the parameters of an InputCoupon; its key is the cause.
type CouponInput struct {
	Kind string `json:"kind"`
	Why  string `json:"why"`
}

// BoostInput is the parameters of an InputBoost.
type BoostInput struct {
	Key        string          `json:"key"`
	Multiplier decimal.Decimal `json:"multiplier"`
	Days       int             `json:"days"`
	Why        string          `json:"why"`
}

// BoostCause is the cause a boost granted under key is committed under:
// namespaced, so a journey step may give a coupon and a boost under one key.
func BoostCause(key string) string { return "boost:" + key }

// AdjustCause is the cause of an adjustment made under an idempotency key.
func AdjustCause(key string) string { return "adj:" + key }

// Command is one input ready to apply to an account: its record, decoded,
// plus what the ledger looked up for it outside the account.
type Command struct {
	Record Recorded
	// Event is the event with its lookups (InputEvent). Its Member is
	// replaced by the member the command is applied for.
	Event Input
	// Coupon, Boost, Adjust and Effect are the decoded parameters of the
	// other kinds.
	Coupon CouponInput
	Boost  BoostInput
	Adjust Adjustment
	Effect Effect
	// Referee is the referred member of an InputReferral.
	Referee Member
	// Exhausted lists coupon kinds whose global limit is reached.
	Exhausted []string
	// Replay marks a command applied again in a recomputation: an
	// adjustment accepted when it was made is then applied as far as the
	// balances allow instead of being refused.
	Replay bool
}

// EventCommand is the command of a recorded event.
func EventCommand(in Input) (Command, error) {
	raw := in.Event.Raw
	if len(raw) == 0 {
		// An event built in code rather than received: record it with its
		// decoded data, which is what will be decoded again.
		env := in.Event
		if len(env.Data) == 0 && in.Data != nil {
			d, err := json.Marshal(in.Data)
			if err != nil {
				return Command{}, fmt.Errorf("record event %s: %w", env.ID, err)
			}
			env.Data = d
		}
		b, err := json.Marshal(env)
		if err != nil {
			return Command{}, fmt.Errorf("record event %s: %w", in.Event.ID, err)
		}
		raw = b
	}
	return Command{Record: Recorded{Cause: in.Event.ID, Kind: InputEvent, At: in.Event.OccurredAt, Params: raw}, Event: in}, nil
}

// CouponCommand is the command of issuing a coupon of kind under key at at.
func CouponCommand(key, kind, why string, at time.Time) Command {
	p := CouponInput{Kind: kind, Why: why}
	return Command{Record: Recorded{Cause: key, Kind: InputCoupon, At: at, Params: mustJSON(p)}, Coupon: p}
}

// BoostCommand is the command of granting a boost under key at at.
func BoostCommand(key string, multiplier decimal.Decimal, days int, why string, at time.Time) Command {
	p := BoostInput{Key: key, Multiplier: multiplier, Days: days, Why: why}
	return Command{Record: Recorded{Cause: BoostCause(key), Kind: InputBoost, At: at, Params: mustJSON(p)}, Boost: p}
}

// AdjustCommand is the command of an operator's adjustment at at; adj.Key
// is the caller's idempotency key.
func AdjustCommand(adj Adjustment, at time.Time) Command {
	adj.Key = AdjustCause(adj.Key)
	return Command{Record: Recorded{Cause: adj.Key, Kind: InputAdjust, At: at, Params: mustJSON(adj)}, Adjust: adj}
}

// ReferralCommand is the command of a referrer's reward.
func ReferralCommand(e Effect, referee Member) Command {
	return Command{Record: Recorded{Cause: e.Cause, Kind: InputReferral, At: e.At, Params: mustJSON(e)}, Effect: e, Referee: referee}
}

// mustJSON encodes the parameter structs above, which always encode.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("loyalty: encode %T: %v", v, err))
	}
	return b
}

// DecodeCommand turns a journal record back into a command. Lookups
// (an event's referrer and trial claims, a referral's referee) are the
// caller's to fill in.
func DecodeCommand(rec Recorded) (Command, error) {
	cmd := Command{Record: rec}
	var err error
	switch rec.Kind {
	case InputEvent:
		var env events.Envelope
		if err = json.Unmarshal(rec.Params, &env); err == nil {
			env.Raw = rec.Params
			cmd.Event = Input{Event: env}
			cmd.Event.Data, err = env.DecodeData()
		}
	case InputCoupon:
		err = json.Unmarshal(rec.Params, &cmd.Coupon)
	case InputBoost:
		err = json.Unmarshal(rec.Params, &cmd.Boost)
	case InputAdjust:
		err = json.Unmarshal(rec.Params, &cmd.Adjust)
	case InputReferral:
		err = json.Unmarshal(rec.Params, &cmd.Effect)
	default:
		err = fmt.Errorf("unknown input kind %q", rec.Kind)
	}
	if err != nil {
		return Command{}, fmt.Errorf("decode journal record %s: %w", rec.Cause, err)
	}
	return cmd, nil
}

// ApplyCommand applies one input to the account of member m and moves the
// account's causal position to it. Errors are refusals (EInvalid) of a
// boost or an adjustment; nothing changes then.
func (r *Rules) ApplyCommand(a Account, m Member, cmd Command) (Result, error) {
	rec := cmd.Record
	var res Result
	var err error
	switch rec.Kind {
	case InputEvent:
		in := cmd.Event
		in.Member = m
		in.Exhausted = cmd.Exhausted
		res = r.Apply(a, in)
	case InputCoupon:
		res = r.IssueCoupon(a, m, rec.Cause, cmd.Coupon.Kind, cmd.Coupon.Why, rec.At, cmd.Exhausted)
	case InputBoost:
		res, err = r.GrantBoost(a, m, cmd.Boost.Key, cmd.Boost.Multiplier, cmd.Boost.Days, cmd.Boost.Why, rec.At)
	case InputAdjust:
		res, err = r.adjust(a, m, cmd.Adjust, rec.At, cmd.Replay)
	case InputReferral:
		res = r.ReferralReward(a, m, cmd.Referee, cmd.Effect)
	default:
		err = Errorf(EInternal, "unknown input kind %q", rec.Kind)
	}
	if err != nil {
		return Result{}, err
	}
	res.Account.reached(rec.At, rec.Cause)
	return res, nil
}

// Replay recomputes member m's account from nothing: every command in
// causal order (time, then cause), then time advanced to through. It
// returns the account and every entry, claim and effect the recomputation
// made; an error names the command that could not be applied.
func (r *Rules) Replay(m Member, cmds []Command, through time.Time) (Result, error) {
	cmds = slices.Clone(cmds)
	slices.SortStableFunc(cmds, func(x, y Command) int {
		return cmp.Or(x.Record.At.Compare(y.Record.At), strings.Compare(x.Record.Cause, y.Record.Cause))
	})
	a := Account{MemberID: m.ID, Journaled: true}
	var all Result
	for _, cmd := range cmds {
		res, err := r.ApplyCommand(a, m, cmd)
		if err != nil {
			return Result{}, fmt.Errorf("replay %s %s: %w", cmd.Record.Kind, cmd.Record.Cause, err)
		}
		a = res.Account
		all.Entries = append(all.Entries, res.Entries...)
		all.Claims = append(all.Claims, res.Claims...)
		all.Effects = append(all.Effects, res.Effects...)
	}
	res := r.Advance(a, m, through)
	all.Entries = append(all.Entries, res.Entries...)
	all.Claims = append(all.Claims, res.Claims...)
	all.Effects = append(all.Effects, res.Effects...)
	all.Account = res.Account
	return all, nil
}

// Rebase is the change that takes the stored account cur to replayed, the
// recomputation of its journal with trigger (the late input) in its place:
// the replayed entries the ledger does not hold yet (stored reports the
// keys it does), then correction entries for whatever else differs — one
// for the balances (per lot, so the liability counters follow) and the
// tier, one per coupon whose standing differs — so the stored balances
// still equal the sum of the entries. Claims and counters are those of
// coupons and trials new to the account; the referral effect only if cur
// had not settled it yet (a reward once given is not taken back).
func (r *Rules) Rebase(cur Account, replayed Result, stored func(key string) bool, trigger Recorded) Result {
	p := r.Program
	next := replayed.Account
	next.MemberID = cur.MemberID
	next.Journaled = true
	next.reached(cur.Through, cur.ThroughCause)

	var out Result
	seq := cur.Seq
	add := func(e Entry) {
		seq++
		e.Seq, e.MemberID, e.At = seq, cur.MemberID, e.At.UTC()
		out.Entries = append(out.Entries, e)
	}
	seen := map[string]bool{}
	for _, e := range replayed.Entries {
		if stored(e.Key) || seen[e.Key] {
			continue
		}
		seen[e.Key] = true
		add(e)
	}
	booked := SumEntries(out.Entries)
	var bookedShortfall int64
	lotBooked := map[string]int64{}
	couponBooked := map[string]int{}
	for _, e := range out.Entries {
		bookedShortfall += e.Shortfall
		for _, l := range e.Lots {
			lotBooked[l.Lot] += l.Points
		}
		if e.Coupon != nil {
			couponBooked[e.Coupon.Code] += e.Coupon.Delta
		}
	}

	// Balances and lots.
	was, now := cur.Balances(), next.Balances()
	fix := Entry{
		Key: trigger.Cause + "#reorder", At: trigger.At, Rule: "ledger.reorder", EventID: eventOf(trigger.Cause),
		Pending:   now.Pending - was.Pending - booked.Pending,
		Available: now.Available - was.Available - booked.Available,
		Shortfall: next.Shortfall - cur.Shortfall - bookedShortfall,
		Principal: now.Principal.Sub(was.Principal).Sub(booked.Principal),
		Bonus:     now.Bonus.Sub(was.Bonus).Sub(booked.Bonus),
	}
	outstanding := func(a Account) map[string]Lot {
		m := map[string]Lot{}
		for _, l := range a.Lots {
			if !l.Expired {
				m[l.ID] = l
			}
		}
		return m
	}
	before, after := outstanding(cur), outstanding(next)
	ids := map[string]Lot{}
	for id, l := range before {
		ids[id] = l
	}
	for id, l := range after {
		ids[id] = l
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		if d := after[id].Points - before[id].Points - lotBooked[id]; d != 0 {
			fix.Lots = append(fix.Lots, LotMove{Lot: id, ReleaseDay: p.Day(ids[id].ReleaseAt), Points: d})
		}
	}
	var what []string
	if cur.Tier != next.Tier || !cur.ReviewAt.Equal(next.ReviewAt) {
		fix.Tier = next.Tier
		what = append(what, fmt.Sprintf("tier %s → %s (review %s → %s)", cur.Tier, next.Tier, dayOr(p, cur.ReviewAt), dayOr(p, next.ReviewAt)))
	}
	if fix.Pending != 0 || fix.Available != 0 {
		what = append(what, fmt.Sprintf("points pending %+d, available %+d", fix.Pending, fix.Available))
	}
	if fix.Shortfall != 0 {
		what = append(what, fmt.Sprintf("shortfall %+d", fix.Shortfall))
	}
	if !fix.Principal.IsZero() || !fix.Bonus.IsZero() {
		what = append(what, fmt.Sprintf("stored value principal %s, bonus %s", signed(fix.Principal), signed(fix.Bonus)))
	}
	if len(what) > 0 || len(fix.Lots) > 0 {
		fix.Reason = fmt.Sprintf("%s %s (at %s) arrived after later inputs; the account was recomputed in causal order: %s",
			trigger.Kind, trigger.Cause, trigger.At.In(p.Location).Format(time.RFC3339), strings.Join(what, "; "))
		add(fix)
	}

	// Coupons: outstanding means issued and not used.
	coupons := map[string]Coupon{}
	held := map[string]bool{}
	for _, c := range cur.Coupons {
		coupons[c.Code] = c
		held[c.Code] = !c.Used()
	}
	open := map[string]bool{}
	for _, c := range next.Coupons {
		coupons[c.Code] = c
		open[c.Code] = !c.Used()
	}
	known := map[string]bool{}
	for _, c := range cur.Coupons {
		known[c.Code] = true
	}
	for _, code := range slices.Sorted(maps.Keys(coupons)) {
		c := coupons[code]
		d := b2i(open[code]) - b2i(held[code]) - couponBooked[code]
		if d != 0 {
			verb := "issued"
			if d < 0 {
				verb = "withdrawn"
			}
			add(Entry{Key: trigger.Cause + "#reorder#" + code, At: trigger.At, Rule: "ledger.reorder.coupon", EventID: eventOf(trigger.Cause),
				Reason: fmt.Sprintf("%s %s (%s) %s when the account was recomputed in causal order after %s arrived late", c.Kind, code, c.Key, verb, trigger.Cause),
				Coupon: &CouponMove{Code: code, Kind: c.Kind, ExpiresDay: p.Day(c.ExpiresAt), Delta: d}})
		}
		if _, isNew := open[code]; isNew && !known[code] {
			out.Claims = append(out.Claims, Claim{Key: "coupon#" + code, Owner: cur.MemberID})
			if ck, ok := p.Coupon(c.Kind); ok && ck.GlobalLimit > 0 {
				out.Counters = append(out.Counters, Counter{Key: "coupon-issued#" + c.Kind, Limit: ck.GlobalLimit})
			}
		}
	}
	for _, cl := range replayed.Claims {
		switch {
		case strings.HasPrefix(cl.Key, "coupon#"):
			// Decided above, from the coupons themselves.
		case strings.HasPrefix(cl.Key, "trial#") && cur.TrialUsed:
		case strings.HasPrefix(cl.Key, "refcode#") && cur.ReferralCode != "":
		default:
			out.Claims = append(out.Claims, cl)
		}
	}
	if !cur.ReferralSettled {
		out.Effects = replayed.Effects
	}
	next.Seq = seq
	out.Account = next
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func signed(d decimal.Decimal) string {
	if d.IsNegative() {
		return d.String()
	}
	return "+" + d.String()
}

func dayOr(p *Program, t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return p.Day(t)
}
