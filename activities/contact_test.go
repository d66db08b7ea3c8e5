package activities_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/contact"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
)

// recordingMailer keeps every message it is asked to send; while err is
// set it fails instead.
type recordingMailer struct {
	mu   sync.Mutex
	err  error
	sent []mail.Message
}

func (r *recordingMailer) Send(_ context.Context, m mail.Message) (mail.SendResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return mail.SendResult{}, r.err
	}
	r.sent = append(r.sent, m)
	return mail.SendResult{MessageID: "msg-" + m.IdempotencyKey, StatusCode: 202}, nil
}

func (r *recordingMailer) messages() []mail.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]mail.Message(nil), r.sent...)
}

// to returns the messages sent with the idempotency key.
func (r *recordingMailer) to(key string) []mail.Message {
	var out []mail.Message
	for _, m := range r.messages() {
		if m.IdempotencyKey == key {
			out = append(out, m)
		}
	}
	return out
}

// policyWorld is one member with the default contact policy, a clock at
// *now, and the programme (Asia/Shanghai) when withProgramme is set.
func policyWorld(t *testing.T, m loyalty.Member, withProgramme bool, now *time.Time) (*activities.Activities, *memstore.Store, *recordingMailer) {
	t.Helper()
	st := memstore.New()
	m.Version = 1
	if err := st.SaveMember(context.Background(), m, "reg-"+m.ID); err != nil {
		t.Fatal(err)
	}
	mailer := &recordingMailer{}
	// Exact seven-day windows (no slack), so the slots fall on round times.
	pol := contact.Default()
	pol.Slack = 0
	a := &activities.Activities{Store: st, Mailer: mailer, Brand: activities.Brand{Name: "Demo", ShopURL: "https://shop.example.com"},
		Log: quietLog, Now: func() time.Time { return *now }, Contact: &pol}
	if withProgramme {
		a.Ledger = ledgerfix.Service(t, st)
		a.Ledger.Now = a.Now
	}
	return a, st, mailer
}

func reachable(id, tz string) loyalty.Member {
	return loyalty.Member{ID: id, Email: id + "@example.com", Name: "Mei", Timezone: tz, Consent: loyalty.Consent{EmailMarketing: true}}
}

func sendReq(memberID, journeyName string, enrollment int, step string) activities.SendEmailRequest {
	return activities.SendEmailRequest{MemberID: memberID, Journey: journeyName, Enrollment: enrollment, Step: step,
		Template: journeyName + "_" + step, Year: 2026}
}

func mustSend(t *testing.T, a *activities.Activities, req activities.SendEmailRequest) activities.SendEmailResult {
	t.Helper()
	res, err := a.SendEmail(context.Background(), req)
	if err != nil {
		t.Fatalf("send %s/%s: %v", req.Journey, req.Step, err)
	}
	return res
}

func sendRow(t *testing.T, st *memstore.Store, memberID, key string) store.Send {
	t.Helper()
	row, err := st.GetSend(context.Background(), memberID, key)
	if err != nil {
		t.Fatalf("send row %s: %v", key, err)
	}
	return row
}

// Quiet hours (21:00–09:00) are the member's: their own time zone, else
// the programme's, else UTC. A deferred email keeps its row pending and
// does not reach the provider; asked again at DeferUntil, it goes.
func TestSendEmailQuietHoursInMemberZone(t *testing.T) {
	now := time.Date(2026, 11, 23, 13, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		tz         string
		programme  bool
		deferUntil time.Time // zero: sent now
	}{
		{name: "member in Los Angeles, 05:30", tz: "America/Los_Angeles", programme: true, deferUntil: time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)},
		{name: "member in New York, 08:30", tz: "America/New_York", programme: true, deferUntil: time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)},
		{name: "member in London, 13:30", tz: "Europe/London", programme: true},
		{name: "no zone: the programme's, 21:30", programme: true, deferUntil: time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)},
		{name: "unknown zone: the programme's", tz: "Mars/Olympus_Mons", programme: true, deferUntil: time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)},
		{name: "no zone and no programme: UTC, 13:30", tz: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := now
			a, st, mailer := policyWorld(t, reachable("m-1", tc.tz), tc.programme, &clock)
			req := sendReq("m-1", journey.Activation, 1, "nudge")
			res := mustSend(t, a, req)
			if res.Key != "m-1#activation#1#nudge#2026" {
				t.Errorf("key = %s", res.Key)
			}
			if tc.deferUntil.IsZero() {
				if res.Status != store.SendSent || res.Deferred() || len(mailer.messages()) != 1 {
					t.Fatalf("result = %+v, %d sent; want sent now", res, len(mailer.messages()))
				}
				return
			}
			if !res.Deferred() || !res.DeferUntil.Equal(tc.deferUntil) || res.Status != store.SendPending || res.Reason != "quiet_hours" {
				t.Fatalf("result = %+v, want deferred for quiet hours until %s", res, tc.deferUntil)
			}
			if n := len(mailer.messages()); n != 0 {
				t.Fatalf("a deferred email reached the provider %d times", n)
			}
			if row := sendRow(t, st, "m-1", res.Key); row.Status != store.SendPending || !row.AttemptedAt.IsZero() {
				t.Errorf("row = %+v, want pending and never attempted", row)
			}
			clock = res.DeferUntil
			if res := mustSend(t, a, req); res.Status != store.SendSent || res.Deferred() {
				t.Errorf("at the deferral's end: %+v, want sent", res)
			}
			if n := len(mailer.messages()); n != 1 {
				t.Errorf("%d emails sent, want 1", n)
			}
		})
	}
}

