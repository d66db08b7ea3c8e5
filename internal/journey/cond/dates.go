package cond

import (
	"fmt"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Calendar functions. Journeys speak in member-local days ("3 days left",
// "valid until 2026-12-31"), which timestamps alone cannot say: a day
// depends on the zone. Both functions take the zone explicitly — the step
// executor fills member.timezone with the zone that decides (the member's,
// or the programme's when they gave none) — and read dates either as
// timestamps or as "YYYY-MM-DD" strings (member.tier_review_on,
// member.tier_outlook.review_on, member.birthday).
//
//	local_date(t, zone)        "YYYY-MM-DD" of timestamp t in zone
//	days_between(a, b, zone)   whole calendar days in zone from a's day to b's
func dateDecls() []cel.EnvOption {
	ts, str, integer := types.TimestampType, types.StringType, types.IntType
	return []cel.EnvOption{
		cel.Function("local_date",
			cel.Overload("local_date_timestamp_string", []*types.Type{ts, str}, str,
				cel.BinaryBinding(func(t, zone ref.Val) ref.Val {
					loc, err := zoneOf(zone)
					if err != nil {
						return types.NewErr("local_date: %v", err)
					}
					return types.String(t.Value().(time.Time).In(loc).Format(time.DateOnly))
				}))),
		cel.Function("days_between",
			cel.Overload("days_between_timestamp_timestamp_string", []*types.Type{ts, ts, str}, integer,
				cel.FunctionBinding(daysBetween)),
			cel.Overload("days_between_timestamp_string_string", []*types.Type{ts, str, str}, integer,
				cel.FunctionBinding(daysBetween)),
		),
	}
}

// daysBetween counts calendar days in the zone (the last argument) from the
// day of the first argument to the day of the second.
func daysBetween(args ...ref.Val) ref.Val {
	loc, err := zoneOf(args[2])
	if err != nil {
		return types.NewErr("days_between: %v", err)
	}
	day := func(v ref.Val) (time.Time, error) {
		switch x := v.Value().(type) {
		case time.Time:
			l := x.In(loc)
			return time.Date(l.Year(), l.Month(), l.Day(), 12, 0, 0, 0, time.UTC), nil
		case string:
			d, err := time.Parse(time.DateOnly, x)
			if err != nil {
				return time.Time{}, err
			}
			return d.Add(12 * time.Hour), nil
		}
		return time.Time{}, fmt.Errorf("not a timestamp or a date")
	}
	a, err := day(args[0])
	if err != nil {
		return types.NewErr("days_between: %v", err)
	}
	b, err := day(args[1])
	if err != nil {
		return types.NewErr("days_between: %q is not a date YYYY-MM-DD", args[1].Value())
	}
	return types.Int(int64(b.Sub(a) / (24 * time.Hour)))
}

// zones caches time zones by name: time.LoadLocation reads the zone
// database on every call.
var zones sync.Map

func zoneOf(v ref.Val) (*time.Location, error) {
	name, _ := v.Value().(string)
	if name == "" {
		return time.UTC, nil
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}
