package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/loyalty"
)

// LiftDays is how many days after enrolling a member's outcomes count
// towards their journey's lift: a lift window is 1 to LiftDays days.
const LiftDays = 90

// LiftCell names one cohort of a journey's lift: the members of an arm
// who enrolled on one UTC day — and, with Path set, those of them whom a
// split sends down one path.
type LiftCell struct {
	Arm loyalty.Arm `json:"arm"`
	// Path is a split step and the index of its path, "<step>:<index>"
	// (SplitPath); "" for the arm as a whole.
	Path string `json:"path,omitempty"`
	// Day is the UTC day the members enrolled, YYYY-MM-DD.
	Day string `json:"day"`
}

// SplitPath names path i of split step step in a LiftCell.
func SplitPath(step string, i int) string { return step + ":" + strconv.Itoa(i) }

// LiftDay is the cohort day of an enrollment started at t.
func LiftDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// LiftOutcome is what a cohort's members did on one day after enrolling:
// goals reached, orders placed and their revenue (refunds subtract), and
// what the journey's rewards cost — its coupons redeemed (at face value),
// its points granted and the extra points its boosts earned (at the
// programme's point value).
type LiftOutcome struct {
	Goals       int64           `json:"goals,omitempty"`
	Orders      int64           `json:"orders,omitempty"`
	Revenue     decimal.Decimal `json:"revenue"`
	Coupons     int64           `json:"coupons,omitempty"`
	CouponCost  decimal.Decimal `json:"coupon_cost"`
	Points      int64           `json:"points,omitempty"`
	PointsCost  decimal.Decimal `json:"points_cost"`
	BoostPoints int64           `json:"boost_points,omitempty"`
	BoostCost   decimal.Decimal `json:"boost_cost"`
}

// Add is the sum of two outcomes.
func (o LiftOutcome) Add(p LiftOutcome) LiftOutcome {
	return LiftOutcome{
		Goals: o.Goals + p.Goals, Orders: o.Orders + p.Orders, Revenue: o.Revenue.Add(p.Revenue),
		Coupons: o.Coupons + p.Coupons, CouponCost: o.CouponCost.Add(p.CouponCost),
		Points: o.Points + p.Points, PointsCost: o.PointsCost.Add(p.PointsCost),
		BoostPoints: o.BoostPoints + p.BoostPoints, BoostCost: o.BoostCost.Add(p.BoostCost),
	}
}

// IsZero reports whether the outcome counts nothing.
func (o LiftOutcome) IsZero() bool {
	return o.Goals == 0 && o.Orders == 0 && o.Revenue.IsZero() && o.Coupons == 0 && o.CouponCost.IsZero() &&
		o.Points == 0 && o.PointsCost.IsZero() && o.BoostPoints == 0 && o.BoostCost.IsZero()
}

// Cost is what the journey's rewards in the outcome cost.
func (o LiftOutcome) Cost() decimal.Decimal { return o.CouponCost.Add(o.PointsCost).Add(o.BoostCost) }

// LiftCohort is one cohort's counters.
type LiftCohort struct {
	LiftCell
	// Members is how many enrollments the cohort has (a member who
	// entered twice on one day counts twice).
	Members int64 `json:"members"`
	// Days[d] is what the cohort did d days after enrolling (0 ≤ d <
	// LiftDays); days with nothing are absent.
	Days map[int]LiftOutcome `json:"days"`
}

// LiftCount is one fact a journey's lift counts once: an enrollment
// (Members 1) or an outcome on a day after it, added to every cohort
// the enrollment is in (its arm, and its arm on each split path).
type LiftCount struct {
	Journey  string
	MemberID string
	// Key names the fact, unique for the member: the enrollment, the
	// order, the refund, the coupon, the grant. A repeat counts nothing.
	Key     string
	Cells   []LiftCell
	Members int64
	// Day is how many days after enrolling the outcome happened.
	Day     int
	Outcome LiftOutcome
}

// Lift keeps the counters journeys' lift reports are computed from,
// counted as enrollments, orders, refunds, redemptions, grants and goals
// happen — never by scanning members. Every count is once per member and
// key, so retries and redelivered stream records count nothing twice,
// and a goal is counted on the earliest day it is told of, so the order
// events arrive in does not change the counters.
type Lift interface {
	// CountLift adds c's members and outcome (on day c.Day) to each of
	// its cells, once per member and key: a repeat of the key counts
	// nothing and returns nil.
	CountLift(ctx context.Context, c LiftCount) error
	// CountLiftGoal counts one goal in each of c's cells on the earliest
	// day it is told of for the key (one key per enrollment): the first
	// call counts it on c.Day, a later call with an earlier day moves it
	// there, any other call changes nothing. c.Members and c.Outcome are
	// ignored.
	CountLiftGoal(ctx context.Context, c LiftCount) error
	// LiftCohorts returns the journey's cohorts by day, arm and path.
	LiftCohorts(ctx context.Context, journey string) ([]LiftCohort, error)
}

// CheckLiftCount checks a count's arguments: a cell names an arm, a day
// and at most a path without brackets (which the DynamoDB expression
// builder would read as a list index), and the day is within LiftDays.
func CheckLiftCount(c LiftCount) error {
	what := fmt.Sprintf("count lift of %s for %s", c.Journey, c.Key)
	if err := CheckJourneyName(what, c.Journey); err != nil {
		return err
	}
	if c.MemberID == "" || c.Key == "" {
		return fmt.Errorf("%s: member id and key are required", what)
	}
	if len(c.Cells) == 0 {
		return fmt.Errorf("%s: no cohort to count in", what)
	}
	if c.Day < 0 || c.Day >= LiftDays {
		return fmt.Errorf("%s: day %d is not within the %d days lift counts", what, c.Day, LiftDays)
	}
	for _, cell := range c.Cells {
		switch cell.Arm {
		case loyalty.ArmTreated, loyalty.ArmHoldout, loyalty.ArmProgrammeHoldout:
		default:
			return fmt.Errorf("%s: arm %q is not an arm", what, cell.Arm)
		}
		if _, err := time.Parse(time.DateOnly, cell.Day); err != nil {
			return fmt.Errorf("%s: cohort day %q is not YYYY-MM-DD", what, cell.Day)
		}
		if strings.ContainsAny(cell.Path, "[]#") {
			return fmt.Errorf("%s: path %q holds brackets or '#'", what, cell.Path)
		}
	}
	return nil
}
