package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
)

// MaxJourneyBytes bounds a journey definition posted to validate, publish
// or save as a draft; a larger body is answered 413.
const MaxJourneyBytes = 256 << 10

// MaxEnrollmentBytes bounds the body of POST
// /v1/journeys/{name}/enrollments.
const MaxEnrollmentBytes = 4 << 10

// validJourneyName is the language's rule for names: a path that breaks
// it names no journey, so it is a 400, not a 404.
var validJourneyName = regexp.MustCompile(journey.NamePattern)

const badJourneyName = "name: must be a journey name (2 to 41 lower-case letters, digits and '_', starting with a letter)"

// Problem is one problem of a definition in a 422 or a validation answer:
// the path of the key, the rule it breaks, and where the key's value is
// in the source (line and column, 1-based; 0 when unknown). ExprColumn is
// the column inside a CEL expression the compiler pointed at.
type Problem struct {
	Path       string `json:"path"`
	Rule       string `json:"rule"`
	Line       int    `json:"line"`
	Column     int    `json:"column"`
	ExprColumn int    `json:"expr_column,omitempty"`
}

func problemsOf(ve *journey.ValidationError) []Problem {
	out := make([]Problem, 0, len(ve.Problems))
	for _, p := range ve.Problems {
		out = append(out, Problem{Path: p.Path, Rule: p.Rule, Line: p.Line, Column: p.Column, ExprColumn: p.ExprColumn})
	}
	return out
}

// Validation is POST /v1/journeys/validate.
type Validation struct {
	Valid    bool      `json:"valid"`
	Problems []Problem `json:"problems"`
}

// JourneyList is GET /v1/journeys.
type JourneyList struct {
	Journeys []journeys.Summary `json:"journeys"`
}

// enrollRequest is the body of POST /v1/journeys/{name}/enrollments.
type enrollRequest struct {
	MemberID string `json:"member_id"`
}

// controlled is a journeys route: the handler gets the Control, and the
// journey name of the path when it has one, checked.
type controlled func(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string)

func (h *Handler) journeyRoutes(mux *http.ServeMux) {
	for pattern, fn := range map[string]controlled{
		"GET /v1/journeys":                                h.listJourneys,
		"POST /v1/journeys":                               h.publishJourney,
		"POST /v1/journeys/validate":                      h.validateJourney,
		"GET /v1/journeys/{name}":                         h.getJourney,
		"GET /v1/journeys/{name}/versions/{n}":            h.getJourneyVersion,
		"PUT /v1/journeys/{name}/draft":                   h.putJourneyDraft,
		"POST /v1/journeys/{name}/pause":                  h.pauseJourney,
		"POST /v1/journeys/{name}/resume":                 h.resumeJourney,
		"POST /v1/journeys/{name}/archive":                h.archiveJourney,
		"POST /v1/journeys/{name}/enrollments":            h.enrollMember,
		"DELETE /v1/journeys/{name}/enrollments/{member}": h.removeMember,
	} {
		mux.HandleFunc(pattern, h.control(fn))
	}
}

func (h *Handler) control(fn controlled) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.Journeys == nil {
			httpx.WriteError(w, http.StatusServiceUnavailable, "journeys are not served by this deployment")
			return
		}
		name := r.PathValue("name")
		if name != "" && !validJourneyName.MatchString(name) {
			httpx.WriteError(w, http.StatusBadRequest, badJourneyName)
			return
		}
		fn(w, r, h.Journeys, name)
	}
}

// failJourney answers err: a definition that does not validate is a 422
// listing its problems (nothing was written), anything else as httpx maps
// it.
func (h *Handler) failJourney(w http.ResponseWriter, r *http.Request, err error) {
	var ve *journey.ValidationError
	if errors.As(err, &ve) {
		httpx.WriteJSON(w, http.StatusUnprocessableEntity, httpx.ErrorBody{Error: ve.Error(), Problems: problemsOf(ve)})
		return
	}
	httpx.Fail(w, r, h.Log, err)
}

func (h *Handler) listJourneys(w http.ResponseWriter, r *http.Request, c *journeys.Control, _ string) {
	list, err := c.List(r.Context())
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, JourneyList{Journeys: list})
}

