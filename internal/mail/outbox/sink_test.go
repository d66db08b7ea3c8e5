package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/templates"
)

var frozen = time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600))

type fixture struct {
	sink    *outbox.Sink
	catalog *mail.Catalog
	sender  *mail.Sender
	dir     string

	mu     sync.Mutex
	bodies [][]byte // request bodies as the server received them
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{catalog: c, dir: filepath.Join(t.TempDir(), "outbox")}
	f.sink = &outbox.Sink{
		Dir:           f.dir,
		Catalog:       c,
		Now:           func() time.Time { return frozen },
		TemplateNames: map[string]string{"d-welcome": "activation_welcome"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, b)
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		f.sink.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.sender, err = mail.NewSender(mail.SenderConfig{
		APIKey:      "SG.local",
		BaseURL:     srv.URL,
		FromEmail:   "hello@memberflow.example",
		FromName:    "Memberflow Demo",
		TemplateIDs: map[string]string{"activation_welcome": "d-welcome"},
		Catalog:     c,
		Environment: mail.EnvironmentLocal,
		ASMGroups:   map[string]int{"activation": 4242},
		HTTPClient:  srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func message() mail.Message {
	return mail.Message{
		MemberID: "mem_42",
		To:       "lin.wei@example.com",
		ToName:   "Lin Wei",
		Template: "activation_welcome",
		Data: map[string]any{
			"name":            "Lin Wei",
			"brand":           "Memberflow Demo",
			"shop_url":        "https://shop.example.com",
			"unsubscribe_url": "http://127.0.0.1:8080/v1/unsubscribe?token=t0k3n",
			// The welcome step hands over the NEW8 coupon.
			"coupon_name":        "满79减8",
			"coupon_code":        "NEW8-3HT7WQ2P",
			"coupon_valid_until": "2026-07-31",
		},
		Categories:     []string{"activation"},
		IdempotencyKey: "wf-1/welcome",
		Group:          "activation",
		UnsubscribeURL: "http://127.0.0.1:8080/v1/unsubscribe?token=t0k3n",
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestSinkEndToEnd(t *testing.T) {
	f := newFixture(t)
	m := message()
	res, err := f.sender.Send(context.Background(), m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.StatusCode != http.StatusAccepted || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(res.MessageID) {
		t.Errorf("SendResult = %+v", res)
	}

	base := "20250102T020405.000000006Z-mem_42-activation_welcome"
	if got, want := dirNames(t, f.dir), []string{base + ".html", base + ".json"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("files = %v, want %v", got, want)
	}

	r, err := f.catalog.Render("activation_welcome", m.Data)
	if err != nil {
		t.Fatal(err)
	}
	wantHTML := "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>" +
		html.EscapeString(r.Subject) + "</title>\n</head>\n<body>\n" + r.HTML + "</body>\n</html>\n"
	if r.Document() != wantHTML {
		t.Errorf("Rendered.Document() is not the documented wrapper")
	}
	gotHTML, err := os.ReadFile(filepath.Join(f.dir, base+".html"))
	if err != nil {
		t.Fatal(err)
	}
	if string(gotHTML) != wantHTML {
		t.Errorf("HTML file differs from the wrapped Catalog.Render output:\n%s", gotHTML)
	}
	if !strings.Contains(string(gotHTML), "<title>Welcome to Memberflow Demo, Lin Wei!</title>") {
		t.Errorf("HTML file has no subject title")
	}

	gotJSON, err := os.ReadFile(filepath.Join(f.dir, base+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.bodies) != 1 || !bytes.Equal(gotJSON, f.bodies[0]) {
		t.Errorf("JSON file is not the exact request body:\n%s", gotJSON)
	}
	var body struct {
		TemplateID       string `json:"template_id"`
		Asm              map[string]any
		Personalizations []struct {
			Headers map[string]string
		}
	}
	if err := json.Unmarshal(gotJSON, &body); err != nil || body.TemplateID != "d-welcome" ||
		body.Asm["group_id"] != 4242.0 || len(body.Personalizations) != 1 ||
		body.Personalizations[0].Headers["List-Unsubscribe"] != "<http://127.0.0.1:8080/v1/unsubscribe?token=t0k3n>" {
		t.Errorf("JSON file = %s (%v)", gotJSON, err)
	}

	entries, err := f.sink.List()
	if err != nil {
		t.Fatal(err)
	}
	want := outbox.Entry{
		HTMLPath: filepath.Join(f.dir, base+".html"),
		JSONPath: filepath.Join(f.dir, base+".json"),
		MemberID: "mem_42",
		Template: "activation_welcome",
		Time:     frozen.UTC(),
	}
	if len(entries) != 1 || entries[0] != want {
		t.Errorf("List = %+v, want [%+v]", entries, want)
	}
}

func TestSinkFilesArePrivate(t *testing.T) {
	f := newFixture(t)
	if _, err := f.sender.Send(context.Background(), message()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	names := dirNames(t, f.dir)
	if len(names) != 2 {
		t.Fatalf("files = %v, want one .html and one .json", names)
	}
	for _, name := range names {
		info, err := os.Stat(filepath.Join(f.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := info.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("%s: mode %v, want %v (it holds the recipient's address)", name, got, want)
		}
	}
}

func TestSinkUniqueNamesAndOrder(t *testing.T) {
	f := newFixture(t)
	ids := []string{"mem_42", "a/b c-d", ""}
	for _, id := range ids {
		m := message()
		m.MemberID = id
		if _, err := f.sender.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	// A second Sink on the same directory (a restarted process) with the
	// same frozen clock must not overwrite earlier messages either.
	restarted := &outbox.Sink{Dir: f.sink.Dir, Catalog: f.sink.Catalog, Now: f.sink.Now, TemplateNames: f.sink.TemplateNames}
	rec := httptest.NewRecorder()
	restarted.ServeHTTP(rec, newRequest(t, f.bodies[0]))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status = %d: %s", rec.Code, rec.Body)
	}

	entries, err := f.sink.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, e := range entries {
		got = append(got, e.MemberID)
		if want := frozen.UTC().Add(time.Duration(i) * time.Nanosecond); !e.Time.Equal(want) {
			t.Errorf("entry %d time = %v, want %v", i, e.Time, want)
		}
		if _, err := os.Stat(e.JSONPath); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
	}
	if want := "mem_42,a_b_c-d,unknown,mem_42"; strings.Join(got, ",") != want {
		t.Errorf("members = %v, want %s", got, want)
	}
	if n := len(dirNames(t, f.dir)); n != 8 {
		t.Errorf("%d files in outbox, want 8", n)
	}
}

func TestSinkMissingVariable(t *testing.T) {
	f := newFixture(t)
	m := message()
	delete(m.Data, "shop_url")
	m.Data["brand"] = ""
	_, err := f.sender.Send(context.Background(), m)
	var pe *mail.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want *ProviderError", err)
	}
	if pe.StatusCode != http.StatusBadRequest || pe.Retryable() || !mail.IsPermanent(err) {
		t.Errorf("ProviderError = %+v, want non-retryable 400", pe)
	}
	if want := "template activation_welcome: missing variables: brand, shop_url"; pe.Message != want {
		t.Errorf("Message = %q, want %q", pe.Message, want)
	}
	if names := dirNames(t, f.dir); len(names) != 0 {
		t.Errorf("files written on error: %v", names)
	}
}

func newRequest(t *testing.T, body []byte) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v3/mail/send", bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer SG.local")
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestSinkRejections(t *testing.T) {
	f := newFixture(t)
	valid := `{"from":{"email":"hello@memberflow.example"},"template_id":"d-welcome","asm":{"group_id":7,"groups_to_display":[7]},"personalizations":[{"to":[{"email":"lin.wei@example.com"}],"dynamic_template_data":{"name":"Lin","brand":"B","shop_url":"https://s","unsubscribe_url":"https://u","coupon_name":"c","coupon_code":"NEW8-1","coupon_valid_until":"2026-07-31"}}]}`

	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		body   string
	}{
		{
			name: "no authorization",
			req: func() *http.Request {
				r := newRequest(t, []byte(valid))
				r.Header.Del("Authorization")
				return r
			},
			status: http.StatusUnauthorized,
			body:   `{"errors":[{"message":"The provided authorization grant is invalid, expired, or revoked","field":null}]}`,
		},
		{
			name: "basic authorization",
			req: func() *http.Request {
				r := newRequest(t, []byte(valid))
				r.SetBasicAuth("u", "p")
				return r
			},
			status: http.StatusUnauthorized,
			body:   `{"errors":[{"message":"The provided authorization grant is invalid, expired, or revoked","field":null}]}`,
		},
		{
			name:   "wrong path",
			req:    func() *http.Request { return httptest.NewRequest(http.MethodPost, "/v3/templates", nil) },
			status: http.StatusNotFound,
			body:   `{"errors":[{"message":"not found","field":null}]}`,
		},
		{
			name:   "wrong method",
			req:    func() *http.Request { return httptest.NewRequest(http.MethodGet, "/v3/mail/send", nil) },
			status: http.StatusMethodNotAllowed,
			body:   `{"errors":[{"message":"method not allowed","field":null}]}`,
		},
		{
			name:   "unknown template",
			req:    func() *http.Request { return newRequest(t, []byte(strings.Replace(valid, "d-welcome", "d-nope", 1))) },
			status: http.StatusBadRequest,
			body:   `{"errors":[{"message":"template d-nope: unknown template","field":"template_id"}]}`,
		},
		{
			name: "missing variable",
			req: func() *http.Request {
				return newRequest(t, []byte(strings.Replace(valid, `"shop_url":"https://s"`, `"shop_url":null`, 1)))
			},
			status: http.StatusBadRequest,
			body:   `{"errors":[{"message":"template activation_welcome: missing variables: shop_url","field":"personalizations.0.dynamic_template_data"}]}`,
		},
		{
			name: "asm without group",
			req: func() *http.Request {
				return newRequest(t, []byte(strings.Replace(valid, `"group_id":7`, `"group_id":0`, 1)))
			},
			status: http.StatusBadRequest,
			body:   `{"errors":[{"message":"The asm group_id is required and must be a positive integer.","field":"asm.group_id"}]}`,
		},
		{
			name: "asm with too many groups",
			req: func() *http.Request {
				return newRequest(t, []byte(strings.Replace(valid, `[7]`, `[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26]`, 1)))
			},
			status: http.StatusBadRequest,
			body:   `{"errors":[{"message":"The asm groups_to_display can contain at most 25 groups.","field":"asm.groups_to_display"}]}`,
		},
		{
			name:   "not JSON",
			req:    func() *http.Request { return newRequest(t, []byte("{")) },
			status: http.StatusBadRequest,
		},
		{
			name: "no personalizations",
			req: func() *http.Request {
				return newRequest(t, []byte(`{"from":{"email":"a@b.c"},"template_id":"d-welcome"}`))
			},
			status: http.StatusBadRequest,
			body:   `{"errors":[{"message":"The personalizations field is required and must have at least 1 item.","field":"personalizations"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			f.sink.ServeHTTP(rec, tt.req())
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d (%s)", rec.Code, tt.status, rec.Body)
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Errorf("body = %s\nwant   %s", rec.Body, tt.body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if names := dirNames(t, f.dir); len(names) != 0 {
				t.Errorf("files written on error: %v", names)
			}
		})
	}
}

func TestSenderNoAuthorizationGets401(t *testing.T) {
	f := newFixture(t)
	// The real client always sends "Bearer <key>"; strip it in front of the
	// sink to check how the Sender surfaces the 401.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Authorization")
		f.sink.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s, err := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: srv.URL, FromEmail: "hello@memberflow.example", ASMGroups: map[string]int{"activation": 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), message())
	var pe *mail.ProviderError
	if !errors.As(err, &pe) || pe.StatusCode != http.StatusUnauthorized || pe.Retryable() {
		t.Fatalf("error = %v, want non-retryable 401", err)
	}
}

func TestListEmptyAndForeignFiles(t *testing.T) {
	dir := t.TempDir()
	s := &outbox.Sink{Dir: filepath.Join(dir, "missing")}
	if entries, err := s.List(); err != nil || len(entries) != 0 {
		t.Fatalf("List of missing dir = %v, %v", entries, err)
	}
	for _, n := range []string{"README.html", ".outbox-1.tmp", "20250102T020405.000000006Z-nomember.html"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.Dir = dir
	if entries, err := s.List(); err != nil || len(entries) != 0 {
		t.Fatalf("List = %v, %v; want foreign files ignored", entries, err)
	}
}

// TestSinkKnowsPushedTemplateIDs: a send addressed by the SendGrid id in a
// template's front matter renders that template.
func TestSinkKnowsPushedTemplateIDs(t *testing.T) {
	c, err := mail.LoadCatalog(fstest.MapFS{
		"email/hello.hbs": {Data: []byte("---\nsubject: Hi {{{name}}}\ngroup: g\nrequired: [name, unsubscribe_url]\ntemplate_ids:\n  staging: d-abc123\n---\n<p>{{name}}</p><a href=\"{{unsubscribe_url}}\">u</a>\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := &outbox.Sink{Dir: t.TempDir(), Catalog: c, Now: func() time.Time { return frozen }}
	rec := httptest.NewRecorder()
	sink.ServeHTTP(rec, newRequest(t, []byte(`{"from":{"email":"a@b.c"},"template_id":"d-abc123","personalizations":[{"to":[{"email":"x@y.z"}],"custom_args":{"member_id":"m1"},"dynamic_template_data":{"name":"Lin","unsubscribe_url":"https://u"}}]}`)))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status = %d: %s", rec.Code, rec.Body)
	}
	entries, err := sink.List()
	if err != nil || len(entries) != 1 || entries[0].Template != "hello" {
		t.Fatalf("List = %+v, %v", entries, err)
	}
}
