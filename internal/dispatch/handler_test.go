package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"go.temporal.io/api/serviceerror"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/dispatch"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// fakeRunner records the enrollments started and the signals sent, and
// behaves like the server for the ID policies the Runner promises:
// starting a started enrollment again is no error and starts nothing.
type fakeRunner struct {
	mu       sync.Mutex
	started  map[string]journeys.Start
	starts   int
	signals  []string // "<workflow id> <exit|goto|type>"
	startErr error
	// failID fails the start of this one workflow ID (startErr fails all).
	failID string
}

func (f *fakeRunner) StartEnrollment(_ context.Context, s journeys.Start) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return f.startErr
	}
	if f.failID != "" && s.WorkflowID == f.failID {
		return errors.New("temporal unavailable for " + s.WorkflowID)
	}
	f.starts++
	if _, ok := f.started[s.WorkflowID]; !ok {
		f.started[s.WorkflowID] = s
	}
	return nil
}

func (f *fakeRunner) SignalEnrollment(_ context.Context, id string, s journeys.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	what := s.Type
	switch {
	case s.Exit != "":
		what = "exit:" + s.Exit
	case s.Goto != "":
		what = "goto:" + s.Goto
	}
	f.signals = append(f.signals, id+" "+what)
	return nil
}

// fakeTemporal records the signals sent to the first engine's workflows.
type fakeTemporal struct {
	mu      sync.Mutex
	running map[string]bool
	signals []string
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, id, _, name string, _ any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running[id] {
		return serviceerror.NewNotFound("workflow not found")
	}
	f.signals = append(f.signals, id+" "+name)
	return nil
}

var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type fixture struct {
	// now is the clock of dispatch, the ledger and the enroller.
	now    *time.Time
	h      *dispatch.Handler
	st     *memstore.Store
	runner *fakeRunner
	legacy *fakeTemporal
	svc    *journeys.Service
}

// newHandler builds dispatch over a memstore with the shipped journeys
// published, as the worker does at start-up.
func newHandler() (*dispatch.Handler, *memstore.Store, *fakeRunner) {
	f := newFixture()
	return f.h, f.st, f.runner
}

func newFixture() fixture {
	st := memstore.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ldg, err := ledger.New(templates.Program, []byte("dispatch-test-code-secret"), st, log)
	if err != nil {
		panic(err)
	}
	clock := testNow
	now := func() time.Time { return clock }
	ldg.Now = now
	cat, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		panic(err)
	}
	svc, eng, err := journeys.New(st, ldg.Rules.Program, cat)
	if err != nil {
		panic(err)
	}
	svc.TTL = time.Nanosecond // tests change journeys between records
	if _, err := svc.PublishFiles(context.Background(), templates.Journeys, journeys.ShippedDir); err != nil {
		panic(err)
	}
	runner := &fakeRunner{started: map[string]journeys.Start{}}
	legacy := &fakeTemporal{running: map[string]bool{}}
	h := &dispatch.Handler{
		Store: st, Ledger: ldg, Journeys: svc, Legacy: legacy,
		Enroller: &journeys.Enroller{Store: st, Engine: eng, Runner: runner, Now: now},
		Log:      log, Now: now,
	}
	return fixture{now: &clock, h: h, st: st, runner: runner, legacy: legacy, svc: svc}
}

