package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
)

// sendEndpoint is the SendGrid v3 mail send path, relative to the base URL.
const sendEndpoint = "/v3/mail/send"

// Custom argument keys Send sets on the personalization, so that SendGrid
// event webhooks can be traced back to a member and a journey step.
const (
	// CustomArgMemberID carries Message.MemberID.
	CustomArgMemberID = "member_id"
	// CustomArgIdempotencyKey carries Message.IdempotencyKey.
	CustomArgIdempotencyKey = "idempotency_key"
)

// Message is one journey email to one member.
type Message struct {
	// MemberID identifies the member; it is sent as the "member_id" custom
	// argument.
	MemberID string
	// To is the recipient's bare email address.
	To string
	// ToName is the recipient's display name; optional.
	ToName string
	// Template is the logical template name (a Catalog name).
	Template string
	// Data is the template's dynamic data.
	Data map[string]any
	// Categories are SendGrid categories for reporting.
	Categories []string
	// CustomArgs are extra SendGrid custom arguments echoed in events.
	CustomArgs map[string]string
	// IdempotencyKey identifies the logical send (for example the workflow
	// step); it is sent as the "idempotency_key" custom argument so that
	// duplicate deliveries after a retry can be recognised in events.
	IdempotencyKey string
}

// SenderConfig configures a Sender.
type SenderConfig struct {
	// APIKey is the SendGrid API key.
	APIKey string
	// BaseURL is the API origin, "https://api.sendgrid.com" in production or
	// the local outbox (e.g. "http://127.0.0.1:1234").
	BaseURL string
	// FromEmail is the sender address; it must be a verified SendGrid
	// sender identity in production.
	FromEmail string
	// FromName is the sender display name; optional.
	FromName string
	// TemplateIDs maps logical template names to SendGrid template ids; a
	// name that is absent is sent as its own id.
	TemplateIDs map[string]string
	// SandboxMode asks SendGrid to validate the request without delivering.
	SandboxMode bool
	// HTTPClient is used for requests when set; otherwise the sendgrid-go
	// default client is used.
	HTTPClient *http.Client
}

// SendResult is SendGrid's acceptance of a message.
type SendResult struct {
	// MessageID is the X-Message-Id response header.
	MessageID string
	// StatusCode is the HTTP status (202, or 200 in sandbox mode).
	StatusCode int
}

// Sender sends Messages as SendGrid dynamic template emails. It is safe for
// concurrent use.
type Sender struct {
	apiKey      string
	baseURL     string
	from        *sgmail.Email
	templateIDs map[string]string
	sandbox     bool
	client      *rest.Client // nil: sendgrid.MakeRequestWithContext
	now         func() time.Time
}

// NewSender validates cfg and returns a Sender. APIKey, FromEmail and BaseURL
// are required; BaseURL must be an absolute http or https URL.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("mail: SenderConfig.APIKey is empty")
	}
	if strings.TrimSpace(cfg.FromEmail) == "" {
		return nil, errors.New("mail: SenderConfig.FromEmail is empty")
	}
	if !isBareAddress(cfg.FromEmail) {
		return nil, errors.New("mail: SenderConfig.FromEmail is not a valid email address")
	}
	base, err := normaliseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]string, len(cfg.TemplateIDs))
	for k, v := range cfg.TemplateIDs {
		ids[k] = v
	}
	s := &Sender{
		apiKey:      cfg.APIKey,
		baseURL:     base,
		from:        sgmail.NewEmail(cfg.FromName, cfg.FromEmail),
		templateIDs: ids,
		sandbox:     cfg.SandboxMode,
		now:         time.Now,
	}
	if cfg.HTTPClient != nil {
		s.client = &rest.Client{HTTPClient: cfg.HTTPClient}
	}
	return s, nil
}

