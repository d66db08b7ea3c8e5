package stdwebhooks_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/stdwebhooks"
)

// The scheme's published vector (the reference libraries' sign test): this
// secret, id, timestamp and payload sign to this value.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var vectorTime = time.Unix(vectorTimestamp, 0)

func header(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set(stdwebhooks.HeaderID, id)
	h.Set(stdwebhooks.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(stdwebhooks.HeaderSignature, sig)
	return h
}

func TestSignMatchesPublishedVector(t *testing.T) {
	got, err := stdwebhooks.Sign([]byte(vectorSecret), vectorID, vectorTime, []byte(vectorPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSignature {
		t.Errorf("Sign = %s, want %s", got, vectorSignature)
	}
	// The same key written plain signs the same.
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vectorSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := stdwebhooks.Sign(raw, vectorID, vectorTime, []byte(vectorPayload)); err != nil || got != vectorSignature {
		t.Errorf("Sign with the decoded key = %s, %v; want %s", got, err, vectorSignature)
	}
}

func TestVerifyPublishedVector(t *testing.T) {
	h := header(vectorID, vectorTimestamp, vectorSignature)
	id, err := stdwebhooks.Verify([]byte(vectorSecret), h, []byte(vectorPayload), vectorTime)
	if err != nil {
		t.Fatal(err)
	}
	if id != vectorID {
		t.Errorf("delivery id = %q, want %q", id, vectorID)
	}
}

func TestVerifyRefusals(t *testing.T) {
	payload := []byte(vectorPayload)
	good := header(vectorID, vectorTimestamp, vectorSignature)
	without := func(name string) http.Header {
		h := good.Clone()
		h.Del(name)
		return h
	}
	for _, tc := range []struct {
		name   string
		h      http.Header
		body   []byte
		now    time.Time
		secret string
		names  string // the header the refusal must name
	}{
		{"tampered body", good, []byte(`{"test": 2432232315}`), vectorTime, vectorSecret, stdwebhooks.HeaderSignature},
		{"other secret", good, payload, vectorTime, "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key")), stdwebhooks.HeaderSignature},
		{"other id", header("msg_other", vectorTimestamp, vectorSignature), payload, vectorTime, vectorSecret, stdwebhooks.HeaderSignature},
		{"stale", good, payload, vectorTime.Add(stdwebhooks.Tolerance + time.Second), vectorSecret, stdwebhooks.HeaderTimestamp},
		{"from the future", good, payload, vectorTime.Add(-stdwebhooks.Tolerance - time.Second), vectorSecret, stdwebhooks.HeaderTimestamp},
		{"timestamp far beyond int64 nanoseconds", header(vectorID, 1<<60, vectorSignature), payload, vectorTime, vectorSecret, stdwebhooks.HeaderTimestamp},
		{"timestamp not unix seconds", func() http.Header {
			h := good.Clone()
			h.Set(stdwebhooks.HeaderTimestamp, "2021-02-25T15:02:10Z")
			return h
		}(), payload, vectorTime, vectorSecret, stdwebhooks.HeaderTimestamp},
		{"no id", without(stdwebhooks.HeaderID), payload, vectorTime, vectorSecret, stdwebhooks.HeaderID},
		{"no timestamp", without(stdwebhooks.HeaderTimestamp), payload, vectorTime, vectorSecret, stdwebhooks.HeaderTimestamp},
		{"no signature", without(stdwebhooks.HeaderSignature), payload, vectorTime, vectorSecret, stdwebhooks.HeaderSignature},
		// The right MAC under another version is not a v1 signature.
		{"other version", header(vectorID, vectorTimestamp, "v2,"+strings.TrimPrefix(vectorSignature, "v1,")), payload, vectorTime, vectorSecret, stdwebhooks.HeaderSignature},
		{"bare base64", header(vectorID, vectorTimestamp, strings.TrimPrefix(vectorSignature, "v1,")), payload, vectorTime, vectorSecret, stdwebhooks.HeaderSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := stdwebhooks.Verify([]byte(tc.secret), tc.h, tc.body, tc.now)
			if !errors.Is(err, stdwebhooks.ErrSignature) {
				t.Fatalf("Verify = %v, want the invalid-signature error", err)
			}
			if !strings.Contains(err.Error(), tc.names) {
				t.Errorf("refusal %q does not name %s", err, tc.names)
			}
		})
	}
}

func TestToleranceIsInclusive(t *testing.T) {
	h := header(vectorID, vectorTimestamp, vectorSignature)
	for _, now := range []time.Time{vectorTime.Add(stdwebhooks.Tolerance), vectorTime.Add(-stdwebhooks.Tolerance)} {
		if _, err := stdwebhooks.Verify([]byte(vectorSecret), h, []byte(vectorPayload), now); err != nil {
			t.Errorf("at %s from the timestamp: %v", now.Sub(vectorTime), err)
		}
	}
}

