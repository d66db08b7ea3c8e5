package activities_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/memberflow/memberflow/activities"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/internal/unsubscribe"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// startCall is one ExecuteWorkflow call.
type startCall struct {
	Options  client.StartWorkflowOptions
	Workflow any
	Args     []any
}

// fakeStarter records the workflows activities start and answers a start
// with an ID already running as Temporal does: USE_EXISTING attaches to
// it, anything else is refused with WorkflowExecutionAlreadyStarted.
type fakeStarter struct {
	mu      sync.Mutex
	calls   []startCall
	running map[string]bool
}

func (f *fakeStarter) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, startCall{Options: o, Workflow: wf, Args: args})
	if f.running[o.ID] {
		if o.WorkflowIDConflictPolicy == enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
			return nil, nil
		}
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("workflow execution already started", "", "")
	}
	if f.running == nil {
		f.running = map[string]bool{}
	}
	f.running[o.ID] = true
	return nil, nil
}

func (f *fakeStarter) started() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.running)
}

func (f *fakeStarter) recorded() []startCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]startCall(nil), f.calls...)
}

// calendarWorld is the calendar journeys over memstore with the real
// ledger, email catalog (so a missing template variable fails the scan)
// and shipped journey definitions, a recording mailer and a clock the
// scans set.
type calendarWorld struct {
	t       *testing.T
	st      *memstore.Store
	ledger  *ledger.Service
	a       *activities.Activities
	mailer  *recordingMailer
	starter *fakeStarter
	defs    journey.Set
	env     *testsuite.TestActivityEnvironment
	now     time.Time
}

func newCalendarWorld(t *testing.T) *calendarWorld {
	t.Helper()
	st := memstore.New()
	w := &calendarWorld{t: t, st: st, ledger: ledgerfix.Service(t, st), mailer: &recordingMailer{}, starter: &fakeStarter{},
		now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return w.now }
	w.ledger.Now = clock
	cat, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	links, err := unsubscribe.NewSigner([]byte("calendar-scan-link-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if w.defs, err = journey.Shipped(w.ledger.Rules.Program); err != nil {
		t.Fatal(err)
	}
	w.a = &activities.Activities{
		Store: st, Ledger: w.ledger, Mailer: w.mailer, Templates: cat,
		Brand: activities.Brand{Name: "Demo", ShopURL: "https://shop.example.com"},
		Links: links, PublicURL: "https://api.example.com/",
		Workflows: w.starter, TaskQueue: "memberflow-test",
		Log: quietLog, Now: clock,
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(quietLog))
	w.env = suite.NewTestActivityEnvironment()
	w.env.RegisterActivity(w.a)
	return w
}

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// cst is a wall-clock time in Shanghai, the programme's zone.
func cst(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, shanghai)
}

// save writes the member's projection as its next version.
func (w *calendarWorld) save(m loyalty.Member) {
	w.t.Helper()
	m.Version = 1
	if cur, err := w.st.GetMember(context.Background(), m.ID); err == nil {
		m.Version = cur.Version + 1
	}
	if err := w.st.SaveMember(context.Background(), m, fmt.Sprintf("ev-%s-%d", m.ID, m.Version)); err != nil {
		w.t.Fatal(err)
	}
}

// batch runs one ScanCalendar activity at req.At.
func (w *calendarWorld) batch(req activities.ScanRequest) activities.ScanResult {
	w.t.Helper()
	w.now = req.At
	val, err := w.env.ExecuteActivity((&activities.Activities{}).ScanCalendar, req)
	if err != nil {
		w.t.Fatalf("scan %s at %s: %v", req.Definition.Name, req.At, err)
	}
	var res activities.ScanResult
	if err := val.Get(&res); err != nil {
		w.t.Fatal(err)
	}
	return res
}

// request is a scan of def at at over the partitions the scan workflow
// plans, with its default catch-up window.
func request(def journey.Definition, at time.Time) activities.ScanRequest {
	return activities.ScanRequest{Definition: def, At: at, CatchUp: workflows.DefaultCatchUp,
		Partitions: workflows.PlanPartitions(def, at, workflows.DefaultCatchUp), PageSize: 100, MaxMembers: 1000}
}

