package api_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
)

// consoleAPI is the API with a settable clock and token set, for the
// console's sessions.
type consoleAPI struct {
	h   *api.Handler
	now time.Time
}

// testSessionSecret is the server's session secret in these tests.
const testSessionSecret = "console-test-session-secret"

func newConsoleAPI(t *testing.T, tokens ...string) *consoleAPI {
	t.Helper()
	return newKeyedConsoleAPI(t, testSessionSecret, tokens...)
}

// newKeyedConsoleAPI is the console API with the given session secret
// ("" for none).
func newKeyedConsoleAPI(t *testing.T, secret string, tokens ...string) *consoleAPI {
	t.Helper()
	st := memstore.New()
	tok, err := api.NewTokens(tokens...)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		if tok, err = tok.WithSessionSecret([]byte(secret)); err != nil {
			t.Fatal(err)
		}
	}
	c := &consoleAPI{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	c.h = &api.Handler{Store: st, Ledger: ledgerfix.Service(t, st), Tokens: tok,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return c.now }}
	return c
}

func (c *consoleAPI) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	c.h.Routes().ServeHTTP(rec, req)
	return rec
}

// signIn posts the token and returns the answer.
func (c *consoleAPI) signIn(t *testing.T, token string, https bool) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/ui/session", strings.NewReader(`{"token":"`+token+`"}`))
	req.Header.Set("Content-Type", "application/json")
	if https {
		req.Header.Set("X-Forwarded-Proto", "https")
	}
	return c.do(req)
}

// session signs in and returns the cookie and the CSRF token.
func (c *consoleAPI) session(t *testing.T, token string) (*http.Cookie, string) {
	t.Helper()
	rec := c.signIn(t, token, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("sign in: %d %s", rec.Code, rec.Body)
	}
	var s api.Session
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("sign in set %d cookies, want 1", len(cookies))
	}
	return cookies[0], s.CSRF
}

func withCookie(method, path string, c *http.Cookie, csrf string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(`{}`))
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	if csrf != "" {
		req.Header.Set(api.CSRFHeader, csrf)
	}
	return req
}

func TestSignInCookie(t *testing.T) {
	c := newConsoleAPI(t, "s3cret", "other")
	for _, tc := range []struct {
		name   string
		https  bool
		secure bool
	}{{"http", false, false}, {"https behind a proxy", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := c.signIn(t, "s3cret", tc.https)
			if got, want := rec.Code, http.StatusOK; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
			}
			raw := rec.Header().Get("Set-Cookie")
			for _, attr := range []string{"memberflow_session=v1.", "Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=43200"} {
				if !strings.Contains(raw, attr) {
					t.Errorf("Set-Cookie %q lacks %s", raw, attr)
				}
			}
			if got := strings.Contains(raw, "Secure"); got != tc.secure {
				t.Errorf("Set-Cookie %q: Secure = %v, want %v", raw, got, tc.secure)
			}
			var s api.Session
			if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
				t.Fatal(err)
			}
			if s.CSRF == "" || !strings.HasPrefix(s.TokenID, "sha256:") || len(s.TokenID) != len("sha256:")+8 {
				t.Errorf("session = %+v", s)
			}
			if got, want := s.ExpiresAt, c.now.Add(12*time.Hour); !got.Equal(want) {
				t.Errorf("expires_at = %v, want %v", got, want)
			}
			if strings.Contains(rec.Body.String(), "s3cret") || strings.Contains(raw, "s3cret") {
				t.Error("the answer carries the raw token")
			}
		})
	}
	// Over TLS itself.
	req := httptest.NewRequest(http.MethodPost, "https://console.example/ui/session", strings.NewReader(`{"token":"s3cret"}`))
	if rec := c.do(req); !strings.Contains(rec.Header().Get("Set-Cookie"), "Secure") {
		t.Errorf("a TLS sign-in's cookie is not Secure: %q", rec.Header().Get("Set-Cookie"))
	}
}

