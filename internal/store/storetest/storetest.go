// Package storetest is the contract every store.Store adapter passes. The
// adapters' own tests call Run, so the in-memory store other layers test
// against cannot drift from the DynamoDB one.
package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// Run runs the contract against stores made by newStore. Subtests use keys
// of their own, so newStore may hand every subtest the same backing table.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	t.Run("Ping", func(t *testing.T) {
		if err := newStore(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("Events", func(t *testing.T) { runEvents(t, newStore) })
	t.Run("Members", func(t *testing.T) { runMembers(t, newStore) })
	t.Run("Enrollments", func(t *testing.T) { runEnrollments(t, newStore) })
	t.Run("Sends", func(t *testing.T) { runSends(t, newStore) })
	t.Run("Feedback", func(t *testing.T) { runFeedback(t, newStore) })
	t.Run("Ledger", func(t *testing.T) { runLedger(t, newStore) })
	t.Run("Contacts", func(t *testing.T) { runContacts(t, newStore) })
	t.Run("Calendar", func(t *testing.T) { runCalendar(t, newStore) })
	t.Run("Journeys", func(t *testing.T) { runJourneys(t, newStore) })
	t.Run("Timeline", func(t *testing.T) { runTimeline(t, newStore) })
	t.Run("EngineIndexes", func(t *testing.T) { runEngineIndexes(t, newStore) })
	t.Run("Audit", func(t *testing.T) { runAudit(t, newStore) })
	t.Run("Erasure", func(t *testing.T) { runErasure(t, newStore) })
	t.Run("Lift", func(t *testing.T) { runLift(t, newStore) })
	t.Run("Analytics", func(t *testing.T) { runAnalytics(t, newStore) })
}

// base has nanoseconds and a non-UTC offset so a store that truncates or
// drops the zone's instant shows up.
var base = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.FixedZone("UTC+1", 3600))

// uniqueID returns an id no other subtest or run uses, so one table can be
// shared by every subtest and by repeated runs against a long-lived endpoint.
func uniqueID(prefix string) string { return prefix + "-" + rand.Text()[:16] }

func event(source, id string, payload string) store.RecordedEvent {
	return store.RecordedEvent{
		Source:     source,
		ID:         id,
		Type:       "order.paid",
		MemberID:   uniqueID("m"),
		OccurredAt: base,
		ReceivedAt: base.Add(1500 * time.Millisecond),
		Payload:    json.RawMessage(payload),
		Digest:     digestOf(payload),
	}
}

