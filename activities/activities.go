// Package activities holds memberflow's Temporal activities: every effect a
// journey has on the world (email, enrollment bookkeeping, later the loyalty
// ledger) as methods on Activities, which holds the ports they act through.
// Each effect carries an idempotency key derived from the business
// (member#journey#enrollment#step), so activity retries change nothing.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	journeyv1 "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/unsubscribe"
)

// Mailer sends one templated email; *mail.Sender is the implementation.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) (mail.SendResult, error)
}

// Brand is the programme-wide data every email template may use.
type Brand struct {
	Name    string // shown in subjects and footers
	ShopURL string // where calls to action point
}

// Activities holds the dependencies of every activity.
type Activities struct {
	Store  store.Store
	Ledger *ledger.Service
	Mailer Mailer
	// Templates, when set, renders every email before it is sent, so a
	// missing variable fails the step instead of reaching a member as an
	// empty hole (SendGrid itself would send it blank).
	Templates *mail.Catalog
	Brand     Brand
	// Links signs the unsubscribe link every email carries (footer and
	// List-Unsubscribe header); PublicURL is the API's public base URL
	// the links point to.
	Links     *unsubscribe.Signer
	PublicURL string
	// ConfirmWindow is how long a retry waits for the provider's feedback
	// on an earlier attempt that called it but did not record the outcome,
	// before sending again (default 10 minutes).
	ConfirmWindow time.Duration
	// Contact is the contact policy every send goes through (quiet
	// hours, frequency cap, priority); nil means contact.Default().
	Contact *contact.Policy
	// Workflows starts the per-send workflow that waits out a deferral
	// for sends made by calendar scans (nil: such sends are skipped as
	// deferred, which only unit tests do).
	Workflows WorkflowStarter
	TaskQueue string // where Workflows starts them
	Log       *slog.Logger
	Now       func() time.Time // nil means time.Now

	// Engine decides journey steps (conditions, branches, dates) and
	// Journeys serves the pinned versions and the live set: the step
	// executor (RunStep and friends) needs both.
	Engine   *engine.Engine
	Journeys JourneyCatalog
	// Enroller enters the members a journey scan finds (JourneyScan):
	// entry rules, the enrollment record and, for journeys that are not
	// calendar-runnable, their interpreter workflow.
	Enroller *journeys.Enroller
	// WebhookSecret signs webhook steps' posts (Standard Webhooks); HTTP
	// posts them (nil: a client with a 15 s timeout).
	WebhookSecret WebhookSecret
	HTTP          *http.Client
	// Unpaced skips waiting for a broadcast's pace (the simulator, whose
	// clock is not the wall's; a pass's entries are decided at the
	// occurrence's moment whatever the pace).
	Unpaced bool
}

// JourneyCatalog is what the step executor needs of the journeys
// (*journeys.Service).
type JourneyCatalog interface {
	Version(ctx context.Context, name string, version int) (journey.Definition, error)
	LiveSet(ctx context.Context) ([]journeys.Live, error)
}

// priority is a send's rank among the member's waiting emails: the
// request's, or the live version's of its journey.
func (a *Activities) priority(ctx context.Context, req SendEmailRequest) int {
	if req.Priority != 0 || a.Journeys == nil {
		return req.Priority
	}
	live, err := a.Journeys.LiveSet(ctx)
	if err != nil {
		return 0
	}
	for _, l := range live {
		if l.Definition.Name == req.Journey {
			return l.Definition.Priority
		}
	}
	return 0
}

// WorkflowStarter starts a workflow with options; the Temporal client is
// the implementation.
type WorkflowStarter interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
}

func (a *Activities) policy() contact.Policy {
	if a.Contact != nil {
		return *a.Contact
	}
	return contact.Default()
}

// location is the member's time zone, or the programme's when the member
// gave none (or an unknown one).
func (a *Activities) location(m loyalty.Member) *time.Location {
	if m.Timezone != "" {
		if loc, err := loadLocation(m.Timezone); err == nil {
			return loc
		}
	}
	if a.Ledger != nil && a.Ledger.Rules.Program != nil && a.Ledger.Rules.Program.Location != nil {
		return a.Ledger.Rules.Program.Location
	}
	return time.UTC
}

// zones caches time zones by name: time.LoadLocation reads and parses the
// zone database on every call, and a calendar scan asks once per member.
var zones sync.Map // name → *time.Location

