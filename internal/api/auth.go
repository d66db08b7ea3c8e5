package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/memberflow/memberflow/internal/httpx"
)

// Tokens is the set of admin bearer tokens, held only as SHA-256 hashes so a
// memory dump or log line never shows a usable token.
type Tokens struct {
	hashes [][sha256.Size]byte
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
	h := sha256.Sum256([]byte(token))
	ok := 0
	for _, want := range t.hashes {
		ok |= subtle.ConstantTimeCompare(h[:], want[:])
	}
	return ok == 1
}

// RequireBearer answers 401 unless the request carries a valid
// "Authorization: Bearer <token>".
func RequireBearer(t Tokens, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || !t.Valid(strings.TrimSpace(token)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="memberflow"`)
			httpx.WriteError(w, http.StatusUnauthorized, "Authorization: a valid Bearer token is required")
			return
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
		ctx := context.WithValue(r.Context(), tokenIDKey{}, "sha256:"+hex.EncodeToString(sum[:4]))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type tokenIDKey struct{}

// TokenID names the bearer token of the request by a short prefix of its
// hash, so audit records say which credential acted without holding it.
func TokenID(ctx context.Context) string {
	id, _ := ctx.Value(tokenIDKey{}).(string)
	return id
}
