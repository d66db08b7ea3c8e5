package activities_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	enumspb "go.temporal.io/api/enums/v1"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/internal/unsubscribe"
	"github.com/memberflow/memberflow/templates"
)

// fakeRunner records the Journey workflows the enroller starts and the
// signals it sends, as workflows.Runner would ask Temporal.
type fakeRunner struct {
	mu      sync.Mutex
	starts  []journeys.Start
	signals map[string][]journeys.Signal
}

func (r *fakeRunner) StartEnrollment(_ context.Context, s journeys.Start) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, s)
	return nil
}

func (r *fakeRunner) SignalEnrollment(_ context.Context, id string, s journeys.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.signals == nil {
		r.signals = map[string][]journeys.Signal{}
	}
	r.signals[id] = append(r.signals[id], s)
	return nil
}

// workflowIDs are the distinct workflows started, in order.
func (r *fakeRunner) workflowIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.starts {
		if !slices.Contains(out, s.WorkflowID) {
			out = append(out, s.WorkflowID)
		}
	}
	return out
}

// scanWorld is the journey engine's scans over memstore with the real
// ledger, email catalog, CEL engine and journeys service (the shipped
// journeys published into the store), a recording mailer, a recording
// runner and workflow starter, and a clock the scans set.
type scanWorld struct {
	t       *testing.T
	st      *memstore.Store
	ledger  *ledger.Service
	svc     *journeys.Service
	enr     *journeys.Enroller
	a       *activities.Activities
	mailer  *recordingMailer
	starter *fakeStarter
	runner  *fakeRunner
	env     *testsuite.TestActivityEnvironment
	now     time.Time
}

