package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/store"
)

// The activities of the nightly analytics refresh (workflows'
// AnalyticsRefresh): a first pass reads every member's journal page by
// page and keeps their records (CollectAnalyticsPage), the models are
// fitted on a sample of them and stored as a version (FitAnalyticsModel),
// a second pass scores every member with it (ScoreAnalyticsPage), and the
// version becomes current (CompleteAnalyticsRefresh). Each page is one
// activity; what it writes is keyed (page number, model version, event
// id), so a retry rewrites or refuses the same thing.

// AnalyticsParallel is how many members of a page an activity reads or
// writes at once: the work is DynamoDB round trips.
const AnalyticsParallel = 16

// analyticsHeartbeatAfter is how long a page runs before it heartbeats:
// a page of a thousand members takes a second or two and never does,
// so heartbeats (billed as Temporal actions) are paid only by a page
// that is slow, which is what they are there to watch.
const analyticsHeartbeatAfter = 10 * time.Second

// AnalyticsCollectRequest is one page of the first pass over one shard of
// the member index.
type AnalyticsCollectRequest struct {
	// Run names the refresh run; its pages carry it.
	Run string `json:"run"`
	// At is when the run started: members are scored as of the day
	// before (scoring.AsOf).
	At       time.Time `json:"at"`
	Shard    int       `json:"shard"`
	Page     int       `json:"page"`
	After    string    `json:"after"`
	PageSize int       `json:"page_size"`
}

// AnalyticsCollectResult is what one page found.
type AnalyticsCollectResult struct {
	// Members were read, Buyers of them have a purchase net of refunds,
	// Kept were stored for the second pass (buyers, and members whose
	// scores must be taken). Stored says a page was written.
	Members int  `json:"members"`
	Buyers  int  `json:"buyers"`
	Kept    int  `json:"kept"`
	Stored  bool `json:"stored"`
	// Next is the cursor of the next page; Done says there is none.
	Next string `json:"next"`
	Done bool   `json:"done"`
}

// CollectAnalyticsPage reads one page of the shard's members and each
// one's ledger journal, and stores the page's records (scoring.Record) of
// the members the second pass acts on.
func (a *Activities) CollectAnalyticsPage(ctx context.Context, req AnalyticsCollectRequest) (AnalyticsCollectResult, error) {
	p, err := a.analyticsProgram()
	if err != nil {
		return AnalyticsCollectResult{}, err
	}
	size := cmp.Or(req.PageSize, 1000)
	if size > store.MaxAnalyticsPageRecords {
		return AnalyticsCollectResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("page size %d: at most %d", size, store.MaxAnalyticsPageRecords), "InvalidPageSize", nil)
	}
	members, err := a.Store.MembersPage(ctx, req.Shard, req.After, size)
	if err != nil {
		return AnalyticsCollectResult{}, err
	}
	res := AnalyticsCollectResult{Members: len(members), Done: len(members) < size}
	if len(members) == 0 {
		return res, nil
	}
	res.Next = members[len(members)-1].ID
	asOf := scoring.AsOf(req.At, p.Location)
	recs := make([]scoring.Record, len(members))
	hb := newPacer(ctx)
	err = forEach(ctx, len(members), func(i int) error {
		if members[i].Erased() {
			// Not scored: their journal is not read, and the record
			// only takes scores they had (scoring.Record.Erased).
			recs[i] = scoring.NewRecord(members[i], nil, asOf, p.RFM.WindowDays)
			return nil
		}
		journal, err := a.Store.Journal(ctx, members[i].ID)
		if err != nil {
			return err
		}
		txs, err := scoring.Transactions(journal, p.Location)
		if err != nil {
			return fmt.Errorf("member %s: %w", members[i].ID, err)
		}
		recs[i] = scoring.NewRecord(members[i], txs, asOf, p.RFM.WindowDays)
		hb.beat(i)
		return nil
	})
	if err != nil {
		return AnalyticsCollectResult{}, err
	}
	var kept []scoring.Record
	for _, r := range recs {
		if r.Buyer {
			res.Buyers++
		}
		if r.Kept() {
			kept = append(kept, r)
		}
	}
	res.Kept = len(kept)
	if len(kept) > 0 {
		if err := a.Store.PutAnalyticsPage(ctx, store.AnalyticsPage{Run: req.Run, Shard: req.Shard, Page: req.Page, Records: kept}); err != nil {
			return AnalyticsCollectResult{}, err
		}
		res.Stored = true
	}
	return res, nil
}

// AnalyticsFitRequest fits the models on the first pass's records.
type AnalyticsFitRequest struct {
	Run string    `json:"run"`
	At  time.Time `json:"at"`
	// Pages is the number of pages the first pass numbered, by shard:
	// pages from 0 to Pages[shard]-1 written by Run hold the records.
	Pages []int `json:"pages"`
	// Members is how many members the first pass read.
	Members int `json:"members"`
	// SampleSize bounds the customers the models are fitted on (0:
	// scoring.DefaultSampleSize).
	SampleSize int `json:"sample_size"`
	// Options are what the scores look ahead to (zero:
	// scoring.DefaultScoreOptions).
	Options analytics.ScoreOptions `json:"options"`
}