func loadLocation(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// DefaultConfirmWindow is ConfirmWindow's default: SendGrid posts
// "processed" within seconds of accepting a message.
const DefaultConfirmWindow = 10 * time.Minute

func (a *Activities) confirmWindow() time.Duration {
	if a.ConfirmWindow > 0 {
		return a.ConfirmWindow
	}
	return DefaultConfirmWindow
}

// Error types activities mark non-retryable; workflows and operators see them.
const (
	ErrTypeMemberNotFound = "MemberNotFound"
	ErrTypeBadTemplate    = "BadTemplate"
	// ErrTypeAwaitingFeedback: an earlier attempt may have reached the
	// provider; the retry waits for its feedback before sending again.
	ErrTypeAwaitingFeedback = "AwaitingProviderFeedback"
)

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Activities) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// SendKey is the idempotency key of one email send, and RewardKey of one
// reward: member#journey#enrollment#step#year. The year is the year of the
// step's scheduled time, fixed by the caller, so a retry in another year
// still finds the same key. Year 0 comes from requests recorded before
// keys had a year; they keep the key they were sent under.
func SendKey(memberID, journey string, enrollment int, step string, year int) string {
	key := memberID + "#" + journey + "#" + strconv.Itoa(enrollment) + "#" + step
	if year == 0 {
		return key
	}
	return key + "#" + strconv.Itoa(year)
}

// SendEmailRequest asks for one journey step's email.
type SendEmailRequest struct {
	MemberID   string `json:"member_id"`
	Journey    string `json:"journey"`
	Enrollment int    `json:"enrollment"`
	Step       string `json:"step"`
	Template   string `json:"template"`
	// SkipIfOrdered skips the send when the member's projection shows an
	// order: the journey's goal was reached even if the order's signal was
	// missed (stream records of different items are not ordered).
	SkipIfOrdered bool `json:"skip_if_ordered,omitempty"`
	// SkipIfPaid skips the send when the member's account holds an active
	// (converted) paid membership: a trial journey's goal reached even if
	// the conversion's signal was missed.
	SkipIfPaid bool `json:"skip_if_paid,omitempty"`
	// Year is the year of the step's scheduled time; part of the key.
	Year int `json:"year"`
	// Vars are step variables for the template (coupon code, tier …);
	// Dates are formatted as YYYY-MM-DD in the member's time zone and
	// added to them.
	Vars  map[string]string    `json:"vars,omitempty"`
	Dates map[string]time.Time `json:"dates,omitempty"`
	// Deadline is the last moment the email still makes sense: a send the
	// contact policy would defer past it is skipped. Zero: never stale.
	Deadline time.Time `json:"deadline,omitzero"`
	// DaysUntil are template variables counted when the email goes:
	// whole calendar days, in the member's time zone, from the send's day
	// to the day of the moment — a reminder the contact policy deferred
	// still says how many days are really left.
	DaysUntil map[string]time.Time `json:"days_until,omitempty"`
	// RewardRefused, when set, says the step's coupon was refused (a
	// per-member or global limit): the email, which is about the coupon,
	// is skipped as reward_refused rather than sent with holes.
	RewardRefused string `json:"reward_refused,omitempty"`
	// GoalReached skips the email at once: the enrollment reached its
	// goal while the email waited for a slot. The row is closed and the
	// slot it waited for is given back.
	GoalReached bool `json:"goal_reached,omitempty"`
	// Reward, when set, adds the reward's variables (coupon code and
	// name, validity, boost) to Vars and Dates.
	Reward *RewardResult `json:"reward,omitempty"`
	// Priority ranks the email when emails wait for the member's capped
	// slots (the journey definition's priority). Zero: the priority of the
	// journey's live version (sends of enrollments started before
	// requests carried it).
	Priority int `json:"priority,omitempty"`
}

// SendEmailResult says what became of a send request.
type SendEmailResult struct {
	Key       string           `json:"key"`
	Status    store.SendStatus `json:"status"`
	MessageID string           `json:"message_id,omitempty"`
	Reason    string           `json:"reason,omitempty"`
	// DeferUntil, when set, means the contact policy held the email back
	// (quiet hours or the frequency cap; Reason says which): the row stays
	// pending and the caller asks again at that time.
	DeferUntil time.Time `json:"defer_until,omitzero"`
}

