// Package ledger applies the loyalty rules (internal/loyalty) to stored
// accounts: it reads what a rule needs, runs the pure rule, and commits the
// result with its entries in one store transaction, retrying lost races.
// Dispatch, the API and the sweep all go through it, so an event, an
// operator's adjustment and the passage of time change accounts the same
// way.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// Service is the ledger's application service.
type Service struct {
	Rules *loyalty.Rules
	Store store.Store
	Log   *slog.Logger
	Now   func() time.Time // nil means time.Now
}

// maxAttempts bounds optimistic-concurrency retries on one account.
const maxAttempts = 8

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ApplyEvent applies one recorded event to the member's account exactly
// once: a replayed event is recognised by its applied marker and changes
// nothing.
func (s *Service) ApplyEvent(ctx context.Context, env events.Envelope, data any) error {
	_, err := s.ApplyEventTo(ctx, nil, env, data)
	return err
}

// ApplyEventTo is ApplyEvent for a caller that has just read or written the
// member's projection (dispatch): the first attempt uses it instead of
// reading it again; retries re-read.
//
// It returns the account as it is after the event (as stored when the
// event had been applied before), so the caller can decide on it without
// reading it again.
func (s *Service) ApplyEventTo(ctx context.Context, known *loyalty.Member, env events.Envelope, data any) (loyalty.Account, error) {
	cmd, err := loyalty.EventCommand(loyalty.Input{Event: env, Data: data})
	if err != nil {
		return loyalty.Account{}, err
	}
	res, err := s.applyOnce(ctx, env.MemberID, known, cmd, profileOnly(data))
	if err != nil {
		return loyalty.Account{}, fmt.Errorf("apply %s %s to %s's account: %w", env.Type, env.ID, env.MemberID, err)
	}
	return res.Account, nil
}

// applied is what applyOnce did.
type applied struct {
	// Account is the account after the input: as committed, or as stored
	// when the input had been applied before (Duplicate) or changed
	// nothing worth a write.
	Account   loyalty.Account
	Entries   []loyalty.Entry // committed by this call
	Duplicate bool
	// Recomputed says the input arrived after later ones and the account
	// was recomputed in causal order.
	Recomputed bool
}

// errSeen is recompute's answer when the journal already holds the cause.
var errSeen = errors.New("cause already in the journal")

// applyOnce applies cmd to the member's account exactly once and in causal
// order. An input that sorts after everything the account reflects (the
// usual case) is applied on top of it; one that arrived after later inputs
// makes the account be recomputed from its journal with the input in its
// place (loyalty.Replay, loyalty.Rebase), so arrival order never changes
// the outcome. idle inputs (profile edits) are not written when they change
// nothing. Refusals by the rules (EInvalid) are returned as they are.
func (s *Service) applyOnce(ctx context.Context, memberID string, known *loyalty.Member, cmd loyalty.Command, idle bool) (applied, error) {
	var exhausted []string
	for range maxAttempts {
		var m loyalty.Member
		var a loyalty.Account
		var err error
		if known != nil && known.ID == memberID {
			m, known = *known, nil
			a, err = s.account(ctx, memberID)
		} else {
			m, a, err = s.memberAndAccount(ctx, memberID)
		}
		if err != nil {
			return applied{}, err
		}
		var res loyalty.Result
		late := a.Journaled && !a.InOrder(cmd.Record.At, cmd.Record.Cause)
		if late {
			res, err = s.recompute(ctx, a, m, cmd, exhausted)
			if errors.Is(err, errSeen) {
				return applied{Account: a, Duplicate: true}, nil
			}
		} else {
			c := cmd
			c.Exhausted = exhausted
			if err = s.lookups(ctx, &c, m); err == nil {
				res, err = s.Rules.ApplyCommand(a, m, c)
			}
		}
		if err != nil {
			return applied{}, err
		}
		if idle && a.Version > 0 && len(res.Entries) == 0 && s.change(a, m, res, loyalty.Recorded{}).NextDue == a.Due {
			return applied{Account: a}, nil // a profile edit that moves nothing: no write
		}
		err = s.commit(ctx, a, m, res, cmd.Record)
		switch {
		case err == nil:
			if late {
				s.log().InfoContext(ctx, "late input: account recomputed in causal order", "member_id", memberID, "cause", cmd.Record.Cause, "kind", cmd.Record.Kind, "entries", len(res.Entries))
			}
			return applied{Account: res.Account, Entries: res.Entries, Recomputed: late}, nil
		case errors.Is(err, store.ErrDuplicate):
			a, err := s.account(ctx, memberID)
			return applied{Account: a, Duplicate: true}, err
		case errors.Is(err, store.ErrLimit):
			for _, c := range res.Counters {
				exhausted = append(exhausted, kindOfCounter(c.Key))
			}
			s.log().InfoContext(ctx, "coupon global limit reached; applying without it", "cause", cmd.Record.Cause, "member_id", memberID, "kinds", exhausted)
			continue
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrClaimed):
			// Lost a race (another writer, or a person's trial claimed by
			// another member meanwhile): read again and re-decide.
			continue
		default:
			return applied{}, err
		}
	}
	return applied{}, fmt.Errorf("member %s's account kept changing; giving up after %d attempts", memberID, maxAttempts)
}

