package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
)

func newAPI(t *testing.T) http.Handler {
	t.Helper()
	st := memstore.New()
	ctx := context.Background()
	if err := st.SaveMember(ctx, loyalty.Member{ID: "m-1", Name: "Lin", Email: "lin@example.com", Consent: loyalty.Consent{EmailMarketing: true}, Version: 1}, "e1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-1", Journey: "activation", Number: 1, WorkflowID: "activation/m-1/1", Status: loyalty.EnrollmentActive, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	tokens, err := api.NewTokens("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ldg := ledgerfix.Service(t, st)
	h := &api.Handler{Store: st, Ledger: ldg, Tokens: tokens, Log: log}
	return h.Routes()
}

func get(h http.Handler, path, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestMemberRequiresBearer(t *testing.T) {
	h := newAPI(t)
	for _, tc := range []struct{ name, auth string }{
		{"none", ""},
		{"wrong token", "Bearer nope"},
		{"wrong scheme", "Basic s3cret"},
		{"empty token", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(h, "/v1/members/m-1", tc.auth)
			if got, want := rec.Code, http.StatusUnauthorized; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
		})
	}
}

func TestMemberView(t *testing.T) {
	h := newAPI(t)
	rec := get(h, "/v1/members/m-1", "Bearer s3cret")
	if got, want := rec.Code, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
	}
	var v struct {
		ID      string `json:"id"`
		Consent struct {
			EmailMarketing bool `json:"email_marketing"`
		} `json:"consent"`
		Enrollments []loyalty.Enrollment `json:"enrollments"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.ID != "m-1" || !v.Consent.EmailMarketing || len(v.Enrollments) != 1 || v.Enrollments[0].Journey != "activation" {
		t.Errorf("member view = %s", rec.Body)
	}
	if rec := get(h, "/v1/members/m-404", "bearer s3cret"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown member status = %d, want 404", rec.Code)
	}
}

func TestTokensRefuseEmpty(t *testing.T) {
	if _, err := api.NewTokens(""); err == nil {
		t.Error("an empty admin token was accepted")
	}
	if _, err := api.NewTokens(); err == nil {
		t.Error("no admin tokens was accepted")
	}
}