// digestOf stands in for events' digest: the store only compares digests,
// so any function of the content will do.
func digestOf(payload string) string {
	sum := sha256.Sum256([]byte(payload))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func runEvents(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("PutEvents all new", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		evs := []store.RecordedEvent{
			event(src, "e1", `{"id":"e1","n":1}`),
			event(src, "e2", `{"id":"e2","nested":{"a":[1,2]}}`),
			event(src, "e3", `{"id":"e3"}`),
		}
		res := putEvents(t, s, evs)
		checkIDs(t, "accepted", res.Accepted, []string{"e1", "e2", "e3"})
		checkIDs(t, "duplicates", res.Duplicates, nil)
		for _, want := range evs {
			got, err := s.GetEvent(t.Context(), src, want.ID)
			if err != nil {
				t.Fatalf("GetEvent(%s): %v", want.ID, err)
			}
			checkEqual(t, "event "+want.ID, got, want)
		}
	})

	t.Run("PutEvents partial duplicates", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		first := event(src, "e1", `{"v":"first"}`)
		putEvents(t, s, []store.RecordedEvent{first})

		// The same content (digest) arriving again, with everything the
		// store keeps beside it different: the recorded event stays.
		again := event(src, "e1", `{"v":"first"}`)
		again.Type = "member.updated"
		again.ReceivedAt = base.Add(time.Hour)
		res := putEvents(t, s, []store.RecordedEvent{
			event(src, "e2", `{}`), again, event(src, "e3", `{}`),
		})
		checkIDs(t, "accepted", res.Accepted, []string{"e2", "e3"})
		checkIDs(t, "duplicates", res.Duplicates, []string{"e1"})
		checkIDs(t, "conflicts", res.Conflicts, nil)

		got, err := s.GetEvent(t.Context(), src, "e1")
		if err != nil {
			t.Fatalf("GetEvent(e1): %v", err)
		}
		checkEqual(t, "duplicate left untouched", got, first)
		for _, id := range []string{"e2", "e3"} {
			if _, err := s.GetEvent(t.Context(), src, id); err != nil {
				t.Errorf("GetEvent(%s) after partial duplicate batch: %v", id, err)
			}
		}
	})

	t.Run("PutEvents whole batch duplicate", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		evs := []store.RecordedEvent{event(src, "a", `{}`), event(src, "b", `{}`)}
		putEvents(t, s, evs)
		res := putEvents(t, s, evs)
		checkIDs(t, "accepted", res.Accepted, nil)
		checkIDs(t, "duplicates", res.Duplicates, []string{"a", "b"})
	})

	t.Run("PutEvents repeat inside batch", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		// Same content, sent with other formatting: the digest is the
		// same, the bytes are not.
		again := event(src, "a", `{"v":1}`)
		again.Payload = json.RawMessage(`{ "v": 1 }`)
		res := putEvents(t, s, []store.RecordedEvent{
			event(src, "a", `{"v":1}`), event(src, "b", `{}`), again,
		})
		checkIDs(t, "accepted", res.Accepted, []string{"a", "b"})
		checkIDs(t, "duplicates", res.Duplicates, []string{"a"})
		checkIDs(t, "conflicts", res.Conflicts, nil)
		got, err := s.GetEvent(t.Context(), src, "a")
		if err != nil {
			t.Fatalf("GetEvent(a): %v", err)
		}
		if want := `{"v":1}`; string(got.Payload) != want {
			t.Errorf("payload = %s, want the first occurrence's %s", got.Payload, want)
		}
	})

	t.Run("PutEvents id reused with other content writes nothing", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		first := event(src, "e1", `{"v":"first"}`)
		putEvents(t, s, []store.RecordedEvent{first})

		res := putEvents(t, s, []store.RecordedEvent{
			event(src, "e2", `{}`), event(src, "e1", `{"v":"second"}`), event(src, "e3", `{}`),
		})
		checkIDs(t, "accepted", res.Accepted, nil)
		checkIDs(t, "duplicates", res.Duplicates, nil)
		checkIDs(t, "conflicts", res.Conflicts, []string{"e1"})
		got, err := s.GetEvent(t.Context(), src, "e1")
		if err != nil {
			t.Fatalf("GetEvent(e1): %v", err)
		}
		checkEqual(t, "recorded event left untouched", got, first)
		checkEventsAbsent(t, s, src, "e2", "e3")
	})

	t.Run("PutEvents one event", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		first := event(src, "e1", `{"v":"first"}`)
		for _, tc := range []struct {
			name                            string
			batch                           []store.RecordedEvent
			accepted, duplicates, conflicts []string
		}{
			{"new", []store.RecordedEvent{first}, []string{"e1"}, nil, nil},
			{"same content again", []store.RecordedEvent{event(src, "e1", `{"v":"first"}`)}, nil, []string{"e1"}, nil},
			{"other content", []store.RecordedEvent{event(src, "e1", `{"v":"second"}`)}, nil, nil, []string{"e1"}},
			{"repeated in its batch", []store.RecordedEvent{event(src, "e2", `{}`), event(src, "e2", `{}`)}, []string{"e2"}, []string{"e2"}, nil},
			{"repeated with other content", []store.RecordedEvent{event(src, "e3", `{}`), event(src, "e3", `{"v":1}`)}, nil, nil, []string{"e3"}},
		} {
			res := putEvents(t, s, tc.batch)
			checkIDs(t, tc.name+": accepted", res.Accepted, tc.accepted)
			checkIDs(t, tc.name+": duplicates", res.Duplicates, tc.duplicates)
			checkIDs(t, tc.name+": conflicts", res.Conflicts, tc.conflicts)
		}
		got, err := s.GetEvent(t.Context(), src, "e1")
		if err != nil {
			t.Fatalf("GetEvent(e1): %v", err)
		}
		checkEqual(t, "recorded event left untouched", got, first)
		checkEventsAbsent(t, s, src, "e3")
	})

	t.Run("PutEvents conflicts and duplicates together", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		putEvents(t, s, []store.RecordedEvent{event(src, "d", `{"n":1}`), event(src, "c1", `{"n":2}`), event(src, "c2", `{"n":3}`)})

		res := putEvents(t, s, []store.RecordedEvent{
			event(src, "c2", `{"n":30}`), event(src, "new", `{}`), event(src, "d", `{"n":1}`), event(src, "c1", `{"n":20}`),
		})
		checkIDs(t, "accepted", res.Accepted, nil)
		checkIDs(t, "duplicates", res.Duplicates, []string{"d"})
		checkIDs(t, "conflicts", res.Conflicts, []string{"c2", "c1"})
		checkEventsAbsent(t, s, src, "new")
		for id, payload := range map[string]string{"c1": `{"n":2}`, "c2": `{"n":3}`} {
			got, err := s.GetEvent(t.Context(), src, id)
			if err != nil {
				t.Fatalf("GetEvent(%s): %v", id, err)
			}
			if string(got.Payload) != payload || got.Digest != digestOf(payload) {
				t.Errorf("%s = %s (%s), want the first recording %s", id, got.Payload, got.Digest, payload)
			}
		}
	})

	t.Run("PutEvents repeat inside batch with other content writes nothing", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		res := putEvents(t, s, []store.RecordedEvent{
			event(src, "a", `{"v":1}`), event(src, "b", `{}`), event(src, "a", `{"v":2}`),
		})
		checkIDs(t, "accepted", res.Accepted, nil)
		checkIDs(t, "duplicates", res.Duplicates, nil)
		checkIDs(t, "conflicts", res.Conflicts, []string{"a"})
		checkEventsAbsent(t, s, src, "a", "b")
	})

	t.Run("PutEvents without a digest rejected", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		ev := event(src, "e1", `{}`)
		ev.Digest = ""
		if _, err := s.PutEvents(t.Context(), []store.RecordedEvent{event(src, "e0", `{}`), ev}); err == nil {
			t.Fatal("PutEvents(event without digest) = nil error, want an error")
		}
		checkEventsAbsent(t, s, src, "e0", "e1")
	})

	t.Run("PutEvents keeps the delivery id", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		one := event(src, "one", `{"n":1}`)
		one.DeliveryID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
		a, b := event(src, "a", `{"n":2}`), event(src, "b", `{"n":3}`)
		a.DeliveryID, b.DeliveryID = "b0a3e5c2-5d3c-4a6b-9f0e-1d2c3b4a5f60", "b0a3e5c2-5d3c-4a6b-9f0e-1d2c3b4a5f60"
		putEvents(t, s, []store.RecordedEvent{one})
		putEvents(t, s, []store.RecordedEvent{a, b})
		// A redelivery under another id is a duplicate: the first
		// delivery's id stays.
		again := one
		again.DeliveryID = "msg_redelivered"
		res := putEvents(t, s, []store.RecordedEvent{again})
		checkIDs(t, "duplicates", res.Duplicates, []string{"one"})
		for _, want := range []store.RecordedEvent{one, a, b} {
			got, err := s.GetEvent(t.Context(), src, want.ID)
			if err != nil {
				t.Fatalf("GetEvent(%s): %v", want.ID, err)
			}
			if got.DeliveryID != want.DeliveryID {
				t.Errorf("%s delivery id = %q, want %q", want.ID, got.DeliveryID, want.DeliveryID)
			}
		}
		for _, bad := range []string{"two words", "tab\tid", strings.Repeat("x", store.MaxDeliveryID+1), "naïve"} {
			ev := event(src, "bad", `{}`)
			ev.DeliveryID = bad
			if _, err := s.PutEvents(t.Context(), []store.RecordedEvent{ev}); err == nil {
				t.Errorf("PutEvents(delivery id %q) = nil error, want an error", bad)
			}
		}
		checkEventsAbsent(t, s, src, "bad")
	})

	t.Run("PutEvents same id from two sources", func(t *testing.T) {
		s := newStore(t)
		a, b := uniqueID("src"), uniqueID("src")
		res := putEvents(t, s, []store.RecordedEvent{event(a, "e1", `{"from":"a"}`), event(b, "e1", `{"from":"b"}`)})
		checkIDs(t, "accepted", res.Accepted, []string{"e1", "e1"})
		got, err := s.GetEvent(t.Context(), b, "e1")
		if err != nil {
			t.Fatalf("GetEvent: %v", err)
		}
		if want := `{"from":"b"}`; string(got.Payload) != want {
			t.Errorf("payload = %s, want %s", got.Payload, want)
		}
	})

	t.Run("PutEvents empty batch", func(t *testing.T) {
		res := putEvents(t, newStore(t), nil)
		checkIDs(t, "accepted", res.Accepted, nil)
		checkIDs(t, "duplicates", res.Duplicates, nil)
	})

	t.Run("PutEvents 100 events", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		evs, ids := batch(src, 100)
		res := putEvents(t, s, evs)
		checkIDs(t, "accepted", res.Accepted, ids)
	})

	t.Run("PutEvents more than 100 rejected", func(t *testing.T) {
		s, src := newStore(t), uniqueID("src")
		evs, _ := batch(src, 101)
		if _, err := s.PutEvents(t.Context(), evs); err == nil {
			t.Fatal("PutEvents(101 events) = nil error, want an error")
		}
		if _, err := s.GetEvent(t.Context(), src, evs[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetEvent after rejected batch: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("GetEvent not found", func(t *testing.T) {
		_, err := newStore(t).GetEvent(t.Context(), uniqueID("src"), "missing")
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

// checkEventsAbsent fails for each id the store has recorded.
func checkEventsAbsent(t *testing.T, s store.Store, src string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := s.GetEvent(t.Context(), src, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetEvent(%s) = %v, want ErrNotFound: nothing of the batch may be written", id, err)
		}
	}
}

// RunEventsBeforeDigests checks events recorded before digests existed:
// record must store ev as the adapter did then, without a digest. Any
// content arriving under such an id is a duplicate (it cannot be told
// apart), and the recorded event stays as it was.
func RunEventsBeforeDigests(t *testing.T, s store.Store, record func(t *testing.T, ev store.RecordedEvent)) {
	t.Helper()
	src := uniqueID("src")
	old := event(src, "e1", `{"v":"old"}`)
	old.Digest = ""
	record(t, old)

	res := putEvents(t, s, []store.RecordedEvent{event(src, "e1", `{"v":"new"}`), event(src, "e2", `{}`)})
	checkIDs(t, "accepted", res.Accepted, []string{"e2"})
	checkIDs(t, "duplicates", res.Duplicates, []string{"e1"})
	checkIDs(t, "conflicts", res.Conflicts, nil)
	got, err := s.GetEvent(t.Context(), src, "e1")
	if err != nil {
		t.Fatalf("GetEvent(e1): %v", err)
	}
	checkEqual(t, "event recorded before digests", got, old)

	// Alone in its batch, too.
	res = putEvents(t, s, []store.RecordedEvent{event(src, "e1", `{"v":"newer"}`)})
	checkIDs(t, "accepted alone", res.Accepted, nil)
	checkIDs(t, "duplicates alone", res.Duplicates, []string{"e1"})
	checkIDs(t, "conflicts alone", res.Conflicts, nil)
	if got, err = s.GetEvent(t.Context(), src, "e1"); err != nil {
		t.Fatalf("GetEvent(e1): %v", err)
	}
	checkEqual(t, "event recorded before digests, after one alone", got, old)
}

func batch(src string, n int) ([]store.RecordedEvent, []string) {
	evs := make([]store.RecordedEvent, n)
	ids := make([]string, n)
	for i := range evs {
		ids[i] = fmt.Sprintf("e%03d", i)
		evs[i] = event(src, ids[i], fmt.Sprintf(`{"i":%d}`, i))
	}
	return evs, ids
}

func putEvents(t *testing.T, s store.Store, evs []store.RecordedEvent) store.PutEventsResult {
	t.Helper()
	res, err := s.PutEvents(t.Context(), evs)
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	return res
}

// fullMember sets every field, so the round trip proves each one is stored;
// the "fixture sets every field" subtest fails when loyalty.Member gains a
// field this fixture does not set.
func fullMember(id string) loyalty.Member {
	return loyalty.Member{
		ID:            id,
		Email:         "ada@example.com",
		Name:          "Ada Lovelace",
		Phone:         "+44 20 7946 0000",
		Birthday:      "1990-12-10",
		BirthdaySetAt: base.Add(-24 * time.Hour),
		Timezone:      "Europe/London",
		Locale:        "en-GB",
		ReferralCode:  "ADA-42",
		Consent: loyalty.Consent{EmailMarketing: true, UpdatedAt: base.Add(-time.Hour),
			UnsubscribedGroups: []string{"winback", "newsletter"}},
		RegisteredAt: base.Add(-48 * time.Hour),
		LastOrderAt:  base.Add(-time.Minute),
		OrderCount:   7,
		UpdatedAt:    base,
		// JSON values as they read back: numbers are float64.
		Attributes: map[string]any{"plan": "gold", "score": 42.5, "vip": true,
			"prefs": map[string]any{"lang": "en"}, "seen": []any{"a", 1.0}},
		Tags: []string{"vip", "early_bird"},
		// Set beside personal data only to prove the round trip; an
		// erased profile holds none (Erasure).
		ErasedAt: base.Add(-30 * time.Minute),
		// Scores come from the analytics refresh, but a projection's
		// save keeps what it read.
		Scores:  fullScores(3),
		Version: 1,
	}
}

func runMembers(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("fixture sets every field", func(t *testing.T) {
		checkAllSet(t, reflect.ValueOf(fullMember("m")), "Member")
	})

	t.Run("GetMember not found", func(t *testing.T) {
		_, err := newStore(t).GetMember(t.Context(), uniqueID("m"))
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("SaveMember create round-trips every field", func(t *testing.T) {
		s := newStore(t)
		want := fullMember(uniqueID("m"))
		saveMember(t, s, want, "e1")
		checkEqual(t, "member", getMember(t, s, want.ID), want)
	})

	t.Run("SaveMember update", func(t *testing.T) {
		s := newStore(t)
		m := fullMember(uniqueID("m"))
		saveMember(t, s, m, "e1")

		m.Version = 2
		m.OrderCount++
		m.LastOrderAt = base.Add(time.Hour)
		m.Phone = ""                  // cleared fields must not survive
		m.Birthday = ""               // nor leave the member in a birthday index
		m.Consent = loyalty.Consent{} // nor the zero time
		m.Attributes = nil
		m.Tags = []string{"early_bird", "vip", "svip"}
		saveMember(t, s, m, "e2")
		checkEqual(t, "member", getMember(t, s, m.ID), m)
	})

	t.Run("SaveMember duplicate event", func(t *testing.T) {
		s := newStore(t)
		m := fullMember(uniqueID("m"))
		saveMember(t, s, m, "e1")

		next := m
		next.Version, next.OrderCount = 2, 99
		if err := s.SaveMember(t.Context(), next, "e1"); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("SaveMember(v2, applied event) err = %v, want ErrDuplicate", err)
		}
		// A replay carries a stale version too; the duplicate must win so
		// the caller stops instead of retrying.
		if err := s.SaveMember(t.Context(), m, "e1"); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("SaveMember(v1 again, applied event) err = %v, want ErrDuplicate", err)
		}
		checkEqual(t, "member after duplicates", getMember(t, s, m.ID), m)
	})

	t.Run("SaveMember conflict", func(t *testing.T) {
		s := newStore(t)
		m := fullMember(uniqueID("m"))
		saveMember(t, s, m, "e1")

		for _, v := range []int64{1, 3} {
			stale := m
			stale.Version, stale.Name = v, "stale"
			if err := s.SaveMember(t.Context(), stale, "e2"); !errors.Is(err, store.ErrConflict) {
				t.Errorf("SaveMember(version %d over 1) err = %v, want ErrConflict", v, err)
			}
		}
		checkEqual(t, "member after conflicts", getMember(t, s, m.ID), m)

		// The conflicts must not have marked e2 applied.
		m.Version = 2
		saveMember(t, s, m, "e2")
	})

	t.Run("SaveMember conflict without projection", func(t *testing.T) {
		s := newStore(t)
		m := fullMember(uniqueID("m"))
		m.Version = 2
		if err := s.SaveMember(t.Context(), m, "e1"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("SaveMember(version 2, nothing stored) err = %v, want ErrConflict", err)
		}
		if _, err := s.GetMember(t.Context(), m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetMember after conflict: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("SaveMember rejects version 0", func(t *testing.T) {
		m := fullMember(uniqueID("m"))
		m.Version = 0
		if err := newStore(t).SaveMember(t.Context(), m, "e1"); err == nil {
			t.Error("SaveMember(version 0) = nil, want an error")
		}
	})

	t.Run("SaveMember concurrent writers", func(t *testing.T) {
		s := newStore(t)
		m := fullMember(uniqueID("m"))
		saveMember(t, s, m, "e0")

		won := raceWriters(t, func(i int) error {
			next := m
			next.Version, next.OrderCount = 2, i
			return s.SaveMember(t.Context(), next, fmt.Sprintf("e%d", i+1))
		})
		if got, want := getMember(t, s, m.ID).Version, int64(1+won); got != want {
			t.Errorf("stored version = %d, want %d", got, want)
		}
	})
}

// raceWriters runs eight writers of the same next version at once and
// returns how many won; at most one may, and the others must lose with
// ErrConflict.
func raceWriters(t *testing.T, write func(i int) error) int {
	t.Helper()
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() { errs[i] = write(i) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("writer %d: err = %v, want nil or ErrConflict", i, err)
		}
	}
	if won > 1 {
		t.Errorf("%d writers wrote the same next version, want at most 1", won)
	}
	return won
}

func saveMember(t *testing.T, s store.Store, m loyalty.Member, eventID string) {
	t.Helper()
	if err := s.SaveMember(t.Context(), m, eventID); err != nil {
		t.Fatalf("SaveMember(version %d, %s): %v", m.Version, eventID, err)
	}
}

func getMember(t *testing.T, s store.Store, id string) loyalty.Member {
	t.Helper()
	m, err := s.GetMember(t.Context(), id)
	if err != nil {
		t.Fatalf("GetMember: %v", err)
	}
	return m
}

func enrollment(memberID, journey string, number int) loyalty.Enrollment {
	return loyalty.Enrollment{
		MemberID:   memberID,
		Journey:    journey,
		Number:     number,
		WorkflowID: fmt.Sprintf("%s/%s/%d", journey, memberID, number),
		Status:     loyalty.EnrollmentActive,
		StartedAt:  base,
		Definition: `{"name":"` + journey + `","version":1}`,
	}
}

func runEnrollments(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("start", func(t *testing.T) {
		s := newStore(t)
		want := enrollment(uniqueID("m"), "activation", 1)
		want.Arm = loyalty.ArmHoldout
		got, created := startEnrollment(t, s, want)
		if !created {
			t.Error("created = false on first start")
		}
		checkEqual(t, "returned enrollment", got, want)
		checkEqual(t, "stored enrollment", getEnrollment(t, s, want), want)
	})

	t.Run("start without status is active", func(t *testing.T) {
		s := newStore(t)
		e := enrollment(uniqueID("m"), "activation", 1)
		e.Status = ""
		got, _ := startEnrollment(t, s, e)
		if got.Status != loyalty.EnrollmentActive {
			t.Errorf("status = %q, want active", got.Status)
		}
	})

	t.Run("start is idempotent", func(t *testing.T) {
		s := newStore(t)
		first := enrollment(uniqueID("m"), "activation", 1)
		startEnrollment(t, s, first)

		again := first
		again.WorkflowID, again.StartedAt = "other", base.Add(time.Hour)
		got, created := startEnrollment(t, s, again)
		if created {
			t.Error("created = true on second start")
		}
		checkEqual(t, "returned enrollment", got, first)
		checkEqual(t, "stored enrollment", getEnrollment(t, s, first), first)
	})

	t.Run("end", func(t *testing.T) {
		s := newStore(t)
		e := enrollment(uniqueID("m"), "winback", 2)
		startEnrollment(t, s, e)
		at := base.Add(72 * time.Hour)
		if err := s.EndEnrollment(t.Context(), e.MemberID, e.Journey, e.Number, loyalty.EnrollmentExited, "ordered", at); err != nil {
			t.Fatalf("EndEnrollment: %v", err)
		}
		want := e
		want.Status, want.Reason, want.EndedAt = loyalty.EnrollmentExited, "ordered", at
		checkEqual(t, "ended enrollment", getEnrollment(t, s, e), want)

		// Starting again after the end returns the ended one.
		got, created := startEnrollment(t, s, e)
		if created {
			t.Error("created = true when starting an ended enrollment")
		}
		checkEqual(t, "start after end", got, want)
	})

	t.Run("end twice", func(t *testing.T) {
		s := newStore(t)
		e := enrollment(uniqueID("m"), "activation", 1)
		startEnrollment(t, s, e)
		at := base.Add(time.Hour)
		if err := s.EndEnrollment(t.Context(), e.MemberID, e.Journey, e.Number, loyalty.EnrollmentCompleted, "", at); err != nil {
			t.Fatalf("first EndEnrollment: %v", err)
		}
		if err := s.EndEnrollment(t.Context(), e.MemberID, e.Journey, e.Number, loyalty.EnrollmentExited, "late", at.Add(time.Hour)); err != nil {
			t.Fatalf("second EndEnrollment: %v, want nil", err)
		}
		want := e
		want.Status, want.EndedAt = loyalty.EnrollmentCompleted, at
		checkEqual(t, "enrollment after second end", getEnrollment(t, s, e), want)
	})

	t.Run("end not found", func(t *testing.T) {
		s := newStore(t)
		err := s.EndEnrollment(t.Context(), uniqueID("m"), "activation", 1, loyalty.EnrollmentCompleted, "", base)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("end to a non-final status rejected", func(t *testing.T) {
		s := newStore(t)
		e := enrollment(uniqueID("m"), "activation", 1)
		startEnrollment(t, s, e)
		if err := s.EndEnrollment(t.Context(), e.MemberID, e.Journey, e.Number, loyalty.EnrollmentActive, "", base); err == nil {
			t.Error("EndEnrollment(active) = nil, want an error")
		}
		checkEqual(t, "enrollment", getEnrollment(t, s, e), e)
	})

	t.Run("get not found", func(t *testing.T) {
		_, err := newStore(t).GetEnrollment(t.Context(), uniqueID("m"), "activation", 1)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("list order", func(t *testing.T) {
		s := newStore(t)
		id := uniqueID("m")
		// Inserted out of order; 10 after 2 checks numbers sort as numbers.
		for _, k := range []struct {
			journey string
			number  int
		}{{"birthday", 2}, {"activation", 10}, {"activation", 2}, {"birthday", 1}, {"activation", 1}} {
			startEnrollment(t, s, enrollment(id, k.journey, k.number))
		}
		startEnrollment(t, s, enrollment(uniqueID("m"), "activation", 3)) // another member
		reserveSend(t, s, send(id, "k1", base))                           // same member, other kind

		got, err := s.ListEnrollments(t.Context(), id)
		if err != nil {
			t.Fatalf("ListEnrollments: %v", err)
		}
		want := []loyalty.Enrollment{
			enrollment(id, "activation", 1), enrollment(id, "activation", 2), enrollment(id, "activation", 10),
			enrollment(id, "birthday", 1), enrollment(id, "birthday", 2),
		}
		checkEqual(t, "enrollments", got, want)
	})

	t.Run("list empty", func(t *testing.T) {
		got, err := newStore(t).ListEnrollments(t.Context(), uniqueID("m"))
		if err != nil || len(got) != 0 {
			t.Errorf("ListEnrollments = %v, %v; want none, nil", got, err)
		}
	})
}

func startEnrollment(t *testing.T, s store.Store, e loyalty.Enrollment) (loyalty.Enrollment, bool) {
	t.Helper()
	got, created, err := s.StartEnrollment(t.Context(), e)
	if err != nil {
		t.Fatalf("StartEnrollment: %v", err)
	}
	return got, created
}

func getEnrollment(t *testing.T, s store.Store, e loyalty.Enrollment) loyalty.Enrollment {
	t.Helper()
	got, err := s.GetEnrollment(t.Context(), e.MemberID, e.Journey, e.Number)
	if err != nil {
		t.Fatalf("GetEnrollment: %v", err)
	}
	return got
}

func send(memberID, key string, created time.Time) store.Send {
	return store.Send{
		Key:        key,
		MemberID:   memberID,
		Journey:    "activation",
		Enrollment: 1,
		Step:       "welcome",
		Template:   "d-welcome",
		Status:     store.SendPending,
		CreatedAt:  created,
		UpdatedAt:  created,
	}
}

// fullSend sets every field, so its round trip proves each one is stored.
func fullSend(memberID, key string) store.Send {
	snd := send(memberID, key, base)
	snd.MessageID, snd.Reason = "msg-0", "retry"
	snd.UpdatedAt, snd.AttemptedAt = base.Add(time.Second), base.Add(2*time.Second)
	return snd
}

func runSends(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("fixture sets every field", func(t *testing.T) {
		checkAllSet(t, reflect.ValueOf(fullSend("m", "k1")), "Send")
	})

	t.Run("reserve round-trips every field", func(t *testing.T) {
		s := newStore(t)
		want := fullSend(uniqueID("m"), "k1")
		reserveSend(t, s, want)
		checkEqual(t, "stored row", getSend(t, s, want.MemberID, want.Key), want)
		checkEqual(t, "listed rows", listSends(t, s, want.MemberID), []store.Send{want})
	})

	t.Run("reserve", func(t *testing.T) {
		s := newStore(t)
		want := send(uniqueID("m"), "k1", base)
		got, created := reserveSend(t, s, want)
		if !created {
			t.Error("created = false on first reserve")
		}
		checkEqual(t, "returned row", got, want)
		checkEqual(t, "stored rows", listSends(t, s, want.MemberID), []store.Send{want})
	})

	t.Run("reserve without status is pending", func(t *testing.T) {
		s := newStore(t)
		snd := send(uniqueID("m"), "k1", base)
		snd.Status = ""
		got, _ := reserveSend(t, s, snd)
		if got.Status != store.SendPending {
			t.Errorf("status = %q, want pending", got.Status)
		}
	})

	t.Run("reserve is idempotent", func(t *testing.T) {
		s := newStore(t)
		first := send(uniqueID("m"), "k1", base)
		reserveSend(t, s, first)
		again := first
		again.Template, again.CreatedAt = "d-other", base.Add(time.Hour)
		got, created := reserveSend(t, s, again)
		if created {
			t.Error("created = true on second reserve")
		}
		checkEqual(t, "returned row", got, first)
		checkEqual(t, "stored rows", listSends(t, s, first.MemberID), []store.Send{first})
	})

	t.Run("complete sent", func(t *testing.T) {
		s := newStore(t)
		snd := send(uniqueID("m"), "k1", base)
		reserveSend(t, s, snd)
		at := base.Add(time.Second)
		if err := s.CompleteSend(t.Context(), snd.Ref(), store.SendSent, "msg-1", "", at); err != nil {
			t.Fatalf("CompleteSend: %v", err)
		}
		want := snd
		want.Status, want.MessageID, want.UpdatedAt = store.SendSent, "msg-1", at
		checkEqual(t, "rows", listSends(t, s, snd.MemberID), []store.Send{want})
		// The row returned to a retried reservation is the completed one.
		got, _ := reserveSend(t, s, snd)
		checkEqual(t, "reserve after complete", got, want)
	})

	t.Run("complete skipped", func(t *testing.T) {
		s := newStore(t)
		snd := send(uniqueID("m"), "k1", base)
		reserveSend(t, s, snd)
		at := base.Add(time.Second)
		if err := s.CompleteSend(t.Context(), snd.Ref(), store.SendSkipped, "", "no consent", at); err != nil {
			t.Fatalf("CompleteSend: %v", err)
		}
		want := snd
		want.Status, want.Reason, want.UpdatedAt = store.SendSkipped, "no consent", at
		checkEqual(t, "rows", listSends(t, s, snd.MemberID), []store.Send{want})
	})

	t.Run("complete twice", func(t *testing.T) {
		s := newStore(t)
		snd := send(uniqueID("m"), "k1", base)
		reserveSend(t, s, snd)
		at := base.Add(time.Second)
		if err := s.CompleteSend(t.Context(), snd.Ref(), store.SendSent, "msg-1", "", at); err != nil {
			t.Fatalf("first CompleteSend: %v", err)
		}
		if err := s.CompleteSend(t.Context(), snd.Ref(), store.SendSkipped, "", "late", at.Add(time.Hour)); err != nil {
			t.Fatalf("second CompleteSend: %v, want nil", err)
		}
		want := snd
		want.Status, want.MessageID, want.UpdatedAt = store.SendSent, "msg-1", at
		checkEqual(t, "rows", listSends(t, s, snd.MemberID), []store.Send{want})
	})

	t.Run("complete not found", func(t *testing.T) {
		err := newStore(t).CompleteSend(t.Context(), send(uniqueID("m"), "k1", base).Ref(), store.SendSent, "msg-1", "", base)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("complete counts under the row's step", func(t *testing.T) {
		s := newStore(t)
		other := uniqueID("journey")
		for _, tc := range []struct {
			name          string
			journey, step string // the row's
			ref           func(store.SendRef) store.SendRef
		}{
			{"ref of the row", uniqueID("journey"), "welcome", func(r store.SendRef) store.SendRef { return r }},
			{"ref of another step", uniqueID("journey"), "welcome", func(r store.SendRef) store.SendRef {
				r.Journey, r.Step = other, "reminder"
				return r
			}},
			{"ref without a step", uniqueID("journey"), "welcome", func(r store.SendRef) store.SendRef {
				r.Journey, r.Step = "", ""
				return r
			}},
			{"row without a step", "", "", func(r store.SendRef) store.SendRef {
				r.Journey, r.Step = other, "reminder"
				return r
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				snd := send(uniqueID("m"), "k1", base)
				snd.Journey, snd.Step = tc.journey, tc.step
				reserveSend(t, s, snd)
				at := base.Add(time.Second)
				if err := s.CompleteSend(t.Context(), tc.ref(snd.Ref()), store.SendSent, "msg-1", "", at); err != nil {
					t.Fatalf("CompleteSend: %v", err)
				}
				want := snd
				want.Status, want.MessageID, want.UpdatedAt = store.SendSent, "msg-1", at
				checkEqual(t, "row", getSend(t, s, snd.MemberID, snd.Key), want)
				if tc.journey != "" {
					checkStats(t, s, tc.journey, []store.StepStats{{Step: tc.step, Counts: map[string]int64{"sent": 1}}})
				}
			})
		}
		// Nothing was counted under the step the callers named wrongly.
		checkStats(t, s, other, nil)
	})

	t.Run("complete to pending rejected", func(t *testing.T) {
		s := newStore(t)
		snd := send(uniqueID("m"), "k1", base)
		reserveSend(t, s, snd)
		if err := s.CompleteSend(t.Context(), snd.Ref(), store.SendPending, "", "", base); err == nil {
			t.Error("CompleteSend(pending) = nil, want an error")
		}
	})

	t.Run("get not found", func(t *testing.T) {
		s := newStore(t)
		id := uniqueID("m")
		reserveSend(t, s, send(id, "k1", base))
		for _, k := range []struct{ member, key string }{{id, "k2"}, {uniqueID("m"), "k1"}} {
			if _, err := s.GetSend(t.Context(), k.member, k.key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetSend(%s, %s) err = %v, want ErrNotFound", k.member, k.key, err)
			}
		}
	})

	t.Run("mark attempt", func(t *testing.T) {
		s := newStore(t)
		snd := send(uniqueID("m"), "k1", base)
		reserveSend(t, s, snd)
		want := snd
		// The zero time clears an attempt (the provider refused the message).
		prev := time.Time{}
		for _, at := range []time.Time{base.Add(time.Second), {}, base.Add(time.Minute)} {
			if err := s.MarkSendAttempt(t.Context(), snd.MemberID, snd.Key, at, prev); err != nil {
				t.Fatalf("MarkSendAttempt: %v", err)
			}
			want.AttemptedAt, prev = at, at // the last attempt, nothing else
			checkEqual(t, "row after attempt", getSend(t, s, snd.MemberID, snd.Key), want)
		}
		// A claim on an attempt that is no longer the row's loses: two
		// callers of one key never both reach the provider.
		for _, stale := range []time.Time{{}, base.Add(time.Second)} {
			err := s.MarkSendAttempt(t.Context(), snd.MemberID, snd.Key, base.Add(30*time.Minute), stale)
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("claim with stale attempt %v: err = %v, want ErrConflict", stale, err)
			}
		}
		checkEqual(t, "row after lost claims", getSend(t, s, snd.MemberID, snd.Key), want)

		completeSend(t, s, snd, store.SendSent, "msg-1", "", base.Add(2*time.Minute))
		want.Status, want.MessageID, want.UpdatedAt = store.SendSent, "msg-1", base.Add(2*time.Minute)
		if err := s.MarkSendAttempt(t.Context(), snd.MemberID, snd.Key, base.Add(time.Hour), time.Time{}); err != nil {
			t.Fatalf("MarkSendAttempt on a final row: %v, want nil", err)
		}
		checkEqual(t, "final row after attempt", getSend(t, s, snd.MemberID, snd.Key), want)
		checkEqual(t, "listed rows", listSends(t, s, snd.MemberID), []store.Send{want})
	})

	t.Run("mark attempt not found", func(t *testing.T) {
		err := newStore(t).MarkSendAttempt(t.Context(), uniqueID("m"), "k1", base, time.Time{})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("complete counts each move once", func(t *testing.T) {
		s, journey := newStore(t), uniqueID("journey")
		step := func(member, key, step string) store.Send {
			snd := send(member, key, base)
			snd.Journey, snd.Step = journey, step
			reserveSend(t, s, snd)
			return snd
		}
		at := base.Add(time.Second)
		// Members enough to spread over several stats shards.
		for i := range 10 {
			completeSend(t, s, step(uniqueID("m"), fmt.Sprint("k", i), "welcome"), store.SendSent, "msg", "", at)
		}
		a := step(uniqueID("m"), "a", "welcome")
		completeSend(t, s, a, store.SendSkipped, "", "no_consent: opted out 2026-03-01", at)
		completeSend(t, s, a, store.SendSent, "msg", "", at) // final already: not counted
		completeSend(t, s, a, store.SendSkipped, "", "no_consent", at)
		b := step(a.MemberID, "b", "reminder")
		completeSend(t, s, b, store.SendSkipped, "", "goal_reached", at)
		// A dot in the code is part of the key, not a path.
		completeSend(t, s, step(a.MemberID, "c", "reminder"), store.SendSkipped, "", "v1.2 rejected: x", at)
		completeSend(t, s, step(a.MemberID, "d", "reminder"), store.SendSkipped, "", "no_consent", at)
		step(a.MemberID, "e", "reminder") // pending: not counted

		checkStats(t, s, journey, []store.StepStats{
			{Step: "reminder", Counts: map[string]int64{"skipped:goal_reached": 1, "skipped:v1.2 rejected": 1, "skipped:no_consent": 1}},
			{Step: "welcome", Counts: map[string]int64{"sent": 10, "skipped:no_consent": 1}},
		})
	})

	t.Run("complete rejects a skip without a usable code", func(t *testing.T) {
		s := newStore(t)
		snd := send(uniqueID("m"), "k1", base)
		snd.Journey = uniqueID("journey")
		reserveSend(t, s, snd)
		for _, reason := range []string{"", " : detail", "list[0]: detail"} {
			if err := s.CompleteSend(t.Context(), snd.Ref(), store.SendSkipped, "", reason, base); err == nil {
				t.Errorf("CompleteSend(skipped, %q) = nil, want an error", reason)
			}
		}
		checkEqual(t, "row", getSend(t, s, snd.MemberID, snd.Key), snd)
		checkStats(t, s, snd.Journey, nil)
	})

	t.Run("concurrent completes count once", func(t *testing.T) {
		s := newStore(t)
		snd := send(uniqueID("m"), "k1", base)
		snd.Journey = uniqueID("journey")
		reserveSend(t, s, snd)
		errs := concurrently(8, func(i int) error {
			if i%2 == 0 {
				return s.CompleteSend(t.Context(), snd.Ref(), store.SendSent, fmt.Sprint("msg-", i), "", base)
			}
			return s.CompleteSend(t.Context(), snd.Ref(), store.SendSkipped, "", "no_consent", base)
		})
		checkNoErrors(t, "CompleteSend", errs)
		got := getSend(t, s, snd.MemberID, snd.Key)
		want := map[string]int64{"sent": 1}
		if got.Status == store.SendSkipped {
			want = map[string]int64{"skipped:no_consent": 1}
		}
		checkStats(t, s, snd.Journey, []store.StepStats{{Step: snd.Step, Counts: want}})
	})

	t.Run("send context reads what is stored", func(t *testing.T) {
		s := newStore(t)
		m := fullMember(uniqueID("m"))
		saveMember(t, s, m, "evt_1")
		enr := enrollment(m.ID, "activation", 2)
		startEnrollment(t, s, enrollment(m.ID, "activation", 1)) // another number
		startEnrollment(t, s, enr)
		startEnrollment(t, s, enrollment(m.ID, "winback", 2)) // another journey
		sup := store.Suppression{MemberID: m.ID, Reason: "bounce: 550", Source: "sendgrid:bounce", At: base}
		if err := s.Suppress(t.Context(), sup); err != nil {
			t.Fatalf("Suppress: %v", err)
		}
		putContact(t, s, m.ID, fullContactState(), 0)
		putContact(t, s, m.ID, fullContactState(), 1)

		got, err := s.SendContext(t.Context(), m.ID, "activation", 2)
		if err != nil {
			t.Fatalf("SendContext: %v", err)
		}
		checkEqual(t, "send context", got, store.SendContext{
			Member: m, Enrollment: &enr, Suppression: &sup, Contact: fullContactState(), ContactVersion: 2,
		})
	})

	t.Run("send context of a member with nothing else", func(t *testing.T) {
		s := newStore(t)
		m := fullMember(uniqueID("m"))
		saveMember(t, s, m, "evt_1")
		startEnrollment(t, s, enrollment(m.ID, "activation", 1))
		got, err := s.SendContext(t.Context(), m.ID, "activation", 2)
		if err != nil {
			t.Fatalf("SendContext: %v", err)
		}
		checkEqual(t, "send context", got, store.SendContext{Member: m})
	})

	t.Run("send context without a profile", func(t *testing.T) {
		s := newStore(t)
		id := uniqueID("m")
		startEnrollment(t, s, enrollment(id, "activation", 1))
		putContact(t, s, id, fullContactState(), 0)
		if _, err := s.SendContext(t.Context(), id, "activation", 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("list order", func(t *testing.T) {
		s := newStore(t)
		id := uniqueID("m")
		// Keys sort the other way round from creation times.
		c := send(id, "a", base.Add(2*time.Minute))
		a := send(id, "c", base)
		b := send(id, "b", base.Add(time.Minute))
		for _, snd := range []store.Send{c, a, b} {
			reserveSend(t, s, snd)
		}
		reserveSend(t, s, send(uniqueID("m"), "z", base.Add(-time.Hour))) // another member
		startEnrollment(t, s, enrollment(id, "activation", 1))            // same member, other kind
		checkEqual(t, "rows", listSends(t, s, id), []store.Send{a, b, c})
	})

	t.Run("list empty", func(t *testing.T) {
		got, err := newStore(t).ListSends(t.Context(), uniqueID("m"))
		if err != nil || len(got) != 0 {
			t.Errorf("ListSends = %v, %v; want none, nil", got, err)
		}
	})
}

func reserveSend(t *testing.T, s store.Store, snd store.Send) (store.Send, bool) {
	t.Helper()
	got, created, err := s.ReserveSend(t.Context(), snd)
	if err != nil {
		t.Fatalf("ReserveSend: %v", err)
	}
	return got, created
}

func getSend(t *testing.T, s store.Store, memberID, key string) store.Send {
	t.Helper()
	got, err := s.GetSend(t.Context(), memberID, key)
	if err != nil {
		t.Fatalf("GetSend(%s): %v", key, err)
	}
	return got
}

func completeSend(t *testing.T, s store.Store, snd store.Send, status store.SendStatus, messageID, reason string, at time.Time) {
	t.Helper()
	if err := s.CompleteSend(t.Context(), snd.Ref(), status, messageID, reason, at); err != nil {
		t.Fatalf("CompleteSend(%s, %s, %q): %v", snd.Key, status, reason, err)
	}
}

func listSends(t *testing.T, s store.Store, memberID string) []store.Send {
	t.Helper()
	got, err := s.ListSends(t.Context(), memberID)
	if err != nil {
		t.Fatalf("ListSends: %v", err)
	}
	return got
}

// fullAccount sets every field of an account, so its round trip proves
// each one is stored; "fixtures set every field" fails when loyalty.Account
// gains a field this fixture does not set.
func fullAccount(memberID string, version int64) loyalty.Account {
	return loyalty.Account{
		MemberID:   memberID,
		Version:    version,
		Seq:        3,
		Tier:       "gold",
		TierSince:  base.Add(-30 * 24 * time.Hour),
		ReviewAt:   base.Add(335 * 24 * time.Hour),
		DayTier:    "silver",
		DayTierDay: "2026-03-14",
		Growth: []loyalty.GrowthRecord{{Key: "o1#growth", At: base, Kind: loyalty.GrowthSpend, Source: "order",
			Amount: decimal.RequireFromString("42.50")}},
		Lots: []loyalty.Lot{{ID: "lot-o1", Source: "order", Earned: 425, Points: 400, ReleaseAt: base.Add(7 * 24 * time.Hour),
			ExpiresAt: base.Add(365 * 24 * time.Hour), Released: true, Expired: false}},
		Coupons: []loyalty.Coupon{{Code: "NEW8-AB12", Kind: "NEW8", Key: "welcome", IssuedAt: base,
			ExpiresAt: base.Add(30 * 24 * time.Hour), UsedAt: base.Add(time.Hour), OrderID: "o1"}},
		CouponsIssued: map[string]int{"NEW8": 1},
		Boosts: []loyalty.Boost{{Key: "winback#1", Multiplier: decimal.RequireFromString("2"), From: base,
			Until: base.Add(14 * 24 * time.Hour)}},
		Principal: decimal.RequireFromString("120.50"),
		Bonus:     decimal.RequireFromString("12.05"),
		Shortfall: 25,
		Paid: &loyalty.Paid{Plan: "svip-yearly", SubscriptionID: "sub_1", Status: loyalty.PaidActive, Trial: true,
			StartedAt: base.Add(-time.Hour), EndsAt: base.Add(365 * 24 * time.Hour)},
		TrialUsed: true,
		Orders: []loyalty.OrderRecord{{OrderID: "o1", EventID: "evt_o1", At: base, Amount: decimal.RequireFromString("42.50"),
			Base: decimal.RequireFromString("40"), Multiplier: decimal.RequireFromString("1.5"), Points: 425, Lot: "lot-o1",
			SVPrincipal: decimal.RequireFromString("2.50"),
			Lines:       []loyalty.LineAmount{{SKU: "sku-1", Amount: decimal.RequireFromString("42.50")}},
			Refunded:    decimal.RequireFromString("1"), PointsReversed: 25, GrowthReversed: decimal.RequireFromString("1"),
			SVReturned: decimal.RequireFromString("0.10"), RefundIDs: []string{"r1"}}},
		HeldRefunds: []loyalty.HeldRefund{{EventID: "evt_r2", At: base, OrderID: "o2", RefundID: "r2",
			Amount: decimal.RequireFromString("3.30")}},
		ReferralCode:    "ADA42",
		ReferredBy:      "m-referrer",
		FirstOrder:      "o1",
		ReferralSettled: true,
		ReferralRewards: map[string]int{"2026-03": 1},
		BirthdayYears:   []int{2025},
		Badges:          []string{"first-order"},
		Due:             "2026-03-21",
		Through:         base.Add(2 * time.Hour),
		ThroughCause:    "evt_o1",
		Journaled:       true,
	}
}

// fullEntry sets every field of an entry; the balance changes are zero
// apart from growth, so tests set the ones they need.
func fullEntry(memberID string, seq int64) loyalty.Entry {
	return loyalty.Entry{
		Seq:       seq,
		Key:       fmt.Sprintf("%s#evt_%d#order.paid", memberID, seq),
		MemberID:  memberID,
		At:        base.Add(time.Duration(seq) * time.Minute),
		Rule:      "order.paid",
		Reason:    "points for order",
		EventID:   fmt.Sprintf("evt_%d", seq),
		Actor:     "system",
		Pending:   100,
		Available: 10,
		Shortfall: 5,
		Principal: decimal.RequireFromString("1.25"),
		Bonus:     decimal.RequireFromString("0.13"),
		Growth:    decimal.RequireFromString("42.50"),
		Tier:      "gold",
		Lots:      []loyalty.LotMove{{Lot: "lot-o1", ReleaseDay: "2026-03-21", Points: 100}},
		Coupon:    &loyalty.CouponMove{Code: "NEW8-AB12", Kind: "NEW8", ExpiresDay: "2026-04-13", Delta: 1},
	}
}

// moveEntry is an entry that changes the balances by exactly these amounts.
func moveEntry(memberID string, seq, pending, available int64, principal, bonus string) loyalty.Entry {
	e := fullEntry(memberID, seq)
	e.Pending, e.Available = pending, available
	e.Principal, e.Bonus = decimal.RequireFromString(principal), decimal.RequireFromString(bonus)
	return e
}

// change is a ledger change taking memberID's account to version with
// entries; the account blob does not have to agree with the entries, the
// store guards the balances it keeps itself.
func change(memberID string, version int64, entries ...loyalty.Entry) store.LedgerChange {
	return store.LedgerChange{Account: fullAccount(memberID, version), Entries: entries}
}

// seqEntries are entries seq from..to with small positive moves.
func seqEntries(memberID string, from, to int64) []loyalty.Entry {
	var out []loyalty.Entry
	for seq := from; seq <= to; seq++ {
		out = append(out, moveEntry(memberID, seq, 0, 1, "0", "0"))
	}
	return out
}

func runLedger(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("fixtures set every field", func(t *testing.T) {
		checkAllSet(t, reflect.ValueOf(fullAccount("m", 1)), "Account")
		checkAllSet(t, reflect.ValueOf(fullEntry("m", 1)), "Entry")
	})

	t.Run("GetAccount not found", func(t *testing.T) {
		_, err := newStore(t).GetAccount(t.Context(), uniqueID("m"))
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("create round-trips account and entries", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		c := change(id, 1, fullEntry(id, 1), fullEntry(id, 2))
		c.Cause = "evt_1"
		commitLedger(t, s, c)
		checkEqual(t, "account", getAccount(t, s, id), c.Account)
		checkEqual(t, "entries", listEntries(t, s, id, 10, 0), []loyalty.Entry{c.Entries[1], c.Entries[0]})
		for cause, want := range map[string]bool{"evt_1": true, "evt_2": false} {
			got, err := s.CauseApplied(t.Context(), id, cause)
			if err != nil || got != want {
				t.Errorf("CauseApplied(%s) = %v, %v; want %v", cause, got, err, want)
			}
		}
	})

	t.Run("member and account", func(t *testing.T) {
		s := newStore(t)
		for _, tc := range []struct {
			name             string
			profile, account bool
		}{
			{"both", true, true},
			{"profile only", true, false},
			{"account only", false, true},
			{"neither", false, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := uniqueID("m")
				wantM, wantA := loyalty.Member{ID: id}, loyalty.Account{MemberID: id}
				if tc.profile {
					wantM = fullMember(id)
					saveMember(t, s, wantM, "evt_1")
				}
				if tc.account {
					c := change(id, 1, fullEntry(id, 1))
					commitLedger(t, s, c)
					wantA = c.Account
				}
				m, a, err := s.MemberAndAccount(t.Context(), id)
				if err != nil {
					t.Fatalf("MemberAndAccount: %v", err)
				}
				checkEqual(t, "member", m, wantM)
				checkEqual(t, "account", a, wantA)
			})
		}
	})

	t.Run("journal records round-trip", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		first := change(id, 1, fullEntry(id, 1))
		first.Cause = "evt_1"
		first.Record = loyalty.Recorded{Kind: loyalty.InputEvent, At: base.Add(time.Minute), Params: json.RawMessage(`{"id":"evt_1","type":"order.paid"}`)}
		commitLedger(t, s, first)
		second := change(id, 2, fullEntry(id, 2))
		second.Cause = "adj:k1"
		second.Record = loyalty.Recorded{Kind: loyalty.InputAdjust, At: base.Add(time.Hour), Params: json.RawMessage(`{"key":"adj:k1","points":5}`)}
		commitLedger(t, s, second)
		// A cause committed before the journal existed has no record.
		third := change(id, 3, fullEntry(id, 3))
		third.Cause = "legacy"
		commitLedger(t, s, third)
		want := map[string]loyalty.Recorded{
			"evt_1":  {Cause: "evt_1", Kind: loyalty.InputEvent, At: first.Record.At, Params: first.Record.Params},
			"adj:k1": {Cause: "adj:k1", Kind: loyalty.InputAdjust, At: second.Record.At, Params: second.Record.Params},
			"legacy": {Cause: "legacy"},
		}
		got, err := s.Journal(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		byCause := map[string]loyalty.Recorded{}
		for _, r := range got {
			byCause[r.Cause] = r
		}
		checkEqual(t, "journal", byCause, want)
		for cause, w := range want {
			rec, err := s.AppliedRecord(t.Context(), id, cause)
			if err != nil {
				t.Fatalf("AppliedRecord(%s): %v", cause, err)
			}
			checkEqual(t, "applied record "+cause, rec, w)
		}
		if _, err := s.AppliedRecord(t.Context(), id, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("AppliedRecord(nope) err = %v, want ErrNotFound", err)
		}
		if other, err := s.Journal(t.Context(), uniqueID("m")); err != nil || len(other) != 0 {
			t.Errorf("journal of a member without commits = %v, %v; want none", other, err)
		}
	})

	t.Run("update", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		commitLedger(t, s, change(id, 1, fullEntry(id, 1)))
		next := change(id, 2, fullEntry(id, 2))
		next.Account.Tier, next.Account.Paid, next.Account.Badges = "silver", nil, nil
		commitLedger(t, s, next)
		checkEqual(t, "account", getAccount(t, s, id), next.Account)
	})

	t.Run("version conflict", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		first := change(id, 1, fullEntry(id, 1))
		first.Cause = "c1"
		commitLedger(t, s, first)
		for _, v := range []int64{1, 3} {
			stale := change(id, v, fullEntry(id, 2))
			stale.Cause, stale.Account.Tier = "c2", "stale"
			if err := s.CommitLedger(t.Context(), stale); !errors.Is(err, store.ErrConflict) {
				t.Errorf("CommitLedger(version %d over 1) err = %v, want ErrConflict", v, err)
			}
		}
		checkEqual(t, "account after conflicts", getAccount(t, s, id), first.Account)
		checkEntrySeqs(t, s, id, 1)
		// The conflicts wrote neither c2's marker nor entry 2.
		next := change(id, 2, fullEntry(id, 2))
		next.Cause = "c2"
		commitLedger(t, s, next)
	})

	t.Run("version conflict without account", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		if err := s.CommitLedger(t.Context(), change(id, 2, fullEntry(id, 1))); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CommitLedger(version 2, nothing stored) err = %v, want ErrConflict", err)
		}
		if _, err := s.GetAccount(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAccount after conflict: err = %v, want ErrNotFound", err)
		}
		checkEntrySeqs(t, s, id)
	})

	t.Run("replayed cause", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		first := change(id, 1, fullEntry(id, 1))
		first.Cause = "evt_1"
		commitLedger(t, s, first)

		replay := change(id, 2, fullEntry(id, 2))
		replay.Cause = "evt_1"
		if err := s.CommitLedger(t.Context(), replay); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("CommitLedger(v2, applied cause) err = %v, want ErrDuplicate", err)
		}
		// A replay carries a stale version and existing entries too; the
		// duplicate must win so the caller stops instead of retrying.
		if err := s.CommitLedger(t.Context(), first); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("CommitLedger(v1 again, applied cause) err = %v, want ErrDuplicate", err)
		}
		checkEqual(t, "account after replays", getAccount(t, s, id), first.Account)
		checkEntrySeqs(t, s, id, 1)

		// Causes are per member.
		other := uniqueID("m")
		again := change(other, 1, fullEntry(other, 1))
		again.Cause = "evt_1"
		commitLedger(t, s, again)
	})

	t.Run("existing entry", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		commitLedger(t, s, change(id, 1, fullEntry(id, 1)))
		if err := s.CommitLedger(t.Context(), change(id, 2, fullEntry(id, 1))); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CommitLedger(existing seq) err = %v, want ErrConflict", err)
		}
		if got := getAccount(t, s, id).Version; got != 1 {
			t.Errorf("version = %d, want 1", got)
		}
	})

	t.Run("entries newest first with paging", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		es := seqEntries(id, 1, 5)
		commitLedger(t, s, change(id, 1, es[:3]...))
		commitLedger(t, s, change(id, 2, es[3:]...))
		// Other items of the member's and another member's entries stay out.
		saveMember(t, s, fullMember(id), "e1")
		startEnrollment(t, s, enrollment(id, "activation", 1))
		reserveSend(t, s, send(id, "k1", base))
		other := uniqueID("m")
		commitLedger(t, s, change(other, 1, seqEntries(other, 1, 6)...))
		marked := change(id, 3)
		marked.Cause = "c3"
		commitLedger(t, s, marked)

		checkEqual(t, "all", listEntries(t, s, id, 10, 0), []loyalty.Entry{es[4], es[3], es[2], es[1], es[0]})
		for _, tc := range []struct {
			limit  int
			before int64
			want   []int64
		}{
			{2, 0, []int64{5, 4}},
			{2, 4, []int64{3, 2}},
			{2, 2, []int64{1}},
			{2, 1, nil},
			{10, 3, []int64{2, 1}},
			{10, 99, []int64{5, 4, 3, 2, 1}},
		} {
			var got []int64
			for _, e := range listEntries(t, s, id, tc.limit, tc.before) {
				got = append(got, e.Seq)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("ListEntries(limit %d, before %d) seqs = %v, want %v", tc.limit, tc.before, got, tc.want)
			}
		}
		if _, err := s.ListEntries(t.Context(), id, 0, 0); err == nil {
			t.Error("ListEntries(limit 0) = nil error, want an error")
		}
	})

	t.Run("balances never go below zero", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		commitLedger(t, s, change(id, 1, moveEntry(id, 1, 7, 10, "5.25", "1.50")))
		claim, counter, liab := uniqueID("coupon#"), uniqueID("kind"), uniqueID("points#")

		// The account blob is valid each time (it has points in its lots);
		// only the entries' sums take a balance below what is stored.
		for _, tc := range []struct {
			name  string
			moves []loyalty.Entry
		}{
			{"pending", []loyalty.Entry{moveEntry(id, 2, -8, 0, "0", "0")}},
			{"available", []loyalty.Entry{moveEntry(id, 2, 0, -11, "0", "0")}},
			{"available over two entries", []loyalty.Entry{moveEntry(id, 2, 0, -6, "0", "0"), moveEntry(id, 3, 0, -5, "0", "0")}},
			{"available with pending raised", []loyalty.Entry{moveEntry(id, 2, 50, -11, "0", "0")}},
			{"principal", []loyalty.Entry{moveEntry(id, 2, 0, 0, "-5.26", "0")}},
			{"bonus", []loyalty.Entry{moveEntry(id, 2, 0, 0, "0", "-1.51")}},
		} {
			c := change(id, 2, tc.moves...)
			c.Cause = "c2"
			c.Claims = []loyalty.Claim{{Key: claim, Owner: id}}
			c.Counters = []loyalty.Counter{{Key: counter, Limit: 1}}
			c.Liability = map[string]decimal.Decimal{liab: decimal.NewFromInt(-11)}
			c.NextDue = "2026-03-15"
			if err := s.CommitLedger(t.Context(), c); !errors.Is(err, store.ErrNegative) {
				t.Errorf("%s: err = %v, want ErrNegative", tc.name, err)
			}
		}
		if got := getAccount(t, s, id).Version; got != 1 {
			t.Errorf("version = %d, want 1", got)
		}
		checkEntrySeqs(t, s, id, 1)
		checkClaimFree(t, s, claim)
		checkLiability(t, s, map[string]string{liab: ""})
		checkDue(t, s, "2026-03-15", "", 1000, id, false)

		// Down to exactly zero is fine, and nothing above was recorded:
		// not the cause, not the claim, not the counter.
		c := change(id, 2, moveEntry(id, 2, -7, -4, "-5.25", "0"), moveEntry(id, 3, 0, -6, "0", "-1.50"))
		c.Cause = "c2"
		c.Claims = []loyalty.Claim{{Key: claim, Owner: id}}
		c.Counters = []loyalty.Counter{{Key: counter, Limit: 1}}
		commitLedger(t, s, c)
		if err := s.CommitLedger(t.Context(), change(id, 3, moveEntry(id, 4, 0, -1, "0", "0"))); !errors.Is(err, store.ErrNegative) {
			t.Errorf("below zero after reaching zero: err = %v, want ErrNegative", err)
		}
	})

	t.Run("new account below zero", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		if err := s.CommitLedger(t.Context(), change(id, 1, moveEntry(id, 1, -1, 0, "0", "0"))); !errors.Is(err, store.ErrNegative) {
			t.Errorf("err = %v, want ErrNegative", err)
		}
		if _, err := s.GetAccount(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAccount: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("claims", func(t *testing.T) {
		s := newStore(t)
		a, b := uniqueID("m"), uniqueID("m")
		key := uniqueID("refcode#")
		first := change(a, 1)
		first.Claims = []loyalty.Claim{{Key: key, Owner: a}}
		commitLedger(t, s, first)
		checkClaimOwner(t, s, key, a)
		again := change(a, 2)
		again.Claims = first.Claims // held by the same owner: fine
		commitLedger(t, s, again)

		counter, liab := uniqueID("kind"), uniqueID("points#")
		taken := change(b, 1, fullEntry(b, 1))
		taken.Cause = "evt_b"
		taken.Claims = []loyalty.Claim{{Key: uniqueID("trial#"), Owner: b}, {Key: key, Owner: b}}
		taken.Counters = []loyalty.Counter{{Key: counter, Limit: 1}}
		taken.Liability = map[string]decimal.Decimal{liab: decimal.NewFromInt(5)}
		if err := s.CommitLedger(t.Context(), taken); !errors.Is(err, store.ErrClaimed) {
			t.Errorf("claim held by another: err = %v, want ErrClaimed", err)
		}
		checkClaimOwner(t, s, key, a)
		checkClaimFree(t, s, taken.Claims[0].Key)
		if _, err := s.GetAccount(t.Context(), b); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAccount after ErrClaimed: err = %v, want ErrNotFound", err)
		}
		checkEntrySeqs(t, s, b)
		checkLiability(t, s, map[string]string{liab: ""})
		// The counter was not incremented: its only use is still free.
		ok := change(b, 1)
		ok.Counters = taken.Counters
		ok.Cause = "evt_b"
		commitLedger(t, s, ok)

		// Two owners of one key in the same commit.
		c, d, both := uniqueID("m"), uniqueID("m"), uniqueID("coupon#")
		cc, dc := change(c, 1), change(d, 1)
		cc.Claims = []loyalty.Claim{{Key: both, Owner: c}}
		dc.Claims = []loyalty.Claim{{Key: both, Owner: d}}
		if err := s.CommitLedger(t.Context(), cc, dc); !errors.Is(err, store.ErrClaimed) {
			t.Errorf("two owners in one commit: err = %v, want ErrClaimed", err)
		}
		checkClaimFree(t, s, both)
	})

	t.Run("counters", func(t *testing.T) {
		s, key := newStore(t), uniqueID("NEW8")
		limited := func(id string, n int) store.LedgerChange {
			c := change(id, 1)
			for range n {
				c.Counters = append(c.Counters, loyalty.Counter{Key: key, Limit: 2})
			}
			return c
		}
		commitLedger(t, s, limited(uniqueID("m"), 1))
		commitLedger(t, s, limited(uniqueID("m"), 1))
		third := uniqueID("m")
		if err := s.CommitLedger(t.Context(), limited(third, 1)); !errors.Is(err, store.ErrLimit) {
			t.Errorf("third use of a limit of 2: err = %v, want ErrLimit", err)
		}
		if _, err := s.GetAccount(t.Context(), third); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAccount after ErrLimit: err = %v, want ErrNotFound", err)
		}

		// Uses within one commit count together, across changes too.
		key = uniqueID("NEW8")
		if err := s.CommitLedger(t.Context(), limited(uniqueID("m"), 2), limited(uniqueID("m"), 1)); !errors.Is(err, store.ErrLimit) {
			t.Errorf("three uses in one commit: err = %v, want ErrLimit", err)
		}
		commitLedger(t, s, limited(uniqueID("m"), 2))
		if err := s.CommitLedger(t.Context(), limited(uniqueID("m"), 1)); !errors.Is(err, store.ErrLimit) {
			t.Errorf("use after two in one commit: err = %v, want ErrLimit", err)
		}
	})

	t.Run("liability counters", func(t *testing.T) {
		s := newStore(t)
		kA, kB, kC, kZ := uniqueID("points#"), uniqueID("coupon#NEW8#"), uniqueID("sv#principal."), uniqueID("points#")
		liable := func(id string, l map[string]string) store.LedgerChange {
			c := change(id, 1)
			c.Liability = map[string]decimal.Decimal{}
			for k, v := range l {
				c.Liability[k] = decimal.RequireFromString(v)
			}
			return c
		}
		commitLedger(t, s, liable(uniqueID("m"), map[string]string{kA: "10", kB: "2.5", kZ: "0"}))
		commitLedger(t, s, liable(uniqueID("m"), map[string]string{kA: "-3"}))
		commitLedger(t, s, liable(uniqueID("m"), map[string]string{kA: "1.25"}), liable(uniqueID("m"), map[string]string{kB: "0.5"}))
		// Seventeen members cannot all have shards of their own.
		var many []store.LedgerChange
		for range 17 {
			many = append(many, liable(uniqueID("m"), map[string]string{kC: "0.01"}))
		}
		commitLedger(t, s, many...)
		checkLiability(t, s, map[string]string{kA: "8.25", kB: "3", kC: "0.17", kZ: ""})
	})

	t.Run("due accounts", func(t *testing.T) {
		s := newStore(t)
		// Days are opaque to the store; unique ones keep repeated runs
		// against one table apart.
		day, other := uniqueID("2026-12-01"), uniqueID("2026-12-02")
		p := uniqueID("m")
		a, b, c, d := p+"-a", p+"-b", p+"-c", p+"-d"
		due := func(id string, version int64, day string) store.LedgerChange {
			ch := change(id, version)
			ch.NextDue = day
			return ch
		}
		commitLedger(t, s, due(c, 1, day), due(a, 1, day))
		commitLedger(t, s, due(b, 1, day), due(d, 1, other))
		commitLedger(t, s, due(uniqueID("m"), 1, ""))

		checkDueList(t, s, day, "", 2, []string{a, b})
		checkDueList(t, s, day, b, 2, []string{c})
		checkDueList(t, s, day, c, 2, nil)
		checkDueList(t, s, other, "", 10, []string{d})

		commitLedger(t, s, due(b, 2, ""), due(c, 2, other))
		checkDueList(t, s, day, "", 10, []string{a})
		checkDueList(t, s, other, "", 10, []string{c, d})
		if _, err := s.DueAccounts(t.Context(), day, "", 0); err == nil {
			t.Error("DueAccounts(limit 0) = nil error, want an error")
		}
	})

	t.Run("commit of two members is atomic", func(t *testing.T) {
		s := newStore(t)
		a, b := uniqueID("m"), uniqueID("m")
		commitLedger(t, s, change(a, 1))

		claim, counter, liab, day := uniqueID("coupon#"), uniqueID("kind"), uniqueID("points#"), uniqueID("2026-12-01")
		bc := change(b, 1, fullEntry(b, 1), fullEntry(b, 2))
		bc.Cause = "evt_b"
		bc.Claims = []loyalty.Claim{{Key: claim, Owner: b}}
		bc.Counters = []loyalty.Counter{{Key: counter, Limit: 1}}
		bc.Liability = map[string]decimal.Decimal{liab: decimal.NewFromInt(3)}
		bc.NextDue = day
		nothingOfB := func(what string) {
			t.Helper()
			if _, err := s.GetAccount(t.Context(), b); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: GetAccount(b) err = %v, want ErrNotFound", what, err)
			}
			checkEntrySeqs(t, s, b)
			checkClaimFree(t, s, claim)
			checkLiability(t, s, map[string]string{liab: ""})
			checkDueList(t, s, day, "", 10, nil)
		}

		if err := s.CommitLedger(t.Context(), bc, change(a, 1, fullEntry(a, 1))); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second member stale: err = %v, want ErrConflict", err)
		}
		nothingOfB("after ErrConflict")
		if err := s.CommitLedger(t.Context(), bc, change(a, 2, moveEntry(a, 1, 0, -1, "0", "0"))); !errors.Is(err, store.ErrNegative) {
			t.Errorf("second member below zero: err = %v, want ErrNegative", err)
		}
		nothingOfB("after ErrNegative")
		checkEntrySeqs(t, s, a)

		commitLedger(t, s, bc, change(a, 2, fullEntry(a, 1)))
		checkClaimOwner(t, s, claim, b)
		checkEntrySeqs(t, s, a, 1)
		checkEntrySeqs(t, s, b, 2, 1)
		checkLiability(t, s, map[string]string{liab: "3"})
		checkDueList(t, s, day, "", 10, []string{b})
	})

	t.Run("at most 100 items", func(t *testing.T) {
		s := newStore(t)
		full := uniqueID("m") // account + 99 entries
		commitLedger(t, s, change(full, 1, seqEntries(full, 1, 99)...))
		if got := len(listEntries(t, s, full, 200, 0)); got != 99 {
			t.Errorf("entries = %d, want 99", got)
		}
		over := uniqueID("m") // account + 99 entries + marker
		c := change(over, 1, seqEntries(over, 1, 99)...)
		c.Cause = "evt_1"
		if err := s.CommitLedger(t.Context(), c); err == nil {
			t.Error("CommitLedger(101 items) = nil, want an error")
		}
		if _, err := s.GetAccount(t.Context(), over); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAccount after rejected commit: err = %v, want ErrNotFound", err)
		}
		checkEntrySeqs(t, s, over)
	})

	t.Run("rejects invalid commits", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		other := uniqueID("m")
		for _, tc := range []struct {
			name    string
			changes []store.LedgerChange
		}{
			{"version 0", []store.LedgerChange{change(id, 0)}},
			{"no member id", []store.LedgerChange{change("", 1)}},
			{"member twice", []store.LedgerChange{change(id, 1), change(id, 2)}},
			{"entry of another member", []store.LedgerChange{change(id, 1, fullEntry(other, 1))}},
			{"entry seq 0", []store.LedgerChange{change(id, 1, fullEntry(id, 0))}},
			{"entry seq twice", []store.LedgerChange{change(id, 1, fullEntry(id, 1), fullEntry(id, 1))}},
			{"liability key PK", []store.LedgerChange{{Account: fullAccount(id, 1), Liability: map[string]decimal.Decimal{"PK": decimal.NewFromInt(1)}}}},
		} {
			if err := s.CommitLedger(t.Context(), tc.changes...); err == nil {
				t.Errorf("%s: CommitLedger = nil, want an error", tc.name)
			}
		}
		if _, err := s.GetAccount(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAccount after rejected commits: err = %v, want ErrNotFound", err)
		}
		if err := s.CommitLedger(t.Context()); err != nil {
			t.Errorf("CommitLedger(no changes) = %v, want nil", err)
		}
	})

	t.Run("concurrent writers", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		commitLedger(t, s, change(id, 1))
		won := raceWriters(t, func(i int) error {
			c := change(id, 2, fullEntry(id, 1))
			c.Cause = fmt.Sprintf("evt_%d", i)
			return s.CommitLedger(t.Context(), c)
		})
		if got, want := getAccount(t, s, id).Version, int64(1+won); got != want {
			t.Errorf("stored version = %d, want %d", got, want)
		}
	})
}

func commitLedger(t *testing.T, s store.Store, changes ...store.LedgerChange) {
	t.Helper()
	if err := s.CommitLedger(t.Context(), changes...); err != nil {
		t.Fatalf("CommitLedger: %v", err)
	}
}

func getAccount(t *testing.T, s store.Store, id string) loyalty.Account {
	t.Helper()
	a, err := s.GetAccount(t.Context(), id)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	return a
}

func listEntries(t *testing.T, s store.Store, id string, limit int, before int64) []loyalty.Entry {
	t.Helper()
	es, err := s.ListEntries(t.Context(), id, limit, before)
	if err != nil {
		t.Fatalf("ListEntries(limit %d, before %d): %v", limit, before, err)
	}
	return es
}

// checkEntrySeqs checks the member's entries are exactly these, newest first.
func checkEntrySeqs(t *testing.T, s store.Store, id string, want ...int64) {
	t.Helper()
	var got []int64
	for _, e := range listEntries(t, s, id, 1000, 0) {
		got = append(got, e.Seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("entry seqs of %s = %v, want %v", id, got, want)
	}
}

func checkClaimOwner(t *testing.T, s store.Store, key, want string) {
	t.Helper()
	got, err := s.ClaimOwner(t.Context(), key)
	if err != nil || got != want {
		t.Errorf("ClaimOwner(%s) = %q, %v; want %q", key, got, err, want)
	}
}

func checkClaimFree(t *testing.T, s store.Store, key string) {
	t.Helper()
	if owner, err := s.ClaimOwner(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ClaimOwner(%s) = %q, %v; want ErrNotFound", key, owner, err)
	}
}

// checkLiability checks the summed counters of these keys; "" means the
// key must be absent.
func checkLiability(t *testing.T, s store.Store, want map[string]string) {
	t.Helper()
	got, err := s.LiabilityCounters(t.Context())
	if err != nil {
		t.Fatalf("LiabilityCounters: %v", err)
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case w == "" && ok:
			t.Errorf("liability %s = %s, want absent", k, g)
		case w != "" && (!ok || !g.Equal(decimal.RequireFromString(w))):
			t.Errorf("liability %s = %s (present %t), want %s", k, g, ok, w)
		}
	}
}

func checkDueList(t *testing.T, s store.Store, day, after string, limit int, want []string) {
	t.Helper()
	got, err := s.DueAccounts(t.Context(), day, after, limit)
	if err != nil {
		t.Fatalf("DueAccounts(%s, %q, %d): %v", day, after, limit, err)
	}
	checkIDs(t, fmt.Sprintf("DueAccounts(%s, %q, %d)", day, after, limit), got, want)
}

// checkDue checks whether id is due on day, reading every due account.
func checkDue(t *testing.T, s store.Store, day, after string, limit int, id string, want bool) {
	t.Helper()
	got, err := s.DueAccounts(t.Context(), day, after, limit)
	if err != nil {
		t.Fatalf("DueAccounts(%s): %v", day, err)
	}
	if slices.Contains(got, id) != want {
		t.Errorf("%s due on %s = %t, want %t", id, day, !want, want)
	}
}

// checkIDs compares id lists, treating nil and empty alike: the port does
// not promise either.
func checkIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

var (
	timeType    = reflect.TypeFor[time.Time]()
	decimalType = reflect.TypeFor[decimal.Decimal]()
)

// checkEqual compares got and want field by field, times and decimals with
// Equal: a store keeps the instant, not the monotonic reading or
// *time.Location, and the amount, not the exponent it was written with.
// Nil and empty slices and maps are alike, as JSON's omitempty makes them.
func checkEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	for _, d := range diff(reflect.ValueOf(got), reflect.ValueOf(want), what) {
		t.Error(d)
	}
}

