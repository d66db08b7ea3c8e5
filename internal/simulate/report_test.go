package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/cost"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/projection"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
)

var update = flag.Bool("update", false, "re-record the golden reports in testdata/")

// golden compares got with testdata/name byte for byte, or with -update
// writes it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/simulate -run %s -update to record it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- got\n%s", path, got)
	}
}

// handBuilt is an outcome whose store holds what the engine would record
// for three members of activation and svip_upsell: enrollments, send
// rows, timeline decisions, counters, provider feedback and one order.
func handBuilt(t *testing.T) Outcome {
	t.Helper()
	ctx := context.Background()
	p := program(t)
	st := memstore.New()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2027, 1, 3, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai
	members := []Member{
		{ID: "m-1", Registered: t0.Add(-48 * time.Hour), Consent: true, Timezone: "Asia/Shanghai"},
		{ID: "m-2", Registered: t0.Add(-time.Hour), Consent: true},
		{ID: "m-3", Registered: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), Tier: "V3"},
	}
	enrol := func(m, j string, status loyalty.EnrollmentStatus, reason string) {
		arm := loyalty.ArmTreated
		if m == "m-2" {
			arm = loyalty.ArmProgrammeHoldout // counted, though the test gives them sends
		}
		_, _, err := st.StartEnrollment(ctx, loyalty.Enrollment{MemberID: m, Journey: j, Number: 1, Status: loyalty.EnrollmentActive, StartedAt: t0, Arm: arm})
		must(err)
		if status != loyalty.EnrollmentActive {
			must(st.EndEnrollment(ctx, m, j, 1, status, reason, t0.Add(72*time.Hour)))
		}
	}
	enrol("m-1", "activation", loyalty.EnrollmentExited, "converted")
	enrol("m-2", "activation", loyalty.EnrollmentCompleted, "")
	enrol("m-3", "svip_upsell", loyalty.EnrollmentActive, "")
	enrol("m-3", "not_simulated", loyalty.EnrollmentActive, "")

	send := func(m, j, step, tpl string, status store.SendStatus, reason string, at time.Time) {
		key := m + "#" + j + "#1#" + step + "#2027"
		_, _, err := st.ReserveSend(ctx, store.Send{Key: key, MemberID: m, Journey: j, Enrollment: 1, Step: step, Template: tpl, Status: store.SendPending, CreatedAt: at, UpdatedAt: at})
		must(err)
		if status != store.SendPending {
			must(st.CompleteSend(ctx, store.SendRef{MemberID: m, Key: key, Journey: j, Step: step}, status, "msg-"+key, reason, at))
		}
	}
	send("m-1", "activation", "welcome", "activation_welcome", store.SendSent, "", t0)
	send("m-2", "activation", "welcome", "activation_welcome", store.SendSent, "", t0.Add(time.Hour))
	send("m-2", "activation", "nudge", "activation_nudge", store.SendSkipped, "contact_policy: frequency_cap", t0.Add(4*24*time.Hour))
	send("m-2", "activation", "last_nudge", "activation_last_nudge", store.SendSkipped, "no_consent", t0.Add(7*24*time.Hour))
	send("m-3", "svip_upsell", "offer", "svip_offer", store.SendPending, "", t0.Add(2*24*time.Hour))

	tl := func(m, j, step, kind, reason string, at time.Time, values map[string]any) {
		must(st.AppendTimeline(ctx, store.TimelineEntry{MemberID: m, Journey: j, Enrollment: 1, Step: step, Kind: kind, Reason: reason, Values: values, At: at, Key: m + "#" + j + "#1#" + step}))
	}
	tl("m-1", "activation", "welcome", "enrolled", "", t0, nil)
	tl("m-1", "activation", "welcome", "reward_granted", "", t0.Add(time.Millisecond), map[string]any{"coupon": "NEW8", "points": 50})
	tl("m-1", "activation", "welcome", "sent", "", t0.Add(2*time.Millisecond), nil)
	tl("m-1", "activation", "nudge", "goal_reached", "event", t0.Add(24*time.Hour), nil)
	tl("m-2", "activation", "welcome", "reward_granted", "", t0.Add(time.Hour), map[string]any{"coupon": "NEW8"})
	// The step ran again after a deferral: its reward, granted once under
	// the step's key, is recorded again and counted once.
	tl("m-2", "activation", "welcome", "reward_granted", "", t0.Add(time.Hour-time.Minute), map[string]any{"coupon": "NEW8"})
	tl("m-2", "activation", "welcome", "sent", "", t0.Add(time.Hour+time.Millisecond), nil)
	tl("m-2", "activation", "nudge", "deferred", "quiet_hours", t0.Add(3*24*time.Hour-12*time.Hour), nil)
	tl("m-2", "activation", "nudge", "deferred", "frequency_cap", t0.Add(3*24*time.Hour), nil)
	tl("m-3", "svip_upsell", "wait_trial", "wait", "timeout", t0.Add(time.Hour), nil)
	tl("m-3", "svip_upsell", "check", "branch", "case 0", t0.Add(time.Hour+time.Millisecond), map[string]any{"goto": "offer", "member.tier": "V3"})
	tl("m-3", "svip_upsell", "offer", "reward_granted", "", t0.Add(time.Hour+2*time.Millisecond), map[string]any{"coupon": "FREE25"})
	tl("m-3", "svip_upsell", "offer", "deferred", "quiet_hours", t0.Add(time.Hour+3*time.Millisecond), nil)
	tl("m-3", "not_simulated", "x", "sent", "", t0, nil)

	must(st.CountJourney(ctx, "activation", "m-1", "m-1#activation#1#goal", map[string]int64{store.CountGoal: 1}))
	for i, typ := range []string{store.EventOpen, store.EventClick, store.EventOpen} {
		must(st.RecordSendEvent(ctx, store.SendEvent{ID: "sg-" + string(rune('a'+i)), MemberID: "m-1", SendKey: "m-1#activation#1#welcome#2027",
			Journey: "activation", Step: "welcome", Enrollment: 1, Type: typ, At: t0.Add(time.Hour)}))
	}

	// One order by m-1 in the span, through the real projection and ledger.
	l, err := ledger.New(templates.Program, []byte("0123456789abcdef"), st, nil)
	must(err)
	now := t0
	l.Now = func() time.Time { return now }
	b := model(t, DefaultBehaviour(), 1)
	for _, e := range []events.Envelope{b.registration(members[0]), b.order(members[0], "1", t0.Add(30*time.Hour), mustDecimal(t, "120.50"), b.stream("test"))} {
		now = e.OccurredAt
		data, err := e.DecodeData()
		must(err)
		_, err = projection.Apply(ctx, st, e, data)
		must(err)
		must(l.ApplyEvent(ctx, e, data))
	}

	return Outcome{
		Config: Config{Program: p, Journeys: definitions(t, "activation", "svip_upsell"), Members: members,
			Start: time.Date(2027, 1, 1, 0, 0, 0, 0, p.Location), Days: 30, Seed: 42, Behaviour: b},
		Store: st,
		Emails: []Email{
			{MemberID: "m-1", Journey: "activation", Step: "welcome", Template: "activation_welcome", Key: "m-1#activation#1#welcome#2027", Enrollment: 1, At: t0},
			{MemberID: "m-2", Journey: "activation", Step: "welcome", Template: "activation_welcome", Key: "m-2#activation#1#welcome#2027", Enrollment: 1, At: t0.Add(time.Hour)},
			{MemberID: "m-2", Journey: "svip_upsell", Step: "offer", Template: "svip_offer", Key: "m-2#svip_upsell#1#offer#2027", Enrollment: 1, At: t0.Add(2 * time.Hour)},
		},
		Actions: 90, ActionKinds: cost.Actions{WorkflowStarts: 12, Activities: 70, Timers: 8},
	}
}

