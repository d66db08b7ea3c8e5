package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/httpx"
)

// The console's sign-in: a marketer trades an admin token for a session
// cookie once, so the page never keeps the token in script-readable
// storage. The cookie is stateless — nothing is stored — and signed with a
// key derived from the server's session secret and the token's hash
// (HMAC-SHA256(secret, hash)): removing a token from the set ends every
// session it started, a deploy or a second Lambda instance needs no
// shared session store, and the token hashes Tokens holds (which are
// harmless to leak on their own) are not enough to forge a cookie.

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "memberflow_session"

// CSRFHeader carries the session's CSRF token on every state-changing
// request authenticated by the cookie.
const CSRFHeader = "X-CSRF-Token"

// SessionTTL is how long a console session lasts: a working day, after
// which the marketer signs in again.
const SessionTTL = 12 * time.Hour

// MaxSessionBytes bounds the body of POST /ui/session.
const MaxSessionBytes = 4 << 10

// sessionVersion opens every cookie, so a later format can be told apart.
const sessionVersion = "v1"

// Session is the answer of POST and GET /ui/session: the CSRF token the
// page sends back in X-CSRF-Token, the token's id (as in audit records)
// and when the session ends.
type Session struct {
	CSRF      string    `json:"csrf"`
	TokenID   string    `json:"token_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// signInRequest is the body of POST /ui/session.
type signInRequest struct {
	Token string `json:"token"`
}

// tokenID names a token by the first four bytes of its hash.
func tokenID(hash [sha256.Size]byte) string {
	return "sha256:" + hex.EncodeToString(hash[:4])
}

// hash returns the stored hash of token and whether it is in the set; like
// Valid, it compares every stored hash in constant time.
func (t Tokens) hash(token string) ([sha256.Size]byte, bool) {
	h := sha256.Sum256([]byte(token))
	ok := 0
	for _, want := range t.hashes {
		ok |= subtle.ConstantTimeCompare(h[:], want[:])
	}
	return h, ok == 1
}

// MinSessionSecretBytes is the shortest session secret WithSessionSecret
// takes.
const MinSessionSecretBytes = 16

// WithSessionSecret returns the set with the server-side secret its
// console sessions are signed with; without one, sign-in is refused. The
// api passes the code secret (CODE_SECRET_ARN, MEMBERFLOW_CODE_SECRET),
// which every instance already shares and which never leaves the server.
func (t Tokens) WithSessionSecret(secret []byte) (Tokens, error) {
	if len(secret) < MinSessionSecretBytes {
		return Tokens{}, fmt.Errorf("session secret: must be at least %d bytes", MinSessionSecretBytes)
	}
	t.sessionSecret = bytes.Clone(secret)
	return t, nil
}

// sessionKey is the key that signs the sessions (and their CSRF tokens)
// of the token whose hash is hash: HMAC-SHA256(session secret, hash).
func (t Tokens) sessionKey(hash [sha256.Size]byte) [sha256.Size]byte {
	var key [sha256.Size]byte
	m := hmac.New(sha256.New, t.sessionSecret)
	m.Write(hash[:])
	copy(key[:], m.Sum(nil))
	return key
}

func mac(key [sha256.Size]byte, msg string) []byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// newSession signs a cookie value for the token whose hash is hash:
// v1.<expiry unix>.<8-hex hash prefix>.<nonce>.<mac>.
func (t Tokens) newSession(hash [sha256.Size]byte, expires time.Time) (string, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	body := strings.Join([]string{sessionVersion, strconv.FormatInt(expires.Unix(), 10),
		hex.EncodeToString(hash[:4]), base64.RawURLEncoding.EncodeToString(nonce)}, ".")
	return body + "." + base64.RawURLEncoding.EncodeToString(mac(t.sessionKey(hash), body)), nil
}

// session checks a cookie value: the token hash its prefix names must be
// in the set, its MAC must verify under that token's session key, and it
// must not have expired. It returns the hash and the expiry. Without a
// session secret no cookie is valid.
func (t Tokens) session(cookie string, now time.Time) ([sha256.Size]byte, time.Time, bool) {
	var none [sha256.Size]byte
	if len(t.sessionSecret) == 0 {
		return none, time.Time{}, false
	}
	parts := strings.Split(cookie, ".")
	if len(parts) != 5 || parts[0] != sessionVersion || len(parts[2]) != 8 {
		return none, time.Time{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return none, time.Time{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(parts[4])
	if err != nil || len(got) != sha256.Size {
		return none, time.Time{}, false
	}
	body := strings.Join(parts[:4], ".")
	var found [sha256.Size]byte
	ok := 0
	for _, h := range t.hashes {
		// Every hash with the prefix is tried (a prefix may collide); the
		// MAC comparison is constant time.
		if hex.EncodeToString(h[:4]) != parts[2] {
			continue
		}
		if hmac.Equal(mac(t.sessionKey(h), body), got) {
			found, ok = h, 1
		}
	}
	expires := time.Unix(exp, 0).UTC()
	// The expiry is no secret (it is in the cookie): a plain comparison.
	if ok != 1 || !now.Before(expires) {
		return none, time.Time{}, false
	}
	return found, expires, true
}

// csrfToken is the CSRF token of a session cookie: base64url of
// HMAC(session key, "csrf|" + cookie). It is derived, not stored, and a
// cross-site page can read neither the cookie nor this answer.
func (t Tokens) csrfToken(hash [sha256.Size]byte, cookie string) string {
	return base64.RawURLEncoding.EncodeToString(mac(t.sessionKey(hash), "csrf|"+cookie))
}

func (t Tokens) validCSRF(hash [sha256.Size]byte, cookie, got string) bool {
	return got != "" && hmac.Equal([]byte(t.csrfToken(hash, cookie)), []byte(got))
}

// secure reports whether the request reached us over https, directly or
// through API Gateway or a proxy that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	})
}

// crossSite reports whether the browser says the request came from another
// site (Fetch Metadata); the session routes refuse those outright.
func crossSite(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Site") == "cross-site"
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// sessionRoutes registers POST, GET and DELETE /ui/session: sign in, the
// current session, sign out. They are outside the bearer check: the body
// or the cookie is the credential.
func (h *Handler) sessionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /ui/session", h.signIn)
	mux.HandleFunc("GET /ui/session", h.getSession)
	mux.HandleFunc("DELETE /ui/session", h.signOut)
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if crossSite(r) {
		httpx.WriteError(w, http.StatusForbidden, "Sec-Fetch-Site: sign-in must come from the console's own site")
		return
	}
	body, ok := httpx.ReadBody(w, r, MaxSessionBytes)
	if !ok {
		return
	}
	var req signInRequest
	if err := decodeObject(body, &req); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "body: must be a JSON object {\"token\": \"…\"}")
		return
	}
	if strings.TrimSpace(req.Token) == "" {
		httpx.WriteError(w, http.StatusBadRequest, "token: is required (an admin token)")
		return
	}
	key, valid := h.Tokens.hash(strings.TrimSpace(req.Token))
	if !valid {
		httpx.WriteError(w, http.StatusUnauthorized, "token: not a valid admin token")
		return
	}
	if len(h.Tokens.sessionSecret) == 0 {
		h.Log.ErrorContext(r.Context(), "console sign-in refused: the api has no session secret (Tokens.WithSessionSecret)")
		httpx.WriteError(w, http.StatusServiceUnavailable, "session: console sign-in is not configured on this server (no session secret)")
		return
	}
	expires := h.now().Add(SessionTTL).Truncate(time.Second).UTC()
	cookie, err := h.Tokens.newSession(key, expires)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	setSessionCookie(w, r, cookie, int(SessionTTL/time.Second))
	h.Log.InfoContext(r.Context(), "console sign-in", "token", tokenID(key))
	httpx.WriteJSON(w, http.StatusOK, Session{CSRF: h.Tokens.csrfToken(key, cookie), TokenID: tokenID(key), ExpiresAt: expires})
}

// currentSession returns the request's session cookie and its token hash
// and expiry when the cookie is valid.
func (h *Handler) currentSession(r *http.Request) (cookie string, key [sha256.Size]byte, expires time.Time, ok bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", key, time.Time{}, false
	}
	key, expires, ok = h.Tokens.session(c.Value, h.now())
	return c.Value, key, expires, ok
}

func (h *Handler) getSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	cookie, key, expires, ok := h.currentSession(r)
	if !ok {
		httpx.WriteError(w, http.StatusUnauthorized, SessionCookie+": no valid session; sign in with an admin token")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, Session{CSRF: h.Tokens.csrfToken(key, cookie), TokenID: tokenID(key), ExpiresAt: expires})
}

// signOut clears the cookie. A live session must prove it is the page's
// own request with its CSRF token; a dead or absent one has nothing left
// to protect, and is cleared all the same.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if cookie, key, _, ok := h.currentSession(r); ok {
		if !h.Tokens.validCSRF(key, cookie, r.Header.Get(CSRFHeader)) {
			httpx.WriteError(w, http.StatusForbidden, CSRFHeader+": missing or invalid")
			return
		}
		h.Log.InfoContext(r.Context(), "console sign-out", "token", tokenID(key))
	}
	setSessionCookie(w, r, "", -1)
	w.WriteHeader(http.StatusNoContent)
}
