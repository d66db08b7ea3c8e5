package workflows

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/store"
)

// AnalyticsScheduleID names the Temporal Schedule of the nightly
// analytics refresh; the workflows it starts are named after it.
const AnalyticsScheduleID = "analytics-refresh"

// The workflow types of the refresh: the run, and one pass over one shard
// of the member index (its children).
const (
	AnalyticsRefreshWorkflow = "AnalyticsRefresh"
	AnalyticsShardWorkflow   = "AnalyticsShard"
)

// The passes of AnalyticsShard.
const (
	PassCollect = "collect"
	PassScore   = "score"
)

// DefaultAnalyticsPageSize is how many members one page activity reads:
// large, because every page costs Temporal actions and the work inside is
// DynamoDB round trips done AnalyticsParallel at a time.
const DefaultAnalyticsPageSize = 1000

// pagesPerShardRun bounds a shard pass's history (three events a page); a
// longer pass continues as new.
const pagesPerShardRun = 500

// AnalyticsRefreshInput configures the refresh (the schedule's action
// carries it).
type AnalyticsRefreshInput struct {
	// SampleSize bounds the customers the models are fitted on (0:
	// scoring.DefaultSampleSize, 100,000).
	SampleSize int `json:"sample_size,omitempty"`
	// PageSize is the members per page activity (0:
	// DefaultAnalyticsPageSize).
	PageSize int `json:"page_size,omitempty"`
	// Options are what the scores look ahead to (zero: 90 days, 12
	// months, 1% a month).
	Options analytics.ScoreOptions `json:"options"`
}

// AnalyticsRefreshResult is what a run did.
type AnalyticsRefreshResult struct {
	Run     string `json:"run"`
	Members int    `json:"members"`
	Buyers  int    `json:"buyers"`
	Pages   int    `json:"pages"`
	// Version is the model version stored and made current (0 when the
	// fit was refused).
	Version int `json:"version"`
	// Refused says why no model was stored: the previous one stays
	// current and no member was touched.
	Refused   string         `json:"refused,omitempty"`
	Customers int            `json:"customers"`
	Sample    int            `json:"sample_size"`
	Sampled   bool           `json:"sampled"`
	Report    scoring.Report `json:"report"`
	// Written and Recorded count the member scores written and the
	// member.segment_changed events recorded.
	Written  int `json:"written"`
	Recorded int `json:"recorded"`
}

// AnalyticsShardInput is one pass over one shard. Page, After and
// Totals are set when a long pass continues as new.
type AnalyticsShardInput struct {
	Pass  string    `json:"pass"`
	Run   string    `json:"run"`
	At    time.Time `json:"at"`
	Shard int       `json:"shard"`
	// PageSize is the first pass's; Version and Pages the second's (the
	// model scoring and the pages the first pass stored).
	PageSize int                 `json:"page_size,omitempty"`
	Version  int                 `json:"version,omitempty"`
	Pages    int                 `json:"pages,omitempty"`
	Page     int                 `json:"page,omitempty"`
	After    string              `json:"after,omitempty"`
	Totals   AnalyticsShardTotal `json:"totals"`
}

// AnalyticsShardTotal sums a shard pass's pages.
type AnalyticsShardTotal struct {
	// Pages the first pass stored, numbered from 0.
	Pages    int            `json:"pages"`
	Members  int            `json:"members"`
	Buyers   int            `json:"buyers"`
	Kept     int            `json:"kept"`
	Report   scoring.Report `json:"report"`
	Written  int            `json:"written"`
	Recorded int            `json:"recorded"`
}

// pageActivityOptions are the options of one page: a page takes
// seconds; one that hangs is retried after a few minutes.
func pageActivityOptions() workflow.ActivityOptions {
	return heartbeating(10*time.Minute, 2*time.Minute, 10)
}

// fitActivityOptions are the options of the fit: minutes on a large
// sample, heartbeating.
func fitActivityOptions() workflow.ActivityOptions {
	return heartbeating(30*time.Minute, 5*time.Minute, 5)
}

// AnalyticsRefresh is the nightly refresh: a first pass reads every
// member's orders net of refunds and keeps their records (one child
// workflow per shard of the member index, in parallel, a page per
// activity); the models are fitted on a random sample of the customers
// and stored as a new version — unless the fit is refused, which ends the
// run and keeps the current model; a second pass (a child per shard again)
// writes every member's scores and records member.segment_changed for
// those whose segment moved; then the version becomes current with its
// report.
func AnalyticsRefresh(ctx workflow.Context, in AnalyticsRefreshInput) (AnalyticsRefreshResult, error) {
	exec := workflow.GetInfo(ctx).WorkflowExecution
	return RunAnalyticsRefresh(TemporalRuntime{Ctx: ctx}, exec.ID, exec.RunID, in)
}

