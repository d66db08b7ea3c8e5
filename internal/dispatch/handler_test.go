package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/dispatch"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// fakeTemporal records starts and signals and behaves like the server for
// the ID policies dispatch relies on.
type fakeTemporal struct {
	mu       sync.Mutex
	started  map[string]any
	starts   int
	signals  []string
	startErr error
	// failID fails the start of this one workflow ID (startErr fails all).
	failID string
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	if f.failID != "" && o.ID == f.failID {
		return nil, errors.New("temporal unavailable for " + o.ID)
	}
	f.starts++
	if _, ok := f.started[o.ID]; !ok {
		f.started[o.ID] = args[0]
	}
	return nil, nil
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, id, _, name string, _ any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.started[id]; !ok {
		return serviceerror.NewNotFound("workflow not found")
	}
	f.signals = append(f.signals, id+" "+name)
	return nil
}

func newHandler() (*dispatch.Handler, *memstore.Store, *fakeTemporal) {
	st := memstore.New()
	tc := &fakeTemporal{started: map[string]any{}}
	ldg, err := ledger.New(templates.Program, []byte("dispatch-test-code-secret"), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		panic(err)
	}
	journeys, err := journey.Shipped(ldg.Rules.Program)
	if err != nil {
		panic(err)
	}
	return &dispatch.Handler{
		Store: st, Ledger: ldg, Temporal: tc, TaskQueue: "q", Journeys: journeys,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) },
	}, st, tc
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
	return lambdaevents.DynamoDBEventRecord{
		EventID: "rec-" + seq, EventName: "INSERT",
		Change: lambdaevents.DynamoDBStreamRecord{
			SequenceNumber: seq,
			NewImage: map[string]lambdaevents.DynamoDBAttributeValue{
				"entity":    lambdaevents.NewStringAttribute("event"),
				"member_id": lambdaevents.NewStringAttribute(env.MemberID),
				"payload":   lambdaevents.NewStringAttribute(string(raw)),
			},
		},
	}
}

