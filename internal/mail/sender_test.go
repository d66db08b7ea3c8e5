package mail_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/templates"
)

// activationGroup is the SendGrid unsubscribe group id the tests map the
// activation email group to.
const activationGroup = 4242

// asmGroups is the SenderConfig.ASMGroups of the tests: an id for every
// email group of the templates.
var asmGroups = map[string]int{"activation": activationGroup, "birthday": 4243, "tier_expiry": 4244, "winback": 4245, "trial": 4246, "offers": 4247}

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
		Group:          "activation",
		UnsubscribeURL: "https://memberflow.example/v1/unsubscribe?token=t0k3n",
	}
}

// stagingIDs are the SendGrid ids stagingCatalog records for staging.
var stagingIDs = map[string]string{
	"activation_welcome":    "d-0123456789abcdef0123456789abcdef",
	"activation_nudge":      "d-11111111111111111111111111111111",
	"activation_last_nudge": "d-22222222222222222222222222222222",
	"birthday_gift":         "d-33333333333333333333333333333333",
	"tier_expiry_warning":   "d-44444444444444444444444444444444",
	"trial_offer":           "d-55555555555555555555555555555555",
	"trial_reminder":        "d-66666666666666666666666666666666",
	"trial_thanks":          "d-77777777777777777777777777777777",
	"winback_last":          "d-88888888888888888888888888888888",
	"winback_miss_you":      "d-99999999999999999999999999999999",
	"winback_offer":         "d-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"svip_offer":            "d-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	"member_day":            "d-cccccccccccccccccccccccccccccccc",
}

// stagingCatalog is the real templates as if `memberflow templates push
// --env staging` had recorded stagingIDs in their front matter.
func stagingCatalog(t *testing.T) *mail.Catalog {
	t.Helper()
	fsys := fstest.MapFS{}
	err := fs.WalkDir(templates.Email, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templates.Email, p)
		if err != nil {
			return err
		}
		if id, ok := stagingIDs[strings.TrimSuffix(path.Base(p), ".hbs")]; ok && path.Dir(p) == "email" {
			// The first "\n---\n" closes the front matter.
			b = []byte(strings.Replace(string(b), "\n---\n", "\ntemplate_ids:\n  staging: "+id+"\n---\n", 1))
		}
		fsys[p] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := mail.LoadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Names()) != len(stagingIDs) {
		t.Fatalf("stagingIDs has %d ids for %d templates; add the new template", len(stagingIDs), len(c.Names()))
	}
	return c
}

// captureServer stands in for api.sendgrid.com: it records each request
// body and answers 202 with an X-Message-Id.
func captureServer(t *testing.T) (*httptest.Server, *[][]byte) {
	t.Helper()
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		w.Header().Set("X-Message-Id", "msg-abc123")
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv, &bodies
}

// assertJSON compares two JSON documents for equality of their values.
func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected JSON is broken: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("request body differs\n got: %s\nwant: %s", got, want)
	}
}

// exactRequest is the whole v3 request a journey step's send makes; $ID,
// $JOURNEY, $STEP, $GROUP and $SETTINGS are filled in per template.
const exactRequest = `{
	"from": {"email": "hello@memberflow.example", "name": "Memberflow Demo"},
	"template_id": "$ID",
	"personalizations": [{
		"to": [{"email": "lin.wei@example.com", "name": "Lin Wei"}],
		"headers": {
			"List-Unsubscribe": "<https://memberflow.example/v1/unsubscribe?token=t0k3n>",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"
		},
		"custom_args": {"journey": "$JOURNEY", "step": "$STEP", "enrollment": "1",
			"member_id": "mem_42", "idempotency_key": "mem_42#$JOURNEY#1#$STEP"},
		"dynamic_template_data": {"name": "Lin Wei", "brand": "Memberflow Demo",
			"shop_url": "https://shop.example.com",
			"unsubscribe_url": "https://memberflow.example/v1/unsubscribe?token=t0k3n"}
	}],
	"categories": ["$JOURNEY", "$JOURNEY:$STEP"],
	"asm": {"group_id": $GROUP, "groups_to_display": [$GROUP]}$SETTINGS
}`