func TestSignInRefusals(t *testing.T) {
	c := newConsoleAPI(t, "s3cret")
	for _, tc := range []struct {
		name, body string
		want       int
		field      string
	}{
		{"wrong token", `{"token":"nope"}`, http.StatusUnauthorized, "token: not a valid admin token"},
		{"empty token", `{"token":" "}`, http.StatusBadRequest, "token:"},
		{"not JSON", `token=s3cret`, http.StatusBadRequest, "body:"},
		{"unknown field", `{"token":"s3cret","admin":true}`, http.StatusBadRequest, "body:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := c.do(httptest.NewRequest(http.MethodPost, "/ui/session", strings.NewReader(tc.body)))
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.field) {
				t.Errorf("answer = %d %s, want %d naming %q", rec.Code, rec.Body, tc.want, tc.field)
			}
			if rec.Header().Get("Set-Cookie") != "" {
				t.Errorf("a refused sign-in set a cookie: %q", rec.Header().Get("Set-Cookie"))
			}
		})
	}
	req := httptest.NewRequest(http.MethodPost, "/ui/session", strings.NewReader(`{"token":"s3cret"}`))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if rec := c.do(req); rec.Code != http.StatusForbidden || rec.Header().Get("Set-Cookie") != "" {
		t.Errorf("cross-site sign-in = %d (cookie %q), want 403 without a cookie", rec.Code, rec.Header().Get("Set-Cookie"))
	}
}

func TestSessionAuthenticatesV1(t *testing.T) {
	c := newConsoleAPI(t, "s3cret")
	cookie, csrf := c.session(t, "s3cret")

	// GET needs only the cookie.
	if rec := c.do(withCookie(http.MethodGet, "/v1/liability", cookie, "")); rec.Code != http.StatusOK {
		t.Errorf("GET with the cookie = %d %s, want 200", rec.Code, rec.Body)
	}
	// GET /ui/session answers the same CSRF token for the cookie.
	rec := c.do(withCookie(http.MethodGet, "/ui/session", cookie, ""))
	var s api.Session
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil || rec.Code != http.StatusOK || s.CSRF != csrf {
		t.Errorf("GET /ui/session = %d %s, want 200 with csrf %q", rec.Code, rec.Body, csrf)
	}
	// A state-changing call needs the CSRF token; TokenID names the
	// token in the adjustment's actor.
	post := func(csrf string) *httptest.ResponseRecorder {
		req := withCookie(http.MethodPost, "/v1/members/m-404/adjustments", cookie, csrf)
		return c.do(req)
	}
	for _, bad := range []string{"", "forged", csrf + "x"} {
		if rec := post(bad); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "X-CSRF-Token: missing or invalid") {
			t.Errorf("POST with csrf %q = %d %s, want 403 naming X-CSRF-Token", bad, rec.Code, rec.Body)
		}
	}
	// With the token the request reaches the handler (which refuses the
	// empty adjustment itself, naming a field: not a 401 or 403).
	if rec := post(csrf); rec.Code == http.StatusForbidden || rec.Code == http.StatusUnauthorized {
		t.Errorf("POST with the csrf token = %d %s, want past authentication", rec.Code, rec.Body)
	}
	// Another session's CSRF token is not this one's.
	other, otherCSRF := c.session(t, "s3cret")
	if other.Value == cookie.Value || otherCSRF == csrf {
		t.Fatal("two sign-ins gave the same cookie or csrf")
	}
	if rec := post(otherCSRF); rec.Code != http.StatusForbidden {
		t.Errorf("POST with another session's csrf = %d, want 403", rec.Code)
	}
}

