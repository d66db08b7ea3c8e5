package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/journeyfix"
)

// TestJourneyListForTheConsole: each journey in the list says what enters
// it, how many it sent in the last 7 UTC days and how many of its
// enrollments reached the goal.
func TestJourneyListForTheConsole(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	fix := journeyfix.New(t, st, now)
	fix.PublishShipped(t)
	sent := func(member string, at time.Time) {
		s := store.Send{Key: member + "#activation#1#welcome", MemberID: member, Journey: "activation", Enrollment: 1, Step: "welcome", Status: store.SendPending, CreatedAt: at}
		if _, _, err := st.ReserveSend(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := st.CompleteSend(ctx, s.Ref(), store.SendSent, "msg-"+member, "", at); err != nil {
			t.Fatal(err)
		}
	}
	sent("today", now)
	sent("six-days-ago", now.AddDate(0, 0, -6).Truncate(24*time.Hour)) // the window's first moment
	sent("seven-days-ago", now.AddDate(0, 0, -7))                      // out of it
	for _, m := range []string{"a", "b", "c", "d"} {
		if err := st.CountJourney(ctx, "activation", m, m+"#activation#1#entry", map[string]int64{store.CountEnrolled: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CountJourney(ctx, "activation", "a", "a#activation#1#goal", map[string]int64{store.CountGoal: 1}); err != nil {
		t.Fatal(err)
	}

	tokens, _ := api.NewTokens("s3cret")
	h := (&api.Handler{Store: st, Ledger: fix.Ledger, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Journeys: fix.Control, Now: func() time.Time { return now }}).Routes()
	rec := do(h, http.MethodGet, "/v1/journeys", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	list := decode[api.JourneyList](t, rec)
	byName := map[string]api.JourneyListItem{}
	for _, j := range list.Journeys {
		byName[j.Name] = j
	}
	for _, tc := range []struct {
		name    string
		kind    journey.TriggerKind
		summary string
	}{
		{"activation", journey.TriggerEvent, "member.registered"},
		{"birthday", journey.TriggerDate, "birthday at 10:00"},
		{"tier_expiry", journey.TriggerDate, "tier_review_on -30d at 10:00"},
		{"trial", journey.TriggerEvent, "subscription.trial_started when member.paid.status == 'trial' && member.paid.subscription_id == event.data.subscription_id"},
		{"winback", journey.TriggerInactivity, "no order.paid for 60d at 10:00"},
	} {
		j, ok := byName[tc.name]
		if !ok {
			t.Errorf("%s is not listed: %s", tc.name, rec.Body)
			continue
		}
		if j.Trigger == nil || j.Trigger.Kind != tc.kind || j.Trigger.Summary != tc.summary {
			t.Errorf("%s trigger = %+v, want %s %q", tc.name, j.Trigger, tc.kind, tc.summary)
		}
	}
	a := byName["activation"]
	if a.Sent7d != 2 || a.Enrolled != 4 || a.GoalReached != 1 || a.GoalRate != 0.25 {
		t.Errorf("activation: sent_7d %d, enrolled %d, goal_reached %d, goal_rate %v; want 2, 4, 1, 0.25", a.Sent7d, a.Enrolled, a.GoalReached, a.GoalRate)
	}
	if b := byName["birthday"]; b.Sent7d != 0 || b.GoalRate != 0 {
		t.Errorf("birthday: sent_7d %d, goal_rate %v; want 0, 0 (nothing enrolled)", b.Sent7d, b.GoalRate)
	}
}

// TestTriggerSummaries: every trigger kind gives its settings as fields
// (the console builds its line from them in the marketer's language; empty
// ones are left out of the JSON) and the same as one English summary.
func TestTriggerSummaries(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want api.TriggerSummary
		json string // the trigger as the list's JSON carries it
	}{
		{"trigger: { api: {} }",
			api.TriggerSummary{Kind: "api", Summary: "POST /v1/journeys/{name}/enrollments"},
			`{"kind":"api","summary":"POST /v1/journeys/{name}/enrollments"}`},
		{"trigger: { event: order.paid, when: \"event.data.amount >= 500\" }",
			api.TriggerSummary{Kind: "event", Summary: "order.paid when event.data.amount >= 500", Event: "order.paid", When: "event.data.amount >= 500"},
			`{"kind":"event","summary":"order.paid when event.data.amount \u003e= 500","event":"order.paid","when":"event.data.amount \u003e= 500"}`},
		{"trigger: { date: { attribute: registered_at, offset: 7d } }",
			api.TriggerSummary{Kind: "date", Summary: "registered_at +7d", Attribute: "registered_at", Offset: "7d"},
			`{"kind":"date","summary":"registered_at +7d","attribute":"registered_at","offset":"7d"}`},
		{"trigger: { date: { attribute: tier_review_on, offset: -30d, at: \"10:00\" } }",
			api.TriggerSummary{Kind: "date", Summary: "tier_review_on -30d at 10:00", Attribute: "tier_review_on", Offset: "-30d", At: "10:00"}, ""},
		{"trigger: { inactivity: { event: order.paid, for: 60d, at: \"10:00\" } }",
			api.TriggerSummary{Kind: "inactivity", Summary: "no order.paid for 60d at 10:00", Event: "order.paid", For: "60d", At: "10:00"}, ""},
		{"trigger: { broadcast: { every: once, date: \"2026-12-01\", at: \"09:00\" } }",
			api.TriggerSummary{Kind: "broadcast", Summary: "once on 2026-12-01 at 09:00", Every: "once", Date: "2026-12-01", At: "09:00"}, ""},
		{"trigger: { broadcast: { every: week, weekday: monday, at: \"09:00\", audience: \"member.tier == 'gold'\" } }",
			api.TriggerSummary{Kind: "broadcast", Summary: "every week on monday at 09:00 to member.tier == 'gold'", Every: "week", Weekday: "monday", At: "09:00", Audience: "member.tier == 'gold'"}, ""},
		{"trigger: { broadcast: { every: month, day: 1, at: \"09:00\" } }",
			api.TriggerSummary{Kind: "broadcast", Summary: "every month on day 1 at 09:00", Every: "month", Day: 1, At: "09:00"},
			`{"kind":"broadcast","summary":"every month on day 1 at 09:00","at":"09:00","every":"month","day":1}`},
		{"trigger: { broadcast: { every: day, at: \"09:00\" } }",
			api.TriggerSummary{Kind: "broadcast", Summary: "every day at 09:00", Every: "day", At: "09:00"}, ""},
	} {
		t.Run(tc.want.Summary, func(t *testing.T) {
			a := newJourneyAPI(t)
			src := "name: probe\npriority: 5\n" + tc.src + "\nsteps:\n  - id: hello\n    send: { email: activation_nudge }\n"
			a.must(t, http.StatusCreated, http.MethodPost, "/v1/journeys", src)
			rec := a.must(t, http.StatusOK, http.MethodGet, "/v1/journeys", "")
			list := decodeBody[api.JourneyList](t, rec)
			if len(list.Journeys) != 1 || list.Journeys[0].Trigger == nil {
				t.Fatalf("list = %+v", list)
			}
			if got := *list.Journeys[0].Trigger; got != tc.want {
				t.Errorf("trigger = %+v\nwant      %+v", got, tc.want)
			}
			if tc.json == "" {
				return
			}
			var raw struct {
				Journeys []struct {
					Trigger json.RawMessage `json:"trigger"`
				} `json:"journeys"`
			}
			if err := json.Unmarshal(rec, &raw); err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw.Journeys[0].Trigger); err != nil {
				t.Fatal(err)
			}
			if got := compact.String(); got != tc.json {
				t.Errorf("trigger JSON = %s\nwant           %s", got, tc.json)
			}
		})
	}
}

// TestDraftOnlyJourneyHasNoTrigger: before its first publish a journey
// has no version, so no trigger: null, not a guess from the draft.
func TestDraftOnlyJourneyHasNoTrigger(t *testing.T) {
	a := newJourneyAPI(t)
	a.must(t, http.StatusOK, http.MethodPut, "/v1/journeys/paced/draft", pacedSrc)
	rec := do(a.h, http.MethodGet, "/v1/journeys", "", nil)
	list := decode[api.JourneyList](t, rec)
	if len(list.Journeys) != 1 || !list.Journeys[0].HasDraft || list.Journeys[0].Trigger != nil || !strings.Contains(rec.Body.String(), `"trigger": null`) {
		t.Errorf("draft-only list = %s, want one journey with trigger null", rec.Body)
	}
}