// TestMembersInParallelEachInOrder: a member whose record fails stops
// there and is reported; the other members of the batch are done.
func TestMembersInParallelEachInOrder(t *testing.T) {
	h, st, tc := newHandler()
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
	tc.failID = workflows.EnrollmentWorkflowID(journey.Activation, "m-3", 1)
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
	if len(tc.started) != 5 {
		t.Errorf("%d activations started, want 5", len(tc.started))
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

func TestRegistrationProjectsAndStartsActivation(t *testing.T) {
	h, st, tc := newHandler()
	if resp := handle(t, h, record(t, "1", events.MemberRegistered, nil)); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures: %+v", resp.BatchItemFailures)
	}
	m, err := st.GetMember(context.Background(), "m-1001")
	if err != nil {
		t.Fatal(err)
	}
	if m.Email != "lin.wei@example.com" || !m.Consent.EmailMarketing || m.Birthday != "1990-06-15" || m.Version != 1 {
		t.Errorf("projection = %+v", m)
	}
	got, ok := tc.started["activation/m-1001/1"]
	if !ok {
		t.Fatalf("activation not started; started %v", tc.started)
	}
	in := got.(workflows.ActivationInput)
	if in.MemberID != "m-1001" || in.Enrollment != 1 || in.Definition.JSON() != h.Journeys[journey.Activation].JSON() {
		t.Errorf("input = %+v, want the activation definition pinned", in)
	}
	e, err := st.GetEnrollment(context.Background(), "m-1001", "activation", 1)
	if err != nil || e.Status != loyalty.EnrollmentActive {
		t.Errorf("enrollment = %+v, %v", e, err)
	}
}

func TestRedeliveryChangesNothing(t *testing.T) {
	h, st, tc := newHandler()
	rec := record(t, "1", events.MemberRegistered, nil)
	handle(t, h, rec)
	handle(t, h, rec, rec)
	m, _ := st.GetMember(context.Background(), "m-1001")
	if got, want := m.Version, int64(1); got != want {
		t.Errorf("version after redelivery = %d, want %d", got, want)
	}
	if got, want := len(tc.started), 1; got != want {
		t.Errorf("%d workflows, want %d", got, want)
	}
}

func TestFinishedEnrollmentIsNotRestarted(t *testing.T) {
	h, st, tc := newHandler()
	rec := record(t, "1", events.MemberRegistered, nil)
	handle(t, h, rec)
	if err := st.EndEnrollment(context.Background(), "m-1001", "activation", 1, loyalty.EnrollmentCompleted, "completed", time.Now()); err != nil {
		t.Fatal(err)
	}
	before := tc.starts
	handle(t, h, rec)
	if tc.starts != before {
		t.Error("a redelivered registration started a finished enrollment again")
	}
}

func TestOrderSignalsOpenEnrollmentOnly(t *testing.T) {
	h, st, tc := newHandler()
	handle(t, h, record(t, "1", events.MemberRegistered, nil), record(t, "2", events.OrderPaid, nil))
	if got, want := len(tc.signals), 1; got != want {
		t.Fatalf("signals = %v, want one", tc.signals)
	}
	if got, want := tc.signals[0], "activation/m-1001/1 "+workflows.SignalOrderPaid; got != want {
		t.Errorf("signal = %q, want %q", got, want)
	}
	m, _ := st.GetMember(context.Background(), "m-1001")
	if m.OrderCount != 1 || m.LastOrderAt.IsZero() {
		t.Errorf("order not projected: %+v", m)
	}

	// Once the enrollment is closed, orders cost no Temporal action.
	_ = st.EndEnrollment(context.Background(), "m-1001", "activation", 1, loyalty.EnrollmentExited, "converted", time.Now())
	handle(t, h, record(t, "3", events.OrderPaid, func(m map[string]any) { m["id"] = "evt-order-2" }))
	if got, want := len(tc.signals), 1; got != want {
		t.Errorf("signals after exit = %v, want still one", tc.signals)
	}
}

func TestFailureReportsFirstFailedRecordAndStops(t *testing.T) {
	h, st, tc := newHandler()
	tc.startErr = errors.New("temporal unavailable")
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
	tc.startErr = nil
	if resp := handle(t, h, record(t, "1", events.MemberRegistered, nil), other); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry failures: %+v", resp.BatchItemFailures)
	}
	m, _ = st.GetMember(context.Background(), "m-1001")
	if m.Version != 2 {
		t.Errorf("version after retry = %d, want 2", m.Version)
	}
}

func TestIgnoresOtherItemsAndReportsGarbage(t *testing.T) {
	h, _, tc := newHandler()
	profile := lambdaevents.DynamoDBEventRecord{EventName: "INSERT", Change: lambdaevents.DynamoDBStreamRecord{SequenceNumber: "1",
		NewImage: map[string]lambdaevents.DynamoDBAttributeValue{"entity": lambdaevents.NewStringAttribute("member")}}}
	modify := record(t, "2", events.MemberRegistered, nil)
	modify.EventName = "MODIFY"
	if resp := handle(t, h, profile, modify); len(resp.BatchItemFailures) != 0 || len(tc.started) != 0 {
		t.Fatalf("non-event records were acted on: %+v %v", resp, tc.started)
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
	h, _, tc := newHandler()
	if resp := handle(t, h, ev.Records...); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures: %+v", resp.BatchItemFailures)
	}
	if _, ok := tc.started["activation/m-1001/1"]; !ok {
		t.Errorf("the sample event started nothing: %v", tc.started)
	}
}

