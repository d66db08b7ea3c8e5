package journeys

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// Lift counts what journeys' lift reports are computed from, as it
// happens: an enrollment into its arm's cohort (Enrolled); a goal
// reached, an order (its revenue, the journey's coupon redeemed on it,
// the extra points the journey's boost earned), a refund (Event); points
// the journey granted (Points) — each added to the cohorts of every
// enrollment of the member it concerns, on the day after enrollment it
// happened, once per enrollment and fact (store.Lift). Held-out and
// treated enrollments are counted by the same code; only enrollments
// that recorded an arm take part (those of the first engine, and those
// made before holdouts existed, do not).
type Lift struct {
	Store store.Lift
	// Engine decides goals (CEL) and holds the programme: coupons' face
	// values and the point value.
	Engine *engine.Engine
}

// Lift is the lift counter over the enroller's store and engine.
func (e *Enroller) Lift() Lift { return Lift{Store: e.Store, Engine: e.Engine} }

// Versions serves pinned journey versions (Service.Version).
type Versions func(ctx context.Context, name string, version int) (journey.Definition, error)

// LiftCells are the cohorts an enrollment of def counts in: its arm, and,
// treated, the path each split of def takes it down — assigned at
// enrollment, whether or not the member reaches the split, as the hash
// does not depend on what they do (intention to treat). Held-out members
// are not counted by path: whatever the path, they get nothing, so the
// whole holdout is every path's control. Nil for an enrollment without an
// arm.
func LiftCells(def journey.Definition, enr loyalty.Enrollment) []store.LiftCell {
	if enr.Arm == "" || enr.Version == 0 {
		return nil
	}
	day := store.LiftDay(enr.StartedAt)
	cells := []store.LiftCell{{Arm: enr.Arm, Day: day}}
	if enr.Arm != loyalty.ArmTreated {
		return cells
	}
	paths := engine.SplitPaths(def, enr.MemberID)
	for _, step := range slices.Sorted(maps.Keys(paths)) {
		cells = append(cells, store.LiftCell{Arm: enr.Arm, Path: store.SplitPath(step, paths[step]), Day: day})
	}
	return cells
}

// liftDay is how many whole days after the enrollment started t is; ok
// is false from LiftDays days on. A moment before the start (an event
// between the trigger and the enrollment) is day 0.
func liftDay(enr loyalty.Enrollment, t time.Time) (int, bool) {
	d := max(t.Sub(enr.StartedAt), 0)
	n := int(d / (24 * time.Hour))
	return n, n < store.LiftDays
}

// newsTo reports whether a member's event at t is an outcome of the
// enrollment: after its trigger (the trigger itself and what came before
// are not) and within LiftDays of its start.
func newsTo(enr loyalty.Enrollment, t time.Time) (int, bool) {
	if !enr.Anchor.IsZero() && !t.After(enr.Anchor) {
		return 0, false
	}
	return liftDay(enr, t)
}

// liftKey names one fact about an enrollment, unique for the member.
func liftKey(enr loyalty.Enrollment, what string) string {
	return fmt.Sprintf("lift#%s#%d#%s", enr.Journey, enr.Number, what)
}

func (l Lift) count(ctx context.Context, def journey.Definition, enr loyalty.Enrollment, what string, day int, members int64, o store.LiftOutcome) error {
	cells := LiftCells(def, enr)
	if len(cells) == 0 {
		return nil
	}
	err := l.Store.CountLift(ctx, store.LiftCount{Journey: enr.Journey, MemberID: enr.MemberID, Key: liftKey(enr, what),
		Cells: cells, Members: members, Day: day, Outcome: o})
	if err != nil {
		return fmt.Errorf("lift of %s: %w", enr.Journey, err)
	}
	return nil
}