func newScanWorld(t *testing.T) *scanWorld {
	t.Helper()
	st := memstore.New()
	w := &scanWorld{t: t, st: st, ledger: ledgerfix.Service(t, st), mailer: &recordingMailer{}, starter: &fakeStarter{}, runner: &fakeRunner{},
		now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return w.now }
	w.ledger.Now = clock
	cat, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	links, err := unsubscribe.NewSigner([]byte("journey-scan-link-secret"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(w.ledger.Rules.Program)
	if err != nil {
		t.Fatal(err)
	}
	w.svc = &journeys.Service{Store: st, Checks: journeys.NewChecks(w.ledger.Rules.Program, cat, eng.Cond), Now: clock}
	if _, err := w.svc.PublishFiles(context.Background(), templates.Journeys, journeys.ShippedDir); err != nil {
		t.Fatal(err)
	}
	w.enr = &journeys.Enroller{Store: st, Engine: eng, Runner: w.runner, Now: clock}
	w.a = &activities.Activities{
		Store: st, Ledger: w.ledger, Mailer: w.mailer, Templates: cat,
		Brand: activities.Brand{Name: "Demo", ShopURL: "https://shop.example.com"},
		Links: links, PublicURL: "https://api.example.com/",
		Workflows: w.starter, TaskQueue: "memberflow-test",
		Log: quietLog, Now: clock, Engine: eng, Journeys: w.svc, Enroller: w.enr,
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(quietLog))
	w.env = suite.NewTestActivityEnvironment()
	w.env.RegisterActivity(w.a)
	return w
}

// request is a scan of the journey at at with the default catch-up
// window.
func request24(name string, at time.Time) activities.JourneyScanRequest {
	return activities.JourneyScanRequest{Journey: name, At: at, CatchUp: 24 * time.Hour, PageSize: 100, MaxMembers: 1000}
}

func (w *scanWorld) plan(req activities.JourneyScanRequest) activities.JourneyScanPlan {
	w.t.Helper()
	w.now = req.At
	val, err := w.env.ExecuteActivity((&activities.Activities{}).PlanJourneyScan, req)
	if err != nil {
		w.t.Fatalf("plan %s at %s: %v", req.Journey, req.At, err)
	}
	var plan activities.JourneyScanPlan
	if err := val.Get(&plan); err != nil {
		w.t.Fatal(err)
	}
	return plan
}

func (w *scanWorld) batch(req activities.JourneyScanRequest) activities.JourneyScanResult {
	w.t.Helper()
	w.now = req.At
	val, err := w.env.ExecuteActivity((&activities.Activities{}).ScanJourney, req)
	if err != nil {
		w.t.Fatalf("scan %s at %s: %v", req.Journey, req.At, err)
	}
	var res activities.JourneyScanResult
	if err := val.Get(&res); err != nil {
		w.t.Fatal(err)
	}
	return res
}

// scan plans and runs the journey's scan at at to the end, as the
// JourneyScan workflow does, and returns the summed counts and members
// scanned.
func (w *scanWorld) scan(name string, at time.Time) (map[string]int, int) {
	w.t.Helper()
	req := request24(name, at)
	req.Plan = w.plan(req)
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

func (w *scanWorld) save(m loyalty.Member) {
	w.t.Helper()
	m.Version = 1
	if cur, err := w.st.GetMember(context.Background(), m.ID); err == nil {
		m.Version = cur.Version + 1
	}
	if err := w.st.SaveMember(context.Background(), m, fmt.Sprintf("ev-%s-%d", m.ID, m.Version)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *scanWorld) enrollment(memberID, name string, number int) loyalty.Enrollment {
	w.t.Helper()
	e, err := w.st.GetEnrollment(context.Background(), memberID, name, number)
	if err != nil {
		w.t.Fatalf("enrollment %s/%s/%d: %v", name, memberID, number, err)
	}
	return e
}

func (w *scanWorld) enrollments(memberID string) []loyalty.Enrollment {
	w.t.Helper()
	es, err := w.st.ListEnrollments(context.Background(), memberID)
	if err != nil {
		w.t.Fatal(err)
	}
	return es
}

func (w *scanWorld) coupons(memberID string) []loyalty.Coupon {
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

func (w *scanWorld) sends(memberID string) []store.Send {
	w.t.Helper()
	rows, err := w.st.ListSends(context.Background(), memberID)
	if err != nil {
		w.t.Fatal(err)
	}
	return rows
}

// timeline is the member's timeline oldest first as "kind step reason".
func (w *scanWorld) timeline(memberID string) []string {
	w.t.Helper()
	es, _, err := w.st.ListTimeline(context.Background(), memberID, 1000, "")
	if err != nil {
		w.t.Fatal(err)
	}
	out := make([]string, 0, len(es))
	for i := len(es) - 1; i >= 0; i-- {
		out = append(out, strings.TrimSpace(es[i].Kind+" "+es[i].Step+" "+es[i].Reason))
	}
	return out
}

// live is the journey's live version.
func (w *scanWorld) live(name string) journey.Definition {
	w.t.Helper()
	st, err := w.st.GetJourney(context.Background(), name)
	if err != nil {
		w.t.Fatal(err)
	}
	def, err := w.svc.Version(context.Background(), name, st.Live)
	if err != nil {
		w.t.Fatal(err)
	}
	return def
}

// publish publishes a journey written in the test, at the world's clock.
func (w *scanWorld) publish(src string) journey.Definition {
	w.t.Helper()
	p, err := w.svc.Publish(context.Background(), []byte(src), "test")
	if err != nil {
		w.t.Fatal(err)
	}
	def, err := w.svc.Version(context.Background(), p.Name, p.Version)
	if err != nil {
		w.t.Fatal(err)
	}
	return def
}

// shipped is a shipped journey's source with replacements applied.
func shipped(t *testing.T, name string, replace ...string) string {
	t.Helper()
	b, err := templates.Journeys.ReadFile("journeys/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(src, replace[i]) {
			t.Fatalf("%s.yaml has no %q", name, replace[i])
		}
		src = strings.Replace(src, replace[i], replace[i+1], 1)
	}
	return src
}

func (w *scanWorld) status(name string, from, to journey.Status) {
	w.t.Helper()
	if _, err := w.svc.Status(context.Background(), name, []journey.Status{from}, to); err != nil {
		w.t.Fatal(err)
	}
}

// ---- birthday ----

// celebrant is a reachable member born on birthday in Shanghai whose
// date was given long enough ago, at V2 (银卡, ×2 in the birthday month)
// from an order paid on paidAt.
func (w *scanWorld) celebrant(id, birthday string, setAt, paidAt time.Time, consent bool) {
	w.t.Helper()
	w.save(loyalty.Member{ID: id, Email: id + "@example.com", Name: "Mei " + id, Timezone: "Asia/Shanghai",
		Birthday: birthday, BirthdaySetAt: setAt, Consent: loyalty.Consent{EmailMarketing: consent}})
	ledgerfix.PayByCard(w.t, w.ledger, id, "o-"+id, "200", paidAt)
}

func TestJourneyScanBirthday(t *testing.T) {
	t.Run("gift and email on the day, at 10:00 local, inside the scan", func(t *testing.T) {
		w := newScanWorld(t)
		w.celebrant("m-1", "1990-11-23", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), true)
		w.celebrant("m-other", "1993-12-15", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), true)

		counts, scanned := w.scan("birthday", cst(2026, 11, 23, 9, 30))
		if scanned != 1 || counts["not_due"] != 1 || len(w.mailer.messages()) != 0 || len(w.coupons("m-1")) != 0 || len(w.enrollments("m-1")) != 0 {
			t.Fatalf("at 09:30: counts %v, scanned %d, %d emails, coupons %v, enrollments %v; want nothing yet",
				counts, scanned, len(w.mailer.messages()), w.coupons("m-1"), w.enrollments("m-1"))
		}

		counts, _ = w.scan("birthday", cst(2026, 11, 23, 10, 30))
		if counts["entered"] != 1 || counts["rewarded"] != 1 || counts["sent"] != 1 || counts["completed"] != 1 {
			t.Errorf("counts = %v", counts)
		}
		cps := w.coupons("m-1")
		if len(cps) != 1 || cps[0].Kind != "C15" || cps[0].Key != loyalty.BirthdayGiftKey("m-1", 2026) {
			t.Fatalf("coupons = %+v, want the 2026 birthday C15", cps)
		}
		key := activities.SendKey("m-1", "birthday", 2026, "gift", 2026)
		msgs := w.mailer.to(key)
		if len(msgs) != 1 || msgs[0].Template != "birthday_gift" || msgs[0].Group != "birthday" {
			t.Fatalf("emails = %+v", w.mailer.messages())
		}
		wantData(t, msgs[0], map[string]any{
			"tier_name": "银卡", "birthday_multiplier": "2", "coupon_code": cps[0].Code, "coupon_name": "满169减15",
			"coupon_valid_until": "2026-12-23",
		})
		e := w.enrollment("m-1", "birthday", 2026)
		if e.Status != loyalty.EnrollmentCompleted || e.Version != w.live("birthday").Version || e.WorkflowID != "" || e.Step != "gift" {
			t.Errorf("enrollment = %+v; want completed, pinned to the live version, run without a workflow", e)
		}
		if n := len(w.runner.starts) + len(w.starter.recorded()); n != 0 {
			t.Errorf("%d workflows started for a journey the scan runs", n)
		}
		if got := w.timeline("m-1"); !slices.Equal(got, []string{"enrolled", "reward_granted gift", "sent gift", "completed gift completed"}) {
			t.Errorf("timeline = %q", got)
		}
		if len(w.coupons("m-other")) != 0 || len(w.enrollments("m-other")) != 0 || len(w.sends("m-other")) != 0 {
			t.Errorf("the member with another birthday got something")
		}

		// The next hourly runs see the same window: nothing changes, and
		// the timeline gains nothing.
		for _, at := range []time.Time{cst(2026, 11, 23, 11, 30), cst(2026, 11, 24, 9, 30)} {
			counts, _ = w.scan("birthday", at)
			if counts["done_before"] != 1 || counts["sent"] != 0 || len(w.mailer.messages()) != 1 || len(w.coupons("m-1")) != 1 || len(w.timeline("m-1")) != 4 {
				t.Errorf("scan at %s: counts %v, %d emails, coupons %+v, timeline %q", at, counts, len(w.mailer.messages()), w.coupons("m-1"), w.timeline("m-1"))
			}
		}
	})

	t.Run("no consent: the coupon without the email", func(t *testing.T) {
		w := newScanWorld(t)
		w.celebrant("m-2", "1990-11-23", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), false)
		counts, _ := w.scan("birthday", cst(2026, 11, 23, 10, 30))
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
		if counts["skipped:no_consent"] != 1 || counts["rewarded"] != 1 {
			t.Errorf("counts = %v", counts)
		}
		stats, err := w.st.JourneyStats(context.Background(), "birthday")
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 1 || stats[0].Counts["skipped:no_consent"] != 1 {
			t.Errorf("stats = %+v", stats)
		}
		if e := w.enrollment("m-2", "birthday", 2026); e.Status != loyalty.EnrollmentCompleted {
			t.Errorf("enrollment = %+v", e)
		}
	})

	t.Run("29 February in a common year is the 28th", func(t *testing.T) {
		w := newScanWorld(t)
		w.celebrant("m-3", "2000-02-29", cst(2026, 1, 10, 9, 0), cst(2026, 1, 15, 12, 0), true)
		at := cst(2026, 2, 28, 10, 30)
		if plan := w.plan(request24("birthday", at)); !slices.Contains(plan.Partitions, "birthday:0229") {
			t.Fatalf("partitions %v do not include 0229", plan.Partitions)
		}
		counts, _ := w.scan("birthday", at)
		if counts["sent"] != 1 || len(w.coupons("m-3")) != 1 {
			t.Fatalf("counts = %v, coupons %+v", counts, w.coupons("m-3"))
		}
		if msgs := w.mailer.to(activities.SendKey("m-3", "birthday", 2026, "gift", 2026)); len(msgs) != 1 {
			t.Errorf("emails = %+v", w.mailer.messages())
		}
	})

	t.Run("29 February in a leap year waits for the 29th", func(t *testing.T) {
		w := newScanWorld(t)
		w.celebrant("m-4", "2000-02-29", cst(2027, 12, 1, 9, 0), cst(2027, 12, 5, 12, 0), true)
		if plan := w.plan(request24("birthday", cst(2028, 2, 28, 10, 30))); slices.Contains(plan.Partitions, "birthday:0301") {
			t.Errorf("partitions on the 28th of a leap year = %v, want no 1 March", plan.Partitions)
		}
		counts, _ := w.scan("birthday", cst(2028, 2, 28, 10, 30))
		if counts["sent"] != 0 || len(w.coupons("m-4")) != 0 {
			t.Fatalf("on the 28th: counts = %v, coupons %+v", counts, w.coupons("m-4"))
		}
		counts, _ = w.scan("birthday", cst(2028, 2, 29, 10, 30))
		if counts["sent"] != 1 || len(w.coupons("m-4")) != 1 {
			t.Errorf("on the 29th: counts = %v, coupons %+v", counts, w.coupons("m-4"))
		}
	})
}

// ---- tier expiry ----

// reviewed is a reachable member (programme zone) who reached V3 on
// 2025-12-23, so their review is on 2026-12-23; the order before that
// leaves the growth window by then.
func (w *scanWorld) reviewed(id, firstOrder, lastOrder string) {
	w.t.Helper()
	w.save(loyalty.Member{ID: id, Email: id + "@example.com", Name: "Mei " + id, Consent: loyalty.Consent{EmailMarketing: true}})
	if firstOrder != "" {
		ledgerfix.PayByCard(w.t, w.ledger, id, "o1", firstOrder, cst(2025, 10, 1, 12, 0))
	}
	ledgerfix.PayByCard(w.t, w.ledger, id, "o2", lastOrder, cst(2025, 12, 23, 12, 0))
}

func TestJourneyScanTierExpiry(t *testing.T) {
	review := cst(2026, 12, 23, 0, 0)
	number := 20261223 // the review day names the enrollment
	d30, d7, d1 := cst(2026, 11, 23, 10, 30), cst(2026, 12, 16, 10, 30), cst(2026, 12, 22, 10, 30)

	t.Run("warned at d30, d7 and d1 only if they would fall; d1 completes", func(t *testing.T) {
		w := newScanWorld(t)
		w.reviewed("at-risk", "400", "200")
		w.reviewed("safe", "", "600")
		w.reviewed("svip", "400", "200")
		// A trial past the review holds the svip member at the paid tier
		// floor (V3): nothing they enjoy changes.
		w.now = cst(2026, 11, 1, 12, 0)
		trial := &events.SubscriptionTrialStartedData{SubscriptionID: "s-svip", Plan: "svip", Price: decimal.RequireFromString("9.9"), Currency: "CNY", TrialEndsAt: cst(2027, 1, 31, 0, 0)}
		if err := w.ledger.ApplyEvent(context.Background(), events.Envelope{ID: "trial-svip", Version: 1, Type: events.SubscriptionTrialStarted, OccurredAt: w.now, MemberID: "svip"}, trial); err != nil {
			t.Fatal(err)
		}

		w.now = d30
		for id, want := range map[string][2]bool{"at-risk": {true, false}, "safe": {false, false}, "svip": {false, true}} {
			m, _ := w.st.GetMember(context.Background(), id)
			acc, err := w.st.GetAccount(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			out := w.ledger.Rules.ReviewOutlook(acc, m, d30)
			if acc.Tier != "V3" || !out.ReviewAt.Equal(review) || out.Demote != want[0] || out.HeldByPaid != want[1] {
				t.Fatalf("%s: tier %s, outlook %+v; the fixture is wrong", id, acc.Tier, out)
			}
		}

		counts, scanned := w.scan("tier_expiry", d30)
		if scanned != 3 || counts["sent"] != 1 || counts["not_enrolled:audience"] != 2 {
			t.Errorf("d30 counts = %v, scanned %d", counts, scanned)
		}
		msgs := w.mailer.to(activities.SendKey("at-risk", "tier_expiry", number, "d30", 2026))
		if len(msgs) != 1 || msgs[0].Template != "tier_expiry_warning" {
			t.Fatalf("emails = %+v", w.mailer.messages())
		}
		wantData(t, msgs[0], map[string]any{
			"tier_name": "金卡", "fall_to_tier_name": "银卡", "growth_needed": "300", "days_left": "30", "review_on": "2026-12-23",
		})
		for _, id := range []string{"safe", "svip"} {
			if n := len(w.sends(id)); n != 0 || len(w.enrollments(id)) != 0 {
				t.Errorf("%s has %d send rows and enrollments %+v", id, n, w.enrollments(id))
			}
			if got := w.timeline(id); !slices.Equal(got, []string{"not_enrolled  audience"}) {
				t.Errorf("%s timeline = %q, want one refusal", id, got)
			}
		}
		e := w.enrollment("at-risk", "tier_expiry", number)
		if e.Status != loyalty.EnrollmentActive || e.Version != w.live("tier_expiry").Version || e.Step != "d30" {
			t.Errorf("enrollment after d30 = %+v", e)
		}
		// The hourly reruns in the window refuse the safe members without
		// a new timeline entry each hour.
		w.scan("tier_expiry", d30.Add(time.Hour))
		w.scan("tier_expiry", d30.Add(2*time.Hour))
		if got := w.timeline("safe"); len(got) != 1 {
			t.Errorf("safe member's timeline after reruns = %q, want one refusal", got)
		}

		w.scan("tier_expiry", d7)
		if msgs := w.mailer.to(activities.SendKey("at-risk", "tier_expiry", number, "d7", 2026)); len(msgs) != 1 || msgs[0].Data["days_left"] != "7" {
			t.Fatalf("d7 emails = %+v", msgs)
		}
		if e := w.enrollment("at-risk", "tier_expiry", number); e.Status != loyalty.EnrollmentActive {
			t.Errorf("enrollment after d7 = %+v", e)
		}
		w.scan("tier_expiry", d1)
		if msgs := w.mailer.to(activities.SendKey("at-risk", "tier_expiry", number, "d1", 2026)); len(msgs) != 1 || msgs[0].Data["days_left"] != "1" {
			t.Fatalf("d1 emails = %+v", msgs)
		}
		if e := w.enrollment("at-risk", "tier_expiry", number); e.Status != loyalty.EnrollmentCompleted {
			t.Errorf("enrollment after d1 = %+v", e)
		}
		if n := len(w.mailer.messages()); n != 3 {
			t.Errorf("%d emails in all, want 3", n)
		}
	})

	t.Run("a warned member who qualifies exits at the next step", func(t *testing.T) {
		w := newScanWorld(t)
		w.reviewed("at-risk", "400", "200")
		w.scan("tier_expiry", d30)
		if e := w.enrollment("at-risk", "tier_expiry", number); e.Status != loyalty.EnrollmentActive {
			t.Fatalf("enrollment after d30 = %+v", e)
		}
		ledgerfix.PayByCard(t, w.ledger, "at-risk", "o3", "300", cst(2026, 11, 25, 12, 0))
		counts, _ := w.scan("tier_expiry", d7)
		if counts["exited:"+activities.ReasonConverted] != 1 || counts["sent"] != 0 {
			t.Errorf("d7 counts = %v", counts)
		}
		if e := w.enrollment("at-risk", "tier_expiry", number); e.Status != loyalty.EnrollmentExited || e.Reason != activities.ReasonConverted {
			t.Errorf("enrollment = %+v, want exited as converted (the goal check)", e)
		}
		if n := len(w.mailer.messages()); n != 1 {
			t.Errorf("%d emails, want only the d30 warning", n)
		}
		w.scan("tier_expiry", d1)
		if n := len(w.mailer.messages()); n != 1 {
			t.Errorf("%d emails after d1, want only the d30 warning", n)
		}
	})

	t.Run("a moved review supersedes the open enrollment", func(t *testing.T) {
		w := newScanWorld(t)
		w.reviewed("at-risk", "400", "200")
		old := loyalty.Enrollment{MemberID: "at-risk", Journey: "tier_expiry", Number: 20261001, Version: w.live("tier_expiry").Version,
			Status: loyalty.EnrollmentActive, StartedAt: cst(2026, 9, 1, 10, 0), Step: "d30"}
		if _, _, err := w.st.StartEnrollment(context.Background(), old); err != nil {
			t.Fatal(err)
		}
		counts, _ := w.scan("tier_expiry", d30)
		if counts["superseded"] != 1 || counts["sent"] != 1 {
			t.Errorf("counts = %v", counts)
		}
		if e := w.enrollment("at-risk", "tier_expiry", 20261001); e.Status != loyalty.EnrollmentExited || e.Reason != "superseded" {
			t.Errorf("the moved review's enrollment = %+v, want exited superseded", e)
		}
		active := 0
		for _, e := range w.enrollments("at-risk") {
			if !e.Status.Final() {
				active++
			}
		}
		if active != 1 {
			t.Errorf("%d open tier_expiry enrollments, want 1", active)
		}
	})
}

// ---- win-back ----

// lapsed is a reachable member in Shanghai whose last order was at last.
func (w *scanWorld) lapsed(id string, last time.Time) {
	w.t.Helper()
	w.save(loyalty.Member{ID: id, Email: id + "@example.com", Name: "Mei " + id, Timezone: "Asia/Shanghai",
		Consent: loyalty.Consent{EmailMarketing: true}, OrderCount: 1, LastOrderAt: last})
}

// relapse records a newer last order on the member's projection.
func (w *scanWorld) relapse(id string, last time.Time) {
	w.t.Helper()
	m, err := w.st.GetMember(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	m.LastOrderAt, m.OrderCount = last, m.OrderCount+1
	w.save(m)
}

func TestJourneyScanWinback(t *testing.T) {
	last := cst(2026, 9, 24, 12, 0)
	number := 20260924
	d60, d120, d365 := cst(2026, 11, 23, 10, 30), cst(2027, 1, 22, 10, 30), cst(2027, 9, 24, 10, 30)

	t.Run("d60, d120 and d365 with their rewards", func(t *testing.T) {
		w := newScanWorld(t)
		w.lapsed("gone", last)
		w.lapsed("back", cst(2026, 11, 1, 12, 0)) // ordered since: in no partition of these scans

		counts, scanned := w.scan("winback", d60)
		if scanned != 1 || counts["entered"] != 1 || counts["rewarded"] != 1 || counts["sent"] != 1 {
			t.Errorf("d60 counts = %v, scanned %d", counts, scanned)
		}
		e := w.enrollment("gone", "winback", number)
		if e.Status != loyalty.EnrollmentActive || e.Version != w.live("winback").Version || !slices.Contains(e.Listen, "order.paid") {
			t.Fatalf("enrollment = %+v, want active, pinned, listening for orders", e)
		}
		key60 := activities.SendKey("gone", "winback", number, "d60", 2026)
		cps := w.coupons("gone")
		if len(cps) != 1 || cps[0].Kind != "C15" || cps[0].Key != key60 {
			t.Fatalf("coupons = %+v", cps)
		}
		msgs := w.mailer.to(key60)
		if len(msgs) != 1 || msgs[0].Template != "winback_miss_you" {
			t.Fatalf("emails = %+v", w.mailer.messages())
		}
		wantData(t, msgs[0], map[string]any{"coupon_code": cps[0].Code, "coupon_name": "满169减15"})

		counts, _ = w.scan("winback", d120)
		key120 := activities.SendKey("gone", "winback", number, "d120", 2027)
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
		if e := w.enrollment("gone", "winback", number); e.Status != loyalty.EnrollmentActive || counts["entered"] != 0 {
			t.Errorf("after d120: enrollment %+v, counts %v", e, counts)
		}

		w.scan("winback", d365)
		if msgs := w.mailer.to(activities.SendKey("gone", "winback", number, "d365", 2027)); len(msgs) != 1 || msgs[0].Template != "winback_last" {
			t.Fatalf("d365 emails = %+v", msgs)
		}
		if e := w.enrollment("gone", "winback", number); e.Status != loyalty.EnrollmentCompleted {
			t.Errorf("enrollment after d365 = %+v", e)
		}
		if n := len(w.sends("back")); n != 0 || len(w.enrollments("back")) != 0 {
			t.Errorf("the member who ordered since has %d send rows, enrollments %+v", n, w.enrollments("back"))
		}
		if n := len(w.mailer.messages()); n != 3 {
			t.Errorf("%d emails in all, want 3", n)
		}
	})

	t.Run("an order exits it", func(t *testing.T) {
		w := newScanWorld(t)
		w.lapsed("w-1", last)
		w.lapsed("w-2", last)
		w.scan("winback", d60)
		// w-2 orders: dispatch ends the calendar enrollment through the
		// enroller, and the member leaves the last-order partition.
		ordered := cst(2026, 11, 24, 12, 0)
		if err := w.enr.End(context.Background(), w.enrollment("w-2", "winback", number), "order.paid", ordered); err != nil {
			t.Fatal(err)
		}
		w.relapse("w-2", ordered)
		w.scan("winback", d120)
		if len(w.mailer.to(activities.SendKey("w-1", "winback", number, "d120", 2027))) != 1 || len(w.mailer.to(activities.SendKey("w-2", "winback", number, "d120", 2027))) != 0 {
			t.Errorf("d120 emails = %+v, want w-1's only", w.mailer.messages())
		}
		for _, c := range w.coupons("w-2") {
			if c.Kind == "FREE25" {
				t.Errorf("w-2 got FREE25 after ordering")
			}
		}
		if e := w.enrollment("w-2", "winback", number); e.Status != loyalty.EnrollmentExited || e.Reason != "order.paid" {
			t.Errorf("w-2's enrollment = %+v, want exited by the order", e)
		}
	})

	t.Run("an older enrollment is superseded when a new one opens", func(t *testing.T) {
		w := newScanWorld(t)
		w.lapsed("again", cst(2026, 7, 1, 7, 0))
		w.scan("winback", cst(2026, 8, 30, 10, 30))
		if e := w.enrollment("again", "winback", 20260701); e.Status != loyalty.EnrollmentActive {
			t.Fatalf("first enrollment = %+v", e)
		}
		// The member ordered on 09-24 and dispatch's exit was missed.
		w.relapse("again", last)
		w.scan("winback", d60)
		if e := w.enrollment("again", "winback", 20260701); e.Status != loyalty.EnrollmentExited || e.Reason != "superseded" {
			t.Errorf("older enrollment = %+v, want exited as superseded", e)
		}
		if e := w.enrollment("again", "winback", number); e.Status != loyalty.EnrollmentActive {
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
		if msgs := w.mailer.to(activities.SendKey("again", "winback", number, "d60", 2026)); len(msgs) != 1 {
			t.Errorf("emails = %+v", w.mailer.messages())
		}
	})

	t.Run("a publish after entry leaves the open enrollment's steps and timing", func(t *testing.T) {
		w := newScanWorld(t)
		v1 := w.live("winback")
		w.lapsed("pinned", last)
		w.scan("winback", d60)

		// Day 120 moves to day 90 and becomes a second C15 reminder.
		w.now = d60.Add(time.Hour)
		v2 := w.publish(shipped(t, "winback",
			"delay: { for: 60d }", "delay: { for: 30d }",
			"coupon: FREE25\n      boost: { multiplier: \"2\", days: 14 }\n    send: { email: winback_offer }", "coupon: C15\n    send: { email: winback_miss_you }"))
		if v2.Version == v1.Version {
			t.Fatal("the edit published no new version")
		}
		w.lapsed("newcomer", cst(2026, 12, 20, 12, 0))

		// Day 90 of the pinned member: the edited step is not theirs.
		w.scan("winback", cst(2026, 12, 23, 10, 30))
		if n := len(w.mailer.messages()); n != 1 {
			t.Errorf("%d emails after day 90, want the pinned member's d60 only", n)
		}
		// Day 120 of the pinned member: their pinned step, found through
		// the older version's partitions.
		w.scan("winback", d120)
		key := activities.SendKey("pinned", "winback", number, "d120", 2027)
		if msgs := w.mailer.to(key); len(msgs) != 1 || msgs[0].Template != "winback_offer" {
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
		w.scan("winback", cst(2027, 2, 18, 10, 30)) // day 60 of the newcomer
		if e := w.enrollment("newcomer", "winback", 20261220); e.Version != v2.Version {
			t.Errorf("newcomer's version = %d, want the edited %d", e.Version, v2.Version)
		}
	})
}

// ---- deferral ----

// A step the contact policy defers is handed to a JourneyDeferredStep
// workflow named after its key; later scans start no other.
func TestJourneyScanDefersToWorkflow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(w *scanWorld)
		key   string
		def   string
	}{
		{
			name: "birthday at 22:30",
			setup: func(w *scanWorld) {
				w.celebrant("m-1", "1990-11-23", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), true)
			},
			def: "birthday",
			key: engine.Key("m-1", "birthday", 2026, "gift", 2026),
		},
		{
			name:  "win-back at 22:30",
			setup: func(w *scanWorld) { w.lapsed("m-1", cst(2026, 9, 24, 12, 0)) },
			def:   "winback",
			key:   engine.Key("m-1", "winback", 20260924, "d60", 2026),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newScanWorld(t)
			tc.setup(w)
			at := cst(2026, 11, 23, 22, 30)
			counts, _ := w.scan(tc.def, at)
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
			if c.Options.ID != "step/"+tc.key || c.Options.ID != activities.JourneyDeferredStepWorkflowID(tc.key) || c.Options.TaskQueue != "memberflow-test" ||
				c.Options.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING ||
				c.Options.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
				t.Errorf("options = %+v", c.Options)
			}
			if c.Workflow != activities.JourneyDeferredStepWorkflow {
				t.Errorf("workflow = %v, want %s", c.Workflow, activities.JourneyDeferredStepWorkflow)
			}
			in, ok := c.Args[0].(activities.JourneyDeferredStepInput)
			if !ok || len(c.Args) != 1 {
				t.Fatalf("args = %+v, want one JourneyDeferredStepInput", c.Args)
			}
			// The slot is 09:00 the next morning, member time.
			if want := cst(2026, 11, 24, 9, 0); !in.Until.Equal(want) {
				t.Errorf("until = %s, want %s", in.Until, want)
			}
			r := in.Request
			if engine.Key(r.MemberID, r.Journey, r.Enrollment, r.Step, r.Ref.UTC().Year()) != tc.key || r.Version == 0 || r.Ref.IsZero() {
				t.Errorf("request = %+v", r)
			}
			if e := w.enrollment("m-1", tc.def, r.Enrollment); e.Status != loyalty.EnrollmentActive || e.Step != r.Step {
				t.Errorf("enrollment = %+v, want active at the deferred step (the workflow finishes it)", e)
			}

			w.scan(tc.def, at.Add(time.Hour))
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
func TestJourneyScanPagesInBatches(t *testing.T) {
	w := newScanWorld(t)
	ids := []string{"m-a", "m-b", "m-c"}
	for _, id := range ids {
		w.celebrant(id, "1990-11-23", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), true)
	}
	req := request24("birthday", cst(2026, 11, 23, 10, 30))
	req.Plan = w.plan(req)
	req.PageSize, req.MaxMembers = 1, 1
	if req.Plan.Partitions[0] != "held" {
		t.Errorf("partitions = %v, want the held enrollments first", req.Plan.Partitions)
	}
	part := slices.Index(req.Plan.Partitions, "birthday:1123")
	if part < 0 {
		t.Fatalf("partitions = %v, want 1123", req.Plan.Partitions)
	}
	var cursors []activities.JourneyScanCursor
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
			if res.Scanned != 0 || res.Cursor.Partition != len(req.Plan.Partitions) {
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
	for i, id := range ids {
		if want := (activities.JourneyScanCursor{Partition: part, After: id}); cursors[i] != want {
			t.Errorf("cursor after batch %d = %+v, want %+v", i+1, cursors[i], want)
		}
	}
	if scanned != 3 || counts["rewarded"] != 3 || counts["sent"] != 3 || len(w.mailer.messages()) != 3 {
		t.Errorf("scanned %d, counts %v, %d emails", scanned, counts, len(w.mailer.messages()))
	}
}

// A retried batch resumes from its heartbeat and an overlapping rerun
// finds every step keyed: nothing is given twice.
func TestJourneyScanRerunGivesNothingTwice(t *testing.T) {
	w := newScanWorld(t)
	for _, id := range []string{"m-a", "m-b"} {
		w.lapsed(id, cst(2026, 9, 24, 12, 0))
	}
	at := cst(2026, 11, 23, 10, 30)
	w.scan("winback", at)
	// The same window again (a retry of the whole run), then an
	// overlapping one an hour later.
	w.scan("winback", at)
	w.scan("winback", at.Add(time.Hour))
	for _, id := range []string{"m-a", "m-b"} {
		if n := len(w.mailer.to(activities.SendKey(id, "winback", 20260924, "d60", 2026))); n != 1 {
			t.Errorf("%s got %d d60 emails, want 1", id, n)
		}
		if n := len(w.coupons(id)); n != 1 {
			t.Errorf("%s has %d coupons, want 1", id, n)
		}
		if got := w.timeline(id); !slices.Equal(got, []string{"enrolled", "reward_granted d60", "sent d60"}) {
			t.Errorf("%s timeline = %q", id, got)
		}
	}
}

// ---- pause ----

// A paused calendar journey holds a due step instead of running it (and
// takes nobody new); after resume the scan runs the held step first,
// whatever the window, and the member goes on where they were.
func TestJourneyScanPauseHoldsAndResumeContinues(t *testing.T) {
	w := newScanWorld(t)
	last := cst(2026, 9, 24, 12, 0)
	w.lapsed("in-flight", last)
	w.scan("winback", cst(2026, 11, 23, 10, 30)) // d60
	w.now = cst(2027, 1, 1, 9, 0)
	w.status("winback", journey.StatusLive, journey.StatusPaused)
	w.lapsed("newcomer", cst(2026, 11, 23, 12, 0))

	d120 := cst(2027, 1, 22, 10, 30)
	for _, at := range []time.Time{d120, d120.Add(time.Hour)} {
		counts, _ := w.scan("winback", at)
		if counts["held"] != 1 || counts["sent"] != 0 {
			t.Errorf("paused scan at %s: counts %v, want the member held", at, counts)
		}
	}
	if plan := w.plan(request24("winback", d120)); slices.Contains(plan.Partitions, "held") {
		t.Errorf("a paused journey's plan %v runs held enrollments", plan.Partitions)
	}
	e := w.enrollment("in-flight", "winback", 20260924)
	if !e.Held || e.Step != "d120" || e.Status != loyalty.EnrollmentActive {
		t.Fatalf("enrollment while paused = %+v, want held at d120", e)
	}
	if n := len(w.mailer.messages()); n != 1 {
		t.Errorf("%d emails while paused, want only d60", n)
	}
	if got := w.timeline("in-flight"); !slices.Equal(got, []string{"enrolled", "reward_granted d60", "sent d60", "held d120 paused"}) {
		t.Errorf("timeline = %q, want one held entry", got)
	}
	if len(w.enrollments("newcomer")) != 0 {
		t.Errorf("a paused journey enrolled %+v", w.enrollments("newcomer"))
	}
	held, _, err := w.st.ListHeldEnrollments(context.Background(), "winback", "", 10)
	if err != nil || len(held) != 1 {
		t.Fatalf("held enrollments = %+v, %v", held, err)
	}

	// Resumed three days later: d120's window is over, and the held step
	// still runs, at its own moment's keys.
	resumed := d120.Add(3 * 24 * time.Hour)
	w.now = resumed
	w.status("winback", journey.StatusPaused, journey.StatusLive)
	counts, _ := w.scan("winback", resumed)
	if counts["resumed"] != 1 || counts["sent"] != 1 {
		t.Errorf("counts after resume = %v", counts)
	}
	key := activities.SendKey("in-flight", "winback", 20260924, "d120", 2027)
	if msgs := w.mailer.to(key); len(msgs) != 1 || msgs[0].Template != "winback_offer" {
		t.Errorf("d120 emails after resume = %+v", w.mailer.messages())
	}
	e = w.enrollment("in-flight", "winback", 20260924)
	if e.Held || e.Step != "d120" || e.Status != loyalty.EnrollmentActive {
		t.Errorf("enrollment after resume = %+v, want released at d120", e)
	}
	if held, _, _ := w.st.ListHeldEnrollments(context.Background(), "winback", "", 10); len(held) != 0 {
		t.Errorf("still held: %+v", held)
	}
	w.scan("winback", resumed.Add(time.Hour))
	if n := len(w.mailer.to(key)); n != 1 {
		t.Errorf("%d d120 emails after another scan, want 1", n)
	}
}

// ---- other date journeys ----

// A date journey whose steps are not all fixed sends (a branch) runs as a
// Journey workflow per member, started with the trigger's moment as its
// anchor; a rerun starts no other.
func TestJourneyScanStartsWorkflowsForOtherDateJourneys(t *testing.T) {
	w := newScanWorld(t)
	w.now = cst(2026, 11, 1, 9, 0)
	def := w.publish(`name: registration_week
priority: 20
trigger:
  date: { attribute: registered_at, offset: 7d, at: "11:00" }
steps:
  - id: check
    branch:
      - { when: "member.consent.email_marketing", goto: hello }
      - { goto: end }
  - id: hello
    send: { email: activation_nudge }
`)
	if def.CalendarRunnable() {
		t.Fatal("the journey is calendar-runnable; the test wants one that is not")
	}
	registered := cst(2026, 11, 16, 15, 0)
	for _, id := range []string{"r-1", "r-2"} {
		w.save(loyalty.Member{ID: id, Email: id + "@example.com", Name: id, Timezone: "Asia/Shanghai", RegisteredAt: registered, Consent: loyalty.Consent{EmailMarketing: true}})
		if err := w.st.SetMemberDate(context.Background(), id, "registered_at", registered.UTC().Format(time.DateOnly)); err != nil {
			t.Fatal(err)
		}
	}
	if counts, _ := w.scan("registration_week", cst(2026, 11, 23, 10, 30)); counts["entered"] != 0 || len(w.runner.starts) != 0 {
		t.Fatalf("before 11:00: counts %v, starts %+v", counts, w.runner.starts)
	}
	counts, _ := w.scan("registration_week", cst(2026, 11, 23, 11, 30))
	if counts["entered"] != 2 {
		t.Errorf("counts = %v", counts)
	}
	if got := w.runner.workflowIDs(); !slices.Equal(got, []string{journeys.WorkflowID("registration_week", "r-1", 20261116), journeys.WorkflowID("registration_week", "r-2", 20261116)}) {
		t.Fatalf("workflows = %v", got)
	}
	s := w.runner.starts[0]
	if want := cst(2026, 11, 23, 11, 0); !s.Anchor.Equal(want) || s.Definition.Version != def.Version || s.MemberID != "r-1" || s.Enrollment != 20261116 {
		t.Errorf("start = %+v, want anchored at %s", s, want)
	}
	if e := w.enrollment("r-1", "registration_week", 20261116); e.WorkflowID == "" || !e.Anchor.Equal(s.Anchor) {
		t.Errorf("enrollment = %+v", e)
	}
	if n := len(w.mailer.messages()); n != 0 {
		t.Errorf("the scan sent %d emails itself", n)
	}
	counts, _ = w.scan("registration_week", cst(2026, 11, 23, 12, 30))
	if counts["entered"] != 0 || len(w.runner.workflowIDs()) != 2 {
		t.Errorf("rerun: counts %v, workflows %v", counts, w.runner.workflowIDs())
	}
}

// An inactivity journey on an event other than orders reads the day
// dispatch filed the member's newest event of the type under.
func TestJourneyScanInactivityOnAnotherEvent(t *testing.T) {
	w := newScanWorld(t)
	w.now = cst(2026, 10, 1, 9, 0)
	w.publish(`name: quiet_reviewers
priority: 20
trigger:
  inactivity: { event: review.posted, for: 30d, at: "10:00" }
exit:
  - event: review.posted
steps:
  - id: nudge
    reward: { coupon: C15 }
    send: { email: winback_miss_you }
`)
	attr := engine.InactivityAttribute("review.posted")
	w.save(loyalty.Member{ID: "q-1", Email: "q-1@example.com", Name: "q", Timezone: "Asia/Shanghai", Consent: loyalty.Consent{EmailMarketing: true}})
	w.save(loyalty.Member{ID: "q-2", Email: "q-2@example.com", Name: "q", Timezone: "Asia/Shanghai", Consent: loyalty.Consent{EmailMarketing: true}})
	for id, day := range map[string]string{"q-1": "2026-10-24", "q-2": "2026-11-01"} {
		if err := w.st.SetMemberDate(context.Background(), id, attr, day); err != nil {
			t.Fatal(err)
		}
	}
	counts, _ := w.scan("quiet_reviewers", cst(2026, 11, 23, 10, 30))
	if counts["entered"] != 1 || counts["sent"] != 1 {
		t.Errorf("counts = %v", counts)
	}
	if msgs := w.mailer.to(activities.SendKey("q-1", "quiet_reviewers", 20261024, "nudge", 2026)); len(msgs) != 1 {
		t.Errorf("emails = %+v", w.mailer.messages())
	}
	if e := w.enrollment("q-1", "quiet_reviewers", 20261024); e.Status != loyalty.EnrollmentCompleted || !slices.Contains(e.Listen, "review.posted") {
		t.Errorf("enrollment = %+v", e)
	}
	if len(w.enrollments("q-2")) != 0 {
		t.Errorf("q-2, active a week ago, enrolled: %+v", w.enrollments("q-2"))
	}
}

// ---- broadcast ----

func TestJourneyScanBroadcast(t *testing.T) {
	w := newScanWorld(t)
	w.now = cst(2026, 11, 1, 9, 0)
	def := w.publish(`name: member_day_test
priority: 40
trigger:
  broadcast: { audience: "member.tier != 'V1'", at: "10:00", every: month, day: 8, rate: 20 }
entry:
  audience: "member.consent.email_marketing"
steps:
  - id: boost
    reward: { boost: { multiplier: "2", days: 1 } }
`)
	// Members across shards: V2 and up (a 1000 order), one of them
	// without consent, and V1 ones.
	var rich []string
	for i := range 12 {
		id := fmt.Sprintf("b-%02d", i)
		consent := i != 3
		w.save(loyalty.Member{ID: id, Email: id + "@example.com", Name: id, Timezone: "Europe/London", Consent: loyalty.Consent{EmailMarketing: consent}})
		amount := "50"
		if i%2 == 0 || i == 3 {
			amount = "1000"
			if consent {
				rich = append(rich, id)
			}
		}
		ledgerfix.PayByCard(t, w.ledger, id, "o-"+id, amount, cst(2026, 10, 1, 12, 0))
	}
	// The pass starts at 10:00 on the 8th where the day begins first.
	start := time.Date(2026, 12, 8, 10, 0, 0, 0, time.FixedZone("LINT", 14*3600))
	if plan := w.plan(request24("member_day_test", start.Add(-time.Minute))); len(plan.Partitions) != 0 {
		t.Errorf("a minute early the plan is %+v, want nothing", plan)
	}
	plan := w.plan(request24("member_day_test", start.Add(2*time.Minute)))
	if len(plan.Partitions) != store.MemberShards || plan.Occurrence != "2026-12-08" || !plan.Start.Equal(start) {
		t.Fatalf("plan = %+v", plan)
	}
	counts, scanned := w.scan("member_day_test", start.Add(2*time.Minute))
	if scanned != 12 || counts["entered"] != len(rich) || counts["not_enrolled:audience"] != 1 || counts["audience"] != 5 {
		t.Errorf("counts = %v, scanned %d", counts, scanned)
	}
	var got []string
	for _, s := range w.runner.starts {
		got = append(got, s.MemberID)
		london, _ := time.LoadLocation("Europe/London")
		if want := time.Date(2026, 12, 8, 10, 0, 0, 0, london); !s.Anchor.Equal(want) || s.Enrollment != 20261208 || s.Definition.Version != def.Version {
			t.Errorf("start = %+v, want anchored at %s", s, want)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, rich) {
		t.Errorf("entered %v, want %v", got, rich)
	}
	// Paced at the definition's rate, or the default.
	req := request24("member_day_test", start.Add(2*time.Minute))
	req.Plan = plan
	if res := w.batch(req); res.Rate != 20 {
		t.Errorf("the pass's rate = %v, want 20 a second", res.Rate)
	}
	if l := activities.BroadcastLimiter(journey.Broadcast{}); l.Limit() != activities.DefaultBroadcastRate || l.Burst() != activities.DefaultBroadcastRate {
		t.Errorf("default limiter = %v/%d", l.Limit(), l.Burst())
	}
	// A rerun of the occurrence enrols nobody again.
	counts, _ = w.scan("member_day_test", start.Add(time.Hour))
	if counts["entered"] != 0 || counts["done_before"] != len(rich) || len(w.runner.workflowIDs()) != len(rich) {
		t.Errorf("rerun counts = %v, workflows %d", counts, len(w.runner.workflowIDs()))
	}
	// A paused broadcast has no pass.
	w.status("member_day_test", journey.StatusLive, journey.StatusPaused)
	if plan := w.plan(request24("member_day_test", start.Add(2*time.Minute))); len(plan.Partitions) != 0 {
		t.Errorf("paused plan = %+v", plan)
	}
}

func TestBroadcastOccurrence(t *testing.T) {
	lint := time.FixedZone("LINT", 14*3600)
	for _, tc := range []struct {
		name string
		b    journey.Broadcast
		at   time.Time
		want string // "" none
	}{
		{"monthly, on the day", journey.Broadcast{At: "10:00", Every: "month", Day: 8}, time.Date(2026, 12, 8, 10, 5, 0, 0, lint), "2026-12-08"},
		{"monthly, a day late within the catch-up", journey.Broadcast{At: "10:00", Every: "month", Day: 8}, time.Date(2026, 12, 9, 9, 0, 0, 0, lint), "2026-12-08"},
		{"monthly, another day", journey.Broadcast{At: "10:00", Every: "month", Day: 8}, time.Date(2026, 12, 10, 10, 5, 0, 0, lint), ""},
		{"weekly on monday", journey.Broadcast{At: "09:30", Every: "week", Weekday: "monday"}, time.Date(2026, 12, 7, 9, 31, 0, 0, lint), "2026-12-07"},
		{"weekly, not yet", journey.Broadcast{At: "09:30", Every: "week", Weekday: "monday"}, time.Date(2026, 12, 7, 9, 29, 0, 0, lint), ""},
		{"daily", journey.Broadcast{At: "08:00", Every: "day"}, time.Date(2026, 12, 7, 20, 0, 0, 0, lint), "2026-12-07"},
		{"once", journey.Broadcast{At: "08:00", Every: "once", Date: "2026-12-24"}, time.Date(2026, 12, 24, 8, 0, 0, 0, lint), "2026-12-24"},
		{"once, another day", journey.Broadcast{At: "08:00", Every: "once", Date: "2026-12-24"}, time.Date(2026, 12, 26, 8, 0, 0, 0, lint), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			day, _, ok := activities.BroadcastOccurrence(tc.b, tc.at, 24*time.Hour)
			got := ""
			if ok {
				got = day.Format(time.DateOnly)
			}
			if got != tc.want {
				t.Errorf("occurrence at %s = %q, want %q", tc.at, got, tc.want)
			}
		})
	}
}

func TestPlanJourneyPartitions(t *testing.T) {
	w := newScanWorld(t)
	utc := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	// Each step's anchor days, from the window shifted back by the step's
	// offset (its time of day included), a day wider on each side (a
	// member's local day is up to 14 hours off the UTC day the indexes
	// file); sorted, no repeats.
	for _, tc := range []struct {
		name    string
		journey string
		at      time.Time
		catchUp time.Duration
		want    []string
	}{
		{"birthday, common-year 28 Feb", "birthday", utc(2027, 2, 28, 3), 24 * time.Hour,
			[]string{"birthday:0225", "birthday:0226", "birthday:0227", "birthday:0228", "birthday:0229"}},
		{"birthday, leap-year 29 Feb", "birthday", utc(2028, 2, 29, 3), time.Hour,
			[]string{"birthday:0227", "birthday:0228", "birthday:0229"}},
		// Tier reviews 30, 7 and 1 days ahead (each step at 10:00).
		{"tier reviews", "tier_expiry", utc(2026, 11, 23, 12), time.Hour,
			[]string{"review:2026-11-23", "review:2026-11-24", "review:2026-11-25", "review:2026-11-29", "review:2026-11-30", "review:2026-12-01", "review:2026-12-22", "review:2026-12-23", "review:2026-12-24"}},
		// Last orders 365, 120 and 60 days ago (each step at 10:00).
		{"win-back", "winback", utc(2026, 11, 23, 12), time.Hour,
			[]string{"last_order:2025-11-22", "last_order:2025-11-23", "last_order:2025-11-24", "last_order:2026-07-25", "last_order:2026-07-26", "last_order:2026-07-27", "last_order:2026-09-23", "last_order:2026-09-24", "last_order:2026-09-25"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := activities.PlanJourneyPartitions([]journey.Definition{w.live(tc.journey)}, tc.at, tc.catchUp)
			if !slices.Equal(got, tc.want) {
				t.Errorf("partitions at %s (catch-up %s) = %v, want %v", tc.at.Format(time.RFC3339), tc.catchUp, got, tc.want)
			}
		})
	}
}

// ---- what a scan does not run ----

func TestJourneyScanRunsOnlyWhatItCan(t *testing.T) {
	w := newScanWorld(t)
	at := cst(2026, 11, 23, 10, 30)
	for _, name := range []string{"activation", "trial", "no_such_journey"} {
		if plan := w.plan(request24(name, at)); len(plan.Partitions) != 0 {
			t.Errorf("%s planned %v", name, plan.Partitions)
		}
	}
	w.celebrant("m-1", "1990-11-23", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), true)
	req := request24("birthday", at)
	req.Plan = w.plan(req)
	w.status("birthday", journey.StatusLive, journey.StatusArchived)
	if res := w.batch(req); !res.Done || len(w.mailer.messages()) != 0 || len(w.coupons("m-1")) != 0 {
		t.Errorf("a journey archived since the plan ran: %+v", res)
	}
	if plan := w.plan(req); len(plan.Partitions) != 0 {
		t.Errorf("an archived journey planned %v", plan.Partitions)
	}
	a := *w.a
	a.Enroller = nil
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(quietLog))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&a)
	if _, err := env.ExecuteActivity((&activities.Activities{}).ScanJourney, req); err == nil {
		t.Error("a scan without an enroller succeeded")
	}
}

// standingReads counts the reads of members' standing (account) through
// the ledger.
type standingReads struct {
	*memstore.Store
	mu sync.Mutex
	n  int
}

func (s *standingReads) MemberAndAccount(ctx context.Context, id string) (loyalty.Member, loyalty.Account, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return s.Store.MemberAndAccount(ctx, id)
}

func (s *standingReads) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// A member a partition holds who is not due in the window, or had the
// step in an earlier run, is seen to be so on the profile and the
// enrollments: their standing is read only to enter them, and what the
// scan does is unchanged.
func TestJourneyScanReadsStandingOnlyToAct(t *testing.T) {
	w := newScanWorld(t)
	w.celebrant("m-1", "1990-11-23", cst(2026, 3, 1, 9, 0), cst(2026, 6, 1, 12, 0), true)
	reads := &standingReads{Store: w.st}
	w.ledger.Store = reads
	counts, scanned := w.scan("birthday", cst(2026, 11, 23, 9, 30))
	if scanned != 1 || counts["not_due"] != 1 || reads.count() != 0 {
		t.Fatalf("at 09:30: counts %v, scanned %d, %d standing reads; want the member not due, unread", counts, scanned, reads.count())
	}
	counts, _ = w.scan("birthday", cst(2026, 11, 23, 10, 30))
	if counts["entered"] != 1 || counts["sent"] != 1 || reads.count() == 0 {
		t.Fatalf("at 10:30: counts %v, %d standing reads; want the gift sent", counts, reads.count())
	}
	// The next run's window still holds 10:00; the step was had.
	before := reads.count()
	counts, _ = w.scan("birthday", cst(2026, 11, 23, 11, 30))
	if counts["done_before"] != 1 || len(w.mailer.messages()) != 1 || reads.count() != before {
		t.Errorf("at 11:30: counts %v, %d emails, %d more standing reads; want the step seen done on the enrollment", counts, len(w.mailer.messages()), reads.count()-before)
	}
}