func TestSessionRefusedWhenTamperedExpiredOrRevoked(t *testing.T) {
	c := newConsoleAPI(t, "s3cret", "other")
	cookie, _ := c.session(t, "s3cret")
	parts := strings.Split(cookie.Value, ".")
	tamper := func(i int, v string) *http.Cookie {
		p := append([]string(nil), parts...)
		p[i] = v
		return &http.Cookie{Name: cookie.Name, Value: strings.Join(p, ".")}
	}
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
	}{
		{"later expiry", tamper(1, "99999999999")},
		{"other token's prefix", tamper(2, "00000000")},
		{"other nonce", tamper(3, "AAAAAAAAAAAAAAAAAAAAAA")},
		{"other mac", tamper(4, strings.Repeat("A", 43))},
		{"other version", tamper(0, "v2")},
		{"garbage", &http.Cookie{Name: cookie.Name, Value: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/liability", "/ui/session"} {
				if rec := c.do(withCookie(http.MethodGet, path, tc.cookie, "")); rec.Code != http.StatusUnauthorized {
					t.Errorf("GET %s = %d, want 401", path, rec.Code)
				}
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		c.now = c.now.Add(12*time.Hour - time.Second)
		if rec := c.do(withCookie(http.MethodGet, "/v1/liability", cookie, "")); rec.Code != http.StatusOK {
			t.Errorf("a second before expiry = %d, want 200", rec.Code)
		}
		c.now = c.now.Add(time.Second)
		rec := c.do(withCookie(http.MethodGet, "/v1/liability", cookie, ""))
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "memberflow_session") {
			t.Errorf("at expiry = %d %s, want 401 naming the cookie", rec.Code, rec.Body)
		}
	})

	t.Run("token removed from the set", func(t *testing.T) {
		c := newConsoleAPI(t, "s3cret", "other")
		cookie, _ := c.session(t, "s3cret")
		revoked := newConsoleAPI(t, "other")
		revoked.now = c.now
		if rec := revoked.do(withCookie(http.MethodGet, "/v1/liability", cookie, "")); rec.Code != http.StatusUnauthorized {
			t.Errorf("a session of a removed token = %d, want 401", rec.Code)
		}
		if rec := c.do(withCookie(http.MethodGet, "/v1/liability", cookie, "")); rec.Code != http.StatusOK {
			t.Errorf("while the token is in the set = %d, want 200", rec.Code)
		}
	})
}

// TestSessionKeyedByServerSecret: a session's MAC key is derived from the
// server's session secret, so a cookie minted under another secret, or
// signed with the token's hash alone (what Tokens holds), is refused even
// for a token in the set; and without a secret there is no sign-in.
func TestSessionKeyedByServerSecret(t *testing.T) {
	c := newConsoleAPI(t, "s3cret")
	other := newKeyedConsoleAPI(t, "another-servers-session-secret", "s3cret")
	other.now = c.now
	foreign, foreignCSRF := other.session(t, "s3cret")
	if rec := other.do(withCookie(http.MethodGet, "/v1/liability", foreign, "")); rec.Code != http.StatusOK {
		t.Fatalf("the cookie on the server that minted it = %d, want 200", rec.Code)
	}
	for _, path := range []string{"/v1/liability", "/ui/session"} {
		if rec := c.do(withCookie(http.MethodGet, path, foreign, "")); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET %s with a cookie minted under another secret = %d, want 401", path, rec.Code)
		}
	}
	if rec := c.do(withCookie(http.MethodPost, "/v1/members/m-404/adjustments", foreign, foreignCSRF)); rec.Code != http.StatusUnauthorized {
		t.Errorf("POST with another secret's cookie and csrf = %d, want 401", rec.Code)
	}

	// The old scheme: the MAC keyed with SHA-256(token) alone.
	hash := sha256.Sum256([]byte("s3cret"))
	body := strings.Join([]string{"v1", strconv.FormatInt(c.now.Add(time.Hour).Unix(), 10),
		hex.EncodeToString(hash[:4]), "AAAAAAAAAAAAAAAAAAAAAA"}, ".")
	m := hmac.New(sha256.New, hash[:])
	m.Write([]byte(body))
	forged := &http.Cookie{Name: api.SessionCookie, Value: body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))}
	if rec := c.do(withCookie(http.MethodGet, "/v1/liability", forged, "")); rec.Code != http.StatusUnauthorized {
		t.Errorf("a cookie signed with the token hash = %d, want 401", rec.Code)
	}

	bare := newKeyedConsoleAPI(t, "", "s3cret")
	rec := bare.signIn(t, "s3cret", false)
	if rec.Code != http.StatusServiceUnavailable || len(rec.Result().Cookies()) != 0 || !strings.Contains(rec.Body.String(), "session") {
		t.Errorf("sign-in without a session secret = %d %s (cookies %v), want 503 and no cookie", rec.Code, rec.Body, rec.Result().Cookies())
	}
	if rec := bare.do(withCookie(http.MethodGet, "/v1/liability", foreign, "")); rec.Code != http.StatusUnauthorized {
		t.Errorf("any cookie without a session secret = %d, want 401", rec.Code)
	}

	tok, err := api.NewTokens("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WithSessionSecret([]byte("short")); err == nil {
		t.Error("WithSessionSecret took a 5-byte secret, want an error")
	}
}