// normaliseBaseURL checks that raw is an absolute http(s) URL and strips any
// trailing slash, because sendgrid-go joins host and endpoint by plain
// concatenation.
func normaliseBaseURL(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("mail: SenderConfig.BaseURL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("mail: SenderConfig.BaseURL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("mail: SenderConfig.BaseURL %q must be an absolute http or https URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("mail: SenderConfig.BaseURL %q must not have credentials, a query or a fragment", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// isBareAddress reports whether s is a plain address ("a@b.c"), not a
// display-name form, so that names never leak into the address field.
func isBareAddress(s string) bool {
	a, err := netmail.ParseAddress(s)
	return err == nil && a.Address == s
}

// templateID maps a logical template name to the SendGrid template id.
func (s *Sender) templateID(name string) string {
	if id, ok := s.templateIDs[name]; ok && id != "" {
		return id
	}
	return name
}

// Send delivers m through SendGrid's v3 mail/send API. A non-2xx answer is
// returned as a *ProviderError; a transport failure is returned wrapped (and
// is worth retrying); an invalid Message fails with ErrInvalidMessage before
// any request is made. Error messages never contain the recipient address.
func (s *Sender) Send(ctx context.Context, m Message) (SendResult, error) {
	body, err := s.requestBody(m)
	if err != nil {
		return SendResult{}, err
	}

	req := sendgrid.GetRequest(s.apiKey, sendEndpoint, s.baseURL)
	req.Method = rest.Post
	req.Body = body

	var resp *rest.Response
	if s.client != nil {
		resp, err = s.client.SendWithContext(ctx, req)
	} else {
		resp, err = sendgrid.MakeRequestWithContext(ctx, req)
	}
	if err != nil {
		return SendResult{}, fmt.Errorf("mail: send %s to member %s: %w", m.Template, m.MemberID, err)
	}

	headers := http.Header(resp.Headers)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return SendResult{}, &ProviderError{
			StatusCode: resp.StatusCode,
			Message:    providerMessage(resp.StatusCode, resp.Body),
			RetryAfter: retryAfter(resp.StatusCode, headers, s.now()),
		}
	}
	return SendResult{MessageID: headers.Get("X-Message-Id"), StatusCode: resp.StatusCode}, nil
}

// requestBody validates m and builds the v3 mail/send JSON with sendgrid-go's
// helpers.
func (s *Sender) requestBody(m Message) ([]byte, error) {
	if strings.TrimSpace(m.Template) == "" {
		return nil, fmt.Errorf("%w: template is empty", ErrInvalidMessage)
	}
	if !isBareAddress(m.To) {
		// The address itself is deliberately left out of the error.
		return nil, fmt.Errorf("%w: recipient address of member %s is not a valid email address", ErrInvalidMessage, m.MemberID)
	}

	p := sgmail.NewPersonalization()
	p.AddTos(sgmail.NewEmail(m.ToName, m.To))
	for k, v := range m.Data {
		p.SetDynamicTemplateData(k, v)
	}
	for k, v := range m.CustomArgs {
		p.SetCustomArg(k, v)
	}
	// Set last so a caller's CustomArgs cannot overwrite the values event
	// processing relies on to attribute events.
	if m.MemberID != "" {
		p.SetCustomArg(CustomArgMemberID, m.MemberID)
	}
	if m.IdempotencyKey != "" {
		p.SetCustomArg(CustomArgIdempotencyKey, m.IdempotencyKey)
	}

	v3 := sgmail.NewV3Mail()
	v3.SetFrom(s.from)
	v3.SetTemplateID(s.templateID(m.Template))
	v3.AddPersonalizations(p)
	if len(m.Categories) > 0 {
		v3.AddCategories(m.Categories...)
	}
	if s.sandbox {
		v3.SetMailSettings(sgmail.NewMailSettings().SetSandboxMode(sgmail.NewSetting(true)))
	}

	// json.Marshal rather than sgmail.GetRequestBody: the helper logs and
	// swallows marshalling errors (e.g. a channel in Data) and would send an
	// empty body.
	body, err := json.Marshal(v3)
	if err != nil {
		return nil, fmt.Errorf("%w: template data for %s cannot be encoded as JSON: %v", ErrInvalidMessage, m.Template, err)
	}
	return body, nil
}

// maxMessageLen bounds how much of a non-JSON error body ends up in an error
// (and therefore in logs and Temporal history).
const maxMessageLen = 512

// providerMessage extracts SendGrid's errors[].message values, falling back
// to the raw body or the status text.
func providerMessage(status int, body string) string {
	var parsed struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &parsed) == nil {
		var msgs []string
		for _, e := range parsed.Errors {
			if e.Message != "" {
				msgs = append(msgs, e.Message)
			}
		}
		if len(msgs) > 0 {
			return strings.Join(msgs, "; ")
		}
	}
	if b := strings.TrimSpace(body); b != "" {
		if len(b) > maxMessageLen {
			b = b[:maxMessageLen] + "..."
		}
		return b
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "unexpected status"
}

// maxRetryAfterSecs caps a delay-seconds Retry-After (one day) well below
// the point where it would overflow a time.Duration.
const maxRetryAfterSecs = 24 * 60 * 60

// retryAfter reads the server's back-off hint. Retry-After may be delay
// seconds or an HTTP-date. SendGrid itself signals rate limits with
// X-RateLimit-Reset (a Unix time), so that is used for 429 when Retry-After
// is absent.
func retryAfter(status int, h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			// Clamp so an absurd value cannot overflow the Duration.
			return time.Duration(min(max(secs, 0), maxRetryAfterSecs)) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
		return 0
	}
	if status == http.StatusTooManyRequests {
		if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
			if unix, err := strconv.ParseInt(v, 10, 64); err == nil {
				return max(time.Unix(unix, 0).Sub(now), 0)
			}
		}
	}
	return 0
}
