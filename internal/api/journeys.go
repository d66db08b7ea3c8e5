package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

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
	Journeys []JourneyListItem `json:"journeys"`
}

// JourneyListItem is one journey in GET /v1/journeys: its summary, what
// enters members (of the live version, else the latest; null before the
// first publish), its sends in the last 7 UTC days (today included) and
// the share of its enrollments that reached the goal.
type JourneyListItem struct {
	journeys.Summary
	Trigger  *TriggerSummary `json:"trigger"`
	Sent7d   int64           `json:"sent_7d"`
	GoalRate float64         `json:"goal_rate"` // goal_reached / enrolled, 0..1; 0 with no enrollment
}

// TriggerSummary says what enters members: the trigger's kind, its
// settings as fields (empty ones omitted) from which the console builds
// the line in the marketer's language, and Summary, the same in one
// English line for the CLI and any client without a catalogue.
type TriggerSummary struct {
	Kind    journey.TriggerKind `json:"kind"`
	Summary string              `json:"summary"`
	// Event is the event type an event trigger enters on, or the one whose
	// absence an inactivity trigger waits for.
	Event string `json:"event,omitempty"`
	When  string `json:"when,omitempty"` // an event trigger's CEL condition
	// Attribute, Offset: a date trigger's member date and its shift
	// ("3d", "-1d").
	Attribute string `json:"attribute,omitempty"`
	Offset    string `json:"offset,omitempty"`
	// For is how long an inactivity trigger waits ("30d").
	For string `json:"for,omitempty"`
	// At is the member-local time of day ("HH:MM") of date, inactivity
	// and broadcast entries.
	At string `json:"at,omitempty"`
	// Every is a broadcast's schedule: once (on Date), day, week (on
	// Weekday) or month (on Day).
	Every    string `json:"every,omitempty"`
	Date     string `json:"date,omitempty"`
	Weekday  string `json:"weekday,omitempty"`
	Day      int    `json:"day,omitempty"`
	Audience string `json:"audience,omitempty"` // a broadcast's CEL audience
}

// sentDays is how many UTC days, today included, sent_7d counts.
const sentDays = 7

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
		"POST /v1/journeys/{name}/simulate":               h.simulateJourney,
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
	now := h.now().UTC()
	out := JourneyList{Journeys: make([]JourneyListItem, 0, len(list))}
	for _, s := range list {
		item, err := h.listItem(r.Context(), c, s, now)
		if err != nil {
			httpx.Fail(w, r, h.Log, err)
			return
		}
		out.Journeys = append(out.Journeys, item)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) listItem(ctx context.Context, c *journeys.Control, s journeys.Summary, now time.Time) (JourneyListItem, error) {
	item := JourneyListItem{Summary: s}
	if s.Enrolled > 0 {
		item.GoalRate = float64(s.GoalReached) / float64(s.Enrolled)
	}
	if v := cmp.Or(s.Live, s.Latest); v > 0 {
		ver, err := c.Version(ctx, s.Name, v)
		if err != nil {
			return item, fmt.Errorf("trigger of journey %s: %w", s.Name, err)
		}
		item.Trigger = triggerSummary(ver.Definition.Trigger)
	}
	days, err := h.Store.JourneySentDays(ctx, s.Name, now.AddDate(0, 0, 1-sentDays), now)
	if err != nil {
		return item, fmt.Errorf("sends of journey %s: %w", s.Name, err)
	}
	for _, n := range days {
		item.Sent7d += n
	}
	return item, nil
}

