package loyalty

import "github.com/shopspring/decimal"

// Scores are a member's customer-base scores as the nightly analytics
// refresh wrote them: the RFM scores and segment, and what the fitted
// BG/NBD and Gamma-Gamma models say of the member. They describe the member
// as of one day (Analytics.AsOf) under one fitted model
// (Analytics.ModelVersion); a refresh with a later model replaces them.
type Scores struct {
	RFM RFMScores `json:"rfm"`
	// PAlive is the probability that the member is still buying.
	PAlive float64 `json:"p_alive"`
	// ExpectedOrders90d is the expected number of days with an order in
	// the next 90 days.
	ExpectedOrders90d float64 `json:"expected_orders_90d"`
	// CLV12m is the expected spend of the next 12 months, discounted, in
	// Analytics.Currency (the programme's).
	CLV12m    decimal.Decimal `json:"clv_12m"`
	Analytics ScoresInfo      `json:"analytics"`
}

// RFMScores are a member's recency, frequency and monetary scores (1–5,
// 5 best) and the programme segment they fall in (RFMRules).
type RFMScores struct {
	R       int    `json:"r"`
	F       int    `json:"f"`
	M       int    `json:"m"`
	Segment string `json:"segment"`
}

// ScoresInfo says what the scores rest on.
type ScoresInfo struct {
	// ModelVersion is the stored model version that scored the member.
	ModelVersion int `json:"model_version"`
	// AsOf is the day (YYYY-MM-DD, programme time zone) the member was
	// scored as of: orders up to its end count.
	AsOf string `json:"as_of"`
	// Currency is the currency of CLV12m.
	Currency string `json:"currency"`
}

// Segment is the member's RFM segment, "" when they have no scores.
func (m Member) Segment() string {
	if m.Scores == nil {
		return ""
	}
	return m.Scores.RFM.Segment
}

// ScoredBy is the model version that scored the member, 0 when none did.
func (m Member) ScoredBy() int {
	if m.Scores == nil {
		return 0
	}
	return m.Scores.Analytics.ModelVersion
}
