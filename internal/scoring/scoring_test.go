package scoring_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/analytics"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
	"github.com/memberflow/memberflow/templates"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// journalEvent is the journal record of an event as the ledger keeps it.
func journalEvent(t *testing.T, typ events.Type, id string, at time.Time, data any) loyalty.Recorded {
	t.Helper()
	d, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(events.Envelope{ID: id, Version: 1, Type: typ, OccurredAt: at, MemberID: "m-1", Data: d})
	if err != nil {
		t.Fatal(err)
	}
	return loyalty.Recorded{Cause: id, Kind: loyalty.InputEvent, At: at, Params: raw}
}

func paid(t *testing.T, order, amount string, at time.Time) loyalty.Recorded {
	return journalEvent(t, events.OrderPaid, "pay-"+order, at, events.OrderPaidData{OrderID: order, Amount: dec(amount), Currency: "CNY"})
}

func refunded(t *testing.T, order, refund, amount string, at time.Time) loyalty.Recorded {
	return journalEvent(t, events.OrderRefunded, "ref-"+refund, at, events.OrderRefundedData{OrderID: order, RefundID: refund, Amount: dec(amount), Currency: "CNY"})
}

func TestTransactionsAreOrdersNetOfRefunds(t *testing.T) {
	day := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	recs := []loyalty.Recorded{
		refunded(t, "o2", "r1", "30.00", day(2026, 3, 5, 9)),
		paid(t, "o1", "100.00", day(2026, 3, 1, 9)),
		// 23:00 UTC is 07:00 the next day in Shanghai.
		paid(t, "o2", "80.00", day(2026, 3, 1, 23)),
		paid(t, "o3", "50.00", day(2026, 3, 10, 9)),
		refunded(t, "o3", "r2", "20.00", day(2026, 3, 11, 9)),
		refunded(t, "o3", "r3", "30.00", day(2026, 3, 12, 9)),
		refunded(t, "o-unknown", "r4", "10.00", day(2026, 3, 12, 9)),
		journalEvent(t, events.MemberRegistered, "reg", day(2026, 1, 1, 0), events.MemberRegisteredData{Email: "a@example.com", Name: "A"}),
		{Cause: "coupon-key", Kind: loyalty.InputCoupon, At: day(2026, 2, 1, 0), Params: json.RawMessage(`{"kind":"C15","why":"x"}`)},
	}
	got, err := scoring.Transactions(recs, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	want := []analytics.Transaction{
		{Day: analytics.DayFromDate(2026, 3, 1), Amount: dec("100.00")},
		{Day: analytics.DayFromDate(2026, 3, 2), Amount: dec("50.00")},
	}
	if !slices.EqualFunc(got, want, func(a, b analytics.Transaction) bool { return a.Day == b.Day && a.Amount.Equal(b.Amount) }) {
		t.Errorf("transactions = %v, want %v (o3 refunded in full is no purchase)", got, want)
	}
	if _, err := scoring.Transactions([]loyalty.Recorded{{Cause: "x", Kind: loyalty.InputEvent, Params: json.RawMessage(`{`)}}, shanghai); err == nil {
		t.Error("a broken journal record gave no error")
	}
}

func TestAsOfIsTheLastFullDayInTheProgrammeZone(t *testing.T) {
	// 03:00 in Shanghai on 6 December is 19:00 UTC on the 5th.
	at := time.Date(2026, 12, 5, 19, 0, 0, 0, time.UTC)
	if got, want := scoring.AsOf(at, shanghai), analytics.DayFromDate(2026, 12, 5); got != want {
		t.Errorf("AsOf = %s, want %s", got, want)
	}
}

func TestNewRecord(t *testing.T) {
	asOf := analytics.DayFromDate(2026, 12, 5)
	txs := []analytics.Transaction{
		{Day: asOf - 400, Amount: dec("30")},
		{Day: asOf - 100, Amount: dec("50")},
		{Day: asOf - 10, Amount: dec("70")},
		{Day: asOf + 1, Amount: dec("999")}, // after the day: not counted
	}
	m := loyalty.Member{ID: "m-1", Scores: &loyalty.Scores{RFM: loyalty.RFMScores{Segment: "loyal"}, Analytics: loyalty.ScoresInfo{ModelVersion: 4}}}
	r := scoring.NewRecord(m, txs, asOf, 365)
	want := scoring.Record{MemberID: "m-1", Buyer: true, X: 2, TX: 390, T: 400, MX: dec("60"),
		Recency: 10, Frequency: 2, Monetary: dec("120"), Segment: "loyal", ScoredBy: 4}
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Errorf("record = %+v\nwant     %+v", r, want)
	}
	if s, _ := analytics.Summarise(txs, asOf, scoring.Period); fmt.Sprint(r.Summary()) != fmt.Sprint(s) {
		t.Errorf("Summary = %+v, want analytics' %+v", r.Summary(), s)
	}
	none := scoring.NewRecord(loyalty.Member{ID: "m-2"}, nil, asOf, 365)
	if none.Buyer || none.Kept() {
		t.Errorf("a member who never bought: %+v kept %v", none, none.Kept())
	}
	gone := scoring.NewRecord(m, nil, asOf, 365)
	if gone.Buyer || !gone.Kept() || gone.Segment != "loyal" {
		t.Errorf("a scored member without a purchase now: %+v kept %v, want kept to clear the scores", gone, gone.Kept())
	}
	// The record goes through a stored page as JSON.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back scoring.Record
	if err := json.Unmarshal(b, &back); err != nil || fmt.Sprint(back) != fmt.Sprint(r) {
		t.Errorf("round trip %s = %+v (%v)", b, back, err)
	}
}

