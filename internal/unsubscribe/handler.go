package unsubscribe

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/projection"
	"github.com/memberflow/memberflow/internal/store"
)

// Handler serves GET and POST /v1/unsubscribe?token=…. Both act at once:
// POST is the one-click unsubscribe mail clients send for the
// List-Unsubscribe-Post header (RFC 8058), GET is the link in the footer.
// The change goes through the member projection like a storefront's
// member.unsubscribed event, under an event id derived from the token, so
// clicking twice changes nothing the second time.
type Handler struct {
	Store  store.Members
	Signer *Signer
	Brand  string
	Log    *slog.Logger
	Now    func() time.Time // nil means time.Now
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title></head>
<body style="font-family:Helvetica,Arial,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933">
<h1 style="font-size:1.5rem">{{.Title}}</h1><p>{{.Body}}</p></body></html>
`))

type pageData struct{ Title, Body string }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		httpx.WriteError(w, http.StatusMethodNotAllowed, "use GET or POST")
		return
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	token := r.URL.Query().Get("token")
	if token == "" {
		h.answer(w, r, http.StatusBadRequest, pageData{"Link incomplete", "token: the link has no token; use the link from the email."})
		return
	}
	c, err := h.Signer.Verify(token, now)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrExpired) {
			status = http.StatusGone
		}
		h.answer(w, r, status, pageData{"Link not valid", "token: " + err.Error() + ". You can unsubscribe from any newer email or in your account settings."})
		return
	}
	sum := sha256.Sum256([]byte(token))
	env := events.Envelope{
		ID: "unsubscribe-link:" + hex.EncodeToString(sum[:12]), Version: 1, Type: events.MemberUnsubscribed,
		OccurredAt: now, MemberID: c.MemberID,
	}
	_, err = projection.Apply(r.Context(), h.Store, env, &events.MemberUnsubscribedData{Group: c.Group, Reason: "unsubscribe link"})
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	h.Log.InfoContext(r.Context(), "member unsubscribed by link", "member_id", c.MemberID, "group", c.Group, "method", r.Method)
	what := "You will get no more marketing email from " + h.Brand + "."
	if c.Group != "" {
		what = "You will get no more " + c.Group + " emails from " + h.Brand + ". Other emails you agreed to are not affected."
	}
	h.answer(w, r, http.StatusOK, pageData{"You are unsubscribed", what})
}

// answer writes a small HTML page for people (GET) and JSON for mail
// clients and scripts (POST).
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, status int, d pageData) {
	if r.Method == http.MethodPost {
		if status == http.StatusOK {
			httpx.WriteJSON(w, status, map[string]any{"unsubscribed": true})
			return
		}
		httpx.WriteError(w, status, d.Body)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = page.Execute(w, d)
}
