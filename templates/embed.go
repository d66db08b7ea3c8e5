// Package templates holds memberflow's email templates as files so that the
// copy can be reviewed and edited like any other source, and embeds them so
// that every binary (worker, outbox CLI, tests) renders exactly the same
// version that is uploaded to SendGrid.
//
// Each email/<name>.hbs file starts with a YAML front matter block between
// "---" lines (subject, preheader, group, required variables, SendGrid
// template_ids per environment) followed by the Handlebars HTML body, which
// may include the partials in email/partials/<name>.hbs as {{> name}};
// internal/mail parses and renders them.
package templates

import "embed"

// Email is the set of email templates, addressed as "email/<name>.hbs", and
// their partials, "email/partials/<name>.hbs".
//
//go:embed email/*.hbs email/partials/*.hbs
var Email embed.FS

// Program is the default membership programme (program.yaml), used by
// `make run`, the tests and any deployment that does not supply its own.
//
//go:embed program.yaml
var Program []byte

// Journeys is the journeys memberflow ships, in the journey language,
// addressed as "journeys/<name>.yaml", and the language's JSON Schema
// (journeys/journey.schema.json); they are published at start-up when
// their content changed (internal/journeys). The examples in
// journeys/examples/ are not: a marketer publishes them.
//
//go:embed journeys/*.yaml journeys/journey.schema.json journeys/examples/*.yaml
var Journeys embed.FS
