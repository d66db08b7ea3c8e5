// Package unsubscribe makes and checks the signed links in every journey
// email that let a member leave an email group (or all marketing email) in
// one click, and serves them: GET and POST /v1/unsubscribe?token=….
//
// A token names the member, the group and an expiry, and carries an
// HMAC-SHA256 over them; nothing else is needed to act on it, so the
// endpoint needs no login and no lookup to trust it.
package unsubscribe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultTTL is how long a link works: email is read late, and RFC 8058
// asks for one-click links that keep working.
const DefaultTTL = 180 * 24 * time.Hour

// Claims is what a token says.
type Claims struct {
	MemberID string    `json:"m"`
	Group    string    `json:"g"` // "" means all marketing email
	Expires  time.Time `json:"e"`
}

// Signer makes and checks tokens with one secret.
type Signer struct {
	secret []byte
}

// context separates these MACs from other uses of the same secret (coupon
// codes are keyed by it too).
const context = "memberflow-unsubscribe-v1\x00"

// NewSigner returns a Signer; the secret must be at least 16 bytes.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < 16 {
		return nil, errors.New("unsubscribe: the signing secret must be at least 16 bytes")
	}
	return &Signer{secret: secret}, nil
}

var enc = base64.RawURLEncoding

// Token returns the token for c: base64url(JSON claims) "." base64url(MAC).
func (s *Signer) Token(c Claims) string {
	c.Expires = c.Expires.UTC().Truncate(time.Second)
	payload, _ := json.Marshal(c) // three strings and a time: cannot fail
	p := enc.EncodeToString(payload)
	return p + "." + enc.EncodeToString(s.mac(p))
}

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(context))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Errors Verify returns; the handler tells the member which one applies.
var (
	ErrMalformed = errors.New("the link is damaged")
	ErrSignature = errors.New("the link was not issued by us")
	ErrExpired   = errors.New("the link has expired")
)

// Verify checks a token's MAC and expiry and returns its claims.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || p == "" || sig == "" {
		return Claims{}, ErrMalformed
	}
	got, err := enc.DecodeString(sig)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	if !hmac.Equal(got, s.mac(p)) {
		return Claims{}, ErrSignature
	}
	raw, err := enc.DecodeString(p)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil || c.MemberID == "" {
		return Claims{}, ErrMalformed
	}
	if !now.Before(c.Expires) {
		return Claims{}, fmt.Errorf("%w (on %s)", ErrExpired, c.Expires.Format(time.DateOnly))
	}
	return c, nil
}

// URL is the link for c under the public base URL of the API.
func (s *Signer) URL(baseURL string, c Claims) string {
	return strings.TrimRight(baseURL, "/") + Path + "?token=" + s.Token(c)
}

// Path is where the handler is served.
const Path = "/v1/unsubscribe"