// RunAnalyticsRefresh is AnalyticsRefresh on rt, for the run workflowID
// and runID (the run's name, and its children's IDs, are made of them).
func RunAnalyticsRefresh(rt Runtime, workflowID, runID string, in AnalyticsRefreshInput) (AnalyticsRefreshResult, error) {
	at := rt.Now()
	res := AnalyticsRefreshResult{Run: workflowID + ":" + runID}
	pageSize := in.PageSize
	if pageSize <= 0 {
		pageSize = DefaultAnalyticsPageSize
	}

	collected, err := shardPasses(rt, workflowID, res.Run, func(shard int) AnalyticsShardInput {
		return AnalyticsShardInput{Pass: PassCollect, Run: res.Run, At: at, Shard: shard, PageSize: pageSize}
	})
	if err != nil {
		return res, err
	}
	pages := make([]int, len(collected))
	for i, c := range collected {
		pages[i] = c.Pages
		res.Pages += c.Pages
		res.Members += c.Members
		res.Buyers += c.Buyers
	}

	var a *activities.Activities
	var fit activities.AnalyticsFitResult
	err = rt.WithActivityOptions(fitActivityOptions()).ExecuteActivity(a.FitAnalyticsModel, activities.AnalyticsFitRequest{
		Run: res.Run, At: at, Pages: pages, Members: res.Members, SampleSize: in.SampleSize, Options: in.Options,
	}, &fit)
	if err != nil {
		return res, err
	}
	res.Version, res.Refused, res.Customers, res.Sample, res.Sampled = fit.Version, fit.Refused, fit.Customers, fit.Sample, fit.Sampled
	if fit.Refused != "" {
		return res, nil
	}

	scored, err := shardPasses(rt, workflowID, res.Run, func(shard int) AnalyticsShardInput {
		return AnalyticsShardInput{Pass: PassScore, Run: res.Run, At: at, Shard: shard, Version: fit.Version, Pages: pages[shard]}
	})
	if err != nil {
		return res, err
	}
	for _, s := range scored {
		res.Report.Add(s.Report)
		res.Written += s.Written
		res.Recorded += s.Recorded
	}
	err = rt.WithActivityOptions(pageActivityOptions()).ExecuteActivity(a.CompleteAnalyticsRefresh, activities.AnalyticsCompleteRequest{
		Version: fit.Version, Report: res.Report,
	}, nil)
	return res, err
}

