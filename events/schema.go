package events

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/big"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaFiles holds the committed schemas; embedding them means the binary
// validates against exactly the files storefront developers are given.
//
//go:embed schemas/*.json
var schemaFiles embed.FS

// schemaBase is the base of every schema's $id. The .example domain is
// reserved and never resolves, so the compiler can only use the embedded
// copies; relative $refs such as "envelope.json#/$defs/id" resolve against
// it.
const schemaBase = "https://schemas.memberflow.example/events/"

// envelopeFile is the schema shared by all types; it alone is used for an
// element whose type is missing or unknown, so the caller still learns about
// every envelope problem.
const envelopeFile = "envelope.json"

// schemaFile names the schema file of an event type.
func schemaFile(t Type) string { return string(t) + ".json" }

// registry is the compiled schemas plus their source documents, which are
// kept to look up x-rule annotations for error messages.
type registry struct {
	envelope *jsonschema.Schema
	byType   map[Type]*jsonschema.Schema
	docs     map[string]any // schema document by $id, as compiled (definitions inlined)
}

// loadRegistry compiles the schemas once, on first use rather than at
// init, so that a broken schema surfaces as an error from ParseBatch (and a
// failing test) instead of a panic while the Lambda starts.
var loadRegistry = sync.OnceValues(compileRegistry)

// compileRegistry compiles every embedded schema with format assertions on,
// each with the shared definitions it uses and the envelope inlined (see
// inlineDefs and mergeEnvelope).
func compileRegistry() (*registry, error) { return compileSchemas(true) }

// compileSchemas is compileRegistry; mergeEnv false leaves each type's
// schema referring to the envelope, for the test that holds the merged
// schemas to the same verdicts.
func compileSchemas(mergeEnv bool) (*registry, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// Formats are annotations only in 2020-12 unless asserted; we rely on
	// them for date-time, date and email.
	c.AssertFormat()
	for _, f := range formats {
		c.RegisterFormat(f)
	}

	r := &registry{byType: make(map[Type]*jsonschema.Schema), docs: make(map[string]any)}
	entries, err := fs.ReadDir(schemaFiles, "schemas")
	if err != nil {
		return nil, fmt.Errorf("events: read schemas: %w", err)
	}
	for _, e := range entries {
		b, err := schemaFiles.ReadFile("schemas/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("events: read schema %s: %w", e.Name(), err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("events: schema %s is not JSON: %w", e.Name(), err)
		}
		// The $id must match the file name, or relative $refs written
		// against file names would resolve somewhere else.
		id := schemaBase + e.Name()
		if m, _ := doc.(map[string]any); m == nil || m["$id"] != id {
			return nil, fmt.Errorf("events: schema %s must have \"$id\": %q", e.Name(), id)
		}
		r.docs[id] = doc
	}
	// Inline the shared definitions where they are used: the same
	// schemas, validated without a $ref hop (and its bookkeeping) for
	// every field of every event.
	inlined := make(map[string]any, len(r.docs))
	for id, doc := range r.docs {
		inlined[id] = inlineDefs(r.docs, id, doc)
	}
	// And the envelope into each type's schema, which otherwise reaches
	// it through a $ref validated as a schema of its own, with its own
	// bookkeeping, for every event.
	envID := schemaBase + envelopeFile
	for id, doc := range inlined {
		if mergeEnv && id != envID {
			inlined[id] = mergeEnvelope(doc, inlined[envID])
		}
	}
	r.docs = inlined
	for id, doc := range r.docs {
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("events: add schema %s: %w", strings.TrimPrefix(id, schemaBase), err)
		}
	}

	if r.envelope, err = c.Compile(schemaBase + envelopeFile); err != nil {
		return nil, fmt.Errorf("events: compile %s: %w", envelopeFile, err)
	}
	for _, t := range sortedTypes {
		s, err := c.Compile(schemaBase + schemaFile(t))
		if err != nil {
			return nil, fmt.Errorf("events: compile schema of %s: %w", t, err)
		}
		r.byType[t] = s
	}
	return r, nil
}

