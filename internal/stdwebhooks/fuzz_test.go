package stdwebhooks_test

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/stdwebhooks"
	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
)

var (
	fuzzSecret = []byte(vectorSecret)
	fuzzOther  = []byte("another-secret")
)

// FuzzStandardWebhook checks Verify on any three headers and body: it
// accepts only when webhook-signature holds, as one of its space-separated
// values, the v1 signature of this id, timestamp and body under this
// secret, so another secret or a changed body is refused; every refusal is
// the one invalid-signature error. It also signs the body itself at
// now+skew seconds: that verifies exactly when the skew is within
// Tolerance, and stops verifying once one byte of the body changes.
func FuzzStandardWebhook(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte, skew int64) {
		h := http.Header{}
		h.Set(stdwebhooks.HeaderID, id)
		h.Set(stdwebhooks.HeaderTimestamp, ts)
		h.Set(stdwebhooks.HeaderSignature, sig)
		got, err := stdwebhooks.Verify(fuzzSecret, h, body, vectorTime)
		if err != nil && !errors.Is(err, stdwebhooks.ErrSignature) {
			t.Fatalf("Verify error %q is not the invalid-signature error", err)
		}
		if err == nil {
			if got != h.Get(stdwebhooks.HeaderID) {
				t.Fatalf("Verify returned delivery id %q for webhook-id %q", got, id)
			}
			unix, perr := strconv.ParseInt(h.Get(stdwebhooks.HeaderTimestamp), 10, 64)
			if perr != nil {
				t.Fatalf("Verify accepted timestamp %q", ts)
			}
			want, _ := stdwebhooks.Sign(fuzzSecret, h.Get(stdwebhooks.HeaderID), time.Unix(unix, 0), body)
			if !strings.Contains(" "+h.Get(stdwebhooks.HeaderSignature)+" ", " "+want+" ") {
				t.Fatalf("Verify accepted %q, which holds no signature of the body", sig)
			}
			// Under another secret only a header carrying that secret's
			// signature too (a rotation) verifies.
			other, _ := stdwebhooks.Sign(fuzzOther, h.Get(stdwebhooks.HeaderID), time.Unix(unix, 0), body)
			if _, err := stdwebhooks.Verify(fuzzOther, h, body, vectorTime); err == nil && !strings.Contains(" "+h.Get(stdwebhooks.HeaderSignature)+" ", " "+other+" ") {
				t.Fatalf("headers %v verify under another secret", h)
			}
			if _, err := stdwebhooks.Verify(fuzzSecret, h, tamper(body, skew), vectorTime); err == nil {
				t.Fatalf("headers %v verify a changed body", h)
			}
		}

		// Keep the skew within a day; the window is minutes wide. The id
		// is the sender's choice; an empty one is refused, so sign with one.
		skew %= 24 * 60 * 60
		id = strings.TrimSpace(id)
		if id == "" || strings.ContainsAny(id, "\r\n") {
			id = "msg_fuzz"
		}
		at := vectorTime.Add(time.Duration(skew) * time.Second)
		signed, err := stdwebhooks.Headers(fuzzSecret, id, at, body)
		if err != nil {
			t.Fatal(err)
		}
		sh := http.Header{}
		for k, v := range signed {
			sh.Set(k, v)
		}
		_, err = stdwebhooks.Verify(fuzzSecret, sh, body, vectorTime)
		within := time.Duration(max(skew, -skew))*time.Second <= stdwebhooks.Tolerance
		if within != (err == nil) {
			t.Fatalf("signed %ds from now: Verify = %v", skew, err)
		}
		if !within {
			return
		}
		if _, err := stdwebhooks.Verify(fuzzSecret, sh, tamper(body, skew), vectorTime); err == nil {
			t.Fatal("a signature verified a changed body")
		}
		if _, err := stdwebhooks.Verify(fuzzOther, sh, body, vectorTime); err == nil {
			t.Fatal("a signature verified under another secret")
		}
		old, err := stdwebhooks.Sign(fuzzOther, id, at, body)
		if err != nil {
			t.Fatal(err)
		}
		sh.Set(stdwebhooks.HeaderSignature, old+" "+signed[stdwebhooks.HeaderSignature])
		if _, err := stdwebhooks.Verify(fuzzSecret, sh, body, vectorTime); err != nil {
			t.Fatalf("rotation header refused: %v", err)
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

// TestFuzzSeeds keeps testdata/fuzz/FuzzStandardWebhook equal to the inputs
// the tests above use; go test ./internal/stdwebhooks -run TestFuzzSeeds
// -update-seeds rewrites it.
func TestFuzzSeeds(t *testing.T) {
	ts := strconv.FormatInt(vectorTimestamp, 10)
	payload := []byte(vectorPayload)
	sign := func(secret []byte, id string, at time.Time, body []byte) string {
		t.Helper()
		s, err := stdwebhooks.Sign(secret, id, at, body)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	early := vectorTime.Add(-4 * time.Minute)
	earlyTS := strconv.FormatInt(early.Unix(), 10)
	stale := strconv.FormatInt(vectorTime.Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(vectorTime.Add(6*time.Minute).Unix(), 10)
	seeds := []fuzzseed.Seed{
		fuzzseed.New("published-vector", vectorID, ts, vectorSignature, payload, int64(0)),
		fuzzseed.New("tampered-body", vectorID, ts, vectorSignature, []byte(`{"test": 2432232315}`), int64(0)),
		fuzzseed.New("no-signature", vectorID, ts, "", payload, int64(0)),
		fuzzseed.New("no-id", "", ts, vectorSignature, payload, int64(0)),
		fuzzseed.New("wrong-secret", vectorID, ts, sign(fuzzOther, vectorID, vectorTime, payload), payload, int64(0)),
		fuzzseed.New("stale", vectorID, stale, sign(fuzzSecret, vectorID, vectorTime.Add(-6*time.Minute), payload), payload, int64(-6*60)),
		fuzzseed.New("from-the-future", vectorID, future, sign(fuzzSecret, vectorID, vectorTime.Add(6*time.Minute), payload), payload, int64(6*60)),
		fuzzseed.New("rotated-secret", vectorID, earlyTS, sign(fuzzOther, vectorID, early, payload)+" "+sign(fuzzSecret, vectorID, early, payload), payload, int64(-4*60)),
		fuzzseed.New("other-version", vectorID, ts, "v2,"+strings.TrimPrefix(vectorSignature, "v1,"), payload, int64(0)),
		fuzzseed.New("garbled", vectorID, "soon", "v1,zz", payload, int64(0)),
		fuzzseed.New("empty-body", vectorID, ts, sign(fuzzSecret, vectorID, vectorTime, nil), []byte{}, int64(300)),
	}
	fuzzseed.Check(t, "FuzzStandardWebhook", seeds)
}