// Enrolled counts a new enrollment into its cohorts, and what the
// member's account acc already holds that is news to it: orders after its
// trigger that the ledger applied before the enrollment was recorded (an
// order dispatched ahead of its trigger's record), with their refunds.
// Each fact has the key Event counts it under, so whichever comes first
// counts it, once; a retry counts nothing again.
func (l Lift) Enrolled(ctx context.Context, def journey.Definition, enr loyalty.Enrollment, acc loyalty.Account) error {
	if err := l.count(ctx, def, enr, "enrolled", 0, 1, store.LiftOutcome{}); err != nil {
		return err
	}
	for _, rec := range acc.Orders {
		if err := l.order(ctx, def, enr, rec, acc); err != nil {
			return err
		}
	}
	return nil
}

// order counts an order of the account when it is news to enr, and the
// refunds of it the ledger has applied (those that arrived before it
// included): a refund counts only once its order is known to be the
// enrollment's outcome.
func (l Lift) order(ctx context.Context, def journey.Definition, enr loyalty.Enrollment, rec loyalty.OrderRecord, acc loyalty.Account) error {
	day, ok := newsTo(enr, rec.At)
	if !ok {
		return nil
	}
	if err := l.count(ctx, def, enr, "order#"+rec.OrderID, day, 0, l.orderOutcome(enr, rec.OrderID, rec.Amount, acc)); err != nil {
		return err
	}
	for _, r := range rec.Refunds {
		if rday, ok := newsTo(enr, r.At); ok {
			if err := l.count(ctx, def, enr, "refund#"+r.RefundID, rday, 0, store.LiftOutcome{Revenue: r.Amount.Neg()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Goal counts the enrollment's goal, reached at at (a goal check before a
// step); the earliest of the enrollment's goals is the one counted.
func (l Lift) Goal(ctx context.Context, def journey.Definition, enr loyalty.Enrollment, at time.Time) error {
	day, ok := liftDay(enr, at)
	cells := LiftCells(def, enr)
	if !ok || len(cells) == 0 {
		return nil
	}
	err := l.Store.CountLiftGoal(ctx, store.LiftCount{Journey: enr.Journey, MemberID: enr.MemberID, Key: liftKey(enr, "goal"), Cells: cells, Day: day})
	if err != nil {
		return fmt.Errorf("lift goal of %s: %w", enr.Journey, err)
	}
	return nil
}

// Points counts points the journey granted under the step key grantKey
// at at, at the programme's point value.
func (l Lift) Points(ctx context.Context, def journey.Definition, enr loyalty.Enrollment, grantKey string, points int64, at time.Time) error {
	day, ok := liftDay(enr, at)
	if !ok || points <= 0 {
		return nil
	}
	o := store.LiftOutcome{Points: points, PointsCost: l.pointValue().Mul(decimal.NewFromInt(points))}
	return l.count(ctx, def, enr, "points#"+grantKey, day, 0, o)
}

func (l Lift) pointValue() decimal.Decimal {
	if l.Engine == nil || l.Engine.Program == nil {
		return decimal.Zero
	}
	return l.Engine.Program.Points.PointValue
}

// LiftCounts reports whether an event of type typ can be an outcome
// whatever journeys listen for: orders and refunds. Goal events are
// among the types journeys listen for (Service.Listened).
func LiftCounts(typ events.Type) bool {
	return typ == events.OrderPaid || typ == events.OrderRefunded
}

// Event counts what the member's event means to the lift of each of
// their enrollments it is news to (newsTo), whatever the enrollment's
// status: an order (one, its revenue, and — when they were this
// enrollment's — the coupon redeemed on it and the extra points its boost
// earned, with the refunds of it that arrived first), a refund (its
// amount off revenue, once its order is known to be the enrollment's
// outcome), the journey's goal. acc is the member's account after the
// ledger applied the event. What arrived before the enrollment was
// recorded, Enrolled counts; so the counters do not depend on the order
// events arrive in.
//
// A goal condition that fails to evaluate does not stop the others: the
// error, when the rest succeeded, is the GoalErrors joined, which the
// caller logs and goes on from.
func (l Lift) Event(ctx context.Context, versions Versions, doc loyalty.MemberDocument, ev *events.Envelope, data any, acc loyalty.Account) error {
	var goalErrs []error
	for _, enr := range doc.Enrollments {
		if enr.Arm == "" || enr.Version == 0 {
			continue
		}
		day, ok := newsTo(enr, ev.OccurredAt)
		if !ok {
			continue
		}
		def, err := versions(ctx, enr.Journey, enr.Version)
		if err != nil {
			return err
		}
		switch d := data.(type) {
		case *events.OrderPaidData:
			if i := slices.IndexFunc(acc.Orders, func(o loyalty.OrderRecord) bool { return o.OrderID == d.OrderID }); i >= 0 {
				// With the refunds of it that arrived first.
				if err := l.order(ctx, def, enr, acc.Orders[i], acc); err != nil {
					return err
				}
			} else if err := l.count(ctx, def, enr, "order#"+d.OrderID, day, 0, l.orderOutcome(enr, d.OrderID, d.Amount, acc)); err != nil {
				return err
			}
		case *events.OrderRefundedData:
			// Only the refund of an order known to be the enrollment's
			// outcome: not one from before the enrollment, which it never
			// counted; one whose order has not arrived yet counts when it
			// does (order).
			if i := slices.IndexFunc(acc.Orders, func(o loyalty.OrderRecord) bool { return o.OrderID == d.OrderID }); i >= 0 {
				if _, counted := newsTo(enr, acc.Orders[i].At); counted {
					if err := l.count(ctx, def, enr, "refund#"+d.RefundID, day, 0, store.LiftOutcome{Revenue: d.Amount.Neg()}); err != nil {
						return err
					}
				}
			}
		}
		reached, _, err := l.Engine.ReachesGoal(def, enr.StartedAt, engine.Subject{Member: doc, Event: ev, Now: ev.OccurredAt})
		if err != nil {
			// The journey's condition fails on this event: its problem,
			// not the stream's (a retry would fail the same); the other
			// enrollments are still counted.
			goalErrs = append(goalErrs, &GoalError{Journey: enr.Journey, Version: enr.Version, Err: err})
			continue
		}
		if reached {
			if err := l.Goal(ctx, def, enr, ev.OccurredAt); err != nil {
				return err
			}
		}
	}
	return errors.Join(goalErrs...)
}

// GoalError is a journey's goal condition that failed to evaluate on an
// event (Lift.Event).
type GoalError struct {
	Journey string
	Version int
	Err     error
}

func (e *GoalError) Error() string {
	return fmt.Sprintf("goal of journey %s v%d: %v", e.Journey, e.Version, e.Err)
}

func (e *GoalError) Unwrap() error { return e.Err }

// orderOutcome is one order to an enrollment: its amount, and, when the
// coupon redeemed on it was this enrollment's, the coupon's face value
// as a cost — added back to the order's revenue, which the discount took
// it off: the journey's coupon is charged once, as cost, not also as
// revenue lost — and, when this enrollment's boost set the order's
// multiplier, the extra points it earned at the point value.
func (l Lift) orderOutcome(enr loyalty.Enrollment, orderID string, amount decimal.Decimal, acc loyalty.Account) store.LiftOutcome {
	o := store.LiftOutcome{Orders: 1, Revenue: amount}
	mine := func(key string) bool {
		m, j, n, _, _, ok := engine.ParseKey(key)
		return ok && m == enr.MemberID && j == enr.Journey && n == enr.Number
	}
	for _, c := range acc.Coupons {
		if c.OrderID != orderID || !c.Used() || !mine(c.Key) {
			continue
		}
		if k, ok := l.coupon(c.Kind); ok {
			o.Coupons, o.CouponCost = 1, k.Discount
			o.Revenue = o.Revenue.Add(k.Discount)
		}
	}
	for _, rec := range acc.Orders {
		if rec.OrderID == orderID && rec.BoostPoints > 0 && mine(rec.Boost) {
			o.BoostPoints = rec.BoostPoints
			o.BoostCost = l.pointValue().Mul(decimal.NewFromInt(rec.BoostPoints))
		}
	}
	return o
}

func (l Lift) coupon(kind string) (loyalty.CouponKind, bool) {
	if l.Engine == nil || l.Engine.Program == nil {
		return loyalty.CouponKind{}, false
	}
	return l.Engine.Program.Coupon(kind)
}
