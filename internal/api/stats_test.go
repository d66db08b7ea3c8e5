package api_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/journeyfix"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
)

func TestJourneyStats(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	send := func(member, step string, status store.SendStatus, reason string) store.Send {
		s := store.Send{Key: member + "#activation#1#" + step, MemberID: member, Journey: "activation", Enrollment: 1, Step: step, Template: "activation_" + step, Status: store.SendPending, CreatedAt: at, UpdatedAt: at}
		if _, _, err := st.ReserveSend(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := st.CompleteSend(ctx, s.Ref(), status, "msg-"+member, reason, at); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := send("a", "welcome", store.SendSent, "")
	send("b", "welcome", store.SendSent, "")
	send("c", "welcome", store.SendSkipped, "no_consent")
	send("d", "welcome", store.SendSkipped, "suppressed")
	send("a", "nudge", store.SendSent, "")
	event := func(id string, s store.Send, typ string) store.SendEvent {
		ev := store.SendEvent{ID: id, MemberID: s.MemberID, SendKey: s.Key, Journey: s.Journey, Step: s.Step, Enrollment: 1, Type: typ, At: at.Add(time.Hour)}
		if err := st.RecordSendEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	event("e1", a, store.EventDelivered)
	event("e2", a, store.EventOpen)
	event("e3", a, store.EventOpen) // a second open of the same send
	click := event("e4", a, store.EventClick)
	if err := st.RecordConversion(ctx, "a", "o1", click, at.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}

	// The journeys' own counters: three enrolled, one of them converted.
	for _, c := range []struct {
		member, key string
		counts      map[string]int64
	}{
		{"a", "a#activation#1#entry", map[string]int64{store.CountEnrolled: 1}},
		{"b", "b#activation#1#entry", map[string]int64{store.CountEnrolled: 1}},
		{"c", "c#activation#1#entry", map[string]int64{store.CountEnrolled: 1}},
		{"a", "a#activation#1#goal", map[string]int64{store.CountGoal: 1}},
		{"a", "a#activation#1#ended", map[string]int64{store.CountEnded: 1, store.CountExited("converted"): 1}},
		{"a", "a#activation#1#welcome>wait_nudge", map[string]int64{store.CountEdge("welcome", "wait_nudge"): 1}},
		{"b", "b#activation#1#welcome>wait_nudge", map[string]int64{store.CountEdge("welcome", "wait_nudge"): 1}},
		{"a", "a#activation#1#wait_nudge>nudge", map[string]int64{store.CountEdge("wait_nudge", "nudge"): 1}},
	} {
		if err := st.CountJourney(ctx, "activation", c.member, c.key, c.counts); err != nil {
			t.Fatal(err)
		}
	}

	tokens, _ := api.NewTokens("s3cret")
	fix := journeyfix.New(t, st, at)
	fix.PublishShipped(t)
	// A send of the day before the 30 days shown, and one of the day
	// after the sends above.
	early := store.Send{Key: "f#activation#1#welcome", MemberID: "f", Journey: "activation", Enrollment: 1, Step: "welcome", Status: store.SendPending, CreatedAt: at}
	later := store.Send{Key: "g#activation#1#welcome", MemberID: "g", Journey: "activation", Enrollment: 1, Step: "welcome", Status: store.SendPending, CreatedAt: at}
	for _, c := range []struct {
		s  store.Send
		at time.Time
	}{{early, at.AddDate(0, 0, -30)}, {later, at.AddDate(0, 0, 1)}} {
		if _, _, err := st.ReserveSend(ctx, c.s); err != nil {
			t.Fatal(err)
		}
		if err := st.CompleteSend(ctx, c.s.Ref(), store.SendSent, "msg", "", c.at); err != nil {
			t.Fatal(err)
		}
	}
	today := at.AddDate(0, 0, 1).Add(3 * time.Hour)
	h := (&api.Handler{Store: st, Ledger: fix.Ledger, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Journeys: fix.Control, Now: func() time.Time { return today }}).Routes()
	rec := do(h, http.MethodGet, "/v1/journeys/activation/stats", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	got := decode[api.JourneyStats](t, rec)
	if len(got.Steps) != 2 || got.Steps[0].Step != "nudge" || got.Steps[1].Step != "welcome" {
		t.Fatalf("stats = %s", rec.Body)
	}
	// The last 30 UTC days, today last, every day present.
	if len(got.Days) != api.StatsDays || got.Days[0].Day != "2026-10-26" || got.Days[29].Day != "2026-11-24" {
		t.Fatalf("days = %+v, want 2026-10-26 … 2026-11-24", got.Days)
	}
	for _, d := range got.Days {
		want := map[string]int64{"2026-11-23": 3, "2026-11-24": 1}[d.Day]
		if d.Sent != want {
			t.Errorf("day %s sent %d, want %d", d.Day, d.Sent, want)
		}
	}
	w := got.Steps[1]
	if w.Sent != 4 || w.Skipped["no_consent"] != 1 || w.Skipped["suppressed"] != 1 || w.Delivered != 1 || w.Opened != 1 || w.Clicked != 1 || w.Conversions != 1 {
		t.Errorf("welcome = %+v", w)
	}
	wantEdges := []api.EdgeStats{{From: "wait_nudge", To: "nudge", Count: 1}, {From: "welcome", To: "wait_nudge", Count: 2}}
	if got.Enrolled != 3 || got.Active != 2 || got.GoalReached != 1 || !maps.Equal(got.Exited, map[string]int64{"converted": 1}) || !slices.Equal(got.Edges, wantEdges) {
		t.Errorf("enrollments: enrolled %d active %d goal %d exited %v edges %v; want 3, 2, 1, converted 1, %v", got.Enrolled, got.Active, got.GoalReached, got.Exited, got.Edges, wantEdges)
	}
	if rec := do(h, http.MethodGet, "/v1/journeys/Bad-Name/stats", "", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("bad name: %d", rec.Code)
	}
	// A journey memberflow runs that has sent nothing yet has no steps.
	if rec := do(h, http.MethodGet, "/v1/journeys/birthday/stats", "", nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"steps": []`) ||
		!strings.Contains(rec.Body.String(), `"exited": {}`) || !strings.Contains(rec.Body.String(), `"edges": []`) {
		t.Errorf("journey without stats: %d %s, want 200 with no steps, exits or edges", rec.Code, rec.Body)
	}
	rec = do(h, http.MethodGet, "/v1/journeys/nope/stats", "", nil)
	if got := decode[httpx.ErrorBody](t, rec); rec.Code != http.StatusNotFound || got.Error != "journey nope not found" {
		t.Errorf("unknown journey: %d %s, want 404 naming it", rec.Code, rec.Body)
	}
	// A store that knows no journeys knows none, whatever was sent.
	empty := memstore.New()
	bare := (&api.Handler{Store: empty, Ledger: ledgerfix.Service(t, empty), Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes()
	if rec := do(bare, http.MethodGet, "/v1/journeys/activation/stats", "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("store without journeys: %d %s, want 404", rec.Code, rec.Body)
	}
}