// AnalyticsFitResult is the stored version, or why none was stored.
type AnalyticsFitResult struct {
	// Version is the stored model version (0 when refused).
	Version int `json:"version"`
	// Refused says why the fit was not stored; the current model stays.
	Refused   string `json:"refused,omitempty"`
	Customers int    `json:"customers"`
	Sample    int    `json:"sample_size"`
	Sampled   bool   `json:"sampled"`
}

// FitAnalyticsModel reads the run's records, draws the sample, fits the
// models and stores them as the next version. A fit the models refuse (it
// did not converge, or the data cannot identify them) is not stored and
// not an error: the result says why, and the refresh ends there.
func (a *Activities) FitAnalyticsModel(ctx context.Context, req AnalyticsFitRequest) (AnalyticsFitResult, error) {
	p, err := a.analyticsProgram()
	if err != nil {
		return AnalyticsFitResult{}, err
	}
	if len(req.Pages) != store.MemberShards {
		return AnalyticsFitResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("fit: pages of %d shards, want %d", len(req.Pages), store.MemberShards), "InvalidRequest", nil)
	}
	opts := req.Options
	if opts == (analytics.ScoreOptions{}) {
		opts = scoring.DefaultScoreOptions
	}
	sampler := scoring.NewSampler(cmp.Or(req.SampleSize, scoring.DefaultSampleSize), scoring.SampleSeed)
	for shard, n := range req.Pages {
		for after := -1; after < n-1; {
			pages, err := a.Store.ListAnalyticsPages(ctx, shard, after, min(n-1-after, 20))
			if err != nil {
				return AnalyticsFitResult{}, err
			}
			if len(pages) == 0 {
				break
			}
			for _, pg := range pages {
				if pg.Page < n && pg.Run == req.Run {
					for _, r := range pg.Records {
						sampler.Offer(r)
					}
				}
			}
			after = pages[len(pages)-1].Page
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, shard)
		}
	}
	asOf := scoring.AsOf(req.At, p.Location)
	res := AnalyticsFitResult{Customers: sampler.Customers()}
	sample := sampler.Sample()
	res.Sample, res.Sampled = len(sample), len(sample) < res.Customers
	fit, err := scoring.FitSample(sample, asOf, p.RFM.WindowDays, opts)
	if errors.Is(err, scoring.ErrRefused) {
		res.Refused = err.Error()
		a.log().WarnContext(ctx, "analytics fit refused; the current model stays", "run", req.Run, "customers", res.Customers, "reason", res.Refused)
		return res, nil
	}
	if err != nil {
		return AnalyticsFitResult{}, err
	}
	fit.Members, fit.Customers, fit.Sampled, fit.Currency = req.Members, res.Customers, res.Sampled, p.Currency
	m, created, err := a.Store.CreateAnalyticsModel(ctx, store.AnalyticsModel{Run: req.Run, FittedAt: a.now(), Fit: fit})
	if err != nil {
		return AnalyticsFitResult{}, err
	}
	res.Version = m.Version
	if created {
		bg := m.Model.BGNBD
		a.log().InfoContext(ctx, "analytics model stored", "version", m.Version, "run", req.Run, "customers", res.Customers, "sample", res.Sample,
			"r", bg.Params.R, "alpha", bg.Params.Alpha, "a", bg.Params.A, "b", bg.Params.B, "ll", bg.Fit.LogLikelihood)
	}
	return res, nil
}

// AnalyticsScoreRequest is one page of the second pass.
type AnalyticsScoreRequest struct {
	Run     string    `json:"run"`
	At      time.Time `json:"at"`
	Version int       `json:"version"`
	Shard   int       `json:"shard"`
	Page    int       `json:"page"`
}

// AnalyticsScoreResult is what scoring one page did.
type AnalyticsScoreResult struct {
	Report scoring.Report `json:"report"`
	// Written counts the members whose scores this attempt wrote (a
	// retry finds them written and counts fewer); Recorded the
	// member.segment_changed events it recorded new.
	Written  int `json:"written"`
	Recorded int `json:"recorded"`
}

