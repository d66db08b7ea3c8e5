package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/stdwebhooks"
)

// Header names of the webhook contract.
const (
	HeaderSignature = "Memberflow-Signature"
	HeaderSource    = "Memberflow-Source"
)

// MaxSignatureAge is how old (or how far in the future) a signature's
// timestamp may be; older requests are replays as far as we are concerned.
// It is the Standard Webhooks tolerance too, so both schemes agree.
const MaxSignatureAge = stdwebhooks.Tolerance

// VerifyRequest checks a request's signature in whichever scheme it carries:
// Memberflow-Signature when present, else Standard Webhooks (webhook-id,
// webhook-timestamp, webhook-signature), whose webhook-id it returns as the
// delivery id. secret is the source's, written "whsec_<base64>" or plain
// (stdwebhooks.Key): both schemes are keyed with the same bytes.
func VerifyRequest(secret []byte, h http.Header, body []byte, now time.Time) (delivery string, err error) {
	if h.Get(HeaderSignature) == "" && stdwebhooks.Present(h) {
		return stdwebhooks.Verify(secret, h, body, now)
	}
	if h.Get(HeaderSignature) == "" {
		return "", fmt.Errorf("%w: %s header is missing (or sign the Standard Webhooks way: %s, %s, %s)",
			errSignature, HeaderSignature, stdwebhooks.HeaderID, stdwebhooks.HeaderTimestamp, stdwebhooks.HeaderSignature)
	}
	return "", Verify(secret, h.Get(HeaderSignature), body, now)
}

// Sign returns the Memberflow-Signature header value for body signed with
// secret at time t: "t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">". A
// "whsec_<base64>" secret keys the HMAC with its decoded bytes, as in
// Standard Webhooks.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, stdwebhooks.Key(secret))
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}

// errSignature is the one error callers see; the detail says which check
// failed without revealing anything about the expected value.
var errSignature = errors.New("invalid signature")

// Verify checks header against body and secret at now. Several v1 values
// are accepted so a source can rotate its secret without downtime.
func Verify(secret []byte, header string, body []byte, now time.Time) error {
	if header == "" {
		return fmt.Errorf("%w: %s header is missing", errSignature, HeaderSignature)
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %s must look like t=<unix>,v1=<hex>", errSignature, HeaderSignature)
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: %s must look like t=<unix>,v1=<hex>", errSignature, HeaderSignature)
	}
	if age := now.Sub(time.Unix(unix, 0)); age > MaxSignatureAge || age < -MaxSignatureAge {
		return fmt.Errorf("%w: timestamp is more than %s away from now", errSignature, MaxSignatureAge)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 signature matches", errSignature)
}
