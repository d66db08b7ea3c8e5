package events

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"unicode/utf8"
)

// canonical writes v as its canonical JSON: compact, object keys sorted,
// strings escaped one way whatever escapes they were sent with (and no HTML
// escaping), numbers as written (v holds them as json.Number). These are
// exactly the bytes of encoding/json's Encoder with SetEscapeHTML(false),
// without the trailing newline: digests of events recorded before depend
// on it, and TestCanonicalMatchesEncodingJSON and FuzzParseBatch hold
// appendCanonical to it.
func canonical(v any) ([]byte, error) {
	return appendCanonical(nil, v)
}

// encodeCanonical is canonical by encoding/json itself: the definition
// appendCanonical follows, and its fallback for values a decoder with
// UseNumber never produces.
func encodeCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// appendCanonical appends the canonical JSON of v to dst. It walks the
// values a json.Decoder with UseNumber produces (maps, slices, strings,
// json.Number, booleans and nil) directly, which costs a fraction of
// encoding/json's reflection and key sorting; anything else goes through
// encoding/json.
func appendCanonical(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if v {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return appendJSONString(dst, v), nil
	case json.Number:
		// The decoder only makes a Number of a literal its scanner
		// accepted; anything else is left to encoding/json's checks.
		if !isDecodedNumber(string(v)) {
			break
		}
		return append(dst, v...), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendCanonical(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		dst, _, _, err := appendObject(dst, v, "")
		if err != nil {
			return nil, err
		}
		return dst, nil
	}
	b, err := encodeCanonical(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// isDecodedNumber reports whether s is a JSON number literal (RFC 8259's
// grammar, which is encoding/json's).
func isDecodedNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// appendJSONString appends s quoted the way encoding/json does without
// HTML escaping: '"' and '\\' and control characters escaped (\b, \f, \n,
// \r, \t in short form, the rest as \u00XX), invalid UTF-8 as \ufffd, and
// U+2028 and U+2029 as \u2028 and \u2029; everything else as it is.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// canonBufs holds the buffers envelopeOf writes an event's canonical JSON
// into: only the data's bytes outlive the call, as a copy.
var canonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledCanon is the largest buffer put back in canonBufs, so that one
// huge event does not pin its buffer for the life of the process.
const maxPooledCanon = 64 << 10

// appendEventCanonical appends the canonical JSON of an event object to dst,
// as appendCanonical does, and returns where the value of its "data" key
// starts and ends in the result (-1, -1 when it has none).
func appendEventCanonical(dst []byte, obj map[string]any) (b []byte, dataAt, dataEnd int, err error) {
	return appendObject(dst, obj, "data")
}

// appendObject appends obj with its keys sorted and returns where the value
// of key mark starts and ends in the result (-1, -1 when it has none).
func appendObject(dst []byte, obj map[string]any, mark string) (b []byte, at, end int, err error) {
	at, end = -1, -1
	dst = append(dst, '{')
	// Event objects have a handful of keys: sort them on the stack.
	keys := make([]string, 0, 16)
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		start := len(dst)
		if dst, err = appendCanonical(dst, obj[k]); err != nil {
			return dst, -1, -1, err
		}
		if mark != "" && k == mark {
			at, end = start, len(dst)
		}
	}
	return append(dst, '}'), at, end, nil
}
