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
	"slices"
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
	return s.ApplyEventTo(ctx, nil, env, data)
}

// ApplyEventTo is ApplyEvent for a caller that has just read or written the
// member's projection (dispatch): the first attempt uses it instead of
// reading it again; retries re-read.
func (s *Service) ApplyEventTo(ctx context.Context, known *loyalty.Member, env events.Envelope, data any) error {
	var exhausted []string
	for range maxAttempts {
		var m loyalty.Member
		var err error
		if known != nil && known.ID == env.MemberID {
			m, known = *known, nil
		} else if m, err = s.member(ctx, env.MemberID); err != nil {
			return err
		}
		a, err := s.account(ctx, env.MemberID)
		if err != nil {
			return err
		}
		in := loyalty.Input{Member: m, Event: env, Data: data, Exhausted: exhausted}
		if err := s.lookups(ctx, &in); err != nil {
			return err
		}
		res := s.Rules.Apply(a, in)
		if profileOnly(data) && a.Version > 0 && len(res.Entries) == 0 && s.change(a, m, res, "").NextDue == a.Due {
			return nil // a profile edit that moves nothing: no write
		}
		err = s.commit(ctx, a, m, res, env.ID)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, store.ErrDuplicate):
			return nil
		case errors.Is(err, store.ErrLimit):
			for _, c := range res.Counters {
				exhausted = append(exhausted, kindOfCounter(c.Key))
			}
			s.log().InfoContext(ctx, "coupon global limit reached; applying the event without it", "event_id", env.ID, "member_id", env.MemberID, "kinds", exhausted)
			continue
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrClaimed):
			// Lost a race (another writer, or a person's trial claimed by
			// another member meanwhile): read again and re-decide.
			continue
		default:
			return fmt.Errorf("apply %s %s to %s's account: %w", env.Type, env.ID, env.MemberID, err)
		}
	}
	return fmt.Errorf("apply %s %s: member %s's account kept changing; giving up after %d attempts", env.Type, env.ID, env.MemberID, maxAttempts)
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

