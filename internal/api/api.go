// Package api serves the marketer and operator endpoints under /v1: members,
// their ledger, adjustments and timeline, the programme's liability, and
// journeys (definitions, versions, status, enrollments, stats), the
// programme as configured and previews of the email templates, the
// analytics model and RFM segments the nightly refresh stored
// (analytics.go), and the audit log of operator actions (audit.go). Every
// route requires a bearer token or a console session (POST /ui/session).
package api

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
)

// Handler is the /v1 API.
type Handler struct {
	Store  store.Store
	Ledger *ledger.Service
	// Unsubscribe, when set, serves /v1/unsubscribe without a bearer
	// token: the signed token in the link is the authorisation.
	Unsubscribe http.Handler
	Tokens      Tokens
	Log         *slog.Logger
	// Journeys serves /v1/journeys (list, versions, validate, drafts,
	// publish, pause, resume, archive, api enrollments); when nil those
	// routes answer 503. Stats and timelines need only the Store.
	Journeys *journeys.Control
	// Templates, when set, serves /v1/templates and their previews,
	// rendered for a member as a send renders them with Brand; when nil
	// those routes answer 503.
	Templates *mail.Catalog
	// Files, when set, erases a member's files outside the store (the
	// local stack's email outbox) with the member.
	Files MemberFiles
	Brand activities.Brand
	// Now is the clock of console sessions and of the journeys' sends per
	// day; nil means time.Now.
	Now func() time.Time
	// SimulateBudget is the most work POST /v1/journeys/{name}/simulate
	// runs inside a request, in member-days per journey (members × days
	// × journeys simulated); 0 means no limit (simulate.go).
	SimulateBudget int64
	// simulating admits one simulation at a time per process.
	simulating sync.Mutex
}

// MemberView is GET /v1/members/{id}: the projection, the member's
// standing in the programme as of now, and their enrollments.
type MemberView = loyalty.MemberDocument

// Routes returns the API's routes behind bearer (or console session)
// authentication, and the console's session routes under /ui/session.
func (h *Handler) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/members/{id}", h.getMember)
	mux.HandleFunc("GET /v1/members/{id}/ledger", h.getLedger)
	mux.HandleFunc("POST /v1/members/{id}/adjustments", h.postAdjustment)
	// The members' rights (rights.go): erasure and export, both audited.
	mux.HandleFunc("DELETE /v1/members/{id}", h.deleteMember)
	mux.HandleFunc("GET /v1/members/{id}/export", h.getExport)
	mux.HandleFunc("GET /v1/liability", h.getLiability)
	mux.HandleFunc("GET /v1/members/{id}/timeline", h.getTimeline)
	mux.HandleFunc("GET /v1/journeys/{name}/stats", h.getJourneyStats)
	mux.HandleFunc("GET /v1/journeys/{name}/lift", h.getJourneyLift)
	mux.HandleFunc("GET /v1/program", h.getProgram)
	// What the nightly analytics refresh stored (analytics.go).
	mux.HandleFunc("GET /v1/analytics/model", h.getAnalyticsModel)
	mux.HandleFunc("GET /v1/analytics/rfm", h.getAnalyticsRFM)
	// The audit log is read here and only here: no route changes or
	// deletes an entry.
	mux.HandleFunc("GET /v1/audit", h.getAudit)
	h.templateRoutes(mux)
	h.journeyRoutes(mux)
	outer := http.NewServeMux()
	if h.Unsubscribe != nil {
		outer.Handle("/v1/unsubscribe", h.Unsubscribe)
	}
	// The console's sign-in (/ui/session) is served here, beside the
	// tokens it checks; lambdaenv.Routes sends it this handler.
	h.sessionRoutes(outer)
	outer.Handle("/", requireAuth(h.Tokens, h.now, mux))
	// No recovery here: lambdaenv.Routes, which serves these routes in
	// Lambda and locally, recovers every route's panics.
	return outer
}

func (h *Handler) getMember(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m, err := h.Store.GetMember(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, http.StatusNotFound, "member "+id+" not found")
		return
	}
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	enr, err := h.Store.ListEnrollments(r.Context(), id)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	if enr == nil {
		enr = []loyalty.Enrollment{}
	}
	v, err := h.Ledger.View(r.Context(), m)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, MemberView{Member: m, View: v, Enrollments: enr})
}
