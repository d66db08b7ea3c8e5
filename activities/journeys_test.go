package activities_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/activities"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// rewardWorld is a member "m-1" with a real ledger over memstore, its
// clock at *now.
func rewardWorld(t *testing.T, now *time.Time) (*activities.Activities, *memstore.Store) {
	t.Helper()
	st := memstore.New()
	svc := ledgerfix.Service(t, st)
	clock := func() time.Time { return *now }
	svc.Now = clock
	ledgerfix.Member(t, st, "m-1")
	return &activities.Activities{Store: st, Ledger: svc, Log: quietLog, Now: clock}, st
}

func account(t *testing.T, st *memstore.Store, id string) loyalty.Account {
	t.Helper()
	a, err := st.GetAccount(context.Background(), id)
	if err != nil {
		t.Fatalf("account of %s: %v", id, err)
	}
	return a
}

func entryCount(t *testing.T, st *memstore.Store, id string) int {
	t.Helper()
	es, err := st.ListEntries(context.Background(), id, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// A step's coupon and boost are granted under the step's key; a retry
// (later, after a restart) returns the same grants and writes nothing.
func TestRewardGrantsCouponAndBoostOnce(t *testing.T) {
	ctx := context.Background()
	cst, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2027, 1, 22, 10, 30, 0, 0, cst)
	a, st := rewardWorld(t, &now)
	req := activities.RewardRequest{
		MemberID: "m-1", Journey: journey.Winback, Enrollment: 20260924, Step: "d120", Year: 2027,
		Reward: journey.Reward{Coupon: "FREE25", Boost: &journey.Boost{Multiplier: decimal.NewFromInt(2), Days: 14}},
	}
	res, err := a.Reward(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	const key = "m-1#winback#20260924#d120#2027"
	if res.Key != key || res.Refused != "" {
		t.Fatalf("result = %+v", res)
	}
	if c := res.Coupon; c == nil || c.Kind != "FREE25" || c.Key != key || c.Code == "" || res.CouponName != "无门槛25" {
		t.Fatalf("coupon = %+v (%q)", res.Coupon, res.CouponName)
	}
	// FREE25 is valid for 7 days after the day of issue (programme zone).
	if got, want := res.Coupon.ExpiresAt, time.Date(2027, 1, 30, 0, 0, 0, 0, cst); !got.Equal(want) {
		t.Errorf("coupon expires %s, want %s", got, want)
	}
	if b := res.Boost; b == nil || b.Key != key || !b.Multiplier.Equal(decimal.NewFromInt(2)) || !b.Until.Equal(now.Add(14*24*time.Hour)) {
		t.Fatalf("boost = %+v", res.Boost)
	}
	vars, dates := res.Vars()
	if vars["coupon_code"] != res.Coupon.Code || vars["coupon_name"] != "无门槛25" || vars["boost_multiplier"] != "2" {
		t.Errorf("vars = %v", vars)
	}
	// The boost runs 14×24h from the grant, into the morning of 02-05.
	if got := dates["boost_until"].In(cst).Format(time.DateOnly); got != "2027-02-05" {
		t.Errorf("boost_until = %s, want the boost's last day 2027-02-05", got)
	}
	if got := dates["coupon_valid_until"].In(cst).Format(time.DateOnly); got != "2027-01-29" {
		t.Errorf("coupon_valid_until = %s, want the coupon's last day 2027-01-29", got)
	}

	acc := account(t, st, "m-1")
	if len(acc.Coupons) != 1 || acc.Coupons[0].Key != key || len(acc.Boosts) != 1 || acc.Boosts[0].Key != key {
		t.Fatalf("account coupons %+v, boosts %+v", acc.Coupons, acc.Boosts)
	}
	entries := entryCount(t, st, "m-1")

	now = now.Add(3 * time.Hour) // the retry comes later
	again, err := a.Reward(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.Coupon == nil || again.Coupon.Code != res.Coupon.Code || again.Boost == nil || !again.Boost.Until.Equal(res.Boost.Until) {
		t.Errorf("retry = %+v, want the first grants %+v", again, res)
	}
	acc = account(t, st, "m-1")
	if len(acc.Coupons) != 1 || len(acc.Boosts) != 1 || acc.CouponsIssued["FREE25"] != 1 {
		t.Errorf("after the retry: coupons %+v, boosts %+v, issued %v", acc.Coupons, acc.Boosts, acc.CouponsIssued)
	}
	if got := entryCount(t, st, "m-1"); got != entries {
		t.Errorf("the retry wrote %d ledger entries", got-entries)
	}
}

// A coupon the programme refuses (NEW8 is once per member) is reported in
// Refused, not as an error: the journey goes on, and a boost in the same
// step is still granted.
func TestRewardRefusedCouponIsNotAnError(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 2, 30, 0, 0, time.UTC)
	a, st := rewardWorld(t, &now)
	first, err := a.Reward(ctx, activities.RewardRequest{MemberID: "m-1", Journey: journey.Activation, Enrollment: 1, Step: "welcome", Year: 2026,
		Reward: journey.Reward{Coupon: "NEW8"}})
	if err != nil || first.Coupon == nil || first.Refused != "" {
		t.Fatalf("first NEW8: %+v, %v", first, err)
	}
	second, err := a.Reward(ctx, activities.RewardRequest{MemberID: "m-1", Journey: journey.Activation, Enrollment: 2, Step: "welcome", Year: 2026,
		Reward: journey.Reward{Coupon: "NEW8", Boost: &journey.Boost{Multiplier: decimal.RequireFromString("1.5"), Days: 3}}})
	if err != nil {
		t.Fatalf("a refused coupon is an error: %v", err)
	}
	if second.Coupon != nil || second.Refused == "" || second.Key != "m-1#activation#2#welcome#2026" {
		t.Errorf("second NEW8 = %+v, want refused", second)
	}
	if second.Boost == nil || second.Boost.Key != second.Key {
		t.Errorf("boost of the refused step = %+v, want granted", second.Boost)
	}
	vars, _ := second.Vars()
	if _, ok := vars["coupon_code"]; ok {
		t.Errorf("vars of a refused coupon name a code: %v", vars)
	}
	acc := account(t, st, "m-1")
	if len(acc.Coupons) != 1 || acc.Coupons[0].Key != first.Key || acc.CouponsIssued["NEW8"] != 1 {
		t.Errorf("coupons = %+v, issued %v", acc.Coupons, acc.CouponsIssued)
	}
	// Asking again under the refused key is still a refusal, not an error.
	again, err := a.Reward(ctx, activities.RewardRequest{MemberID: "m-1", Journey: journey.Activation, Enrollment: 2, Step: "welcome", Year: 2026,
		Reward: journey.Reward{Coupon: "NEW8"}})
	if err != nil || again.Coupon != nil || again.Refused == "" {
		t.Errorf("retry of the refused step = %+v, %v", again, err)
	}
}