// scan runs def's scan at at to the end, as the scan workflow does, and
// returns the summed counts and members scanned.
func (w *calendarWorld) scan(def journey.Definition, at time.Time) (map[string]int, int) {
	w.t.Helper()
	req := request(def, at)
	counts, scanned := map[string]int{}, 0
	for range 100 {
		res := w.batch(req)
		scanned += res.Scanned
		for k, v := range res.Counts {
			counts[k] += v
		}
		if res.Done {
			return counts, scanned
		}
		req.Cursor = res.Cursor
	}
	w.t.Fatal("scan did not finish in 100 batches")
	return nil, 0
}

func (w *calendarWorld) enrollment(memberID, name string, number int) loyalty.Enrollment {
	w.t.Helper()
	e, err := w.st.GetEnrollment(context.Background(), memberID, name, number)
	if err != nil {
		w.t.Fatalf("enrollment %s/%s/%d: %v", name, memberID, number, err)
	}
	return e
}

func (w *calendarWorld) enrollments(memberID string) []loyalty.Enrollment {
	w.t.Helper()
	es, err := w.st.ListEnrollments(context.Background(), memberID)
	if err != nil {
		w.t.Fatal(err)
	}
	return es
}

func (w *calendarWorld) coupons(memberID string) []loyalty.Coupon {
	w.t.Helper()
	a, err := w.st.GetAccount(context.Background(), memberID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return a.Coupons
}

func (w *calendarWorld) sends(memberID string) []store.Send {
	w.t.Helper()
	rows, err := w.st.ListSends(context.Background(), memberID)
	if err != nil {
		w.t.Fatal(err)
	}
	return rows
}

func wantData(t *testing.T, m mail.Message, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if m.Data[k] != v {
			t.Errorf("%s: data[%s] = %v, want %v", m.Template, k, m.Data[k], v)
		}
	}
}

// ---- birthday ----

// celebrant is a reachable member born on birthday whose date was given
// long enough ago, in Shanghai, with an account at V2 (银卡, ×2 in the
// birthday month) from an order paid on paidAt.
func (w *calendarWorld) celebrant(id, birthday string, setAt, paidAt time.Time, consent bool) {
	w.t.Helper()
	w.save(loyalty.Member{ID: id, Email: id + "@example.com", Name: "Mei " + id, Timezone: "Asia/Shanghai",
		Birthday: birthday, BirthdaySetAt: setAt, Consent: loyalty.Consent{EmailMarketing: consent}})
	ledgerfix.PayByCard(w.t, w.ledger, id, "o-"+id, "200", paidAt)
}