// triggerSummary describes t: its fields, and in one English line.
func triggerSummary(t journey.Trigger) *TriggerSummary {
	at := func(hhmm string) string {
		if hhmm == "" {
			return ""
		}
		return " at " + hhmm
	}
	ts := &TriggerSummary{Kind: t.Kind()}
	switch ts.Kind {
	case journey.TriggerEvent:
		ts.Event, ts.When = t.Event, t.When
		ts.Summary = t.Event
		if t.When != "" {
			ts.Summary += " when " + t.When
		}
	case journey.TriggerDate:
		ts.Attribute, ts.At = t.Date.Attribute, t.Date.At
		ts.Summary = t.Date.Attribute
		if d := t.Date.Offset; d != 0 {
			ts.Offset = d.String()
			if d > 0 {
				ts.Summary += " +" + ts.Offset
			} else {
				ts.Summary += " " + ts.Offset
			}
		}
		ts.Summary += at(t.Date.At)
	case journey.TriggerInactivity:
		ts.Event, ts.For, ts.At = t.Inactivity.Event, t.Inactivity.For.String(), t.Inactivity.At
		ts.Summary = "no " + t.Inactivity.Event + " for " + ts.For + at(t.Inactivity.At)
	case journey.TriggerAPI:
		ts.Summary = "POST /v1/journeys/{name}/enrollments"
	case journey.TriggerBroadcast:
		b := t.Broadcast
		ts.Every, ts.At, ts.Audience = b.Every, b.At, b.Audience
		switch b.Every {
		case "once":
			ts.Date = b.Date
			ts.Summary = "once on " + b.Date
		case "week":
			ts.Weekday = b.Weekday
			ts.Summary = "every week on " + b.Weekday
		case "month":
			ts.Day = b.Day
			ts.Summary = "every month on day " + strconv.Itoa(b.Day)
		default:
			ts.Summary = "every " + b.Every
		}
		ts.Summary += at(b.At)
		if b.Audience != "" {
			ts.Summary += " to " + b.Audience
		}
	}
	return ts
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
	h.audited(w, r, AuditJourneyDraft, auditTargetJourney(name), nil, func(w http.ResponseWriter) {
		st, err := c.SaveDraft(r.Context(), name, body)
		if err != nil {
			h.failJourney(w, r, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, st)
	})
}

func (h *Handler) publishJourney(w http.ResponseWriter, r *http.Request, c *journeys.Control, _ string) {
	body, ok := httpx.ReadPost(w, r, MaxJourneyBytes)
	if !ok {
		return
	}
	by := TokenID(r.Context())
	name, isRef := draftRef(body)
	detail := map[string]string{"from": "draft"}
	if isRef {
		if !validJourneyName.MatchString(name) {
			httpx.WriteError(w, http.StatusBadRequest, badJourneyName)
			return
		}
	} else {
		// A definition that does not validate asks for nothing: it is
		// answered 422 before the audit, which needs its name.
		def, err := c.Journeys.Validate(body)
		if err != nil {
			h.failJourney(w, r, err)
			return
		}
		name, detail = def.Name, map[string]string{"from": "definition"}
	}
	h.audited(w, r, AuditJourneyPublish, auditTargetJourney(name), detail, func(w http.ResponseWriter) {
		var (
			p   journeys.Published
			err error
		)
		if isRef {
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
	})
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
	h.changed(w, r, AuditJourneyPause, name, c.Pause)
}

func (h *Handler) resumeJourney(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	h.changed(w, r, AuditJourneyResume, name, c.Resume)
}

func (h *Handler) archiveJourney(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	h.changed(w, r, AuditJourneyArchive, name, c.Archive)
}

func (h *Handler) changed(w http.ResponseWriter, r *http.Request, action, name string, change func(ctx context.Context, name string) (journeys.Changed, error)) {
	h.audited(w, r, action, auditTargetJourney(name), nil, func(w http.ResponseWriter) {
		out, err := change(r.Context(), name)
		if err != nil {
			httpx.Fail(w, r, h.Log, err)
			return
		}
		h.Log.InfoContext(r.Context(), "journey status changed", "journey", name, "status", out.Status, "resumed", out.Resumed, "ended", out.Ended, "token", TokenID(r.Context()))
		httpx.WriteJSON(w, http.StatusOK, out)
	})
}

func (h *Handler) enrollMember(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	body, ok := httpx.ReadPost(w, r, MaxEnrollmentBytes)
	if !ok {
		return
	}
	var req enrollRequest
	if err := decodeObject(body, &req); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "body: must be a JSON object {\"member_id\": \"…\"}: "+err.Error())
		return
	}
	if strings.TrimSpace(req.MemberID) == "" {
		httpx.WriteError(w, http.StatusBadRequest, "member_id: is required (the member to enrol)")
		return
	}
	h.audited(w, r, AuditJourneyEnroll, auditTargetJourney(name)+"/"+auditTargetMember(req.MemberID), nil, func(w http.ResponseWriter) {
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
	})
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	member := r.PathValue("member")
	h.audited(w, r, AuditJourneyRemove, auditTargetJourney(name)+"/"+auditTargetMember(member), nil, func(w http.ResponseWriter) {
		out, err := c.Remove(r.Context(), name, member)
		if err != nil {
			httpx.Fail(w, r, h.Log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, out)
	})
}