// TestSendExactRequestPerTemplate sends each template the way its journey
// does and checks the whole v3 request SendGrid gets: the template's id for
// the environment and its group's unsubscribe group.
func TestSendExactRequestPerTemplate(t *testing.T) {
	tests := []struct {
		template, journey, step string
		group                   int
		sandbox                 bool
	}{
		{template: "activation_welcome", journey: "activation", step: "welcome", group: activationGroup},
		{template: "activation_nudge", journey: "activation", step: "nudge", group: activationGroup},
		{template: "activation_last_nudge", journey: "activation", step: "last_nudge", group: activationGroup, sandbox: true},
		{template: "birthday_gift", journey: "birthday", step: "gift", group: 4243},
		{template: "tier_expiry_warning", journey: "tier_expiry", step: "d30", group: 4244},
		{template: "winback_miss_you", journey: "winback", step: "d60", group: 4245},
		{template: "winback_offer", journey: "winback", step: "d120", group: 4245},
		{template: "winback_last", journey: "winback", step: "d365", group: 4245},
		{template: "trial_reminder", journey: "trial", step: "reminder_7d", group: 4246},
		{template: "trial_thanks", journey: "trial", step: "thanks", group: 4246},
		{template: "trial_offer", journey: "trial", step: "offer", group: 4246},
		{template: "svip_offer", journey: "svip_upsell", step: "offer", group: 4247},
		{template: "member_day", journey: "member_day", step: "double_points", group: 4247},
	}
	catalog := stagingCatalog(t)
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.template] = true
		t.Run(tc.template, func(t *testing.T) {
			srv, bodies := captureServer(t)
			s, err := mail.NewSender(mail.SenderConfig{
				APIKey:      "SG.test-key",
				BaseURL:     srv.URL + "/",
				FromEmail:   "hello@memberflow.example",
				FromName:    "Memberflow Demo",
				Catalog:     catalog,
				Environment: "staging",
				ASMGroups:   asmGroups,
				SandboxMode: tc.sandbox,
				HTTPClient:  srv.Client(),
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Send(context.Background(), mail.Message{
				MemberID:   "mem_42",
				To:         "lin.wei@example.com",
				ToName:     "Lin Wei",
				Template:   tc.template,
				Data:       sampleData(),
				Categories: []string{tc.journey, tc.journey + ":" + tc.step},
				CustomArgs: map[string]string{"journey": tc.journey, "step": tc.step, "enrollment": "1"},
				// Group is left to the template's front matter.
				IdempotencyKey: "mem_42#" + tc.journey + "#1#" + tc.step,
				UnsubscribeURL: "https://memberflow.example/v1/unsubscribe?token=t0k3n",
			})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res != (mail.SendResult{MessageID: "msg-abc123", StatusCode: http.StatusAccepted}) {
				t.Errorf("SendResult = %+v", res)
			}
			if len(*bodies) != 1 {
				t.Fatalf("server called %d times", len(*bodies))
			}
			settings := ""
			if tc.sandbox {
				settings = `,
	"mail_settings": {"sandbox_mode": {"enable": true}}`
			}
			want := strings.NewReplacer("$ID", stagingIDs[tc.template], "$JOURNEY", tc.journey, "$STEP", tc.step,
				"$GROUP", strconv.Itoa(tc.group), "$SETTINGS", settings).Replace(exactRequest)
			assertJSON(t, (*bodies)[0], want)
		})
	}
	for _, name := range catalog.Names() {
		if !covered[name] {
			t.Errorf("no expected request for template %s; add one to this test", name)
		}
	}
}

// TestSendWithoutCatalog covers the explicit configuration: TemplateIDs
// and Message.Group, caller CustomArgs that try to override member_id, no
// unsubscribe headers when there is no UnsubscribeURL.
func TestSendWithoutCatalog(t *testing.T) {
	srv, bodies := captureServer(t)
	s, err := mail.NewSender(mail.SenderConfig{
		APIKey:      "SG.test-key",
		BaseURL:     srv.URL,
		FromEmail:   "hello@memberflow.example",
		TemplateIDs: map[string]string{"activation_welcome": "d-0123456789abcdef"},
		ASMGroups:   asmGroups,
		HTTPClient:  srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.UnsubscribeURL = ""
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	assertJSON(t, (*bodies)[0], `{
		"from": {"email": "hello@memberflow.example"},
		"template_id": "d-0123456789abcdef",
		"personalizations": [{
			"to": [{"email": "lin.wei@example.com", "name": "Lin Wei"}],
			"custom_args": {"journey": "activation", "step": "welcome", "member_id": "mem_42", "idempotency_key": "wf-1/welcome"},
			"dynamic_template_data": {"name": "Lin Wei", "brand": "Memberflow Demo",
				"shop_url": "https://shop.example.com",
				"unsubscribe_url": "https://memberflow.example/v1/unsubscribe?token=t0k3n"}
		}],
		"categories": ["journey", "activation"],
		"asm": {"group_id": 4242, "groups_to_display": [4242]}
	}`)
}

// TestSendTemplateIDByEnvironment: the front matter's id for the
// environment, the name itself only locally, an error elsewhere.
func TestSendTemplateIDByEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		ids     map[string]string
		wantID  string
		wantErr string
	}{
		{name: "pushed", env: "staging", wantID: "d-0123456789abcdef0123456789abcdef"},
		{name: "configured id wins", env: "staging", ids: map[string]string{"activation_welcome": "d-override"}, wantID: "d-override"},
		{name: "local sends the name", env: "local", wantID: "activation_welcome"},
		{name: "not pushed", env: "production",
			wantErr: "mail: invalid message: template activation_welcome has no SendGrid id for environment production; run memberflow templates push --env production"},
	}
	catalog := stagingCatalog(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, bodies := captureServer(t)
			s, err := mail.NewSender(mail.SenderConfig{
				APIKey: "SG.test-key", BaseURL: srv.URL, FromEmail: "hello@memberflow.example",
				Catalog: catalog, Environment: tc.env, TemplateIDs: tc.ids, ASMGroups: asmGroups, HTTPClient: srv.Client(),
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Send(context.Background(), testMessage())
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !errors.Is(err, mail.ErrInvalidMessage) {
					t.Errorf("error = %v, want %q", err, tc.wantErr)
				}
				if len(*bodies) != 0 {
					t.Errorf("a request was made")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				TemplateID string `json:"template_id"`
			}
			if err := json.Unmarshal((*bodies)[0], &body); err != nil || body.TemplateID != tc.wantID {
				t.Errorf("template_id = %q (%v), want %q", body.TemplateID, err, tc.wantID)
			}
		})
	}
}