// Deferred reports whether the send is waiting for a later slot.
func (r SendEmailResult) Deferred() bool { return !r.DeferUntil.IsZero() }

// Reasons a send is skipped rather than sent.
const (
	SkipNoConsent = "no_consent"
	// SkipUnsubscribed means the member left this email group.
	SkipUnsubscribed = "unsubscribed"
	// SkipSuppressed means the member is on the suppression list (a bounce
	// or a spam report).
	SkipSuppressed = "suppressed"
	SkipNoAddress  = "no_email_address"
	SkipRejected   = "rejected_by_provider"
	// SkipGoalReached means the member already did what the email asks.
	SkipGoalReached = "goal_reached"
	// SkipRewardRefused means the step's coupon was refused, so its
	// email has nothing to hand over.
	SkipRewardRefused = "reward_refused"
	// SkipContactPolicy means the contact policy would have delayed the
	// email past its step's deadline ("contact_policy: frequency_cap").
	SkipContactPolicy = "contact_policy"
)

// SendEmail sends the step's email at most once per idempotency key. The
// ledger row is reserved before calling the provider and completed after;
// a row already sent or skipped is returned as it is. A member without
// email-marketing consent gets no email: the row records why.
func (a *Activities) SendEmail(ctx context.Context, req SendEmailRequest) (SendEmailResult, error) {
	key := SendKey(req.MemberID, req.Journey, req.Enrollment, req.Step, req.Year)
	row, _, err := a.Store.ReserveSend(ctx, store.Send{
		Key: key, MemberID: req.MemberID, Journey: req.Journey, Enrollment: req.Enrollment,
		Step: req.Step, Template: req.Template, Status: store.SendPending,
		CreatedAt: a.now(), UpdatedAt: a.now(),
	})
	if err != nil {
		return SendEmailResult{}, fmt.Errorf("reserve send %s: %w", key, err)
	}
	if row.Status != store.SendPending {
		return SendEmailResult{Key: key, Status: row.Status, MessageID: row.MessageID, Reason: row.Reason}, nil
	}
	switch {
	case req.GoalReached && row.AttemptedAt.IsZero():
		return a.skip(ctx, row.Ref(), SkipGoalReached, nil)
	case req.RewardRefused != "":
		return a.skip(ctx, row.Ref(), SkipRewardRefused+": "+req.RewardRefused, nil)
	}
	// A pending row with an attempt means an earlier attempt called SendGrid
	// and died before recording the outcome. SendGrid has no idempotent
	// send, so check before sending again: its event webhook marks the row
	// sent when the message was processed (custom_args carry the key).
	// Until the confirm window has passed, wait for that; after it, the
	// message never reached SendGrid and is sent again.
	if !row.AttemptedAt.IsZero() {
		if wait := a.confirmWindow() - a.now().Sub(row.AttemptedAt); wait > 0 {
			return SendEmailResult{}, temporal.NewApplicationErrorWithOptions(
				fmt.Sprintf("send %s: an earlier attempt called the provider at %s; waiting for its feedback before sending again", key, row.AttemptedAt.Format(time.RFC3339)),
				ErrTypeAwaitingFeedback, temporal.ApplicationErrorOptions{NextRetryDelay: wait})
		}
		a.log().WarnContext(ctx, "no provider feedback for an earlier attempt; sending again", "key", key, "attempted_at", row.AttemptedAt)
	}

	// Everything the decisions below read about the member, in one read.
	sc, err := a.Store.SendContext(ctx, req.MemberID, req.Journey, req.Enrollment)
	if errors.Is(err, store.ErrNotFound) {
		return SendEmailResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("send %s: member %s has no profile", key, req.MemberID), ErrTypeMemberNotFound, err)
	}
	if err != nil {
		return SendEmailResult{}, fmt.Errorf("send %s: read the member's send context: %w", key, err)
	}
	m := sc.Member
	read := contactRead{state: sc.Contact, version: sc.ContactVersion}
	group := req.Journey
	if a.Templates != nil {
		if group, err = a.Templates.Group(req.Template); err != nil {
			return a.sendFailed(ctx, row.Ref(), err)
		}
	}
	exited := enrollmentExited(sc.Enrollment)
	if req.SkipIfPaid && !exited {
		if exited, err = a.paidActive(ctx, req.MemberID); err != nil {
			return SendEmailResult{}, fmt.Errorf("send %s: %w", key, err)
		}
	}
	switch {
	case req.SkipIfOrdered && m.OrderCount > 0, exited:
		return a.skip(ctx, row.Ref(), SkipGoalReached, &read)
	case !m.Consent.EmailMarketing:
		return a.skip(ctx, row.Ref(), SkipNoConsent, &read)
	case !m.Consent.MayEmail(group):
		return a.skip(ctx, row.Ref(), SkipUnsubscribed, &read)
	case m.Email == "":
		return a.skip(ctx, row.Ref(), SkipNoAddress, &read)
	}
	if sc.Suppression != nil {
		return a.skip(ctx, row.Ref(), SkipSuppressed, &read)
	}

	// The contact policy is asked only now, when the email would really
	// go: a skipped email takes no slot. A retry after an attempt finds
	// its own slot taken already (Decide is idempotent per key).
	d, err := a.decideContact(ctx, m, key, req, read)
	if err != nil {
		return SendEmailResult{}, fmt.Errorf("send %s: %w", key, err)
	}
	switch d.Verdict {
	case contact.Defer:
		a.log().InfoContext(ctx, "email deferred", "member", req.MemberID, "key", key, "reason", d.Reason, "until", d.At)
		return SendEmailResult{Key: key, Status: store.SendPending, Reason: d.Reason, DeferUntil: d.At}, nil
	case contact.Skip:
		return a.skip(ctx, row.Ref(), SkipContactPolicy+": "+d.Reason, nil)
	}

	unsubURL := ""
	if a.Links != nil {
		unsubURL = a.Links.URL(a.PublicURL, unsubscribe.Claims{MemberID: m.ID, Group: group, Expires: a.now().Add(unsubscribe.DefaultTTL)})
	}
	data := TemplateData(m, a.Brand, unsubURL)
	loc := a.location(m)
	dates := req.Dates
	if req.Reward != nil {
		vars, rd := req.Reward.Vars()
		for k, v := range vars {
			data[k] = v
		}
		dates = maps.Clone(dates)
		if dates == nil {
			dates = map[string]time.Time{}
		}
		maps.Copy(dates, rd)
	}
	a.programmeVars(req.Journey, data)
	for k, v := range req.Vars {
		data[k] = v
	}
	if req.Journey == journeyv1.Trial && dates["renews_on"].IsZero() && a.Ledger != nil {
		// A conversion whose event carried no period end: a year (the
		// programme's period) from now is when the membership renews.
		dates = maps.Clone(dates)
		if dates == nil {
			dates = map[string]time.Time{}
		}
		dates["renews_on"] = a.now().AddDate(0, a.Ledger.Rules.Program.Paid.PeriodMonths, 0)
	}
	for k, v := range dates {
		data[k] = v.In(loc).Format(time.DateOnly)
	}
	for k, v := range req.DaysUntil {
		data[k] = strconv.Itoa(daysBetween(a.now(), v, loc))
	}
	if a.Templates != nil {
		if _, err := a.Templates.Render(req.Template, data); err != nil {
			return a.sendFailed(ctx, row.Ref(), err)
		}
	}
	attempt := a.now()
	switch err := a.Store.MarkSendAttempt(ctx, req.MemberID, key, attempt, row.AttemptedAt); {
	case errors.Is(err, store.ErrConflict):
		// Another caller of this key (a deferral waking while a scan
		// meets the member again, a retried batch) claimed the attempt
		// first: it sends; this one looks again shortly.
		return SendEmailResult{}, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("send %s: another attempt is calling the provider", key),
			ErrTypeAwaitingFeedback, temporal.ApplicationErrorOptions{NextRetryDelay: 10 * time.Second})
	case err != nil:
		return SendEmailResult{}, fmt.Errorf("send %s: record the attempt: %w", key, err)
	}
	res, err := a.Mailer.Send(ctx, mail.Message{
		Group:          group,
		UnsubscribeURL: unsubURL,
		MemberID:       m.ID,
		To:             m.Email,
		ToName:         m.Name,
		Template:       req.Template,
		Data:           data,
		Categories:     []string{req.Journey, req.Journey + ":" + req.Step},
		CustomArgs: map[string]string{
			"journey":    req.Journey,
			"step":       req.Step,
			"enrollment": strconv.Itoa(req.Enrollment),
			"year":       strconv.Itoa(req.Year),
		},
		IdempotencyKey: key,
	})
	if err != nil {
		var pe *mail.ProviderError
		if errors.As(err, &pe) {
			// SendGrid answered and did not take the message: a retry need
			// not wait for feedback about it.
			if cerr := a.Store.MarkSendAttempt(ctx, req.MemberID, key, time.Time{}, attempt); cerr != nil {
				return SendEmailResult{}, fmt.Errorf("send %s: clear the attempt: %w", key, cerr)
			}
		}
		return a.sendFailed(ctx, row.Ref(), err)
	}
	if err := a.Store.CompleteSend(ctx, row.Ref(), store.SendSent, res.MessageID, "", a.now()); err != nil {
		// The provider has the email; failing here would make a retry send
		// it again, so return success and leave the row for reconciliation.
		a.log().ErrorContext(ctx, "email sent but ledger not updated", "key", key, "message_id", res.MessageID, "err", err)
	}
	a.log().InfoContext(ctx, "email sent", "member", req.MemberID, "journey", req.Journey, "step", req.Step, "message_id", res.MessageID)
	return SendEmailResult{Key: key, Status: store.SendSent, MessageID: res.MessageID}, nil
}