func TestOrderIsLedgeredOnce(t *testing.T) {
	h, st, _ := newHandler()
	reg := record(t, "1", events.MemberRegistered, nil)
	pay := record(t, "2", events.OrderPaid, nil)
	// The sample order (1,250.00 CNY on 2026-03-02, not the member's
	// birthday month, not the 8th), delivered twice.
	if resp := handle(t, h, reg, pay, pay); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures: %+v", resp.BatchItemFailures)
	}
	a, err := st.GetAccount(context.Background(), "m-1001")
	if err != nil {
		t.Fatal(err)
	}
	if a.Tier != "V4" || a.PointsPending() != 12 || len(a.Orders) != 1 {
		t.Errorf("account: tier %s, pending %d, orders %d", a.Tier, a.PointsPending(), len(a.Orders))
	}
	es, err := st.ListEntries(context.Background(), "m-1001", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := loyalty.SumEntries(es); got.Pending != 12 {
		t.Errorf("entries sum to %+v", got)
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
	if resp := handle(t, h, pay, pay); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures: %+v", resp.BatchItemFailures)
	}
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

func TestTrialStartsAndIsSignalled(t *testing.T) {
	h, st, tc := newHandler()
	handle(t, h, record(t, "1", events.MemberRegistered, nil))
	// The sample's plan is not the programme's: the ledger refuses that
	// trial, and a refused trial gets no journey.
	handle(t, h, record(t, "2", events.SubscriptionTrialStarted, nil))
	if _, ok := tc.started["trial/m-1001/1"]; ok {
		t.Fatal("a trial the ledger refused started the trial journey")
	}
	svip := func(m map[string]any) {
		m["id"] = "evt-trial-svip"
		m["data"].(map[string]any)["plan"] = "svip"
	}
	if resp := handle(t, h, record(t, "3", events.SubscriptionTrialStarted, svip)); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures: %+v", resp.BatchItemFailures)
	}
	got, ok := tc.started["trial/m-1001/1"]
	if !ok {
		t.Fatalf("trial not started; started %v", tc.started)
	}
	in := got.(workflows.TrialInput)
	if in.MemberID != "m-1001" || in.TrialEndsAt.IsZero() || in.Definition.Name != journey.Trial || in.SubscriptionID == "" {
		t.Errorf("trial input = %+v", in)
	}
	// A redelivered trial_started attaches to the same enrollment.
	handle(t, h, record(t, "3", events.SubscriptionTrialStarted, svip))
	if e, err := st.GetEnrollment(context.Background(), "m-1001", journey.Trial, 1); err != nil || e.Status != loyalty.EnrollmentActive {
		t.Fatalf("trial enrollment = %+v, %v", e, err)
	}
	handle(t, h, record(t, "4", events.SubscriptionConverted, func(m map[string]any) { m["data"].(map[string]any)["plan"] = "svip" }))
	want := "trial/m-1001/1 " + workflows.SignalTrialConverted
	found := false
	for _, s := range tc.signals {
		found = found || s == want
	}
	if !found {
		t.Errorf("signals = %v, want %q", tc.signals, want)
	}
}

// A late webhook of an order from before the lapse does not end the
// win-back the lapse started.
func TestOldOrderLeavesWinbackOpen(t *testing.T) {
	h, st, _ := newHandler()
	ctx := context.Background()
	handle(t, h, record(t, "1", events.MemberRegistered, nil))
	if _, _, err := st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-1001", Journey: journey.Winback, Number: 20261001, Status: loyalty.EnrollmentActive, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	handle(t, h, record(t, "2", events.OrderPaid, nil)) // the sample order is from March 2026
	if e, err := st.GetEnrollment(ctx, "m-1001", journey.Winback, 20261001); err != nil || e.Status != loyalty.EnrollmentActive {
		t.Errorf("win-back after an older order = %+v, %v; want still active", e, err)
	}
}

func TestOrderEndsOpenWinback(t *testing.T) {
	h, st, tc := newHandler()
	ctx := context.Background()
	handle(t, h, record(t, "1", events.MemberRegistered, nil))
	if _, _, err := st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m-1001", Journey: journey.Winback, Number: 20260101, Status: loyalty.EnrollmentActive, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	signalsBefore := len(tc.signals)
	handle(t, h, record(t, "2", events.OrderPaid, nil))
	e, err := st.GetEnrollment(ctx, "m-1001", journey.Winback, 20260101)
	if err != nil || e.Status != loyalty.EnrollmentExited || e.Reason != workflows.OutcomeConverted {
		t.Errorf("win-back enrollment after an order = %+v, %v; want exited (converted)", e, err)
	}
	for _, s := range tc.signals[signalsBefore:] {
		if s != "activation/m-1001/1 "+workflows.SignalOrderPaid {
			t.Errorf("unexpected signal %q: win-back has no workflow to signal", s)
		}
	}
}
