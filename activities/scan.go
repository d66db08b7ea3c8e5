package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// ScanRequest asks for one batch of a calendar journey's scan: the index
// partitions the scan workflow planned for this run, read page by page
// from Cursor, acting on every member whose step falls in the window
// (At − CatchUp, At].
type ScanRequest struct {
	Definition journey.Definition `json:"definition"`
	At         time.Time          `json:"at"`
	CatchUp    time.Duration      `json:"catch_up"`
	// Partitions are index partitions: "MMDD" birthdays for birthday,
	// UTC days (YYYY-MM-DD) of the tier review for tier_expiry and of the
	// last order for winback.
	// They may include those of retired definitions (see
	// workflows.CalendarScanInput): a member found there with no open
	// enrollment is simply not due by the current definition.
	Partitions []string   `json:"partitions"`
	Cursor     ScanCursor `json:"cursor"`
	PageSize   int        `json:"page_size"`
	// MaxMembers ends the batch after about this many members, so the
	// workflow's history grows by one activity per batch, not per page.
	MaxMembers int `json:"max_members"`
}

// ScanCursor is where a scan is: the partition and the last member done.
type ScanCursor struct {
	Partition int    `json:"partition"`
	After     string `json:"after"`
}

// ScanResult reports one batch.
type ScanResult struct {
	Cursor  ScanCursor     `json:"cursor"`
	Done    bool           `json:"done"`
	Scanned int            `json:"scanned"`
	Counts  map[string]int `json:"counts"`
}

// ScanCalendar runs one batch of a calendar journey (birthday, tier
// expiry, win-back). Every member's step is keyed
// member#journey#enrollment#step#year, so a member met again — in the
// next hourly run's catch-up window, after a retry, after a restart — gets
// nothing twice. It heartbeats after every page; a retry resumes there.
func (a *Activities) ScanCalendar(ctx context.Context, req ScanRequest) (ScanResult, error) {
	if a.Ledger == nil {
		return ScanResult{}, errors.New("scan: no ledger configured")
	}
	if req.PageSize < 1 {
		req.PageSize = 100
	}
	if req.MaxMembers < req.PageSize {
		req.MaxMembers = 10 * req.PageSize
	}
	res := ScanResult{Cursor: req.Cursor, Counts: map[string]int{}}
	if activity.HasHeartbeatDetails(ctx) {
		var hb ScanResult
		if err := activity.GetHeartbeatDetails(ctx, &hb); err == nil && hb.Counts != nil {
			res = hb
		}
	}
	act, ok := map[string]func(context.Context, ScanRequest, string, string, map[string]int) ([]string, error){
		journey.Birthday:   a.scanBirthdays,
		journey.TierExpiry: a.scanReviews,
		journey.Winback:    a.scanLapsed,
	}[req.Definition.Name]
	if !ok {
		return res, fmt.Errorf("scan: %q is not a calendar journey", req.Definition.Name)
	}
	for res.Cursor.Partition < len(req.Partitions) && res.Scanned < req.MaxMembers {
		part := req.Partitions[res.Cursor.Partition]
		ids, err := act(ctx, req, part, res.Cursor.After, res.Counts)
		if err != nil {
			return res, retryAsAsked(fmt.Errorf("scan %s %s: %w", req.Definition.Name, part, err))
		}
		res.Scanned += len(ids)
		if len(ids) < req.PageSize {
			res.Cursor = ScanCursor{Partition: res.Cursor.Partition + 1}
		} else {
			res.Cursor.After = ids[len(ids)-1]
		}
		activity.RecordHeartbeat(ctx, res)
	}
	res.Done = res.Cursor.Partition >= len(req.Partitions)
	a.log().InfoContext(ctx, "calendar scan batch", "journey", req.Definition.Name, "scanned", res.Scanned, "done", res.Done, "counts", res.Counts)
	return res, nil
}

