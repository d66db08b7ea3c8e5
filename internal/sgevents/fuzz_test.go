package sgevents

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
)

// FuzzSendGridEvents checks how the event webhook reads any (signed) body.
// Only a body that is not a JSON array fails, with the one body error.
// Every element is either kept or counted as skipped; a kept event is a
// recordable send event of ours, grouped with the member's other events
// only; a hard bounce is a bounce. Nothing it logs quotes a recipient's
// address.
func FuzzSendGridEvents(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var logs bytes.Buffer
		h := &Handler{Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		b, err := h.parse(context.Background(), body, fuzzNow)

		var elems []json.RawMessage
		isArray := json.Unmarshal(body, &elems) == nil && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("["))
		if err != nil {
			if isArray || err != errBody {
				t.Fatalf("parse refused a JSON array, or with another error: %v", err)
			}
			return
		}
		if !isArray {
			t.Fatalf("parse accepted a body that is not a JSON array: %q", body)
		}

		kept := 0
		members := map[string]bool{}
		for _, group := range b.byMember {
			if len(group) == 0 {
				t.Fatal("a member with no events")
			}
			member := group[0].send.MemberID
			if members[member] {
				t.Fatalf("member %q has two groups", member)
			}
			members[member] = true
			for _, fb := range group {
				kept++
				ev := fb.send
				if ev.MemberID != member {
					t.Fatalf("event of %q in %q's group", ev.MemberID, member)
				}
				if err := store.CheckSendEvent(ev); err != nil || !recordedTypes[ev.Type] {
					t.Fatalf("kept event %+v cannot be recorded: %v", ev, err)
				}
				if fb.hard && ev.Type != store.EventBounce {
					t.Fatalf("a %s counted as a hard bounce", ev.Type)
				}
				if ev.At.IsZero() || strings.Contains(ev.MessageID, ".filter") {
					t.Fatalf("event at %s with message id %q", ev.At, ev.MessageID)
				}
			}
		}
		if b.total != len(elems) || kept+b.skipped() != len(elems) {
			t.Fatalf("%d elements: total %d, %d kept and %d skipped", len(elems), b.total, kept, b.skipped())
		}
		if addr := loggedAddress(elems, logs.String()); addr != "" {
			t.Fatalf("the log quotes address %q:\n%s", addr, logs.String())
		}
	})
}