// shardPasses runs one pass over every shard of the member index as child
// workflows of parent in parallel, and returns their totals by shard.
func shardPasses(rt Runtime, parent, run string, input func(shard int) AnalyticsShardInput) ([]AnalyticsShardTotal, error) {
	children := make([]ChildRun, store.MemberShards)
	for shard := range children {
		in := input(shard)
		children[shard] = rt.ExecuteChildWorkflow(shardWorkflowID(parent, in.Pass, shard), AnalyticsShardWorkflow, in)
	}
	out := make([]AnalyticsShardTotal, len(children))
	var errs []error
	for shard, c := range children {
		if err := c.Get(&out[shard]); err != nil {
			errs = append(errs, fmt.Errorf("shard %d: %w", shard, err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("analytics run %s: %w", run, errors.Join(errs...))
	}
	return out, nil
}

// shardWorkflowID is the workflow ID of a refresh's pass over a shard.
func shardWorkflowID(parent, pass string, shard int) string {
	return fmt.Sprintf("%s/%s/%02d", parent, pass, shard)
}

// AnalyticsShard runs one pass over one shard, a page per activity:
// collect reads the shard's members page by page from the member index
// and stores the pages worth keeping, numbered from 0; score scores those
// pages with the run's model version. It continues as new every
// pagesPerShardRun pages.
func AnalyticsShard(ctx workflow.Context, in AnalyticsShardInput) (AnalyticsShardTotal, error) {
	ctx = workflow.WithActivityOptions(ctx, pageActivityOptions())
	tot, next, err := RunAnalyticsShard(TemporalRuntime{Ctx: ctx}, in)
	if err == nil && next != nil {
		return tot, workflow.NewContinueAsNewError(ctx, AnalyticsShardWorkflow, *next)
	}
	return tot, err
}

// RunAnalyticsShard is AnalyticsShard on rt (whose activity options are
// pageActivityOptions'): next, when not nil, is the input the pass
// continues as new with.
func RunAnalyticsShard(rt Runtime, in AnalyticsShardInput) (AnalyticsShardTotal, *AnalyticsShardInput, error) {
	var a *activities.Activities
	tot := in.Totals
	for done := 0; ; done++ {
		if done == pagesPerShardRun {
			next := in
			next.Totals = tot
			return tot, &next, nil
		}
		switch in.Pass {
		case PassCollect:
			var out activities.AnalyticsCollectResult
			err := rt.ExecuteActivity(a.CollectAnalyticsPage, activities.AnalyticsCollectRequest{
				Run: in.Run, At: in.At, Shard: in.Shard, Page: in.Page, After: in.After, PageSize: in.PageSize,
			}, &out)
			if err != nil {
				return tot, nil, err
			}
			tot.Members += out.Members
			tot.Buyers += out.Buyers
			tot.Kept += out.Kept
			if out.Stored {
				in.Page++
				tot.Pages = in.Page
			}
			if out.Done {
				return tot, nil, nil
			}
			in.After = out.Next
		case PassScore:
			if in.Page >= in.Pages {
				return tot, nil, nil
			}
			var out activities.AnalyticsScoreResult
			err := rt.ExecuteActivity(a.ScoreAnalyticsPage, activities.AnalyticsScoreRequest{
				Run: in.Run, At: in.At, Version: in.Version, Shard: in.Shard, Page: in.Page,
			}, &out)
			if err != nil {
				return tot, nil, err
			}
			tot.Report.Add(out.Report)
			tot.Written += out.Written
			tot.Recorded += out.Recorded
			in.Page++
		default:
			return tot, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("analytics pass %q is not collect or score", in.Pass), "InvalidPass", nil)
		}
	}
}

// AnalyticsShardActivityOptions are the options RunAnalyticsShard's
// runtime runs its activities with.
func AnalyticsShardActivityOptions() workflow.ActivityOptions { return pageActivityOptions() }

// AnalyticsAt is when the refresh runs by default: 03:00 in the
// programme's time zone, after the day's orders and before the morning's
// journeys read the scores.
const AnalyticsAt = "03:00"

// EnsureAnalyticsSchedule creates or updates the Temporal Schedule
// analytics-refresh: every day at at (HH:MM) in the time zone zone (the
// programme's), starting AnalyticsRefresh with in; a run still going when
// the next is due makes the next skip.
func EnsureAnalyticsSchedule(ctx context.Context, c ScheduleClient, taskQueue string, in AnalyticsRefreshInput, at, zone string) error {
	h, m, err := journey.ParseClock(at)
	if err != nil {
		return fmt.Errorf("schedule %s: %w", AnalyticsScheduleID, err)
	}
	spec := client.ScheduleSpec{
		Calendars: []client.ScheduleCalendarSpec{{
			Hour: []client.ScheduleRange{{Start: h}}, Minute: []client.ScheduleRange{{Start: m}}, Second: []client.ScheduleRange{{Start: 0}},
		}},
		TimeZoneName: zone,
	}
	action := &client.ScheduleWorkflowAction{
		ID: AnalyticsScheduleID, Workflow: AnalyticsRefreshWorkflow, TaskQueue: taskQueue, Args: []any{in},
		WorkflowRunTimeout: 20 * time.Hour,
	}
	return ensureSchedule(ctx, c.ScheduleClient(), client.ScheduleOptions{
		ID: AnalyticsScheduleID, Spec: spec, Action: action, Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
}

// AnalyticsSchedule is the refresh's configuration: when it runs and what
// it starts with.
type AnalyticsSchedule struct {
	// At is the time of day (HH:MM, programme time zone).
	At    string
	Input AnalyticsRefreshInput
}

// AnalyticsScheduleFromEnv reads the refresh's configuration, with its
// defaults: MEMBERFLOW_ANALYTICS_AT (03:00), MEMBERFLOW_ANALYTICS_SAMPLE
// (100000 customers at most in a fit), MEMBERFLOW_ANALYTICS_PAGE (1000
// members a page activity) and MEMBERFLOW_ANALYTICS_MONTHLY_DISCOUNT
// (0.01, the CLV's discount rate a month). The worker and the local stack
// read it alike.
func AnalyticsScheduleFromEnv(getenv func(string) string) (AnalyticsSchedule, error) {
	s := AnalyticsSchedule{At: AnalyticsAt, Input: AnalyticsRefreshInput{
		SampleSize: scoring.DefaultSampleSize, PageSize: DefaultAnalyticsPageSize, Options: scoring.DefaultScoreOptions,
	}}
	var errs []error
	if v := getenv("MEMBERFLOW_ANALYTICS_AT"); v != "" {
		if _, _, err := journey.ParseClock(v); err != nil {
			errs = append(errs, fmt.Errorf("MEMBERFLOW_ANALYTICS_AT must be a time of day HH:MM such as 03:00, got %q", v))
		}
		s.At = v
	}
	for _, n := range []struct {
		env    string
		into   *int
		lo, hi int
	}{
		{"MEMBERFLOW_ANALYTICS_SAMPLE", &s.Input.SampleSize, 100, 10_000_000},
		{"MEMBERFLOW_ANALYTICS_PAGE", &s.Input.PageSize, 1, store.MaxAnalyticsPageRecords},
	} {
		v := getenv(n.env)
		if v == "" {
			continue
		}
		x, err := strconv.Atoi(v)
		if err != nil || x < n.lo || x > n.hi {
			errs = append(errs, fmt.Errorf("%s must be a whole number from %d to %d, got %q", n.env, n.lo, n.hi, v))
			continue
		}
		*n.into = x
	}
	if v := getenv("MEMBERFLOW_ANALYTICS_MONTHLY_DISCOUNT"); v != "" {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x < 0 || x >= 1 {
			errs = append(errs, fmt.Errorf("MEMBERFLOW_ANALYTICS_MONTHLY_DISCOUNT must be a rate from 0 up to 1 such as 0.01 (1%% a month), got %q", v))
		} else {
			s.Input.Options.MonthlyDiscount = x
		}
	}
	return s, errors.Join(errs...)
}
