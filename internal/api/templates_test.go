package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/templates"
)

var previewBrand = activities.Brand{Name: "Lin's Tea", ShopURL: "https://tea.example.com"}

func newTemplatesAPI(t *testing.T) (http.Handler, *mail.Catalog) {
	t.Helper()
	st := memstore.New()
	if err := st.SaveMember(context.Background(), loyalty.Member{ID: "m-1", Name: "Zhang Min", Email: "zm@example.com", Version: 1}, "e1"); err != nil {
		t.Fatal(err)
	}
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := api.NewTokens("s3cret")
	h := &api.Handler{Store: st, Ledger: ledgerfix.Service(t, st), Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Templates: catalog, Brand: previewBrand}
	return h.Routes(), catalog
}

func TestListTemplates(t *testing.T) {
	h, catalog := newTemplatesAPI(t)
	rec := do(h, http.MethodGet, "/v1/templates", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	got := decode[[]api.TemplateInfo](t, rec)
	if len(got) != len(catalog.Names()) || len(got) == 0 {
		t.Fatalf("%d templates, want %d", len(got), len(catalog.Names()))
	}
	for i, ti := range got {
		src, _ := catalog.Source(ti.Name)
		group, _ := catalog.Group(ti.Name)
		req, _ := catalog.Required(ti.Name)
		if ti.Name != catalog.Names()[i] || ti.Subject != src.Subject || ti.Group != group || !slices.Equal(ti.Required, req) {
			t.Errorf("template %d = %+v, want %s's subject %q, group %q, required %v", i, ti, catalog.Names()[i], src.Subject, group, req)
		}
	}
}

func TestPreviewTemplate(t *testing.T) {
	h, catalog := newTemplatesAPI(t)
	unsub := "http://example.com" + activities.PreviewUnsubscribePath // httptest's host
	render := func(m loyalty.Member, vars map[string]any) mail.Rendered {
		t.Helper()
		// As SendEmail builds a send's data: the member's base data, then
		// the step's variables; the examples stand in for the step here.
		data := map[string]any{}
		ex, _ := catalog.Examples("activation_welcome")
		for k, v := range ex {
			data[k] = v
		}
		for k, v := range activities.TemplateData(m, previewBrand, unsub) {
			data[k] = v
		}
		for k, v := range vars {
			data[k] = v
		}
		r, err := catalog.Render("activation_welcome", data)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name, body string
		member     loyalty.Member
		vars       map[string]any
	}{
		{"sample member, no body", "", activities.SampleMember(), nil},
		{"sample member", `{}`, activities.SampleMember(), nil},
		{"chosen member with vars", `{"member_id":"m-1","vars":{"coupon_code":"TEA-2026"}}`, loyalty.Member{ID: "m-1", Name: "Zhang Min"}, map[string]any{"coupon_code": "TEA-2026"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(h, http.MethodPost, "/v1/templates/activation_welcome/preview", tc.body, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			got := decode[api.Preview](t, rec)
			want := render(tc.member, tc.vars)
			if got.Subject != want.Subject || got.Preheader != want.Preheader || got.HTML != want.Document() || got.Text != want.Text() {
				t.Errorf("preview = %+v\nwant subject %q, preheader %q and the rendered document", got, want.Subject, want.Preheader)
			}
			if !strings.Contains(got.Subject, tc.member.Name) || !strings.Contains(got.Subject, previewBrand.Name) || !strings.Contains(got.Text, tc.member.Name) {
				t.Errorf("subject %q / text lacks the member's name or the brand", got.Subject)
			}
			if c, ok := tc.vars["coupon_code"]; ok && !strings.Contains(got.HTML, c.(string)) {
				t.Errorf("html lacks the coupon code given in vars")
			}
		})
	}
}

func TestPreviewTemplateRefusals(t *testing.T) {
	h, _ := newTemplatesAPI(t)
	for _, tc := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"unknown template", "/v1/templates/no_such/preview", `{}`, http.StatusNotFound, "template no_such not found"},
		{"bad template name", "/v1/templates/Bad-Name/preview", `{}`, http.StatusBadRequest, "name:"},
		{"unknown member", "/v1/templates/activation_welcome/preview", `{"member_id":"m-404"}`, http.StatusNotFound, "member_id: member m-404 not found"},
		{"not JSON", "/v1/templates/activation_welcome/preview", `member=m-1`, http.StatusBadRequest, "body:"},
		{"unknown field", "/v1/templates/activation_welcome/preview", `{"member":"m-1"}`, http.StatusBadRequest, "body:"},
		{"nested var", "/v1/templates/activation_welcome/preview", `{"vars":{"coupon_code":{"x":1}}}`, http.StatusBadRequest, "vars.coupon_code:"},
		{"emptied required var", "/v1/templates/activation_welcome/preview", `{"vars":{"coupon_code":""}}`, http.StatusUnprocessableEntity, "vars: activation_welcome needs coupon_code"},
		{"too big", "/v1/templates/activation_welcome/preview", `{"vars":{"x":"` + strings.Repeat("x", api.MaxPreviewBytes) + `"}}`, http.StatusRequestEntityTooLarge, "body:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(h, http.MethodPost, tc.path, tc.body, nil)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%d %s, want %d naming %q", rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
	// A deployment without templates says so.
	st := memstore.New()
	tokens, _ := api.NewTokens("s3cret")
	bare := (&api.Handler{Store: st, Ledger: ledgerfix.Service(t, st), Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes()
	for _, r := range []struct{ method, path string }{{http.MethodGet, "/v1/templates"}, {http.MethodPost, "/v1/templates/activation_welcome/preview"}} {
		if rec := do(bare, r.method, r.path, `{}`, nil); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s without templates: %d, want 503", r.method, r.path, rec.Code)
		}
	}
}

func TestProgram(t *testing.T) {
	st := memstore.New()
	ldg := ledgerfix.Service(t, st)
	tokens, _ := api.NewTokens("s3cret")
	h := (&api.Handler{Store: st, Ledger: ldg, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes()
	rec := do(h, http.MethodGet, "/v1/program", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	got := decode[api.ProgramView](t, rec)
	p := ldg.Rules.Program
	if got.Currency != p.Currency || got.TimeZone != p.Location.String() || len(got.Tiers) != len(p.Tiers) || len(got.Coupons) != len(p.Coupons) ||
		len(got.RFM.Segments) != len(p.RFM.Segments) || len(got.StoredValue.Bonus) != len(p.StoredValue.Bonus) {
		t.Fatalf("program = %s", rec.Body)
	}
	for i, tier := range p.Tiers {
		if g := got.Tiers[i]; g.Code != tier.Code || g.Name != tier.Name || !g.Threshold.Equal(tier.Threshold) {
			t.Errorf("tier %d = %+v, want %+v", i, g, tier)
		}
	}
	for i, c := range p.Coupons {
		if g := got.Coupons[i]; g.Code != c.Code || !g.Discount.Equal(c.Discount) || !g.Threshold.Equal(c.Threshold) || g.PerMemberLimit != c.PerMemberLimit {
			t.Errorf("coupon %d = %+v, want %+v", i, g, c)
		}
	}
	if s := p.RFM.Segments[0]; got.RFM.Segments[0].Code != s.Code || got.RFM.Segments[0].R != [2]int{s.R.Min, s.R.Max} {
		t.Errorf("rfm segment 0 = %+v, want %+v", got.RFM.Segments[0], s)
	}
	if !got.Points.PerAmount.Equal(p.Points.PerAmount) || got.Points.ExpiryMonths != p.Points.ExpiryMonths || !got.Paid.Price.Equal(p.Paid.Price) ||
		!got.Growth.PerCurrencyUnit.Equal(p.Growth.PerCurrencyUnit) || got.Birthday.Coupon != p.Birthday.Coupon {
		t.Errorf("points, paid, growth or birthday differ: %s", rec.Body)
	}
	// Amounts are decimal strings, never floats.
	if !strings.Contains(rec.Body.String(), `"price": "`) {
		t.Errorf("paid price is not a decimal string: %s", rec.Body)
	}
	if rec := get(h, "/v1/program", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", rec.Code)
	}
}