// recompute replays the member's journal with trigger in its causal place
// and returns the change that takes the stored account a there. errSeen
// when the journal holds trigger's cause already.
func (s *Service) recompute(ctx context.Context, a loyalty.Account, m loyalty.Member, trigger loyalty.Command, exhausted []string) (loyalty.Result, error) {
	recs, err := s.Store.Journal(ctx, a.MemberID)
	if err != nil {
		return loyalty.Result{}, err
	}
	held := make(map[string]bool, len(a.Coupons))
	for _, c := range a.Coupons {
		held[c.Key] = true
	}
	cmds := make([]loyalty.Command, 0, len(recs)+1)
	for _, rec := range recs {
		if rec.Cause == trigger.Record.Cause {
			return loyalty.Result{}, errSeen
		}
		cmd, err := loyalty.DecodeCommand(rec)
		if err != nil {
			return loyalty.Result{}, fmt.Errorf("recompute %s: %w", a.MemberID, err)
		}
		cmd.Replay = true
		cmds = append(cmds, cmd)
	}
	cmds = append(cmds, trigger)
	for i := range cmds {
		if err := s.lookups(ctx, &cmds[i], m); err != nil {
			return loyalty.Result{}, err
		}
		// A coupon the account holds was issued within the global limit
		// when it was asked for; only new ones are refused for it.
		if !held[cmds[i].Record.Cause] {
			cmds[i].Exhausted = exhausted
		}
	}
	through := a.Through
	if trigger.Record.At.After(through) {
		through = trigger.Record.At
	}
	replayed, err := s.Rules.Replay(m, cmds, through)
	if err != nil {
		return loyalty.Result{}, err
	}
	entries, err := s.Store.ListEntries(ctx, a.MemberID, math.MaxInt32, 0)
	if err != nil {
		return loyalty.Result{}, fmt.Errorf("recompute %s: %w", a.MemberID, err)
	}
	stored := make(map[string]bool, len(entries))
	for _, e := range entries {
		stored[e.Key] = true
	}
	return s.Rules.Rebase(a, replayed, func(k string) bool { return stored[k] }, trigger.Record), nil
}

// profileOnly reports events the loyalty rules do not act on; they matter
// to the ledger only when they move a due date (a changed birthday).
func profileOnly(data any) bool {
	switch data.(type) {
	case *events.MemberProfileUpdatedData, *events.MemberUnsubscribedData:
		return true
	}
	return false
}

func kindOfCounter(key string) string {
	const prefix = "coupon-issued#"
	if len(key) > len(prefix) && key[:len(prefix)] == prefix {
		return key[len(prefix):]
	}
	return key
}