// formats replaces or adds format checks. date-time and date reuse the very
// parsers that decoding uses, so anything validation accepts also decodes
// (the library's own date-time accepts leap seconds and a lowercase "t",
// which time.Time does not).
var formats = []*jsonschema.Format{
	{Name: "date-time", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil // formats only constrain their own type
		}
		var t time.Time
		return t.UnmarshalText([]byte(s))
	}},
	{Name: "date", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		_, err := parseDate(s)
		return err
	}},
	{Name: "int32", Validate: func(v any) error {
		n, ok := v.(json.Number)
		if !ok {
			return nil
		}
		// ParseInt refuses "1.0" and "1e2" exactly as encoding/json does
		// for an int field, and out-of-range values too.
		_, err := strconv.ParseInt(n.String(), 10, 32)
		return err
	}},
}

// check validates one event object (already decoded with json.Number
// numbers) and returns its problems; prefix is "" for a lone object and
// "[n]" for element n of a batch.
func (r *registry) check(inst any, prefix string) []Problem {
	obj, ok := inst.(map[string]any)
	if !ok {
		return []Problem{{Field: fieldPath(prefix, nil, nil), Rule: "must be a JSON object"}}
	}
	t, _ := obj["type"].(string)
	sch, known := r.byType[Type(t)]
	if !known {
		// The envelope schema's enum on "type" reports the unknown type.
		sch = r.envelope
	}
	var ps []Problem
	if err := sch.Validate(inst); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			// Not a verdict on the input (the library failed), but the
			// caller still needs to know this event was not accepted.
			return []Problem{{Field: fieldPath(prefix, nil, nil), Rule: "could not be validated: " + err.Error()}}
		}
		ps = r.translate(verr, inst, prefix)
	}
	return append(ps, r.goChecks(Type(t), obj, prefix, ps)...)
}

// translate turns the library's error tree into Problems, one per failing
// leaf. Wrapper kinds (the root, $ref, groups, allOf) only carry causes.
// Required and additionalProperties are reported on the child field they
// concern, because "data is required: email" would make the caller work out
// which field is meant.
func (r *registry) translate(root *jsonschema.ValidationError, inst any, prefix string) []Problem {
	var ps []Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch k := e.ErrorKind.(type) {
		case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
			if len(e.Causes) > 0 {
				for _, c := range e.Causes {
					walk(c)
				}
				return
			}
		case *kind.Required:
			for _, name := range k.Missing {
				ps = append(ps, Problem{Field: fieldPath(prefix, inst, slices.Concat(e.InstanceLocation, []string{name})), Rule: "is required"})
			}
			return
		case *kind.AdditionalProperties:
			for _, name := range k.Properties {
				ps = append(ps, Problem{Field: fieldPath(prefix, inst, slices.Concat(e.InstanceLocation, []string{name})), Rule: "is not allowed (unknown field)"})
			}
			return
		}
		ps = append(ps, Problem{Field: fieldPath(prefix, inst, e.InstanceLocation), Rule: r.rule(e)})
	}
	walk(root)
	return ps
}

