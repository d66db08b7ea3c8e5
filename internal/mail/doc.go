// Package mail is memberflow's email layer: a Catalog of Handlebars email
// templates (subject, preheader and HTML body, with the variables each one
// requires) and a Sender that delivers journey emails as SendGrid dynamic
// templates through the official sendgrid-go client.
//
// The Catalog renders with the same Handlebars engine family SendGrid uses so
// that the local outbox (package outbox), tests and golden files show what a
// member would actually receive. Errors are classified so that Temporal
// activities can tell a permanent failure (bad template or data, a 4xx from
// SendGrid) from one worth retrying (429, 5xx, transport errors); see
// IsPermanent.
package mail
