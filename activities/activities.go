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
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"

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
	Log           *slog.Logger
	Now           func() time.Time // nil means time.Now
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

// SendKey is the idempotency key of one email send.
func SendKey(memberID, journey string, enrollment int, step string) string {
	return memberID + "#" + journey + "#" + strconv.Itoa(enrollment) + "#" + step
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
}

// SendEmailResult says what became of a send request.
type SendEmailResult struct {
	Key       string           `json:"key"`
	Status    store.SendStatus `json:"status"`
	MessageID string           `json:"message_id,omitempty"`
	Reason    string           `json:"reason,omitempty"`
}

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
)

// SendEmail sends the step's email at most once per idempotency key. The
// ledger row is reserved before calling the provider and completed after;
// a row already sent or skipped is returned as it is. A member without
// email-marketing consent gets no email: the row records why.
func (a *Activities) SendEmail(ctx context.Context, req SendEmailRequest) (SendEmailResult, error) {
	key := SendKey(req.MemberID, req.Journey, req.Enrollment, req.Step)
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

	m, err := a.Store.GetMember(ctx, req.MemberID)
	if errors.Is(err, store.ErrNotFound) {
		return SendEmailResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("send %s: member %s has no profile", key, req.MemberID), ErrTypeMemberNotFound, err)
	}
	if err != nil {
		return SendEmailResult{}, fmt.Errorf("send %s: read member: %w", key, err)
	}
	group := req.Journey
	if a.Templates != nil {
		if group, err = a.Templates.Group(req.Template); err != nil {
			return a.sendFailed(ctx, req.MemberID, key, err)
		}
	}
	switch {
	case req.SkipIfOrdered && m.OrderCount > 0:
		return a.skip(ctx, req.MemberID, key, SkipGoalReached)
	case !m.Consent.EmailMarketing:
		return a.skip(ctx, req.MemberID, key, SkipNoConsent)
	case !m.Consent.MayEmail(group):
		return a.skip(ctx, req.MemberID, key, SkipUnsubscribed)
	case m.Email == "":
		return a.skip(ctx, req.MemberID, key, SkipNoAddress)
	}
	switch _, err := a.Store.GetSuppression(ctx, m.ID); {
	case err == nil:
		return a.skip(ctx, req.MemberID, key, SkipSuppressed)
	case !errors.Is(err, store.ErrNotFound):
		return SendEmailResult{}, fmt.Errorf("send %s: read suppression: %w", key, err)
	}

	unsubURL := ""
	if a.Links != nil {
		unsubURL = a.Links.URL(a.PublicURL, unsubscribe.Claims{MemberID: m.ID, Group: group, Expires: a.now().Add(unsubscribe.DefaultTTL)})
	}
	data := TemplateData(m, a.Brand, unsubURL)
	if a.Templates != nil {
		if _, err := a.Templates.Render(req.Template, data); err != nil {
			return a.sendFailed(ctx, req.MemberID, key, err)
		}
	}
	if err := a.Store.MarkSendAttempt(ctx, req.MemberID, key, a.now()); err != nil {
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
		},
		IdempotencyKey: key,
	})
	if err != nil {
		var pe *mail.ProviderError
		if errors.As(err, &pe) {
			// SendGrid answered and did not take the message: a retry need
			// not wait for feedback about it.
			if cerr := a.Store.MarkSendAttempt(ctx, req.MemberID, key, time.Time{}); cerr != nil {
				return SendEmailResult{}, fmt.Errorf("send %s: clear the attempt: %w", key, cerr)
			}
		}
		return a.sendFailed(ctx, req.MemberID, key, err)
	}
	if err := a.Store.CompleteSend(ctx, req.MemberID, key, store.SendSent, res.MessageID, "", a.now()); err != nil {
		// The provider has the email; failing here would make a retry send
		// it again, so return success and leave the row for reconciliation.
		a.log().ErrorContext(ctx, "email sent but ledger not updated", "key", key, "message_id", res.MessageID, "err", err)
	}
	a.log().InfoContext(ctx, "email sent", "member", req.MemberID, "journey", req.Journey, "step", req.Step, "message_id", res.MessageID)
	return SendEmailResult{Key: key, Status: store.SendSent, MessageID: res.MessageID}, nil
}

func (a *Activities) skip(ctx context.Context, memberID, key, reason string) (SendEmailResult, error) {
	if err := a.Store.CompleteSend(ctx, memberID, key, store.SendSkipped, "", reason, a.now()); err != nil {
		return SendEmailResult{}, fmt.Errorf("skip send %s: %w", key, err)
	}
	a.log().InfoContext(ctx, "email skipped", "member", memberID, "key", key, "reason", reason)
	return SendEmailResult{Key: key, Status: store.SendSkipped, Reason: reason}, nil
}

// sendFailed classifies a send failure with mail's own rules: a broken
// template fails the step (every member would hit it); other permanent
// failures (an unusable address, a 4xx rejection) are recorded for this
// member and the journey goes on; 429 retries after the provider's
// Retry-After; everything else retries on the workflow's policy.
func (a *Activities) sendFailed(ctx context.Context, memberID, key string, err error) (SendEmailResult, error) {
	if errors.Is(err, mail.ErrTemplate) {
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
		return a.skip(ctx, memberID, key, SkipRejected+": "+reason)
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
