package activities_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/unsubscribe"
	"github.com/memberflow/memberflow/templates"
)

func withLinks(t *testing.T, a *activities.Activities, now time.Time) *unsubscribe.Signer {
	t.Helper()
	s, err := unsubscribe.NewSigner([]byte("activities-link-secret"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	a.Links, a.PublicURL, a.Templates = s, "https://api.example.com/", cat
	a.Now = func() time.Time { return now }
	return s
}

func TestSendEmailCarriesUnsubscribeLink(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	mailer := &stubMailer{}
	a, _ := setup(t, consenting(), mailer)
	s := withLinks(t, a, now)
	if _, err := a.SendEmail(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	m := mailer.last
	if m.Group != "activation" || m.UnsubscribeURL == "" || m.Data["unsubscribe_url"] != m.UnsubscribeURL {
		t.Fatalf("message = %+v", m)
	}
	tok, ok := strings.CutPrefix(m.UnsubscribeURL, "https://api.example.com/v1/unsubscribe?token=")
	if !ok {
		t.Fatalf("url = %s", m.UnsubscribeURL)
	}
	c, err := s.Verify(tok, now)
	if err != nil || c.MemberID != "m-1" || c.Group != "activation" || c.Expires.Before(now.Add(90*24*time.Hour)) {
		t.Errorf("claims = %+v, %v", c, err)
	}
}

func TestSendEmailRespectsGroupsAndSuppression(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	t.Run("left the group", func(t *testing.T) {
		m := consenting()
		m.Consent.UnsubscribedGroups = []string{"activation"}
		mailer := &stubMailer{}
		a, _ := setup(t, m, mailer)
		withLinks(t, a, now)
		res, err := a.SendEmail(context.Background(), req)
		if err != nil || res.Status != store.SendSkipped || res.Reason != activities.SkipUnsubscribed || mailer.calls != 0 {
			t.Errorf("res = %+v, %v, calls %d", res, err, mailer.calls)
		}
	})
	t.Run("suppressed", func(t *testing.T) {
		mailer := &stubMailer{}
		a, st := setup(t, consenting(), mailer)
		withLinks(t, a, now)
		if err := st.Suppress(context.Background(), store.Suppression{MemberID: "m-1", Reason: "bounce: 550", Source: "sendgrid:bounce", At: now}); err != nil {
			t.Fatal(err)
		}
		res, err := a.SendEmail(context.Background(), req)
		if err != nil || res.Status != store.SendSkipped || res.Reason != activities.SkipSuppressed || mailer.calls != 0 {
			t.Errorf("res = %+v, %v, calls %d", res, err, mailer.calls)
		}
		stats, _ := st.JourneyStats(context.Background(), "activation")
		if len(stats) != 1 || stats[0].Counts["skipped:suppressed"] != 1 {
			t.Errorf("stats = %+v", stats)
		}
	})
}

// An attempt that died after calling SendGrid: the retry waits for the
// event webhook instead of sending again, then sends if none came.
func TestSendEmailChecksBeforeSendingAgain(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	mailer := &stubMailer{}
	a, st := setup(t, consenting(), mailer)
	withLinks(t, a, now)
	key := "m-1#activation#1#welcome#2026"
	if _, _, err := st.ReserveSend(context.Background(), store.Send{Key: key, MemberID: "m-1", Journey: "activation", Enrollment: 1, Step: "welcome", Template: "activation_welcome", Status: store.SendPending, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkSendAttempt(context.Background(), "m-1", key, now.Add(-time.Minute), time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, err := a.SendEmail(context.Background(), req)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeAwaitingFeedback || appErr.NextRetryDelay() != 9*time.Minute || mailer.calls != 0 {
		t.Fatalf("err = %v, calls %d", err, mailer.calls)
	}

	// The webhook reports the message processed: the retry finds it sent.
	if err := st.RecordSendEvent(context.Background(), store.SendEvent{ID: "sg-ev-1", MemberID: "m-1", SendKey: key, Journey: "activation", Step: "welcome", Enrollment: 1, Type: store.EventProcessed, At: now, MessageID: "sg-msg-1"}); err != nil {
		t.Fatal(err)
	}
	res, err := a.SendEmail(context.Background(), req)
	if err != nil || res.Status != store.SendSent || res.MessageID != "sg-msg-1" || mailer.calls != 0 {
		t.Errorf("after feedback: %+v, %v, calls %d", res, err, mailer.calls)
	}

	// Without any feedback past the window, it sends.
	b, st2 := setup(t, consenting(), &stubMailer{})
	withLinks(t, b, now)
	if _, _, err := st2.ReserveSend(context.Background(), store.Send{Key: key, MemberID: "m-1", Journey: "activation", Enrollment: 1, Step: "welcome", Status: store.SendPending, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	_ = st2.MarkSendAttempt(context.Background(), "m-1", key, now.Add(-11*time.Minute), time.Time{})
	if res, err := b.SendEmail(context.Background(), req); err != nil || res.Status != store.SendSent {
		t.Errorf("past the window: %+v, %v", res, err)
	}
}
