package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/store"
)

// sendEvent is a provider event of snd; at is relative to a whole second,
// so a store that writes times without trailing zeros and sorts them as
// text ("…:53Z" after "…:53.5Z") shows up.
func sendEvent(snd store.Send, id, typ string, at time.Duration) store.SendEvent {
	return store.SendEvent{
		ID:         id,
		MemberID:   snd.MemberID,
		SendKey:    snd.Key,
		Journey:    snd.Journey,
		Step:       snd.Step,
		Enrollment: snd.Enrollment,
		Type:       typ,
		At:         base.Truncate(time.Second).Add(at),
	}
}

// journeySend is a send of a journey no other subtest or run counts in.
func journeySend(memberID, key string) store.Send {
	snd := send(memberID, key, base)
	snd.Journey = uniqueID("journey")
	return snd
}

func runFeedback(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("fixture sets every field", func(t *testing.T) {
		checkAllSet(t, reflect.ValueOf(fullSendEvent()), "SendEvent")
	})

	t.Run("record and list", func(t *testing.T) {
		s := newStore(t)
		snd := journeySend(uniqueID("m"), "k1")
		reserveSend(t, s, snd)
		full := fullSendEvent()
		full.MemberID, full.SendKey, full.Journey, full.Step = snd.MemberID, snd.Key, snd.Journey, snd.Step
		processed := sendEvent(snd, "e1", store.EventProcessed, 0)
		processed.MessageID = "msg-1"
		delivered := sendEvent(snd, "e2", store.EventDelivered, 500*time.Millisecond)
		delivered.MessageID = "msg-1"
		openA := sendEvent(snd, "e4", store.EventOpen, time.Second)
		openB := sendEvent(snd, "e3", store.EventOpen, time.Second) // same time: by id
		full.At = base.Truncate(time.Second).Add(time.Minute)
		// Recorded out of order; listed by time.
		for _, ev := range []store.SendEvent{full, openA, delivered, processed, openB} {
			recordSendEvent(t, s, ev)
		}
		recordSendEvent(t, s, sendEvent(journeySend(uniqueID("m"), "k1"), "e5", store.EventOpen, 0)) // another member

		checkEqual(t, "all events", listSendEvents(t, s, snd.MemberID, time.Time{}),
			[]store.SendEvent{processed, delivered, openB, openA, full})
		checkEqual(t, "events since the opens", listSendEvents(t, s, snd.MemberID, openA.At),
			[]store.SendEvent{openB, openA, full})
		checkEqual(t, "events after the last", listSendEvents(t, s, snd.MemberID, full.At.Add(time.Nanosecond)), []store.SendEvent{})

		// delivered, recorded first, moved the pending row to sent;
		// processed found it final.
		want := snd
		want.Status, want.MessageID, want.UpdatedAt = store.SendSent, "msg-1", delivered.At
		checkEqual(t, "row", getSend(t, s, snd.MemberID, snd.Key), want)
		checkStats(t, s, snd.Journey, []store.StepStats{{Step: snd.Step, Counts: map[string]int64{
			"sent": 1, "processed": 1, "delivered": 1, "open": 1, "click": 1,
		}}})
	})

	t.Run("sent per day", func(t *testing.T) {
		s := newStore(t)
		journey := uniqueID("journey")
		// base is 09:26 at UTC+1; late is 23:30 at UTC+8 the same local
		// day, which is 15:30 UTC: days are UTC days.
		day1 := base
		late := time.Date(2026, 3, 15, 23, 30, 0, 0, time.FixedZone("UTC+8", 8*3600))
		day3 := base.AddDate(0, 0, 2)
		sendOf := func(member, key string) store.Send {
			snd := send(member, key, base)
			snd.Journey = journey
			reserveSend(t, s, snd)
			return snd
		}
		// Completed as sent by the worker, two members (likely two shards)
		// on day 1 and one on the next UTC day; a second completion of the
		// same row counts nothing.
		a, b, c := sendOf(uniqueID("m"), "a"), sendOf(uniqueID("m"), "b"), sendOf(uniqueID("m"), "c")
		completeSend(t, s, a, store.SendSent, "msg-a", "", day1)
		completeSend(t, s, a, store.SendSent, "msg-a", "", day3)
		completeSend(t, s, b, store.SendSent, "msg-b", "", day1.Add(time.Hour))
		completeSend(t, s, c, store.SendSent, "msg-c", "", late)
		// Skipped: not a send.
		skipped := sendOf(uniqueID("m"), "skipped")
		completeSend(t, s, skipped, store.SendSkipped, "", "no_consent", late)
		// Moved to sent by the provider's event on day 3, counted on the
		// event's day; a later delivered and the worker's completion find
		// it final.
		d := sendOf(uniqueID("m"), "d")
		processed := sendEvent(d, uniqueID("e"), store.EventProcessed, 0)
		processed.At = day3
		recordSendEvent(t, s, processed)
		delivered := sendEvent(d, uniqueID("e"), store.EventDelivered, 0)
		delivered.At = day3.AddDate(0, 0, 1)
		recordSendEvent(t, s, delivered)
		completeSend(t, s, d, store.SendSent, "msg-d", "", day3.AddDate(0, 0, 1))
		// Ten callers completing one row at once count it once.
		e := sendOf(uniqueID("m"), "e")
		checkNoErrors(t, "concurrent CompleteSend", concurrently(10, func(int) error {
			return s.CompleteSend(t.Context(), e.Ref(), store.SendSent, "msg-e", "", day3)
		}))
		// Another journey's sends are its own.
		other := journeySend(uniqueID("m"), "other")
		reserveSend(t, s, other)
		completeSend(t, s, other, store.SendSent, "msg-o", "", day1)

		days := func(from, to time.Time) map[string]int64 {
			t.Helper()
			got, err := s.JourneySentDays(t.Context(), journey, from, to)
			if err != nil {
				t.Fatalf("JourneySentDays: %v", err)
			}
			return got
		}
		checkEqual(t, "days", days(base.AddDate(0, 0, -30), base.AddDate(0, 0, 30)),
			map[string]int64{"2026-03-14": 2, "2026-03-15": 1, "2026-03-16": 2})
		// Both ends are included, by their UTC day, whatever their time.
		checkEqual(t, "day 2 to 3", days(late, time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)),
			map[string]int64{"2026-03-15": 1, "2026-03-16": 2})
		checkEqual(t, "before", days(base.AddDate(0, 0, -30), base.AddDate(0, 0, -1)), map[string]int64{})
		checkEqual(t, "unknown journey", func() map[string]int64 {
			got, err := s.JourneySentDays(t.Context(), uniqueID("journey"), base, base)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}(), map[string]int64{})
		// The step stats are what they were: the days are apart from them.
		checkStats(t, s, journey, []store.StepStats{{Step: "welcome", Counts: map[string]int64{
			"sent": 5, "skipped:no_consent": 1, "processed": 1, "delivered": 1,
		}}})
	})

	t.Run("record duplicate", func(t *testing.T) {
		s := newStore(t)
		snd := journeySend(uniqueID("m"), "k1")
		reserveSend(t, s, snd)
		first := sendEvent(snd, "e1", store.EventOpen, 0)
		recordSendEvent(t, s, first)
		// A repeat is a duplicate whatever it says, and changes nothing.
		again := sendEvent(snd, "e1", store.EventDelivered, time.Second)
		for _, ev := range []store.SendEvent{first, again} {
			if err := s.RecordSendEvent(t.Context(), ev); !errors.Is(err, store.ErrDuplicate) {
				t.Errorf("RecordSendEvent(repeat of e1 as %s) err = %v, want ErrDuplicate", ev.Type, err)
			}
		}
		checkEqual(t, "events", listSendEvents(t, s, snd.MemberID, time.Time{}), []store.SendEvent{first})
		checkEqual(t, "row", getSend(t, s, snd.MemberID, snd.Key), snd)
		checkStats(t, s, snd.Journey, []store.StepStats{{Step: snd.Step, Counts: map[string]int64{"open": 1}}})
	})

	t.Run("record leaves final and missing rows", func(t *testing.T) {
		s := newStore(t)
		id := uniqueID("m")
		skipped, sent, missing := journeySend(id, "skipped"), journeySend(id, "sent"), journeySend(id, "missing")
		reserveSend(t, s, skipped)
		reserveSend(t, s, sent)
		completeSend(t, s, skipped, store.SendSkipped, "", "no_consent", base)
		completeSend(t, s, sent, store.SendSent, "msg-0", "", base)
		for _, snd := range []store.Send{skipped, sent, missing} {
			ev := sendEvent(snd, uniqueID("e"), store.EventDelivered, time.Hour)
			ev.MessageID = "msg-other"
			recordSendEvent(t, s, ev)
		}
		wantSkipped, wantSent := skipped, sent
		wantSkipped.Status, wantSkipped.Reason, wantSkipped.UpdatedAt = store.SendSkipped, "no_consent", base
		wantSent.Status, wantSent.MessageID, wantSent.UpdatedAt = store.SendSent, "msg-0", base
		checkEqual(t, "rows", listSends(t, s, id), []store.Send{wantSent, wantSkipped})
		checkStats(t, s, skipped.Journey, []store.StepStats{{Step: skipped.Step, Counts: map[string]int64{"skipped:no_consent": 1, "delivered": 1}}})
		checkStats(t, s, sent.Journey, []store.StepStats{{Step: sent.Step, Counts: map[string]int64{"sent": 1, "delivered": 1}}})
		checkStats(t, s, missing.Journey, []store.StepStats{{Step: missing.Step, Counts: map[string]int64{"delivered": 1}}})
		// After an event moved it, completing the row changes nothing.
		late := journeySend(id, "late")
		reserveSend(t, s, late)
		recordSendEvent(t, s, sendEvent(late, uniqueID("e"), store.EventProcessed, 0))
		completeSend(t, s, late, store.SendSent, "msg-late", "", base.Add(time.Hour))
		checkStats(t, s, late.Journey, []store.StepStats{{Step: late.Step, Counts: map[string]int64{"sent": 1, "processed": 1}}})
	})

	t.Run("record paths", func(t *testing.T) {
		s := newStore(t)
		// Each case records its events in order on a send of its own; the
		// last one's error is checked, every earlier one must succeed.
		cases := []struct {
			name      string
			reserved  bool
			completed store.SendStatus // before the events; "" leaves the row pending
			events    []struct{ id, typ string }
			lastErr   error
			status    store.SendStatus // of the row afterwards
			counts    map[string]int64
		}{
			{
				name: "first processed moves a pending row", reserved: true,
				events: []struct{ id, typ string }{{"e1", store.EventProcessed}},
				status: store.SendSent, counts: map[string]int64{"processed": 1, "sent": 1},
			},
			{
				name: "delivered after processed", reserved: true,
				events: []struct{ id, typ string }{{"e1", store.EventProcessed}, {"e2", store.EventDelivered}},
				status: store.SendSent, counts: map[string]int64{"processed": 1, "sent": 1, "delivered": 1},
			},
			{
				name: "a second event of a type is not counted", reserved: true,
				events: []struct{ id, typ string }{{"e1", store.EventProcessed}, {"e2", store.EventProcessed}},
				status: store.SendSent, counts: map[string]int64{"processed": 1, "sent": 1},
			},
			{
				name: "processed on a completed row", reserved: true, completed: store.SendSent,
				events: []struct{ id, typ string }{{"e1", store.EventProcessed}},
				status: store.SendSent, counts: map[string]int64{"sent": 1, "processed": 1},
			},
			{
				name: "open on a skipped row", reserved: true, completed: store.SendSkipped,
				events: []struct{ id, typ string }{{"e1", store.EventOpen}},
				status: store.SendSkipped, counts: map[string]int64{"skipped:no_consent": 1, "open": 1},
			},
			{
				name: "open leaves a pending row pending", reserved: true,
				events: []struct{ id, typ string }{{"e1", store.EventOpen}},
				status: store.SendPending, counts: map[string]int64{"open": 1},
			},
			{
				name:   "processed without a row",
				events: []struct{ id, typ string }{{"e1", store.EventProcessed}},
				counts: map[string]int64{"processed": 1},
			},
			{
				name: "duplicate id of another type changes nothing", reserved: true,
				events:  []struct{ id, typ string }{{"e1", store.EventOpen}, {"e1", store.EventProcessed}},
				lastErr: store.ErrDuplicate,
				status:  store.SendPending, counts: map[string]int64{"open": 1},
			},
			{
				name: "duplicate id of the same type changes nothing", reserved: true,
				events:  []struct{ id, typ string }{{"e1", store.EventProcessed}, {"e1", store.EventProcessed}},
				lastErr: store.ErrDuplicate,
				status:  store.SendSent, counts: map[string]int64{"processed": 1, "sent": 1},
			},
		}
		// Reported long after the send, or as the provider took it (when
		// the activity may still be completing the row): the outcome is
		// the same.
		for _, origin := range []struct {
			name string
			at   time.Time
		}{{"late", base.Truncate(time.Second)}, {"at once", time.Now().Truncate(time.Second)}} {
			for _, tc := range cases {
				t.Run(origin.name+"/"+tc.name, func(t *testing.T) {
					snd := journeySend(uniqueID("m"), "k1")
					if tc.reserved {
						reserveSend(t, s, snd)
					}
					switch tc.completed {
					case store.SendSent:
						completeSend(t, s, snd, store.SendSent, "msg-0", "", base)
					case store.SendSkipped:
						completeSend(t, s, snd, store.SendSkipped, "", "no_consent", base)
					}
					for i, e := range tc.events {
						ev := sendEvent(snd, e.id, e.typ, 0)
						ev.At = origin.at.Add(time.Duration(i) * time.Second)
						ev.MessageID = "msg-" + e.id
						err := s.RecordSendEvent(t.Context(), ev)
						if i < len(tc.events)-1 || tc.lastErr == nil {
							if err != nil {
								t.Fatalf("RecordSendEvent(%s, %s): %v", e.id, e.typ, err)
							}
						} else if !errors.Is(err, tc.lastErr) {
							t.Fatalf("RecordSendEvent(%s, %s) err = %v, want %v", e.id, e.typ, err, tc.lastErr)
						}
					}
					if tc.reserved {
						want := snd
						want.Status = tc.status
						switch {
						case tc.completed == store.SendSent:
							want.MessageID, want.UpdatedAt = "msg-0", base
						case tc.completed == store.SendSkipped:
							want.Reason, want.UpdatedAt = "no_consent", base
						case tc.status == store.SendSent:
							// Moved by the first event, with its message id and time.
							want.MessageID, want.UpdatedAt = "msg-e1", origin.at
						}
						checkEqual(t, "row", getSend(t, s, snd.MemberID, snd.Key), want)
					} else if _, err := s.GetSend(t.Context(), snd.MemberID, snd.Key); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("GetSend of a send never reserved: err = %v, want ErrNotFound", err)
					}
					checkStats(t, s, snd.Journey, []store.StepStats{{Step: snd.Step, Counts: tc.counts}})
					recorded := len(tc.events)
					if tc.lastErr != nil {
						recorded--
					}
					if got := len(listSendEvents(t, s, snd.MemberID, time.Time{})); got != recorded {
						t.Errorf("%d events listed, want %d", got, recorded)
					}
				})
			}
		}
	})

	t.Run("record counts sent under the row's step", func(t *testing.T) {
		s := newStore(t)
		for _, at := range []time.Time{base, time.Now()} {
			snd := journeySend(uniqueID("m"), "k1")
			reserveSend(t, s, snd)
			ev := sendEvent(snd, "e1", store.EventProcessed, 0)
			ev.At, ev.Journey, ev.Step = at, uniqueID("journey"), "other"
			recordSendEvent(t, s, ev)
			if got := getSend(t, s, snd.MemberID, snd.Key).Status; got != store.SendSent {
				t.Errorf("row status = %s, want sent", got)
			}
			checkStats(t, s, snd.Journey, []store.StepStats{{Step: snd.Step, Counts: map[string]int64{"sent": 1}}})
			checkStats(t, s, ev.Journey, []store.StepStats{{Step: "other", Counts: map[string]int64{"processed": 1}}})
		}
	})

	t.Run("record rejects invalid events", func(t *testing.T) {
		s := newStore(t)
		snd := journeySend(uniqueID("m"), "k1")
		reserveSend(t, s, snd)
		valid := sendEvent(snd, "e1", store.EventProcessed, 0)
		for _, tc := range []struct {
			name  string
			apply func(*store.SendEvent)
		}{
			{"no id", func(ev *store.SendEvent) { ev.ID = "" }},
			{"no member", func(ev *store.SendEvent) { ev.MemberID = "" }},
			{"no send key", func(ev *store.SendEvent) { ev.SendKey = "" }},
			{"no journey", func(ev *store.SendEvent) { ev.Journey = "" }},
			{"no step", func(ev *store.SendEvent) { ev.Step = "" }},
			{"unknown type", func(ev *store.SendEvent) { ev.Type = "sent" }},
		} {
			ev := valid
			tc.apply(&ev)
			if err := s.RecordSendEvent(t.Context(), ev); err == nil {
				t.Errorf("%s: RecordSendEvent = nil, want an error", tc.name)
			}
		}
		checkEqual(t, "events", listSendEvents(t, s, snd.MemberID, time.Time{}), []store.SendEvent{})
		checkEqual(t, "row", getSend(t, s, snd.MemberID, snd.Key), snd)
		checkStats(t, s, snd.Journey, nil)
	})

	t.Run("concurrent events count once", func(t *testing.T) {
		s := newStore(t)
		snd := journeySend(uniqueID("m"), "k1")
		reserveSend(t, s, snd)
		types := []string{store.EventProcessed, store.EventDelivered, store.EventOpen, store.EventOpen}
		var evs []store.SendEvent
		for i := range 8 {
			evs = append(evs, sendEvent(snd, fmt.Sprintf("e%d", i), types[i%len(types)], time.Duration(i)*time.Millisecond))
		}
		checkNoErrors(t, "RecordSendEvent", concurrently(len(evs), func(i int) error {
			return s.RecordSendEvent(t.Context(), evs[i])
		}))
		if got := len(listSendEvents(t, s, snd.MemberID, time.Time{})); got != len(evs) {
			t.Errorf("%d events listed, want %d", got, len(evs))
		}
		if got := getSend(t, s, snd.MemberID, snd.Key).Status; got != store.SendSent {
			t.Errorf("row status = %s, want sent", got)
		}
		checkStats(t, s, snd.Journey, []store.StepStats{{Step: snd.Step, Counts: map[string]int64{
			"sent": 1, "processed": 1, "delivered": 1, "open": 1,
		}}})
	})

	t.Run("completion racing its processed event counts once", func(t *testing.T) {
		s := newStore(t)
		id := uniqueID("m")
		journey := uniqueID("journey")
		const sends = 6
		for i := range sends {
			snd := send(id, fmt.Sprint("k", i), base)
			snd.Journey = journey
			reserveSend(t, s, snd)
			// The provider reports the message as the activity completes
			// its row (as the local outbox does): either may land first.
			processed := sendEvent(snd, fmt.Sprint("e", i), store.EventProcessed, 0)
			processed.At, processed.MessageID = time.Now(), "msg-1"
			checkNoErrors(t, "complete or record", concurrently(2, func(w int) error {
				if w == 0 {
					return s.CompleteSend(t.Context(), snd.Ref(), store.SendSent, "msg-1", "", base)
				}
				return s.RecordSendEvent(t.Context(), processed)
			}))
			if got := getSend(t, s, id, snd.Key); got.Status != store.SendSent || got.MessageID != "msg-1" {
				t.Errorf("row %s = %s %q, want sent msg-1", snd.Key, got.Status, got.MessageID)
			}
		}
		checkStats(t, s, journey, []store.StepStats{{Step: "welcome", Counts: map[string]int64{"sent": sends, "processed": sends}}})
	})

	t.Run("concurrent repeats record once", func(t *testing.T) {
		s := newStore(t)
		snd := journeySend(uniqueID("m"), "k1")
		ev := sendEvent(snd, "e1", store.EventOpen, 0)
		errs := concurrently(8, func(int) error { return s.RecordSendEvent(t.Context(), ev) })
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrDuplicate):
				t.Errorf("writer %d: err = %v, want nil or ErrDuplicate", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d writers recorded the event, want 1", won)
		}
		checkEqual(t, "events", listSendEvents(t, s, snd.MemberID, time.Time{}), []store.SendEvent{ev})
		checkStats(t, s, snd.Journey, []store.StepStats{{Step: snd.Step, Counts: map[string]int64{"open": 1}}})
	})

	t.Run("suppress keeps the first", func(t *testing.T) {
		s := newStore(t)
		id := uniqueID("m")
		if _, err := s.GetSuppression(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSuppression before Suppress: err = %v, want ErrNotFound", err)
		}
		first := store.Suppression{MemberID: id, Reason: "bounce: 550 mailbox unavailable", Source: "sendgrid:bounce", At: base}
		second := store.Suppression{MemberID: id, Reason: "spam report", Source: "sendgrid:spamreport", At: base.Add(time.Hour)}
		for _, sup := range []store.Suppression{first, second} {
			if err := s.Suppress(t.Context(), sup); err != nil {
				t.Fatalf("Suppress(%s): %v", sup.Source, err)
			}
		}
		got, err := s.GetSuppression(t.Context(), id)
		if err != nil {
			t.Fatalf("GetSuppression: %v", err)
		}
		checkEqual(t, "suppression", got, first)
		if err := s.Suppress(t.Context(), store.Suppression{Reason: "x"}); err == nil {
			t.Error("Suppress(no member) = nil, want an error")
		}
	})

	t.Run("conversions", func(t *testing.T) {
		s := newStore(t)
		id := uniqueID("m")
		welcome := journeySend(id, "k1")
		reminder := welcome
		reminder.Key, reminder.Step = "k2", "reminder"
		click := sendEvent(welcome, "e1", store.EventClick, 0)
		open := sendEvent(reminder, "e2", store.EventOpen, 0)
		convert := func(orderID string, ev store.SendEvent) error {
			return s.RecordConversion(t.Context(), id, orderID, ev, base.Add(time.Hour))
		}
		for _, c := range []struct {
			order string
			ev    store.SendEvent
		}{{"o1", click}, {"o1", open}, {"o2", click}} {
			if err := convert(c.order, c.ev); err != nil {
				t.Fatalf("RecordConversion(%s, %s): %v", c.order, c.ev.SendKey, err)
			}
		}
		if err := convert("o1", click); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("RecordConversion(o1, k1) again: err = %v, want ErrDuplicate", err)
		}
		// The send is named by its key; another event of it is no new send.
		if err := convert("o2", sendEvent(welcome, "e3", store.EventOpen, 0)); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("RecordConversion(o2, k1 by another event): err = %v, want ErrDuplicate", err)
		}
		checkStats(t, s, welcome.Journey, []store.StepStats{
			{Step: "reminder", Counts: map[string]int64{"conversion": 1}},
			{Step: "welcome", Counts: map[string]int64{"conversion": 2}},
		})

		other := click
		other.MemberID = uniqueID("m")
		noKey := click
		noKey.SendKey = ""
		for name, err := range map[string]error{
			"no order":               convert("", click),
			"no send key":            convert("o3", noKey),
			"send of another member": convert("o3", other),
			"no member":              s.RecordConversion(t.Context(), "", "o3", click, base),
		} {
			if err == nil {
				t.Errorf("RecordConversion(%s) = nil, want an error", name)
			}
		}
	})

	t.Run("journey stats of an unknown journey", func(t *testing.T) {
		checkStats(t, newStore(t), uniqueID("journey"), nil)
	})
}