// record builds the stream record DynamoDB emits when ingest stores an event.
func record(t *testing.T, seq string, typ events.Type, mutate func(map[string]any)) lambdaevents.DynamoDBEventRecord {
	t.Helper()
	raw, err := events.Sample(typ)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		mutate(m)
		if raw, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	var env struct {
		MemberID string `json:"member_id"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	return streamRecord(seq, env.MemberID, raw)
}

// streamRecord is the stream record of an event item holding payload.
func streamRecord(seq, memberID string, payload []byte) lambdaevents.DynamoDBEventRecord {
	return lambdaevents.DynamoDBEventRecord{
		EventID: "rec-" + seq, EventName: "INSERT",
		Change: lambdaevents.DynamoDBStreamRecord{
			SequenceNumber: seq,
			NewImage: map[string]lambdaevents.DynamoDBAttributeValue{
				"entity":    lambdaevents.NewStringAttribute("event"),
				"member_id": lambdaevents.NewStringAttribute(memberID),
				"payload":   lambdaevents.NewStringAttribute(string(payload)),
			},
		},
	}
}

// TestMembersInParallelEachInOrder: a member whose record fails stops
// there and is reported; the other members of the batch are done.
func TestMembersInParallelEachInOrder(t *testing.T) {
	h, st, runner := newHandler()
	h.Parallel = 4
	as := func(member, id string) func(map[string]any) {
		return func(m map[string]any) { m["member_id"], m["id"] = member, id }
	}
	var recs []lambdaevents.DynamoDBEventRecord
	seq := 0
	for i := range 6 {
		member := fmt.Sprintf("m-%d", i)
		seq++
		recs = append(recs, record(t, fmt.Sprint(seq), events.MemberRegistered, as(member, "reg-"+member)))
		seq++
		recs = append(recs, record(t, fmt.Sprint(seq), events.MemberProfileUpdated, as(member, "upd-"+member)))
	}
	runner.failID = workflows.JourneyWorkflowID("activation", "m-3", 1)
	resp := handle(t, h, recs...)
	if got := resp.BatchItemFailures; len(got) != 1 || got[0].ItemIdentifier != "7" {
		t.Fatalf("failures = %+v, want exactly sequence 7 (m-3's registration)", got)
	}
	for i := range 6 {
		m, err := st.GetMember(context.Background(), fmt.Sprintf("m-%d", i))
		want := int64(2)
		if i == 3 {
			want = 1 // its profile update waits behind the failed registration
		}
		if err != nil || m.Version != want {
			t.Errorf("m-%d: version %d (%v), want %d", i, m.Version, err, want)
		}
	}
	if len(runner.started) != 5 {
		t.Errorf("%d activations started, want 5", len(runner.started))
	}
}

func handle(t *testing.T, h *dispatch.Handler, recs ...lambdaevents.DynamoDBEventRecord) lambdaevents.DynamoDBEventResponse {
	t.Helper()
	resp, err := h.Handle(context.Background(), lambdaevents.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatalf("Handle returned an error (it must report failures per record): %v", err)
	}
	return resp
}

func mustHandle(t *testing.T, h *dispatch.Handler, recs ...lambdaevents.DynamoDBEventRecord) {
	t.Helper()
	if resp := handle(t, h, recs...); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures: %+v", resp.BatchItemFailures)
	}
}

func TestRegistrationProjectsAndEnrolsInActivation(t *testing.T) {
	f := newFixture()
	mustHandle(t, f.h, record(t, "1", events.MemberRegistered, nil))
	ctx := context.Background()
	m, err := f.st.GetMember(ctx, "m-1001")
	if err != nil {
		t.Fatal(err)
	}
	if m.Email != "lin.wei@example.com" || !m.Consent.EmailMarketing || m.Birthday != "1990-06-15" || m.Version != 1 {
		t.Errorf("projection = %+v", m)
	}
	id := workflows.JourneyWorkflowID("activation", "m-1001", 1)
	got, ok := f.runner.started[id]
	if !ok {
		t.Fatalf("activation not started; started %v", f.runner.started)
	}
	live, err := f.svc.Version(ctx, "activation", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.MemberID != "m-1001" || got.Enrollment != 1 || string(got.Definition.Canonical()) != string(live.Canonical()) || got.Definition.Version != 1 {
		t.Errorf("start = %+v, want activation version 1 pinned", got)
	}
	var ev events.Envelope
	if err := json.Unmarshal(got.Event, &ev); err != nil || ev.ID != "evt-reg-1001" || !got.Anchor.Equal(ev.OccurredAt) {
		t.Errorf("start carries event %s (%v) anchored at %s, want the registration at its moment", ev.ID, err, got.Anchor)
	}
	e, err := f.st.GetEnrollment(ctx, "m-1001", "activation", 1)
	if err != nil || e.Status != loyalty.EnrollmentActive || e.Version != 1 || e.WorkflowID != id || !slices.Contains(e.Listen, "order.paid") {
		t.Errorf("enrollment = %+v, %v", e, err)
	}
	tl, _, err := f.st.ListTimeline(ctx, "m-1001", 10, "")
	if err != nil || len(tl) != 1 || tl[0].Kind != "enrolled" || tl[0].Journey != "activation" || tl[0].Version != 1 {
		t.Errorf("timeline = %+v, %v; want one enrolled entry", tl, err)
	}
	// registered_at is filed for date journeys on it.
	if ids, err := f.st.MembersByDate(ctx, "registered_at", "2026-03-01", "", 10); err != nil || !slices.Equal(ids, []string{"m-1001"}) {
		t.Errorf("registered_at index = %v, %v", ids, err)
	}
}

func TestRedeliveryChangesNothing(t *testing.T) {
	f := newFixture()
	rec := record(t, "1", events.MemberRegistered, nil)
	mustHandle(t, f.h, rec)
	mustHandle(t, f.h, rec, rec)
	m, _ := f.st.GetMember(context.Background(), "m-1001")
	if got, want := m.Version, int64(1); got != want {
		t.Errorf("version after redelivery = %d, want %d", got, want)
	}
	if got, want := len(f.runner.started), 1; got != want {
		t.Errorf("%d workflows, want %d", got, want)
	}
	tl, _, _ := f.st.ListTimeline(context.Background(), "m-1001", 10, "")
	if len(tl) != 1 {
		t.Errorf("timeline after redelivery = %+v, want the one enrolled entry", tl)
	}
}

func TestFinishedEnrollmentIsNotRestarted(t *testing.T) {
	h, st, runner := newHandler()
	rec := record(t, "1", events.MemberRegistered, nil)
	mustHandle(t, h, rec)
	if err := st.EndEnrollment(context.Background(), "m-1001", "activation", 1, loyalty.EnrollmentCompleted, "completed", time.Now()); err != nil {
		t.Fatal(err)
	}
	before := runner.starts
	mustHandle(t, h, rec)
	if runner.starts != before {
		t.Error("a redelivered registration started a finished enrollment again")
	}
}

// An order reaches activation's goal (exit: true): the enrollment's
// workflow is told to end, converted. Once it has ended, orders are news
// to nobody.
func TestOrderReachesTheOpenEnrollmentsGoal(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	mustHandle(t, f.h, record(t, "1", events.MemberRegistered, nil), record(t, "2", events.OrderPaid, nil))
	id := workflows.JourneyWorkflowID("activation", "m-1001", 1)
	if want := []string{id + " exit:converted"}; !slices.Equal(f.runner.signals, want) {
		t.Fatalf("signals = %v, want %v", f.runner.signals, want)
	}
	m, _ := f.st.GetMember(ctx, "m-1001")
	if m.OrderCount != 1 || m.LastOrderAt.IsZero() {
		t.Errorf("order not projected: %+v", m)
	}
	counters, err := f.st.JourneyCounters(ctx, "activation")
	if err != nil || counters[store.CountGoal] != 1 {
		t.Errorf("counters = %v, %v; want the goal counted once", counters, err)
	}
	// A redelivered order counts the goal no second time.
	mustHandle(t, f.h, record(t, "2", events.OrderPaid, nil))
	if counters, _ := f.st.JourneyCounters(ctx, "activation"); counters[store.CountGoal] != 1 {
		t.Errorf("goal counted %d times after a redelivery", counters[store.CountGoal])
	}

	_ = f.st.EndEnrollment(ctx, "m-1001", "activation", 1, loyalty.EnrollmentExited, "converted", time.Now())
	n := len(f.runner.signals)
	mustHandle(t, f.h, record(t, "3", events.OrderPaid, func(m map[string]any) { m["id"] = "evt-order-2" }))
	if len(f.runner.signals) != n {
		t.Errorf("signals after exit = %v, want none more", f.runner.signals[n:])
	}
}

// Events nobody triggers on or listens for cost no enrollment read.
func TestUnheardEventsReadNoEnrollments(t *testing.T) {
	f := newFixture()
	counting := &countingStore{Store: f.st}
	f.h.Store = counting
	mustHandle(t, f.h, record(t, "1", events.MemberRegistered, nil))
	before := counting.lists
	mustHandle(t, f.h, record(t, "2", events.MemberProfileUpdated, nil), record(t, "3", events.ReviewPosted, nil))
	if counting.lists != before {
		t.Errorf("%d enrollment reads for events no journey hears", counting.lists-before)
	}
}

type countingStore struct {
	*memstore.Store
	mu    sync.Mutex
	lists int
}

func (c *countingStore) ListEnrollments(ctx context.Context, id string) ([]loyalty.Enrollment, error) {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.Store.ListEnrollments(ctx, id)
}

func TestFailureReportsFirstFailedRecordAndStops(t *testing.T) {
	h, st, runner := newHandler()
	runner.startErr = errors.New("temporal unavailable")
	other := record(t, "2", events.MemberProfileUpdated, nil)
	resp := handle(t, h, record(t, "1", events.MemberRegistered, nil), other)
	if got := resp.BatchItemFailures; len(got) != 1 || got[0].ItemIdentifier != "1" {
		t.Fatalf("failures = %+v, want exactly sequence 1", got)
	}
	// Record 2 was not applied: it will be redelivered after record 1.
	m, _ := st.GetMember(context.Background(), "m-1001")
	if m.Version != 1 {
		t.Errorf("version = %d, want 1 (only the registration)", m.Version)
	}
	// The retry succeeds and the projection is not applied twice.
	runner.startErr = nil
	mustHandle(t, h, record(t, "1", events.MemberRegistered, nil), other)
	m, _ = st.GetMember(context.Background(), "m-1001")
	if m.Version != 2 {
		t.Errorf("version after retry = %d, want 2", m.Version)
	}
	if len(runner.started) != 1 {
		t.Errorf("started after retry: %v", runner.started)
	}
}

func TestIgnoresOtherItemsAndReportsGarbage(t *testing.T) {
	h, _, runner := newHandler()
	profile := lambdaevents.DynamoDBEventRecord{EventName: "INSERT", Change: lambdaevents.DynamoDBStreamRecord{SequenceNumber: "1",
		NewImage: map[string]lambdaevents.DynamoDBAttributeValue{"entity": lambdaevents.NewStringAttribute("member")}}}
	modify := record(t, "2", events.MemberRegistered, nil)
	modify.EventName = "MODIFY"
	if resp := handle(t, h, profile, modify); len(resp.BatchItemFailures) != 0 || len(runner.started) != 0 {
		t.Fatalf("non-event records were acted on: %+v %v", resp, runner.started)
	}
	garbage := lambdaevents.DynamoDBEventRecord{EventName: "INSERT", Change: lambdaevents.DynamoDBStreamRecord{SequenceNumber: "9",
		NewImage: map[string]lambdaevents.DynamoDBAttributeValue{"entity": lambdaevents.NewStringAttribute("event"), "payload": lambdaevents.NewStringAttribute("{not json")}}}
	if resp := handle(t, h, garbage); len(resp.BatchItemFailures) != 1 {
		t.Fatalf("garbage record not reported: %+v", resp)
	}
}

// TestSampleLambdaEvent keeps functions/dispatch/event.json (used with `sam
// local invoke`) a record the handler really acts on.
func TestSampleLambdaEvent(t *testing.T) {
	raw, err := os.ReadFile("../../functions/dispatch/event.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev lambdaevents.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	h, _, runner := newHandler()
	mustHandle(t, h, ev.Records...)
	if _, ok := runner.started[workflows.JourneyWorkflowID("activation", "m-1001", 1)]; !ok {
		t.Errorf("the sample event started nothing: %v", runner.started)
	}
}

func TestOrderIsLedgeredOnce(t *testing.T) {
	h, st, _ := newHandler()
	reg := record(t, "1", events.MemberRegistered, nil)
	pay := record(t, "2", events.OrderPaid, nil)
	// The sample order (1,250.00 CNY on 2026-03-02, not the member's
	// birthday month, not the 8th), delivered twice.
	mustHandle(t, h, reg, pay, pay)
	a, err := st.GetAccount(context.Background(), "m-1001")
	if err != nil {
		t.Fatal(err)
	}
	if a.Tier != "V4" || len(a.Orders) != 1 {
		t.Errorf("account: tier %s, orders %d", a.Tier, len(a.Orders))
	}
	es, err := st.ListEntries(context.Background(), "m-1001", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := loyalty.SumEntries(es); got.Pending+got.Available != 12 {
		t.Errorf("entries sum to %+v, want the order's 12 points once", got)
	}
}

func TestOrderAttributedToClickedEmails(t *testing.T) {
	h, st, _ := newHandler()
	ctx := context.Background()
	orderAt := time.Date(2026, 3, 2, 14, 5, 10, 0, time.FixedZone("CST", 8*3600)) // the sample order's time
	for i, tc := range []struct {
		step string
		at   time.Time
	}{
		{"welcome", orderAt.Add(-8 * 24 * time.Hour)}, // too long before
		{"nudge", orderAt.Add(-2 * 24 * time.Hour)},   // counts
		{"last_nudge", orderAt.Add(time.Hour)},        // after the order
	} {
		ev := store.SendEvent{ID: fmt.Sprint("click-", i), MemberID: "m-1001", SendKey: "m-1001#activation#1#" + tc.step, Journey: "activation", Step: tc.step, Enrollment: 1, Type: store.EventClick, At: tc.at}
		if err := st.RecordSendEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	pay := record(t, "2", events.OrderPaid, nil)
	mustHandle(t, h, pay, pay)
	stats, err := st.JourneyStats(ctx, "activation")
	if err != nil {
		t.Fatal(err)
	}
	conv := map[string]int64{}
	for _, s := range stats {
		conv[s.Step] = s.Counts[store.StatsConversion]
	}
	if conv["nudge"] != 1 || conv["welcome"] != 0 || conv["last_nudge"] != 0 {
		t.Errorf("conversions = %v", conv)
	}
}

// The trial journey takes only a trial the ledger granted (its trigger's
// when reads the account dispatch just wrote); its goal goes to the
// thank-you, a cancellation is news to its waits.
func TestTrialJourneyEntersGrantedTrialsOnly(t *testing.T) {
	f := newFixture()
	*f.now = time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC) // the sample trial's day
	ctx := context.Background()
	mustHandle(t, f.h, record(t, "1", events.MemberRegistered, nil))
	// The sample's plan is not the programme's: the ledger refuses that
	// trial, and a refused trial gets no journey.
	mustHandle(t, f.h, record(t, "2", events.SubscriptionTrialStarted, nil))
	id := workflows.JourneyWorkflowID("trial", "m-1001", 1)
	if _, ok := f.runner.started[id]; ok {
		t.Fatal("a trial the ledger refused started the trial journey")
	}
	svip := func(m map[string]any) {
		m["id"] = "evt-trial-svip"
		m["data"].(map[string]any)["plan"] = "svip"
	}
	mustHandle(t, f.h, record(t, "3", events.SubscriptionTrialStarted, svip))
	got, ok := f.runner.started[id]
	if !ok {
		t.Fatalf("trial not started; started %v", f.runner.started)
	}
	if got.MemberID != "m-1001" || got.Definition.Name != "trial" || got.Anchor.IsZero() {
		t.Errorf("trial start = %+v", got)
	}
	if ids, err := f.st.MembersByDate(ctx, "trial_ends_on", "2026-04-15", "", 10); err != nil || len(ids) != 1 {
		t.Errorf("trial_ends_on index = %v, %v", ids, err)
	}
	// A redelivered trial_started attaches to the same enrollment.
	mustHandle(t, f.h, record(t, "3", events.SubscriptionTrialStarted, svip))
	if e, err := f.st.GetEnrollment(ctx, "m-1001", "trial", 1); err != nil || e.Status != loyalty.EnrollmentActive {
		t.Fatalf("trial enrollment = %+v, %v", e, err)
	}
	*f.now = f.now.Add(24 * time.Hour)
	mustHandle(t, f.h, record(t, "4", events.SubscriptionCancelled, func(m map[string]any) {
		m["occurred_at"] = "2026-04-02T09:00:00+08:00"
		m["data"].(map[string]any)["subscription_id"] = "sub-7001"
	}))
	if !slices.Contains(f.runner.signals, id+" subscription.cancelled") {
		t.Errorf("signals = %v, want the cancellation told to the trial's waits", f.runner.signals)
	}
}

// The trial's goal (subscription.converted, goto: thanks) is sent on to
// the enrollment as the step to go to.
func TestConversionSendsTheTrialToItsGoalStep(t *testing.T) {
	f := newFixture()
	*f.now = time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC)
	svip := func(id string) func(m map[string]any) {
		return func(m map[string]any) {
			m["id"] = id
			m["data"].(map[string]any)["plan"] = "svip"
		}
	}
	mustHandle(t, f.h, record(t, "1", events.MemberRegistered, nil), record(t, "2", events.SubscriptionTrialStarted, svip("evt-trial-svip")))
	*f.now = time.Date(2026, 4, 10, 2, 0, 0, 0, time.UTC)
	mustHandle(t, f.h, record(t, "3", events.SubscriptionConverted, func(m map[string]any) {
		svip("evt-conv")(m)
		m["occurred_at"] = "2026-04-10T09:00:00+08:00"
	}))
	id := workflows.JourneyWorkflowID("trial", "m-1001", 1)
	if !slices.Contains(f.runner.signals, id+" goto:thanks") {
		t.Errorf("signals = %v, want the conversion sent to thanks", f.runner.signals)
	}
}

// A late webhook of an order from before the lapse does not end the
// win-back the lapse started; a later order does, with no workflow to
// tell (the scan runs win-back).
func TestOrdersAndTheWinbackTheyEnd(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	mustHandle(t, f.h, record(t, "1", events.MemberRegistered, nil))
	if _, _, err := f.st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-1001", Journey: "winback", Number: 20261001, Version: 1,
		Status: loyalty.EnrollmentActive, StartedAt: testNow, Anchor: time.Date(2026, 10, 1, 2, 0, 0, 0, time.UTC), Listen: []string{"order.paid"}}); err != nil {
		t.Fatal(err)
	}
	mustHandle(t, f.h, record(t, "2", events.OrderPaid, nil)) // the sample order is from March 2026
	if e, err := f.st.GetEnrollment(ctx, "m-1001", "winback", 20261001); err != nil || e.Status != loyalty.EnrollmentActive {
		t.Errorf("win-back after an older order = %+v, %v; want still active", e, err)
	}
	mustHandle(t, f.h, record(t, "3", events.OrderPaid, func(m map[string]any) {
		m["id"], m["occurred_at"] = "evt-order-new", "2026-11-20T10:00:00+08:00"
	}))
	e, err := f.st.GetEnrollment(ctx, "m-1001", "winback", 20261001)
	if err != nil || e.Status != loyalty.EnrollmentExited || e.Reason != "order.paid" {
		t.Errorf("win-back after a new order = %+v, %v; want exited (order.paid)", e, err)
	}
	for _, s := range f.runner.signals {
		if strings.Contains(s, "winback") {
			t.Errorf("signal %q: win-back has no workflow to signal", s)
		}
	}
	counters, _ := f.st.JourneyCounters(ctx, "winback")
	if counters[store.CountExited("order.paid")] != 1 {
		t.Errorf("counters = %v, want one exit by order.paid", counters)
	}
}

// The first engine's enrollments (no version) are told with its own
// signals until they drain; nothing new starts on it.
func TestFirstEngineEnrollmentsStillHearOrders(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	old := loyalty.Enrollment{MemberID: "m-1001", Journey: "activation", Number: 1, WorkflowID: "activation/m-1001/1", Status: loyalty.EnrollmentActive, StartedAt: testNow}
	if _, _, err := f.st.StartEnrollment(ctx, old); err != nil {
		t.Fatal(err)
	}
	f.legacy.running[old.WorkflowID] = true
	mustHandle(t, f.h, record(t, "1", events.MemberRegistered, nil))
	if len(f.runner.started) != 0 {
		t.Errorf("a member on the first engine's activation was enrolled again: %v", f.runner.started)
	}
	mustHandle(t, f.h, record(t, "2", events.OrderPaid, nil))
	if want := []string{"activation/m-1001/1 " + workflows.SignalOrderPaid}; !slices.Equal(f.legacy.signals, want) {
		t.Errorf("first-engine signals = %v, want %v", f.legacy.signals, want)
	}
	if len(f.runner.signals) != 0 {
		t.Errorf("the new engine signalled %v for a first-engine enrollment", f.runner.signals)
	}
}

// Entry rules refuse with the reason and what decided on the timeline;
// a paused journey refuses everyone.
func TestRefusedEntriesAreExplained(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	src := []byte(`name: big_orders
trigger:
  event: order.paid
  when: "event.data.amount >= 1000"
entry:
  cooldown: 30d
  audience: "member.consent.email_marketing"
steps:
  - id: thanks
    send: { email: activation_nudge }
`)
	if _, err := f.svc.Publish(ctx, src, "test"); err != nil {
		t.Fatal(err)
	}
	order := func(id, at, amount string) lambdaevents.DynamoDBEventRecord {
		return record(t, id, events.OrderPaid, func(m map[string]any) {
			m["id"], m["occurred_at"] = id, at
			m["data"].(map[string]any)["amount"] = amount
			m["data"].(map[string]any)["order_id"] = "o-" + id
		})
	}
	mustHandle(t, f.h, record(t, "1", events.MemberRegistered, nil))
	mustHandle(t, f.h, order("o1", "2026-11-20T10:00:00+08:00", "500.00")) // when false: nothing at all
	mustHandle(t, f.h, order("o2", "2026-11-21T10:00:00+08:00", "1250.00"))
	*f.now = f.now.Add(time.Hour)
	mustHandle(t, f.h, order("o3", "2026-11-22T10:00:00+08:00", "1300.00")) // within the cooldown
	var enrolled []string
	for id := range f.runner.started {
		if strings.HasPrefix(id, "journey/big_orders/") {
			enrolled = append(enrolled, id)
		}
	}
	if len(enrolled) != 1 {
		t.Fatalf("big_orders enrollments = %v, want one", enrolled)
	}
	tl, _, err := f.st.ListTimeline(ctx, "m-1001", 50, "")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range tl {
		if e.Journey == "big_orders" {
			kinds = append(kinds, e.Kind+":"+e.Reason)
			if e.Kind == "not_enrolled" && e.Values["previous_started_at"] == nil {
				t.Errorf("cooldown refusal without what decided it: %+v", e)
			}
		}
	}
	if want := []string{"not_enrolled:cooldown", "enrolled:"}; !slices.Equal(kinds, want) {
		t.Errorf("big_orders timeline (newest first) = %v, want %v", kinds, want)
	}

	if _, err := f.svc.Status(ctx, "big_orders", []journey.Status{journey.StatusLive}, journey.StatusPaused); err != nil {
		t.Fatal(err)
	}
	*f.now = f.now.Add(60 * 24 * time.Hour)
	mustHandle(t, f.h, order("o4", "2027-01-22T10:00:00+08:00", "1300.00"))
	tl, _, _ = f.st.ListTimeline(ctx, "m-1001", 1, "")
	if len(tl) != 1 || tl[0].Kind != "not_enrolled" || tl[0].Reason != "paused" {
		t.Errorf("newest entry = %+v, want not_enrolled (paused)", tl)
	}
}

// Inactivity journeys on events other than orders get the member's
// newest such event filed by day.
func TestInactivityDatesAreFiled(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	src := []byte(`name: quiet_reviewers
trigger:
  inactivity: { event: review.posted, for: 90d }
steps:
  - id: ask
    send: { email: activation_nudge }
`)
	if _, err := f.svc.Publish(ctx, src, "test"); err != nil {
		t.Fatal(err)
	}
	mustHandle(t, f.h, record(t, "1", events.MemberRegistered, nil), record(t, "2", events.ReviewPosted, nil))
	var ev struct {
		OccurredAt time.Time `json:"occurred_at"`
	}
	raw, _ := events.Sample(events.ReviewPosted)
	_ = json.Unmarshal(raw, &ev)
	day := ev.OccurredAt.UTC().Format(time.DateOnly)
	if ids, err := f.st.MembersByDate(ctx, "last_review_posted", day, "", 10); err != nil || !slices.Equal(ids, []string{"m-1001"}) {
		t.Errorf("last_review_posted on %s = %v, %v", day, ids, err)
	}
}