func TestScanBirthday(t *testing.T) {
	t.Run("gift and email on the day, at 10:00 local", func(t *testing.T) {
		w := newCalendarWorld(t)
		w.celebrant("m-1", "1990-11-23", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), true)
		def := w.defs[journey.Birthday]

		counts, scanned := w.scan(def, cst(2026, 11, 23, 9, 30))
		if scanned != 1 || counts["not_due"] != 1 || len(w.mailer.messages()) != 0 || len(w.coupons("m-1")) != 0 || len(w.enrollments("m-1")) != 0 {
			t.Fatalf("at 09:30: counts %v, scanned %d, %d emails, coupons %v, enrollments %v; want nothing yet",
				counts, scanned, len(w.mailer.messages()), w.coupons("m-1"), w.enrollments("m-1"))
		}

		counts, _ = w.scan(def, cst(2026, 11, 23, 10, 30))
		if counts["rewarded"] != 1 || counts["sent"] != 1 {
			t.Errorf("counts = %v", counts)
		}
		cps := w.coupons("m-1")
		if len(cps) != 1 || cps[0].Kind != "C15" || cps[0].Key != loyalty.BirthdayGiftKey("m-1", 2026) {
			t.Fatalf("coupons = %+v, want the 2026 birthday C15", cps)
		}
		key := activities.SendKey("m-1", journey.Birthday, 2026, "gift", 2026)
		msgs := w.mailer.to(key)
		if len(msgs) != 1 || msgs[0].Template != "birthday_gift" || msgs[0].Group != journey.Birthday {
			t.Fatalf("emails = %+v", w.mailer.messages())
		}
		wantData(t, msgs[0], map[string]any{
			"tier_name": "银卡", "birthday_multiplier": "2", "coupon_code": cps[0].Code, "coupon_name": "满169减15",
			"coupon_valid_until": "2026-12-23",
		})
		if e := w.enrollment("m-1", journey.Birthday, 2026); e.Status != loyalty.EnrollmentCompleted || e.Reason != "gift_given" {
			t.Errorf("enrollment = %+v", e)
		}

		// The next hourly run sees the same window: nothing changes.
		counts, _ = w.scan(def, cst(2026, 11, 23, 11, 30))
		if counts["done_before"] != 1 || counts["sent"] != 0 || len(w.mailer.messages()) != 1 || len(w.coupons("m-1")) != 1 {
			t.Errorf("second scan: counts %v, %d emails, coupons %+v", counts, len(w.mailer.messages()), w.coupons("m-1"))
		}
	})

	t.Run("no consent: the coupon without the email", func(t *testing.T) {
		w := newCalendarWorld(t)
		w.celebrant("m-2", "1990-11-23", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), false)
		counts, _ := w.scan(w.defs[journey.Birthday], cst(2026, 11, 23, 10, 30))
		if cps := w.coupons("m-2"); len(cps) != 1 || cps[0].Kind != "C15" {
			t.Errorf("coupons = %+v, want the birthday C15", cps)
		}
		if n := len(w.mailer.messages()); n != 0 {
			t.Errorf("%d emails to a member without consent", n)
		}
		rows := w.sends("m-2")
		if len(rows) != 1 || rows[0].Status != store.SendSkipped || rows[0].Reason != activities.SkipNoConsent {
			t.Errorf("send rows = %+v, want one skipped for no consent", rows)
		}
		if counts["skipped:no_consent"] != 1 {
			t.Errorf("counts = %v", counts)
		}
		stats, err := w.st.JourneyStats(context.Background(), journey.Birthday)
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 1 || stats[0].Counts["skipped:no_consent"] != 1 {
			t.Errorf("stats = %+v", stats)
		}
		if e := w.enrollment("m-2", journey.Birthday, 2026); e.Status != loyalty.EnrollmentCompleted {
			t.Errorf("enrollment = %+v", e)
		}
	})

	t.Run("29 February in a common year is the 28th", func(t *testing.T) {
		w := newCalendarWorld(t)
		w.celebrant("m-3", "2000-02-29", cst(2026, 1, 10, 9, 0), cst(2026, 1, 15, 12, 0), true)
		def := w.defs[journey.Birthday]
		at := cst(2026, 2, 28, 10, 30)
		if req := request(def, at); !slices.Contains(req.Partitions, "0229") {
			t.Fatalf("partitions %v do not include 0229", req.Partitions)
		}
		counts, _ := w.scan(def, at)
		if counts["sent"] != 1 || len(w.coupons("m-3")) != 1 {
			t.Fatalf("counts = %v, coupons %+v", counts, w.coupons("m-3"))
		}
		if msgs := w.mailer.to(activities.SendKey("m-3", journey.Birthday, 2026, "gift", 2026)); len(msgs) != 1 {
			t.Errorf("emails = %+v", w.mailer.messages())
		}
	})

	t.Run("29 February in a leap year waits for the 29th", func(t *testing.T) {
		w := newCalendarWorld(t)
		w.celebrant("m-4", "2000-02-29", cst(2027, 12, 1, 9, 0), cst(2027, 12, 5, 12, 0), true)
		def := w.defs[journey.Birthday]
		counts, _ := w.scan(def, cst(2028, 2, 28, 10, 30))
		if counts["sent"] != 0 || len(w.coupons("m-4")) != 0 {
			t.Fatalf("on the 28th: counts = %v, coupons %+v", counts, w.coupons("m-4"))
		}
		counts, _ = w.scan(def, cst(2028, 2, 29, 10, 30))
		if counts["sent"] != 1 || len(w.coupons("m-4")) != 1 {
			t.Errorf("on the 29th: counts = %v, coupons %+v", counts, w.coupons("m-4"))
		}
	})
}

