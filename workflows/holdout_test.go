package workflows_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/workflows"
)

// startRecorder is the enroller's runner in these tests: it keeps the
// start the enroller asks for, which the test then runs in the suite.
type startRecorder struct{ starts []journeys.Start }

func (r *startRecorder) StartEnrollment(_ context.Context, s journeys.Start) error {
	r.starts = append(r.starts, s)
	return nil
}

func (r *startRecorder) SignalEnrollment(context.Context, string, journeys.Signal) error { return nil }

const heldOutFlow = `
name: holdout_flow
holdout: 50%%
trigger: { api: {} }
steps:
  - id: welcome
    send: { email: activation_welcome }
    reward: { coupon: NEW8, points: 5 }
  - id: pause
    delay: { for: 1d }
  - id: tag
    update: { add_tags: [welcomed] }
  - id: notify
    webhook: { url: "%s/hook" }
  - id: ab
    split: [ { weight: 1, goto: nudge }, { weight: 1, goto: nudge } ]
  - id: nudge
    send: { email: activation_nudge }
`

// runHoldoutFlow enrols the member in arm through the enroller, as the
// API does, runs the interpreter to the end, and returns the fixture,
// the member and how many webhook posts arrived.
func runHoldoutFlow(t *testing.T, arm loyalty.Arm) (*engineFixture, int64) {
	t.Helper()
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		posts.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	f := newEngineFixture(t, true, morning)
	f.acts.WebhookSecret = activities.WebhookSecret("a-secret-for-the-holdout-test")
	f.acts.HTTP = srv.Client()
	def := f.publish(t, fmt.Sprintf(heldOutFlow, srv.URL))
	for i := range 1000 {
		id := fmt.Sprintf("w-%d", i)
		if engine.Holdout(id, def.Name, decimal.NewFromInt(50), decimal.Zero) == arm {
			f.member = id
			break
		}
	}
	ctx := context.Background()
	m := loyalty.Member{ID: f.member, Email: f.member + "@example.com", Name: "Lin", Consent: loyalty.Consent{EmailMarketing: true}, RegisteredAt: morning, Version: 1}
	if err := f.store.SaveMember(ctx, m, "evt-reg-"+f.member); err != nil {
		t.Fatal(err)
	}
	doc, err := f.acts.Ledger.Document(ctx, f.member, morning)
	if err != nil {
		t.Fatal(err)
	}
	rec := &startRecorder{}
	enr := &journeys.Enroller{Store: f.store, Engine: f.acts.Engine, Runner: rec, Now: f.env.Now}
	st, err := f.store.GetJourney(ctx, def.Name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := enr.Enter(ctx, journeys.Entry{Live: journeys.Live{State: st, Definition: def}, Member: doc, Number: 1, Anchor: morning})
	if err != nil || !got.New || got.Enrollment.Arm != arm || len(rec.starts) != 1 {
		t.Fatalf("enter: %+v, %v; starts %d", got, err, len(rec.starts))
	}
	s := rec.starts[0]
	f.env.ExecuteWorkflow(workflows.Journey, workflows.JourneyInput{Definition: s.Definition, MemberID: s.MemberID, Enrollment: s.Enrollment, Anchor: s.Anchor})
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	return f, posts.Load()
}

// A held-out member runs the same interpreter through the same steps —
// the delay, the update, the split — with every send, reward and webhook
// a held_out entry instead; the treated member gets them all.
func TestJourneyHoldoutInTheInterpreter(t *testing.T) {
	held, heldPosts := runHoldoutFlow(t, loyalty.ArmHoldout)
	treated, treatedPosts := runHoldoutFlow(t, loyalty.ArmTreated)

	if n := len(held.mailer.templates()); n != 0 || heldPosts != 0 {
		t.Errorf("held-out member: %d emails, %d webhook posts", n, heldPosts)
	}
	if rows, _ := held.store.ListSends(t.Context(), held.member); len(rows) != 0 {
		t.Errorf("held-out member has send rows %+v", rows)
	}
	if acc, err := held.store.GetAccount(t.Context(), held.member); err == nil && (len(acc.Coupons) != 0 || len(acc.Lots) != 0) {
		t.Errorf("held-out member's account: coupons %+v, lots %+v", acc.Coupons, acc.Lots)
	}
	if got := treated.mailer.templates(); !slices.Equal(got, []string{"activation_welcome", "activation_nudge"}) || treatedPosts != 1 {
		t.Errorf("treated member: emails %v, %d webhook posts", got, treatedPosts)
	}
	// Decided alike: the same steps in the same order, held_out where the
	// treated member was sent, rewarded or posted to.
	normal := func(ds []string, heldOut bool) []string {
		var out []string
		for _, d := range ds {
			kind, rest, _ := strings.Cut(d, " ")
			step, _, _ := strings.Cut(rest, " ")
			switch {
			case heldOut && kind == "held_out":
				kind = "effect"
			case !heldOut && (kind == "sent" || kind == "reward_granted" || kind == "webhook"):
				kind = "effect"
			}
			if e := kind + " " + step; len(out) == 0 || out[len(out)-1] != e {
				out = append(out, e)
			}
		}
		return out
	}
	h, tr := normal(held.decisions(t), true), normal(treated.decisions(t), false)
	if !slices.Equal(h, tr) {
		t.Errorf("held-out decisions %q\ndiffer from treated %q", h, tr)
	}
	for _, want := range []string{"held_out welcome holdout", "updated tag", "held_out notify holdout", "branch ab split path", "held_out nudge holdout"} {
		if !slices.ContainsFunc(held.decisions(t), func(d string) bool { return strings.HasPrefix(d, want) }) {
			t.Errorf("held-out timeline %q lacks %q", held.decisions(t), want)
		}
	}
	m, err := held.store.GetMember(t.Context(), held.member)
	if err != nil || !slices.Contains(m.Tags, "welcomed") {
		t.Errorf("held-out member's tags = %v (%v), want the update applied", m.Tags, err)
	}
	if e, err := held.store.GetEnrollment(t.Context(), held.member, "holdout_flow", 1); err != nil || e.Status != loyalty.EnrollmentCompleted || e.Arm != loyalty.ArmHoldout {
		t.Errorf("held-out enrollment = %+v, %v", e, err)
	}
}