// paidActive reports whether the member's paid membership is active
// (converted from its trial, or renewed).
func (a *Activities) paidActive(ctx context.Context, memberID string) (bool, error) {
	acc, err := a.Store.GetAccount(ctx, memberID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read account: %w", err)
	}
	return acc.Paid != nil && acc.Paid.Status == loyalty.PaidActive, nil
}

// daysBetween counts the calendar days in loc from the day of from to the
// day of to.
func daysBetween(from, to time.Time, loc *time.Location) int {
	f, t := from.In(loc), to.In(loc)
	fd := time.Date(f.Year(), f.Month(), f.Day(), 12, 0, 0, 0, time.UTC)
	td := time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, time.UTC)
	return int(td.Sub(fd).Hours() / 24)
}

// enrollmentExited reports whether the send's enrollment (nil: none)
// left its journey on its goal (an order ended a win-back, a member
// qualified for their tier): an email still waiting out a deferral is then
// not sent. An enrollment that completed (ran its steps) keeps its last
// emails.
func enrollmentExited(e *loyalty.Enrollment) bool {
	return e != nil && e.Status == loyalty.EnrollmentExited
}

// programmeVars adds the programme's numbers a journey's emails name:
// the paid membership's price and benefits for the trial journey.
func (a *Activities) programmeVars(journeyName string, data map[string]any) {
	if a.Ledger == nil || journeyName != journeyv1.Trial {
		return
	}
	p := a.Ledger.Rules.Program
	data["currency"] = p.Currency
	data["price"] = p.Paid.Price.StringFixed(2)
	data["points_multiplier"] = p.Paid.PointsMultiplier.String()
	if t, ok := p.Tier(p.Paid.TierFloor); ok {
		data["tier_floor_name"] = t.Name
	}
}

