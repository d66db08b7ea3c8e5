package analytics

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func tx(date, amount string) Transaction {
	d, err := ParseDay(date)
	if err != nil {
		panic(err)
	}
	return Transaction{Day: d, Amount: decimal.RequireFromString(amount)}
}

func TestSummarise(t *testing.T) {
	end, _ := ParseDay("1997-09-30")
	for _, tc := range []struct {
		name   string
		txs    []Transaction
		period Period
		want   Summary
		wantOK bool
	}{
		{
			// CDNOW customer 00004: x = 2, tₓ = 213/7 = 30.43, T = 272/7 = 38.86
			// as in the literature's cdnow_customers file; the December
			// purchase is after the calibration end.
			name:   "cdnow customer 4, weeks",
			txs:    []Transaction{tx("1997-01-01", "29.33"), tx("1997-01-18", "29.73"), tx("1997-08-02", "14.96"), tx("1997-12-12", "26.48")},
			period: PeriodWeek, wantOK: true,
			want: Summary{Frequency: 2, Recency: 213.0 / 7, Age: 272.0 / 7, MeanRepeatSpend: decimal.RequireFromString("22.345")},
		},
		{
			name:   "same day is one transaction, days, any order",
			txs:    []Transaction{tx("1997-09-01", "5"), tx("1997-08-01", "10"), tx("1997-09-01", "7.5"), tx("1997-08-11", "3")},
			period: PeriodDay, wantOK: true,
			// repeats: 08-11 (3) and 09-01 (5 + 7.5): mean 7.75
			want: Summary{Frequency: 2, Recency: 31, Age: 60, MeanRepeatSpend: decimal.RequireFromString("7.75")},
		},
		{
			name:   "one purchase on the last day",
			txs:    []Transaction{tx("1997-09-30", "10"), tx("1997-09-30", "2")},
			period: PeriodWeek, wantOK: true,
			want: Summary{Frequency: 0, Recency: 0, Age: 0, MeanRepeatSpend: decimal.Zero},
		},
		{
			name:   "only after the end",
			txs:    []Transaction{tx("1997-10-01", "10")},
			period: PeriodWeek,
		},
		{name: "nothing", period: PeriodDay},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Summarise(tc.txs, end, tc.period)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if got.Frequency != tc.want.Frequency || !closeTo(got.Recency, tc.want.Recency, 1e-15) || !closeTo(got.Age, tc.want.Age, 1e-15) || !got.MeanRepeatSpend.Equal(tc.want.MeanRepeatSpend) {
				t.Errorf("summary = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSummariseLeavesTheInputAlone(t *testing.T) {
	txs := []Transaction{tx("1997-09-01", "5"), tx("1997-08-01", "10"), tx("1997-09-01", "7.5")}
	Summarise(txs, DayFromDate(1997, 9, 30), PeriodDay)
	if txs[0].Day != DayFromDate(1997, 9, 1) || !txs[0].Amount.Equal(decimal.NewFromInt(5)) || !txs[2].Amount.Equal(decimal.RequireFromString("7.5")) {
		t.Errorf("input changed: %+v", txs)
	}
}

func TestDay(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 UTC on 31 Dec is already 1 Jan in Shanghai: the day is the
	// caller's location's.
	instant := time.Date(1996, 12, 31, 23, 30, 0, 0, time.UTC)
	if got, want := DayOf(instant.In(shanghai)).String(), "1997-01-01"; got != want {
		t.Errorf("DayOf in Shanghai = %s, want %s", got, want)
	}
	if got, want := DayOf(instant).String(), "1996-12-31"; got != want {
		t.Errorf("DayOf in UTC = %s, want %s", got, want)
	}
	if DayFromDate(1970, 1, 1) != 0 || DayFromDate(1969, 12, 31) != -1 {
		t.Errorf("epoch: %d, %d", DayFromDate(1970, 1, 1), DayFromDate(1969, 12, 31))
	}
	b, err := json.Marshal(struct{ D Day }{DayFromDate(1997, 9, 30)})
	if err != nil || string(b) != `{"D":"1997-09-30"}` {
		t.Errorf("json = %s, %v", b, err)
	}
	var back struct{ D Day }
	if err := json.Unmarshal(b, &back); err != nil || back.D != DayFromDate(1997, 9, 30) {
		t.Errorf("unmarshal = %v, %v", back.D, err)
	}
	if _, err := ParseDay("1997-02-30"); err == nil {
		t.Error("1997-02-30 parsed")
	}
}

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]Period{"week": PeriodWeek, "day": PeriodDay, "month": "", "Week": ""} {
		got, err := ParsePeriod(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ParsePeriod(%q) = %q, %v", in, got, err)
		}
	}
}