// ScoreAnalyticsPage scores one page's members with the model version: it
// writes each member's scores keyed by the version, then records a
// member.segment_changed event for every member whose segment moved
// (under the source memberflow, with an id of the member and the version,
// so dispatch routes it once). Scores go first, so a journey condition on
// the event reads the member's new scores. A retry finds the same moves
// in the page (it holds each member's segment from before the run, not
// the one written), so it records the events an interrupted attempt did
// not, nothing twice, and writes no member again.
//
// An erased member's scores are taken without an event. A member the
// model fails to score keeps their previous scores and gets no event; the
// report counts them (Report.Failed) and the page goes on.
func (a *Activities) ScoreAnalyticsPage(ctx context.Context, req AnalyticsScoreRequest) (AnalyticsScoreResult, error) {
	p, err := a.analyticsProgram()
	if err != nil {
		return AnalyticsScoreResult{}, err
	}
	page, err := a.Store.GetAnalyticsPage(ctx, req.Shard, req.Page)
	if err != nil {
		return AnalyticsScoreResult{}, fmt.Errorf("score page %d/%d: %w", req.Shard, req.Page, err)
	}
	if page.Run != req.Run {
		return AnalyticsScoreResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("page %d/%d was written by run %s, not %s: another refresh ran meanwhile", req.Shard, req.Page, page.Run, req.Run), "PageOverwritten", nil)
	}
	m, err := a.Store.GetAnalyticsModel(ctx, req.Version)
	if err != nil {
		return AnalyticsScoreResult{}, fmt.Errorf("score page %d/%d: %w", req.Shard, req.Page, err)
	}
	var res AnalyticsScoreResult
	scores := make([]*loyalty.Scores, len(page.Records))
	failed := make([]bool, len(page.Records))
	var recorded []store.RecordedEvent
	for i, r := range page.Records {
		if scores[i], err = m.Score(r, req.Version, p.RFM); err != nil {
			failed[i] = true
			res.Report.Failed++
			// The member id only: the error names no personal data.
			a.log().WarnContext(ctx, "analytics: member not scored; previous scores kept", "member_id", r.MemberID,
				"version", req.Version, "shard", req.Shard, "page", req.Page, "err", err)
			continue
		}
		c, moved := scoring.ChangeOf(r, scores[i])
		res.Report.Count(scores[i], moved, scores[i] == nil)
		if !moved {
			continue
		}
		env, err := c.Event(req.Version, req.At)
		if err != nil {
			return AnalyticsScoreResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidEvent", nil)
		}
		recorded = append(recorded, store.RecordedEvent{Source: events.InternalSource, ID: env.ID, Type: string(env.Type), MemberID: env.MemberID,
			OccurredAt: env.OccurredAt, ReceivedAt: a.now(), Payload: env.Raw, Digest: env.Digest})
	}
	var mu sync.Mutex
	hb := newPacer(ctx)
	err = forEach(ctx, len(page.Records), func(i int) error {
		if failed[i] {
			return nil
		}
		r := page.Records[i]
		err := a.Store.SetMemberScores(ctx, r.MemberID, req.Version, scores[i])
		switch {
		case errors.Is(err, store.ErrDuplicate), errors.Is(err, store.ErrNotFound):
			// Written before (a retry), or the member is gone.
		case err != nil:
			return err
		default:
			mu.Lock()
			res.Written++
			mu.Unlock()
		}
		hb.beat(i)
		return nil
	})
	if err != nil {
		return AnalyticsScoreResult{}, err
	}
	// One conditional PutItem each: the events are independent, and a
	// transaction of many would cost twice the write units.
	err = forEach(ctx, len(recorded), func(i int) error {
		out, err := a.Store.PutEvents(ctx, recorded[i:i+1])
		if err != nil {
			return err
		}
		if len(out.Conflicts) > 0 {
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("segment change event %s was recorded before with other content", recorded[i].ID), "EventConflict", nil)
		}
		mu.Lock()
		res.Recorded += len(out.Accepted)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return AnalyticsScoreResult{}, err
	}
	return res, nil
}

// AnalyticsCompleteRequest ends a refresh whose scoring completed.
type AnalyticsCompleteRequest struct {
	Version int            `json:"version"`
	Report  scoring.Report `json:"report"`
}

// CompleteAnalyticsRefresh records the run's report with its model
// version and makes the version current: GET /v1/analytics/model and
// /v1/analytics/rfm read it.
func (a *Activities) CompleteAnalyticsRefresh(ctx context.Context, req AnalyticsCompleteRequest) error {
	return a.Store.CompleteAnalyticsModel(ctx, req.Version, req.Report, a.now())
}

// analyticsProgram is the programme the refresh scores by: its time zone
// (days), RFM window and segments, and currency.
func (a *Activities) analyticsProgram() (*loyalty.Program, error) {
	if a.Ledger == nil || a.Ledger.Rules.Program == nil {
		return nil, errors.New("analytics: no ledger configured")
	}
	return a.Ledger.Rules.Program, nil
}

// forEach runs fn for 0..n-1 on up to AnalyticsParallel goroutines and
// returns the first error (the others stop taking work).
func forEach(ctx context.Context, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, AnalyticsParallel) {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// pacer heartbeats a long page's progress, once it has run for
// analyticsHeartbeatAfter.
type pacer struct {
	ctx   context.Context
	start time.Time
}

func newPacer(ctx context.Context) *pacer { return &pacer{ctx: ctx, start: time.Now()} }

func (p *pacer) beat(progress int) {
	if activity.IsActivity(p.ctx) && time.Since(p.start) >= analyticsHeartbeatAfter {
		// The SDK sends at most one every 80% of the heartbeat timeout.
		activity.RecordHeartbeat(p.ctx, progress)
	}
}
