package api

import (
	"bytes"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
)

// MaxPreviewBytes bounds the body of POST /v1/templates/{name}/preview.
const MaxPreviewBytes = 16 << 10

// validTemplateName is a template file's base name.
var validTemplateName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// TemplateInfo is one email template in GET /v1/templates: its name, its
// subject as written (Handlebars), its email group (the unsubscribe group
// of its sends) and the variables a send must supply.
type TemplateInfo struct {
	Name     string   `json:"name"`
	Subject  string   `json:"subject"`
	Group    string   `json:"group"`
	Required []string `json:"required"`
}

// previewRequest is the body of POST /v1/templates/{name}/preview.
type previewRequest struct {
	MemberID string         `json:"member_id"`
	Vars     map[string]any `json:"vars"`
}

// Preview is a template rendered for a member as a send renders it: the
// subject, the preheader, the HTML document the outbox writes and the same
// email as plain text.
type Preview struct {
	Subject   string `json:"subject"`
	Preheader string `json:"preheader"`
	HTML      string `json:"html"`
	Text      string `json:"text"`
}

func (h *Handler) templateRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/templates", h.listTemplates)
	mux.HandleFunc("POST /v1/templates/{name}/preview", h.previewTemplate)
	// A push to SendGrid, reported by the CLI, for the audit log
	// (templatepush.go).
	mux.HandleFunc("POST /v1/templates/{name}/pushes", h.postTemplatePush)
}

// catalog answers 503 when the deployment serves no templates.
func (h *Handler) catalog(w http.ResponseWriter) (*mail.Catalog, bool) {
	if h.Templates == nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "email templates are not served by this deployment")
		return nil, false
	}
	return h.Templates, true
}

func (h *Handler) listTemplates(w http.ResponseWriter, r *http.Request) {
	c, ok := h.catalog(w)
	if !ok {
		return
	}
	out := make([]TemplateInfo, 0, len(c.Names()))
	for _, name := range c.Names() {
		src, err := c.Source(name)
		if err != nil {
			httpx.Fail(w, r, h.Log, err)
			return
		}
		group, err := c.Group(name)
		if err != nil {
			httpx.Fail(w, r, h.Log, err)
			return
		}
		req, err := c.Required(name)
		if err != nil {
			httpx.Fail(w, r, h.Log, err)
			return
		}
		if req == nil {
			req = []string{}
		}
		out = append(out, TemplateInfo{Name: name, Subject: src.Subject, Group: group, Required: req})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) previewTemplate(w http.ResponseWriter, r *http.Request) {
	c, ok := h.catalog(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if !validTemplateName.MatchString(name) {
		httpx.WriteError(w, http.StatusBadRequest, "name: must be a template name (lower-case letters, digits and '_', starting with a letter)")
		return
	}
	if _, err := c.Source(name); err != nil {
		httpx.WriteError(w, http.StatusNotFound, "template "+name+" not found")
		return
	}
	body, ok := httpx.ReadBody(w, r, MaxPreviewBytes)
	if !ok {
		return
	}
	var req previewRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeObject(body, &req); err != nil {
			httpx.WriteError(w, http.StatusBadRequest, `body: must be a JSON object {"member_id": "…", "vars": {…}} (both optional): `+err.Error())
			return
		}
	}
	for k, v := range req.Vars {
		switch v.(type) {
		case string, float64, bool:
		default:
			httpx.WriteError(w, http.StatusBadRequest, "vars."+k+": must be a string, number or boolean")
			return
		}
		if strings.TrimSpace(k) == "" {
			httpx.WriteError(w, http.StatusBadRequest, "vars: names must not be empty")
			return
		}
	}
	m := activities.SampleMember()
	if id := strings.TrimSpace(req.MemberID); id != "" {
		var err error
		m, err = h.Store.GetMember(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			httpx.WriteError(w, http.StatusNotFound, "member_id: member "+id+" not found")
			return
		}
		if err != nil {
			httpx.Fail(w, r, h.Log, err)
			return
		}
	}
	data, err := activities.PreviewData(c, name, activities.TemplateData(m, h.Brand, previewUnsubscribeURL(r)), req.Vars)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	out, err := c.Render(name, data)
	var te *mail.TemplateError
	if errors.As(err, &te) && len(te.Missing) > 0 {
		httpx.WriteError(w, http.StatusUnprocessableEntity, "vars: "+name+" needs "+strings.Join(te.Missing, ", ")+" (give them in vars)")
		return
	}
	if err != nil {
		httpx.WriteError(w, http.StatusUnprocessableEntity, "vars: "+name+" could not be rendered with them: "+err.Error())
		return
	}
	httpx.WriteJSON(w, http.StatusOK, Preview{Subject: out.Subject, Preheader: out.Preheader, HTML: out.Document(), Text: out.Text()})
}

// previewUnsubscribeURL is the unsubscribe link a preview shows: this
// deployment's, with a token that unsubscribes nobody (as `memberflow
// templates preview` shows it).
func previewUnsubscribeURL(r *http.Request) string {
	scheme := "http"
	if secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + activities.PreviewUnsubscribePath
}
