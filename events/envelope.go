package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/shopspring/decimal"
)

// Envelope is one event as storefronts send it: the fields every event has,
// with the type-specific payload left raw in Data until DecodeData.
type Envelope struct {
	ID         string          `json:"id"`
	Version    int             `json:"version,omitempty"` // ParseBatch sets 1 when absent
	Type       Type            `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	MemberID   string          `json:"member_id"`
	Data       json.RawMessage `json:"data"`
	// Raw is the exact bytes of this event object as received (for a
	// batch, that element's bytes), so what is stored is what the sender
	// signed and sent, not a re-encoding.
	Raw json.RawMessage `json:"-"`
	// Digest identifies the event's content whatever its formatting
	// ("sha256:<hex>" of its canonical JSON, see digest): the store keeps it
	// to tell a retry of an event from a different event reusing its id.
	Digest string `json:"-"`
}

// bodyRule is the rule broken by a body that is not one event object or a
// batch of them.
const bodyRule = "must be a JSON object or an array of 1..100 objects"

// ParseBatch validates a request body holding either one event object or a
// JSON array of 1..MaxBatch event objects, and returns the events in order.
// It is all or nothing: if anything is wrong anywhere it returns nil and a
// *ValidationError listing every bad field it found. Field paths are
// "data.amount" for a lone object and "[3].data.amount" for element 3 of an
// array.
//
// Besides the schemas it checks the arithmetic that needs no programme:
// an order's lines, discount and payments against its amount, that points
// payments and points_redeemed come together, a refund's lines against its
// amount, and refunds against orders paid in the same body. The checks that
// need the programme (its currency, the point value, what the store knows
// of earlier orders) are [Parser.ParseBatch]'s, which ingest uses; this one
// is for callers without a programme, such as tools seeding events and the
// fuzz targets.
func ParseBatch(body []byte) ([]Envelope, error) {
	return parse(context.Background(), body, nil, nil)
}

// parse is ParseBatch with the programme's rules and the order lookup, both
// optional.
func parse(ctx context.Context, body []byte, rules *Rules, orders OrderLookup) ([]Envelope, error) {
	reg, err := loadRegistry()
	if err != nil {
		return nil, err
	}
	elems, batch, ok := splitBody(body)
	if !ok {
		return nil, newValidationError([]Problem{{Field: "body", Rule: bodyRule}})
	}

	var ps []Problem
	insts := make([]any, len(elems))
	envs := make([]Envelope, len(elems))
	var paid map[orderKey]decimal.Decimal
	var refunds []refundable
	for i, raw := range elems {
		// The schema library wants values decoded its own way: numbers
		// as json.Number, so "12.5" is still told apart from 12.5 and no
		// precision is lost before validation.
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			// splitBody checked the body is JSON, so this means a bug.
			return nil, fmt.Errorf("events: decode element %d: %w", i, err)
		}
		insts[i] = inst
		prefix := elemPrefix(batch, i)
		eps := reg.check(inst, prefix)
		obj, _ := inst.(map[string]any)
		t, _ := obj["type"].(string)
		if _, known := newData[Type(t)]; known {
			eps = append(eps, moneyChecks(Type(t), obj, prefix, rules, eps)...)
		}
		if len(eps) > 0 {
			ps = append(ps, eps...)
			continue
		}
		env, err := decodeEnvelope(raw)
		if err != nil {
			// The schemas and structs disagree. Reject rather than store
			// an event the dispatcher could never decode.
			ps = append(ps, Problem{Field: fieldPath(prefix, nil, nil), Rule: "could not be decoded: " + err.Error()})
			continue
		}
		if env.Digest, err = digest(inst); err != nil {
			return nil, fmt.Errorf("events: digest of element %d: %w", i, err)
		}
		envs[i] = env

		data, _ := obj["data"].(map[string]any)
		orderID, _ := data["order_id"].(string)
		switch env.Type {
		case OrderPaid:
			if paid == nil {
				paid = make(map[orderKey]decimal.Decimal)
			}
			paid[orderKey{env.MemberID, orderID}] = moneyAt(data, "amount")
		case OrderRefunded:
			refundID, _ := data["refund_id"].(string)
			refunds = append(refunds, refundable{
				field: fieldPath(prefix, nil, []string{"data", "amount"}), memberID: env.MemberID,
				orderID: orderID, refundID: refundID, amount: moneyAt(data, "amount"),
			})
		}
	}
	if batch {
		ps = append(ps, duplicateIDs(insts)...)
	}
	if len(refunds) > 0 {
		rps, err := refundChecks(ctx, paid, refunds, orders)
		if err != nil {
			return nil, err
		}
		ps = append(ps, rps...)
	}
	if len(ps) > 0 {
		return nil, newValidationError(ps)
	}
	return envs, nil
}

// digest is the digest of an event object as decoded for the schema: SHA-256
// over its canonical form, the compact JSON with object keys sorted, strings
// re-escaped the same way whatever escapes they were sent with and numbers as
// written, as "sha256:<hex>". The same event re-serialised with other
// whitespace, key order or string escapes has the same digest; any change of
// a value, a key or a number's spelling gives another.
func digest(inst any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(inst); err != nil {
		return "", err
	}
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// splitBody returns the event objects of body with their exact bytes, and
// whether body was an array. ok is false when body is not JSON, not an
// object or array, or an array of the wrong length. Element shapes are left
// to the schemas.
func splitBody(body []byte) (elems []json.RawMessage, batch, ok bool) {
	if !json.Valid(body) {
		return nil, false, false
	}
	// JSON allows only these four whitespace bytes around a value.
	trimmed := bytes.Trim(body, " \t\r\n")
	switch trimmed[0] {
	case '{':
		// Clone so the envelope does not alias a buffer the caller reuses.
		return []json.RawMessage{bytes.Clone(trimmed)}, false, true
	case '[':
		// json.RawMessage keeps each element's bytes exactly as sent
		// (a copy, without the separating whitespace and commas).
		var arr []json.RawMessage
		if err := json.Unmarshal(trimmed, &arr); err != nil {
			return nil, false, false
		}
		if len(arr) == 0 || len(arr) > MaxBatch {
			return nil, true, false
		}
		return arr, true, true
	}
	return nil, false, false
}

// elemPrefix is the field path prefix of element i: none for a lone object.
func elemPrefix(batch bool, i int) string {
	if !batch {
		return ""
	}
	return fmt.Sprintf("[%d]", i)
}

// decodeEnvelope decodes a validated event object, and decodes its data
// too, so ParseBatch only accepts what DecodeData will later accept.
func decodeEnvelope(raw json.RawMessage) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Envelope{}, err
	}
	if env.Version == 0 {
		env.Version = 1 // absent means the first and only version
	}
	env.Raw = raw
	if _, err := env.DecodeData(); err != nil {
		return Envelope{}, err
	}
	return env, nil
}

// DecodeData decodes Data into the struct of e.Type and returns a pointer
// to it (*MemberRegisteredData for member.registered, *OrderPaidData for
// order.paid, and so on). Unknown data fields are an error, as they are for
// ParseBatch. A zero Version is taken as 1, since a stored Raw that omitted
// "version" decodes that way.
func (e Envelope) DecodeData() (any, error) {
	mk, ok := newData[e.Type]
	if !ok {
		return nil, fmt.Errorf("events: event %s has unknown type %q", e.ID, e.Type)
	}
	if e.Version != 0 && e.Version != 1 {
		return nil, fmt.Errorf("events: event %s has unsupported envelope version %d", e.ID, e.Version)
	}
	if len(e.Data) == 0 {
		return nil, fmt.Errorf("events: %s event %s has no data", e.Type, e.ID)
	}
	v := mk()
	dec := json.NewDecoder(bytes.NewReader(e.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("events: decode data of %s event %s: %w", e.Type, e.ID, err)
	}
	return v, nil
}

// sampleFiles holds one valid example event per type, for documentation
// and tests.
//
//go:embed samples/*.json
var sampleFiles embed.FS

// Sample returns the committed example event of type t, a valid request
// body on its own. The bytes are a fresh copy.
func Sample(t Type) ([]byte, error) {
	if _, err := ParseType(string(t)); err != nil {
		return nil, err
	}
	return sampleFiles.ReadFile("samples/" + string(t) + ".json")
}