// lookups fills in what a command needs from outside the account: for an
// event, the referrer behind a referral code and whether this person had a
// trial; for a referral reward, the referee.
func (s *Service) lookups(ctx context.Context, cmd *loyalty.Command, m loyalty.Member) error {
	if cmd.Record.Kind == loyalty.InputReferral {
		ref, err := s.member(ctx, cmd.Effect.Referee)
		if err != nil {
			return err
		}
		cmd.Referee = ref
		return nil
	}
	in := &cmd.Event
	in.Member = m
	switch d := in.Data.(type) {
	case *events.MemberRegisteredData:
		if d.ReferralCode == "" {
			return nil
		}
		owner, err := s.Store.ClaimOwner(ctx, "refcode#"+d.ReferralCode)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("look up referral code: %w", err)
		}
		rm, err := s.member(ctx, owner)
		if err != nil {
			return err
		}
		in.Referrer = &rm
	case *events.SubscriptionTrialStartedData:
		for _, k := range loyalty.PersonKeys(in.Member) {
			owner, err := s.Store.ClaimOwner(ctx, "trial#"+k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("look up trial claims: %w", err)
			}
			if owner != in.Member.ID {
				in.TrialTakenBy = owner
				return nil
			}
		}
	}
	return nil
}

// commit turns a rule result (and the effects it asks for on other
// accounts) into one store transaction; rec is the journal record of the
// input (none for the sweep).
func (s *Service) commit(ctx context.Context, before loyalty.Account, m loyalty.Member, res loyalty.Result, rec loyalty.Recorded) error {
	changes := []store.LedgerChange{s.change(before, m, res, rec)}
	for _, eff := range res.Effects {
		if eff.MemberID == m.ID {
			continue
		}
		rm, ra, err := s.memberAndAccount(ctx, eff.MemberID)
		if err != nil {
			return err
		}
		cmd := loyalty.ReferralCommand(eff, m)
		rres, err := s.Rules.ApplyCommand(ra, rm, cmd)
		if err != nil {
			return fmt.Errorf("referral reward of %s: %w", eff.MemberID, err)
		}
		changes = append(changes, s.change(ra, rm, rres, cmd.Record))
	}
	return s.Store.CommitLedger(ctx, changes...)
}

func (s *Service) change(before loyalty.Account, m loyalty.Member, res loyalty.Result, rec loyalty.Recorded) store.LedgerChange {
	a := res.Account
	a.Version = before.Version + 1
	if before.Version == 0 {
		a.Journaled = true // a new account's every input is in the journal
	}
	if due := s.Rules.NextDue(a, m); !due.IsZero() {
		a.Due = s.Rules.Program.Day(due)
	} else {
		a.Due = ""
	}
	return store.LedgerChange{
		Account: a, Entries: res.Entries, Cause: rec.Cause, Record: rec,
		Claims: res.Claims, Counters: res.Counters,
		Liability: loyalty.LiabilityDeltas(res.Entries),
		NextDue:   a.Due,
	}
}

// member reads the projection; a member the ledger hears of before their
// registration is treated as a bare id.
func (s *Service) member(ctx context.Context, id string) (loyalty.Member, error) {
	m, err := s.Store.GetMember(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return loyalty.Member{ID: id}, nil
	}
	if err != nil {
		return loyalty.Member{}, fmt.Errorf("read member %s: %w", id, err)
	}
	return m, nil
}

// memberAndAccount reads what a rule needs about one member, in one read;
// like member and account, it takes an absent one for the bare id.
func (s *Service) memberAndAccount(ctx context.Context, id string) (loyalty.Member, loyalty.Account, error) {
	m, a, err := s.Store.MemberAndAccount(ctx, id)
	if err != nil {
		return loyalty.Member{}, loyalty.Account{}, fmt.Errorf("read member and account %s: %w", id, err)
	}
	return m, a, nil
}

func (s *Service) account(ctx context.Context, id string) (loyalty.Account, error) {
	a, err := s.Store.GetAccount(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return loyalty.Account{MemberID: id}, nil
	}
	if err != nil {
		return loyalty.Account{}, fmt.Errorf("read account %s: %w", id, err)
	}
	return a, nil
}

