package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// Dispatch keeps the lift counters as events arrive: the registration
// enrols the member in activation's treated cohort; the order counts as
// an order, its revenue (with the face value of the journey's own NEW8
// coupon redeemed on it added back), the coupon's cost and the goal; the
// refund takes its amount off revenue. Redelivered records count nothing
// again.
func TestDispatchKeepsLiftCounters(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	at := func(d time.Duration) func(map[string]any) {
		return func(m map[string]any) { m["occurred_at"] = testNow.Add(d).Format(time.RFC3339) }
	}
	reg := record(t, "1", events.MemberRegistered, at(-time.Minute))
	mustHandle(t, f.h, reg)
	enr, err := f.st.GetEnrollment(ctx, "m-1001", "activation", 1)
	if err != nil || enr.Arm != loyalty.ArmTreated {
		t.Fatalf("enrollment = %+v, %v", enr, err)
	}
	// The welcome step's coupon, as the step executor issues it.
	c, err := f.h.Ledger.IssueCoupon(ctx, "m-1001", engine.Key("m-1001", "activation", 1, "welcome", 2026), "NEW8", "activation welcome")
	if err != nil {
		t.Fatal(err)
	}
	order := record(t, "2", events.OrderPaid, func(m map[string]any) {
		at(2*24*time.Hour + time.Hour)(m)
		m["data"].(map[string]any)["coupon_code"] = c.Code
	})
	refund := record(t, "3", events.OrderRefunded, at(5*24*time.Hour))
	mustHandle(t, f.h, order, refund)
	mustHandle(t, f.h, order, refund, reg) // redelivered

	cohorts, err := f.st.LiftCohorts(ctx, "activation")
	if err != nil {
		t.Fatal(err)
	}
	if len(cohorts) != 1 {
		t.Fatalf("cohorts = %+v, want one", cohorts)
	}
	co := cohorts[0]
	if co.Arm != loyalty.ArmTreated || co.Day != "2026-11-23" || co.Members != 1 || co.Path != "" {
		t.Errorf("cohort = %+v", co.LiftCell)
	}
	d := decimal.RequireFromString
	day2, day5 := co.Days[2], co.Days[5]
	if day2.Goals != 1 || day2.Orders != 1 || !day2.Revenue.Equal(d("1258")) || day2.Coupons != 1 || !day2.CouponCost.Equal(d("8")) {
		t.Errorf("day 2 = %+v, want the goal, one order of 1250 + 8 and the NEW8 redeemed", day2)
	}
	if day5.Orders != 0 || !day5.Revenue.Equal(d("-250")) {
		t.Errorf("day 5 = %+v, want the refund of 250", day5)
	}
	if len(co.Days) != 2 {
		t.Errorf("days = %v", co.Days)
	}
	if counters, _ := f.st.JourneyCounters(ctx, "activation"); counters[store.CountGoal] != 1 {
		t.Errorf("journey goal counters = %v", counters)
	}
}

// A goal condition that fails on an event (here: dividing by zero) is
// the journey's problem, as a trigger condition's is: dispatch logs it and
// goes on — the record does not fail and the member's other enrollments
// are still counted — for an ended enrollment too.
func TestDispatchSkipsFailingGoalConditions(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	src := `
name: goal_fails
trigger: { event: member.registered }
goal:
  event: order.paid
  when: "1 / (member.order_count - member.order_count) > 0"
steps:
  - id: hello
    send: { email: activation_nudge }
`
	if _, err := f.svc.Publish(ctx, []byte(src), "test"); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) func(map[string]any) {
		return func(m map[string]any) { m["occurred_at"] = testNow.Add(d).Format(time.RFC3339) }
	}
	mustHandle(t, f.h, record(t, "1", events.MemberRegistered, at(-time.Minute)))
	enrs, err := f.st.ListEnrollments(ctx, "m-1001")
	if err != nil {
		t.Fatal(err)
	}
	ended := false
	for _, e := range enrs {
		if e.Journey == "goal_fails" {
			if err := f.st.EndEnrollment(ctx, "m-1001", e.Journey, e.Number, loyalty.EnrollmentCompleted, "completed", testNow); err != nil {
				t.Fatal(err)
			}
			ended = true
		}
	}
	if !ended {
		t.Fatalf("not enrolled in goal_fails: %+v", enrs)
	}
	mustHandle(t, f.h, record(t, "2", events.OrderPaid, at(2*24*time.Hour)))
	cohorts, err := f.st.LiftCohorts(ctx, "activation")
	if err != nil {
		t.Fatal(err)
	}
	if len(cohorts) != 1 || cohorts[0].Days[2].Orders != 1 {
		t.Errorf("activation's cohorts = %+v, want the order counted on day 2", cohorts)
	}
}
