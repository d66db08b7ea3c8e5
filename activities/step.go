package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// Reasons the executor skips a send or a reward without asking SendGrid.
const (
	// SkipBeforeEnrollment: the step was due before the member entered
	// (a reminder 7 days before the end of a 5-day trial) and is not sent
	// late.
	SkipBeforeEnrollment = "before_enrollment"
	// SkipHeldOut: the member is held out of the journey (its holdout or
	// the programme's): a held_out timeline entry instead of the email,
	// the reward or the webhook.
	SkipHeldOut = "held_out"
)

// Step executes one send, reward, branch, split, update, webhook or end
// step of def for an enrollment: the one piece of code every path runs
// (the interpreter's RunStep, the calendar scans, the simulator).
func (a *Activities) Step(ctx context.Context, def journey.Definition, req StepRequest) (StepResult, error) {
	i := def.Index(req.Step)
	if i < 0 {
		return StepResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("journey %s v%d has no step %q", def.Name, def.Version, req.Step), "UnknownStep", nil)
	}
	step := def.Steps[i]
	if req.Ref.IsZero() {
		req.Ref = req.At
	}
	var ds []Decision
	res, err := a.step(ctx, def, i, step, req, &ds)
	if rerr := a.record(ctx, req, ds); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return StepResult{}, err
	}
	if res.Next != "" && res.Exit == "" && !res.Held && res.DeferUntil.IsZero() {
		a.countEdge(ctx, def, req, step.ID, res.Next)
		if res.NextAt, err = a.nextAt(ctx, def, req.MemberID, res.Next); err != nil {
			return StepResult{}, err
		}
	}
	return res, nil
}

