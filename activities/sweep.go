package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/memberflow/memberflow/internal/ledger"
)

// SweepRequest asks for the ledger sweep of the last Days days (today
// included), so a sweep that did not run for a while catches up.
type SweepRequest struct {
	Days     int `json:"days"`
	PageSize int `json:"page_size"`
}

// SweepResult reports what each day's sweep did.
type SweepResult struct {
	Days []ledger.SweepProgress `json:"days"`
}

// SweepLedger persists the time-based changes (pending points released,
// lots expired, reviews, lapses, birthday gifts, referral rewards) of every
// account due on the requested days. It heartbeats its position after each
// page, so a retry resumes where the last attempt stopped.
func (a *Activities) SweepLedger(ctx context.Context, req SweepRequest) (SweepResult, error) {
	if a.Ledger == nil {
		return SweepResult{}, errors.New("sweep: no ledger configured")
	}
	if req.Days < 1 {
		req.Days = 1
	}
	if req.PageSize < 1 {
		req.PageSize = 100
	}
	p := a.Ledger.Rules.Program
	today := p.StartOfDay(a.now())
	var res SweepResult
	// Outside Temporal (the simulator) there is no activity to heartbeat.
	heartbeats := activity.IsActivity(ctx)
	if heartbeats && activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &res); err != nil {
			res = SweepResult{}
		}
	}
	for i := req.Days - 1; i >= 0; i-- {
		day := p.Day(today.AddDate(0, 0, -i))
		start := ledger.SweepProgress{Day: day}
		done := false
		for j, d := range res.Days {
			if d.Day == day {
				start, done = d, j < len(res.Days)-1
			}
		}
		if done {
			continue
		}
		if n := len(res.Days); n == 0 || res.Days[n-1].Day != day {
			res.Days = append(res.Days, start)
		}
		last := len(res.Days) - 1
		prog, err := a.Ledger.SweepDay(ctx, start, req.PageSize, func(pr ledger.SweepProgress) {
			res.Days[last] = pr
			if heartbeats {
				activity.RecordHeartbeat(ctx, res)
			}
		})
		res.Days[last] = prog
		if err != nil {
			return res, fmt.Errorf("sweep %s: %w", day, err)
		}
		a.log().InfoContext(ctx, "ledger sweep day done", "day", day, "scanned", prog.Scanned, "changed", prog.Changed)
	}
	return res, nil
}
