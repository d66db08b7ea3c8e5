package journeys_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
)

// failingCounts is the memstore whose CountJourney fails while fail is
// set: a call that recorded an enrollment and failed before counting it.
type failingCounts struct {
	*memstore.Store
	fail bool
}

func (f *failingCounts) CountJourney(ctx context.Context, journey, memberID, key string, counts map[string]int64) error {
	if f.fail {
		return errors.New("injected: counters unavailable")
	}
	return f.Store.CountJourney(ctx, journey, memberID, key, counts)
}

// An entry that recorded the enrollment and then failed is retried (a
// redelivered stream record): the retry counts the member into their
// cohort, once, with the version the enrollment is pinned to.
func TestLiftEnrolledCountedOnRetry(t *testing.T) {
	w := newLiftWorld(t, liftJourney)
	ctx := context.Background()
	id := memberIn(t, w.def, loyalty.ArmTreated, 0, "t")
	if err := w.st.SaveMember(ctx, loyalty.Member{ID: id, Version: 1, Consent: loyalty.Consent{EmailMarketing: true}}, "reg-"+id); err != nil {
		t.Fatal(err)
	}
	fs := &failingCounts{Store: w.st, fail: true}
	enr := &journeys.Enroller{Store: fs, Engine: w.enr.Engine, Runner: nopRunner{}, Now: func() time.Time { return w.now }}
	st, err := w.st.GetJourney(ctx, w.def.Name)
	if err != nil {
		t.Fatal(err)
	}
	enter := func() error {
		doc, err := w.ldg.Document(ctx, id, w.now)
		if err != nil {
			t.Fatal(err)
		}
		_, err = enr.Enter(ctx, journeys.Entry{Live: journeys.Live{State: st, Definition: w.def}, Member: doc, Number: journeys.Number(w.def, liftStart), Anchor: liftStart})
		return err
	}
	if err := enter(); err == nil {
		t.Fatal("the injected failure did not fail the entry")
	}
	if got := w.cohorts(); len(got) != 0 {
		t.Fatalf("cohorts after the failure = %+v, want none yet", got)
	}
	fs.fail = false
	w.now = liftStart.Add(10 * time.Minute) // the retry
	for range 2 {
		if err := enter(); err != nil {
			t.Fatal(err)
		}
	}
	cell := store.LiftCell{Arm: loyalty.ArmTreated, Day: store.LiftDay(liftStart)}
	if got := w.cohorts()[cell].Members; got != 1 {
		t.Errorf("treated cohort has %d members after the retries, want 1", got)
	}
	if got := w.cohorts()[store.LiftCell{Arm: loyalty.ArmTreated, Path: store.SplitPath("ab", 0), Day: store.LiftDay(liftStart)}].Members; got != 1 {
		t.Errorf("path ab=0 has %d members after the retries, want 1", got)
	}
}

// The lift counters do not depend on the order events arrive in: an order
// after the trigger that arrives before the enrollment is recorded counts,
// a refund that arrives before its order counts only if the order is the
// enrollment's outcome. Every arrival order ends with the counters of the
// causal one.
func TestLiftCountersIndependentOfArrivalOrder(t *testing.T) {
	t0 := liftStart
	type action struct {
		at   time.Time
		name string
		do   func(w *liftWorld, id string)
	}
	refund := func(orderID, refundID string, amount int64) func(*liftWorld, string) {
		return func(w *liftWorld, id string) {
			w.event(id, events.OrderRefunded, "evt-"+refundID, w.now, &events.OrderRefundedData{OrderID: orderID, RefundID: refundID, Amount: decimal.NewFromInt(amount), Currency: "CNY"})
		}
	}
	order := func(orderID, amount string) func(*liftWorld, string) {
		return func(w *liftWorld, id string) { w.order(id, orderID, amount, w.now, "") }
	}
	actions := []action{
		{t0.Add(-2 * time.Hour), "order o0 (before the trigger)", order("o0", "80")},
		{t0, "enrollment", func(w *liftWorld, id string) { w.enter(id) }},
		{t0.Add(25 * time.Hour), "order o1", order("o1", "200")},
		{t0.Add(48 * time.Hour), "order o2", order("o2", "120")},
		{t0.Add(3 * 24 * time.Hour), "refund of o0", refund("o0", "rf0", 30)},
		{t0.Add(5 * 24 * time.Hour), "refund of o1", refund("o1", "rf1", 50)},
		{t0.Add(6 * 24 * time.Hour), "refund of o2", refund("o2", "rf2", 20)},
	}
	run := func(order []int) map[store.LiftCell]store.LiftCohort {
		w := newLiftWorld(t, liftJourney)
		id := memberIn(t, w.def, loyalty.ArmHoldout, -1, "h")
		if err := w.st.SaveMember(context.Background(), loyalty.Member{ID: id, Version: 1, Consent: loyalty.Consent{EmailMarketing: true}}, "reg-"+id); err != nil {
			t.Fatal(err)
		}
		for _, i := range order {
			w.now = actions[i].at // each event at its own moment; the enrollment at the trigger's
			actions[i].do(w, id)
		}
		return w.cohorts()
	}
	causal := run([]int{0, 1, 2, 3, 4, 5, 6})
	// The causal counts, by hand: o1 on day 1, o2 on day 2, their refunds
	// on days 5 and 6; o0 and its refund are from before the trigger.
	co := causal[store.LiftCell{Arm: loyalty.ArmHoldout, Day: store.LiftDay(t0)}]
	d := decimal.NewFromInt
	if co.Members != 1 || len(co.Days) != 4 || co.Days[1].Orders != 1 || !co.Days[1].Revenue.Equal(d(200)) ||
		co.Days[2].Orders != 1 || !co.Days[2].Revenue.Equal(d(120)) || !co.Days[5].Revenue.Equal(d(-50)) || !co.Days[6].Revenue.Equal(d(-20)) {
		t.Fatalf("causal counters = %+v", co)
	}
	rng := rand.New(rand.NewPCG(13, 4))
	perms := [][]int{
		{2, 1, 0, 3, 4, 5, 6}, // o1 before its enrollment
		{4, 0, 1, 2, 3, 5, 6}, // o0's refund before o0
		{6, 5, 2, 3, 1, 4, 0}, // everything backwards
	}
	for range 30 {
		perms = append(perms, rng.Perm(len(actions)))
	}
	for _, p := range perms {
		got := run(p)
		if !reflect.DeepEqual(normal(got), normal(causal)) {
			var names []string
			for _, i := range p {
				names = append(names, actions[i].name)
			}
			t.Errorf("arrival %v:\n got  %+v\n want %+v", names, normal(got), normal(causal))
		}
	}
}

// normal renders cohorts for comparison (decimals by value).
func normal(cs map[store.LiftCell]store.LiftCohort) map[string]string {
	out := map[string]string{}
	for cell, c := range cs {
		s := fmt.Sprintf("members=%d", c.Members)
		for day := range store.LiftDays {
			if o, ok := c.Days[day]; ok {
				s += fmt.Sprintf(" d%d{orders=%d revenue=%s goals=%d}", day, o.Orders, o.Revenue.String(), o.Goals)
			}
		}
		out[fmt.Sprintf("%+v", cell)] = s
	}
	return out
}