// At most two marketing emails per member in any seven days; the third
// waits until the oldest leaves the window.
func TestSendEmailFrequencyCap(t *testing.T) {
	day0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	clock := day0
	a, st, mailer := policyWorld(t, reachable("m-1", "UTC"), false, &clock)
	mustSend(t, a, sendReq("m-1", journey.Activation, 1, "welcome"))
	clock = day0.AddDate(0, 0, 2)
	mustSend(t, a, sendReq("m-1", journey.Activation, 1, "nudge"))
	clock = day0.AddDate(0, 0, 3)
	third := sendReq("m-1", journey.Activation, 1, "last_nudge")
	res := mustSend(t, a, third)
	if want := day0.AddDate(0, 0, 7); !res.DeferUntil.Equal(want) || res.Reason != "frequency_cap" || res.Status != store.SendPending {
		t.Fatalf("third email = %+v, want deferred for the cap until %s", res, want)
	}
	if row := sendRow(t, st, "m-1", res.Key); row.Status != store.SendPending {
		t.Errorf("row = %+v, want pending", row)
	}
	clock = day0.AddDate(0, 0, 7).Add(-time.Minute)
	if res := mustSend(t, a, third); !res.Deferred() {
		t.Errorf("a minute early: %+v, want still deferred", res)
	}
	clock = day0.AddDate(0, 0, 7)
	if res := mustSend(t, a, third); res.Status != store.SendSent {
		t.Errorf("when the first email left the window: %+v, want sent", res)
	}
	if n := len(mailer.messages()); n != 3 {
		t.Errorf("%d emails sent, want 3", n)
	}
}

// When emails compete for a member's capped slots, the more important
// journey goes first even if it asked later: tier expiry before win-back.
func TestSendEmailPriorityOrdersCappedEmails(t *testing.T) {
	day := func(n int) time.Time { return time.Date(2026, 11, 2+n, 10, 0, 0, 0, time.UTC) }
	clock := day(0)
	a, _, mailer := policyWorld(t, reachable("m-1", "UTC"), false, &clock)
	mustSend(t, a, sendReq("m-1", journey.Activation, 1, "welcome"))
	clock = day(2)
	mustSend(t, a, sendReq("m-1", journey.Activation, 1, "nudge"))

	// The step executor ranks each send by its journey's priority (the
	// shipped definitions: tier_expiry 90, winback 10).
	winback := sendReq("m-1", journey.Winback, 20260901, "d60")
	winback.Priority = 10
	tierExpiry := sendReq("m-1", journey.TierExpiry, 20261210, "d30")
	tierExpiry.Priority = 90
	clock = day(3)
	if res := mustSend(t, a, winback); !res.DeferUntil.Equal(day(7)) {
		t.Fatalf("win-back on day 3 = %+v, want deferred to day 7", res)
	}
	clock = day(4)
	if res := mustSend(t, a, tierExpiry); !res.DeferUntil.Equal(day(7)) || res.Reason != "frequency_cap" {
		t.Fatalf("tier expiry on day 4 = %+v, want the first free slot, day 7", res)
	}
	if res := mustSend(t, a, winback); !res.DeferUntil.Equal(day(9)) {
		t.Fatalf("win-back asking again on day 4 = %+v, want day 9, after tier expiry's slot", res)
	}
	// Day 7: win-back asks first, but tier expiry holds the slot.
	clock = day(7)
	if res := mustSend(t, a, winback); !res.DeferUntil.Equal(day(9)) {
		t.Fatalf("win-back on day 7 = %+v, want still deferred to day 9", res)
	}
	if res := mustSend(t, a, tierExpiry); res.Status != store.SendSent {
		t.Fatalf("tier expiry on day 7 = %+v, want sent", res)
	}
	clock = day(9)
	if res := mustSend(t, a, winback); res.Status != store.SendSent {
		t.Fatalf("win-back on day 9 = %+v, want sent", res)
	}
	var order []string
	for _, m := range mailer.messages() {
		order = append(order, m.CustomArgs["journey"])
	}
	if got, want := len(order), 4; got != want || order[2] != journey.TierExpiry || order[3] != journey.Winback {
		t.Errorf("sent in order %v, want tier_expiry before winback", order)
	}
}

