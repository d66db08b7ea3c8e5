package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/journeyfix"
)

// outboxFiles stands in for the local outbox: it counts the files it
// holds per member and removes them.
type outboxFiles map[string]int

func (o outboxFiles) EraseMember(id string) (int, error) {
	n := o[id]
	delete(o, id)
	return n, nil
}

// TestEraseMember: the erasure ends the member's enrollments through the
// journeys' exit path (the workflow told to exit with "erased", the
// calendar one ended here), leaves no personal value in the export,
// removes the outbox files, is audited with the member as target, and
// answers 200 again with nothing done when repeated.
func TestEraseMember(t *testing.T) {
	a := newJourneyAPI(t)
	files := outboxFiles{"m-1": 2, "m-2": 1}
	tokens, err := api.NewTokens("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	a.h = (&api.Handler{Store: a.st, Ledger: a.Ledger, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Journeys: a.Control, Files: files, Now: func() time.Time { return journeyStart }}).Routes()
	ctx := context.Background()
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", pacedSrc)
	a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-1"}`)
	if _, _, err := a.st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-1", Journey: "birthday", Number: 20261123, Version: 1, Status: loyalty.EnrollmentActive, StartedAt: journeyStart}); err != nil {
		t.Fatal(err)
	}
	payload := `{"id":"evt-reg-1","type":"member.registered","member_id":"m-1","data":{"email":"m-1@example.com","name":"Lin","phone":"+8613800001111"}}`
	if _, err := a.st.PutEvents(ctx, []store.RecordedEvent{{Source: "storefront", ID: "evt-reg-1", Type: "member.registered", MemberID: "m-1",
		OccurredAt: journeyStart, ReceivedAt: journeyStart, Payload: json.RawMessage(payload), Digest: "sha256:reg-1", DeliveryID: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}}); err != nil {
		t.Fatal(err)
	}

	before := decodeBody[api.MemberExport](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/members/m-1/export", ""))
	if before.Document.Email != "m-1@example.com" || len(before.Events) != 1 || len(before.Document.Enrollments) != 2 || len(before.Timeline) == 0 {
		t.Fatalf("export before erasure = %+v, want the profile, the event, two enrollments and the timeline", before)
	}
	if got := before.Events[0].DeliveryID; got != "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W" {
		t.Errorf("exported event's delivery id = %q, want the webhook-id it was delivered with", got)
	}

	got := decodeBody[api.Erasure](t, a.must(t, http.StatusOK, http.MethodDelete, "/v1/members/m-1", ""))
	if !got.Profile || got.Events != 1 || !got.Suppressed || len(got.Ended) != 2 || got.Files != 2 {
		t.Errorf("erasure = %+v, want the profile, 1 event, the address, 2 enrollments and 2 files", got)
	}
	wantSignal := journeyfix.Signalled{WorkflowID: journeys.WorkflowID("paced", "m-1", int(journeyStart.Unix())), Signal: journeys.Signal{Exit: journeys.ExitErased}}
	if sig := a.Runner.Signals(); !slices.ContainsFunc(sig, func(s journeyfix.Signalled) bool { return signalledEqual(s, wantSignal) }) {
		t.Errorf("signals = %+v, want %+v", sig, wantSignal)
	}
	cal, err := a.st.GetEnrollment(ctx, "m-1", "birthday", 20261123)
	if err != nil || cal.Status != loyalty.EnrollmentExited || cal.Reason != journeys.ExitErased {
		t.Errorf("calendar enrollment after erasure = %+v, %v; want exited: erased", cal, err)
	}
	if files["m-2"] != 1 {
		t.Errorf("another member's files were removed: %v", files)
	}

	body := string(a.must(t, http.StatusOK, http.MethodGet, "/v1/members/m-1/export", ""))
	for _, pii := range []string{"m-1@example.com", "Lin", "+8613800001111"} {
		if strings.Contains(body, pii) {
			t.Errorf("export after erasure holds %q: %s", pii, body)
		}
	}
	after := decodeBody[api.MemberExport](t, []byte(body))
	if after.Document.ID != "m-1" || len(after.Events) != 1 || after.Events[0].Digest != "sha256:reg-1" || after.Events[0].DeliveryID != before.Events[0].DeliveryID {
		t.Errorf("export after erasure = %+v, want the member id and the redacted event kept", after)
	}

	// The workflow, told to exit, ends its enrollment itself.
	if err := a.st.EndEnrollment(ctx, "m-1", "paced", int(journeyStart.Unix()), loyalty.EnrollmentExited, journeys.ExitErased, journeyStart); err != nil {
		t.Fatal(err)
	}
	again := decodeBody[api.Erasure](t, a.must(t, http.StatusOK, http.MethodDelete, "/v1/members/m-1", ""))
	if again.Profile || again.Events != 0 || again.Items != 0 || again.Suppressed || len(again.Ended) != 0 || again.Files != 0 {
		t.Errorf("repeated erasure = %+v, want nothing done", again)
	}
	wantError(t, a, http.MethodDelete, "/v1/members/m-404", "", http.StatusNotFound, "member m-404 not found")
	wantError(t, a, http.MethodGet, "/v1/members/m-404/export", "", http.StatusNotFound, "member m-404 not found")

	page := decodeBody[api.AuditPage](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/audit", ""))
	var acts []string
	for _, e := range page.Entries {
		if strings.HasPrefix(e.Action, "member.") {
			acts = append(acts, e.Action+" "+e.Target+" "+string(e.Outcome))
		}
	}
	want := []string{
		"member.export member:m-1 requested", "member.erase member:m-1 requested", "member.export member:m-1 requested",
		"member.erase member:m-1 requested",
		"member.erase member:m-404 requested", "member.erase member:m-404 failed",
		"member.export member:m-404 requested", "member.export member:m-404 failed",
	}
	// The clock is frozen, so entries of one instant come in any order.
	slices.Sort(acts)
	slices.Sort(want)
	if !slices.Equal(acts, want) {
		t.Errorf("audit = %q, want %q", acts, want)
	}
}

// TestEraseMemberWithoutJourneys: a deployment that cannot end the
// member's enrollments refuses (503) and erases nothing.
func TestEraseMemberWithoutJourneys(t *testing.T) {
	h := newAPI(t)
	rec := do(h, http.MethodDelete, "/v1/members/m-1", "", nil)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "open enrollments") {
		t.Fatalf("DELETE: %d %s, want 503 naming the open enrollments", rec.Code, rec.Body)
	}
	if rec := get(h, "/v1/members/m-1", "Bearer s3cret"); !strings.Contains(rec.Body.String(), "lin@example.com") {
		t.Errorf("member after a refused erasure = %s, want unchanged", rec.Body)
	}
}

// erasureSteps records, in order, the store calls an erasure's steps
// make: the mark, the enrollments read and ended, the data removed.
type erasureSteps struct {
	store.Store
	mu    sync.Mutex
	steps []string
}

func (e *erasureSteps) note(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.steps = append(e.steps, s)
}

func (e *erasureSteps) MarkErased(ctx context.Context, id string, at time.Time) error {
	e.note("mark")
	return e.Store.MarkErased(ctx, id, at)
}

func (e *erasureSteps) ListEnrollments(ctx context.Context, id string) ([]loyalty.Enrollment, error) {
	e.note("list enrollments")
	return e.Store.ListEnrollments(ctx, id)
}

func (e *erasureSteps) EndEnrollment(ctx context.Context, id, journey string, number int, status loyalty.EnrollmentStatus, reason string, at time.Time) error {
	e.note("end enrollment")
	return e.Store.EndEnrollment(ctx, id, journey, number, status, reason, at)
}

func (e *erasureSteps) EraseMember(ctx context.Context, id string, at time.Time) (store.Erased, error) {
	e.note("erase")
	return e.Store.EraseMember(ctx, id, at)
}

// TestEraseMemberMarksFirst: the erasure marks the profile before it
// reads and ends the member's enrollments, so a trigger dispatched in
// between finds the mark and enters no journey the erasure would miss;
// the data goes last.
func TestEraseMemberMarksFirst(t *testing.T) {
	st := memstore.New()
	ctx := context.Background()
	if err := st.SaveMember(ctx, loyalty.Member{ID: "m-1", Name: "Lin", Email: "m-1@example.com", Version: 1}, "reg-m-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-1", Journey: "birthday", Number: 20261123, Version: 1,
		Status: loyalty.EnrollmentActive, StartedAt: journeyStart}); err != nil {
		t.Fatal(err)
	}
	steps := &erasureSteps{Store: st}
	fix := journeyfix.New(t, steps, journeyStart)
	tokens, err := api.NewTokens("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	h := (&api.Handler{Store: steps, Ledger: fix.Ledger, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Journeys: fix.Control, Now: func() time.Time { return journeyStart }}).Routes()
	steps.steps = nil
	rec := do(h, http.MethodDelete, "/v1/members/m-1", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	want := []string{"mark", "list enrollments", "end enrollment", "erase"}
	if !slices.Equal(steps.steps, want) {
		t.Errorf("erasure steps = %q, want %q", steps.steps, want)
	}
}
