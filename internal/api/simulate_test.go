package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/simulate"
	"github.com/memberflow/memberflow/internal/store"
)

func TestSimulateJourneyBadInput(t *testing.T) {
	a := newJourneyAPI(t)
	a.PublishShipped(t)
	const path = "/v1/journeys/activation/simulate"
	for _, tc := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"too many members", path, `{"members": 20001}`, 400, "members: must be at most 20000"},
		{"no members", path, `{"members": 0}`, 400, "members: must be at least 1"},
		{"members not a number", path, `{"members": "lots"}`, 400, "members: must be a whole number"},
		{"fractional days", path, `{"days": 1.5}`, 400, "days: must be a whole number"},
		{"too many days", path, `{"days": 731}`, 400, "days: must be from 1 to 730"},
		{"bad start", path, `{"start": "next monday"}`, 400, "start: must be a date YYYY-MM-DD"},
		{"unknown field", path, `{"member": 10}`, 400, `unknown field \"member\"`},
		{"not an object", path, `[1]`, 400, "body: must be a JSON object"},
		{"bad name", "/v1/journeys/Bad-Name/simulate", `{}`, 400, "name: must be a journey name"},
		{"no such journey", "/v1/journeys/nothing_here/simulate", `{}`, 404, "nothing_here"},
		{"draft of another journey", path, `{"definition": "name: other\ntrigger: { api: {} }\nsteps:\n  - id: hello\n    send: { email: activation_nudge }\n"}`, 400,
			`definition.name: is \"other\", must be \"activation\" like the path`},
		{"definition not a source", path, `{"definition": 12}`, 400, "definition: must be the journey's YAML or JSON"},
		{"invalid draft", path, `{"definition": ` + jsonString(strings.Replace(brokenSrc, "paced", "activation", 1)) + `}`, 422, "no_such_template"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, a, http.MethodPost, tc.path, tc.body, tc.status, tc.want)
		})
	}
	// Without the token, nothing.
	rec := do(a.h, http.MethodPost, path, `{}`, map[string]string{"Authorization": "Bearer wrong"})
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d %s", rec.Code, rec.Body)
	}
	// A refused simulation wrote nothing.
	if _, err := a.st.GetJourney(context.Background(), "other"); err == nil {
		t.Error("a draft of another journey was stored")
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestSimulateJourney simulates a draft of svip_upsell before it is
// published, with the shipped journeys live beside it, and then the
// published activation journey: the answer is the report.
func TestSimulateJourney(t *testing.T) {
	a := newJourneyAPI(t)
	a.PublishShipped(t)
	src, err := simulate.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	body := `{"members": 120, "days": 60, "seed": 3, "start": "2027-03-01", "definition": ` + jsonString(string(src["svip_upsell"])) + `}`
	r := decodeBody[simulate.Report](t, a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/svip_upsell/simulate", body))
	if want := []string{"activation", "birthday", "svip_upsell", "tier_expiry", "trial", "winback"}; strings.Join(r.Journeys, ",") != strings.Join(want, ",") {
		t.Errorf("simulated %v, want the draft and every live journey %v", r.Journeys, want)
	}
	if r.Members.Total != 120 || r.Days != 60 || r.Seed != 3 || r.Start != "2027-03-01" || r.Currency != "CNY" {
		t.Errorf("report of %+v members, %d days, seed %d from %s in %s", r.Members, r.Days, r.Seed, r.Start, r.Currency)
	}
	if r.Totals.Enrolled == 0 || r.Totals.Sent == 0 {
		t.Errorf("nothing happened: %+v", r.Totals)
	}
	// The simulation has a store of its own: the draft is not saved, the
	// deployment's journeys have no enrollments.
	if _, err := a.st.GetJourney(context.Background(), "svip_upsell"); err == nil {
		t.Error("simulating a draft stored the journey")
	}
	counters, err := a.st.JourneyCounters(context.Background(), "activation")
	if err != nil {
		t.Fatal(err)
	}
	if counters[store.CountEnrolled] != 0 {
		t.Errorf("the simulation enrolled members in the deployment's store: %v", counters)
	}
	// The published journey, same seed twice: the same answer.
	one := a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/activation/simulate", `{"members": 80, "days": 30, "start": "2027-03-01"}`)
	two := a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/activation/simulate", `{"members": 80, "days": 30, "start": "2027-03-01"}`)
	if string(one) != string(two) {
		t.Error("two simulations of one seed answered differently")
	}
}

// TestSimulateJourneyRuntimeError: a draft that validates but fails while
// it runs (a CEL condition dividing by zero for members without orders)
// is the draft's fault: 422 naming the journey, the step and the cause.
func TestSimulateJourneyRuntimeError(t *testing.T) {
	a := newJourneyAPI(t)
	a.PublishShipped(t)
	draft := "name: activation\ntrigger:\n  event: member.registered\nsteps:\n" +
		"  - id: check_orders\n    branch:\n      - { when: \"100 / member.order_count > 1\", goto: hello }\n      - { goto: end }\n" +
		"  - id: hello\n    send: { email: activation_nudge }\n"
	body := `{"members": 20, "days": 10, "seed": 1, "start": "2027-03-01", "definition": ` + jsonString(draft) + `}`
	rec := do(a.h, http.MethodPost, "/v1/journeys/activation/simulate", body, nil)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("runtime failure: %d %s, want 422", rec.Code, rec.Body)
	}
	for _, want := range []string{"activation", "check_orders", "division by zero"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("answer %s does not name %q", rec.Body, want)
		}
	}
}

// TestSimulateJourneyBudget: a deployment with a work budget refuses a
// run above it (members × days × journeys simulated) with 422 naming
// members and days, runs one below it, and runs one simulation at a time.
func TestSimulateJourneyBudget(t *testing.T) {
	a := newJourneyAPI(t)
	a.PublishShipped(t)
	tokens, err := api.NewTokens("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	// Five live journeys: 100 members × 30 days × 5 = 15,000 member-days.
	h := &api.Handler{Store: a.st, Ledger: a.Ledger, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Journeys: a.Control, SimulateBudget: 15000}
	routes := h.Routes()
	const path = "/v1/journeys/activation/simulate"
	rec := do(routes, http.MethodPost, path, `{"members": 101, "days": 30}`, nil)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("over budget: %d %s, want 422", rec.Code, rec.Body)
	}
	for _, want := range []string{"members, days:", "101 members", "at most 15000 member-days synchronously", "memberflow simulate"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("over budget: %s does not say %q", rec.Body, want)
		}
	}
	// The 20,000 limit still answers first, in its own words.
	wantError(t, &journeyAPI{Fixture: a.Fixture, st: a.st, h: routes}, http.MethodPost, path, `{"members": 20001}`, 400, "members: must be at most 20000")

	release := h.HoldSimulation()
	rec = do(routes, http.MethodPost, path, `{"members": 100, "days": 30}`, nil)
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "another simulation is running") {
		t.Errorf("busy: %d %s, want 429 naming the running simulation", rec.Code, rec.Body)
	}
	release()
	rec = do(routes, http.MethodPost, path, `{"members": 100, "days": 30}`, nil)
	if rec.Code != http.StatusOK {
		t.Errorf("within budget and free: %d %s, want 200", rec.Code, rec.Body)
	}
}
