// Package storetest is the contract every store.Store adapter passes. The
// adapters' own tests call Run, so the in-memory store other layers test
// against cannot drift from the DynamoDB one.
package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

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
	}
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

		again := event(src, "e1", `{"v":"second"}`)
		again.Type = "member.updated"
		res := putEvents(t, s, []store.RecordedEvent{
			event(src, "e2", `{}`), again, event(src, "e3", `{}`),
		})
		checkIDs(t, "accepted", res.Accepted, []string{"e2", "e3"})
		checkIDs(t, "duplicates", res.Duplicates, []string{"e1"})

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
		res := putEvents(t, s, []store.RecordedEvent{
			event(src, "a", `{"v":1}`), event(src, "b", `{}`), event(src, "a", `{"v":2}`),
		})
		checkIDs(t, "accepted", res.Accepted, []string{"a", "b"})
		checkIDs(t, "duplicates", res.Duplicates, []string{"a"})
		got, err := s.GetEvent(t.Context(), src, "a")
		if err != nil {
			t.Fatalf("GetEvent(a): %v", err)
		}
		if want := `{"v":1}`; string(got.Payload) != want {
			t.Errorf("payload = %s, want the first occurrence's %s", got.Payload, want)
		}
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
		ID:           id,
		Email:        "ada@example.com",
		Name:         "Ada Lovelace",
		Phone:        "+44 20 7946 0000",
		Birthday:     "1990-12-10",
		Timezone:     "Europe/London",
		Locale:       "en-GB",
		ReferralCode: "ADA-42",
		Consent:      loyalty.Consent{EmailMarketing: true, UpdatedAt: base.Add(-time.Hour)},
		RegisteredAt: base.Add(-48 * time.Hour),
		LastOrderAt:  base.Add(-time.Minute),
		OrderCount:   7,
		UpdatedAt:    base,
		Version:      1,
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

		const writers = 8
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				next := m
				next.Version, next.OrderCount = 2, i
				errs[i] = s.SaveMember(t.Context(), next, fmt.Sprintf("e%d", i+1))
			})
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
			t.Errorf("%d writers saved version 2, want at most 1", won)
		}
		if got, want := getMember(t, s, m.ID).Version, int64(1+won); got != want {
			t.Errorf("stored version = %d, want %d", got, want)
		}
	})
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
	}
}

func runEnrollments(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("start", func(t *testing.T) {
		s := newStore(t)
		want := enrollment(uniqueID("m"), "activation", 1)
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

func runSends(t *testing.T, newStore func(t *testing.T) store.Store) {
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
		if err := s.CompleteSend(t.Context(), snd.MemberID, snd.Key, store.SendSent, "msg-1", "", at); err != nil {
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
		if err := s.CompleteSend(t.Context(), snd.MemberID, snd.Key, store.SendSkipped, "", "no consent", at); err != nil {
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
		if err := s.CompleteSend(t.Context(), snd.MemberID, snd.Key, store.SendSent, "msg-1", "", at); err != nil {
			t.Fatalf("first CompleteSend: %v", err)
		}
		if err := s.CompleteSend(t.Context(), snd.MemberID, snd.Key, store.SendSkipped, "", "late", at.Add(time.Hour)); err != nil {
			t.Fatalf("second CompleteSend: %v, want nil", err)
		}
		want := snd
		want.Status, want.MessageID, want.UpdatedAt = store.SendSent, "msg-1", at
		checkEqual(t, "rows", listSends(t, s, snd.MemberID), []store.Send{want})
	})

	t.Run("complete not found", func(t *testing.T) {
		err := newStore(t).CompleteSend(t.Context(), uniqueID("m"), "k1", store.SendSent, "msg-1", "", base)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("complete to pending rejected", func(t *testing.T) {
		s := newStore(t)
		snd := send(uniqueID("m"), "k1", base)
		reserveSend(t, s, snd)
		if err := s.CompleteSend(t.Context(), snd.MemberID, snd.Key, store.SendPending, "", "", base); err == nil {
			t.Error("CompleteSend(pending) = nil, want an error")
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

func listSends(t *testing.T, s store.Store, memberID string) []store.Send {
	t.Helper()
	got, err := s.ListSends(t.Context(), memberID)
	if err != nil {
		t.Fatalf("ListSends: %v", err)
	}
	return got
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

var timeType = reflect.TypeFor[time.Time]()

// checkEqual compares got and want field by field, times with Equal: a
// store keeps the instant, not the monotonic reading or *time.Location.
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