// TestSendRejectsWithoutRequest lists messages refused before any request.
func TestSendRejectsWithoutRequest(t *testing.T) {
	catalog := loadCatalog(t)
	tests := []struct {
		name    string
		cfg     func(*mail.SenderConfig)
		mutate  func(*mail.Message)
		wantErr string
		target  error
	}{
		{name: "group without id", cfg: func(c *mail.SenderConfig) { c.ASMGroups = map[string]int{"winback": 7} },
			wantErr: "mail: invalid message: email group activation has no SendGrid unsubscribe group id (SenderConfig.ASMGroups)", target: mail.ErrInvalidMessage},
		{name: "group differs from template", mutate: func(m *mail.Message) { m.Group = "winback" },
			wantErr: "mail: invalid message: message group winback differs from template activation_welcome's group activation", target: mail.ErrInvalidMessage},
		{name: "no group without catalog", cfg: func(c *mail.SenderConfig) { c.Catalog = nil }, mutate: func(m *mail.Message) { m.Group = "" },
			wantErr: "mail: invalid message: message for template activation_welcome has no group", target: mail.ErrInvalidMessage},
		{name: "unknown template", mutate: func(m *mail.Message) { m.Template = "nope" },
			wantErr: "template nope: unknown template", target: mail.ErrTemplate},
		{name: "relative unsubscribe URL", mutate: func(m *mail.Message) { m.UnsubscribeURL = "/v1/unsubscribe"; delete(m.Data, "unsubscribe_url") },
			wantErr: "mail: invalid message: unsubscribe URL of member mem_42 is not an absolute http(s) URL", target: mail.ErrInvalidMessage},
		{name: "unsubscribe URL with a bracket", mutate: func(m *mail.Message) {
			m.UnsubscribeURL = "https://u/>, <mailto:x@y>"
			delete(m.Data, "unsubscribe_url")
		},
			wantErr: "mail: invalid message: unsubscribe URL of member mem_42 is not an absolute http(s) URL", target: mail.ErrInvalidMessage},
		{name: "unsubscribe URL differs from data", mutate: func(m *mail.Message) { m.UnsubscribeURL = "https://other.example/u" },
			wantErr: `mail: invalid message: Data["unsubscribe_url"] differs from UnsubscribeURL for member mem_42`, target: mail.ErrInvalidMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, bodies := captureServer(t)
			cfg := mail.SenderConfig{
				APIKey: "SG.test-key", BaseURL: srv.URL, FromEmail: "hello@memberflow.example",
				Catalog: catalog, Environment: "local", ASMGroups: asmGroups, HTTPClient: srv.Client(),
			}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			s, err := mail.NewSender(cfg)
			if err != nil {
				t.Fatal(err)
			}
			m := testMessage()
			if tc.mutate != nil {
				tc.mutate(&m)
			}
			_, err = s.Send(context.Background(), m)
			if err == nil || err.Error() != tc.wantErr || !errors.Is(err, tc.target) || !mail.IsPermanent(err) {
				t.Errorf("error = %v, want permanent %q", err, tc.wantErr)
			}
			if len(*bodies) != 0 {
				t.Errorf("a request was made")
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

	s, err := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: srv.URL, FromEmail: "hello@memberflow.example", ASMGroups: asmGroups})
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
			s, err := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: srv.URL, FromEmail: "hello@memberflow.example", ASMGroups: asmGroups, HTTPClient: srv.Client()})
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
	s, _ := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: srv.URL, FromEmail: "hello@memberflow.example", ASMGroups: asmGroups})
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

	s, err := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: url, FromEmail: "hello@memberflow.example", ASMGroups: asmGroups})
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
	s, err := mail.NewSender(mail.SenderConfig{APIKey: "k", BaseURL: "http://127.0.0.1:1", FromEmail: "hello@memberflow.example", ASMGroups: asmGroups})
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
		"catalog without environment": func(c *mail.SenderConfig) {
			c.Catalog = loadCatalog(t)
		},
		"zero ASM group": func(c *mail.SenderConfig) { c.ASMGroups = map[string]int{"activation": 0} },
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
