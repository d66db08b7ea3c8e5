package analytics

import (
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// Day is a calendar day, counted from 1970-01-01. Transactions are dated by
// day, not instant, because the models count one transaction per day; the
// caller decides in which time zone a purchase's day is taken (DayOf).
type Day int32

const dayLayout = "2006-01-02"

// DayOf is the calendar day of t in t's own location.
func DayOf(t time.Time) Day {
	y, m, d := t.Date()
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DayFromDate is the day of a calendar date; out-of-range months and days
// normalise as in time.Date.
func DayFromDate(y int, m time.Month, d int) Day {
	return DayOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// ParseDay reads a day written as YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(dayLayout, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a date YYYY-MM-DD", s)
	}
	return DayOf(t), nil
}

// Time is the start of the day in UTC.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String writes the day as YYYY-MM-DD.
func (d Day) String() string { return d.Time().Format(dayLayout) }

// MarshalText writes the day as YYYY-MM-DD, so a stored model reads as dates.
func (d Day) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a day written as YYYY-MM-DD.
func (d *Day) UnmarshalText(b []byte) error {
	v, err := ParseDay(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Period is the time unit of recency, age and forecast horizons in the
// BG/NBD model. The fitted r/α is a purchase rate per period, so a model is
// only meaningful together with its period.
type Period string

// The periods a model can be fitted in.
const (
	PeriodDay  Period = "day"
	PeriodWeek Period = "week"
)

// ParsePeriod reads "day" or "week".
func ParsePeriod(s string) (Period, error) {
	switch p := Period(s); p {
	case PeriodDay, PeriodWeek:
		return p, nil
	}
	return "", fmt.Errorf("period %q is not day or week", s)
}

// Days is the length of the period in days.
func (p Period) Days() float64 {
	if p == PeriodWeek {
		return 7
	}
	return 1
}

// daysPerMonth is the average Gregorian month, the unit of the CLV sum.
const daysPerMonth = 365.25 / 12

// Transaction is one purchase: its day and its amount (net of refunds, in
// the one currency of the data set).
type Transaction struct {
	Day    Day
	Amount decimal.Decimal
}

// Summary is a customer as the BG/NBD and Gamma-Gamma models see them at the
// end of a calibration period.
type Summary struct {
	// Frequency is x, the number of repeat transactions (days with a
	// purchase after the first).
	Frequency int `json:"x"`
	// Recency is t_x, the time from the first to the last transaction, in
	// periods.
	Recency float64 `json:"t_x"`
	// Age is T, the time from the first transaction to the end of the
	// calibration period, in periods.
	Age float64 `json:"T"`
	// MeanRepeatSpend is the mean amount of the repeat transactions; zero
	// when there are none. The first purchase is left out, as in the
	// Gamma-Gamma paper, because it often differs in kind (a welcome
	// offer, a starter kit).
	MeanRepeatSpend decimal.Decimal `json:"m_x"`
}

// Summarise reduces a customer's transactions to the model's summary at the
// end of the day end: transactions after end are ignored, and purchases on
// one day are one transaction. ok is false when the customer had no
// transaction on or before end. The order of txs does not matter.
func Summarise(txs []Transaction, end Day, period Period) (s Summary, ok bool) {
	days := dailyTotals(txs, end)
	if len(days) == 0 {
		return Summary{}, false
	}
	first, last := days[0].Day, days[len(days)-1].Day
	s = Summary{
		Frequency: len(days) - 1,
		Recency:   float64(last-first) / period.Days(),
		Age:       float64(end-first) / period.Days(),
	}
	if s.Frequency > 0 {
		sum := decimal.Zero
		for _, d := range days[1:] {
			sum = sum.Add(d.Amount)
		}
		s.MeanRepeatSpend = sum.Div(decimal.NewFromInt(int64(s.Frequency)))
	}
	return s, true
}

// dailyTotals is the customer's transactions on or before end, one per day
// with the day's amounts summed, in day order.
func dailyTotals(txs []Transaction, end Day) []Transaction {
	var days []Transaction
	for _, t := range txs {
		if t.Day <= end {
			days = append(days, t)
		}
	}
	slices.SortFunc(days, func(a, b Transaction) int { return int(a.Day) - int(b.Day) })
	out := days[:0]
	for _, t := range days {
		if n := len(out); n > 0 && out[n-1].Day == t.Day {
			out[n-1].Amount = out[n-1].Amount.Add(t.Amount)
			continue
		}
		out = append(out, t)
	}
	return out
}
