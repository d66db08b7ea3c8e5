package events

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Internal event types are the events memberflow records itself, under
// InternalSource, through the same idempotent path as webhooks (the store's
// PutEvents), so they reach dispatch and journeys like any event. They are
// not part of the storefront contract: the envelope's type enum does not
// list them, so ingest refuses one posted by a storefront, and Types and
// ParseType leave them out. Each has a data struct and a schema in
// schemas/internal/.
const (
	// MemberSegmentChanged means the nightly analytics refresh moved the
	// member to another RFM segment; its data is MemberSegmentChangedData.
	MemberSegmentChanged Type = "member.segment_changed"
)

// InternalSource is the source internal events are recorded under. It is
// reserved: ingest answers 401 to a webhook naming it, so no storefront can
// record under it, nor reuse an internal event's id.
const InternalSource = "memberflow"

// MemberSegmentChangedData is the data of a member.segment_changed event.
type MemberSegmentChangedData struct {
	// From is the segment before; "" when the member was scored for the
	// first time.
	From string `json:"from"`
	// To is the segment now; "" when the member no longer has a purchase
	// net of refunds, and so no segment.
	To string `json:"to"`
}

// internalData maps each internal type to a constructor of its data
// struct, as newData does for the storefront types.
var internalData = map[Type]func() any{
	MemberSegmentChanged: func() any { return new(MemberSegmentChangedData) },
}

// InternalTypes returns the internal event types, sorted.
func InternalTypes() []Type {
	ts := make([]Type, 0, len(internalData))
	for t := range internalData {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// IsInternal reports whether t is an internal event type.
func IsInternal(t Type) bool {
	_, ok := internalData[t]
	return ok
}

// dataConstructor returns the constructor of t's data struct, storefront
// or internal.
func dataConstructor(t Type) (func() any, bool) {
	if mk, ok := newData[t]; ok {
		return mk, true
	}
	mk, ok := internalData[t]
	return mk, ok
}

// internalSchemaFiles holds the internal types' schemas, apart from the
// storefront contract's.
//
//go:embed schemas/internal/*.json
var internalSchemaFiles embed.FS

// internalSchemaBase is the base of the internal schemas' $id.
const internalSchemaBase = schemaBase + "internal/"

// internalRegistry is the compiled internal schemas, by type; compiled on
// first use.
var internalRegistry = sync.OnceValues(compileInternal)

func compileInternal() (*registry, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, f := range formats {
		c.RegisterFormat(f)
	}
	r := &registry{byType: map[Type]*jsonschema.Schema{}, docs: map[string]any{}}
	// The envelope holds the shared definitions the internal schemas
	// refer to ("../envelope.json#/$defs/id").
	env, err := schemaFiles.ReadFile("schemas/" + envelopeFile)
	if err != nil {
		return nil, fmt.Errorf("events: read %s: %w", envelopeFile, err)
	}
	if err := addSchema(c, r, schemaBase+envelopeFile, env); err != nil {
		return nil, err
	}
	for _, t := range InternalTypes() {
		name := path.Join("schemas/internal", schemaFile(t))
		b, err := fs.ReadFile(internalSchemaFiles, name)
		if err != nil {
			return nil, fmt.Errorf("events: internal type %s has no schema: %w", t, err)
		}
		if err := addSchema(c, r, internalSchemaBase+schemaFile(t), b); err != nil {
			return nil, err
		}
		if r.byType[t], err = c.Compile(internalSchemaBase + schemaFile(t)); err != nil {
			return nil, fmt.Errorf("events: compile internal schema of %s: %w", t, err)
		}
	}
	return r, nil
}

// addSchema adds one schema document to the compiler and to r's documents
// (for x-rule), checking its $id.
func addSchema(c *jsonschema.Compiler, r *registry, id string, b []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("events: schema %s is not JSON: %w", id, err)
	}
	if m, _ := doc.(map[string]any); m == nil || m["$id"] != id {
		return fmt.Errorf("events: schema must have \"$id\": %q", id)
	}
	r.docs[id] = doc
	if err := c.AddResource(id, doc); err != nil {
		return fmt.Errorf("events: add schema %s: %w", strings.TrimPrefix(id, schemaBase), err)
	}
	return nil
}

// NewInternal builds the internal event of type t: checked against its
// schema (a *ValidationError naming each bad field), with Raw its JSON and
// Digest as ParseBatch gives them, ready to record under InternalSource.
// The same arguments always give the same bytes and digest, so a retried
// recording is a duplicate, not a conflict.
func NewInternal(t Type, id, memberID string, at time.Time, data any) (Envelope, error) {
	if !IsInternal(t) {
		return Envelope{}, fmt.Errorf("events: %q is not an internal event type", t)
	}
	reg, err := internalRegistry()
	if err != nil {
		return Envelope{}, err
	}
	d, err := json.Marshal(data)
	if err != nil {
		return Envelope{}, fmt.Errorf("events: encode %s data: %w", t, err)
	}
	// encoding/json writes a map's keys sorted: the bytes depend on the
	// values alone.
	raw, err := json.Marshal(map[string]any{
		"id": id, "version": 1, "type": string(t), "member_id": memberID,
		"occurred_at": at.UTC().Format(time.RFC3339Nano), "data": json.RawMessage(d),
	})
	if err != nil {
		return Envelope{}, fmt.Errorf("events: encode %s event %s: %w", t, id, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return Envelope{}, fmt.Errorf("events: decode %s event %s: %w", t, id, err)
	}
	if err := reg.byType[t].Validate(inst); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			return Envelope{}, fmt.Errorf("events: validate %s event %s: %w", t, id, err)
		}
		return Envelope{}, newValidationError(reg.translate(verr, inst, ""))
	}
	return envelopeOf(inst.(map[string]any), raw)
}
