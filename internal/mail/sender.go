package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
	// Group is the email group (journey kind, e.g. "activation") the member
	// can unsubscribe from; SenderConfig.ASMGroups maps it to the SendGrid
	// unsubscribe group. Empty means the template's group when the Sender
	// has a Catalog; a Group that differs from the template's is refused.
	Group string
	// UnsubscribeURL is the member's one-click unsubscribe link. When set it
	// is sent as the List-Unsubscribe and List-Unsubscribe-Post headers
	// (RFC 8058), and it must equal Data["unsubscribe_url"] when that is
	// present, so the header and the footer link lead to the same place.
	UnsubscribeURL string
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
	// TemplateIDs maps logical template names to SendGrid template ids and
	// wins over the Catalog. Without a Catalog, a name that is absent is
	// sent as its own id.
	TemplateIDs map[string]string
	// Catalog, when set, supplies each template's SendGrid id for
	// Environment (its front matter's template_ids) and its group.
	Catalog *Catalog
	// Environment names the deployment ("local", "staging", "production");
	// required with a Catalog. Only in EnvironmentLocal is a template that
	// was never pushed sent under its own name (to the outbox).
	Environment string
	// ASMGroups maps email groups (Message.Group, a template's group) to
	// SendGrid unsubscribe group ids. A send whose group has no id fails
	// with ErrInvalidMessage: a marketing email always carries one.
	ASMGroups map[string]int
	// SandboxMode asks SendGrid to validate the request without delivering.
	SandboxMode bool
	// HTTPClient is used for requests when set; otherwise the sendgrid-go
	// default client is used.
	HTTPClient *http.Client
}

// EnvironmentLocal is the local stack's environment: sends go to the outbox,
// which knows templates by name, so no template needs a SendGrid id.
const EnvironmentLocal = "local"

// Headers Send sets for a Message with an UnsubscribeURL (RFC 2369, 8058).
const (
	HeaderListUnsubscribe     = "List-Unsubscribe"
	HeaderListUnsubscribePost = "List-Unsubscribe-Post"
	listUnsubscribeOneClick   = "List-Unsubscribe=One-Click"
)

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
	api         apiClient
	from        *sgmail.Email
	templateIDs map[string]string
	catalog     *Catalog
	env         string
	groups      map[string]int
	sandbox     bool
}

// apiClient makes SendGrid v3 API requests with sendgrid-go; the Sender and
// Push share it.
type apiClient struct {
	apiKey  string
	baseURL string
	client  *rest.Client // nil: sendgrid.MakeRequestWithContext
	now     func() time.Time
}

// newAPIClient validates the key and base URL; config names the struct in
// error messages.
func newAPIClient(config, apiKey, baseURL string, hc *http.Client) (apiClient, error) {
	if strings.TrimSpace(apiKey) == "" {
		return apiClient{}, fmt.Errorf("mail: %s.APIKey is empty", config)
	}
	base, err := normaliseBaseURL(config, baseURL)
	if err != nil {
		return apiClient{}, err
	}
	c := apiClient{apiKey: apiKey, baseURL: base, now: time.Now}
	if hc != nil {
		c.client = &rest.Client{HTTPClient: hc}
	}
	return c, nil
}