// records simulates a shop and returns its members' records as of the
// end of the simulation.
func records(t testing.TB, seed uint64, n int) ([]scoring.Record, analytics.Day) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	shop := shopfix.Simulate(seed, shopfix.Shop, n, "m", start, 720)
	asOf := analytics.DayOf(start) + 719
	out := make([]scoring.Record, len(shop))
	for i, c := range shop {
		var txs []analytics.Transaction
		for _, o := range c.Orders {
			txs = append(txs, analytics.Transaction{Day: analytics.DayOf(o.At), Amount: o.Amount})
		}
		out[i] = scoring.NewRecord(loyalty.Member{ID: c.ID}, txs, asOf, 365)
	}
	return out, asOf
}

func TestSamplerDrawsTheSameUniformSampleInAnyOrder(t *testing.T) {
	recs, _ := records(t, 7, 4000)
	recs = append(recs, scoring.Record{MemberID: "never-bought"})
	all := scoring.NewSampler(10_000, "run-1")
	for _, r := range recs {
		all.Offer(r)
	}
	if got := len(all.Sample()); got != 4000 || all.Customers() != 4000 {
		t.Fatalf("k above the buyers: %d sampled of %d, want every buyer", got, all.Customers())
	}
	draw := func(seed string, order []scoring.Record) []string {
		s := scoring.NewSampler(500, seed)
		for _, r := range order {
			s.Offer(r)
		}
		var ids []string
		for _, r := range s.Sample() {
			ids = append(ids, r.MemberID)
		}
		return ids
	}
	reversed := slices.Clone(recs)
	slices.Reverse(reversed)
	a, b := draw("run-1", recs), draw("run-1", reversed)
	if len(a) != 500 || !slices.Equal(a, b) {
		t.Fatalf("sample of %d depends on the order records come in", len(a))
	}
	if c := draw("run-2", recs); slices.Equal(a, c) {
		t.Error("another run drew the same sample")
	}
	// Uniform: about half of the sample from each half of the ids.
	first := 0
	for _, id := range a {
		if id < "m-2000" {
			first++
		}
	}
	if share := float64(first) / 500; math.Abs(share-0.5) > 0.08 {
		t.Errorf("%.2f of the sample from the first half of the members, want about 0.5", share)
	}
}

func TestFitSampleMatchesTheModelsAndScores(t *testing.T) {
	recs, asOf := records(t, 11, 3000)
	fit, err := scoring.FitSample(recs, asOf, 365, scoring.DefaultScoreOptions)
	if err != nil {
		t.Fatal(err)
	}
	var summaries []analytics.Summary
	var values []analytics.RFMValues
	for _, r := range recs {
		if r.Buyer {
			summaries = append(summaries, r.Summary())
			values = append(values, r.RFMValues())
		}
	}
	direct, err := analytics.Fit(summaries, asOf, scoring.Period, analytics.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fit.Model.BGNBD.Params != direct.BGNBD.Params || fit.Model.GammaGamma.Params != direct.GammaGamma.Params || fit.Sample != len(summaries) {
		t.Errorf("fit %+v on %d, want analytics.Fit's %+v on %d", fit.Model.BGNBD.Params, fit.Sample, direct.BGNBD.Params, len(summaries))
	}
	q, err := analytics.NewRFMQuintiles(values, asOf, 365)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(fit.Quintiles) != fmt.Sprint(q) {
		t.Errorf("quintiles %+v, want %+v", fit.Quintiles, q)
	}

	prog, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		t.Fatal(err)
	}
	fit.Currency = prog.Currency
	var rep scoring.Report
	for _, r := range recs[:200] {
		s, err := fit.Score(r, 7, prog.RFM)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Buyer {
			if s != nil {
				t.Errorf("%s never bought but has scores %+v", r.MemberID, s)
			}
			continue
		}
		want, err := direct.Score(r.Summary(), scoring.DefaultScoreOptions)
		if err != nil {
			t.Fatal(err)
		}
		rr, ff, mm := q.Scores(r.RFMValues())
		if math.Abs(s.PAlive-want.PAlive) > 5e-5 || math.Abs(s.ExpectedOrders90d-want.ExpectedTransactions) > 5e-5 || !s.CLV12m.Equal(want.CLV) ||
			s.RFM != (loyalty.RFMScores{R: rr, F: ff, M: mm, Segment: prog.RFM.Segment(rr, ff, mm)}) ||
			s.Analytics != (loyalty.ScoresInfo{ModelVersion: 7, AsOf: asOf.String(), Currency: "CNY"}) {
			t.Fatalf("%s: scores %+v, want %+v with RFM %d %d %d", r.MemberID, s, want, rr, ff, mm)
		}
		_, moved := scoring.ChangeOf(r, s)
		rep.Count(s, moved, false)
	}
	if rep.Scored == 0 || rep.Changed != rep.Scored {
		t.Errorf("report %+v: every first scoring is a move from \"\"", rep)
	}
	cells := 0
	for _, row := range rep.Grid {
		for _, n := range row {
			cells += n
		}
	}
	segs := 0
	for _, n := range rep.Segments {
		segs += n
	}
	if cells != rep.Scored || segs != rep.Scored {
		t.Errorf("grid holds %d and segments %d of %d scored", cells, segs, rep.Scored)
	}
}