// A deferral that would end after the step's deadline skips the email for
// good ("contact_policy: <reason>"), counted as skipped:contact_policy.
func TestSendEmailSkipsPastDeadline(t *testing.T) {
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		now        time.Time
		earlier    int // emails already sent today
		deadline   time.Duration
		wantReason string
	}{
		{name: "quiet hours", now: base.Add(12 * time.Hour), deadline: time.Hour, wantReason: "contact_policy: quiet_hours"},
		{name: "frequency cap", now: base, earlier: 2, deadline: 24 * time.Hour, wantReason: "contact_policy: frequency_cap"},
		{name: "deferral inside the deadline", now: base.Add(12 * time.Hour), deadline: 12 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := tc.now
			a, st, mailer := policyWorld(t, reachable("m-1", "UTC"), false, &clock)
			for i := range tc.earlier {
				mustSend(t, a, sendReq("m-1", journey.Activation, i+1, "welcome"))
			}
			req := sendReq("m-1", journey.Birthday, 2026, "gift")
			req.Deadline = tc.now.Add(tc.deadline)
			res := mustSend(t, a, req)
			if tc.wantReason == "" {
				if !res.Deferred() || res.Status != store.SendPending {
					t.Fatalf("result = %+v, want deferred", res)
				}
				return
			}
			if res.Status != store.SendSkipped || res.Reason != tc.wantReason || res.Deferred() {
				t.Fatalf("result = %+v, want skipped with %q", res, tc.wantReason)
			}
			if got := mailer.to(res.Key); len(got) != 0 {
				t.Errorf("a skipped email reached the provider")
			}
			if row := sendRow(t, st, "m-1", res.Key); row.Status != store.SendSkipped || row.Reason != tc.wantReason {
				t.Errorf("row = %+v", row)
			}
			// Final: asked again (a retry, or later), it stays skipped.
			clock = clock.Add(8 * 24 * time.Hour)
			if again := mustSend(t, a, req); again.Status != store.SendSkipped || again.Reason != tc.wantReason {
				t.Errorf("asked again: %+v", again)
			}
			stats, err := st.JourneyStats(context.Background(), journey.Birthday)
			if err != nil {
				t.Fatal(err)
			}
			if len(stats) != 1 || stats[0].Step != "gift" || stats[0].Counts["skipped:contact_policy"] != 1 || len(stats[0].Counts) != 1 {
				t.Errorf("stats = %+v, want one skipped:contact_policy", stats)
			}
		})
	}
}

// A retry of a send whose first attempt reached the provider (as far as
// anyone knows) keeps the slot that attempt took: it is not capped by
// itself, and it still counts against the next email.
func TestSendEmailRetryKeepsItsSlot(t *testing.T) {
	clock := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a, st, mailer := policyWorld(t, reachable("m-1", "UTC"), false, &clock)
	mustSend(t, a, sendReq("m-1", journey.Activation, 1, "welcome"))
	req := sendReq("m-1", journey.Activation, 1, "nudge")
	mailer.err = errors.New("connection reset by peer")
	if _, err := a.SendEmail(context.Background(), req); err == nil {
		t.Fatal("a failed provider call succeeded")
	}
	mailer.err = nil
	clock = clock.Add(activities.DefaultConfirmWindow + time.Minute)
	if res := mustSend(t, a, req); res.Status != store.SendSent {
		t.Fatalf("retry = %+v, want sent in the slot its first attempt took", res)
	}
	if row := sendRow(t, st, "m-1", "m-1#activation#1#nudge#2026"); row.Status != store.SendSent {
		t.Errorf("row = %+v", row)
	}
	if res := mustSend(t, a, sendReq("m-1", journey.Winback, 20260901, "d60")); !res.Deferred() || res.Reason != "frequency_cap" {
		t.Errorf("third email = %+v, want capped", res)
	}
}

