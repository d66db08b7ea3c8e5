package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"

	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// RewardRequest grants one journey step's reward.
type RewardRequest struct {
	MemberID   string         `json:"member_id"`
	Journey    string         `json:"journey"`
	Enrollment int            `json:"enrollment"`
	Step       string         `json:"step"`
	Year       int            `json:"year"`
	Reward     journey.Reward `json:"reward"`
}

// RewardResult is what the member got.
type RewardResult struct {
	Key        string          `json:"key"`
	Coupon     *loyalty.Coupon `json:"coupon,omitempty"`
	CouponName string          `json:"coupon_name,omitempty"`
	Boost      *loyalty.Boost  `json:"boost,omitempty"`
	// Refused says why the coupon was not granted (a per-member or
	// global limit); the journey goes on without it.
	Refused string `json:"refused,omitempty"`
	// Points granted (journey rewards of points).
	Points int64 `json:"points,omitempty"`
	// Pending says the reward is not due yet (a birthday gift the ledger
	// dates later in the programme's zone): ask again at PendingUntil.
	Pending      bool      `json:"pending,omitempty"`
	PendingUntil time.Time `json:"pending_until,omitzero"`
}

// Vars are the template variables of the reward: coupon_name,
// coupon_code, boost_multiplier and the dates coupon_valid_until and
// boost_until (formatted in the member's zone by SendEmail).
func (r RewardResult) Vars() (map[string]string, map[string]time.Time) {
	vars, dates := map[string]string{}, map[string]time.Time{}
	if c := r.Coupon; c != nil {
		vars["coupon_code"] = c.Code
		vars["coupon_name"] = r.CouponName
		// A coupon is valid to the end of its last day; ExpiresAt is the
		// first moment it is not.
		dates["coupon_valid_until"] = c.ExpiresAt.Add(-time.Nanosecond)
	}
	if b := r.Boost; b != nil {
		vars["boost_multiplier"] = b.Multiplier.String()
		dates["boost_until"] = b.Until.Add(-time.Nanosecond)
	}
	return vars, dates
}

// Reward grants a step's coupon and points boost exactly once: both carry
// the step's key (member#journey#enrollment#step#year), so a retry, a
// restarted worker or a second scan finds them granted and returns them.
func (a *Activities) Reward(ctx context.Context, req RewardRequest) (RewardResult, error) {
	key := SendKey(req.MemberID, req.Journey, req.Enrollment, req.Step, req.Year)
	res, err := a.reward(ctx, key, req.MemberID, req.Journey+" "+req.Step, req.Reward)
	if errors.Is(err, store.ErrNotFound) {
		return RewardResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("reward %s: member %s has no profile", key, req.MemberID), ErrTypeMemberNotFound, err)
	}
	return res, err
}

func (a *Activities) reward(ctx context.Context, key, memberID, why string, r journey.Reward) (RewardResult, error) {
	res := RewardResult{Key: key}
	if r.Coupon != "" {
		c, err := a.Ledger.IssueCoupon(ctx, memberID, key, r.Coupon, why)
		switch {
		case errors.Is(err, ledger.ErrCouponRefused):
			res.Refused = err.Error()
			a.log().InfoContext(ctx, "reward coupon refused", "member", memberID, "key", key, "reason", err)
		case err != nil:
			return RewardResult{}, fmt.Errorf("reward %s: %w", key, err)
		default:
			res.Coupon = &c
			if k, ok := a.Ledger.Rules.Program.Coupon(c.Kind); ok {
				res.CouponName = k.Name
			}
		}
	}
	if b := r.Boost; b != nil {
		// The ledger marks a boost "boost:<key>", apart from the coupon's.
		got, err := a.Ledger.GrantBoost(ctx, memberID, key, b.Multiplier, b.Days, why)
		if err != nil {
			return RewardResult{}, fmt.Errorf("reward %s boost: %w", key, err)
		}
		res.Boost = &got
	}
	return res, nil
}

// DeferredSendWorkflow is the workflow type that waits out a calendar
// send's deferral (workflows.DeferredSend); activities start it by name
// because the workflows package imports this one.
const DeferredSendWorkflow = "DeferredSend"

// DeferredSendWorkflowID names the deferral workflow of one send; one per
// idempotency key, so a second scan attaches to it.
func DeferredSendWorkflowID(key string) string { return "send/" + key }

// DeferredSendInput is the input of the deferral workflow.
type DeferredSendInput struct {
	Request SendEmailRequest `json:"request"`
	Until   time.Time        `json:"until"`
}

// sendFromScan sends a calendar step's email. A send the contact policy
// defers is handed to a small workflow that sleeps until the slot and asks
// again: a scan never waits, and no workflow exists per member unless an
// email actually has to wait.
func (a *Activities) sendFromScan(ctx context.Context, req SendEmailRequest, counts map[string]int) error {
	res, err := a.SendEmail(ctx, req)
	if err != nil {
		return err
	}
	switch {
	case res.Deferred():
		counts["deferred"]++
		if a.Workflows == nil {
			return nil
		}
		_, err := a.Workflows.ExecuteWorkflow(ctx, deferredOptions(res.Key, a.TaskQueue), DeferredSendWorkflow,
			DeferredSendInput{Request: req, Until: res.DeferUntil})
		if err != nil && !isAlreadyStarted(err) {
			return fmt.Errorf("start deferral of %s: %w", res.Key, err)
		}
	case res.Status == store.SendSent:
		counts["sent"]++
	case res.Status == store.SendSkipped:
		counts[store.SkippedStatsKey(res.Reason)]++
	}
	return nil
}

// enrollmentNumber turns a day into the enrollment number of a calendar
// enrollment (20261123): the anchor day names the enrollment for ever.
func enrollmentNumber(day time.Time) int {
	n, _ := strconv.Atoi(day.UTC().Format("20060102"))
	return n
}

// localClock is the moment of hh:mm on the calendar day of t in loc.
func localClock(t time.Time, loc *time.Location, hour, minute, addDays int) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+addDays, hour, minute, 0, 0, loc)
}

// stepClock is the step's local time of day, 10:00 when it has none.
func stepClock(s journey.Step) (int, int) {
	if h, m, ok := s.Clock(); ok {
		return h, m
	}
	return 10, 0
}

// StepDeadline is when a step's email stops making sense: Expires after
// its time, and never after limit when limit is set; zero when never.
// Pure, so workflows use it too.
func StepDeadline(s journey.Step, at, limit time.Time) time.Time {
	d := time.Time{}
	if s.Expires > 0 {
		d = at.Add(s.Expires.D())
	}
	if !limit.IsZero() && (d.IsZero() || limit.Before(d)) {
		d = limit
	}
	return d
}
