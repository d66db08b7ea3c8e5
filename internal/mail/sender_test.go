package mail_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/mail"
)

func testMessage() mail.Message {
	return mail.Message{
		MemberID:       "mem_42",
		To:             "lin.wei@example.com",
		ToName:         "Lin Wei",
		Template:       "activation_welcome",
		Data:           sampleData(),
		Categories:     []string{"journey", "activation"},
		CustomArgs:     map[string]string{"journey": "activation", "step": "welcome", "member_id": "spoofed"},
		IdempotencyKey: "wf-1/welcome",
	}
}

func TestSendBuildsExactRequest(t *testing.T) {
	for _, sandbox := range []bool{false, true} {
		name := "live"
		if sandbox {
			name = "sandbox"
		}
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
					t.Errorf("request = %s %s, want POST /v3/mail/send", r.Method, r.URL.Path)
				}
				if got := r.Header.Get("Authorization"); got != "Bearer SG.test-key" {
					t.Errorf("Authorization = %q", got)
				}
				if got := r.Header.Get("Content-Type"); got != "application/json" {
					t.Errorf("Content-Type = %q", got)
				}
				b, _ := io.ReadAll(r.Body)
				var got map[string]any
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatalf("body is not JSON: %v\n%s", err, b)
				}
				want := map[string]any{
					"from": map[string]any{"email": "hello@memberflow.example", "name": "Memberflow Demo"},
					"personalizations": []any{map[string]any{
						"to": []any{map[string]any{"email": "lin.wei@example.com", "name": "Lin Wei"}},
						"custom_args": map[string]any{
							"journey":         "activation",
							"step":            "welcome",
							"member_id":       "mem_42",
							"idempotency_key": "wf-1/welcome",
						},
						"dynamic_template_data": map[string]any{
							"name":     "Lin Wei",
							"brand":    "Memberflow Demo",
							"shop_url": "https://shop.example.com",
						},
					}},
					"template_id": "d-0123456789abcdef",
					"categories":  []any{"journey", "activation"},
				}
				if sandbox {
					want["mail_settings"] = map[string]any{"sandbox_mode": map[string]any{"enable": true}}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("body mismatch\n got: %s", b)
				}
				w.Header().Set("X-Message-Id", "msg-abc123")
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()

			s, err := mail.NewSender(mail.SenderConfig{
				APIKey:      "SG.test-key",
				BaseURL:     srv.URL + "/",
				FromEmail:   "hello@memberflow.example",
				FromName:    "Memberflow Demo",
				TemplateIDs: map[string]string{"activation_welcome": "d-0123456789abcdef"},
				SandboxMode: sandbox,
				HTTPClient:  srv.Client(),
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Send(context.Background(), testMessage())
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res != (mail.SendResult{MessageID: "msg-abc123", StatusCode: http.StatusAccepted}) {
				t.Errorf("SendResult = %+v", res)
			}
			if calls.Load() != 1 {
				t.Errorf("server called %d times", calls.Load())
			}
		})
	}
}

