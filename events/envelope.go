package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// Envelope is one event as storefronts send it: the fields every event has,
// with the type-specific payload left raw in Data until DecodeData.
type Envelope struct {
	ID         string    `json:"id"`
	Version    int       `json:"version,omitempty"` // ParseBatch sets 1 when absent
	Type       Type      `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	MemberID   string    `json:"member_id"`
	// Data is the type-specific payload: from ParseBatch its canonical
	// JSON, decoded from a stored Raw its bytes as sent.
	Data json.RawMessage `json:"data"`
	// Raw is the exact bytes of this event object as received (for a
	// batch, that element's bytes), so what is stored is what the sender
	// signed and sent, not a re-encoding.
	Raw json.RawMessage `json:"-"`
	// Digest identifies the event's content whatever its formatting
	// ("sha256:<hex>" of its canonical JSON, see envelopeOf): the store keeps it
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
	elems, insts, batch, ok := splitBody(body)
	if !ok {
		return nil, newValidationError([]Problem{{Field: "body", Rule: bodyRule}})
	}

	var ps []Problem
	envs := make([]Envelope, len(elems))
	var paid map[orderKey]decimal.Decimal
	var refunds []refundable
	for i, raw := range elems {
		inst := insts[i]
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
		env, err := envelopeOf(obj, raw)
		if err != nil {
			// The schemas and structs disagree. Reject rather than store
			// an event the dispatcher could never decode.
			ps = append(ps, Problem{Field: fieldPath(prefix, nil, nil), Rule: "could not be decoded: " + err.Error()})
			continue
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

// splitBody decodes body, one event object or an array of them, in a
// single pass: it returns each object's exact bytes, the object decoded
// the way the schema library wants it (numbers as json.Number, so "12.5" is
// still told apart from 12.5 and no precision is lost before validation),
// and whether body was an array. ok is false when body is not JSON, not an
// object or array, or an array of the wrong length. Element shapes are left
// to the schemas.
func splitBody(body []byte) (elems []json.RawMessage, insts []any, batch, ok bool) {
	// JSON allows only these four whitespace bytes around a value.
	const space = " \t\r\n"
	trimmed := bytes.Trim(body, space)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		return nil, nil, false, false
	}
	// One copy, cut into the elements' bytes, so that no envelope aliases
	// a buffer the caller reuses.
	buf := bytes.Clone(trimmed)
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.UseNumber()
	if buf[0] == '{' {
		var v any
		if dec.Decode(&v) != nil || !atEnd(dec) {
			return nil, nil, false, false
		}
		return []json.RawMessage{buf}, []any{v}, false, true
	}
	if _, err := dec.Token(); err != nil { // the '['
		return nil, nil, true, false
	}
	for dec.More() {
		if len(elems) == MaxBatch {
			return nil, nil, true, false
		}
		start := dec.InputOffset()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, true, false
		}
		// From the end of the previous element: drop the comma and the
		// whitespace around it, and cap the slice so that an append to
		// one element's bytes cannot overwrite the next.
		raw := bytes.TrimLeft(buf[start:dec.InputOffset()], space+",")
		elems = append(elems, raw[:len(raw):len(raw)])
		insts = append(insts, v)
	}
	if _, err := dec.Token(); err != nil || !atEnd(dec) || len(elems) == 0 { // the ']'
		return nil, nil, true, false
	}
	return elems, insts, true, true
}

// atEnd reports whether dec has nothing but whitespace left.
func atEnd(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err == io.EOF
}

// elemPrefix is the field path prefix of element i: none for a lone object.
func elemPrefix(batch bool, i int) string {
	if !batch {
		return ""
	}
	return fmt.Sprintf("[%d]", i)
}

// envelopeOf builds the envelope of an event object that passed the
// schemas from its decoded form obj, with raw as its Raw, so the bytes are
// not decoded a second time. It decodes the data too, so ParseBatch only
// accepts what DecodeData will later accept. Data holds the data object's
// canonical JSON (the same content as in Raw), and Digest is SHA-256 over
// the whole object's canonical JSON, as "sha256:<hex>": the same event
// re-serialised with other whitespace, key order or string escapes has the
// same digest; any change of a value, a key or a number's spelling gives
// another.
func envelopeOf(obj map[string]any, raw json.RawMessage) (Envelope, error) {
	env := Envelope{Version: 1, Raw: raw} // an absent version is the first and only one
	env.ID, _ = obj["id"].(string)
	env.MemberID, _ = obj["member_id"].(string)
	t, _ := obj["type"].(string)
	env.Type = Type(t)
	if v, ok := obj["version"].(json.Number); ok {
		n, err := strconv.Atoi(v.String())
		if err != nil {
			return Envelope{}, fmt.Errorf("version: %w", err)
		}
		env.Version = n
	}
	at, _ := obj["occurred_at"].(string)
	// The parser encoding/json uses for a time.Time, and the date-time
	// format's.
	if err := env.OccurredAt.UnmarshalText([]byte(at)); err != nil {
		return Envelope{}, fmt.Errorf("occurred_at: %w", err)
	}
	// The whole object's canonical JSON in one pass, noting where its
	// data's lies: Data is that slice, copied out, and the digest is
	// taken over the buffer in place.
	bp := canonBufs.Get().(*[]byte)
	defer canonBufs.Put(bp)
	b, dataAt, dataEnd, err := appendEventCanonical((*bp)[:0], obj)
	if cap(b) <= maxPooledCanon {
		*bp = b
	}
	if err != nil {
		return Envelope{}, fmt.Errorf("canonical form: %w", err)
	}
	if dataAt < 0 {
		// Not there: canonical(nil), as encoding/json would write it.
		env.Data = json.RawMessage("null")
	} else {
		env.Data = bytes.Clone(b[dataAt:dataEnd])
	}
	if _, err := env.DecodeData(); err != nil {
		return Envelope{}, err
	}
	sum := sha256.Sum256(b)
	var digest [len("sha256:") + 2*sha256.Size]byte
	copy(digest[:], "sha256:")
	hex.Encode(digest[len("sha256:"):], sum[:])
	env.Digest = string(digest[:])
	return env, nil
}

// DecodeData decodes Data into the struct of e.Type and returns a pointer
// to it (*MemberRegisteredData for member.registered, *OrderPaidData for
// order.paid, *MemberSegmentChangedData for the internal
// member.segment_changed, and so on). Unknown data fields are an error, as they are for
// ParseBatch. A zero Version is taken as 1, since a stored Raw that omitted
// "version" decodes that way.
func (e Envelope) DecodeData() (any, error) {
	mk, ok := dataConstructor(e.Type)
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