// ---- tier expiry ----

// reviewed is a reachable member (programme zone) who reached V3 on
// 2025-12-23, so their review is on 2026-12-23. The order before that
// leaves the growth window by then: with only lastOrder counting, they
// fall to V2 unless it reaches V3's threshold (500).
func (w *calendarWorld) reviewed(id, firstOrder, lastOrder string) {
	w.t.Helper()
	w.save(loyalty.Member{ID: id, Email: id + "@example.com", Name: "Mei " + id, Consent: loyalty.Consent{EmailMarketing: true}})
	if firstOrder != "" {
		ledgerfix.PayByCard(w.t, w.ledger, id, "o1", firstOrder, cst(2025, 10, 1, 12, 0))
	}
	ledgerfix.PayByCard(w.t, w.ledger, id, "o2", lastOrder, cst(2025, 12, 23, 12, 0))
}

func TestScanTierExpiry(t *testing.T) {
	review := cst(2026, 12, 23, 0, 0)
	number := 20261222 // the review's UTC day names the enrollment
	d30, d7, d1 := cst(2026, 11, 23, 10, 30), cst(2026, 12, 16, 10, 30), cst(2026, 12, 22, 10, 30)

	t.Run("warned at d30, d7 and d1; d1 completes", func(t *testing.T) {
		w := newCalendarWorld(t)
		w.reviewed("at-risk", "400", "200")
		w.reviewed("safe", "", "600")
		def := w.defs[journey.TierExpiry]

		w.now = d30
		for id, wantDemote := range map[string]bool{"at-risk": true, "safe": false} {
			m, _ := w.st.GetMember(context.Background(), id)
			acc, err := w.st.GetAccount(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			out := w.ledger.Rules.ReviewOutlook(acc, m, d30)
			if acc.Tier != "V3" || !out.ReviewAt.Equal(review) || out.Demote != wantDemote {
				t.Fatalf("%s: tier %s, outlook %+v; the fixture is wrong", id, acc.Tier, out)
			}
			if wantDemote && (out.FallTo != "V2" || out.GrowthNeeded.String() != "300") {
				t.Fatalf("%s: outlook %+v", id, out)
			}
		}

		counts, scanned := w.scan(def, d30)
		if scanned != 2 || counts["sent"] != 1 || counts["safe"] != 1 {
			t.Errorf("d30 counts = %v, scanned %d", counts, scanned)
		}
		msgs := w.mailer.to(activities.SendKey("at-risk", journey.TierExpiry, number, "d30", 2026))
		if len(msgs) != 1 || msgs[0].Template != "tier_expiry_warning" {
			t.Fatalf("emails = %+v", w.mailer.messages())
		}
		wantData(t, msgs[0], map[string]any{
			"tier_name": "金卡", "fall_to_tier_name": "银卡", "growth_needed": "300", "days_left": "30", "review_on": "2026-12-23",
		})
		if n := len(w.sends("safe")); n != 0 || len(w.enrollments("safe")) != 0 {
			t.Errorf("the safe member has %d send rows and enrollments %+v", n, w.enrollments("safe"))
		}
		e := w.enrollment("at-risk", journey.TierExpiry, number)
		if e.Status != loyalty.EnrollmentActive || e.Definition != def.JSON() {
			t.Errorf("enrollment after d30 = %+v", e)
		}

		w.scan(def, d7)
		if msgs := w.mailer.to(activities.SendKey("at-risk", journey.TierExpiry, number, "d7", 2026)); len(msgs) != 1 || msgs[0].Data["days_left"] != "7" {
			t.Fatalf("d7 emails = %+v", msgs)
		}
		if e := w.enrollment("at-risk", journey.TierExpiry, number); e.Status != loyalty.EnrollmentActive {
			t.Errorf("enrollment after d7 = %+v", e)
		}
		w.scan(def, d1)
		if msgs := w.mailer.to(activities.SendKey("at-risk", journey.TierExpiry, number, "d1", 2026)); len(msgs) != 1 || msgs[0].Data["days_left"] != "1" {
			t.Fatalf("d1 emails = %+v", msgs)
		}
		if e := w.enrollment("at-risk", journey.TierExpiry, number); e.Status != loyalty.EnrollmentCompleted || e.Reason != "warned" {
			t.Errorf("enrollment after d1 = %+v", e)
		}
		if n := len(w.mailer.messages()); n != 3 {
			t.Errorf("%d emails in all, want 3", n)
		}
	})

	t.Run("a warned member who qualifies exits", func(t *testing.T) {
		w := newCalendarWorld(t)
		w.reviewed("at-risk", "400", "200")
		def := w.defs[journey.TierExpiry]
		w.scan(def, d30)
		if e := w.enrollment("at-risk", journey.TierExpiry, number); e.Status != loyalty.EnrollmentActive {
			t.Fatalf("enrollment after d30 = %+v", e)
		}
		ledgerfix.PayByCard(t, w.ledger, "at-risk", "o3", "300", cst(2026, 11, 25, 12, 0))
		counts, _ := w.scan(def, d7)
		if counts["safe"] != 1 || counts["sent"] != 0 {
			t.Errorf("d7 counts = %v", counts)
		}
		if e := w.enrollment("at-risk", journey.TierExpiry, number); e.Status != loyalty.EnrollmentExited || e.Reason != "qualified" {
			t.Errorf("enrollment = %+v, want exited as qualified", e)
		}
		if n := len(w.mailer.messages()); n != 1 {
			t.Errorf("%d emails, want only the d30 warning", n)
		}
	})
}

// ---- win-back ----

// lapsed is a reachable member in Shanghai whose last order was at last.
func (w *calendarWorld) lapsed(id string, last time.Time) {
	w.t.Helper()
	w.save(loyalty.Member{ID: id, Email: id + "@example.com", Name: "Mei " + id, Timezone: "Asia/Shanghai",
		Consent: loyalty.Consent{EmailMarketing: true}, OrderCount: 1, LastOrderAt: last})
}

// relapse records a newer last order on the member's projection.
func (w *calendarWorld) relapse(id string, last time.Time) {
	w.t.Helper()
	m, err := w.st.GetMember(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	m.LastOrderAt, m.OrderCount = last, m.OrderCount+1
	w.save(m)
}

func TestScanWinback(t *testing.T) {
	last := cst(2026, 9, 24, 12, 0)
	number := 20260924
	d60, d120, d365 := cst(2026, 11, 23, 10, 30), cst(2027, 1, 22, 10, 30), cst(2027, 9, 24, 10, 30)

	t.Run("d60, d120 and d365", func(t *testing.T) {
		w := newCalendarWorld(t)
		w.lapsed("gone", last)
		w.lapsed("back", cst(2026, 11, 1, 12, 0)) // ordered since: in no partition of these scans
		def := w.defs[journey.Winback]

		counts, scanned := w.scan(def, d60)
		if scanned != 1 || counts["entered"] != 1 || counts["rewarded"] != 1 || counts["sent"] != 1 {
			t.Errorf("d60 counts = %v, scanned %d", counts, scanned)
		}
		e := w.enrollment("gone", journey.Winback, number)
		if e.Status != loyalty.EnrollmentActive || e.Definition != def.JSON() {
			t.Fatalf("enrollment = %+v, want active with the definition pinned", e)
		}
		key60 := activities.SendKey("gone", journey.Winback, number, "d60", 2026)
		cps := w.coupons("gone")
		if len(cps) != 1 || cps[0].Kind != "C15" || cps[0].Key != key60 {
			t.Fatalf("coupons = %+v", cps)
		}
		msgs := w.mailer.to(key60)
		if len(msgs) != 1 || msgs[0].Template != "winback_miss_you" {
			t.Fatalf("emails = %+v", w.mailer.messages())
		}
		wantData(t, msgs[0], map[string]any{"coupon_code": cps[0].Code, "coupon_name": "满169减15"})

		counts, _ = w.scan(def, d120)
		key120 := activities.SendKey("gone", journey.Winback, number, "d120", 2027)
		var free *loyalty.Coupon
		for _, c := range w.coupons("gone") {
			if c.Key == key120 {
				free = &c
			}
		}
		if free == nil || free.Kind != "FREE25" {
			t.Fatalf("d120 coupons = %+v", w.coupons("gone"))
		}
		acc, _ := w.st.GetAccount(context.Background(), "gone")
		if len(acc.Boosts) != 1 || acc.Boosts[0].Key != key120 || acc.Boosts[0].Multiplier.String() != "2" || !acc.Boosts[0].Until.Equal(d120.Add(14*24*time.Hour)) {
			t.Fatalf("boosts = %+v", acc.Boosts)
		}
		msgs = w.mailer.to(key120)
		if len(msgs) != 1 || msgs[0].Template != "winback_offer" {
			t.Fatalf("d120 emails = %+v", w.mailer.messages())
		}
		wantData(t, msgs[0], map[string]any{"coupon_code": free.Code, "boost_multiplier": "2", "boost_until": "2027-02-05"})
		if e := w.enrollment("gone", journey.Winback, number); e.Status != loyalty.EnrollmentActive || counts["entered"] != 0 {
			t.Errorf("after d120: enrollment %+v, counts %v", e, counts)
		}

		w.scan(def, d365)
		if msgs := w.mailer.to(activities.SendKey("gone", journey.Winback, number, "d365", 2027)); len(msgs) != 1 || msgs[0].Template != "winback_last" {
			t.Fatalf("d365 emails = %+v", msgs)
		}
		if e := w.enrollment("gone", journey.Winback, number); e.Status != loyalty.EnrollmentCompleted || e.Reason != "last_message" {
			t.Errorf("enrollment after d365 = %+v", e)
		}
		if n := len(w.sends("back")); n != 0 || len(w.enrollments("back")) != 0 {
			t.Errorf("the member who ordered since has %d send rows, enrollments %+v", n, w.enrollments("back"))
		}
		if n := len(w.mailer.messages()); n != 3 {
			t.Errorf("%d emails in all, want 3", n)
		}
	})

	t.Run("an older enrollment ends before a new one opens", func(t *testing.T) {
		w := newCalendarWorld(t)
		def := w.defs[journey.Winback]
		// 07:00 in Shanghai is the day before in UTC, which names the
		// enrollment; the steps count from the member's local day.
		w.lapsed("again", cst(2026, 7, 1, 7, 0))
		w.scan(def, cst(2026, 8, 30, 10, 30))
		if e := w.enrollment("again", journey.Winback, 20260630); e.Status != loyalty.EnrollmentActive {
			t.Fatalf("first enrollment = %+v", e)
		}
		// The member ordered on 09-24 and dispatch's exit was missed.
		w.relapse("again", last)
		w.scan(def, d60)
		if e := w.enrollment("again", journey.Winback, 20260630); e.Status != loyalty.EnrollmentExited || e.Reason != "ordered" {
			t.Errorf("older enrollment = %+v, want exited as ordered", e)
		}
		if e := w.enrollment("again", journey.Winback, number); e.Status != loyalty.EnrollmentActive {
			t.Errorf("new enrollment = %+v", e)
		}
		active := 0
		for _, e := range w.enrollments("again") {
			if e.Status == loyalty.EnrollmentActive {
				active++
			}
		}
		if active != 1 {
			t.Errorf("%d active win-back enrollments, want 1", active)
		}
		if msgs := w.mailer.to(activities.SendKey("again", journey.Winback, number, "d60", 2026)); len(msgs) != 1 {
			t.Errorf("emails = %+v", w.mailer.messages())
		}
	})

	t.Run("an edit after entry leaves the open enrollment's steps", func(t *testing.T) {
		w := newCalendarWorld(t)
		shipped := w.defs[journey.Winback]
		w.lapsed("pinned", last)
		w.scan(shipped, d60)

		edited := w.defs.Clone()[journey.Winback]
		edited.Version++
		edited.Steps[1].Email = "winback_miss_you"
		edited.Steps[1].Reward = &journey.Reward{Coupon: "C15"}
		// A member entering after the edit gets the edited journey.
		w.lapsed("newcomer", cst(2026, 11, 23, 12, 0))

		w.scan(edited, d120)
		key := activities.SendKey("pinned", journey.Winback, number, "d120", 2027)
		msgs := w.mailer.to(key)
		if len(msgs) != 1 || msgs[0].Template != "winback_offer" {
			t.Errorf("pinned member's d120 emails = %+v, want the pinned winback_offer", msgs)
		}
		acc, _ := w.st.GetAccount(context.Background(), "pinned")
		if len(acc.Boosts) != 1 {
			t.Errorf("pinned member's boosts = %+v, want the pinned ×2", acc.Boosts)
		}
		kinds := map[string]string{}
		for _, c := range acc.Coupons {
			kinds[c.Key] = c.Kind
		}
		if kinds[key] != "FREE25" {
			t.Errorf("pinned member's d120 coupon = %q, want FREE25", kinds[key])
		}
		if e := w.enrollment("newcomer", journey.Winback, 20261123); e.Definition != edited.JSON() {
			t.Errorf("newcomer's pinned definition = %s, want the edited one", e.Definition)
		}
		if shipped.Steps[1].Reward.Coupon != "FREE25" {
			t.Errorf("editing a clone changed the shipped definition: %+v", shipped.Steps[1].Reward)
		}
	})
}

// ---- deferral ----

// An email a scan's contact policy defers is handed to a DeferredSend
// workflow named after its key; later scans start no other.
func TestScanDefersToWorkflow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(w *calendarWorld)
		def    string
		at     time.Time
		key    string
		starts int // calls a second scan makes (attaching to the running workflow)
	}{
		{
			name: "birthday at 22:30",
			setup: func(w *calendarWorld) {
				w.celebrant("m-1", "1990-11-23", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), true)
			},
			def:    journey.Birthday,
			at:     cst(2026, 11, 23, 22, 30),
			key:    activities.SendKey("m-1", journey.Birthday, 2026, "gift", 2026),
			starts: 1, // the enrollment is complete: the second scan sends nothing
		},
		{
			name:   "win-back at 22:30",
			setup:  func(w *calendarWorld) { w.lapsed("m-1", cst(2026, 9, 24, 12, 0)) },
			def:    journey.Winback,
			at:     cst(2026, 11, 23, 22, 30),
			key:    activities.SendKey("m-1", journey.Winback, 20260924, "d60", 2026),
			starts: 2, // the enrollment is open: the second scan asks again and attaches
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newCalendarWorld(t)
			tc.setup(w)
			def := w.defs[tc.def]
			counts, _ := w.scan(def, tc.at)
			if counts["deferred"] != 1 || counts["sent"] != 0 {
				t.Errorf("counts = %v", counts)
			}
			if n := len(w.mailer.messages()); n != 0 {
				t.Fatalf("%d emails sent in quiet hours", n)
			}
			if row := sendRow(t, w.st, "m-1", tc.key); row.Status != store.SendPending {
				t.Errorf("row = %+v, want pending", row)
			}
			calls := w.starter.recorded()
			if len(calls) != 1 {
				t.Fatalf("%d workflow starts, want 1", len(calls))
			}
			c := calls[0]
			if c.Options.ID != "send/"+tc.key || c.Options.ID != activities.DeferredSendWorkflowID(tc.key) || c.Options.TaskQueue != "memberflow-test" ||
				c.Options.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
				t.Errorf("options = %+v", c.Options)
			}
			if c.Workflow != activities.DeferredSendWorkflow {
				t.Errorf("workflow = %v, want %s", c.Workflow, activities.DeferredSendWorkflow)
			}
			if len(c.Args) != 1 {
				t.Fatalf("args = %+v", c.Args)
			}
			in, ok := c.Args[0].(activities.DeferredSendInput)
			if !ok {
				t.Fatalf("input = %T, want DeferredSendInput", c.Args[0])
			}
			// The slot is 09:00 the next morning, member time.
			if want := cst(2026, 11, 24, 9, 0); !in.Until.Equal(want) {
				t.Errorf("until = %s, want %s", in.Until, want)
			}
			r := in.Request
			if activities.SendKey(r.MemberID, r.Journey, r.Enrollment, r.Step, r.Year) != tc.key || r.Template == "" || r.Deadline.IsZero() || r.Vars["coupon_code"] == "" {
				t.Errorf("request = %+v", r)
			}

			w.scan(def, tc.at.Add(time.Hour))
			if got := len(w.starter.recorded()); got != tc.starts {
				t.Errorf("%d start calls after the second scan, want %d", got, tc.starts)
			}
			if got := w.starter.started(); got != 1 {
				t.Errorf("%d deferral workflows, want 1", got)
			}
			if n := len(w.mailer.messages()); n != 0 {
				t.Errorf("%d emails sent in quiet hours", n)
			}
		})
	}
}