// Sweep persists the time-based changes due on one account by now
// (releases, expiries, reviews, lapses, birthday gifts, referral rewards)
// and moves the account to its next due day. It reports whether anything
// was written.
func (s *Service) Sweep(ctx context.Context, memberID string) (bool, error) {
	for range maxAttempts {
		now := s.now()
		a, err := s.Store.GetAccount(ctx, memberID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("sweep %s: %w", memberID, err)
		}
		m, err := s.member(ctx, memberID)
		if err != nil {
			return false, err
		}
		res := s.Rules.Advance(a, m, now)
		ch := s.change(a, m, res, loyalty.Recorded{})
		if len(res.Entries) == 0 && len(res.Effects) == 0 && ch.NextDue == a.Due {
			return false, nil
		}
		err = s.commit(ctx, a, m, res, loyalty.Recorded{})
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrDuplicate):
			continue
		default:
			return false, fmt.Errorf("sweep %s: %w", memberID, err)
		}
	}
	return false, fmt.Errorf("sweep %s: account kept changing; giving up after %d attempts", memberID, maxAttempts)
}

// SweepProgress reports a sweep of one day's due accounts.
type SweepProgress struct {
	Day     string `json:"day"`
	After   string `json:"after"` // last member id done: resume after it
	Scanned int    `json:"scanned"`
	Changed int    `json:"changed"`
}

// SweepDay sweeps the accounts due on day, page by page, starting after
// p.After; progress is called after every page so a long sweep can record
// where it is and resume there.
func (s *Service) SweepDay(ctx context.Context, p SweepProgress, pageSize int, progress func(SweepProgress)) (SweepProgress, error) {
	for {
		ids, err := s.Store.DueAccounts(ctx, p.Day, p.After, pageSize)
		if err != nil {
			return p, fmt.Errorf("sweep %s: %w", p.Day, err)
		}
		for _, id := range ids {
			changed, err := s.Sweep(ctx, id)
			if err != nil {
				return p, err
			}
			p.Scanned++
			if changed {
				p.Changed++
			}
			p.After = id
		}
		if progress != nil {
			progress(p)
		}
		if len(ids) < pageSize {
			return p, nil
		}
	}
}

// View returns the member's standing as of now. ErrNotFound when there is
// neither a profile nor an account.
func (s *Service) View(ctx context.Context, m loyalty.Member) (loyalty.View, error) {
	a, err := s.account(ctx, m.ID)
	if err != nil {
		return loyalty.View{}, err
	}
	return s.Rules.View(a, m, s.now()), nil
}

// Document is the member as journeys read them (GET /v1/members/{id},
// the `member` of CEL conditions): the projection, the standing as of now
// and the enrollments. Two reads: member and account together, then the
// enrollments. A member with neither profile nor account reads as empty.
func (s *Service) Document(ctx context.Context, memberID string, now time.Time) (loyalty.MemberDocument, error) {
	m, a, err := s.memberAndAccount(ctx, memberID)
	if err != nil {
		return loyalty.MemberDocument{}, err
	}
	return s.DocumentOf(ctx, m, a, now)
}

// DocumentOf is Document for a caller that holds the member and account
// (dispatch, right after applying an event): only the enrollments are read.
func (s *Service) DocumentOf(ctx context.Context, m loyalty.Member, a loyalty.Account, now time.Time) (loyalty.MemberDocument, error) {
	enrs, err := s.Store.ListEnrollments(ctx, m.ID)
	if err != nil {
		return loyalty.MemberDocument{}, fmt.Errorf("read enrollments of %s: %w", m.ID, err)
	}
	if a.MemberID == "" {
		a.MemberID = m.ID
	}
	return loyalty.MemberDocument{Member: m, View: s.Rules.View(a, m, now), Enrollments: enrs}, nil
}

// Entries returns up to limit ledger entries, newest first, before seq.
func (s *Service) Entries(ctx context.Context, memberID string, limit int, before int64) ([]loyalty.Entry, error) {
	es, err := s.Store.ListEntries(ctx, memberID, limit, before)
	if err != nil {
		return nil, fmt.Errorf("list entries of %s: %w", memberID, err)
	}
	return es, nil
}

// AdjustResult is the outcome of Adjust.
type AdjustResult struct {
	Entries   []loyalty.Entry `json:"entries"`
	Duplicate bool            `json:"duplicate"`
}