func diff(got, want reflect.Value, path string) []string {
	switch {
	case got.Type() == timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			return []string{fmt.Sprintf("%s = %v, want %v", path, g, w)}
		}
		return nil
	case got.Type() == decimalType:
		g, w := got.Interface().(decimal.Decimal), want.Interface().(decimal.Decimal)
		if !g.Equal(w) {
			return []string{fmt.Sprintf("%s = %s, want %s", path, g, w)}
		}
		return nil
	case got.Kind() == reflect.Pointer:
		switch {
		case got.IsNil() && want.IsNil():
			return nil
		case got.IsNil() || want.IsNil():
			return []string{fmt.Sprintf("%s = %v, want %v", path, got.Interface(), want.Interface())}
		}
		return diff(got.Elem(), want.Elem(), path)
	case got.Kind() == reflect.Map:
		if got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s has %d keys, want %d: got %v, want %v", path, got.Len(), want.Len(), got.Interface(), want.Interface())}
		}
		var out []string
		for _, k := range want.MapKeys() {
			g := got.MapIndex(k)
			if !g.IsValid() {
				out = append(out, fmt.Sprintf("%s[%v] missing", path, k))
				continue
			}
			out = append(out, diff(g, want.MapIndex(k), fmt.Sprintf("%s[%v]", path, k))...)
		}
		return out
	case got.Type() == reflect.TypeFor[json.RawMessage]():
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			return []string{fmt.Sprintf("%s = %s, want %s", path, got.Bytes(), want.Bytes())}
		}
		return nil
	case got.Kind() == reflect.Struct:
		var out []string
		for i := range got.NumField() {
			out = append(out, diff(got.Field(i), want.Field(i), path+"."+got.Type().Field(i).Name)...)
		}
		return out
	case got.Kind() == reflect.Slice:
		if got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s has %d elements, want %d: got %+v, want %+v", path, got.Len(), want.Len(), got.Interface(), want.Interface())}
		}
		var out []string
		for i := range got.Len() {
			out = append(out, diff(got.Index(i), want.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return []string{fmt.Sprintf("%s = %#v, want %#v", path, got.Interface(), want.Interface())}
	}
	return nil
}

// checkAllSet fails for every zero field of v, recursing into structs other
// than time.Time.
func checkAllSet(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.Type() == decimalType {
		if v.Interface().(decimal.Decimal).IsZero() {
			t.Errorf("%s is not set in the fixture, so its round trip is untested", path)
		}
		return
	}
	if v.Kind() == reflect.Struct && v.Type() != timeType {
		for i := range v.NumField() {
			checkAllSet(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
		return
	}
	if v.IsZero() {
		t.Errorf("%s is not set in the fixture, so its round trip is untested", path)
	}
}