// lookups fills in what the rules need from outside the account: the
// referrer behind a referral code and whether this person had a trial.
func (s *Service) lookups(ctx context.Context, in *loyalty.Input) error {
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
// accounts) into one store transaction.
func (s *Service) commit(ctx context.Context, before loyalty.Account, m loyalty.Member, res loyalty.Result, cause string) error {
	changes := []store.LedgerChange{s.change(before, m, res, cause)}
	for _, eff := range res.Effects {
		if eff.MemberID == m.ID {
			continue
		}
		ra, err := s.account(ctx, eff.MemberID)
		if err != nil {
			return err
		}
		rm, err := s.member(ctx, eff.MemberID)
		if err != nil {
			return err
		}
		rres := s.Rules.ReferralReward(ra, rm, m, eff)
		changes = append(changes, s.change(ra, rm, rres, eff.Cause))
	}
	return s.Store.CommitLedger(ctx, changes...)
}

func (s *Service) change(before loyalty.Account, m loyalty.Member, res loyalty.Result, cause string) store.LedgerChange {
	a := res.Account
	a.Version = before.Version + 1
	if due := s.Rules.NextDue(a, m); !due.IsZero() {
		a.Due = s.Rules.Program.Day(due)
	} else {
		a.Due = ""
	}
	return store.LedgerChange{
		Account: a, Entries: res.Entries, Cause: cause,
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

// memberAndAccount reads what a rule needs about one member.
func (s *Service) memberAndAccount(ctx context.Context, id string) (loyalty.Member, loyalty.Account, error) {
	m, err := s.member(ctx, id)
	if err != nil {
		return loyalty.Member{}, loyalty.Account{}, err
	}
	a, err := s.account(ctx, id)
	return m, a, err
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
		ch := s.change(a, m, res, "")
		if len(res.Entries) == 0 && len(res.Effects) == 0 && ch.NextDue == a.Due {
			return false, nil
		}
		err = s.commit(ctx, a, m, res, "")
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

// Adjust applies a manual adjustment once per key: repeating a key returns
// Duplicate and changes nothing.
func (s *Service) Adjust(ctx context.Context, m loyalty.Member, adj loyalty.Adjustment) (AdjustResult, error) {
	cause := "adj:" + adj.Key
	adj.Key = cause
	for range maxAttempts {
		a, err := s.account(ctx, m.ID)
		if err != nil {
			return AdjustResult{}, err
		}
		res, err := s.Rules.Adjust(a, m, adj, s.now())
		if err != nil {
			// A retried deduction may now be refused for lack of balance;
			// if the first attempt went through, it is a duplicate.
			done, aerr := s.Store.CauseApplied(ctx, m.ID, cause)
			if aerr != nil {
				return AdjustResult{}, aerr
			}
			if done {
				return AdjustResult{Duplicate: true, Entries: []loyalty.Entry{}}, nil
			}
			return AdjustResult{}, err
		}
		err = s.commit(ctx, a, m, res, cause)
		switch {
		case err == nil:
			return AdjustResult{Entries: res.Entries}, nil
		case errors.Is(err, store.ErrDuplicate):
			return AdjustResult{Duplicate: true, Entries: []loyalty.Entry{}}, nil
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrClaimed):
			continue
		case errors.Is(err, store.ErrNegative):
			return AdjustResult{}, loyalty.Errorf(loyalty.EConflict, "the balance changed while adjusting; retry")
		default:
			return AdjustResult{}, fmt.Errorf("adjust %s: %w", m.ID, err)
		}
	}
	return AdjustResult{}, loyalty.Errorf(loyalty.EConflict, "member %s's account kept changing; retry", m.ID)
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
	var exhausted []string
	for range maxAttempts {
		m, a, err := s.memberAndAccount(ctx, memberID)
		if err != nil {
			return loyalty.Coupon{}, err
		}
		res := s.Rules.IssueCoupon(a, m, key, kind, why, s.now(), exhausted)
		err = s.commit(ctx, a, m, res, key)
		switch {
		case err == nil:
			if cp, ok := couponByKey(res.Account, key); ok {
				return cp, nil
			}
			reason := "no coupon was issued"
			for _, e := range res.Entries {
				if e.Key == key+"#coupon.issue" {
					reason = e.Reason
				}
			}
			return loyalty.Coupon{}, couponRefused(kind, memberID, reason)
		case errors.Is(err, store.ErrDuplicate):
			// Asked before under this key: answer with what that left.
			if a, err = s.account(ctx, memberID); err != nil {
				return loyalty.Coupon{}, err
			}
			if cp, ok := couponByKey(a, key); ok {
				return cp, nil
			}
			return loyalty.Coupon{}, couponRefused(kind, memberID, "no coupon is held under key "+key+" (refused when first asked, or used or expired long ago and dropped)")
		case errors.Is(err, store.ErrLimit):
			exhausted = append(exhausted, kind)
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrClaimed):
		default:
			return loyalty.Coupon{}, fmt.Errorf("issue %s to %s: %w", kind, memberID, err)
		}
	}
	return loyalty.Coupon{}, fmt.Errorf("issue %s to %s: account kept changing; giving up", kind, memberID)
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
	// The cause is namespaced so a journey step may give a coupon and a
	// boost under the same step key.
	cause := "boost:" + key
	for range maxAttempts {
		m, a, err := s.memberAndAccount(ctx, memberID)
		if err != nil {
			return loyalty.Boost{}, err
		}
		res, err := s.Rules.GrantBoost(a, m, key, multiplier, days, why, s.now())
		if err != nil {
			return loyalty.Boost{}, fmt.Errorf("grant boost %s to %s: %w", key, memberID, err)
		}
		err = s.commit(ctx, a, m, res, cause)
		switch {
		case err == nil:
			a = res.Account
		case errors.Is(err, store.ErrDuplicate):
			if a, err = s.account(ctx, memberID); err != nil {
				return loyalty.Boost{}, err
			}
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrClaimed):
			continue
		default:
			return loyalty.Boost{}, fmt.Errorf("grant boost %s to %s: %w", key, memberID, err)
		}
		i := slices.IndexFunc(a.Boosts, func(b loyalty.Boost) bool { return b.Key == key })
		if i < 0 {
			// Granted so long ago that the account has let it go.
			return loyalty.Boost{}, fmt.Errorf("grant boost %s to %s: granted before and since pruned from the account", key, memberID)
		}
		return a.Boosts[i], nil
	}
	return loyalty.Boost{}, fmt.Errorf("grant boost %s to %s: account kept changing; giving up", key, memberID)
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
