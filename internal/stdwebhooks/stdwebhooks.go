// Package stdwebhooks signs and verifies webhooks the Standard Webhooks way
// (webhook-id, webhook-timestamp and webhook-signature headers; the HMAC-SHA256
// of "<id>.<timestamp>.<body>" in base64 after "v1,"). Memberflow verifies it
// on POST /v1/events and signs it on the journey engine's webhook step, so
// both go through this one package.
//
// The HMAC itself is the scheme's maintained Go library's; this package adds
// what the library leaves to its caller: a secret written either
// "whsec_<base64>" or plain (Key), a clock the caller passes (the library's
// Verify reads time.Now, which tests and the ingest handler's received time
// cannot steer), and refusals that name the header at fault.
package stdwebhooks

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Header names of the scheme. Go canonicalises them on the wire; the scheme
// writes them in lower case.
const (
	HeaderID        = standardwebhooks.HeaderWebhookID
	HeaderTimestamp = standardwebhooks.HeaderWebhookTimestamp
	HeaderSignature = standardwebhooks.HeaderWebhookSignature
)

// Tolerance is how far a webhook-timestamp may lie from now, in the past or
// the future: the scheme's five minutes, and Memberflow-Signature's too.
const Tolerance = 5 * time.Minute

// secretPrefix marks a secret written as base64 of its key bytes.
const secretPrefix = "whsec_"

// ErrSignature is the one error Verify returns; its message names the header
// and the rule, never anything about the expected value.
var ErrSignature = errors.New("invalid signature")

// Key returns the HMAC key bytes of secret: the base64-decoded bytes of a
// secret written "whsec_<base64>" (padded or not), the secret's own bytes
// otherwise. A "whsec_" secret whose rest is not base64 is taken as plain
// bytes; configuration refuses such secrets first (CheckSecret). Two
// secrets that are the same key written two ways verify the same requests.
func Key(secret []byte) []byte {
	if k, prefixed, err := whsecKey(secret); prefixed && err == nil && len(k) > 0 {
		return k
	}
	return secret
}

// whsecKey decodes a secret written "whsec_<base64>" (padded or not):
// prefixed is false for a secret written otherwise, err set when the
// rest is not base64. Key and CheckSecret both read secrets with it.
func whsecKey(secret []byte) (key []byte, prefixed bool, err error) {
	s, ok := strings.CutPrefix(string(secret), secretPrefix)
	if !ok {
		return nil, false, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if k, derr := enc.DecodeString(s); derr == nil {
			return k, true, nil
		}
	}
	return nil, true, errors.New("not base64")
}

// MinKeyBytes is the fewest key bytes a secret written "whsec_<base64>"
// may decode to: 128 bits, the smallest security strength an HMAC key
// is given in current guidance (an HMAC is as strong as its key, NIST SP
// 800-107). The scheme's spec asks senders to generate at least 24 random
// bytes; memberflow accepts 16 so that the local storefront's published
// secret, local-dev-secret (16 bytes), may also be written
// "whsec_bG9jYWwtZGV2LXNlY3JldA==", as the storefronts' Standard Webhooks
// libraries write it.
const MinKeyBytes = 16

// CheckSecret refuses, at configuration load, a secret written
// "whsec_<base64>" whose rest is not base64 or decodes to fewer than
// MinKeyBytes bytes: Key would otherwise take a mistyped secret as plain
// bytes, or a short one as it is, and every signature would fail (or be
// weak) with nothing saying why. A plain secret passes whatever its
// length: those are the platforms' or the operator's, compared as bytes.
// The error states the rule; the caller names the variable.
func CheckSecret(secret []byte) error {
	key, prefixed, err := whsecKey(secret)
	switch {
	case !prefixed:
		return nil
	case err != nil || len(key) == 0:
		return fmt.Errorf("must be %q followed by the key in base64", secretPrefix)
	case len(key) < MinKeyBytes:
		return fmt.Errorf("%q secret decodes to %d bytes; it must be at least %d (generate 24 to 64 random bytes, as the Standard Webhooks spec asks)", secretPrefix, len(key), MinKeyBytes)
	}
	return nil
}

// Present reports whether the request carries any header of the scheme,
// i.e. whether its sender meant to sign it this way.
func Present(h http.Header) bool {
	return h.Get(HeaderID) != "" || h.Get(HeaderTimestamp) != "" || h.Get(HeaderSignature) != ""
}

// Sign returns the webhook-signature value ("v1,<base64>") of body sent with
// webhook-id id at time t under secret (see Key).
func Sign(secret []byte, id string, t time.Time, body []byte) (string, error) {
	wh, err := standardwebhooks.NewWebhookRaw(Key(secret))
	if err != nil {
		return "", fmt.Errorf("sign webhook %s: %w", id, err)
	}
	return wh.Sign(id, t, body)
}

// Headers returns the three headers of body sent with id at t, signed with
// secret: what a sender sets.
func Headers(secret []byte, id string, t time.Time, body []byte) (map[string]string, error) {
	sig, err := Sign(secret, id, t, body)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		HeaderID:        id,
		HeaderTimestamp: strconv.FormatInt(t.Unix(), 10),
		HeaderSignature: sig,
	}, nil
}

// Verify checks h's Standard Webhooks headers against body and secret (see
// Key) at now, and returns the webhook-id, the sender's delivery id. Any one
// of the space-separated v1 signatures may match, so a sender can rotate its
// secret; a timestamp more than Tolerance from now is refused.
func Verify(secret []byte, h http.Header, body []byte, now time.Time) (string, error) {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	for _, c := range []struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}} {
		if c.value == "" {
			return "", fmt.Errorf("%w: %s header is missing", ErrSignature, c.name)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: %s must be unix seconds", ErrSignature, HeaderTimestamp)
	}
	// Compare in seconds: time.Duration overflows for timestamps centuries away.
	if age := now.Unix() - unix; age > int64(Tolerance/time.Second) || age < -int64(Tolerance/time.Second) {
		return "", fmt.Errorf("%w: %s is more than %s away from now", ErrSignature, HeaderTimestamp, Tolerance)
	}
	wh, err := standardwebhooks.NewWebhookRaw(Key(secret))
	if err != nil {
		return "", fmt.Errorf("%w: the source has no secret", ErrSignature)
	}
	// The timestamp was checked above against the caller's clock.
	if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
		return "", fmt.Errorf("%w: no v1 signature in %s matches", ErrSignature, HeaderSignature)
	}
	return id, nil
}