// retryAsAsked keeps the retry delay a member's step asked for (a send
// waiting for the provider's feedback on an earlier attempt, a 429's
// Retry-After) on the batch's error: Temporal reads only the outermost
// error, so wrapped, the batch would retry on its blind backoff instead,
// re-reading every member before the waiting one at each attempt. The
// batch stays retryable whatever the member's error: one member must not
// stop the scan for everybody.
func retryAsAsked(err error) error {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.NextRetryDelay() <= 0 {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), app.Type(), temporal.ApplicationErrorOptions{
		NextRetryDelay: app.NextRetryDelay(), Cause: app,
	})
}

// due reports whether a step at t falls in the request's window.
func (req ScanRequest) due(t time.Time) bool {
	return t.After(req.At.Add(-req.CatchUp)) && !t.After(req.At)
}

// ---- birthday ----

func (a *Activities) scanBirthdays(ctx context.Context, req ScanRequest, mmdd, after string, counts map[string]int) ([]string, error) {
	ms, err := a.Store.MembersByBirthday(ctx, mmdd, after, req.PageSize)
	return actOnPage(ms, err, func(m loyalty.Member) string { return m.ID }, func(m loyalty.Member) error {
		return a.perMember(ctx, counts, m.ID, a.birthday(ctx, req, m, counts))
	})
}

// perMember lets the scan go on past a member whose step failed for good
// (a template that cannot render for them, a profile gone): counted as
// "failed" and logged, it must not hold up everyone after them in the
// partition. Other errors fail the batch, which retries from its cursor,
// until its memberAttempts-th attempt, from which they are counted too.
func (a *Activities) perMember(ctx context.Context, counts map[string]int, memberID string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The activity is ending (its worker stops, it was cancelled):
		// the member did not fail, the attempt did; its retry acts on them.
		return err
	}
	var app *temporal.ApplicationError
	// A member whose error keeps coming back is given up on too once the
	// batch has retried a few times: the members after them must not wait
	// out the whole catch-up window. The next hourly run tries them again.
	persistent := activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt >= memberAttempts
	if errors.As(err, &app) && app.NonRetryable() || persistent {
		counts["failed"]++
		a.log().ErrorContext(ctx, "calendar step failed for a member; the scan goes on", "member", memberID, "err", err)
		return nil
	}
	return err
}

// memberAttempts is the batch attempt from which a member's retryable
// error no longer fails the batch.
const memberAttempts = 3

// actOnPage acts on every item of a page read from an index and returns
// the member ids it covered, in order.
func actOnPage[T any](page []T, err error, id func(T) string, act func(T) error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(page))
	for _, it := range page {
		ids = append(ids, id(it))
		if err := act(it); err != nil {
			return nil, fmt.Errorf("member %s: %w", id(it), err)
		}
	}
	return ids, nil
}