// rule is the sentence for a leaf error: the schema's x-rule for the
// definition that failed when it has one, else a sentence made from the
// keyword.
func (r *registry) rule(e *jsonschema.ValidationError) string {
	if s := r.xRule(e.SchemaURL); s != "" {
		return s
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		return typeRule(k.Want)
	case *kind.Enum:
		vals := make([]string, len(k.Want))
		for i, v := range k.Want {
			vals[i] = fmt.Sprint(v)
		}
		return "must be one of: " + strings.Join(vals, ", ")
	case *kind.Const:
		return fmt.Sprintf("must be %v", k.Want)
	case *kind.Format:
		return formatRule(k.Want)
	case *kind.Pattern:
		return "must match pattern " + k.Want
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.Minimum:
		return "must be at least " + ratString(k.Want)
	case *kind.Maximum:
		return "must be at most " + ratString(k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d %s", k.Want, plural(k.Want, "item", "items"))
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d %s", k.Want, plural(k.Want, "item", "items"))
	case *kind.MinProperties:
		if k.Want == 1 {
			return "must contain at least one field"
		}
		return fmt.Sprintf("must contain at least %d fields", k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("must contain at most %d fields", k.Want)
	}
	// A keyword the schemas do not use today: the library's own wording
	// is still better than nothing.
	return e.ErrorKind.LocalizedString(message.NewPrinter(language.English))
}

// xRule returns the x-rule annotation of the schema at schemaURL (an $id
// plus a JSON pointer fragment), or "" when it has none.
func (r *registry) xRule(schemaURL string) string {
	base, frag, _ := strings.Cut(schemaURL, "#")
	node := r.docs[base]
	if frag != "" {
		if f, err := url.PathUnescape(frag); err == nil {
			frag = f
		}
		for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
			tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
			switch n := node.(type) {
			case map[string]any:
				node = n[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(n) {
					return ""
				}
				node = n[i]
			default:
				return ""
			}
		}
	}
	m, _ := node.(map[string]any)
	s, _ := m["x-rule"].(string)
	return s
}

// typeRule words a JSON type mismatch.
func typeRule(want []string) string {
	names := make([]string, len(want))
	for i, w := range want {
		switch w {
		case "object", "array", "integer":
			names[i] = "an " + w
		case "boolean":
			names[i] = "true or false"
		case "null":
			names[i] = "null"
		default:
			names[i] = "a " + w
		}
	}
	return "must be " + strings.Join(names, " or ")
}

// formatRule words a failed format.
func formatRule(format string) string {
	switch format {
	case "date-time":
		return `must be an RFC 3339 date-time like "2026-03-01T09:30:00+08:00"`
	case "date":
		return "must be a real calendar date in YYYY-MM-DD form"
	case "email":
		return "must be a valid email address"
	case "int32":
		return "must be a whole number (no fraction or exponent) that fits in 32 bits"
	}
	return "must be a valid " + format
}

// ratString prints a schema bound, which the library keeps as a fraction.
func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	return r.RatString()
}

// plural picks the word form for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// fieldPath renders an instance location as "data.lines[0].amount",
// prefixed for a batch element. inst is walked alongside the tokens because
// a token alone cannot tell an array index from an object key "0". Keys
// that are not plain identifiers (possible only for unknown fields) are
// quoted so the path stays unambiguous.
func fieldPath(prefix string, inst any, loc []string) string {
	var b strings.Builder
	b.WriteString(prefix)
	cur := inst
	for _, tok := range loc {
		if arr, ok := cur.([]any); ok {
			b.WriteString("[" + tok + "]")
			cur = nil
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(arr) {
				cur = arr[i]
			}
			continue
		}
		if isPlainKey(tok) {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
		} else {
			b.WriteString("[" + strconv.Quote(tok) + "]")
		}
		m, _ := cur.(map[string]any)
		cur = m[tok]
	}
	if b.Len() == 0 {
		// The lone object itself; only the body as a whole can be meant.
		return "body"
	}
	return b.String()
}

// isPlainKey reports whether key can be written after a dot unquoted.
func isPlainKey(key string) bool {
	if key == "" {
		return false
	}
	for i, c := range key {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// annotations are the keywords a $ref's siblings may share with the
// definition it names and still be merged into one schema: they do not
// validate. (x-rule is left out: whose sentence wins would change.)
var annotations = map[string]bool{"description": true, "title": true, "$comment": true, "default": true, "examples": true}

// inlineDefs returns node of the document id with every {"$ref": "<file>#/$defs/<name>"}
// (or "#/$defs/<name>") replaced by the definition merged with the ref's
// sibling keywords, recursively. A $ref whose siblings share a validating
// keyword with the definition stays as it is, and so do refs to whole
// documents. Nothing is modified in place.
func inlineDefs(docs map[string]any, id string, node any) any {
	switch n := node.(type) {
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			out[i] = inlineDefs(docs, id, v)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(n))
		for k, v := range n {
			out[k] = inlineDefs(docs, id, v)
		}
		ref, _ := n["$ref"].(string)
		file, name, ok := strings.Cut(ref, "#/$defs/")
		if !ok || strings.Contains(name, "/") {
			return out
		}
		defID := id
		if file != "" {
			defID = schemaBase + file
		}
		root, _ := docs[defID].(map[string]any)
		defs, _ := root["$defs"].(map[string]any)
		def, ok := defs[name].(map[string]any)
		if !ok {
			return out // the compiler reports it
		}
		for k := range def {
			if _, both := n[k]; both && !annotations[k] {
				// Kept, but naming its file: the node may be
				// inlined into another document.
				out["$ref"] = strings.TrimPrefix(defID, schemaBase) + "#/$defs/" + name
				return out
			}
		}
		merged := inlineDefs(docs, defID, def).(map[string]any)
		for k, v := range out {
			if k != "$ref" {
				merged[k] = v
			}
		}
		return merged
	}
	return node
}

// mergeEnvelope returns a type's schema doc with its {"$ref": "envelope.json"}
// replaced by the envelope schema env's keywords, when that means the same:
// the envelope's properties and the type's are both checked on the same
// object, and its additionalProperties names the same fields either way
// (the type schemas describe no others). A property both schemas describe
// is merged into one schema when they share no validating keyword with
// different values; anything else leaves doc as it is.
func mergeEnvelope(doc, env any) any {
	d, _ := doc.(map[string]any)
	e, _ := env.(map[string]any)
	if d == nil || e == nil || d["$ref"] != envelopeFile {
		return doc
	}
	out := make(map[string]any, len(d)+len(e))
	for k, v := range d {
		if k != "$ref" {
			out[k] = v
		}
	}
	for k, ev := range e {
		if annotations[k] || k == "$id" || k == "$schema" || k == "$defs" {
			continue
		}
		dv, both := out[k]
		switch {
		case !both:
			out[k] = ev
		case k == "properties":
			props, ok := mergeProperties(dv, ev)
			if !ok {
				return doc
			}
			out[k] = props
		case k == "required":
			dr, _ := dv.([]any)
			er, _ := ev.([]any)
			if dr == nil || er == nil {
				return doc
			}
			req := slices.Clone(er)
			for _, name := range dr {
				if !slices.Contains(req, name) {
					req = append(req, name)
				}
			}
			out[k] = req
		case !reflect.DeepEqual(dv, ev):
			return doc
		}
	}
	return out
}

// mergeProperties merges two "properties" objects, a property in both into
// one schema (see mergeEnvelope); ok is false when that cannot be done.
func mergeProperties(doc, env any) (merged map[string]any, ok bool) {
	d, _ := doc.(map[string]any)
	e, _ := env.(map[string]any)
	if d == nil || e == nil {
		return nil, false
	}
	merged = maps.Clone(e)
	for name, dv := range d {
		ev, both := merged[name]
		if !both {
			merged[name] = dv
			continue
		}
		dp, _ := dv.(map[string]any)
		ep, _ := ev.(map[string]any)
		if dp == nil || ep == nil {
			return nil, false
		}
		p := maps.Clone(ep)
		for k, v := range dp {
			if w, shared := p[k]; shared && !annotations[k] && !reflect.DeepEqual(v, w) {
				return nil, false
			}
			p[k] = v // the type's own wording wins for annotations
		}
		merged[name] = p
	}
	return merged, true
}
