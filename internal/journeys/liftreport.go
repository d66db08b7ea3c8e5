package journeys

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// LiftReport is a journey's lift within a window after enrollment
// (GET /v1/journeys/{name}/lift): its arms, the treated arm against the
// control, and each split's paths against the control and each other.
// Only cohorts whose window is over count: members who enrolled on
// CohortsThrough or before, every one of whom had the whole window.
type LiftReport struct {
	Journey    string    `json:"journey"`
	Window     string    `json:"window"`
	WindowDays int       `json:"window_days"`
	AsOf       time.Time `json:"as_of"`
	Currency   string    `json:"currency"`
	// CohortsThrough is the last UTC enrollment day counted ("" when
	// none is over yet); PendingMembers enrolled later and are still in
	// their window.
	CohortsThrough string `json:"cohorts_through"`
	PendingMembers int64  `json:"pending_members"`
	// Control is the arm the treated are compared with: the journey's
	// holdout when it has members, else the programme's (whose members
	// get no journey at all, so the lift then includes the other
	// journeys' effect too), else "" — no comparison.
	Control string `json:"control"`
	// Arms are treated, holdout and programme_holdout, each present.
	Arms map[loyalty.Arm]ArmReport `json:"arms"`
	// Lift is treated against the control; null without one.
	Lift *analytics.Comparison `json:"lift"`
	// Splits are the live version's split steps (and any counted before).
	Splits []SplitReport `json:"splits"`
}

// ArmReport is an arm's figures and its reward cost by kind.
type ArmReport struct {
	analytics.ArmStats
	CouponsRedeemed int64           `json:"coupons_redeemed"`
	CouponCost      decimal.Decimal `json:"coupon_cost"`
	PointsGranted   int64           `json:"points_granted"`
	PointsCost      decimal.Decimal `json:"points_cost"`
	BoostPoints     int64           `json:"boost_points"`
	BoostCost       decimal.Decimal `json:"boost_cost"`
}

// SplitReport is one split step's A/B test among treated members.
type SplitReport struct {
	Step  string       `json:"step"`
	Paths []PathReport `json:"paths"`
	// Comparisons are every later path against every earlier one (path
	// 1 against path 0, …).
	Comparisons []analytics.Comparison `json:"comparisons"`
}

// PathReport is the treated members a split sends down one path (by the
// split's hash, from enrollment) and their lift over the control.
type PathReport struct {
	Path int `json:"path"`
	// Goto and Weight are the path in the live version ("" and 0 when it
	// has no such path any more).
	Goto      string                `json:"goto"`
	Weight    int                   `json:"weight"`
	Treated   ArmReport             `json:"treated"`
	VsControl *analytics.Comparison `json:"vs_control"`
}

// ParseWindow reads a lift window: whole days, "1d" to "90d".
func ParseWindow(s string) (int, error) {
	rule := fmt.Errorf("window: must be whole days from 1d to %dd, like 30d", store.LiftDays)
	n, ok := strings.CutSuffix(s, "d")
	if !ok || n == "" || strings.TrimLeft(n, "0123456789") != "" || len(n) > 3 {
		return 0, rule
	}
	days, err := strconv.Atoi(n)
	if err != nil || days < 1 || days > store.LiftDays {
		return 0, rule
	}
	return days, nil
}

// accum is an arm's sums within the window.
type accum struct {
	members int64
	out     store.LiftOutcome
}

func (a accum) arm() analytics.LiftArm {
	return analytics.LiftArm{Members: a.members, Conversions: a.out.Goals, Orders: a.out.Orders, Revenue: a.out.Revenue, RewardCost: a.out.Cost()}
}

func (a accum) report() ArmReport {
	return ArmReport{ArmStats: a.arm().Stats(), CouponsRedeemed: a.out.Coupons, CouponCost: a.out.CouponCost,
		PointsGranted: a.out.Points, PointsCost: a.out.PointsCost, BoostPoints: a.out.BoostPoints, BoostCost: a.out.BoostCost}
}