// birthday gives the member this year's birthday step when it is due: the
// programme's birthday coupon (the ledger's gift, keyed by member and
// year) and the email naming the tier's birthday-month multiplier.
func (a *Activities) birthday(ctx context.Context, req ScanRequest, m loyalty.Member, counts map[string]int) error {
	step := req.Definition.Steps[0]
	loc := a.location(m)
	hour, minute := stepClock(step)
	p := a.Ledger.Rules.Program
	var at time.Time
	year := 0
	// The window may span New Year: try this year's birthday and last.
	for _, y := range []int{req.At.In(loc).Year(), req.At.In(loc).Year() - 1} {
		day, ok := p.BirthdayIn(m.Birthday, y)
		if !ok {
			return nil
		}
		t := time.Date(y, day.Month(), day.Day(), hour, minute, 0, 0, loc)
		if req.due(t) {
			at, year = t, y
			break
		}
	}
	if year == 0 {
		counts["not_due"]++
		return nil
	}
	enr, fresh, err := a.enroll(ctx, m.ID, journey.Birthday, year, req.Definition)
	if err != nil {
		return err
	}
	if !fresh && enr.Status.Final() {
		counts["done_before"]++
		return nil
	}
	def, err := pinned(enr, req.Definition)
	if err != nil {
		return err
	}
	step = def.Steps[0]
	if step.Reward == nil || step.Reward.Coupon == "" {
		return a.endCalendar(ctx, enr, loyalty.EnrollmentCompleted, "no_reward")
	}
	coupon, ok, err := a.Ledger.BirthdayGift(ctx, m.ID, year)
	if err != nil {
		return err
	}
	if day, dated := p.BirthdayIn(m.Birthday, year); !ok && dated && a.now().Before(day) {
		// The step's local time came before the birthday began in the
		// programme's time zone, where the ledger dates the gift (an early
		// local_time east of it): a later run of the window finds it.
		counts["gift_pending"]++
		return nil
	}
	if !ok {
		counts["no_gift"]++
		return a.endCalendar(ctx, enr, loyalty.EnrollmentCompleted, "no_gift")
	}
	counts["rewarded"]++
	if step.Email != "" {
		view, err := a.Ledger.View(ctx, m)
		if err != nil {
			return err
		}
		tier, _ := p.Tier(view.Tier)
		name := ""
		if k, ok := p.Coupon(coupon.Kind); ok {
			name = k.Name
		}
		vars, dates := RewardResult{Coupon: &coupon, CouponName: name}.Vars()
		vars["tier_name"] = tier.Name
		vars["birthday_multiplier"] = tier.BirthdayMultiplier.String()
		if err := a.sendFromScan(ctx, SendEmailRequest{
			MemberID: m.ID, Journey: journey.Birthday, Enrollment: year, Step: step.Name, Year: year,
			Template: step.Email, Vars: vars, Dates: dates, Deadline: StepDeadline(step, at, time.Time{}),
		}, counts); err != nil {
			return err
		}
	}
	return a.endCalendar(ctx, enr, loyalty.EnrollmentCompleted, "gift_given")
}

// ---- tier expiry ----

func (a *Activities) scanReviews(ctx context.Context, req ScanRequest, day, after string, counts map[string]int) ([]string, error) {
	accs, err := a.Store.AccountsByReviewDay(ctx, day, after, req.PageSize)
	return actOnPage(accs, err, func(acc loyalty.Account) string { return acc.MemberID }, func(acc loyalty.Account) error {
		return a.perMember(ctx, counts, acc.MemberID, a.tierWarning(ctx, req, acc, counts))
	})
}