// contactRead is a member's contact state as read, at its version.
type contactRead struct {
	state   contact.State
	version int64
}

// decideContact asks the contact policy for a slot for this email, on the
// member's contact state as read, and stores the new state, reading it
// again and retrying when another send for the same member changed it
// meanwhile.
func (a *Activities) decideContact(ctx context.Context, m loyalty.Member, key string, req SendEmailRequest, read contactRead) (contact.Decision, error) {
	pol := a.policy()
	loc := a.location(m)
	st, version := read.state, read.version
	for range 5 {
		now := a.now()
		d := pol.Decide(st, contact.Request{Key: key, Journey: req.Journey, Priority: a.priority(ctx, req), Deadline: req.Deadline}, now, loc)
		err := a.Store.PutContact(ctx, m.ID, d.State, version)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return contact.Decision{}, fmt.Errorf("write contact state: %w", err)
		}
		if st, version, err = a.Store.GetContact(ctx, m.ID); err != nil {
			return contact.Decision{}, fmt.Errorf("read contact state: %w", err)
		}
	}
	return contact.Decision{}, errors.New("contact state kept changing; will retry")
}

// skip completes the send as skipped for reason; known, when set, is the
// member's contact state the caller has just read.
func (a *Activities) skip(ctx context.Context, send store.SendRef, reason string, known *contactRead) (SendEmailResult, error) {
	// A skipped email will not ask the contact policy again: if it was
	// waiting for a capped slot, it must not hold back the emails behind
	// it; if the provider refused it after it took a slot, it was never
	// a contact.
	if err := a.releaseContact(ctx, send.MemberID, send.Key, known); err != nil {
		return SendEmailResult{}, fmt.Errorf("skip send %s: %w", send.Key, err)
	}
	if err := a.Store.CompleteSend(ctx, send, store.SendSkipped, "", reason, a.now()); err != nil {
		return SendEmailResult{}, fmt.Errorf("skip send %s: %w", send.Key, err)
	}
	a.log().InfoContext(ctx, "email skipped", "member", send.MemberID, "key", send.Key, "reason", reason)
	return SendEmailResult{Key: send.Key, Status: store.SendSkipped, Reason: reason}, nil
}

