package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/journeyfix"
)

var journeyStart = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// pacedSrc is an api-triggered journey for members who accept marketing,
// at most once in 30 days.
const pacedSrc = `name: paced
priority: 40
trigger: { api: {} }
entry:
  audience: "member.consent.email_marketing"
  cooldown: 30d
steps:
  - id: first
    delay: { for: 1d }
  - id: hello
    send: { email: activation_nudge }
`

// pacedJSON is pacedSrc written in JSON.
const pacedJSON = `{"name": "paced", "priority": 40, "trigger": {"api": {}},
 "entry": {"audience": "member.consent.email_marketing", "cooldown": "30d"},
 "steps": [{"id": "first", "delay": {"for": "1d"}}, {"id": "hello", "send": {"email": "activation_nudge"}}]}`

// brokenSrc names an email template that does not exist, on line 5.
const brokenSrc = `name: paced
priority: 40
trigger: { api: {} }
steps:
  - id: hello
    send: { email: no_such_template }
`

// orderedSrc is entered by an event, not by the API.
const orderedSrc = `name: ordered
priority: 10
trigger: { event: order.paid }
steps:
  - id: hello
    send: { email: activation_nudge }
`

type journeyAPI struct {
	*journeyfix.Fixture
	st *memstore.Store
	h  http.Handler
}

// newJourneyAPI serves the API over a store holding members m-1 … m-4
// (who accept marketing email) and m-none (who does not).
func newJourneyAPI(t *testing.T) *journeyAPI {
	t.Helper()
	st := memstore.New()
	ctx := context.Background()
	for _, id := range []string{"m-1", "m-2", "m-3", "m-4", "m-none"} {
		m := loyalty.Member{ID: id, Name: "Lin", Email: id + "@example.com", Consent: loyalty.Consent{EmailMarketing: id != "m-none"}, Version: 1, RegisteredAt: journeyStart.Add(-time.Hour)}
		if err := st.SaveMember(ctx, m, "reg-"+id); err != nil {
			t.Fatal(err)
		}
	}
	fix := journeyfix.New(t, st, journeyStart)
	tokens, err := api.NewTokens("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	h := (&api.Handler{Store: st, Ledger: fix.Ledger, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Journeys: fix.Control}).Routes()
	return &journeyAPI{Fixture: fix, st: st, h: h}
}

// must does the request and fails the test unless the answer has status.
func (a *journeyAPI) must(t *testing.T, status int, method, path, body string) []byte {
	t.Helper()
	rec := do(a.h, method, path, body, nil)
	if rec.Code != status {
		t.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, status)
	}
	return rec.Body.Bytes()
}

func decodeBody[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// wantError checks a 4xx answer: its status and that the message names
// the field or thing it is about.
func wantError(t *testing.T, a *journeyAPI, method, path, body string, status int, want string) {
	t.Helper()
	rec := do(a.h, method, path, body, nil)
	if rec.Code != status || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("%s %s: %d %s, want %d naming %q", method, path, rec.Code, rec.Body, status, want)
	}
}

