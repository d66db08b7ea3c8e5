package api

import (
	"fmt"
	"net/http"
	"regexp"

	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/mail"
)

// AuditTemplatePush is the audit action of a template pushed to SendGrid.
const AuditTemplatePush = "template.push"

// TemplatePush is the body of POST /v1/templates/{name}/pushes, and its
// answer: one template `memberflow templates push` created or updated in
// SendGrid (mail.PushResult), recorded in the audit log.
//
// Why the CLI reports its push here rather than the API pushing: a push
// reads the templates from the operator's checkout (new ones are pushed
// before the deploy that ships them) with a SendGrid key only the
// operator holds, and the API holds neither. So the log entry says what
// the token that reported it says it pushed; the CLI checks it can
// report before it pushes (see pushTemplates), so a push does not go
// unlogged because memberflow was unreachable.
type TemplatePush struct {
	Environment string           `json:"environment"`
	TemplateID  string           `json:"template_id"`
	VersionID   string           `json:"version_id"`
	Outcome     mail.PushOutcome `json:"outcome"`
}

// MaxTemplatePushBytes bounds the body of POST /v1/templates/{name}/pushes.
const MaxTemplatePushBytes = 4 << 10

// sendGridID is a SendGrid template or version id: "d-" and 32 hex digits,
// or a UUID; the rule is the characters and length, not the shape.
var sendGridID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// postTemplatePush serves POST /v1/templates/{name}/pushes: it appends
// one audit entry, action template.push, target template:<name>, with the
// environment, template id, version id and outcome as its detail. It
// needs no catalog: the template may be newer than this deployment. A
// request with an Idempotency-Key (the CLI sends environment, template
// and version) is recorded once however often it is retried.
func (h *Handler) postTemplatePush(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !validTemplateName.MatchString(name) {
		httpx.WriteError(w, http.StatusBadRequest, "name: must be a template name (a-z, 0-9 and _, starting with a letter)")
		return
	}
	body, ok := httpx.ReadBody(w, r, MaxTemplatePushBytes)
	if !ok {
		return
	}
	var p TemplatePush
	if err := decodeObject(body, &p); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "body: must be a JSON object of environment, template_id, version_id and outcome: "+err.Error())
		return
	}
	switch {
	case mail.CheckPushEnvironment(p.Environment) != nil:
		httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("environment: must be the template_ids key pushed to (a-z first, then a-z, 0-9, '-' and '_', up to %d; not local)", mail.MaxEnvironmentLen))
		return
	case !sendGridID.MatchString(p.TemplateID):
		httpx.WriteError(w, http.StatusBadRequest, "template_id: must be SendGrid's template id (1 to 64 of A-Z, a-z, 0-9, '-' and '_')")
		return
	case !sendGridID.MatchString(p.VersionID):
		httpx.WriteError(w, http.StatusBadRequest, "version_id: must be SendGrid's id of the version made active (1 to 64 of A-Z, a-z, 0-9, '-' and '_')")
		return
	case p.Outcome != mail.PushCreated && p.Outcome != mail.PushUpdated:
		httpx.WriteError(w, http.StatusBadRequest, "outcome: must be created or updated (an unchanged template was not pushed)")
		return
	}
	detail := map[string]string{"environment": p.Environment, "template_id": p.TemplateID, "version_id": p.VersionID, "outcome": string(p.Outcome)}
	h.audited(w, r, AuditTemplatePush, auditTargetTemplate(name), detail, func(w http.ResponseWriter) {
		httpx.WriteJSON(w, http.StatusCreated, p)
	})
}

func auditTargetTemplate(name string) string { return "template:" + name }
