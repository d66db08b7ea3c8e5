package analytics

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
)

// cdnowModel is the CDNOW fit rounded as the literature reports it.
var cdnowModel = Model{
	Period:         PeriodWeek,
	CalibrationEnd: DayFromDate(1997, 9, 30),
	BGNBD:          BGNBD{Params: BGNBDParams{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}},
	GammaGamma:     GammaGamma{Params: GammaGammaParams{P: 6.25, Q: 3.74, V: 15.44}},
}

// TestCLV checks the lifetime value sum: undiscounted, it is the expected
// transactions over the whole span times the expected spend; discounting
// weighs month k by 1/(1+d)^k, which for a customer who is certain to be
// gone makes no difference, and otherwise lowers it.
func TestCLV(t *testing.T) {
	s := Summary{Frequency: 2, Recency: 30.43, Age: 38.86, MeanRepeatSpend: decimal.RequireFromString("22.345")}
	m := cdnowModel
	spend, err := m.GammaGamma.Params.ExpectedSpend(s)
	if err != nil {
		t.Fatal(err)
	}
	year, err := m.BGNBD.Params.ExpectedTransactions(s, 12*daysPerMonth/7)
	if err != nil {
		t.Fatal(err)
	}
	undiscounted, err := m.CLV(s, 12, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := money(year * spend); !undiscounted.Equal(want) {
		t.Errorf("CLV at 0%% = %s, want E[Y(12 months)]·E[M] = %s", undiscounted, want)
	}
	// By hand for one month at 1%: E[Y(1 month)]·E[M]/1.01.
	month, _ := m.BGNBD.Params.ExpectedTransactions(s, daysPerMonth/7)
	oneMonth, _ := m.CLV(s, 1, 0.01)
	if want := money(month * spend / 1.01); !oneMonth.Equal(want) {
		t.Errorf("CLV over 1 month at 1%% = %s, want %s", oneMonth, want)
	}
	discounted, _ := m.CLV(s, 12, 0.01)
	if !discounted.LessThan(undiscounted) || !discounted.IsPositive() {
		t.Errorf("CLV at 1%% = %s, undiscounted %s", discounted, undiscounted)
	}
	if none, _ := m.CLV(s, 0, 0.01); !none.IsZero() {
		t.Errorf("CLV over 0 months = %s", none)
	}
	if _, err := m.CLV(s, 12, -1); err == nil {
		t.Error("a discount of -100% is accepted")
	}
}

// TestScoreInDays checks that a model fitted in weeks and one fitted in
// days say the same about a customer when their parameters describe the
// same process (α in days is 7 times α in weeks; r, a, b do not change).
func TestScoreInDays(t *testing.T) {
	weeks := cdnowModel
	days := weeks
	days.Period = PeriodDay
	days.BGNBD.Params.Alpha *= 7
	opts := ScoreOptions{HorizonDays: 90, CLVMonths: 12, MonthlyDiscount: 0.01}
	sw := Summary{Frequency: 3, Recency: 20, Age: 35, MeanRepeatSpend: decimal.NewFromInt(30)}
	sd := Summary{Frequency: 3, Recency: 140, Age: 245, MeanRepeatSpend: decimal.NewFromInt(30)}
	a, err := weeks.Score(sw, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := days.Score(sd, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !closeTo(a.PAlive, b.PAlive, 1e-12) || !closeTo(a.ExpectedTransactions, b.ExpectedTransactions, 1e-10) || !a.CLV.Equal(b.CLV) || !a.ExpectedSpend.Equal(b.ExpectedSpend) {
		t.Errorf("weeks %+v, days %+v", a, b)
	}
	if a.PAlive <= 0 || a.PAlive >= 1 || a.ExpectedTransactions <= 0 || !a.CLV.IsPositive() {
		t.Errorf("score %+v", a)
	}
}

func TestModelJSON(t *testing.T) {
	ss := cdnowCalibration(t)
	m, err := Fit(ss, DayFromDate(1997, 9, 30), PeriodWeek, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("round trip:\n%+v\n%+v", back, m)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	if fields["period"] != "week" || fields["calibration_end"] != "1997-09-30" {
		t.Errorf("json = %s", b)
	}
}

// TestFitRefuses checks that fits the data cannot support are errors, not
// models: no repeat buyers at all; every customer still buying at the end,
// where the likelihood keeps rising as b → ∞ (no strict maximum); and
// everyone spending exactly the same, where q and v run off together.
func TestFitRefuses(t *testing.T) {
	noRepeat := []Summary{{Frequency: 0, Age: 10}, {Frequency: 0, Age: 20}}
	if _, err := Fit(noRepeat, 0, PeriodWeek, FitOptions{}); err == nil {
		t.Error("fit without repeat buyers: no error")
	}
	var stillBuying []Summary
	for i := range 300 {
		T := float64(20 + i%20)
		stillBuying = append(stillBuying, Summary{Frequency: 1 + i%7, Recency: T, Age: T, MeanRepeatSpend: decimal.NewFromInt(10)})
	}
	var nc *NotConvergedError
	_, err := FitBGNBD(stillBuying, FitOptions{})
	if !errors.As(err, &nc) || nc.Model != "bgnbd" {
		t.Errorf("no dropout in the data: err = %v, want a refused bgnbd fit", err)
	}
	_, err = FitGammaGamma(stillBuying, FitOptions{})
	if !errors.As(err, &nc) || nc.Model != "gammagamma" {
		t.Errorf("one spend for all: err = %v, want a refused gammagamma fit", err)
	}
	if _, err := Fit(stillBuying, 0, "month", FitOptions{}); err == nil {
		t.Error("a month period: no error")
	}
	if _, err := FitBGNBD([]Summary{{Frequency: 1, Recency: 5, Age: 3}}, FitOptions{}); err == nil {
		t.Error("tₓ > T: no error")
	}
}