func (a *Activities) step(ctx context.Context, def journey.Definition, i int, step journey.Step, req StepRequest, ds *[]Decision) (StepResult, error) {
	decide := func(kind DecisionKind, reason string, values map[string]any) {
		*ds = append(*ds, Decision{Kind: kind, Step: step.ID, At: req.At, Reason: reason, Values: values})
	}
	kind := step.Kind()
	if kind == journey.KindSend || kind == journey.KindReward {
		st, err := a.Store.GetJourney(ctx, def.Name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return StepResult{}, err
		}
		switch st.Status {
		case journey.StatusPaused:
			// Held before the send or reward, not dropped: resume runs
			// the step again.
			if err := a.Store.SetEnrollmentHeld(ctx, req.MemberID, def.Name, req.Enrollment, true); err != nil && !errors.Is(err, store.ErrNotFound) {
				return StepResult{}, err
			}
			decide(DecisionHeld, "paused", nil)
			return StepResult{Held: true}, nil
		case journey.StatusArchived:
			return StepResult{Exit: "archived"}, nil
		}
	}
	doc, err := a.memberDocument(ctx, req.MemberID)
	if err != nil {
		return StepResult{}, err
	}
	ev, err := decodeEvent(req.Event)
	if err != nil {
		return StepResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadEvent", err)
	}
	subject := engine.Subject{Member: doc, Event: ev, Now: a.now()}
	enr := enrollmentOf(doc, def.Name, req.Enrollment)
	if enr != nil && enr.Held {
		if err := a.Store.SetEnrollmentHeld(ctx, req.MemberID, def.Name, req.Enrollment, false); err != nil && !errors.Is(err, store.ErrNotFound) {
			return StepResult{}, err
		}
	}
	next := def.Next(i)

	switch kind {
	case journey.KindSend, journey.KindReward:
		if enr != nil && req.Ref.Before(enr.StartedAt.Add(-time.Minute)) {
			decide(DecisionSkipped, SkipBeforeEnrollment, map[string]any{"due": req.Ref, "enrolled": enr.StartedAt})
			return StepResult{Next: next}, nil
		}
		// The goal may have been reached without its event reaching the
		// enrollment; not before the first step (the member's entry: a
		// welcome, a gift) nor at the goal's own step.
		if g := def.Goal; g != nil && g.Check != "" && i > 0 && step.ID != g.Goto {
			reached, read, err := a.Engine.GoalCheck(def, subject)
			if err != nil {
				return StepResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("journey %s step %s: goal.check: %v", def.Name, step.ID, err), "Condition", err)
			}
			if reached {
				decide(DecisionGoalReached, "check", read)
				a.countGoal(ctx, def, req)
				if enr != nil {
					if err := a.lift().Goal(ctx, def, *enr, req.At); err != nil {
						return StepResult{}, err
					}
				}
				if g.Exit {
					return StepResult{Exit: ReasonConverted}, nil
				}
				if g.Goto != "" {
					return StepResult{Next: g.Goto, Goal: true}, nil
				}
			}
		}
		if arm := a.arm(def, req.MemberID, enr); arm.HeldOut() {
			decide(DecisionHeldOut, string(arm), nil)
			return StepResult{Next: next, HeldOut: true}, nil
		}
		return a.sendStep(ctx, def, step, req, subject, enr, ds)
	case journey.KindBranch:
		c, to, read, err := a.Engine.Branch(step, subject)
		if err != nil {
			return StepResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("journey %s step %s: %v", def.Name, step.ID, err), "Condition", err)
		}
		reason := "no case held"
		if c >= 0 {
			reason = "case " + strconv.Itoa(c)
		}
		if read == nil {
			read = map[string]any{}
		}
		read["goto"] = to
		decide(DecisionBranch, reason, read)
		return StepResult{Next: to}, nil
	case journey.KindSplit:
		p, to := engine.Split(step, req.MemberID, def.Name)
		decide(DecisionBranch, "split path "+strconv.Itoa(p), map[string]any{"goto": to, "weight": step.Split[max(p, 0)].Weight})
		return StepResult{Next: to}, nil
	case journey.KindUpdate:
		if err := a.update(ctx, def, step, req, subject, decide); err != nil {
			return StepResult{}, err
		}
		return StepResult{Next: next}, nil
	case journey.KindWebhook:
		// A webhook usually makes something happen to the member outside
		// memberflow (a text message, a gift in another system): a held-out
		// member gets none of it. Updates, by contrast, run for everybody:
		// they are the journey's own bookkeeping, which later branches read.
		if arm := a.arm(def, req.MemberID, enr); arm.HeldOut() {
			decide(DecisionHeldOut, string(arm), nil)
			return StepResult{Next: next, HeldOut: true}, nil
		}
		if err := a.webhook(ctx, def, step, req, subject, decide); err != nil {
			return StepResult{}, err
		}
		return StepResult{Next: next}, nil
	case journey.KindEnd:
		reason := ""
		if step.End != nil {
			reason = step.End.Reason
		}
		return StepResult{Next: journey.End, EndReason: reason}, nil
	}
	return StepResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s of %s is a %s step, which the workflow runs itself", step.ID, def.Name, kind), "WrongStep", nil)
}

// arm is the enrollment's arm as recorded when the member entered; one
// recorded before holdouts existed runs as treated. Without the
// enrollment at hand (a caller that runs steps without recording one) it
// is decided again, from the same stable hashes.
func (a *Activities) arm(def journey.Definition, memberID string, enr *loyalty.Enrollment) loyalty.Arm {
	if enr != nil {
		if enr.Arm == "" {
			return loyalty.ArmTreated
		}
		return enr.Arm
	}
	return a.Engine.Arm(def, memberID)
}

// ReasonConverted is the exit reason of an enrollment that reached its
// goal with exit: true.
const ReasonConverted = "converted"