// BuildLiftReport computes the report of a journey's cohorts for a window
// of days at now; live, when not nil, names the split paths.
func BuildLiftReport(name string, cohorts []store.LiftCohort, live *journey.Definition, window int, now time.Time, currency string) LiftReport {
	// A cohort's members enrolled during its UTC day; the last of them
	// has had the whole window once window+1 days have passed since the
	// day began.
	last := now.UTC().AddDate(0, 0, -(window + 1)).Format(time.DateOnly)
	r := LiftReport{Journey: name, Window: strconv.Itoa(window) + "d", WindowDays: window, AsOf: now.UTC(), Currency: currency,
		Arms: map[loyalty.Arm]ArmReport{}, Splits: []SplitReport{}}
	arms := map[loyalty.Arm]*accum{}
	paths := map[string]*accum{} // by store.SplitPath
	for _, c := range cohorts {
		if c.Day > last {
			if c.Path == "" {
				r.PendingMembers += c.Members
			}
			continue
		}
		if c.Day > r.CohortsThrough {
			r.CohortsThrough = c.Day
		}
		var a *accum
		switch {
		case c.Path == "":
			if a = arms[c.Arm]; a == nil {
				a = &accum{}
				arms[c.Arm] = a
			}
		case c.Arm == loyalty.ArmTreated:
			if a = paths[c.Path]; a == nil {
				a = &accum{}
				paths[c.Path] = a
			}
		default:
			continue // paths are counted for treated members only
		}
		a.members += c.Members
		for d, o := range c.Days {
			if d < window {
				a.out = a.out.Add(o)
			}
		}
	}
	for _, arm := range []loyalty.Arm{loyalty.ArmTreated, loyalty.ArmHoldout, loyalty.ArmProgrammeHoldout} {
		a := arms[arm]
		if a == nil {
			a = &accum{}
		}
		r.Arms[arm] = a.report()
	}
	var control *accum
	switch {
	case arms[loyalty.ArmHoldout] != nil && arms[loyalty.ArmHoldout].members > 0:
		r.Control, control = string(loyalty.ArmHoldout), arms[loyalty.ArmHoldout]
	case arms[loyalty.ArmProgrammeHoldout] != nil && arms[loyalty.ArmProgrammeHoldout].members > 0:
		r.Control, control = string(loyalty.ArmProgrammeHoldout), arms[loyalty.ArmProgrammeHoldout]
	}
	treated := arms[loyalty.ArmTreated]
	if treated == nil {
		treated = &accum{}
	}
	if control != nil {
		c := analytics.Compare(string(loyalty.ArmTreated), treated.arm(), controlLabel(r.Control), control.arm())
		r.Lift = &c
	}
	r.Splits = splitReports(paths, live, r.Control, control)
	return r
}

// controlLabel is how a verdict names the control's members.
func controlLabel(arm string) string { return strings.ReplaceAll(arm, "_", " ") }

// splitReports groups the path cohorts by split step: the live version's
// splits in step order with all their paths, then any other step counted
// (a split an earlier version had).
func splitReports(paths map[string]*accum, live *journey.Definition, controlName string, control *accum) []SplitReport {
	type pathOf struct {
		step string
		i    int
	}
	counted := map[string][]int{}
	for p := range paths {
		step, i, ok := cutPath(p)
		if ok {
			counted[step] = append(counted[step], i)
		}
	}
	var steps []string
	weights := map[pathOf]journey.Path{}
	if live != nil {
		for _, st := range live.Steps {
			if st.Kind() != journey.KindSplit {
				continue
			}
			steps = append(steps, st.ID)
			for i, p := range st.Split {
				weights[pathOf{st.ID, i}] = p
				if !slices.Contains(counted[st.ID], i) {
					counted[st.ID] = append(counted[st.ID], i)
				}
			}
		}
	}
	var others []string
	for step := range counted {
		if !slices.Contains(steps, step) {
			others = append(others, step)
		}
	}
	slices.Sort(others)
	out := []SplitReport{}
	for _, step := range append(steps, others...) {
		idx := counted[step]
		slices.Sort(idx)
		sr := SplitReport{Step: step, Paths: []PathReport{}, Comparisons: []analytics.Comparison{}}
		arms := make([]analytics.LiftArm, len(idx))
		for k, i := range idx {
			a := paths[store.SplitPath(step, i)]
			if a == nil {
				a = &accum{}
			}
			arms[k] = a.arm()
			w := weights[pathOf{step, i}]
			pr := PathReport{Path: i, Goto: w.Goto, Weight: w.Weight, Treated: a.report()}
			if control != nil {
				c := analytics.Compare(pathLabel(i), a.arm(), controlLabel(controlName), control.arm())
				pr.VsControl = &c
			}
			sr.Paths = append(sr.Paths, pr)
		}
		for b := range idx {
			for a := range b {
				sr.Comparisons = append(sr.Comparisons, analytics.Compare(pathLabel(idx[b]), arms[b], pathLabel(idx[a]), arms[a]))
			}
		}
		out = append(out, sr)
	}
	return out
}

func pathLabel(i int) string { return "path " + strconv.Itoa(i) }

// cutPath reads store.SplitPath back.
func cutPath(p string) (string, int, bool) {
	i := strings.LastIndexByte(p, ':')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(p[i+1:])
	return p[:i], n, err == nil
}