// tierWarning warns a member whose review would demote them, on the step
// due now; a member who is safe, or held by a paid membership, gets no
// warning and their open enrollment ends.
func (a *Activities) tierWarning(ctx context.Context, req ScanRequest, acc loyalty.Account, counts map[string]int) error {
	m, err := a.Store.GetMember(ctx, acc.MemberID)
	if errors.Is(err, store.ErrNotFound) {
		counts["no_profile"]++
		return nil
	}
	if err != nil {
		return err
	}
	loc := a.location(m)
	number := enrollmentNumber(acc.ReviewAt)
	// An open enrollment runs on its pinned definition, timing included.
	def, open, err := a.calendarDefinition(ctx, m.ID, journey.TierExpiry, number, req.Definition)
	if err != nil {
		return err
	}
	step, at, ok := dueStep(req, def, func(s journey.Step) time.Time {
		h, mi := stepClock(s)
		return localClock(acc.ReviewAt, loc, h, mi, -int(s.Before.D()/(24*time.Hour)))
	})
	if !ok {
		counts["not_due"]++
		return nil
	}
	if open != nil && open.Status.Final() {
		counts["done_before"]++
		return nil
	}
	out, err := a.Ledger.Outlook(ctx, m.ID)
	if err != nil {
		return err
	}
	if !out.Demote || !out.ReviewAt.Equal(acc.ReviewAt) {
		// Safe (or the review moved): stop any warnings of this review.
		counts["safe"]++
		enr, err := a.Store.GetEnrollment(ctx, m.ID, journey.TierExpiry, number)
		if err == nil && !enr.Status.Final() {
			return a.endCalendar(ctx, enr, loyalty.EnrollmentExited, "qualified")
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	}
	if open == nil {
		// A new review's warnings begin: one left open by a review that
		// has since moved (an upgrade, a refund) is over.
		stale, err := a.openEnrollment(ctx, m.ID, journey.TierExpiry)
		if err != nil {
			return err
		}
		if stale != nil && stale.Number != number {
			if err := a.endCalendar(ctx, *stale, loyalty.EnrollmentExited, "review_moved"); err != nil {
				return err
			}
		}
	}
	enr, fresh, err := a.enroll(ctx, m.ID, journey.TierExpiry, number, req.Definition)
	if err != nil {
		return err
	}
	if !fresh && enr.Status.Final() {
		counts["done_before"]++
		return nil
	}
	if def, err = pinned(enr, req.Definition); err != nil {
		return err
	}
	if step, ok = def.Step(step.Name); !ok {
		counts["step_not_pinned"]++
		return nil
	}
	p := a.Ledger.Rules.Program
	cur, _ := p.Tier(out.Tier)
	fall, _ := p.Tier(out.FallTo)
	if err := a.sendFromScan(ctx, SendEmailRequest{
		MemberID: m.ID, Journey: journey.TierExpiry, Enrollment: number, Step: step.Name, Year: at.Year(),
		Template: step.Email,
		Vars: map[string]string{
			"tier_name": cur.Name, "fall_to_tier_name": fall.Name,
			"growth_needed": out.GrowthNeeded.String(),
		},
		DaysUntil: map[string]time.Time{"days_left": out.ReviewAt},
		// The review day itself, not the instant it starts.
		Dates:    map[string]time.Time{"review_on": out.ReviewAt},
		Deadline: StepDeadline(step, at, out.ReviewAt),
	}, counts); err != nil {
		return err
	}
	if step.Name == def.Steps[len(def.Steps)-1].Name {
		return a.endCalendar(ctx, enr, loyalty.EnrollmentCompleted, "warned")
	}
	return nil
}

// ---- win-back ----

func (a *Activities) scanLapsed(ctx context.Context, req ScanRequest, day, after string, counts map[string]int) ([]string, error) {
	ms, err := a.Store.MembersByLastOrderDay(ctx, day, after, req.PageSize)
	return actOnPage(ms, err, func(m loyalty.Member) string { return m.ID }, func(m loyalty.Member) error {
		return a.perMember(ctx, counts, m.ID, a.winback(ctx, req, m, counts))
	})
}

// winback runs the win-back step due for a member whose last order was on
// the partition's day. The enrollment is named by that day, so a member
// who orders and lapses again enrols anew — but never while an earlier
// win-back enrollment is open.
func (a *Activities) winback(ctx context.Context, req ScanRequest, m loyalty.Member, counts map[string]int) error {
	if m.LastOrderAt.IsZero() {
		return nil
	}
	loc := a.location(m)
	number := enrollmentNumber(m.LastOrderAt)
	// An open enrollment runs on its pinned definition, timing included.
	def, existing, err := a.calendarDefinition(ctx, m.ID, journey.Winback, number, req.Definition)
	if err != nil {
		return err
	}
	step, at, ok := dueStep(req, def, func(s journey.Step) time.Time {
		h, mi := stepClock(s)
		return localClock(m.LastOrderAt, loc, h, mi, int(s.After.D()/(24*time.Hour)))
	})
	if !ok {
		counts["not_due"]++
		return nil
	}
	var enr loyalty.Enrollment
	switch {
	case existing == nil:
		open, err := a.openEnrollment(ctx, m.ID, journey.Winback)
		if err != nil {
			return err
		}
		if open != nil {
			// The member ordered since it opened (it is not for this last
			// order), and dispatch's exit was missed: close it now.
			if err := a.endCalendar(ctx, *open, loyalty.EnrollmentExited, "ordered"); err != nil {
				return err
			}
		}
		if enr, _, err = a.enroll(ctx, m.ID, journey.Winback, number, req.Definition); err != nil {
			return err
		}
		counts["entered"]++
	default:
		enr = *existing
	}
	if enr.Status.Final() {
		counts["done_before"]++
		return nil
	}
	key := SendKey(m.ID, journey.Winback, number, step.Name, at.Year())
	var vars map[string]string
	var dates map[string]time.Time
	refused := ""
	if step.Reward != nil {
		rw, err := a.reward(ctx, key, m.ID, journey.Winback+" "+step.Name, *step.Reward)
		if err != nil {
			return err
		}
		counts["rewarded"]++
		vars, dates = rw.Vars()
		refused = rw.Refused
	}
	if step.Email != "" {
		if err := a.sendFromScan(ctx, SendEmailRequest{
			MemberID: m.ID, Journey: journey.Winback, Enrollment: number, Step: step.Name, Year: at.Year(),
			Template: step.Email, Vars: vars, Dates: dates, Deadline: StepDeadline(step, at, time.Time{}),
			RewardRefused: refused,
		}, counts); err != nil {
			return err
		}
	}
	if step.Name == def.Steps[len(def.Steps)-1].Name {
		return a.endCalendar(ctx, enr, loyalty.EnrollmentCompleted, "last_message")
	}
	return nil
}

// ---- shared ----

// dueStep finds the timed step of def whose time (from at) falls in the
// request's window; the latest such step when several do (after an
// outage, the member gets the step that matters now, not a burst).
func dueStep(req ScanRequest, def journey.Definition, at func(journey.Step) time.Time) (journey.Step, time.Time, bool) {
	var found journey.Step
	var when time.Time
	ok := false
	for _, s := range def.Steps {
		if s.On != "" {
			continue
		}
		if t := at(s); req.due(t) {
			found, when, ok = s, t, true
		}
	}
	return found, when, ok
}

// enroll starts the member's calendar enrollment with the definition
// pinned, or returns the one that exists; fresh reports whether this call
// created it.
func (a *Activities) enroll(ctx context.Context, memberID, name string, number int, def journey.Definition) (loyalty.Enrollment, bool, error) {
	if enr, err := a.Store.GetEnrollment(ctx, memberID, name, number); err == nil {
		return enr, false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return loyalty.Enrollment{}, false, err
	}
	enr, created, err := a.Store.StartEnrollment(ctx, loyalty.Enrollment{
		MemberID: memberID, Journey: name, Number: number, Status: loyalty.EnrollmentActive,
		StartedAt: a.now(), Definition: def.JSON(),
	})
	if err != nil {
		return loyalty.Enrollment{}, false, fmt.Errorf("start %s enrollment %d: %w", name, number, err)
	}
	return enr, created, nil
}

// openEnrollment returns the member's active enrollment in the journey,
// if any.
func (a *Activities) openEnrollment(ctx context.Context, memberID, name string) (*loyalty.Enrollment, error) {
	enrs, err := a.Store.ListEnrollments(ctx, memberID)
	if err != nil {
		return nil, err
	}
	for _, e := range enrs {
		if e.Journey == name && e.Status == loyalty.EnrollmentActive {
			return &e, nil
		}
	}
	return nil, nil
}

func (a *Activities) endCalendar(ctx context.Context, e loyalty.Enrollment, status loyalty.EnrollmentStatus, reason string) error {
	if err := a.Store.EndEnrollment(ctx, e.MemberID, e.Journey, e.Number, status, reason, a.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("end %s enrollment %d: %w", e.Journey, e.Number, err)
	}
	return nil
}

// calendarDefinition is the definition a member's calendar step runs on:
// the one pinned in their enrollment when it exists (returned too), else
// the current one.
func (a *Activities) calendarDefinition(ctx context.Context, memberID, name string, number int, current journey.Definition) (journey.Definition, *loyalty.Enrollment, error) {
	enr, err := a.Store.GetEnrollment(ctx, memberID, name, number)
	if errors.Is(err, store.ErrNotFound) {
		return current, nil, nil
	}
	if err != nil {
		return journey.Definition{}, nil, err
	}
	def, err := pinned(enr, current)
	return def, &enr, err
}

// pinned is the definition pinned in the enrollment, or current when the
// enrollment predates pinning.
func pinned(e loyalty.Enrollment, current journey.Definition) (journey.Definition, error) {
	if e.Definition == "" {
		return current, nil
	}
	return journey.Parse(e.Definition)
}

func deferredOptions(key, taskQueue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       DeferredSendWorkflowID(key),
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}
}

func isAlreadyStarted(err error) bool {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &started)
}