// releaseContact forgets the send's place among the member's emails
// waiting for a capped slot, if it has one. known, when set, is the state
// as the caller has just read it, which spares the first read.
func (a *Activities) releaseContact(ctx context.Context, memberID, key string, known *contactRead) error {
	for range 5 {
		var read contactRead
		if known != nil {
			read, known = *known, nil
		} else {
			var err error
			if read.state, read.version, err = a.Store.GetContact(ctx, memberID); err != nil {
				return fmt.Errorf("read contact state: %w", err)
			}
		}
		if !read.state.Holds(key) {
			return nil
		}
		err := a.Store.PutContact(ctx, memberID, read.state.Release(key), read.version)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("write contact state: %w", err)
		}
	}
	return errors.New("contact state kept changing; will retry")
}

// sendFailed classifies a send failure with mail's own rules: a broken
// template fails the step (every member would hit it); other permanent
// failures (an unusable address, a 4xx rejection) are recorded for this
// member and the journey goes on; 429 retries after the provider's
// Retry-After; everything else retries on the workflow's policy.
func (a *Activities) sendFailed(ctx context.Context, send store.SendRef, err error) (SendEmailResult, error) {
	key := send.Key
	if errors.Is(err, mail.ErrTemplate) {
		// The email will not go: its slot, if it took one, is free again.
		if rerr := a.releaseContact(ctx, send.MemberID, key, nil); rerr != nil {
			a.log().WarnContext(ctx, "could not free the contact slot of an unrenderable email", "key", key, "err", rerr)
		}
		return SendEmailResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("send %s: %v", key, err), ErrTypeBadTemplate, err)
	}
	var pe *mail.ProviderError
	isProvider := errors.As(err, &pe)
	if mail.IsPermanent(err) {
		reason := err.Error() // mail's errors never carry the address
		if isProvider {
			reason = pe.Message
		}
		return a.skip(ctx, send, SkipRejected+": "+reason, nil)
	}
	if isProvider {
		if pe.RetryAfter > 0 {
			return SendEmailResult{}, temporal.NewApplicationErrorWithOptions(
				fmt.Sprintf("send %s: %v", key, err), "ProviderThrottled",
				temporal.ApplicationErrorOptions{NextRetryDelay: pe.RetryAfter, Cause: err})
		}
	}
	return SendEmailResult{}, fmt.Errorf("send %s: %w", key, err)
}

// EndEnrollmentRequest closes one enrollment.
type EndEnrollmentRequest struct {
	MemberID string                   `json:"member_id"`
	Journey  string                   `json:"journey"`
	Number   int                      `json:"number"`
	Status   loyalty.EnrollmentStatus `json:"status"`
	Reason   string                   `json:"reason"`
}

// EndEnrollment records that an enrollment reached a final status, so the
// dispatcher stops signalling it and the member view shows the outcome.
func (a *Activities) EndEnrollment(ctx context.Context, req EndEnrollmentRequest) error {
	if !req.Status.Final() {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("end enrollment %s/%s/%d: status %q is not final", req.Journey, req.MemberID, req.Number, req.Status), "InvalidStatus", nil)
	}
	if err := a.Store.EndEnrollment(ctx, req.MemberID, req.Journey, req.Number, req.Status, req.Reason, a.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("end enrollment %s/%s/%d: %w", req.Journey, req.MemberID, req.Number, err)
	}
	return nil
}
