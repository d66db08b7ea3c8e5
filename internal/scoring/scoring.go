// Package scoring is the pure part of the nightly analytics refresh: it
// turns a member's ledger journal into their purchases net of refunds,
// keeps what the refresh needs of each member between its two passes (a
// Record), draws the random sample the models are fitted on, fits them
// (internal/analytics), scores each member into the loyalty.Scores the
// member document carries, and counts the segments and the R × F grid the
// API reports. It imports no AWS, Temporal or SendGrid; activities and
// workflows do the reading, writing and pacing.
//
// A refresh scores members as of one day, AsOf: the last full day in the
// programme's time zone before the run started. Orders count on the day
// they were paid in that zone; a refund takes its amount off its order's
// day, and an order refunded in full is no purchase.
package scoring

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// Period is the time unit of the refresh's BG/NBD model: days, so a
// weekly and a twice-weekly buyer are told apart.
const Period = analytics.PeriodDay

// DefaultScoreOptions are what the member fields are named after: orders
// expected in the next 90 days, lifetime value over 12 months; discounted
// at 1% a month.
var DefaultScoreOptions = analytics.ScoreOptions{HorizonDays: 90, CLVMonths: 12, MonthlyDiscount: 0.01}

// AsOf is the day a refresh started at at scores members as of: the day
// before at's own day in the programme's time zone loc, the last one
// complete.
func AsOf(at time.Time, loc *time.Location) analytics.Day {
	return analytics.DayOf(at.In(loc)) - 1
}

// Transactions are the member's purchases net of refunds, from their
// ledger journal: one per paid order, on the order's day in loc, its
// amount less what the order's refunds took. An order refunded in full,
// and a refund of an order the journal does not hold, are left out. The
// order of recs does not matter; the result is in day order.
func Transactions(recs []loyalty.Recorded, loc *time.Location) ([]analytics.Transaction, error) {
	type order struct {
		day    analytics.Day
		amount decimal.Decimal
	}
	orders := map[string]*order{}
	refunds := map[string]decimal.Decimal{}
	for _, rec := range recs {
		if rec.Kind != loyalty.InputEvent {
			continue
		}
		var env events.Envelope
		if err := json.Unmarshal(rec.Params, &env); err != nil {
			return nil, fmt.Errorf("journal record %s: %w", rec.Cause, err)
		}
		if env.Type != events.OrderPaid && env.Type != events.OrderRefunded {
			continue
		}
		data, err := env.DecodeData()
		if err != nil {
			return nil, fmt.Errorf("journal record %s: %w", rec.Cause, err)
		}
		switch d := data.(type) {
		case *events.OrderPaidData:
			orders[d.OrderID] = &order{day: analytics.DayOf(env.OccurredAt.In(loc)), amount: d.Amount}
		case *events.OrderRefundedData:
			refunds[d.OrderID] = refunds[d.OrderID].Add(d.Amount)
		}
	}
	var out []analytics.Transaction
	for id, o := range orders {
		net := o.amount.Sub(refunds[id])
		if net.IsPositive() {
			out = append(out, analytics.Transaction{Day: o.day, Amount: net})
		}
	}
	slices.SortFunc(out, func(a, b analytics.Transaction) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), a.Amount.Cmp(b.Amount))
	})
	return out, nil
}

// Record is what the refresh keeps of one member between its passes: the
// BG/NBD and Gamma-Gamma summary and the RFM measures as of the run's day,
// and the segment and model version the member had before the run. Its
// JSON is terse because a page of them is one stored item.
type Record struct {
	MemberID string `json:"id"`
	// Buyer says the member has a purchase net of refunds on or before
	// the day; the fields up to Monetary are zero otherwise.
	Buyer bool `json:"b,omitempty"`
	// X, TX, T and MX are analytics.Summary's x, tₓ, T (in Period) and
	// mₓ.
	X  int             `json:"x,omitempty"`
	TX float64         `json:"tx,omitempty"`
	T  float64         `json:"T,omitempty"`
	MX decimal.Decimal `json:"mx,omitzero"`
	// Recency, Frequency and Monetary are analytics.RFMValues.
	Recency   int             `json:"r,omitempty"`
	Frequency int             `json:"f,omitempty"`
	Monetary  decimal.Decimal `json:"m,omitzero"`
	// Segment and ScoredBy are the member's segment and the model
	// version that scored them before this run ("" and 0: never scored).
	Segment  string `json:"seg,omitempty"`
	ScoredBy int    `json:"v,omitempty"`
	// Erased says the member's personal data was erased
	// (loyalty.Member.Erased): they are not scored, and scores they had
	// are taken without a member.segment_changed event.
	Erased bool `json:"e,omitempty"`
}