// Adjust applies a manual adjustment once per key: repeating a key with
// the same request returns Duplicate and changes nothing; repeating it with
// another request (operator, reason or amounts) is EConflict, because a
// client that reuses a key for a different change has a bug that silently
// dropping the change would hide.
func (s *Service) Adjust(ctx context.Context, m loyalty.Member, adj loyalty.Adjustment) (AdjustResult, error) {
	cmd := loyalty.AdjustCommand(adj, s.now())
	if dup, err := s.repeatedAdjustment(ctx, m.ID, cmd.Adjust); dup || err != nil {
		return AdjustResult{Duplicate: true, Entries: []loyalty.Entry{}}, err
	}
	got, err := s.applyOnce(ctx, m.ID, &m, cmd, false)
	switch {
	case err != nil && loyalty.ErrorCode(err) == loyalty.EInvalid:
		return AdjustResult{}, err
	case errors.Is(err, store.ErrNegative):
		return AdjustResult{}, loyalty.Errorf(loyalty.EConflict, "the balance changed while adjusting; retry")
	case err != nil:
		return AdjustResult{}, fmt.Errorf("adjust %s: %w", m.ID, err)
	case got.Duplicate:
		// Committed by a concurrent request with the same key meanwhile.
		if _, err := s.repeatedAdjustment(ctx, m.ID, cmd.Adjust); err != nil {
			return AdjustResult{}, err
		}
		return AdjustResult{Duplicate: true, Entries: []loyalty.Entry{}}, nil
	}
	return AdjustResult{Entries: got.Entries}, nil
}

