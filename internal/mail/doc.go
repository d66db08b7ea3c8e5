// Package mail is memberflow's email layer: a Catalog of Handlebars email
// templates (subject, preheader and HTML body, with the variables each one
// requires) and a Sender that delivers journey emails as SendGrid dynamic
// templates through the official sendgrid-go client.
//
// The Catalog renders with the same Handlebars engine family SendGrid uses so
// that the local outbox (package outbox), tests and golden files show what a
// member would actually receive. SendGrid has no partials, so the Catalog
// inlines them (and the hidden preheader) into one source per template;
// Push uploads exactly that source as a dynamic template version and records
// the template's id per environment in its front matter, where the Sender
// finds it. Every send carries its email group's unsubscribe (ASM) group and,
// given the member's link, one-click List-Unsubscribe headers. Errors are classified so that Temporal
// activities can tell a permanent failure (bad template or data, a 4xx from
// SendGrid) from one worth retrying (429, 5xx, transport errors); see
// IsPermanent.
package mail