func (h *Handler) getJourney(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	d, err := c.Get(r.Context(), name)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, d)
}

func (h *Handler) getJourneyVersion(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		httpx.WriteError(w, http.StatusBadRequest, "version: must be a whole number from 1 (the n of /versions/{n})")
		return
	}
	v, err := c.Version(r.Context(), name, n)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, v)
}

// Definitions are read as YAML or JSON whatever the Content-Type says:
// the language reads both, and a marketer's curl rarely sets it right.

func (h *Handler) validateJourney(w http.ResponseWriter, r *http.Request, c *journeys.Control, _ string) {
	body, ok := httpx.ReadPost(w, r, MaxJourneyBytes)
	if !ok {
		return
	}
	_, err := c.Journeys.Validate(body)
	var ve *journey.ValidationError
	switch {
	case errors.As(err, &ve):
		httpx.WriteJSON(w, http.StatusOK, Validation{Problems: problemsOf(ve)})
	case err != nil:
		httpx.Fail(w, r, h.Log, err)
	default:
		httpx.WriteJSON(w, http.StatusOK, Validation{Valid: true, Problems: []Problem{}})
	}
}

func (h *Handler) putJourneyDraft(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	body, ok := httpx.ReadBody(w, r, MaxJourneyBytes)
	if !ok {
		return
	}
	st, err := c.SaveDraft(r.Context(), name, body)
	if err != nil {
		h.failJourney(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}

func (h *Handler) publishJourney(w http.ResponseWriter, r *http.Request, c *journeys.Control, _ string) {
	body, ok := httpx.ReadPost(w, r, MaxJourneyBytes)
	if !ok {
		return
	}
	by := TokenID(r.Context())
	var (
		p   journeys.Published
		err error
	)
	if name, isRef := draftRef(body); isRef {
		if !validJourneyName.MatchString(name) {
			httpx.WriteError(w, http.StatusBadRequest, badJourneyName)
			return
		}
		p, err = c.PublishDraft(r.Context(), name, by)
	} else {
		p, err = c.Journeys.Publish(r.Context(), body, by)
	}
	if err != nil {
		h.failJourney(w, r, err)
		return
	}
	h.Log.InfoContext(r.Context(), "journey published", "journey", p.Name, "version", p.Version, "token", by)
	httpx.WriteJSON(w, http.StatusCreated, p)
}

// draftRef reports whether body is {"name": …} alone (in JSON or YAML):
// a request to publish the journey's saved draft rather than a
// definition, which always has a trigger and steps.
func draftRef(body []byte) (string, bool) {
	var doc map[string]any
	if err := yaml.Unmarshal(body, &doc); err != nil || len(doc) != 1 {
		return "", false
	}
	name, ok := doc["name"].(string)
	return name, ok
}

func (h *Handler) pauseJourney(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	h.changed(w, r, name, c.Pause)
}

func (h *Handler) resumeJourney(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	h.changed(w, r, name, c.Resume)
}

func (h *Handler) archiveJourney(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	h.changed(w, r, name, c.Archive)
}

func (h *Handler) changed(w http.ResponseWriter, r *http.Request, name string, change func(ctx context.Context, name string) (journeys.Changed, error)) {
	out, err := change(r.Context(), name)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	h.Log.InfoContext(r.Context(), "journey status changed", "journey", name, "status", out.Status, "resumed", out.Resumed, "ended", out.Ended, "token", TokenID(r.Context()))
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) enrollMember(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	body, ok := httpx.ReadPost(w, r, MaxEnrollmentBytes)
	if !ok {
		return
	}
	var req enrollRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "body: must be a JSON object {\"member_id\": \"…\"}: "+err.Error())
		return
	}
	if strings.TrimSpace(req.MemberID) == "" {
		httpx.WriteError(w, http.StatusBadRequest, "member_id: is required (the member to enrol)")
		return
	}
	out, err := c.EnrollAPI(r.Context(), name, req.MemberID)
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	status := http.StatusOK
	if out.Enrolled {
		status = http.StatusCreated
	}
	httpx.WriteJSON(w, status, out)
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	out, err := c.Remove(r.Context(), name, r.PathValue("member"))
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