// NewRecord is the member's record as of asOf, from their purchases net
// of refunds (Transactions), over an RFM window of windowDays.
func NewRecord(m loyalty.Member, txs []analytics.Transaction, asOf analytics.Day, windowDays int) Record {
	r := Record{MemberID: m.ID, Segment: m.Segment(), ScoredBy: m.ScoredBy()}
	if m.Erased() {
		// Neither scored nor sampled: kept only to take scores they had.
		r.Erased = true
		return r
	}
	s, ok := analytics.Summarise(txs, asOf, Period)
	if !ok {
		return r
	}
	v, _ := analytics.RFMValuesOf(txs, asOf, windowDays)
	r.Buyer = true
	r.X, r.TX, r.T, r.MX = s.Frequency, s.Recency, s.Age, s.MeanRepeatSpend
	r.Recency, r.Frequency, r.Monetary = v.RecencyDays, v.Frequency, v.Monetary
	return r
}

// Kept reports whether the second pass has anything to do for the member:
// score a buyer, or take the scores of a member who no longer has a
// purchase. Other records need not be stored.
func (r Record) Kept() bool { return r.Buyer || r.ScoredBy > 0 }

// Summary is the record's analytics.Summary.
func (r Record) Summary() analytics.Summary {
	return analytics.Summary{Frequency: r.X, Recency: r.TX, Age: r.T, MeanRepeatSpend: r.MX}
}

// RFMValues is the record's analytics.RFMValues.
func (r Record) RFMValues() analytics.RFMValues {
	return analytics.RFMValues{RecencyDays: r.Recency, Frequency: r.Frequency, Monetary: r.Monetary}
}

// Fit is one fitted model version's content: the models, the RFM
// breakpoints and what they were taken over. Stored as a version, it
// scores every member of its run.
type Fit struct {
	// AsOf is the day members are scored as of, and the models'
	// calibration end.
	AsOf      analytics.Day          `json:"as_of"`
	Model     analytics.Model        `json:"model"`
	Quintiles analytics.RFMQuintiles `json:"rfm_quintiles"`
	Options   analytics.ScoreOptions `json:"score_options"`
	// Members is how many members the run read; Customers how many of
	// them had a purchase net of refunds on or before AsOf; Sample how
	// many of those the models and the RFM breakpoints were taken over
	// (all of them unless Sampled).
	Members   int  `json:"members"`
	Customers int  `json:"customers"`
	Sample    int  `json:"sample_size"`
	Sampled   bool `json:"sampled"`
	// Currency is the currency of the lifetime values.
	Currency string `json:"currency"`
}

// ErrRefused wraps every reason a fit is not stored: the models did not
// converge (analytics.NotConvergedError), or the data cannot identify
// them.
var ErrRefused = errors.New("fit refused")