func TestReportOfHandBuiltOutcome(t *testing.T) {
	o := handBuilt(t)
	r, err := NewReport(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Journeys, []string{"activation", "svip_upsell"}; !reflect.DeepEqual(got, want) {
		t.Errorf("journeys %v", got)
	}
	if got, want := r.Members, (Cohort{Total: 3, Existing: 1, Consent: 2}); got != want {
		t.Errorf("members %+v, want %+v", got, want)
	}
	act, svip := r.PerJourney[0], r.PerJourney[1]
	wantAct := JourneySummary{Name: "activation", Enrolled: 2, Completed: 1, Exited: 1, HeldOut: 1,
		Ended: map[string]int{"exited:converted": 1, "completed": 1}, Goals: 1, GoalRate: 0.5,
		Sent: 2, Deferrals: 2, Skipped: 2, RewardCost: money(t, "54.80")} // NEW8 2 × 0.3 × 8 + 50 points × 1
	if !sameJSON(act, wantAct) {
		t.Errorf("activation\n got %+v\nwant %+v", act, wantAct)
	}
	wantSvip := JourneySummary{Name: "svip_upsell", Enrolled: 1, Active: 1, Ended: map[string]int{}, Deferrals: 1, Pending: 1,
		RewardCost: money(t, "7.50")} // FREE25 1 × 0.3 × 25
	if !sameJSON(svip, wantSvip) {
		t.Errorf("svip_upsell\n got %+v\nwant %+v", svip, wantSvip)
	}
	if got, want := r.Totals, (Totals{Enrolled: 3, Sent: 2, Deferrals: 3, Skipped: 2, Goals: 1, RewardCost: money(t, "62.30")}); !sameJSON(got, want) {
		t.Errorf("totals %+v, want %+v", got, want)
	}
	wantSteps := []StepSummary{
		{Journey: "activation", Step: "welcome", Sent: 2, Opened: 1, Clicked: 1},
		{Journey: "activation", Step: "nudge", Deferrals: 2, Skipped: 1},
		{Journey: "activation", Step: "last_nudge", Skipped: 1},
		{Journey: "svip_upsell", Step: "offer", Deferrals: 1},
	}
	if !reflect.DeepEqual(r.Steps, wantSteps) {
		t.Errorf("steps\n got %+v\nwant %+v", r.Steps, wantSteps)
	}
	wantReasons := []ReasonCount{
		{"activation", "deferred", "frequency_cap", 1}, {"activation", "deferred", "quiet_hours", 1},
		{"activation", "skipped", "contact_policy: frequency_cap", 1}, {"activation", "skipped", "no_consent", 1},
		{"svip_upsell", "deferred", "quiet_hours", 1},
	}
	if !reflect.DeepEqual(r.Reasons, wantReasons) {
		t.Errorf("reasons\n got %+v\nwant %+v", r.Reasons, wantReasons)
	}
	// m-2's nudge was held back (deferred on day 3, skipped on day 4)
	// while their welcome and an svip_upsell email held the slots.
	wantColl := []CapCollision{{"activation", "activation", 1, 1}, {"activation", "svip_upsell", 1, 1}}
	if !reflect.DeepEqual(r.Collisions, wantColl) {
		t.Errorf("collisions %+v, want %+v", r.Collisions, wantColl)
	}
	wantPaths := []PathCount{
		{Journey: "svip_upsell", Step: "wait_trial", Kind: "wait", Path: "timeout → check", Count: 1, Share: 1},
		{Journey: "svip_upsell", Step: "check", Kind: "branch", Path: "case 0 → offer", Count: 1, Share: 1},
	}
	if !reflect.DeepEqual(r.Paths, wantPaths) {
		t.Errorf("paths %+v, want %+v", r.Paths, wantPaths)
	}
	wantRewards := []RewardLine{
		{Journey: "activation", Step: "welcome", Reward: "coupon NEW8", Granted: 2, FaceValue: money(t, "8"), Redemption: 0.3, Cost: money(t, "4.80")},
		{Journey: "activation", Step: "welcome", Reward: "points", Granted: 1, Points: 50, Cost: money(t, "50")},
		{Journey: "svip_upsell", Step: "offer", Reward: "coupon FREE25", Granted: 1, FaceValue: money(t, "25"), Redemption: 0.3, Cost: money(t, "7.50")},
	}
	if !sameJSON(r.Rewards, wantRewards) {
		t.Errorf("rewards\n got %+v\nwant %+v", r.Rewards, wantRewards)
	}
	if got, want := r.Orders, (Orders{Count: 1, Revenue: money(t, "120.50")}); !sameJSON(got, want) {
		t.Errorf("orders %+v, want %+v", got, want)
	}
	// 90 actions for 3 members over 30 days: 365 per member-year.
	if got, want := r.Temporal, (TemporalActions{Total: 90, PerMemberYear: 365, ByKind: map[string]int{"activities": 70, "timers": 8, "workflow_starts": 12}}); !reflect.DeepEqual(got, want) {
		t.Errorf("temporal %+v", got)
	}
	if len(r.SendsPerDay) != 30 || r.SendsPerDay[2].Day != "2027-01-03" || r.SendsPerDay[2].Total != 3 ||
		!reflect.DeepEqual(r.SendsPerDay[2].ByJourney, map[string]int{"activation": 2, "svip_upsell": 1}) {
		t.Errorf("sends per day: %+v", r.SendsPerDay[:3])
	}

	var md, js bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden(t, "handbuilt.md", md.Bytes())
	golden(t, "handbuilt.json", js.Bytes())
	// The JSON reads back as the report.
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(reencode(t, &back), js.String()) {
		t.Error("the JSON does not read back as itself")
	}
	// A second report of the same outcome is the same, byte for byte.
	r2, err := NewReport(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var md2 bytes.Buffer
	if err := r2.WriteMarkdown(&md2); err != nil {
		t.Fatal(err)
	}
	if md.String() != md2.String() {
		t.Error("two reports of one outcome differ")
	}
}

func reencode(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestReportNeedsProgrammeAndStore(t *testing.T) {
	if _, err := NewReport(context.Background(), Outcome{Store: memstore.New()}); err == nil {
		t.Error("no programme: no error")
	}
	if _, err := NewReport(context.Background(), Outcome{Config: Config{Program: program(t)}}); err == nil {
		t.Error("no store: no error")
	}
}

func mustDecimal(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func money(t *testing.T, s string) Money { return Money{mustDecimal(t, s)} }

// sameJSON compares values holding money by their JSON: 4.8 and 4.80 are
// one amount.
func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
