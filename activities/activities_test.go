package activities_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
)

type stubMailer struct {
	err   error
	calls int
	last  mail.Message
}

func (s *stubMailer) Send(_ context.Context, m mail.Message) (mail.SendResult, error) {
	s.calls++
	s.last = m
	if s.err != nil {
		return mail.SendResult{}, s.err
	}
	return mail.SendResult{MessageID: "sg-1", StatusCode: 202}, nil
}

func setup(t *testing.T, m loyalty.Member, mailer *stubMailer) (*activities.Activities, *memstore.Store) {
	t.Helper()
	st := memstore.New()
	if m.ID != "" {
		m.Version = 1
		if err := st.SaveMember(context.Background(), m, "e1"); err != nil {
			t.Fatal(err)
		}
	}
	// 10:00 UTC: outside quiet hours (a member without a time zone, and
	// no programme, is in UTC).
	daytime := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	return &activities.Activities{Store: st, Mailer: mailer, Brand: activities.Brand{Name: "Demo", ShopURL: "https://s"},
		Now: func() time.Time { return daytime }}, st
}

var req = activities.SendEmailRequest{MemberID: "m-1", Journey: "activation", Enrollment: 1, Step: "welcome", Template: "activation_welcome", Year: 2026,
	Vars:  map[string]string{"coupon_name": "满79减8", "coupon_code": "NEW8-TEST"},
	Dates: map[string]time.Time{"coupon_valid_until": time.Date(2026, 12, 23, 15, 59, 0, 0, time.UTC)}}

func consenting() loyalty.Member {
	return loyalty.Member{ID: "m-1", Email: "a@example.com", Name: "A", Consent: loyalty.Consent{EmailMarketing: true}}
}

func TestSendEmailCarriesAttribution(t *testing.T) {
	mailer := &stubMailer{}
	a, st := setup(t, consenting(), mailer)
	res, err := a.SendEmail(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != store.SendSent || res.MessageID != "sg-1" || res.Key != "m-1#activation#1#welcome#2026" {
		t.Errorf("result = %+v", res)
	}
	m := mailer.last
	if m.IdempotencyKey != res.Key || m.CustomArgs["journey"] != "activation" || m.CustomArgs["step"] != "welcome" || m.CustomArgs["enrollment"] != "1" {
		t.Errorf("message attribution = %+v", m)
	}
	if strings.Join(m.Categories, ",") != "activation,activation:welcome" {
		t.Errorf("categories = %v", m.Categories)
	}
	rows, _ := st.ListSends(context.Background(), "m-1")
	if len(rows) != 1 || rows[0].Status != store.SendSent || rows[0].MessageID != "sg-1" {
		t.Errorf("ledger = %+v", rows)
	}
}

func TestSendEmailClassifiesFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		member     loyalty.Member
		err        error
		wantStatus store.SendStatus
		wantReason string
		wantErr    bool
		nonRetry   bool
		retryDelay time.Duration
		wantCalls  int
		ordered    bool // the request asks to skip members who ordered
	}{
		{name: "no consent", member: loyalty.Member{ID: "m-1", Email: "a@example.com"}, wantStatus: store.SendSkipped, wantReason: activities.SkipNoConsent},
		{name: "goal reached", member: loyalty.Member{ID: "m-1", Email: "a@example.com", OrderCount: 1, Consent: loyalty.Consent{EmailMarketing: true}}, ordered: true, wantStatus: store.SendSkipped, wantReason: activities.SkipGoalReached},
		{name: "an order does not stop a welcome", member: loyalty.Member{ID: "m-1", Email: "a@example.com", OrderCount: 1, Consent: loyalty.Consent{EmailMarketing: true}}, wantStatus: store.SendSent, wantCalls: 1},
		{name: "no address", member: loyalty.Member{ID: "m-1", Consent: loyalty.Consent{EmailMarketing: true}}, wantStatus: store.SendSkipped, wantReason: activities.SkipNoAddress},
		{name: "rejected by SendGrid", member: consenting(), err: &mail.ProviderError{StatusCode: 400, Message: "invalid template"}, wantStatus: store.SendSkipped, wantReason: activities.SkipRejected + ": invalid template", wantCalls: 1},
		{name: "address the sender refuses", member: consenting(), err: fmt.Errorf("build message: %w", mail.ErrInvalidMessage), wantStatus: store.SendSkipped, wantReason: activities.SkipRejected + ": build message: " + mail.ErrInvalidMessage.Error(), wantCalls: 1},
		{name: "throttled", member: consenting(), err: &mail.ProviderError{StatusCode: 429, RetryAfter: 7 * time.Second}, wantErr: true, retryDelay: 7 * time.Second, wantCalls: 1},
		{name: "server error", member: consenting(), err: &mail.ProviderError{StatusCode: 503}, wantErr: true, wantCalls: 1},
		{name: "member missing", wantErr: true, nonRetry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mailer := &stubMailer{err: tc.err}
			a, st := setup(t, tc.member, mailer)
			r := req
			r.SkipIfOrdered = tc.ordered
			res, err := a.SendEmail(context.Background(), r)
			if got := mailer.calls; got != tc.wantCalls {
				t.Errorf("provider called %d times, want %d", got, tc.wantCalls)
			}
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				var ae *temporal.ApplicationError
				isApp := errors.As(err, &ae)
				if tc.nonRetry && (!isApp || !ae.NonRetryable()) {
					t.Errorf("error %v is retryable, want non-retryable", err)
				}
				if tc.retryDelay > 0 && (!isApp || ae.NextRetryDelay() != tc.retryDelay) {
					t.Errorf("error %v does not ask for a %s retry delay", err, tc.retryDelay)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.wantStatus || res.Reason != tc.wantReason {
				t.Errorf("result = %s/%q, want %s/%q", res.Status, res.Reason, tc.wantStatus, tc.wantReason)
			}
			// The outcome is final: a retry of the activity does not call the provider.
			before := mailer.calls
			if _, err := a.SendEmail(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if mailer.calls != before {
				t.Error("a completed send called the provider again")
			}
			rows, _ := st.ListSends(context.Background(), "m-1")
			if len(rows) != 1 || rows[0].Status != tc.wantStatus {
				t.Errorf("ledger = %+v", rows)
			}
		})
	}
}

func TestEndEnrollmentRejectsActive(t *testing.T) {
	a, _ := setup(t, loyalty.Member{}, &stubMailer{})
	err := a.EndEnrollment(context.Background(), activities.EndEnrollmentRequest{MemberID: "m-1", Journey: "activation", Number: 1, Status: loyalty.EnrollmentActive})
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || !ae.NonRetryable() {
		t.Errorf("err = %v, want non-retryable", err)
	}
}
