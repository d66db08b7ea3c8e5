package analytics

import (
	"errors"
	"fmt"
	"math"

	"github.com/shopspring/decimal"
)

// Model is a fitted BG/NBD and Gamma-Gamma pair with the period and
// calibration end they were fitted on: the value the nightly refresh
// stores as a version (it marshals to JSON) and scores members with until
// the next fit.
type Model struct {
	Period         Period     `json:"period"`
	CalibrationEnd Day        `json:"calibration_end"`
	BGNBD          BGNBD      `json:"bgnbd"`
	GammaGamma     GammaGamma `json:"gamma_gamma"`
}

// Fit fits both models to a cohort's summaries, each made by Summarise at
// calibrationEnd in period (a page-by-page refresh keeps only these, never
// every member's transactions at once). It fails if either fit did not
// converge.
func Fit(summaries []Summary, calibrationEnd Day, period Period, opts FitOptions) (Model, error) {
	if _, err := ParsePeriod(string(period)); err != nil {
		return Model{}, fmt.Errorf("fit: %w", err)
	}
	bg, err := FitBGNBD(summaries, opts)
	if err != nil {
		return Model{}, err
	}
	gg, err := FitGammaGamma(summaries, opts)
	if err != nil {
		return Model{}, err
	}
	return Model{Period: period, CalibrationEnd: calibrationEnd, BGNBD: bg, GammaGamma: gg}, nil
}

// SummariseAll summarises each customer at end (Summarise), leaving out
// those without a purchase on or before end.
func SummariseAll(customers []Customer, end Day, period Period) []Summary {
	out := make([]Summary, 0, len(customers))
	for _, c := range customers {
		if s, ok := Summarise(c.Transactions, end, period); ok {
			out = append(out, s)
		}
	}
	return out
}

// ScoreOptions say what a customer's scores look ahead to.
type ScoreOptions struct {
	// HorizonDays is the forecast window of ExpectedTransactions, in days
	// (the product's expected_orders_90d uses 90).
	HorizonDays float64 `json:"horizon_days"`
	// CLVMonths is the number of months the lifetime value sums (12 for
	// clv_12m).
	CLVMonths int `json:"clv_months"`
	// MonthlyDiscount is the discount rate per month of the lifetime
	// value, such as 0.01; 0 discounts nothing.
	MonthlyDiscount float64 `json:"monthly_discount"`
}

// Score is one customer's model scores.
type Score struct {
	// PAlive is the probability the customer is still buying.
	PAlive float64 `json:"p_alive"`
	// ExpectedTransactions is the expected number of transactions (days
	// with a purchase) in the next HorizonDays days.
	ExpectedTransactions float64 `json:"expected_transactions"`
	// ExpectedSpend is the expected amount of a future transaction.
	ExpectedSpend decimal.Decimal `json:"expected_spend"`
	// CLV is the discounted expected spend over the next CLVMonths months.
	CLV decimal.Decimal `json:"clv"`
}

// Score scores a customer summarised (Summarise) at the day scores are
// wanted for, in the model's period; that day may be later than the
// calibration end, since the model describes the population, not the day.
func (m Model) Score(s Summary, opts ScoreOptions) (Score, error) {
	if opts.HorizonDays < 0 || opts.CLVMonths < 0 || opts.MonthlyDiscount <= -1 {
		return Score{}, fmt.Errorf("score options %+v: the horizon and months must be 0 or more and the discount above -1", opts)
	}
	bg := m.BGNBD.Params
	e, err := bg.ExpectedTransactions(s, opts.HorizonDays/m.Period.Days())
	if err != nil {
		return Score{}, err
	}
	spend, err := m.GammaGamma.Params.ExpectedSpend(s)
	if err != nil {
		return Score{}, err
	}
	clv, err := m.clv(s, spend, opts.CLVMonths, opts.MonthlyDiscount)
	if err != nil {
		return Score{}, err
	}
	return Score{
		PAlive:               bg.PAlive(s),
		ExpectedTransactions: e,
		ExpectedSpend:        money(spend),
		CLV:                  money(clv),
	}, nil
}

// CLV is a customer's lifetime value over the next months months at the
// monthly discount rate: the expected transactions in each month (from the
// BG/NBD model) times the expected spend per transaction (Gamma-Gamma),
// discounted to today by (1 + discount)^month. Months are 365.25/12 days.
func (m Model) CLV(s Summary, months int, monthlyDiscount float64) (decimal.Decimal, error) {
	spend, err := m.GammaGamma.Params.ExpectedSpend(s)
	if err != nil {
		return decimal.Decimal{}, err
	}
	v, err := m.clv(s, spend, months, monthlyDiscount)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return money(v), nil
}

func (m Model) clv(s Summary, spend float64, months int, discount float64) (float64, error) {
	if months < 0 || discount <= -1 {
		return 0, errors.New("clv: months must be 0 or more and the discount above -1")
	}
	perMonth := daysPerMonth / m.Period.Days()
	var total, before float64
	for k := 1; k <= months; k++ {
		upTo, err := m.BGNBD.Params.ExpectedTransactions(s, float64(k)*perMonth)
		if err != nil {
			return 0, fmt.Errorf("clv: %w", err)
		}
		total += (upTo - before) * spend / math.Pow(1+discount, float64(k))
		before = upTo
	}
	return total, nil
}
