package unsubscribe_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/unsubscribe"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func signer(t *testing.T, secret string) *unsubscribe.Signer {
	t.Helper()
	s, err := unsubscribe.NewSigner([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestToken(t *testing.T) {
	s := signer(t, "unsubscribe-test-secret")
	c := unsubscribe.Claims{MemberID: "m-1", Group: "activation", Expires: now.Add(time.Hour)}
	tok := s.Token(c)
	got, err := s.Verify(tok, now)
	if err != nil || got.MemberID != "m-1" || got.Group != "activation" || !got.Expires.Equal(c.Expires) {
		t.Fatalf("verify = %+v, %v", got, err)
	}
	if _, err := s.Verify(tok, now.Add(time.Hour)); !errors.Is(err, unsubscribe.ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	other := signer(t, "another-secret-entirely")
	if _, err := other.Verify(tok, now); !errors.Is(err, unsubscribe.ErrSignature) {
		t.Errorf("foreign secret: %v", err)
	}
	// Changing the member in the payload breaks the MAC.
	forged := signer(t, "another-secret-entirely").Token(unsubscribe.Claims{MemberID: "m-2", Expires: now.Add(time.Hour)})
	p, _, _ := strings.Cut(forged, ".")
	_, sig, _ := strings.Cut(tok, ".")
	if _, err := s.Verify(p+"."+sig, now); !errors.Is(err, unsubscribe.ErrSignature) {
		t.Errorf("swapped payload: %v", err)
	}
	for _, bad := range []string{"", "abc", "abc.", ".abc", "!!.!!"} {
		if _, err := s.Verify(bad, now); err == nil {
			t.Errorf("%q verified", bad)
		}
	}
	if _, err := unsubscribe.NewSigner([]byte("short")); err == nil {
		t.Error("a short secret was accepted")
	}
}

func TestHandler(t *testing.T) {
	st := memstore.New()
	ctx := context.Background()
	if err := st.SaveMember(ctx, loyalty.Member{ID: "m-1", Email: "m@example.com", Consent: loyalty.Consent{EmailMarketing: true}, Version: 1}, "reg"); err != nil {
		t.Fatal(err)
	}
	s := signer(t, "unsubscribe-test-secret")
	h := &unsubscribe.Handler{Store: st, Signer: s, Brand: "Shop", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
	call := func(method, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, unsubscribe.Path+"?token="+url.QueryEscape(token), strings.NewReader("List-Unsubscribe=One-Click"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	member := func() loyalty.Member {
		m, err := st.GetMember(ctx, "m-1")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	group := s.Token(unsubscribe.Claims{MemberID: "m-1", Group: "activation", Expires: now.Add(time.Hour)})
	if rec := call(http.MethodPost, group); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"unsubscribed": true`) {
		t.Fatalf("one-click: %d %s", rec.Code, rec.Body)
	}
	m := member()
	if !m.Consent.EmailMarketing || m.Consent.MayEmail("activation") || !m.Consent.MayEmail("birthday") {
		t.Errorf("after leaving activation: %+v", m.Consent)
	}
	if rec := call(http.MethodGet, group); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "no more activation emails") {
		t.Errorf("second click: %d %s", rec.Code, rec.Body)
	}
	if got := member(); got.Version != m.Version {
		t.Errorf("a second click changed the member (version %d → %d)", m.Version, got.Version)
	}

	all := s.Token(unsubscribe.Claims{MemberID: "m-1", Expires: now.Add(time.Hour)})
	if rec := call(http.MethodGet, all); rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("link: %d %s", rec.Code, rec.Body)
	}
	if member().Consent.EmailMarketing {
		t.Error("consent still on after unsubscribing from everything")
	}

	for _, tc := range []struct {
		token  string
		status int
		want   string
	}{
		{"", http.StatusBadRequest, "token:"},
		{"garbage", http.StatusBadRequest, "damaged"},
		{signer(t, "another-secret-entirely").Token(unsubscribe.Claims{MemberID: "m-1", Expires: now.Add(time.Hour)}), http.StatusBadRequest, "not issued by us"},
		{s.Token(unsubscribe.Claims{MemberID: "m-1", Expires: now}), http.StatusGone, "expired"},
	} {
		rec := call(http.MethodPost, tc.token)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("token %.20q: %d %s", tc.token, rec.Code, rec.Body)
		}
	}
	if rec := call(http.MethodDelete, all); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", rec.Code)
	}
}
