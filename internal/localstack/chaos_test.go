package localstack_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/cost"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/eventfix"
	"github.com/memberflow/memberflow/workflows"
)

// TestChaosWorkerRestarts kills and restarts the worker, hard and
// gracefully, while activation journeys (delays shortened to seconds) run
// for 40 members registered through signed webhooks and a win-back scan
// acts on 16 members whose last order was 60 days ago. Afterwards every
// email the journeys should send is in the outbox exactly once (by its
// idempotency key), every coupon they should grant exists exactly once,
// and nothing else was sent or granted. A send whose worker died after the
// outbox took it is reconciled through the outbox's "processed" event
// within the 3-second confirm window instead of being sent again.
func TestChaosWorkerRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts Temporal and DynamoDB Local")
	}
	ctx := context.Background()
	zone := daytimeZone(t)
	s := startWith(t, localstack.Config{
		OutboxDir: t.TempDir(), LogDir: t.TempDir(),
		// The last nudge comes at 16 s: the welcome and the nudge fill the
		// contact cap (2 in 7 days), so it is skipped, never deferred.
		Journeys:      shortActivation(t, "8s", "8s"),
		ConfirmWindow: 3 * time.Second,
	})
	t.Cleanup(s.Stop)

	const activated, lapsed = 40, 16
	now := time.Now()
	year := now.UTC().Year()
	var evs []map[string]any
	var newcomers, lapsers []string
	for i := range activated {
		id := fmt.Sprintf("m-chaos-a%02d", i)
		newcomers = append(newcomers, id)
		evs = append(evs, registration(t, id, now, true, zone, ""))
	}
	lastOrder := now.AddDate(0, 0, -60)
	for i := range lapsed {
		// Registered 90 days ago, last ordered 60 days ago: win-back's d60
		// step is due today at 10:00 local, which has passed in zone. The
		// order right after the registration converts the activation
		// journey its registration starts, after the welcome.
		id := fmt.Sprintf("m-chaos-w%02d", i)
		lapsers = append(lapsers, id)
		evs = append(evs, registration(t, id, now.AddDate(0, 0, -90), true, zone, ""),
			eventfix.OrderPaid(t, id, "ord-"+id, "120.00", lastOrder))
	}

	// Chaos from the first registration on: a restart every 2–3.5 s,
	// every other one hard (in-flight activities cancelled, their results
	// lost), ten in all — through the registrations, the scan and the last
	// nudges — or until everything is done. (More would only stretch the
	// scan's retry backoff.)
	const maxRestarts = 10
	stop := make(chan struct{})
	var wg sync.WaitGroup
	restarts, hardKills := 0, 0
	// halt ends the chaos; it also runs, before the stack stops, when the
	// test fails early, so no restart outlives the test.
	var halted sync.Once
	halt := func() {
		halted.Do(func() { close(stop) })
		wg.Wait()
	}
	t.Cleanup(halt)
	wg.Go(func() {
		for i := range maxRestarts {
			select {
			case <-stop:
				return
			case <-time.After(2*time.Second + time.Duration(i%4)*500*time.Millisecond):
			}
			hard := i%2 == 0
			if err := s.RestartWorker(hard); err != nil {
				t.Errorf("restart %d: %v", i, err)
				return
			}
			restarts++
			if hard {
				hardKills++
			}
			t.Logf("restart %d (hard %t) done %s after the start", i, hard, time.Since(now).Round(100*time.Millisecond))
		}
	})
	postEvents(t, s, evs...)
	// The scan finds a lapsed member by the date of the last order, so it
	// starts once every last order is projected; otherwise only a retry
	// of a killed scan would see the late ones.
	for _, id := range lapsers {
		waitFor(t, "last order of "+id+" projected", 60*time.Second, func() bool {
			m, err := s.Activities.Store.GetMember(ctx, id)
			return err == nil && !m.LastOrderAt.IsZero()
		})
	}
	// The win-back scan, while the worker keeps dying.
	runCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	scan, err := s.RunSchedule(runCtx, workflows.JourneyScanScheduleID("winback"))
	if err != nil {
		t.Fatal(err)
	}
	var scanned workflows.JourneyScanResult
	if err := scan.Get(runCtx, &scanned); err != nil {
		t.Fatalf("win-back scan: %v", err)
	}
	// Past the last nudge of the last registration, then calm.
	waitFor(t, "every activation journey past its last step", 60*time.Second, func() bool {
		for _, id := range newcomers {
			if d, err := s.Temporal.DescribeWorkflowExecution(ctx, activation(id), ""); err != nil || d.GetWorkflowExecutionInfo().GetCloseTime() == nil {
				return false
			}
		}
		return true
	})
	halt()
	t.Logf("%d worker restarts (%d hard); win-back scan: %v; all journeys done %s after the registrations", restarts, hardKills, scanned.Counts, time.Since(now).Round(time.Second))
	// Without the chaos the checks below prove nothing. The last nudges
	// come 16 s after the registrations, so the journeys cannot be done
	// sooner; by then the schedule above has slept 2+2.5+3+3.5 s and made
	// four restarts, two of them hard, with up to 5 s left for graceful
	// stops to wait on in-flight work (measured: restart 3 done at 14-15 s,
	// 8-10 restarts in runs of 24-58 s).
	const minRestarts, minHardKills = 4, 2
	if restarts < minRestarts || hardKills < minHardKills {
		t.Errorf("%d worker restarts, %d hard, want at least %d and %d: the chaos did not happen", restarts, hardKills, minRestarts, minHardKills)
	}

	want := map[string]string{} // idempotency key → member, of every email due
	coupons := map[string]map[string]int{}
	retries := 0
	for _, id := range newcomers {
		res := journeyResult(t, s.Temporal, activation(id), &retries)
		if res.Status != loyalty.EnrollmentCompleted {
			t.Errorf("%s: activation ended %s (%s), want completed", id, res.Status, res.Reason)
		}
		welcome := engine.Key(id, "activation", 1, "welcome", year)
		want[welcome] = id
		want[engine.Key(id, "activation", 1, "nudge", year)] = id
		coupons[id] = map[string]int{welcome: 1}
		// The cap holds the last nudge back past its deadline.
		last := sendRows(t, s, id)[engine.Key(id, "activation", 1, "last_nudge", year)]
		if last.Status != store.SendSkipped || last.Reason != activities.SkipContactPolicy+": frequency_cap" {
			t.Errorf("%s last nudge = %+v, want skipped by the frequency cap", id, last)
		}
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	// The d60 step's moment is 10:00 local today; a win-back enrollment
	// is numbered by the member-local day of the last order.
	local := now.In(loc)
	localYear := time.Date(local.Year(), local.Month(), local.Day(), 10, 0, 0, 0, loc).UTC().Year()
	number := journeys.DayNumber(lastOrder.In(loc), false)
	for _, id := range lapsers {
		if res := journeyResult(t, s.Temporal, activation(id), &retries); res.Status != loyalty.EnrollmentExited || res.Reason != "converted" {
			t.Errorf("%s: activation ended %s (%s), want exited (converted)", id, res.Status, res.Reason)
		}
		// The scan's counts are statistics a retried batch may skew (it
		// finds members entered by the attempt that died); the enrollment
		// is the record.
		if enr, err := s.Activities.Store.GetEnrollment(ctx, id, "winback", number); err != nil || enr.Status.Final() {
			t.Errorf("%s win-back enrollment %d = %+v, %v; want it open after d60", id, number, enr, err)
		}
		welcome := engine.Key(id, "activation", 1, "welcome", year)
		d60 := engine.Key(id, "winback", number, "d60", localYear)
		want[welcome], want[d60] = id, id
		coupons[id] = map[string]int{welcome: 1, d60: 1}
	}
	scanRetries := cost.Count(history(t, s.Temporal, scan.GetID(), scan.GetRunID()), cost.Options{}).ActivityRetries
	t.Logf("%d activity retries in the activation histories, %d in the win-back scan's", retries, scanRetries)
	// A retry is an attempt a restart cut short: the proof that a kill
	// hit activities in flight, the case the exactly-once checks below
	// are about (measured: 6-113 retries a run).
	if retries+scanRetries == 0 {
		t.Error("no activity was retried: no restart caught an activity in flight, so the checks below prove nothing about lost results")
	}

	got := map[string]int{}
	for _, e := range outboxEmails(t, s) {
		got[e.Key]++
	}
	for key, n := range got {
		switch {
		case want[key] == "":
			t.Errorf("unexpected email %s (%d×)", key, n)
		case n != 1:
			t.Errorf("email %s sent %d times", key, n)
		}
	}
	for key, member := range want {
		if got[key] == 0 {
			t.Errorf("email %s never sent", key)
		}
		if row := sendRows(t, s, member)[key]; row.Status != store.SendSent {
			t.Errorf("send row %s = %+v, want sent", key, row)
		}
	}
	for _, id := range slices.Concat(newcomers, lapsers) {
		if got := couponKeys(t, s, id); !maps.Equal(got, coupons[id]) {
			t.Errorf("%s coupons by key = %v, want %v", id, got, coupons[id])
		}
	}
}

// activation is the workflow of a member's activation enrollment.
func activation(id string) string { return workflows.JourneyWorkflowID("activation", id, 1) }

// journeyResult waits for an enrollment workflow's result and adds the
// activity retries its history shows to retries.
func journeyResult(t *testing.T, c client.Client, id string, retries *int) workflows.EnrollmentResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res workflows.EnrollmentResult
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	*retries += cost.Count(history(t, c, id, ""), cost.Options{}).ActivityRetries
	return res
}

// history reads a workflow run's events ("" runID: the latest run).
func history(t *testing.T, c client.Client, id, runID string) []*historypb.HistoryEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	iter := c.GetWorkflowHistory(ctx, id, runID, false, 0)
	var h []*historypb.HistoryEvent
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		h = append(h, ev)
	}
	return h
}
