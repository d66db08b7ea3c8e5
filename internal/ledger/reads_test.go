package ledger_test

import (
	"context"
	"maps"
	"testing"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// readCounter counts the reads the ledger makes of members and accounts.
type readCounter struct {
	store.Store
	calls map[string]int
}

func (c *readCounter) GetMember(ctx context.Context, id string) (loyalty.Member, error) {
	c.calls["GetMember"]++
	return c.Store.GetMember(ctx, id)
}

func (c *readCounter) GetAccount(ctx context.Context, id string) (loyalty.Account, error) {
	c.calls["GetAccount"]++
	return c.Store.GetAccount(ctx, id)
}

func (c *readCounter) MemberAndAccount(ctx context.Context, id string) (loyalty.Member, loyalty.Account, error) {
	c.calls["MemberAndAccount"]++
	return c.Store.MemberAndAccount(ctx, id)
}

// TestIssueCouponReadsOnce pins that the ledger reads the member and the
// account a journey's coupon is decided on in one go (issue 10: the
// activation reward is on every registration's way to its welcome).
func TestIssueCouponReadsOnce(t *testing.T) {
	w := newWorld(t)
	w.register("a", "a@example.com", "")
	counter := &readCounter{Store: w.st, calls: map[string]int{}}
	w.svc.Store = counter
	if _, err := w.svc.IssueCoupon(context.Background(), "a", "a#activation#1#welcome", "NEW8", "welcome"); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"MemberAndAccount": 1}; !maps.Equal(counter.calls, want) {
		t.Errorf("reads = %v, want %v", counter.calls, want)
	}
}