// FitSample fits the models and takes the RFM breakpoints over the sample's
// buyers as of asOf. A fit that does not converge, or whose Gamma-Gamma
// model has no finite mean spend (so a member without repeat purchases
// could not be valued), is refused: the error wraps ErrRefused and says
// why, and nothing should be stored.
func FitSample(sample []Record, asOf analytics.Day, windowDays int, opts analytics.ScoreOptions) (Fit, error) {
	summaries := make([]analytics.Summary, 0, len(sample))
	values := make([]analytics.RFMValues, 0, len(sample))
	for _, r := range sample {
		if r.Buyer {
			summaries = append(summaries, r.Summary())
			values = append(values, r.RFMValues())
		}
	}
	if len(summaries) == 0 {
		return Fit{}, fmt.Errorf("%w: no member has a purchase net of refunds on or before %s", ErrRefused, asOf)
	}
	m, err := analytics.Fit(summaries, asOf, Period, analytics.FitOptions{})
	if err != nil {
		return Fit{}, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	// Every member is valued, those without a repeat purchase at the
	// population's mean spend, which exists only for q > 1.
	if _, err := m.Score(analytics.Summary{}, opts); err != nil {
		return Fit{}, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	q, err := analytics.NewRFMQuintiles(values, asOf, windowDays)
	if err != nil {
		// Nobody bought in the window: every buyer's purchases precede
		// it, and they all score 1, 1, 1 (zero breakpoints do that).
		q = analytics.RFMQuintiles{AsOf: asOf, WindowDays: windowDays}
	}
	return Fit{AsOf: asOf, Model: m, Quintiles: q, Options: opts, Sample: len(summaries)}, nil
}

// Score is a record's scores under the fit, stored as model version; nil
// for a member without a purchase, who has none.
func (f Fit) Score(r Record, version int, seg analytics.Segmenter) (*loyalty.Scores, error) {
	if !r.Buyer || r.Erased {
		return nil, nil
	}
	s, err := f.Model.Score(r.Summary(), f.Options)
	if err != nil {
		return nil, fmt.Errorf("score %s: %w", r.MemberID, err)
	}
	rr, ff, mm := f.Quintiles.Scores(r.RFMValues())
	return &loyalty.Scores{
		RFM:               loyalty.RFMScores{R: rr, F: ff, M: mm, Segment: seg.Segment(rr, ff, mm)},
		PAlive:            round(s.PAlive),
		ExpectedOrders90d: round(s.ExpectedTransactions),
		CLV12m:            s.CLV,
		Analytics:         loyalty.ScoresInfo{ModelVersion: version, AsOf: f.AsOf.String(), Currency: f.Currency},
	}, nil
}

// round keeps four decimals: the models are not more precise than that,
// and a stored score reads the same wherever it is shown.
func round(v float64) float64 {
	f, _ := decimal.NewFromFloat(v).Round(4).Float64()
	return f
}

// SampleSeed seeds every refresh's sample (NewSampler): the same seed each
// night draws the same members, so the sample, and the RFM breakpoints
// taken over it, change only as members join, leave or buy, and
// identical data gives identical segments.
const SampleSeed = "analytics-refresh"

// Change is a member's move between segments, the data of the
// member.segment_changed event a refresh records.
type Change struct {
	MemberID string
	From, To string
}

// ChangeOf is the record's move under its new scores (nil: none), and
// whether there is one. A member scored for the first time moves from "";
// one who no longer has a purchase moves to "".
func ChangeOf(r Record, s *loyalty.Scores) (Change, bool) {
	if r.Erased {
		// An erased member's scores go quietly: no journey is to act on
		// them.
		return Change{MemberID: r.MemberID}, false
	}
	to := ""
	if s != nil {
		to = s.RFM.Segment
	}
	return Change{MemberID: r.MemberID, From: r.Segment, To: to}, to != r.Segment
}

// maxEventID is the longest event id the envelope allows.
const maxEventID = 128

// EventID is the id of the member.segment_changed event of a member's move
// under model version: "rfm:<version>:<member id>", the same however
// often a page is retried, so the event is recorded once. A member id too
// long for it is replaced by its digest.
func EventID(version int, memberID string) string {
	id := fmt.Sprintf("rfm:%d:%s", version, memberID)
	if len(id) <= maxEventID {
		return id
	}
	return fmt.Sprintf("rfm:%d:%s", version, digest(memberID))
}

// Event is the member.segment_changed event of the move, at the run's
// start at, under model version.
func (c Change) Event(version int, at time.Time) (events.Envelope, error) {
	return events.NewInternal(events.MemberSegmentChanged, EventID(version, c.MemberID), c.MemberID, at,
		events.MemberSegmentChangedData{From: c.From, To: c.To})
}

// Report is what a refresh's scoring found: the members scored, the size
// of each segment, the R × F grid, and the moves between segments. The
// API's GET /v1/analytics/rfm shows it; pages' reports add up.
type Report struct {
	// Scored counts the members given scores.
	Scored int `json:"scored"`
	// Segments counts the scored members by segment code.
	Segments map[string]int `json:"segments"`
	// Grid counts them by scores: Grid[r-1][f-1] members have recency
	// score r and frequency score f.
	Grid [5][5]int `json:"grid"`
	// Changed counts members whose segment moved (a first scoring
	// included); Cleared those whose scores were taken because they no
	// longer have a purchase.
	Changed int `json:"changed"`
	Cleared int `json:"cleared"`
	// Failed counts members the model could not score: they keep their
	// previous scores, and the rest of the run goes on.
	Failed int `json:"failed,omitempty"`
}

// Count adds one member's outcome: their new scores (nil: none) and
// whether their segment moved.
func (rep *Report) Count(s *loyalty.Scores, moved, cleared bool) {
	if moved {
		rep.Changed++
	}
	if cleared {
		rep.Cleared++
	}
	if s == nil {
		return
	}
	rep.Scored++
	if rep.Segments == nil {
		rep.Segments = map[string]int{}
	}
	rep.Segments[s.RFM.Segment]++
	if r, f := s.RFM.R, s.RFM.F; r >= 1 && r <= 5 && f >= 1 && f <= 5 {
		rep.Grid[r-1][f-1]++
	}
}

// Add adds another report's counts to rep.
func (rep *Report) Add(o Report) {
	rep.Scored += o.Scored
	rep.Changed += o.Changed
	rep.Cleared += o.Cleared
	rep.Failed += o.Failed
	for _, k := range sortedKeys(o.Segments) {
		if rep.Segments == nil {
			rep.Segments = map[string]int{}
		}
		rep.Segments[k] += o.Segments[k]
	}
	for r := range rep.Grid {
		for f := range rep.Grid[r] {
			rep.Grid[r][f] += o.Grid[r][f]
		}
	}
}

// sortedKeys returns m's keys in order, so that summing in a workflow
// does not depend on map order.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	// The keys are sorted before use, so the map's order does not leak.
	//workflowcheck:ignore
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
