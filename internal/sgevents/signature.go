package sgevents

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of SendGrid's Signed Event Webhook.
const (
	HeaderSignature = "X-Twilio-Email-Event-Webhook-Signature"
	HeaderTimestamp = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// MaxSignatureAge is how far a signature's timestamp may be from now, either
// way. SendGrid retries a failed post for hours, but every retry is signed
// afresh, so an old timestamp is a replay as far as we are concerned.
const MaxSignatureAge = 10 * time.Minute

// ParsePublicKey reads the verification key shown in SendGrid's mail
// settings: base64 of a DER (PKIX) P-256 public key. A PEM block holding the
// same DER is accepted too, since that is how the key is often pasted.
func ParsePublicKey(s string) (*ecdsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("sendgrid webhook public key: empty")
	}
	var der []byte
	if block, _ := pem.Decode([]byte(s)); block != nil {
		der = block.Bytes
	} else {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("sendgrid webhook public key: must be base64 of a DER public key: %w", err)
		}
		der = b
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("sendgrid webhook public key: %w", err)
	}
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("sendgrid webhook public key: %T, want an ECDSA P-256 key", key)
	}
	return pub, nil
}

// MarshalPublicKey is ParsePublicKey's inverse: base64 of the DER (PKIX)
// encoding, the form SENDGRID_WEBHOOK_PUBLIC_KEY takes.
func MarshalPublicKey(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshal sendgrid webhook public key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// Sign signs body at ts the way SendGrid does and returns the values of
// HeaderSignature and HeaderTimestamp. It stands in for SendGrid locally and
// in tests.
func Sign(priv *ecdsa.PrivateKey, ts time.Time, body []byte) (sigHeader, tsHeader string) {
	tsHeader = strconv.FormatInt(ts.Unix(), 10)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest(tsHeader, body))
	if err != nil {
		// Only a broken random source or key gets here; an empty
		// signature is then refused by Verify like any other bad one.
		return "", tsHeader
	}
	return base64.StdEncoding.EncodeToString(sig), tsHeader
}

// digest is what SendGrid signs: SHA-256 of the timestamp header's exact
// text followed by the raw body.
func digest(tsHeader string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(tsHeader))
	h.Write(body)
	return h.Sum(nil)
}

// errSignature is the one error callers see; the detail names the header
// and which check failed.
var errSignature = errors.New("invalid signature")

// Verify checks the two headers against body, pub and now.
func Verify(pub *ecdsa.PublicKey, sigHeader, tsHeader string, body []byte, now time.Time) error {
	if sigHeader == "" {
		return fmt.Errorf("%w: %s header is missing", errSignature, HeaderSignature)
	}
	if tsHeader == "" {
		return fmt.Errorf("%w: %s header is missing", errSignature, HeaderTimestamp)
	}
	unix, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s header must be unix seconds", errSignature, HeaderTimestamp)
	}
	if age := now.Sub(time.Unix(unix, 0)); age > MaxSignatureAge || age < -MaxSignatureAge {
		return fmt.Errorf("%w: %s header is more than %s away from now", errSignature, HeaderTimestamp, MaxSignatureAge)
	}
	sig, err := base64.StdEncoding.DecodeString(sigHeader)
	if err != nil {
		return fmt.Errorf("%w: %s header must be base64", errSignature, HeaderSignature)
	}
	if !ecdsa.VerifyASN1(pub, digest(tsHeader, body), sig) {
		return fmt.Errorf("%w: %s header does not match the body and timestamp", errSignature, HeaderSignature)
	}
	return nil
}
