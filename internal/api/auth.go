package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/httpx"
)

// Tokens is the set of admin bearer tokens, held only as SHA-256 hashes so a
// memory dump or log line never shows a usable token.
type Tokens struct {
	hashes [][sha256.Size]byte
	// sessionSecret keys console sessions (session.go); none means the
	// console cannot sign in.
	sessionSecret []byte
}

// NewTokens hashes the given tokens; empty tokens are refused because they
// would let an empty Authorization header in.
func NewTokens(tokens ...string) (Tokens, error) {
	var t Tokens
	for _, tok := range tokens {
		if strings.TrimSpace(tok) == "" {
			return Tokens{}, errors.New("admin token must not be empty")
		}
		t.hashes = append(t.hashes, sha256.Sum256([]byte(tok)))
	}
	if len(t.hashes) == 0 {
		return Tokens{}, errors.New("at least one admin token is required")
	}
	return t, nil
}

// Valid reports whether token is one of the set. Every stored hash is
// compared in constant time, so timing tells nothing about which matched.
func (t Tokens) Valid(token string) bool {
	_, ok := t.hash(token)
	return ok
}

// RequireBearer answers 401 unless the request carries a valid
// "Authorization: Bearer <token>" or a valid console session cookie (see
// session.go); a request authenticated by the cookie must also carry the
// session's X-CSRF-Token unless it is a GET or HEAD (403 otherwise).
func RequireBearer(t Tokens, next http.Handler) http.Handler {
	return requireAuth(t, time.Now, next)
}

func requireAuth(t Tokens, now func() time.Time, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var key [sha256.Size]byte
		switch c, err := r.Cookie(SessionCookie); {
		case r.Header.Get("Authorization") == "" && err == nil:
			k, _, ok := t.session(c.Value, now())
			if !ok {
				httpx.WriteError(w, http.StatusUnauthorized, SessionCookie+": the session has expired or is no longer valid; sign in again")
				return
			}
			if r.Method != http.MethodGet && r.Method != http.MethodHead && !t.validCSRF(k, c.Value, r.Header.Get(CSRFHeader)) {
				httpx.WriteError(w, http.StatusForbidden, CSRFHeader+": missing or invalid")
				return
			}
			key = k
		default:
			scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			k, ok := t.hash(strings.TrimSpace(token))
			if !strings.EqualFold(scheme, "Bearer") || !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="memberflow"`)
				httpx.WriteError(w, http.StatusUnauthorized, "Authorization: a valid Bearer token is required")
				return
			}
			key = k
		}
		ctx := context.WithValue(r.Context(), tokenIDKey{}, tokenID(key))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type tokenIDKey struct{}

// TokenID names the admin token of the request (its bearer token, or the
// one its console session was signed in with) by a short prefix of its
// hash, so audit records say which credential acted without holding it.
func TokenID(ctx context.Context) string {
	id, _ := ctx.Value(tokenIDKey{}).(string)
	return id
}
