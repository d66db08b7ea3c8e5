package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
)

// canonicalCases are JSON texts whose canonical form is easy to get wrong:
// every kind of escape encoding/json writes, or leaves alone, in values and
// in keys, key order at every depth, and numbers as they were spelled.
var canonicalCases = []struct{ name, json string }{
	{"scalars", `[null,true,false,0,-0,1.50,1e2,-2.5E-3,12345678901234567890123]`},
	{"quote-and-backslash", `{"a\"b":"c\\d\"e"}`},
	{"short-escapes", `"\b\f\n\r\t"`},
	{"other-control-characters", `"\u0000\u0001\u001f\u007f"`},
	{"html-characters-stay", `{"<a>":"x < y && y > z"}`},
	{"escaped-ascii-unescaped", `"\u0054EA-\/OOLONG"`},
	{"line-and-paragraph-separators", "\"a\u2028b\u2029c\""},
	{"non-ascii", `{"名前":"张伟 🍵","ümlaut":"é"}`},
	{"lone-surrogate", `"\ud800x"`},
	{"key-order-nested", `{"b":{"z":1,"a":[{"y":1,"x":2}]},"a":{},"A":[],"_":""}`},
	{"keys-sharing-prefixes", `{"ab":1,"a":2,"a\u0000":3,"b":4}`},
	{"invalid-utf8", "\"a\xffb\xc3\""},
}

// decodeUseNumber decodes text the way splitBody does.
func decodeUseNumber(t testing.TB, text []byte) (any, bool) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// checkCanonical compares canonical with encoding/json on the decoded text.
func checkCanonical(t *testing.T, text []byte) {
	t.Helper()
	v, ok := decodeUseNumber(t, text)
	if !ok {
		return
	}
	want, wantErr := encodeCanonical(v)
	got, err := canonical(v)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("canonical(%q) = %q, %v; encoding/json gives %q, %v", text, got, err, want, wantErr)
	}
	if obj, isObj := v.(map[string]any); isObj {
		b, at, end, err := appendEventCanonical([]byte("prefix"), obj)
		if err != nil || !bytes.Equal(b, append([]byte("prefix"), want...)) {
			t.Fatalf("appendEventCanonical(%q) = %q, %v; want %q", text, b, err, want)
		}
		if data, has := obj["data"]; has {
			wantData, _ := encodeCanonical(data)
			if !bytes.Equal(b[at:end], wantData) {
				t.Fatalf("appendEventCanonical(%q) places data at %q, want %q", text, b[at:end], wantData)
			}
		} else if at != -1 || end != -1 {
			t.Fatalf("appendEventCanonical(%q) found data at %d..%d in an object without it", text, at, end)
		}
	}
}

// TestCanonicalMatchesEncodingJSON holds the canonical form to its
// definition, encoding/json without HTML escaping: the digests of events
// recorded before depend on every byte of it.
func TestCanonicalMatchesEncodingJSON(t *testing.T) {
	for _, tc := range canonicalCases {
		t.Run(tc.name, func(t *testing.T) { checkCanonical(t, []byte(tc.json)) })
	}
	for _, typ := range Types() {
		body := sample(t, typ)
		checkCanonical(t, body)
		checkCanonical(t, []byte(`{"data":`+string(body)+`,"id":"x"}`))
	}
	// Values a decoder never produces still get encoding/json's answer.
	for _, v := range []any{json.Number(""), json.Number("1.2.3"), 1.5, map[string]any{"n": json.Number("-01")}} {
		want, wantErr := encodeCanonical(v)
		got, err := canonical(v)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Errorf("canonical(%#v) = %q, %v; encoding/json gives %q, %v", v, got, err, want, wantErr)
		}
	}
}

// TestDigestDefinition pins an accepted event's digest and data to
// encoding/json's canonical form of the object as sent.
func TestDigestDefinition(t *testing.T) {
	for _, typ := range Types() {
		envs, err := ParseBatch(sample(t, typ))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		checkDigestDefinition(t, envs[0])
	}
}

// checkDigestDefinition checks env.Digest and env.Data against encoding/json.
func checkDigestDefinition(t testing.TB, env Envelope) {
	t.Helper()
	v, ok := decodeUseNumber(t, env.Raw)
	if !ok {
		t.Fatalf("%s: Raw does not decode", env.ID)
	}
	whole, err := encodeCanonical(v)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(whole)
	if want := "sha256:" + hex.EncodeToString(sum[:]); env.Digest != want {
		t.Fatalf("%s: digest %s, want %s of %s", env.ID, env.Digest, want, whole)
	}
	data, err := encodeCanonical(v.(map[string]any)["data"])
	if err != nil || !bytes.Equal(env.Data, data) {
		t.Fatalf("%s: data %s, want %s (%v)", env.ID, env.Data, data, err)
	}
}

// FuzzCanonical checks the canonical form of any JSON text against
// encoding/json's.
func FuzzCanonical(f *testing.F) {
	f.Fuzz(func(t *testing.T, text []byte) { checkCanonical(t, text) })
}

// TestFuzzCanonicalSeeds keeps testdata/fuzz/FuzzCanonical equal to the
// cases above; go test ./events -run TestFuzzCanonicalSeeds -update-seeds
// rewrites it.
func TestFuzzCanonicalSeeds(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range canonicalCases {
		seeds = append(seeds, fuzzseed.New(tc.name, []byte(tc.json)))
	}
	fuzzseed.Check(t, "FuzzCanonical", seeds)
}