// sendStep grants the step's reward, then sends its email; enr is the
// enrollment as read (nil: none recorded), whose lift counts the points.
func (a *Activities) sendStep(ctx context.Context, def journey.Definition, step journey.Step, req StepRequest, subject engine.Subject, enr *loyalty.Enrollment, ds *[]Decision) (StepResult, error) {
	decide := func(kind DecisionKind, reason string, values map[string]any) {
		*ds = append(*ds, Decision{Kind: kind, Step: step.ID, At: req.At, Reason: reason, Values: values})
	}
	key := engine.Key(req.MemberID, def.Name, req.Enrollment, step.ID, req.Ref.UTC().Year())
	res := StepResult{Next: def.Next(def.Index(step.ID))}
	var reward *RewardResult
	if step.Reward != nil {
		r, err := a.grant(ctx, key, req, def.Name+" "+step.ID, *step.Reward, subject)
		if err != nil {
			return StepResult{}, err
		}
		if r.Points > 0 && enr != nil {
			// Coupons and boosts cost when they are used (counted by
			// dispatch with the order); points when they are given.
			if err := a.lift().Points(ctx, def, *enr, key, r.Points, req.At); err != nil {
				return StepResult{}, err
			}
		}
		reward = &r
		res.Reward = &r
		switch {
		case r.Pending:
			// The gift is not due yet where the ledger dates it; a later
			// attempt finds it.
			return StepResult{DeferUntil: r.PendingUntil}, nil
		case r.Refused != "":
			decide(DecisionRewardRefused, r.Refused, nil)
		default:
			values := map[string]any{}
			if r.Coupon != nil {
				values["coupon"] = r.Coupon.Kind
			}
			if r.Boost != nil {
				values["boost"] = r.Boost.Multiplier.String()
			}
			if r.Points > 0 {
				values["points"] = r.Points
			}
			decide(DecisionRewardGranted, "", values)
		}
	}
	if step.Send == nil {
		return res, nil
	}
	vars, read, err := a.Engine.Vars(step.Send, subject)
	if err != nil {
		return StepResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("journey %s step %s: %v", def.Name, step.ID, err), "Vars", err)
	}
	sreq := SendEmailRequest{
		MemberID: req.MemberID, Journey: def.Name, Enrollment: req.Enrollment, Step: step.ID, Template: step.Send.Email,
		Year: req.Ref.UTC().Year(), Vars: vars, Priority: max(def.Priority, 1), GoalReached: req.GoalReached,
	}
	if step.Expires > 0 {
		sreq.Deadline = req.Ref.Add(step.Expires.D())
	}
	if reward != nil {
		if reward.Coupon != nil || reward.Boost != nil {
			sreq.Reward = reward
		}
		if reward.Points > 0 {
			sreq.Vars = withVar(sreq.Vars, "points", strconv.FormatInt(reward.Points, 10))
		}
		sreq.RewardRefused = reward.Refused
	}
	out, err := a.SendEmail(ctx, sreq)
	if err != nil {
		return StepResult{}, err
	}
	res.Send = &out
	switch {
	case out.Deferred():
		*ds = append(*ds, Decision{Kind: DecisionDeferred, Step: step.ID, At: req.At, Reason: out.Reason, Values: read, Until: out.DeferUntil})
		res.DeferUntil = out.DeferUntil
		res.Next = ""
	case out.Status == store.SendSent:
		decide(DecisionSent, "", read)
	default:
		decide(DecisionSkipped, out.Reason, read)
	}
	return res, nil
}