// ---- paging ----

// Batches of one member: the cursor moves member by member, Done comes
// with the batch that finds no more, and the counts add up.
func TestScanPagesInBatches(t *testing.T) {
	w := newCalendarWorld(t)
	ids := []string{"m-a", "m-b", "m-c"}
	for _, id := range ids {
		w.celebrant(id, "1990-11-23", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), true)
	}
	req := request(w.defs[journey.Birthday], cst(2026, 11, 23, 10, 30))
	req.PageSize, req.MaxMembers = 1, 1
	var cursors []activities.ScanCursor
	counts, scanned, batches := map[string]int{}, 0, 0
	for {
		res := w.batch(req)
		batches++
		scanned += res.Scanned
		for k, v := range res.Counts {
			counts[k] += v
		}
		cursors = append(cursors, res.Cursor)
		if res.Done {
			if res.Scanned != 0 || res.Cursor.Partition != len(req.Partitions) {
				t.Errorf("last batch = %+v", res)
			}
			break
		}
		if res.Scanned != 1 {
			t.Errorf("batch %d scanned %d, want 1", batches, res.Scanned)
		}
		if batches > 10 {
			t.Fatal("no end")
		}
		req.Cursor = res.Cursor
	}
	if batches != 4 {
		t.Errorf("%d batches, want 3 of one member and the one that finds the end", batches)
	}
	part := 0
	for i, p := range req.Partitions {
		if p == "1123" {
			part = i
		}
	}
	for i, id := range ids {
		if want := (activities.ScanCursor{Partition: part, After: id}); cursors[i] != want {
			t.Errorf("cursor after batch %d = %+v, want %+v", i+1, cursors[i], want)
		}
	}
	if scanned != 3 || counts["rewarded"] != 3 || counts["sent"] != 3 || len(w.mailer.messages()) != 3 {
		t.Errorf("scanned %d, counts %v, %d emails", scanned, counts, len(w.mailer.messages()))
	}
}

// Only the calendar journeys are scanned, and only with a ledger.
func TestScanRejectsWhatItCannotRun(t *testing.T) {
	w := newCalendarWorld(t)
	at := cst(2026, 11, 23, 10, 30)
	if _, err := w.env.ExecuteActivity((&activities.Activities{}).ScanCalendar, request(w.defs[journey.Activation], at)); err == nil {
		t.Error("a scan of the activation journey succeeded")
	}
	a := *w.a
	a.Ledger = nil
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(quietLog))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&a)
	if _, err := env.ExecuteActivity((&activities.Activities{}).ScanCalendar, request(w.defs[journey.Birthday], at)); err == nil {
		t.Error("a scan without a ledger succeeded")
	}
}
