// Package analytics holds the customer-base models marketers use to tell who
// is slipping away: RFM scores and segments, the BG/NBD model of repeat
// buying and dropout (Fader, Hardie & Lee 2005, "Counting your customers the
// easy way"), the Gamma-Gamma model of spend per transaction (Fader, Hardie
// & Lee 2005, "RFM and CLV: using iso-value curves") and the customer
// lifetime value they give together.
//
// Everything here is a pure function over plain inputs — a customer's
// transactions as (day, amount) — so the nightly refresh, the API and the CLI
// share one implementation and every model is tested without a store. A
// fitted Model is a value that serialises to JSON, to be stored as a version
// and used to score members until the next fit.
//
// The paper's conventions hold throughout: purchases on one day are one
// transaction (their amounts summed), frequency x counts repeat
// transactions, recency t_x and age T are measured from the first purchase
// in the model's period (days or weeks), and spend is the mean of the repeat
// transactions. Amounts are decimal in one currency; the models compute in
// float64, and money comes back as decimal.
package analytics