func TestFitSampleRefusesWhatCannotBeFitted(t *testing.T) {
	asOf := analytics.DayFromDate(2026, 12, 5)
	var onlyFirsts []scoring.Record
	for i := range 300 {
		onlyFirsts = append(onlyFirsts, scoring.Record{MemberID: fmt.Sprint(i), Buyer: true, T: float64(i % 200), Recency: i % 200, Frequency: 1, Monetary: dec("10")})
	}
	for name, recs := range map[string][]scoring.Record{
		"nobody bought":         {{MemberID: "a"}},
		"nobody bought twice":   onlyFirsts,
		"no records at all":     nil,
		"one repeat buyer only": append(slices.Clone(onlyFirsts), scoring.Record{MemberID: "r", Buyer: true, X: 1, TX: 5, T: 50, MX: dec("10"), Recency: 45, Frequency: 2, Monetary: dec("20")}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := scoring.FitSample(recs, asOf, 365, scoring.DefaultScoreOptions)
			if !errors.Is(err, scoring.ErrRefused) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

func TestSegmentChangeEvent(t *testing.T) {
	at := time.Date(2026, 12, 5, 19, 0, 0, 0, time.UTC)
	r := scoring.Record{MemberID: "m-1", Segment: "loyal", ScoredBy: 6}
	s := &loyalty.Scores{RFM: loyalty.RFMScores{R: 2, F: 4, M: 3, Segment: "at_risk"}}
	c, moved := scoring.ChangeOf(r, s)
	if !moved || c != (scoring.Change{MemberID: "m-1", From: "loyal", To: "at_risk"}) {
		t.Fatalf("change = %+v, %v", c, moved)
	}
	env, err := c.Event(7, at)
	if err != nil {
		t.Fatal(err)
	}
	if env.ID != "rfm:7:m-1" || env.Type != events.MemberSegmentChanged || !env.OccurredAt.Equal(at) || !strings.Contains(string(env.Raw), `"from":"loyal","to":"at_risk"`) {
		t.Errorf("event = %+v %s", env, env.Raw)
	}
	if _, moved := scoring.ChangeOf(scoring.Record{MemberID: "m-1", Segment: "at_risk"}, s); moved {
		t.Error("same segment counted as a move")
	}
	if c, moved := scoring.ChangeOf(r, nil); !moved || c.To != "" {
		t.Errorf("scores taken: %+v %v, want a move to \"\"", c, moved)
	}
	long := strings.Repeat("m", 128)
	if id := scoring.EventID(12, long); len(id) > 128 || !strings.HasPrefix(id, "rfm:12:") || id == scoring.EventID(12, long+"x") {
		t.Errorf("EventID of a long member id = %q", id)
	}
}

func TestReportAddsUp(t *testing.T) {
	var a, b scoring.Report
	a.Count(&loyalty.Scores{RFM: loyalty.RFMScores{R: 5, F: 5, M: 5, Segment: "champions"}}, true, false)
	a.Count(nil, true, true)
	b.Count(&loyalty.Scores{RFM: loyalty.RFMScores{R: 1, F: 2, M: 1, Segment: "lost"}}, false, false)
	b.Count(&loyalty.Scores{RFM: loyalty.RFMScores{R: 5, F: 5, M: 4, Segment: "champions"}}, false, false)
	a.Add(b)
	if a.Scored != 3 || a.Changed != 2 || a.Cleared != 1 || a.Segments["champions"] != 2 || a.Segments["lost"] != 1 || a.Grid[4][4] != 2 || a.Grid[0][1] != 1 {
		t.Errorf("report = %+v", a)
	}
}
