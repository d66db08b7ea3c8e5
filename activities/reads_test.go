package activities_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// readCounter counts the store reads a caller makes of a member's items.
type readCounter struct {
	store.Store
	calls map[string]int
}

func (c *readCounter) GetMember(ctx context.Context, id string) (loyalty.Member, error) {
	c.calls["GetMember"]++
	return c.Store.GetMember(ctx, id)
}

func (c *readCounter) GetEnrollment(ctx context.Context, memberID, journey string, number int) (loyalty.Enrollment, error) {
	c.calls["GetEnrollment"]++
	return c.Store.GetEnrollment(ctx, memberID, journey, number)
}

func (c *readCounter) GetSuppression(ctx context.Context, memberID string) (store.Suppression, error) {
	c.calls["GetSuppression"]++
	return c.Store.GetSuppression(ctx, memberID)
}

func (c *readCounter) GetContact(ctx context.Context, memberID string) (contact.State, int64, error) {
	c.calls["GetContact"]++
	return c.Store.GetContact(ctx, memberID)
}

func (c *readCounter) GetSend(ctx context.Context, memberID, key string) (store.Send, error) {
	c.calls["GetSend"]++
	return c.Store.GetSend(ctx, memberID, key)
}

func (c *readCounter) SendContext(ctx context.Context, memberID, journey string, enrollment int) (store.SendContext, error) {
	c.calls["SendContext"]++
	return c.Store.SendContext(ctx, memberID, journey, enrollment)
}

// TestSendEmailReadsOnce pins that deciding a send reads the member's
// items in one go (issue 10: every DynamoDB operation on the welcome's way
// is throughput), whether the email goes or is skipped on them.
func TestSendEmailReadsOnce(t *testing.T) {
	for _, tc := range []struct {
		name       string
		member     loyalty.Member
		suppressed bool
		want       store.SendStatus
	}{
		{"sent", consenting(), false, store.SendSent},
		{"suppressed", consenting(), true, store.SendSkipped},
		{"no consent", loyalty.Member{ID: "m-1", Email: "a@example.com"}, false, store.SendSkipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, st := setup(t, tc.member, &stubMailer{})
			ctx := context.Background()
			if _, _, err := st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-1", Journey: req.Journey, Number: req.Enrollment, StartedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if tc.suppressed {
				if err := st.Suppress(ctx, store.Suppression{MemberID: "m-1", Reason: "bounce: 550", Source: "sendgrid:bounce", At: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			counter := &readCounter{Store: st, calls: map[string]int{}}
			a.Store = counter
			res, err := a.SendEmail(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want {
				t.Errorf("status = %s, want %s", res.Status, tc.want)
			}
			// Skipping gives back a contact slot the send may hold, on
			// the state it has just read.
			if want := map[string]int{"SendContext": 1}; !maps.Equal(counter.calls, want) {
				t.Errorf("reads = %v, want %v", counter.calls, want)
			}
		})
	}
}