func TestValidateJourney(t *testing.T) {
	a := newJourneyAPI(t)
	for _, tc := range []struct{ name, body, contentType string }{
		{"yaml", pacedSrc, "application/yaml"},
		{"json", pacedJSON, "application/json"},
		// The body decides, not the header.
		{"json sent as text", pacedJSON, "text/plain"},
		{"yaml sent as json", pacedSrc, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(a.h, http.MethodPost, "/v1/journeys/validate", tc.body, map[string]string{"Content-Type": tc.contentType})
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"problems": []`) {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if v := decode[api.Validation](t, rec); !v.Valid {
				t.Errorf("valid definition: %+v", v)
			}
		})
	}
	v := decodeBody[api.Validation](t, a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/validate", brokenSrc))
	if v.Valid || len(v.Problems) != 1 {
		t.Fatalf("broken definition: %+v", v)
	}
	if p := v.Problems[0]; p.Path != "steps[0].send.email" || !strings.Contains(p.Rule, "no_such_template") || p.Line != 6 || p.Column == 0 {
		t.Errorf("problem = %+v, want steps[0].send.email on line 6 with its column", p)
	}
	// Validating writes nothing.
	if list, _ := a.st.ListJourneys(context.Background()); len(list) != 0 {
		t.Errorf("journeys after validate: %v", list)
	}
	over := do(a.h, http.MethodPost, "/v1/journeys/validate", pacedSrc+"#"+strings.Repeat("x", api.MaxJourneyBytes), nil)
	if over.Code != http.StatusRequestEntityTooLarge || !strings.Contains(over.Body.String(), "body: must be at most") {
		t.Errorf("over the limit: %d %s", over.Code, over.Body)
	}
}

func TestPublishAndReadJourneys(t *testing.T) {
	a := newJourneyAPI(t)
	ctx := context.Background()

	// Invalid: 422 with the problems, nothing written.
	rec := do(a.h, http.MethodPost, "/v1/journeys", brokenSrc, nil)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid publish: %d %s", rec.Code, rec.Body)
	}
	body := decode[struct {
		Error    string        `json:"error"`
		Problems []api.Problem `json:"problems"`
	}](t, rec)
	if len(body.Problems) != 1 || body.Problems[0].Path != "steps[0].send.email" || body.Problems[0].Line != 6 {
		t.Errorf("invalid publish answer = %s", rec.Body)
	}
	if list, _ := a.st.ListJourneys(ctx); len(list) != 0 {
		t.Errorf("journeys after a refused publish: %v", list)
	}

	p := decodeBody[journeys.Published](t, a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", pacedSrc))
	if p.Name != "paced" || p.Version != 1 || p.OnOlderVersions != 0 {
		t.Errorf("published = %+v", p)
	}
	// JSON publishes the same way; it is version 2.
	if p := decodeBody[journeys.Published](t, a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", pacedJSON)); p.Version != 2 {
		t.Errorf("second publish = %+v", p)
	}

	list := decodeBody[api.JourneyList](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/journeys", ""))
	if len(list.Journeys) != 1 || list.Journeys[0].Name != "paced" || list.Journeys[0].Status != "live" || list.Journeys[0].Live != 2 {
		t.Errorf("list = %+v", list)
	}
	d := decodeBody[journeys.Detail](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/journeys/paced", ""))
	if d.Live != 2 || len(d.Versions) != 2 || d.Versions[0].Version != 2 || !strings.HasPrefix(d.Versions[1].PublishedBy, "sha256:") || d.Definition == nil || d.Definition.Version != 2 || d.Source != pacedJSON {
		t.Errorf("detail = %+v", d)
	}
	v1 := decodeBody[store.JourneyVersion](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/journeys/paced/versions/1", ""))
	if v1.Version != 1 || v1.Source != pacedSrc || v1.Definition.Name != "paced" || !strings.HasPrefix(v1.PublishedBy, "sha256:") {
		t.Errorf("version 1 = %+v, want its source and the publishing token's fingerprint", v1)
	}

	for _, tc := range []struct {
		name, method, path string
		status             int
		want               string
	}{
		{"unknown journey", http.MethodGet, "/v1/journeys/nope", 404, "journey nope not found"},
		{"bad name", http.MethodGet, "/v1/journeys/Bad-Name", 400, "name: must be a journey name"},
		{"unknown version", http.MethodGet, "/v1/journeys/paced/versions/3", 404, "journey paced has no version 3"},
		{"version of unknown journey", http.MethodGet, "/v1/journeys/nope/versions/1", 404, "journey nope not found"},
		{"version not a number", http.MethodGet, "/v1/journeys/paced/versions/x", 400, "version: must be a whole number"},
		{"version zero", http.MethodGet, "/v1/journeys/paced/versions/0", 400, "version: must be a whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantError(t, a, tc.method, tc.path, "", tc.status, tc.want) })
	}
	over := do(a.h, http.MethodPost, "/v1/journeys", pacedSrc+"#"+strings.Repeat("x", api.MaxJourneyBytes), nil)
	if over.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("over the limit: %d %s", over.Code, over.Body)
	}
}

// A version published while members are enrolled says how many stay on
// the older ones.
func TestPublishWhileEnrollmentsExist(t *testing.T) {
	a := newJourneyAPI(t)
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", pacedSrc)
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-1"}`)
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-2"}`)
	p := decodeBody[journeys.Published](t, a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", strings.Replace(pacedSrc, "1d", "2d", 1)))
	if p.Version != 2 || p.OnOlderVersions != 2 {
		t.Errorf("publish = %+v, want version 2 with 2 enrollments on older versions", p)
	}
	enr, err := a.st.GetEnrollment(context.Background(), "m-1", "paced", int(journeyStart.Unix()))
	if err != nil || enr.Version != 1 {
		t.Errorf("m-1's enrollment = %+v, %v; want it pinned to version 1", enr, err)
	}
}

func TestJourneyDraft(t *testing.T) {
	a := newJourneyAPI(t)
	ctx := context.Background()
	wantError(t, a, http.MethodPut, "/v1/journeys/other/draft", pacedSrc, 400, `name: is \"paced\" in the definition, must be \"other\" like the path`)
	rec := do(a.h, http.MethodPut, "/v1/journeys/paced/draft", brokenSrc, nil)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"path": "steps[0].send.email"`) {
		t.Errorf("invalid draft: %d %s", rec.Code, rec.Body)
	}
	if list, _ := a.st.ListJourneys(ctx); len(list) != 0 {
		t.Errorf("journeys after refused drafts: %v", list)
	}

	st := decodeBody[store.JourneyState](t, a.must(t, http.StatusOK, http.MethodPut, "/v1/journeys/paced/draft", pacedSrc))
	if st.Status != "draft" || st.Draft != pacedSrc || st.Live != 0 {
		t.Errorf("draft state = %+v", st)
	}
	// A draft takes nobody.
	wantError(t, a, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-1"}`, 409, "journey paced is draft")
	wantError(t, a, http.MethodPost, "/v1/journeys", `{"name": "nope"}`, 404, "journey nope not found")
	wantError(t, a, http.MethodPost, "/v1/journeys", `{"name": "Bad-Name"}`, 400, "name: must be a journey name")

	p := decodeBody[journeys.Published](t, a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", `{"name": "paced"}`))
	if p.Name != "paced" || p.Version != 1 {
		t.Errorf("published draft = %+v", p)
	}
	d := decodeBody[journeys.Detail](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/journeys/paced", ""))
	if d.Status != "live" || d.Source != pacedSrc || d.HasDraft {
		t.Errorf("after publishing the draft: %+v", d)
	}
	// The draft went with the publish: there is none to publish again.
	wantError(t, a, http.MethodPost, "/v1/journeys", "name: paced\n", 404, "journey paced has no saved draft")
}

func TestEnrollByAPI(t *testing.T) {
	a := newJourneyAPI(t)
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", pacedSrc)
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", orderedSrc)

	got := decodeBody[journeys.Enrolled](t, a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-1"}`))
	number := int(journeyStart.Unix())
	if !got.Enrolled || got.Enrollment == nil || got.Enrollment.Number != number || got.Enrollment.Version != 1 || got.Refused != "" {
		t.Fatalf("enrolled = %+v", got)
	}
	starts := a.Runner.Starts()
	if len(starts) != 1 || starts[0].WorkflowID != journeys.WorkflowID("paced", "m-1", number) || starts[0].Definition.Version != 1 ||
		!starts[0].Anchor.Equal(journeyStart) || starts[0].Event != nil {
		t.Errorf("starts = %+v", starts)
	}

	// The same second names the same enrollment.
	again := decodeBody[journeys.Enrolled](t, a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-1"}`))
	if again.Enrolled || again.Refused != journeys.RefusedAlreadyEnrolled || again.Enrollment == nil || again.Enrollment.Number != number {
		t.Errorf("repeat = %+v", again)
	}
	// Later, the cooldown refuses, with what decided.
	a.Clock.Advance(time.Hour)
	cool := decodeBody[journeys.Enrolled](t, a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-1"}`))
	if cool.Enrolled || cool.Refused != "cooldown" || cool.Values["cooldown"] == nil {
		t.Errorf("within the cooldown = %+v", cool)
	}
	// The audience refuses a member without consent, with the CEL values.
	aud := decodeBody[journeys.Enrolled](t, a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-none"}`))
	if aud.Enrolled || aud.Refused != "audience" || aud.Values["member.consent.email_marketing"] != false {
		t.Errorf("outside the audience = %+v", aud)
	}
	// An erased member is entered by no journey again.
	if _, err := a.st.EraseMember(context.Background(), "m-3", journeyStart); err != nil {
		t.Fatal(err)
	}
	if e := decodeBody[journeys.Enrolled](t, a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-3"}`)); e.Enrolled || e.Refused != journeys.ExitErased {
		t.Errorf("erased member = %+v, want refused: erased", e)
	}
	// Paused: refused as such.
	a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/pause", "")
	if p := decodeBody[journeys.Enrolled](t, a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-2"}`)); p.Refused != "paused" {
		t.Errorf("paused = %+v", p)
	}
	// Only m-1's workflow was started (twice: the repeat makes sure it
	// runs, which starting again does idempotently).
	for _, s := range a.Runner.Starts() {
		if s.WorkflowID != journeys.WorkflowID("paced", "m-1", number) {
			t.Errorf("started %s, want only m-1's workflow", s.WorkflowID)
		}
	}

	// The refusals are on the members' timelines.
	page := decodeBody[api.TimelinePage](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/members/m-1/timeline", ""))
	var kinds []string
	for _, e := range page.Entries {
		kinds = append(kinds, e.Kind+" "+e.Reason)
	}
	if !slices.Equal(kinds, []string{"not_enrolled cooldown", "enrolled "}) {
		t.Errorf("m-1's timeline = %v", kinds)
	}

	for _, tc := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"unknown journey", "/v1/journeys/nope/enrollments", `{"member_id": "m-1"}`, 404, "journey nope not found"},
		{"not an api trigger", "/v1/journeys/ordered/enrollments", `{"member_id": "m-1"}`, 409, "journey ordered is triggered by event, not api"},
		{"no member", "/v1/journeys/paced/enrollments", `{}`, 400, "member_id: is required"},
		{"unknown field", "/v1/journeys/paced/enrollments", `{"member": "m-1"}`, 400, "body: must be a JSON object"},
		{"not JSON", "/v1/journeys/paced/enrollments", `member_id: m-1`, 400, "body: must be a JSON object"},
		{"too big", "/v1/journeys/paced/enrollments", `{"member_id": "` + strings.Repeat("m", api.MaxEnrollmentBytes) + `"}`, 413, "body: must be at most"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantError(t, a, http.MethodPost, tc.path, tc.body, tc.status, tc.want) })
	}
	a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/resume", "")
	wantError(t, a, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-404"}`, 404, "member m-404 not found")
	if _, err := a.st.GetMember(context.Background(), "m-404"); err == nil {
		t.Error("enrolling an unknown member created it")
	}
	// Archived: takes nobody.
	a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/archive", "")
	wantError(t, a, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-3"}`, 409, "journey paced is archived")
}

func TestRemoveMember(t *testing.T) {
	a := newJourneyAPI(t)
	ctx := context.Background()
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", pacedSrc)
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-1"}`)
	// A calendar-run enrollment (no workflow) is ended here and now.
	if _, _, err := a.st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-2", Journey: "paced", Number: 20261123, Version: 1, Status: loyalty.EnrollmentActive, StartedAt: journeyStart}); err != nil {
		t.Fatal(err)
	}

	r := decodeBody[journeys.Removed](t, a.must(t, http.StatusOK, http.MethodDelete, "/v1/journeys/paced/enrollments/m-1", ""))
	if len(r.Ended) != 1 || r.Ended[0].MemberID != "m-1" {
		t.Errorf("removed = %+v", r)
	}
	want := []journeyfix.Signalled{{WorkflowID: journeys.WorkflowID("paced", "m-1", int(journeyStart.Unix())), Signal: journeys.Signal{Exit: journeys.ExitRemoved}}}
	if got := a.Runner.Signals(); !slices.EqualFunc(got, want, signalledEqual) {
		t.Errorf("signals = %+v, want %+v", got, want)
	}

	a.must(t, http.StatusOK, http.MethodDelete, "/v1/journeys/paced/enrollments/m-2", "")
	enr, err := a.st.GetEnrollment(ctx, "m-2", "paced", 20261123)
	if err != nil || enr.Status != loyalty.EnrollmentExited || enr.Reason != journeys.ExitRemoved {
		t.Errorf("m-2's enrollment = %+v, %v; want exited: removed", enr, err)
	}
	stats := decodeBody[api.JourneyStats](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/journeys/paced/stats", ""))
	if stats.Exited["removed"] != 1 {
		t.Errorf("stats exited = %v, want removed 1", stats.Exited)
	}
	// Nothing open any more for m-2; m-3 was never in.
	wantError(t, a, http.MethodDelete, "/v1/journeys/paced/enrollments/m-2", "", 404, "member m-2 has no open enrollment in journey paced")
	wantError(t, a, http.MethodDelete, "/v1/journeys/paced/enrollments/m-3", "", 404, "member m-3 has no open enrollment")
	wantError(t, a, http.MethodDelete, "/v1/journeys/nope/enrollments/m-1", "", 404, "journey nope not found")
}

func signalledEqual(a, b journeyfix.Signalled) bool {
	return a.WorkflowID == b.WorkflowID && a.Signal.Resume == b.Signal.Resume && a.Signal.Exit == b.Signal.Exit && a.Signal.Type == b.Signal.Type
}

// Pause holds, resume signals every held enrollment (page by page, past
// one whose workflow is gone), archive ends every active one.
func TestPauseResumeArchive(t *testing.T) {
	a := newJourneyAPI(t)
	ctx := context.Background()
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", pacedSrc)
	number := int(journeyStart.Unix())
	wf := func(m string) string { return journeys.WorkflowID("paced", m, number) }
	for _, m := range []string{"m-1", "m-2", "m-3", "m-4"} {
		a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "`+m+`"}`)
	}
	// A calendar-run enrollment: no workflow to tell.
	if _, _, err := a.st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-none", Journey: "paced", Number: 20261123, Version: 1, Status: loyalty.EnrollmentActive, StartedAt: journeyStart}); err != nil {
		t.Fatal(err)
	}

	ch := decodeBody[journeys.Changed](t, a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/pause", ""))
	if ch.Status != "paused" || ch.InFlight != 4 {
		t.Errorf("pause = %+v, want paused with 4 in flight", ch)
	}
	wantError(t, a, http.MethodPost, "/v1/journeys/paced/pause", "", 409, "journey paced is paused: it can only be paused from live")
	// The step executor holds members at their next send: m-1, m-3, m-4
	// and the calendar one. m-3's workflow has gone meanwhile.
	for _, m := range []string{"m-1", "m-3", "m-4"} {
		if err := a.st.SetEnrollmentHeld(ctx, m, "paced", number, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.st.SetEnrollmentHeld(ctx, "m-none", "paced", 20261123, true); err != nil {
		t.Fatal(err)
	}
	a.Runner.Fail = map[string]error{wf("m-3"): store.ErrNotFound}

	ch = decodeBody[journeys.Changed](t, a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/resume", ""))
	if ch.Status != "live" || ch.Resumed != 2 {
		t.Errorf("resume = %+v, want live with 2 resumed", ch)
	}
	want := []journeyfix.Signalled{{WorkflowID: wf("m-1"), Signal: journeys.Signal{Resume: true}}, {WorkflowID: wf("m-4"), Signal: journeys.Signal{Resume: true}}}
	if got := a.Runner.Signals(); !slices.EqualFunc(got, want, signalledEqual) {
		t.Errorf("resume signals = %+v, want %+v", got, want)
	}
	wantError(t, a, http.MethodPost, "/v1/journeys/paced/resume", "", 409, "journey paced is live: it can only be live from paused")

	a.Runner.Fail = nil
	ch = decodeBody[journeys.Changed](t, a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/archive", ""))
	if ch.Status != "archived" || ch.Ended != 5 {
		t.Errorf("archive = %+v, want archived with 5 ended", ch)
	}
	var exits []string
	for _, s := range a.Runner.Signals()[len(want):] {
		if s.Signal.Exit != journeys.ExitArchived {
			t.Errorf("archive signal %+v, want exit archived", s)
		}
		exits = append(exits, s.WorkflowID)
	}
	if !slices.Equal(exits, []string{wf("m-1"), wf("m-2"), wf("m-3"), wf("m-4")}) {
		t.Errorf("archive told %v, want every workflow", exits)
	}
	enr, err := a.st.GetEnrollment(ctx, "m-none", "paced", 20261123)
	if err != nil || enr.Status != loyalty.EnrollmentExited || enr.Reason != journeys.ExitArchived {
		t.Errorf("calendar enrollment = %+v, %v; want exited: archived", enr, err)
	}
	wantError(t, a, http.MethodPost, "/v1/journeys/paced/archive", "", 409, "journey paced is archived")
	wantError(t, a, http.MethodPost, "/v1/journeys/paced/resume", "", 409, "journey paced is archived")
	for _, op := range []string{"pause", "resume", "archive"} {
		wantError(t, a, http.MethodPost, "/v1/journeys/nope/"+op, "", 404, "journey nope not found")
	}
}

func TestJourneyRoutesWithoutControl(t *testing.T) {
	st := memstore.New()
	fix := journeyfix.New(t, st, journeyStart)
	tokens, _ := api.NewTokens("s3cret")
	h := (&api.Handler{Store: st, Ledger: fix.Ledger, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes()
	rec := do(h, http.MethodGet, "/v1/journeys", "", nil)
	if got := decode[httpx.ErrorBody](t, rec); rec.Code != http.StatusServiceUnavailable || !strings.Contains(got.Error, "journeys") {
		t.Errorf("without a Control: %d %s, want 503", rec.Code, rec.Body)
	}
}

// A Control built without a Runner refuses what needs one before it
// changes anything, rather than panicking half-way.
func TestJourneyControlWithoutRunner(t *testing.T) {
	a := newJourneyAPI(t)
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", pacedSrc)
	a.Control.Enroller.Runner = nil
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodPost, "/v1/journeys/paced/archive", ""},
		{http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-1"}`},
		{http.MethodDelete, "/v1/journeys/paced/enrollments/m-1", ""},
	} {
		if rec := do(a.h, tc.method, tc.path, tc.body, nil); rec.Code != http.StatusInternalServerError {
			t.Errorf("%s %s: %d %s, want 500", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
	a.must(t, http.StatusOK, http.MethodPost, "/v1/journeys/paced/pause", "")
	if rec := do(a.h, http.MethodPost, "/v1/journeys/paced/resume", "", nil); rec.Code != http.StatusInternalServerError {
		t.Errorf("resume: %d %s, want 500", rec.Code, rec.Body)
	}
	if st, err := a.st.GetJourney(context.Background(), "paced"); err != nil || st.Status != "paused" {
		t.Errorf("journey = %+v, %v; want it left paused", st, err)
	}
	if enrs, _ := a.st.ListEnrollments(context.Background(), "m-1"); len(enrs) != 0 {
		t.Errorf("enrollments written: %v", enrs)
	}
}
