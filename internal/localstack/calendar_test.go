package localstack_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/eventfix"
	"github.com/memberflow/memberflow/workflows"
)

// TestCalendarBirthday runs the published birthday journey's hourly scan
// on the dev server, started through its Temporal Schedule (scan/birthday),
// over members registered
// 40 days ago (the ledger gives no gift for a birthday set fewer than 30
// days before): a member with consent gets the C15 coupon and one email
// naming their tier's multiplier; one without consent the coupon and no
// email; one whose frequency cap is full gets the email once the cap
// frees, through a JourneyDeferredStep workflow; one with another birthday gets
// nothing; and a second run changes nothing. Alongside, a trial with its
// end seconds ahead converts.
func TestCalendarBirthday(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test starts Temporal and DynamoDB Local")
	}
	ctx := context.Background()
	// A zone where 10:00 (the step's local time) has passed today and
	// quiet hours have not begun.
	zone := daytimeZone(t)
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	local := now.In(loc)
	// 1992: a leap year, so 29 February is a valid birthday too.
	today := fmt.Sprintf("1992-%02d-%02d", local.Month(), local.Day())
	later := local.AddDate(0, 0, 100)
	otherDay := fmt.Sprintf("1992-%02d-%02d", later.Month(), later.Day())

	set := shippedJourneys(t)
	// Registrations start no activation here: the birthday's emails and
	// coupons are then all a member has.
	delete(set, "activation")
	// One reminder 3 s before the trial's end (with two, the thank-you
	// would be a third email in the 7-day cap and wait a week).
	tr := set["trial"]
	tr = tr[:strings.Index(tr, "  - id: before_reminder_7d")] + tr[strings.Index(tr, "  - id: before_reminder_1d"):]
	set["trial"] = replace(t, tr, "offset: -1d", "offset: -3s")

	s := startWith(t, localstack.Config{OutboxDir: t.TempDir(), LogDir: t.TempDir(), Journeys: journeyFiles(set)})
	t.Cleanup(s.Stop)

	joined := now.AddDate(0, 0, -40)
	trialWorkflow := workflows.JourneyWorkflowID("trial", "m-trial", 1)
	const yes, no, capped, other, trialist = "m-bd-yes", "m-bd-no", "m-bd-capped", "m-bd-other", "m-trial"
	trialEnds := time.Now().Add(8 * time.Second)
	trialStarted := eventfix.Sample(t, events.SubscriptionTrialStarted, "evt-trial-"+trialist, trialist, now)
	td := trialStarted["data"].(map[string]any)
	td["plan"], td["price"], td["trial_ends_at"] = "svip", "9.90", trialEnds.UTC().Format(time.RFC3339Nano)
	postEvents(t, s,
		registration(t, yes, joined, true, zone, today),
		// 600 CNY makes V3, whose birthday month earns 3× points.
		eventfix.OrderPaid(t, yes, "ord-bd-yes", "600.00", joined.AddDate(0, 0, 5)),
		registration(t, no, joined, false, zone, today),
		registration(t, capped, joined, true, zone, today),
		registration(t, other, joined, true, zone, otherDay),
		registration(t, trialist, now.Add(-time.Hour), true, zone, ""),
		trialStarted,
	)
	waitMembers(t, s, yes, no, capped, other, trialist)
	waitFor(t, yes+" at V3", 30*time.Second, func() bool { v, _ := getMember(t, s, yes); return v.Tier == "V3" })

	// The capped member had two emails a little less than 7 days ago:
	// the cap (2 in 7 days) frees a few seconds from now.
	st, version, err := s.Activities.Store.GetContact(ctx, capped)
	if err != nil {
		t.Fatal(err)
	}
	// A contact leaves the window Slack early (contact.Policy).
	pol := contact.Default()
	frees := time.Now().Add(-pol.Window + pol.Slack + 15*time.Second)
	st.Contacts = append(st.Contacts,
		contact.Contact{Key: "seed-1", Journey: "winback", At: frees},
		contact.Contact{Key: "seed-2", Journey: "winback", At: frees.Add(time.Millisecond)})
	if err := s.Activities.Store.PutContact(ctx, capped, st, version); err != nil {
		t.Fatal(err)
	}

	scan := func() (string, workflows.JourneyScanResult) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		run, err := s.RunSchedule(ctx, workflows.JourneyScanScheduleID("birthday"))
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.JourneyScanResult
		if err := run.Get(ctx, &res); err != nil {
			t.Fatalf("birthday scan: %v", err)
		}
		return run.GetID(), res
	}
	firstRun, res := scan()
	if got, want := res.Counts, map[string]int{"entered": 3, "rewarded": 3, "sent": 1, "skipped:no_consent": 1, "deferred": 1, "completed": 2}; !maps.Equal(got, want) {
		t.Errorf("first scan counts = %v, want %v", got, want)
	}
	year := local.Year()
	// A yearly date journey numbers its enrollments by the year.
	key := func(member string) string { return engine.Key(member, "birthday", year, "gift", year) }

	// The deferred email goes once the cap frees, and the enrollment
	// completes with it.
	deferred := activities.JourneyDeferredStepWorkflowID(key(capped))
	var step activities.StepResult
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := s.Temporal.GetWorkflow(dctx, deferred, "").Get(dctx, &step); err != nil {
		t.Fatalf("deferred step: %v", err)
	}
	if step.Send == nil || step.Send.Status != store.SendSent {
		t.Errorf("deferred step = %+v, want sent", step)
	}
	if e, err := s.Activities.Store.GetEnrollment(ctx, capped, "birthday", year); err != nil || e.Status != loyalty.EnrollmentCompleted {
		t.Errorf("the capped member's enrollment = %+v, %v; want completed", e, err)
	}

	birthdayEmails := func(member string) []sentEmail {
		var out []sentEmail
		for _, e := range outboxEmails(t, s) {
			if e.MemberID == member {
				out = append(out, e)
			}
		}
		return out
	}
	check := func(t *testing.T) {
		t.Helper()
		for _, m := range []string{yes, no, capped} {
			if got := couponKinds(t, s, m); !maps.Equal(got, map[string]int{"C15": 1}) {
				t.Errorf("%s coupons = %v, want one C15", m, got)
			}
		}
		for _, m := range []string{yes, capped} {
			got := birthdayEmails(m)
			if len(got) != 1 || got[0].Template != "birthday_gift" || got[0].Key != key(m) {
				t.Errorf("%s emails = %+v, want one birthday_gift keyed %s", m, got, key(m))
			}
		}
		if got := birthdayEmails(no); len(got) != 0 {
			t.Errorf("the member without consent got %+v", got)
		}
		if row := sendRows(t, s, no)[key(no)]; row.Status != store.SendSkipped || row.Reason != activities.SkipNoConsent {
			t.Errorf("%s send row = %+v, want skipped %s", no, row, activities.SkipNoConsent)
		}
		if v, _ := getMember(t, s, other); len(v.Coupons) != 0 || len(v.Enrollments) != 0 || len(birthdayEmails(other)) != 0 || len(sendRows(t, s, other)) != 0 {
			t.Errorf("the member with another birthday got something: %+v", v)
		}
	}
	check(t)
	if got := birthdayEmails(yes); len(got) == 1 {
		html, err := os.ReadFile(got[0].HTMLPath)
		if err != nil {
			t.Fatal(err)
		}
		// V3 (金卡) earns 3× points in the birthday month.
		if !strings.Contains(string(html), "3&times; points") || !strings.Contains(string(html), "金卡") {
			t.Errorf("the birthday email does not name the V3 multiplier: %s", got[0].HTMLPath)
		}
	}

	t.Run("the outbox's processed event reaches the send row", func(t *testing.T) {
		row := sendRows(t, s, yes)[key(yes)]
		if row.Status != store.SendSent || row.MessageID == "" {
			t.Fatalf("send row = %+v, want sent with a message id", row)
		}
		waitFor(t, "the processed event", 10*time.Second, func() bool {
			evs, err := s.Activities.Store.ListSendEvents(ctx, yes, now.Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			return slices.ContainsFunc(evs, func(ev store.SendEvent) bool {
				return ev.Type == store.EventProcessed && ev.SendKey == key(yes) && ev.MessageID == row.MessageID && ev.Journey == "birthday" && ev.Step == "gift"
			})
		})
	})

	t.Run("a second run changes nothing", func(t *testing.T) {
		_, again := scan()
		if got, want := again.Counts, map[string]int{"done_before": 3}; !maps.Equal(got, want) {
			t.Errorf("second scan counts = %v, want %v", got, want)
		}
		check(t)
	})

	t.Run("a trial converts", func(t *testing.T) {
		waitFor(t, "the trial reminder", 30*time.Second, func() bool {
			return slices.Contains(outboxTemplates(t, s, trialist), "trial_reminder")
		})
		conv := eventfix.Sample(t, events.SubscriptionConverted, "evt-conv-"+trialist, trialist, time.Now())
		cd := conv["data"].(map[string]any)
		cd["plan"], cd["price"], cd["period_ends_at"] = "svip", "199.00", time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)
		postEvents(t, s, conv)
		var res workflows.EnrollmentResult
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := s.Temporal.GetWorkflow(ctx, trialWorkflow, "").Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		// The goal jumps to the thank-you, the journey's last step.
		if res.Status != loyalty.EnrollmentCompleted || !slices.Contains(res.Path, "thanks") || slices.Contains(res.Path, "offer") {
			t.Errorf("trial enrollment = %s (%s) through %v, want completed through thanks", res.Status, res.Reason, res.Path)
		}
		if got, want := strings.Join(outboxTemplates(t, s, trialist), ","), "trial_reminder,trial_thanks"; got != want {
			t.Errorf("trial emails = %s, want %s", got, want)
		}
	})

	if *updateHistory {
		dir := filepath.Join(repoRoot(t), "workflows", "testdata")
		writeHistory(t, s.Temporal, firstRun, filepath.Join(dir, "journey_scan_birthday.json"))
		writeHistory(t, s.Temporal, deferred, filepath.Join(dir, "journey_deferred_step.json"))
		writeHistory(t, s.Temporal, trialWorkflow, filepath.Join(dir, "journey_trial_converted.json"))
	}
}