// A sender rotating its secret sends the old key's signature beside the new
// one's; either order verifies under the new key, and the old signature
// alone does not.
func TestRotatedSecrets(t *testing.T) {
	body := []byte(vectorPayload)
	at := vectorTime.Add(-4 * time.Minute)
	oldSig, err := stdwebhooks.Sign([]byte("old-secret"), vectorID, at, body)
	if err != nil {
		t.Fatal(err)
	}
	newSig, err := stdwebhooks.Sign([]byte(vectorSecret), vectorID, at, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{oldSig + " " + newSig, newSig + " " + oldSig} {
		if _, err := stdwebhooks.Verify([]byte(vectorSecret), header(vectorID, at.Unix(), sig), body, vectorTime); err != nil {
			t.Errorf("%q: %v", sig, err)
		}
	}
	if _, err := stdwebhooks.Verify([]byte(vectorSecret), header(vectorID, at.Unix(), oldSig), body, vectorTime); err == nil {
		t.Error("the old secret's signature alone verified under the new secret")
	}
}

// A secret is its key bytes: "whsec_" + base64 of the plain secret and the
// plain secret sign alike and verify each other's requests.
func TestWhsecAndPlainAreTheSameKey(t *testing.T) {
	plain := []byte("local-dev-secret")
	whsec := []byte("whsec_" + base64.StdEncoding.EncodeToString(plain))
	if got := stdwebhooks.Key(whsec); !bytes.Equal(got, plain) {
		t.Fatalf("Key(%s) = %q, want %q", whsec, got, plain)
	}
	body := []byte(`{"id":"evt-1"}`)
	for _, pair := range [][2][]byte{{plain, whsec}, {whsec, plain}} {
		sig, err := stdwebhooks.Sign(pair[0], "msg_1", vectorTime, body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stdwebhooks.Verify(pair[1], header("msg_1", vectorTimestamp, sig), body, vectorTime); err != nil {
			t.Errorf("signed with %s, verified with %s: %v", pair[0], pair[1], err)
		}
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct{ secret, want string }{
		{"plain", "plain"},
		// Unpadded base64 is how some senders write it (the reference
		// Python library's unpadded-secret test).
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", string(mustDecode(t, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS="))},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", string(mustDecode(t, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr=="))},
		// Not base64 after the prefix: the bytes as written.
		{"whsec_not base64!", "whsec_not base64!"},
		{"whsec_", "whsec_"},
	} {
		if got := stdwebhooks.Key([]byte(tc.secret)); string(got) != tc.want {
			t.Errorf("Key(%q) = %q, want %q", tc.secret, got, tc.want)
		}
	}
}

func TestEmptySecretRefuses(t *testing.T) {
	if _, err := stdwebhooks.Sign(nil, "msg_1", vectorTime, nil); err == nil {
		t.Error("Sign with no secret succeeded")
	}
	h := header(vectorID, vectorTimestamp, vectorSignature)
	if _, err := stdwebhooks.Verify(nil, h, []byte(vectorPayload), vectorTime); !errors.Is(err, stdwebhooks.ErrSignature) {
		t.Errorf("Verify with no secret = %v, want the invalid-signature error", err)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// CheckSecret: a "whsec_" secret must be base64 of at least 16 key bytes;
// plain secrets pass as they are.
func TestCheckSecret(t *testing.T) {
	b64 := func(n int) string { return "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa5}, n)) }
	for _, tc := range []struct {
		name, secret string
		want         string // "" when accepted, else part of the error
	}{
		{"the spec's vector, 24 bytes", vectorSecret, ""},
		{"the local storefront's, 16 bytes", "whsec_" + base64.StdEncoding.EncodeToString([]byte("local-dev-secret")), ""},
		{"the local journey webhook's", "whsec_bG9jYWwtam91cm5leS13ZWJob29rLXNlY3JldA==", ""},
		{"unpadded", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ""},
		{"64 bytes", b64(64), ""},
		{"plain and short", "abc", ""},
		{"plain", "local-dev-secret", ""},
		{"15 bytes", b64(15), "decodes to 15 bytes; it must be at least 16"},
		{"8 bytes", b64(8), "decodes to 8 bytes"},
		{"not base64", "whsec_not base64!", `must be "whsec_" followed by the key in base64`},
		{"nothing after the prefix", "whsec_", `must be "whsec_" followed by the key in base64`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := stdwebhooks.CheckSecret([]byte(tc.secret))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckSecret(%q) = %v, want it accepted", tc.secret, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("CheckSecret(%q) = %v, want an error saying %q", tc.secret, err, tc.want)
			}
		})
	}
}