// do sends one request. A non-2xx answer is returned as a *ProviderError
// (with the response); a transport failure as it is, for the caller to wrap.
func (c *apiClient) do(ctx context.Context, method rest.Method, endpoint string, body []byte) (*rest.Response, error) {
	req := sendgrid.GetRequest(c.apiKey, endpoint, c.baseURL)
	req.Method = method
	req.Body = body

	var resp *rest.Response
	var err error
	if c.client != nil {
		resp, err = c.client.SendWithContext(ctx, req)
	} else {
		resp, err = sendgrid.MakeRequestWithContext(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, &ProviderError{
			StatusCode: resp.StatusCode,
			Message:    providerMessage(resp.StatusCode, resp.Body),
			RetryAfter: retryAfter(resp.StatusCode, http.Header(resp.Headers), c.now()),
		}
	}
	return resp, nil
}

// NewSender validates cfg and returns a Sender. APIKey, FromEmail and BaseURL
// are required; BaseURL must be an absolute http or https URL; Environment
// is required when Catalog is set; ASMGroups ids must be positive.
func NewSender(cfg SenderConfig) (*Sender, error) {
	api, err := newAPIClient("SenderConfig", cfg.APIKey, cfg.BaseURL, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.FromEmail) == "" {
		return nil, errors.New("mail: SenderConfig.FromEmail is empty")
	}
	if !isBareAddress(cfg.FromEmail) {
		return nil, errors.New("mail: SenderConfig.FromEmail is not a valid email address")
	}
	if cfg.Catalog != nil && strings.TrimSpace(cfg.Environment) == "" {
		return nil, errors.New("mail: SenderConfig.Environment is empty; with a Catalog it picks the template ids (local, staging, production)")
	}
	for group, id := range cfg.ASMGroups {
		if id <= 0 {
			return nil, fmt.Errorf("mail: SenderConfig.ASMGroups[%q] = %d; SendGrid unsubscribe group ids are positive", group, id)
		}
	}
	return &Sender{
		api:         api,
		from:        sgmail.NewEmail(cfg.FromName, cfg.FromEmail),
		templateIDs: maps.Clone(cfg.TemplateIDs),
		catalog:     cfg.Catalog,
		env:         cfg.Environment,
		groups:      maps.Clone(cfg.ASMGroups),
		sandbox:     cfg.SandboxMode,
	}, nil
}

// normaliseBaseURL checks that raw is an absolute http(s) URL and strips any
// trailing slash, because sendgrid-go joins host and endpoint by plain
// concatenation.
func normaliseBaseURL(config, raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", fmt.Errorf("mail: %s.BaseURL is empty", config)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("mail: %s.BaseURL: %w", config, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("mail: %s.BaseURL %q must be an absolute http or https URL", config, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("mail: %s.BaseURL %q must not have credentials, a query or a fragment", config, raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// isBareAddress reports whether s is a plain address ("a@b.c"), not a
// display-name form, so that names never leak into the address field.
func isBareAddress(s string) bool {
	a, err := netmail.ParseAddress(s)
	return err == nil && a.Address == s
}

// templateID maps a logical template name to the SendGrid template id:
// TemplateIDs first, then the Catalog's front matter for the environment.
func (s *Sender) templateID(name string) (string, error) {
	if id := s.templateIDs[name]; id != "" {
		return id, nil
	}
	if s.catalog == nil {
		return name, nil
	}
	if id, ok := s.catalog.TemplateID(name, s.env); ok {
		return id, nil
	}
	if _, err := s.catalog.Group(name); err != nil {
		return "", err // unknown template: ErrTemplate
	}
	if s.env == EnvironmentLocal {
		return name, nil
	}
	return "", fmt.Errorf("%w: template %s has no SendGrid id for environment %s; run memberflow templates push --env %s",
		ErrInvalidMessage, name, s.env, s.env)
}

// asmGroup resolves the message's email group to a SendGrid unsubscribe
// group id.
func (s *Sender) asmGroup(m Message) (int, error) {
	group := m.Group
	if s.catalog != nil {
		tg, err := s.catalog.Group(m.Template)
		if err != nil {
			return 0, err
		}
		if group != "" && group != tg {
			return 0, fmt.Errorf("%w: message group %s differs from template %s's group %s", ErrInvalidMessage, group, m.Template, tg)
		}
		group = tg
	}
	if group == "" {
		return 0, fmt.Errorf("%w: message for template %s has no group", ErrInvalidMessage, m.Template)
	}
	id, ok := s.groups[group]
	if !ok {
		return 0, fmt.Errorf("%w: email group %s has no SendGrid unsubscribe group id (SenderConfig.ASMGroups)", ErrInvalidMessage, group)
	}
	return id, nil
}

// Send delivers m through SendGrid's v3 mail/send API. A non-2xx answer is
// returned as a *ProviderError; a transport failure is returned wrapped (and
// is worth retrying); an invalid Message fails with ErrInvalidMessage (or
// ErrTemplate for a template the Catalog does not have) before any request
// is made. Error messages never contain the recipient address.
func (s *Sender) Send(ctx context.Context, m Message) (SendResult, error) {
	body, err := s.requestBody(m)
	if err != nil {
		return SendResult{}, err
	}
	resp, err := s.api.do(ctx, rest.Post, sendEndpoint, body)
	var pe *ProviderError
	if errors.As(err, &pe) {
		return SendResult{}, pe
	}
	if err != nil {
		return SendResult{}, fmt.Errorf("mail: send %s to member %s: %w", m.Template, m.MemberID, err)
	}
	return SendResult{MessageID: http.Header(resp.Headers).Get("X-Message-Id"), StatusCode: resp.StatusCode}, nil
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
	templateID, err := s.templateID(m.Template)
	if err != nil {
		return nil, err
	}
	groupID, err := s.asmGroup(m)
	if err != nil {
		return nil, err
	}
	if m.UnsubscribeURL != "" {
		if err := checkUnsubscribeURL(m); err != nil {
			return nil, err
		}
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
	if m.UnsubscribeURL != "" {
		// On the personalization: the link carries this member's token.
		p.SetHeader(HeaderListUnsubscribe, "<"+m.UnsubscribeURL+">")
		p.SetHeader(HeaderListUnsubscribePost, listUnsubscribeOneClick)
	}

	v3 := sgmail.NewV3Mail()
	v3.SetFrom(s.from)
	v3.SetTemplateID(templateID)
	v3.AddPersonalizations(p)
	if len(m.Categories) > 0 {
		v3.AddCategories(m.Categories...)
	}
	// Only this group is offered on SendGrid's preferences page: a member
	// leaving one journey keeps the others unless they choose otherwise.
	v3.SetASM(sgmail.NewASM().SetGroupID(groupID).AddGroupsToDisplay(groupID))
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

// checkUnsubscribeURL requires an absolute http(s) URL that agrees with the
// one the template's footer links to.
func checkUnsubscribeURL(m Message) error {
	u, err := url.Parse(m.UnsubscribeURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(m.UnsubscribeURL, "<> \t\r\n") {
		return fmt.Errorf("%w: unsubscribe URL of member %s is not an absolute http(s) URL", ErrInvalidMessage, m.MemberID)
	}
	if v, ok := m.Data[UnsubscribeVar]; ok && v != m.UnsubscribeURL {
		return fmt.Errorf("%w: Data[%q] differs from UnsubscribeURL for member %s", ErrInvalidMessage, UnsubscribeVar, m.MemberID)
	}
	return nil
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

// CheckSendable reports, all at once, every template of the catalog that
// could not be sent in env with the given ASM groups: a group without an
// ASM id, or (outside EnvironmentLocal) no SendGrid template id. The
// worker calls it at start-up so a missing `templates push` or group id
// stops the deployment instead of failing journey steps later.
func CheckSendable(c *Catalog, env string, asmGroups map[string]int) error {
	var problems []string
	for _, name := range c.Names() {
		group, err := c.Group(name)
		if err != nil {
			return err
		}
		if asmGroups[group] <= 0 {
			problems = append(problems, fmt.Sprintf("template %s: group %q has no ASM group id (SENDGRID_ASM_GROUPS)", name, group))
		}
		if _, ok := c.TemplateID(name, env); !ok && env != EnvironmentLocal {
			problems = append(problems, fmt.Sprintf("template %s: no SendGrid id for environment %q (run memberflow templates push --env %s)", name, env, env))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("mail: cannot send every template: %s", strings.Join(problems, "; "))
	}
	return nil
}
