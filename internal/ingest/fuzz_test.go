package ingest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
)

// timestamps finds every t= value of a header, however Verify reads it.
var timestamps = regexp.MustCompile(`(?:^|,)\s*t=([^,]*)`)

// FuzzVerifySignature checks Verify on any header and body: it accepts a
// header only when the header carries the HMAC of this body under this
// secret, so another secret or a changed body is refused; every refusal is
// the one invalid-signature error. It also signs the body itself at
// now+skew seconds: that header verifies exactly when the skew is within
// MaxSignatureAge, and stops verifying once one byte of the body changes.
func FuzzVerifySignature(f *testing.F) {
	other := []byte("another-secret")
	f.Fuzz(func(t *testing.T, header string, body []byte, skew int64) {
		err := ingest.Verify(secret, header, body, now)
		if err != nil && !strings.HasPrefix(err.Error(), "invalid signature") {
			t.Fatalf("Verify error %q is not the invalid-signature error", err)
		}
		if err == nil {
			if !carriesMAC(header, body) {
				t.Fatalf("Verify accepted %q, which holds no HMAC of the body", header)
			}
			if ingest.Verify(other, header, body, now) == nil {
				t.Fatalf("header %q verifies under two secrets", header)
			}
			if ingest.Verify(secret, header, tamper(body, skew), now) == nil {
				t.Fatalf("header %q verifies a changed body", header)
			}
		}

		// Keep the skew within a day so the arithmetic cannot overflow;
		// the window is minutes wide.
		skew %= 24 * 60 * 60
		at := now.Add(time.Duration(skew) * time.Second)
		signed := ingest.Sign(secret, at, body)
		err = ingest.Verify(secret, signed, body, now)
		within := time.Duration(max(skew, -skew))*time.Second <= ingest.MaxSignatureAge
		if within != (err == nil) {
			t.Fatalf("signed %ds from now: Verify = %v", skew, err)
		}
		if !within {
			return
		}
		if err := ingest.Verify(secret, signed, tamper(body, skew), now); err == nil {
			t.Fatal("a signature verified a changed body")
		}
		if err := ingest.Verify(other, signed, body, now); err == nil {
			t.Fatal("a signature verified under another secret")
		}
		// A source rotating its secret sends the old secret's MAC beside
		// the new one's.
		rotating := ingest.Sign(other, at, body) + ",v1=" + strings.SplitN(signed, "v1=", 2)[1]
		if err := ingest.Verify(secret, rotating, body, now); err != nil {
			t.Fatalf("rotation header refused: %v", err)
		}
	})
}

// carriesMAC reports whether header holds, in hex, the HMAC-SHA256 of
// "<t>.<body>" under the test secret for one of its t= values: the only way
// a header can be genuine.
func carriesMAC(header string, body []byte) bool {
	lower := strings.ToLower(header)
	for _, m := range timestamps.FindAllStringSubmatch(header, -1) {
		h := hmac.New(sha256.New, secret)
		h.Write([]byte(m[1] + "."))
		h.Write(body)
		if strings.Contains(lower, hex.EncodeToString(h.Sum(nil))) {
			return true
		}
	}
	return false
}

// tamper returns body with one byte changed (chosen by n), or with a byte
// added when it is empty.
func tamper(body []byte, n int64) []byte {
	if len(body) == 0 {
		return []byte{0}
	}
	b := bytes.Clone(body)
	i := int(uint64(n) % uint64(len(b)))
	b[i] ^= 0x01
	return b
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzVerifySignature equal to the
// headers and bodies handler_test.go posts; go test ./internal/ingest -run
// TestFuzzSeeds -update-seeds rewrites it.
func TestFuzzSeeds(t *testing.T) {
	reg := sample(t, events.MemberRegistered)
	order := sample(t, events.OrderPaid)
	bad := bytes.Replace(order, []byte(`"amount": "1250.00"`), []byte(`"amount": 1250.5`), 1)
	invalid := []byte("[" + string(reg) + "," + string(bad) + "]")
	malformed := []byte(`{"id":"e1","type":"member.registered","occurred_at":"2026-11-23T10:00:00Z","member_id":"m-1","data":{"name":"x","consent":{"email_marketing":true}}}`)
	sig := func(body []byte, at time.Time) string { return signed(body, at)[ingest.HeaderSignature] }
	good := ingest.Sign(secret, now.Add(-4*time.Minute), reg)
	rotating := ingest.Sign([]byte("old-secret"), now.Add(-4*time.Minute), reg) + ",v1=" + strings.SplitN(good, "v1=", 2)[1]

	seeds := []fuzzseed.Seed{
		fuzzseed.New("accepted", sig(reg, now), reg, int64(0)),
		fuzzseed.New("no-signature", "", reg, int64(0)),
		fuzzseed.New("wrong-secret", ingest.Sign([]byte("nope"), now, reg), reg, int64(0)),
		fuzzseed.New("stale", sig(reg, now.Add(-6*time.Minute)), reg, int64(-6*60)),
		fuzzseed.New("from-the-future", sig(reg, now.Add(6*time.Minute)), reg, int64(6*60)),
		fuzzseed.New("garbled", "v1=zz", reg, int64(0)),
		fuzzseed.New("signature-of-another-body", sig([]byte(`{}`), now), reg, int64(0)),
		fuzzseed.New("rotated-secret", rotating, reg, int64(-4*60)),
		fuzzseed.New("invalid-batch", sig(invalid, now), invalid, int64(0)),
		fuzzseed.New("malformed-body", sig(malformed, now), malformed, int64(0)),
		fuzzseed.New("empty-body", sig(nil, now), []byte{}, int64(300)),
	}
	fuzzseed.Check(t, "FuzzVerifySignature", seeds)
}