// Vars, Dates and a step's Reward reach the template data; dates are the
// member's local calendar day (YYYY-MM-DD).
func TestSendEmailTemplateDataInMemberZone(t *testing.T) {
	reviewAt := time.Date(2026, 12, 23, 17, 0, 0, 0, time.UTC) // 12-24 01:00 in Shanghai
	boostEnds := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	couponEnds := time.Date(2026, 12, 24, 16, 0, 0, 0, time.UTC) // 12-25 00:00 in Shanghai
	for _, tc := range []struct {
		name      string
		tz        string
		programme bool
		now       time.Time // outside the member's quiet hours
		review    string
		boost     string
		coupon    string
	}{
		{name: "programme zone", programme: true, now: time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC), review: "2026-12-24", boost: "2026-12-01", coupon: "2026-12-24"},
		{name: "member zone", tz: "America/Los_Angeles", programme: true, now: time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC), review: "2026-12-23", boost: "2026-11-30", coupon: "2026-12-24"},
		{name: "UTC", now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), review: "2026-12-23", boost: "2026-11-30", coupon: "2026-12-24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := tc.now
			a, _, mailer := policyWorld(t, reachable("m-1", tc.tz), tc.programme, &clock)
			req := sendReq("m-1", journey.Winback, 20260901, "d120")
			req.Template = "winback_offer"
			req.Vars = map[string]string{"tier_name": "金卡"}
			req.Dates = map[string]time.Time{"review_on": reviewAt}
			req.Reward = &activities.RewardResult{
				Coupon:     &loyalty.Coupon{Code: "FREE25-AAAA", Kind: "FREE25", ExpiresAt: couponEnds},
				CouponName: "无门槛25",
				Boost:      &loyalty.Boost{Multiplier: decimal.RequireFromString("2"), Until: boostEnds},
			}
			res := mustSend(t, a, req)
			if res.Status != store.SendSent || res.Key != "m-1#winback#20260901#d120#2026" {
				t.Fatalf("result = %+v", res)
			}
			msgs := mailer.messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			d := msgs[0].Data
			for k, want := range map[string]any{
				"name": "Mei", "brand": "Demo", "tier_name": "金卡",
				"coupon_code": "FREE25-AAAA", "coupon_name": "无门槛25", "boost_multiplier": "2",
				"review_on": tc.review, "boost_until": tc.boost, "coupon_valid_until": tc.coupon,
			} {
				if d[k] != want {
					t.Errorf("data[%s] = %v, want %v", k, d[k], want)
				}
			}
			if req.Dates["boost_until"] != (time.Time{}) {
				t.Error("the reward's dates were written into the caller's map")
			}
		})
	}
}

// An email waiting for a capped slot that is then skipped for another
// reason (here the member left its group) gives up its place: it does not
// hold back the emails behind it.
func TestSendEmailSkippedWaiterFreesItsPlace(t *testing.T) {
	day := func(n int) time.Time { return time.Date(2026, 11, 2+n, 10, 0, 0, 0, time.UTC) }
	clock := day(0)
	a, st, _ := policyWorld(t, reachable("m-1", "UTC"), false, &clock)
	mustSend(t, a, sendReq("m-1", journey.Activation, 1, "welcome"))
	clock = day(2)
	mustSend(t, a, sendReq("m-1", journey.Activation, 1, "nudge"))
	clock = day(3)
	tierExpiry := sendReq("m-1", journey.TierExpiry, 20261210, "d30")
	if res := mustSend(t, a, tierExpiry); !res.DeferUntil.Equal(day(7)) {
		t.Fatalf("tier expiry = %+v, want deferred to day 7", res)
	}

	m, err := st.GetMember(context.Background(), "m-1")
	if err != nil {
		t.Fatal(err)
	}
	m.Consent.UnsubscribedGroups = []string{journey.TierExpiry}
	m.Version++
	if err := st.SaveMember(context.Background(), m, "unsub-1"); err != nil {
		t.Fatal(err)
	}
	clock = day(4)
	if res := mustSend(t, a, tierExpiry); res.Status != store.SendSkipped || res.Reason != activities.SkipUnsubscribed {
		t.Fatalf("tier expiry after leaving the group = %+v, want skipped", res)
	}
	if res := mustSend(t, a, sendReq("m-1", journey.Winback, 20260901, "d60")); !res.DeferUntil.Equal(day(7)) {
		t.Errorf("win-back = %+v, want the first free slot (day 7): the skipped tier-expiry email still holds it", res)
	}
	st2, _, err := st.GetContact(context.Background(), "m-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range st2.Waiters {
		if w.Key == "m-1#tier_expiry#20261210#d30#2026" {
			t.Errorf("waiters = %+v, still hold the skipped email", st2.Waiters)
		}
	}
}
