package activities_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
)

// An email still waiting out a deferral is not sent once its enrollment
// exited on its goal (an order ended the win-back); one whose enrollment
// completed — ran all its steps — still goes.
func TestSendEmailAfterEnrollmentEnded(t *testing.T) {
	for _, tc := range []struct {
		status     loyalty.EnrollmentStatus
		wantStatus store.SendStatus
	}{
		{loyalty.EnrollmentExited, store.SendSkipped},
		{loyalty.EnrollmentCompleted, store.SendSent},
		{loyalty.EnrollmentActive, store.SendSent},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
			a, st, mailer := policyWorld(t, reachable("m-1", "UTC"), false, &now)
			ctx := context.Background()
			if _, _, err := st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-1", Journey: "winback", Number: 20260924, Status: loyalty.EnrollmentActive, StartedAt: now}); err != nil {
				t.Fatal(err)
			}
			if tc.status.Final() {
				if err := st.EndEnrollment(ctx, "m-1", "winback", 20260924, tc.status, "x", now); err != nil {
					t.Fatal(err)
				}
			}
			req := activities.SendEmailRequest{MemberID: "m-1", Journey: "winback", Enrollment: 20260924, Step: "d60", Template: "winback_last", Year: 2026}
			res := mustSend(t, a, req)
			if res.Status != tc.wantStatus {
				t.Errorf("status = %s (%s), want %s", res.Status, res.Reason, tc.wantStatus)
			}
			if tc.wantStatus == store.SendSkipped && (res.Reason != activities.SkipGoalReached || len(mailer.messages()) != 0) {
				t.Errorf("reason %q, %d messages; want goal_reached and none", res.Reason, len(mailer.messages()))
			}
		})
	}
}

// A member whose step fails for good (a non-retryable error such as a
// template that cannot render) is counted and skipped; the scan goes on.
// A retryable error still fails the batch, which resumes from its cursor.
func TestScanGoesOnPastAFailedMember(t *testing.T) {
	a, _, _ := policyWorld(t, reachable("m-1", "UTC"), true, new(time.Time))
	err := error(temporal.NewNonRetryableApplicationError("bad template", activities.ErrTypeBadTemplate, nil))
	counts := map[string]int{}
	if got := activities.PerMemberForTest(a, counts, "m-1", err); got != nil || counts["failed"] != 1 {
		t.Errorf("non-retryable: err %v, counts %v; want nil and one failed", got, counts)
	}
	retry := errors.New("throttled")
	if got := activities.PerMemberForTest(a, counts, "m-1", retry); !errors.Is(got, retry) {
		t.Errorf("retryable: err %v, want it returned so the batch retries", got)
	}
}

// A member's step that failed because the activity itself was cancelled
// (the worker stopping, a heartbeat timeout) did not fail for that member:
// the batch ends with the error and its retry acts on them, however many
// attempts came before (a restarted worker's third attempt skipped members
// in the chaos test).
func TestScanDoesNotSkipAMemberWhenTheActivityIsCancelled(t *testing.T) {
	a, _, _ := policyWorld(t, reachable("m-1", "UTC"), true, new(time.Time))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	counts := map[string]int{}
	for _, err := range []error{
		fmt.Errorf("read member: %w", context.Canceled),
		temporal.NewNonRetryableApplicationError("bad template", activities.ErrTypeBadTemplate, nil),
	} {
		if got := activities.PerMemberCtxForTest(ctx, a, counts, "m-1", err); got == nil || counts["failed"] != 0 {
			t.Errorf("%v while cancelled: err %v, counts %v; want the error back and nobody failed", err, got, counts)
		}
	}
}

// An email SendGrid refuses after the policy gave it a slot was never a
// contact: the slot is free for the next email.
func TestRefusedSendFreesItsSlot(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a, st, mailer := policyWorld(t, reachable("m-1", "UTC"), false, &now)
	mustSend(t, a, sendReq("m-1", "activation", 1, "welcome"))
	mailer.err = &mail.ProviderError{StatusCode: 400, Message: "invalid template"}
	refused := mustSend(t, a, sendReq("m-1", "activation", 1, "nudge"))
	if refused.Status != store.SendSkipped {
		t.Fatalf("refused send = %+v", refused)
	}
	state, _, err := st.GetContact(context.Background(), "m-1")
	if err != nil {
		t.Fatal(err)
	}
	if state.Holds(refused.Key) || len(state.Contacts) != 1 {
		t.Errorf("contact state after a refusal = %+v, want only the welcome", state)
	}
	mailer.err = nil
	if res := mustSend(t, a, sendReq("m-1", "birthday", 2026, "gift")); res.Status != store.SendSent {
		t.Errorf("next email = %+v, want sent in the freed slot", res)
	}
}

// A step whose coupon was refused does not send its email with holes
// where the coupon should be: it is skipped and counted.
func TestRefusedRewardSkipsItsEmail(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a, st, mailer := policyWorld(t, reachable("m-1", "UTC"), false, &now)
	req := sendReq("m-1", "winback", 20260924, "d120")
	req.RewardRefused = "FREE25: per-member limit of 3 reached"
	res := mustSend(t, a, req)
	if res.Status != store.SendSkipped || res.Reason != activities.SkipRewardRefused+": "+req.RewardRefused || len(mailer.messages()) != 0 {
		t.Errorf("send = %+v, %d messages; want skipped reward_refused and none", res, len(mailer.messages()))
	}
	stats, err := st.JourneyStats(context.Background(), "winback")
	if err != nil || len(stats) != 1 || stats[0].Counts["skipped:"+activities.SkipRewardRefused] != 1 {
		t.Errorf("stats = %+v, %v", stats, err)
	}
}

// racingStore lets another caller of the same key claim the attempt just
// before this one does, as a deferral waking while a scan meets the
// member again would.
type racingStore struct {
	*memstore.Store
	raced bool
}

func (r *racingStore) MarkSendAttempt(ctx context.Context, memberID, key string, at, prev time.Time) error {
	if !r.raced && !at.IsZero() {
		r.raced = true
		if err := r.Store.MarkSendAttempt(ctx, memberID, key, at.Add(-time.Second), prev); err != nil {
			return err
		}
	}
	return r.Store.MarkSendAttempt(ctx, memberID, key, at, prev)
}

func TestTwoCallersOfOneKeyNeverBothSend(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a, st, mailer := policyWorld(t, reachable("m-1", "UTC"), false, &now)
	a.Store = &racingStore{Store: st}
	_, err := a.SendEmail(context.Background(), sendReq("m-1", "winback", 20260924, "d60"))
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeAwaitingFeedback || appErr.NextRetryDelay() <= 0 {
		t.Fatalf("err = %v, want a retry after the other caller's attempt", err)
	}
	if n := len(mailer.messages()); n != 0 {
		t.Errorf("%d messages: the caller that lost the claim called the provider", n)
	}
}
