package simulate

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/workflows"
)

// The Temporal Schedules a deployment keeps (journey scans, broadcasts,
// the ledger sweep) are made by the worker's own code
// (workflows.EnsureJourneySchedules, EnsureSweepSchedule) against a
// recorder instead of a Temporal client; each schedule then fires at the
// times its spec names, with its jitter, and starts its action's workflow
// on the simulated clock.

// Intervals the worker runs its schedules at by default
// (MEMBERFLOW_SCAN_EVERY, MEMBERFLOW_SWEEP_EVERY).
const (
	ScanEvery  = time.Hour
	SweepEvery = time.Hour
)

// sweepInput is the worker's sweep configuration.
var sweepInput = workflows.LedgerSweepInput{CatchUpDays: 7}

// scheduleRecorder is a client.ScheduleClient that keeps what is created.
type scheduleRecorder struct {
	created []client.ScheduleOptions
}

func (r *scheduleRecorder) ScheduleClient() client.ScheduleClient { return r }

func (r *scheduleRecorder) Create(_ context.Context, o client.ScheduleOptions) (client.ScheduleHandle, error) {
	r.created = append(r.created, o)
	return nil, nil
}

func (r *scheduleRecorder) List(context.Context, client.ScheduleListOptions) (client.ScheduleListIterator, error) {
	return noSchedules{}, nil
}

func (r *scheduleRecorder) GetHandle(context.Context, string) client.ScheduleHandle { return nil }

type noSchedules struct{}

func (noSchedules) HasNext() bool                            { return false }
func (noSchedules) Next() (*client.ScheduleListEntry, error) { return nil, nil }

// schedules are the Temporal Schedules the worker keeps for live.
func schedules(ctx context.Context, live []journeys.Live) ([]client.ScheduleOptions, error) {
	var r scheduleRecorder
	if err := workflows.EnsureSweepSchedule(ctx, &r, workflows.DefaultTaskQueue, sweepInput, SweepEvery); err != nil {
		return nil, err
	}
	if err := workflows.EnsureJourneySchedules(ctx, &r, workflows.DefaultTaskQueue, live, ScanEvery, workflows.DefaultCatchUp); err != nil {
		return nil, err
	}
	return r.created, nil
}

// fireTimes are the nominal times of spec in [from, to), sorted.
func fireTimes(spec client.ScheduleSpec, from, to time.Time) ([]time.Time, error) {
	var out []time.Time
	for _, iv := range spec.Intervals {
		if iv.Every <= 0 {
			return nil, fmt.Errorf("interval every %s", iv.Every)
		}
		// Epoch + n × every + offset.
		n := from.Sub(time.Unix(0, 0).Add(iv.Offset)) / iv.Every
		for t := time.Unix(0, 0).Add(iv.Offset + n*iv.Every).UTC(); t.Before(to); t = t.Add(iv.Every) {
			if !t.Before(from) {
				out = append(out, t)
			}
		}
	}
	if len(spec.Calendars) > 0 {
		loc := time.UTC
		if spec.TimeZoneName != "" {
			var err error
			if loc, err = time.LoadLocation(spec.TimeZoneName); err != nil {
				return nil, fmt.Errorf("schedule time zone: %w", err)
			}
		}
		for _, cal := range spec.Calendars {
			hours, minutes, seconds := matching(cal.Hour, 24), matching(cal.Minute, 60), matching(cal.Second, 60)
			f, t := from.In(loc), to.In(loc)
			for d := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc); d.Before(t); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc) {
				if !inRanges(cal.Year, d.Year(), true) || !inRanges(cal.Month, int(d.Month()), true) ||
					!inRanges(cal.DayOfMonth, d.Day(), true) || !inRanges(cal.DayOfWeek, int(d.Weekday()), true) {
					continue
				}
				for _, h := range hours {
					for _, mi := range minutes {
						for _, s := range seconds {
							at := time.Date(d.Year(), d.Month(), d.Day(), h, mi, s, 0, loc)
							if !at.Before(from) && at.Before(to) {
								out = append(out, at)
							}
						}
					}
				}
			}
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return slices.CompactFunc(out, time.Time.Equal), nil
}

// matching are the values below n that rs matches (0 when rs is empty).
func matching(rs []client.ScheduleRange, n int) []int {
	var out []int
	for v := range n {
		if inRanges(rs, v, false) {
			out = append(out, v)
		}
	}
	return out
}

// inRanges reports whether v is in one of rs; an empty rs matches every
// value when all is set (days, months, years) and only 0 otherwise
// (seconds, minutes, hours), as Temporal reads a calendar spec.
func inRanges(rs []client.ScheduleRange, v int, all bool) bool {
	if len(rs) == 0 {
		return all || v == 0
	}
	for _, r := range rs {
		end, step := r.End, r.Step
		if end < r.Start {
			end = r.Start
		}
		if step <= 0 {
			step = 1
		}
		if v >= r.Start && v <= end && (v-r.Start)%step == 0 {
			return true
		}
	}
	return false
}

// jitter is the delay of one action within the spec's jitter: fixed by
// the seed, the schedule and the nominal time, so a run repeats.
func jitter(seed int64, id string, nominal time.Time, max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s\x00%d", seed, id, nominal.UnixNano())
	return time.Duration(h.Sum64() % uint64(max))
}

// skips reports whether a schedule with this overlap policy skips an
// action while its previous run is still running.
func skips(p enumspb.ScheduleOverlapPolicy) bool {
	return p == enumspb.SCHEDULE_OVERLAP_POLICY_SKIP || p == enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED
}