func TestSendDefaultClientAndUnmappedTemplate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			TemplateID   string         `json:"template_id"`
			MailSettings map[string]any `json:"mail_settings"`
			Categories   []string       `json:"categories"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Error(err)
		}
		if body.TemplateID != "activation_nudge" || body.MailSettings != nil || body.Categories != nil {
			t.Errorf("body = %+v, want the logical name as template_id and no mail_settings/categories", body)
		}
		w.Header().Set("X-Message-Id", "m2")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	s, err := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: srv.URL, FromEmail: "hello@memberflow.example"})
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.Template = "activation_nudge"
	m.Categories = nil
	res, err := s.Send(context.Background(), m)
	if err != nil || res.MessageID != "m2" {
		t.Fatalf("Send = %+v, %v", res, err)
	}
}

func TestSendErrorClassification(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		headers    map[string]string
		body       string
		retryable  bool
		retryAfter time.Duration
		message    string
	}{
		{
			name: "429 with Retry-After seconds", status: 429,
			headers:   map[string]string{"Retry-After": "7"},
			body:      `{"errors":[{"message":"too many requests","field":null,"help":null}]}`,
			retryable: true, retryAfter: 7 * time.Second, message: "too many requests",
		},
		{
			name: "429 with Retry-After date", status: 429,
			headers:   map[string]string{"Retry-After": time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)},
			retryable: true, retryAfter: 90 * time.Second, message: "Too Many Requests",
		},
		{
			name: "400 with SendGrid errors", status: 400,
			body:      `{"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from","help":null},{"message":"Invalid template_id","field":"template_id"}]}`,
			retryable: false, message: "The from address does not match a verified Sender Identity.; Invalid template_id",
		},
		{
			name: "401", status: 401,
			body:      `{"errors":[{"message":"The provided authorization grant is invalid, expired, or revoked","field":null}]}`,
			retryable: false, message: "The provided authorization grant is invalid, expired, or revoked",
		},
		{name: "503", status: 503, body: "upstream unavailable", retryable: true, message: "upstream unavailable"},
		{name: "500 empty", status: 500, retryable: true, message: "Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.headers {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			s, err := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: srv.URL, FromEmail: "hello@memberflow.example", HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Send(context.Background(), testMessage())
			var pe *mail.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("error = %v (%T), want *ProviderError", err, err)
			}
			if pe.StatusCode != tt.status || pe.Retryable() != tt.retryable || pe.Message != tt.message {
				t.Errorf("ProviderError = %+v retryable=%v; want status %d retryable %v message %q", pe, pe.Retryable(), tt.status, tt.retryable, tt.message)
			}
			// An HTTP-date has one-second resolution, so allow for the clock
			// moving on while the test runs.
			if d := pe.RetryAfter - tt.retryAfter; d > 0 || d < -2*time.Second {
				t.Errorf("RetryAfter = %v, want %v", pe.RetryAfter, tt.retryAfter)
			}
			if mail.IsPermanent(err) == tt.retryable {
				t.Errorf("IsPermanent = %v, want %v", mail.IsPermanent(err), !tt.retryable)
			}
			if strings.Contains(err.Error(), "lin.wei@example.com") {
				t.Errorf("error leaks the recipient address: %v", err)
			}
		})
	}
}

func TestSendRateLimitResetHeader(t *testing.T) {
	reset := time.Now().Add(30 * time.Second).Unix()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	s, _ := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: srv.URL, FromEmail: "hello@memberflow.example"})
	_, err := s.Send(context.Background(), testMessage())
	var pe *mail.ProviderError
	if !errors.As(err, &pe) || !pe.Retryable() || pe.RetryAfter <= 25*time.Second || pe.RetryAfter > 30*time.Second {
		t.Fatalf("error = %+v, want retryable with RetryAfter about 30s", err)
	}
}

func TestSendTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more

	s, err := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: url, FromEmail: "hello@memberflow.example"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), testMessage())
	if err == nil {
		t.Fatal("Send succeeded with no server")
	}
	var pe *mail.ProviderError
	if errors.As(err, &pe) || mail.IsPermanent(err) {
		t.Errorf("transport error %v must be a wrapped, non-permanent error", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Send(ctx, testMessage()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Send error = %v, want context.Canceled", err)
	}
}

func TestSendRejectsInvalidMessage(t *testing.T) {
	s, err := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: "http://127.0.0.1:1", FromEmail: "hello@memberflow.example"})
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*mail.Message){
		"empty to":       func(m *mail.Message) { m.To = "" },
		"display form":   func(m *mail.Message) { m.To = "Lin <lin.wei@example.com>" },
		"empty template": func(m *mail.Message) { m.Template = "" },
		"unencodable":    func(m *mail.Message) { m.Data = map[string]any{"c": make(chan int)} },
	} {
		t.Run(name, func(t *testing.T) {
			m := testMessage()
			mutate(&m)
			_, err := s.Send(context.Background(), m)
			if !errors.Is(err, mail.ErrInvalidMessage) || !mail.IsPermanent(err) {
				t.Errorf("error = %v, want permanent ErrInvalidMessage", err)
			}
			if err != nil && strings.Contains(err.Error(), "lin.wei@example.com") {
				t.Errorf("error leaks the recipient address: %v", err)
			}
		})
	}
}

func TestNewSenderValidation(t *testing.T) {
	ok := mail.SenderConfig{APIKey: "k", BaseURL: "https://api.sendgrid.com", FromEmail: "hello@memberflow.example"}
	if _, err := mail.NewSender(ok); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for name, mutate := range map[string]func(*mail.SenderConfig){
		"no key":          func(c *mail.SenderConfig) { c.APIKey = "" },
		"no from":         func(c *mail.SenderConfig) { c.FromEmail = "" },
		"bad from":        func(c *mail.SenderConfig) { c.FromEmail = "not an address" },
		"no base":         func(c *mail.SenderConfig) { c.BaseURL = "" },
		"relative base":   func(c *mail.SenderConfig) { c.BaseURL = "api.sendgrid.com" },
		"ftp base":        func(c *mail.SenderConfig) { c.BaseURL = "ftp://api.sendgrid.com" },
		"base with query": func(c *mail.SenderConfig) { c.BaseURL = "https://api.sendgrid.com?x=1" },
	} {
		t.Run(name, func(t *testing.T) {
			c := ok
			mutate(&c)
			if _, err := mail.NewSender(c); err == nil {
				t.Error("NewSender accepted an invalid config")
			}
		})
	}
}
