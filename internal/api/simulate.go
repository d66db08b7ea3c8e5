package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/simulate"
)

// Limits of POST /v1/journeys/{name}/simulate: a simulation runs inside
// the request, so it is kept to what answers in seconds.
const (
	MaxSimulateMembers = 20000
	MaxSimulateDays    = 730
	// MaxSimulateBytes bounds the request body (a draft definition and
	// four numbers).
	MaxSimulateBytes = MaxJourneyBytes + 4<<10
)

// SimulateRequest is the body of POST /v1/journeys/{name}/simulate. Every
// field may be left out: 1000 members, 365 days, seed 1, from today (in
// the programme's zone), the journey as published (its live version, else
// its latest) or, before its first publish, its saved draft. Definition is
// a draft to simulate instead, YAML or JSON as a string, or a JSON object.
type SimulateRequest struct {
	Members    *int            `json:"members,omitempty"`
	Days       *int            `json:"days,omitempty"`
	Seed       *int64          `json:"seed,omitempty"`
	Start      string          `json:"start,omitempty"`
	Definition json.RawMessage `json:"definition,omitempty"`
}

// simulateJourney runs the journey over a generated cohort with every
// other live journey, and answers the simulation's report (simulate.Report).
// Nothing is written: the simulation has a store of its own.
func (h *Handler) simulateJourney(w http.ResponseWriter, r *http.Request, c *journeys.Control, name string) {
	body, ok := httpx.ReadPost(w, r, MaxSimulateBytes)
	if !ok {
		return
	}
	var req SimulateRequest
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			httpx.WriteError(w, http.StatusBadRequest, simulateBodyError(err))
			return
		}
	}
	p := h.program(c)
	if p == nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "simulations are not served by this deployment (no programme)")
		return
	}
	members, days, seed := 1000, 365, int64(1)
	if req.Members != nil {
		members = *req.Members
	}
	if req.Days != nil {
		days = *req.Days
	}
	if req.Seed != nil {
		seed = *req.Seed
	}
	switch {
	case members < 1:
		httpx.WriteError(w, http.StatusBadRequest, "members: must be at least 1")
		return
	case members > MaxSimulateMembers:
		httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("members: must be at most %d", MaxSimulateMembers))
		return
	case days < 1 || days > MaxSimulateDays:
		httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("days: must be from 1 to %d", MaxSimulateDays))
		return
	}
	now := h.now().In(p.Location)
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, p.Location)
	if req.Start != "" {
		t, err := time.ParseInLocation(time.DateOnly, req.Start, p.Location)
		if err != nil {
			httpx.WriteError(w, http.StatusBadRequest, "start: must be a date YYYY-MM-DD")
			return
		}
		start = t
	}

	def, err := h.simulatedDefinition(r, c, name, req.Definition)
	if err != nil {
		h.failJourney(w, r, err)
		return
	}
	defs := []journey.Definition{def}
	live, err := c.Journeys.LiveSet(r.Context())
	if err != nil {
		httpx.Fail(w, r, h.Log, err)
		return
	}
	for _, l := range live {
		if l.State.Status == journey.StatusLive && l.Definition.Name != name {
			defs = append(defs, l.Definition)
		}
	}
	if work := int64(members) * int64(days) * int64(len(defs)); h.SimulateBudget > 0 && work > h.SimulateBudget {
		httpx.WriteError(w, http.StatusUnprocessableEntity, fmt.Sprintf(
			"members, days: %d members × %d days × %d journeys (the draft and every live journey) is %d member-days; "+
				"this deployment runs at most %d member-days synchronously; run `memberflow simulate` for larger runs",
			members, days, len(defs), work, h.SimulateBudget))
		return
	}
	// A simulation takes a core for seconds: one at a time per process,
	// so a second one cannot push both past the gateway's timeout.
	if !h.simulating.TryLock() {
		httpx.WriteError(w, http.StatusTooManyRequests, "simulate: another simulation is running on this instance; try again when it has finished")
		return
	}
	report, _, err := simulate.Simulate(r.Context(), simulate.Request{
		Program: p, Journeys: defs, Members: members, Start: start, Days: days, Seed: seed,
		Behaviour: simulate.DefaultBehaviour(),
	})
	h.simulating.Unlock()
	if msg, ok := runtimeFailure(err); ok {
		// The definition validated but fails while it runs (a CEL
		// condition's runtime error, an email that does not render): the
		// draft's fault, not the server's.
		httpx.WriteError(w, http.StatusUnprocessableEntity, fmt.Sprintf("definition: journey %s fails while simulated: %s", name, msg))
		return
	}
	if err != nil {
		httpx.Fail(w, r, h.Log, fmt.Errorf("simulate journey %s: %w", name, err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, report)
}

// runtimeFailure is the message of a step's failure that a definition
// causes at run time: a condition or value that CEL cannot evaluate for
// some member, an email that does not render. The step executor names the
// journey and the step in it.
func runtimeFailure(err error) (string, bool) {
	var ae *temporal.ApplicationError
	if err == nil || !errors.As(err, &ae) || !ae.NonRetryable() {
		return "", false
	}
	switch ae.Type() {
	case "Condition", "Vars", activities.ErrTypeBadTemplate:
		return ae.Message(), true
	}
	return "", false
}

// simulatedDefinition is the draft in the request, or the journey as
// stored: its live version, else its latest, else its saved draft.
func (h *Handler) simulatedDefinition(r *http.Request, c *journeys.Control, name string, draft json.RawMessage) (journey.Definition, error) {
	invalid := func(msg string) error { return loyalty.Errorf(loyalty.EInvalid, "%s", msg) }
	if len(draft) > 0 && string(draft) != "null" {
		src := []byte(draft)
		var s string
		if json.Unmarshal(draft, &s) == nil {
			src = []byte(s)
		} else if draft[0] != '{' {
			return journey.Definition{}, invalid("definition: must be the journey's YAML or JSON as a string, or a JSON object")
		}
		def, err := c.Journeys.Validate(src)
		if err != nil {
			return journey.Definition{}, err
		}
		if def.Name != name {
			return journey.Definition{}, invalid(fmt.Sprintf("definition.name: is %q, must be %q like the path", def.Name, name))
		}
		return def, nil
	}
	d, err := c.Get(r.Context(), name)
	if err != nil {
		return journey.Definition{}, err
	}
	if d.Definition != nil {
		return *d.Definition, nil
	}
	if d.Latest > 0 {
		v, err := c.Version(r.Context(), name, d.Latest)
		if err != nil {
			return journey.Definition{}, err
		}
		return v.Definition, nil
	}
	if d.Draft != "" {
		return c.Journeys.Validate([]byte(d.Draft))
	}
	return journey.Definition{}, loyalty.Errorf(loyalty.ENotFound, "journey %s has no version and no draft to simulate", name)
}

// program is the programme the deployment runs.
func (h *Handler) program(c *journeys.Control) *loyalty.Program {
	switch {
	case c.Ledger != nil && c.Ledger.Rules != nil:
		return c.Ledger.Rules.Program
	case h.Ledger != nil && h.Ledger.Rules != nil:
		return h.Ledger.Rules.Program
	}
	return nil
}

// simulateBodyError names the field a body could not be decoded at.
func simulateBodyError(err error) string {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		rule := "must be a whole number"
		if te.Field == "start" {
			rule = "must be a date YYYY-MM-DD"
		}
		return te.Field + ": " + rule
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "body: " + strings.TrimPrefix(err.Error(), "json: ") + " (members, days, seed, start and definition are)"
	}
	return "body: must be a JSON object {\"members\", \"days\", \"seed\", \"start\", \"definition\"}: " + err.Error()
}