// fuzzNow is the receiving time of both targets.
var fuzzNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// fixedKey returns the same P-256 key on every run, so that signatures in
// the committed seeds still verify.
func fixedKey(tb testing.TB, name string) *ecdsa.PrivateKey {
	tb.Helper()
	d := sha256.Sum256([]byte("memberflow sgevents fuzz key " + name))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// FuzzSendGridSignature checks Verify on any headers and body: a pair it
// accepts carries SendGrid's signature of this body at a timestamp within
// MaxSignatureAge, so another key or a changed body is refused, and every
// refusal is the one invalid-signature error. It also signs the body itself
// at now+skew seconds: that verifies exactly when the skew is within the
// window, and no longer once the body or the timestamp header changes.
func FuzzSendGridSignature(f *testing.F) {
	key, other := fixedKey(f, "sendgrid"), fixedKey(f, "other")
	f.Fuzz(func(t *testing.T, sigHeader, tsHeader string, body []byte, skew int64) {
		err := Verify(&key.PublicKey, sigHeader, tsHeader, body, fuzzNow)
		if err != nil && !errors.Is(err, errSignature) {
			t.Fatalf("Verify error %v is not the invalid-signature error", err)
		}
		if err == nil {
			unix, perr := strconv.ParseInt(tsHeader, 10, 64)
			if age := fuzzNow.Sub(time.Unix(unix, 0)); perr != nil || age > MaxSignatureAge || age < -MaxSignatureAge {
				t.Fatalf("Verify accepted timestamp header %q", tsHeader)
			}
			if Verify(&other.PublicKey, sigHeader, tsHeader, body, fuzzNow) == nil {
				t.Fatal("a signature verifies under two keys")
			}
			if Verify(&key.PublicKey, sigHeader, tsHeader, tamper(body, skew), fuzzNow) == nil {
				t.Fatal("a signature verifies a changed body")
			}
		}

		// Keep the skew within a day so the arithmetic cannot overflow;
		// the window is minutes wide.
		skew %= 24 * 60 * 60
		sig, ts := Sign(key, fuzzNow.Add(time.Duration(skew)*time.Second), body)
		err = Verify(&key.PublicKey, sig, ts, body, fuzzNow)
		within := time.Duration(max(skew, -skew))*time.Second <= MaxSignatureAge
		if within != (err == nil) {
			t.Fatalf("signed %ds from now: Verify = %v", skew, err)
		}
		if !within {
			return
		}
		if Verify(&key.PublicKey, sig, ts, tamper(body, skew), fuzzNow) == nil {
			t.Fatal("a signature verified a changed body")
		}
		if Verify(&other.PublicKey, sig, ts, body, fuzzNow) == nil {
			t.Fatal("a signature verified under another key")
		}
		if Verify(&key.PublicKey, sig, " "+ts, body, fuzzNow) == nil || Verify(&key.PublicKey, sig, strconv.FormatInt(fuzzNow.Unix()+skew+1, 10), body, fuzzNow) == nil {
			t.Fatal("a signature verified another timestamp header")
		}
	})
}

// tamper returns body with one byte changed (chosen by n), or with a byte
// added when it is empty.
func tamper(body []byte, n int64) []byte {
	if len(body) == 0 {
		return []byte{0}
	}
	b := bytes.Clone(body)
	b[int(uint64(n)%uint64(len(b)))] ^= 0x01
	return b
}

// loggedAddress returns an element's "email" that appears in logs, unless
// the same text is also in another of the element fields memberflow reads
// (which may legitimately be logged, such as an odd sg_event_id).
func loggedAddress(elems []json.RawMessage, logs string) string {
	var others []string
	var addrs []string
	for _, raw := range elems {
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		for k, v := range m {
			s, ok := v.(string)
			switch {
			case !ok:
			case k == "email":
				addrs = append(addrs, s)
			default:
				others = append(others, s)
			}
		}
	}
	for _, a := range addrs {
		if len(a) < 6 || !strings.Contains(a, "@") {
			continue // too short to tell from other text
		}
		quoted, _ := json.Marshal(a) // as the JSON log handler would write it
		inner := string(quoted[1 : len(quoted)-1])
		if !strings.Contains(logs, inner) {
			continue
		}
		if !containsAny(others, a) {
			return a
		}
	}
	return ""
}

func containsAny(values []string, s string) bool {
	for _, v := range values {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// sgEvent is one SendGrid event of m-1001's welcome email with fields
// added, changed or (with a nil value) removed by kv pairs: handler_test.go's
// ev, for this package's internal tests.
func sgEvent(id, typ string, kv ...any) map[string]any {
	e := map[string]any{
		"email": "lin.wei@example.com", "timestamp": int64(1795424400), "event": typ,
		"sg_event_id": id, "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
		"member_id": "m-1001", "idempotency_key": "m-1001#activation#1#welcome", "journey": "activation", "step": "welcome", "enrollment": "1",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(e, kv[i].(string))
			continue
		}
		e[kv[i].(string)] = kv[i+1]
	}
	return e
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzSendGridEvents equal to the bodies
// the tests post: events/sendgrid/*.json and the batches of
// handler_test.go. go test ./internal/sgevents -run TestFuzzSeeds
// -update-seeds rewrites it.
func TestFuzzSeeds(t *testing.T) {
	var seeds []fuzzseed.Seed
	bounce, err := os.ReadFile("../../events/sendgrid/bounce.json")
	if err != nil {
		t.Fatal(err)
	}
	seeds = append(seeds, fuzzseed.New("sample-bounce", bounce))
	body := func(evs ...map[string]any) []byte {
		b, err := json.Marshal(evs)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := func(member string) []any {
		return []any{"member_id", member, "idempotency_key", member + "#activation#1#welcome"}
	}
	for _, s := range []struct {
		name string
		body []byte
	}{
		{"records-and-suppresses", body(
			sgEvent("e-processed", "processed"),
			sgEvent("e-delivered", "delivered"),
			sgEvent("e-open", "open"),
			sgEvent("e-click", "click", "url", "https://shop.example.com/"),
			sgEvent("e-bounce", "bounce", "type", "bounce", "reason", "550 5.1.1 no such user"),
			sgEvent("e-spam", "spamreport", other("m-1002")...),
			sgEvent("e-blocked", "bounce", append([]any{"type", "blocked", "reason", "421 try later"}, other("m-1003")...)...),
			sgEvent("e-foreign", "delivered", "member_id", nil, "idempotency_key", nil),
			sgEvent("e-new-type", "machine_learned_open"),
			sgEvent("e-no-step", "open", "journey", nil, "step", nil, "idempotency_key", "not-a-send-key"),
		)},
		{"send-key-fills-custom-args", body(sgEvent("e-1", "delivered", "journey", nil, "step", nil, "enrollment", nil))},
		{"replayed-batch", body(
			sgEvent("e-delivered", "delivered"),
			sgEvent("e-bounce", "bounce", "type", "bounce", "reason", "550 no such user"),
			sgEvent("e-group", "group_unsubscribe", "asm_group_id", 12345),
			sgEvent("e-unsub", "unsubscribe"),
		)},
		{"group-unsubscribe", body(
			sgEvent("e-group", "group_unsubscribe", "asm_group_id", 12345),
			sgEvent("e-unknown-group", "group_unsubscribe", "asm_group_id", 999),
		)},
		{"unsubscribe", body(sgEvent("e-unsub", "unsubscribe"))},
		{"bounce", body(sgEvent("e-bounce", "bounce", "type", "bounce"))},
		{"open", body(sgEvent("e-1", "open"))},
		{"object-not-array", []byte(`{"event":"open"}`)},
		{"not-json", []byte(`open`)},
		{"null", []byte(`null`)},
		{"empty", []byte{}},
		{"odd-elements", []byte(`[1, {"event":"open","sg_event_id":"e-odd","member_id":"m-1001","idempotency_key":"m-1001#activation#1#welcome","timestamp":"soon"},` + string(body(sgEvent("e-ok", "open")))[1:])},
		{"bounce-550", body(sgEvent("e-bounce", "bounce", "type", "bounce", "reason", "550"))},
		{"two-members", body(sgEvent("e-1", "open"), sgEvent("e-2", "open", other("m-1002")...))},
	} {
		seeds = append(seeds, fuzzseed.New(s.name, s.body))
	}
	for _, reason := range []string{"Bounced Address", "Spam Reporting Address", "Unsubscribed Address", "Invalid", "Exceeded Max Size"} {
		seeds = append(seeds, fuzzseed.New("dropped-"+strings.ToLower(strings.ReplaceAll(reason, " ", "-")), body(sgEvent("e-drop", "dropped", "reason", reason))))
	}
	fuzzseed.Check(t, "FuzzSendGridEvents", seeds)

	// TestRejectsUnsignedTamperedAndStale, TestAcceptsSignatureWithinWindow
	// and TestBadRequests, signed with the fixed key. ECDSA signatures are
	// randomized; a fixed random source makes them the same on every run
	// (a new Go release may change them: then -update-seeds).
	cryptotest.SetGlobalRandom(t, 1)
	key, otherKey := fixedKey(t, "sendgrid"), fixedKey(t, "other")
	b := body(sgEvent("e-bounce", "bounce", "type", "bounce"))
	sign := func(k *ecdsa.PrivateKey, b []byte, at time.Time) (string, string) { return Sign(k, at, b) }
	sig, ts := sign(key, b, fuzzNow)
	staleSig, staleTS := sign(key, b, fuzzNow.Add(-11*time.Minute))
	futureSig, futureTS := sign(key, b, fuzzNow.Add(11*time.Minute))
	otherSig, otherTS := sign(otherKey, b, fuzzNow)
	windowSig, windowTS := sign(key, b, fuzzNow.Add(-9*time.Minute))
	day := int64(24 * 60 * 60)
	signatures := []fuzzseed.Seed{
		fuzzseed.New("signed", sig, ts, b, int64(0)),
		fuzzseed.New("unsigned", "", "", b, int64(0)),
		fuzzseed.New("no-timestamp", sig, "", b, int64(0)),
		fuzzseed.New("tampered-body", sig, ts, bytes.Replace(b, []byte(`"bounce"`), []byte(`"open"`), 1), int64(0)),
		fuzzseed.New("another-key", otherSig, otherTS, b, int64(0)),
		fuzzseed.New("stale", staleSig, staleTS, b, int64(-11*60)),
		fuzzseed.New("from-the-future", futureSig, futureTS, b, int64(11*60)),
		fuzzseed.New("timestamp-changed", sig, strconv.FormatInt(fuzzNow.Unix()+1, 10), b, int64(1)),
		fuzzseed.New("garbled", "not base64!", strconv.FormatInt(fuzzNow.Unix(), 10), b, int64(0)),
		fuzzseed.New("timestamp-not-a-number", "c2ln", "yesterday", b, day),
		fuzzseed.New("within-window", windowSig, windowTS, b, int64(-9*60)),
	}
	fuzzseed.Check(t, "FuzzSendGridSignature", signatures)
}