// repeatedAdjustment reports whether adj's key was committed before, and
// EConflict when it was committed for another request.
func (s *Service) repeatedAdjustment(ctx context.Context, memberID string, adj loyalty.Adjustment) (bool, error) {
	rec, err := s.Store.AppliedRecord(ctx, memberID, adj.Key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if rec.Kind != loyalty.InputAdjust {
		return true, nil // committed before the journal kept requests: cannot tell, so a retry
	}
	prev, err := loyalty.DecodeCommand(rec)
	if err != nil {
		return false, err
	}
	if !prev.Adjust.SameRequest(adj) {
		key := strings.TrimPrefix(adj.Key, loyalty.AdjustCause(""))
		return true, loyalty.Errorf(loyalty.EConflict, "Idempotency-Key %s was used before for a different adjustment (operator %q, reason %q); use a new key for a new adjustment", key, prev.Adjust.Operator, prev.Adjust.Reason)
	}
	return true, nil
}

// ErrCouponRefused is matched (errors.Is) by IssueCoupon's error when the
// rules refused the coupon (a per-member or global limit reached, an
// unknown kind). The error also carries a loyalty.EInvalid *loyalty.Error
// whose message is the reason, so retrying does not help and the API shows
// why.
var ErrCouponRefused = errors.New("coupon refused")

// IssueCoupon gives the member a coupon under an idempotency key (journeys
// use their step key) and returns the coupon held under that key after the
// call; issuing again under the same key changes nothing and returns the
// same coupon. A refusal is an error matching ErrCouponRefused.
func (s *Service) IssueCoupon(ctx context.Context, memberID, key, kind, why string) (loyalty.Coupon, error) {
	got, err := s.applyOnce(ctx, memberID, nil, loyalty.CouponCommand(key, kind, why, s.now()), false)
	if err != nil {
		return loyalty.Coupon{}, fmt.Errorf("issue %s to %s: %w", kind, memberID, err)
	}
	if cp, ok := couponByKey(got.Account, key); ok {
		return cp, nil
	}
	if got.Duplicate {
		// Asked before under this key and nothing is held under it.
		return loyalty.Coupon{}, couponRefused(kind, memberID, "no coupon is held under key "+key+" (refused when first asked, or used or expired long ago and dropped)")
	}
	reason := "no coupon was issued"
	for _, e := range got.Entries {
		if e.Key == key+"#coupon.issue" {
			reason = e.Reason
		}
	}
	return loyalty.Coupon{}, couponRefused(kind, memberID, reason)
}

func couponRefused(kind, memberID, reason string) error {
	return fmt.Errorf("issue %s to %s: %w: %w", kind, memberID, ErrCouponRefused, loyalty.Errorf(loyalty.EInvalid, "%s", reason))
}

func couponByKey(a loyalty.Account, key string) (loyalty.Coupon, bool) {
	i := slices.IndexFunc(a.Coupons, func(c loyalty.Coupon) bool { return c.Key == key })
	if i < 0 {
		return loyalty.Coupon{}, false
	}
	return a.Coupons[i], true
}

// GrantBoost gives the member a points multiplier for days days from now
// under an idempotency key (journeys use their step key) and returns the
// boost held under that key; granting again under the same key changes
// nothing and returns the first grant. A multiplier of 1 or less or fewer
// than one day is refused with loyalty.EInvalid.
func (s *Service) GrantBoost(ctx context.Context, memberID, key string, multiplier decimal.Decimal, days int, why string) (loyalty.Boost, error) {
	got, err := s.applyOnce(ctx, memberID, nil, loyalty.BoostCommand(key, multiplier, days, why, s.now()), false)
	if err != nil {
		return loyalty.Boost{}, fmt.Errorf("grant boost %s to %s: %w", key, memberID, err)
	}
	i := slices.IndexFunc(got.Account.Boosts, func(b loyalty.Boost) bool { return b.Key == key })
	if i < 0 {
		// Granted so long ago that the account has let it go.
		return loyalty.Boost{}, fmt.Errorf("grant boost %s to %s: granted before and since pruned from the account", key, memberID)
	}
	return got.Account.Boosts[i], nil
}

// BirthdayGift persists everything due on the member's account by now (as
// the sweep does) and returns the coupon of their birthday gift of year,
// or false when there is none: refused, not due yet, no birthday given, or
// no account.
func (s *Service) BirthdayGift(ctx context.Context, memberID string, year int) (loyalty.Coupon, bool, error) {
	if _, err := s.Sweep(ctx, memberID); err != nil {
		return loyalty.Coupon{}, false, fmt.Errorf("birthday gift %d of %s: %w", year, memberID, err)
	}
	a, err := s.Store.GetAccount(ctx, memberID)
	if errors.Is(err, store.ErrNotFound) {
		return loyalty.Coupon{}, false, nil
	}
	if err != nil {
		return loyalty.Coupon{}, false, fmt.Errorf("birthday gift %d of %s: %w", year, memberID, err)
	}
	cp, ok := couponByKey(a, loyalty.BirthdayGiftKey(memberID, year))
	return cp, ok, nil
}

// Outlook answers what the member's next tier anniversary review would do
// if they earned nothing more (loyalty.Rules.ReviewOutlook) as of now.
func (s *Service) Outlook(ctx context.Context, memberID string) (loyalty.Outlook, error) {
	m, a, err := s.memberAndAccount(ctx, memberID)
	if err != nil {
		return loyalty.Outlook{}, err
	}
	return s.Rules.ReviewOutlook(a, m, s.now()), nil
}

// Liability reports outstanding points, stored value and unused coupons as
// of now.
func (s *Service) Liability(ctx context.Context) (loyalty.Liability, error) {
	c, err := s.Store.LiabilityCounters(ctx)
	if err != nil {
		return loyalty.Liability{}, fmt.Errorf("read liability: %w", err)
	}
	return s.Rules.Program.LiabilityAt(c, s.now()), nil
}

// New builds the service for the programme in programYAML (usually
// templates.Program), with codeSecret keying coupon codes.
func New(programYAML, codeSecret []byte, st store.Store, log *slog.Logger) (*Service, error) {
	if len(codeSecret) < 16 {
		return nil, errors.New("ledger: the coupon code secret must be at least 16 bytes")
	}
	p, err := loyalty.LoadProgram(programYAML)
	if err != nil {
		return nil, err
	}
	return &Service{Rules: &loyalty.Rules{Program: p, CodeSecret: codeSecret}, Store: st, Log: log}, nil
}