func TestSignOut(t *testing.T) {
	c := newConsoleAPI(t, "s3cret")
	cookie, csrf := c.session(t, "s3cret")
	if rec := c.do(withCookie(http.MethodDelete, "/ui/session", cookie, "")); rec.Code != http.StatusForbidden || rec.Header().Get("Set-Cookie") != "" {
		t.Errorf("sign-out without csrf = %d (cookie %q), want 403 leaving the cookie", rec.Code, rec.Header().Get("Set-Cookie"))
	}
	rec := c.do(withCookie(http.MethodDelete, "/ui/session", cookie, csrf))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("sign-out = %d %s, want 204", rec.Code, rec.Body)
	}
	raw := rec.Header().Get("Set-Cookie")
	for _, attr := range []string{"memberflow_session=;", "Max-Age=0", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("sign-out Set-Cookie %q lacks %s", raw, attr)
		}
	}
	// Without a session there is nothing to protect: the cookie is cleared.
	req := httptest.NewRequest(http.MethodDelete, "/ui/session", nil)
	if rec := c.do(req); rec.Code != http.StatusNoContent || !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign-out without a session = %d %q, want 204 clearing the cookie", rec.Code, rec.Header().Get("Set-Cookie"))
	}
}

func TestBearerStillWorks(t *testing.T) {
	c := newConsoleAPI(t, "s3cret")
	req := httptest.NewRequest(http.MethodGet, "/v1/liability", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	if rec := c.do(req); rec.Code != http.StatusOK {
		t.Errorf("bearer = %d, want 200", rec.Code)
	}
	// A bearer request needs no CSRF token: a browser never adds the header.
	req = httptest.NewRequest(http.MethodPost, "/v1/members/m-404/adjustments", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	if rec := c.do(req); rec.Code == http.StatusForbidden || rec.Code == http.StatusUnauthorized {
		t.Errorf("bearer POST = %d %s, want past authentication", rec.Code, rec.Body)
	}
}

// TestTokenIDForBothCredentials: audit records name the same token
// whether it came as a bearer token or through a console session.
func TestTokenIDForBothCredentials(t *testing.T) {
	c := newConsoleAPI(t, "s3cret", "other")
	c.h.Now = nil // RequireBearer's clock is the real one
	cookie, _ := c.session(t, "s3cret")
	echo := api.RequireBearer(c.h.Tokens, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, api.TokenID(r.Context()))
	}))
	bearer := httptest.NewRequest(http.MethodGet, "/", nil)
	bearer.Header.Set("Authorization", "Bearer s3cret")
	viaCookie := withCookie(http.MethodGet, "/", cookie, "")
	var ids []string
	for _, req := range []*http.Request{bearer, viaCookie} {
		rec := httptest.NewRecorder()
		echo.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status = %d %s", rec.Code, rec.Body)
		}
		ids = append(ids, rec.Body.String())
	}
	rec := c.signIn(t, "s3cret", false)
	var s api.Session
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if ids[0] != s.TokenID || ids[1] != s.TokenID {
		t.Errorf("TokenID bearer %q, cookie %q; want both %q", ids[0], ids[1], s.TokenID)
	}
}