func withVar(vars map[string]string, k, v string) map[string]string {
	out := maps.Clone(vars)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

// enrollmentOf is the member's enrollment n in the journey, if the
// document holds it.
func enrollmentOf(doc loyalty.MemberDocument, name string, n int) *loyalty.Enrollment {
	i := slices.IndexFunc(doc.Enrollments, func(e loyalty.Enrollment) bool { return e.Journey == name && e.Number == n })
	if i < 0 {
		return nil
	}
	return &doc.Enrollments[i]
}

// grant gives a step's reward under the step's key: a coupon, points, a
// boost, or the programme's birthday gift.
func (a *Activities) grant(ctx context.Context, key string, req StepRequest, why string, r journey.Reward, subject engine.Subject) (RewardResult, error) {
	res := RewardResult{Key: key}
	p := a.Ledger.Rules.Program
	couponName := func(kind string) string {
		if k, ok := p.Coupon(kind); ok {
			return k.Name
		}
		return ""
	}
	switch {
	case r.BirthdayGift:
		year := req.Ref.In(a.Engine.Location(subject.Member.Member)).Year()
		c, ok, err := a.Ledger.BirthdayGift(ctx, req.MemberID, year)
		if err != nil {
			return RewardResult{}, err
		}
		if !ok {
			// The ledger dates the gift in the programme's zone: a step
			// whose local time comes before the birthday began there
			// finds it later.
			if day, dated := p.BirthdayIn(subject.Member.Birthday, year); dated && a.now().Before(day) {
				return RewardResult{Key: key, Pending: true, PendingUntil: day.Add(time.Minute)}, nil
			}
			res.Refused = "no birthday gift this year (refused by the programme, or the birthday changed shortly before it)"
			return res, nil
		}
		res.Coupon, res.CouponName = &c, couponName(c.Kind)
	case r.Coupon != "":
		c, err := a.Ledger.IssueCoupon(ctx, req.MemberID, key, r.Coupon, why)
		switch {
		case errors.Is(err, ledger.ErrCouponRefused):
			res.Refused = err.Error()
		case err != nil:
			return RewardResult{}, fmt.Errorf("reward %s: %w", key, err)
		default:
			res.Coupon, res.CouponName = &c, couponName(c.Kind)
		}
	}
	if r.Points > 0 {
		_, err := a.Ledger.Adjust(ctx, subject.Member.Member, loyalty.Adjustment{
			Key: key + "#points", Operator: "journey", Actor: "journey " + req.Journey, Reason: why, Points: int64(r.Points),
		})
		if err != nil && loyalty.ErrorCode(err) != loyalty.EConflict {
			return RewardResult{}, fmt.Errorf("reward %s points: %w", key, err)
		}
		res.Points = int64(r.Points)
	}
	if b := r.Boost; b != nil {
		got, err := a.Ledger.GrantBoost(ctx, req.MemberID, key, b.Multiplier, b.Days, why)
		if err != nil {
			return RewardResult{}, fmt.Errorf("reward %s boost: %w", key, err)
		}
		res.Boost = &got
	}
	return res, nil
}

// lift is the journeys' lift counter over the activities' store and
// engine.
func (a *Activities) lift() journeys.Lift { return journeys.Lift{Store: a.Store, Engine: a.Engine} }

// countEdge counts a member's move from one step to the next once.
func (a *Activities) countEdge(ctx context.Context, def journey.Definition, req StepRequest, from, to string) {
	key := engine.Key(req.MemberID, def.Name, req.Enrollment, from, req.Ref.UTC().Year()) + "#edge"
	if err := a.Store.CountJourney(ctx, def.Name, req.MemberID, key, map[string]int64{store.CountEdge(from, to): 1}); err != nil {
		a.log().WarnContext(ctx, "journey edge not counted", "journey", def.Name, "from", from, "to", to, "err", err)
	}
}

// countGoal counts an enrollment's goal once.
func (a *Activities) countGoal(ctx context.Context, def journey.Definition, req StepRequest) {
	key := fmt.Sprintf("%s#%s#%d#goal", req.MemberID, def.Name, req.Enrollment)
	if err := a.Store.CountJourney(ctx, def.Name, req.MemberID, key, map[string]int64{store.CountGoal: 1}); err != nil {
		a.log().WarnContext(ctx, "journey goal not counted", "journey", def.Name, "err", err)
	}
}

// nextAt resolves, while the executor has the member at hand, the moment
// the next step waits until when it is a delay or a wait on a time of day
// or a member date: the workflow then needs no activity for it.
func (a *Activities) nextAt(ctx context.Context, def journey.Definition, memberID, next string) (time.Time, error) {
	s, ok := def.Step(next)
	if !ok {
		return time.Time{}, nil
	}
	var until string
	var date *journey.DateRule
	switch {
	case s.Delay != nil && (s.Delay.Until != "" || s.Delay.UntilDate != nil):
		until, date = s.Delay.Until, s.Delay.UntilDate
	case s.Wait != nil && s.Wait.UntilDate != nil:
		date = s.Wait.UntilDate
	default:
		return time.Time{}, nil
	}
	doc, err := a.memberDocument(ctx, memberID)
	if err != nil {
		return time.Time{}, err
	}
	return a.resolve(doc, until, date), nil
}