// fullSendEvent sets every field, so its round trip proves each one is
// stored.
func fullSendEvent() store.SendEvent {
	return store.SendEvent{
		ID: "e-full", MemberID: "m", SendKey: "k", Journey: "activation", Step: "welcome", Enrollment: 2,
		Type: store.EventClick, At: base, MessageID: "msg-1", Reason: "none", URL: "https://example.com/a?b=c", Group: 42,
	}
}

func recordSendEvent(t *testing.T, s store.Store, ev store.SendEvent) {
	t.Helper()
	if err := s.RecordSendEvent(t.Context(), ev); err != nil {
		t.Fatalf("RecordSendEvent(%s, %s): %v", ev.ID, ev.Type, err)
	}
}

func listSendEvents(t *testing.T, s store.Store, memberID string, since time.Time) []store.SendEvent {
	t.Helper()
	got, err := s.ListSendEvents(t.Context(), memberID, since)
	if err != nil {
		t.Fatalf("ListSendEvents: %v", err)
	}
	return got
}

// checkStats checks the journey's stats are exactly want.
func checkStats(t *testing.T, s store.Store, journey string, want []store.StepStats) {
	t.Helper()
	got, err := s.JourneyStats(t.Context(), journey)
	if err != nil {
		t.Fatalf("JourneyStats(%s): %v", journey, err)
	}
	checkEqual(t, "stats of "+journey, got, want)
}

// concurrently runs n writers at once and returns their errors. A writer
// that fails with ErrConflict tries again, as its caller would: the port
// allows a lost race to surface, not to lose or double a write.
func concurrently(n int, write func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for range 5 {
				if errs[i] = write(i); !errors.Is(errs[i], store.ErrConflict) {
					return
				}
			}
		})
	}
	wg.Wait()
	return errs
}

func checkNoErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s writer %d: %v", what, i, err)
		}
	}
}
