// Package events defines memberflow's webhook event contract: the versioned
// envelope storefronts POST, the typed data of each event type, and the
// validation the ingest Lambda applies before anything is stored.
//
// The contract lives in the JSON Schemas under schemas/ (draft 2020-12), one
// per event type plus envelope.json, which holds the envelope and the shared
// building blocks in $defs. They are embedded into the binary and are the
// single source of truth for what is accepted; storefront developers can
// validate against the same files. Two conventions go beyond the standard:
//
//   - "x-rule" on a definition is the sentence shown to API callers when a
//     value breaks that definition (for example money amounts, which must be
//     decimal strings and never JSON numbers).
//   - "format": "int32" (the OpenAPI name) marks integers that must be plain
//     integer literals, because a JSON 1.0 or 1e2 passes "type": "integer"
//     but cannot be decoded into a Go int.
//
// A few rules JSON Schema cannot express are checked in Go alongside the
// schema: the time zone database must know a timezone, ids must be unique
// within one batch, and the amounts of an event must agree, in exact decimal
// arithmetic (the schemas' descriptions say the same):
//
//   - order.paid: sum(lines[].amount) - discount = amount (discount is 0
//     when absent); sum(payments[].amount) = amount; the payments of method
//     points sum to points_redeemed × the programme's point value, so a
//     points payment needs points_redeemed above 0 and the other way round.
//   - order.refunded: sum(lines[].amount) = amount when lines are given, and
//     amount plus what earlier refunds of the order took may not exceed the
//     order's amount, as far as the same body and the store know the order.
//   - every event with data.currency: it is the programme's currency.
//
// Every problem found is reported at once, as a Problem naming the field and
// the rule, so a storefront can fix a payload in one go.
//
// [Parser.ParseBatch] validates a request body against the schemas and the
// programme ([Rules]: currency, point value; and what the store knows of
// refunded orders) and returns envelopes whose Raw bytes are what should be
// stored, with a Digest of their content; [ParseBatch] does the same without
// a programme. [Envelope.DecodeData] turns the data of a stored envelope into
// the typed struct for its event type.
package events
