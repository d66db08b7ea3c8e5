package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// ErasureFixture is a member with every kind of personal data and the
// items an erasure must clean: their registration (recorded, and the
// cause of a ledger commit, so the journal keeps it), an event of a shape
// memberflow does not know with personal values in free text, a send row
// skipped with the address in its reason, a suppression and a timeline
// entry that name it. Adapters' own tests use it to look at their
// storage after the erasure.
type ErasureFixture struct {
	Member loyalty.Member
	// Event is the registration, journaled by Change.
	Event store.RecordedEvent
	// Other is an event of an unknown type with free text.
	Other    store.RecordedEvent
	Change   store.LedgerChange
	Send     store.Send
	Timeline store.TimelineEntry
	// Personal are the strings that must be found nowhere after.
	Personal []string
}

// NewErasureFixture builds the fixture for a member id.
func NewErasureFixture(id string) ErasureFixture {
	suffix := strings.ToLower(id[len(id)-6:])
	email := "Lin.Wei." + suffix + "@Example.com"
	name, phone, birthday := "Lin Wei "+suffix, "+86 138 0000 "+suffix[:4], "1991-07-23"
	m := loyalty.Member{ID: id, Email: email, Name: name, Phone: phone, Birthday: birthday, BirthdaySetAt: base,
		Locale: "zh-CN", Consent: loyalty.Consent{EmailMarketing: true, UpdatedAt: base},
		Attributes: map[string]any{"favourite": "tea"}, RegisteredAt: base, Version: 1}
	at := base.UTC().Format(time.RFC3339Nano)
	reg, _ := json.Marshal(map[string]any{
		"id": "evt-" + id, "version": 1, "type": string(events.MemberRegistered), "occurred_at": at, "member_id": id,
		"data": map[string]any{"email": email, "phone": phone, "name": name, "birthday": birthday, "locale": "zh-CN",
			"timezone": "Asia/Shanghai", "consent": map[string]any{"email_marketing": true}},
	})
	ev := store.RecordedEvent{Source: "storefront", ID: "evt-" + id, Type: string(events.MemberRegistered), MemberID: id,
		OccurredAt: base, ReceivedAt: base.Add(time.Second), Payload: reg, Digest: "sha256:" + id}
	other, _ := json.Marshal(map[string]any{
		"id": "evt-other-" + id, "type": "customer.created", "occurred_at": at, "member_id": id,
		"data": map[string]any{"email": email, "phone": phone, "name": name, "birthday": birthday,
			"note": "call " + name + " after six", "tags": []string{"vip", "contact " + strings.ToLower(email)}},
	})
	oev := store.RecordedEvent{Source: "storefront", ID: "evt-other-" + id, Type: "customer.created", MemberID: id,
		OccurredAt: base, ReceivedAt: base.Add(time.Second), Payload: other, Digest: "sha256:other-" + id}
	entry := moveEntry(id, 1, 0, 120, "0", "0")
	entry.Reason = "goodwill for " + name
	// The commit's cause is the event: the journal keeps it as received.
	c := store.LedgerChange{Account: fullAccount(id, 1), Entries: []loyalty.Entry{entry},
		Cause: ev.ID, Record: loyalty.Recorded{Cause: ev.ID, Kind: loyalty.InputEvent, At: base, Params: reg},
		Liability: map[string]decimal.Decimal{"points": decimal.NewFromInt(120)}}
	snd := store.Send{Key: id + "#welcome#1#hello", MemberID: id, Journey: "welcome", Enrollment: 1, Step: "hello",
		Template: "welcome_hello", Status: store.SendPending, CreatedAt: base, UpdatedAt: base}
	tl := store.TimelineEntry{MemberID: id, Journey: "welcome", Version: 1, Enrollment: 1, Step: "hello", Kind: "sent",
		Values: map[string]any{"member.email": email}, At: base, Key: snd.Key}
	return ErasureFixture{Member: m, Event: ev, Other: oev, Change: c, Send: snd, Timeline: tl,
		Personal: []string{email, strings.ToLower(email), name, phone, birthday, "tea"}}
}

// Load writes the fixture to s.
func (f ErasureFixture) Load(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	if err := s.SaveMember(ctx, f.Member, "evt-"+f.Member.ID); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	if _, err := s.PutEvents(ctx, []store.RecordedEvent{f.Event, f.Other}); err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if err := s.CommitLedger(ctx, f.Change); err != nil {
		t.Fatalf("CommitLedger: %v", err)
	}
	if _, _, err := s.ReserveSend(ctx, f.Send); err != nil {
		t.Fatalf("ReserveSend: %v", err)
	}
	if err := s.CompleteSend(ctx, f.Send.Ref(), store.SendSkipped, "", "invalid_address: "+f.Member.Email+" rejected", base); err != nil {
		t.Fatalf("CompleteSend: %v", err)
	}
	if err := s.Suppress(ctx, store.Suppression{MemberID: f.Member.ID, Reason: "bounce: 550 " + f.Member.Email + " unknown",
		Source: "sendgrid:bounce", At: base}); err != nil {
		t.Fatalf("Suppress: %v", err)
	}
	if err := s.AppendTimeline(ctx, f.Timeline); err != nil {
		t.Fatalf("AppendTimeline: %v", err)
	}
}

// Leaks returns the personal strings found in v's JSON.
func (f ErasureFixture) Leaks(v any) []string {
	b, _ := json.Marshal(v)
	var out []string
	for _, p := range f.Personal {
		if strings.Contains(string(b), p) {
			out = append(out, p)
		}
	}
	return out
}

func runErasure(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("unknown member", func(t *testing.T) {
		_, err := newStore(t).EraseMember(t.Context(), uniqueID("m"), base)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("erase and repeat", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		ctx := t.Context()
		f := NewErasureFixture(id)
		f.Load(t, s)
		evs, err := s.MemberEvents(ctx, id)
		if err != nil || len(evs) != 2 || evs[0].ID != f.Event.ID || evs[1].ID != f.Other.ID {
			t.Fatalf("MemberEvents = %+v, %v; want the fixture's two events", evs, err)
		}
		liabBefore, err := s.LiabilityCounters(ctx)
		if err != nil {
			t.Fatalf("LiabilityCounters: %v", err)
		}
		accBefore := getAccount(t, s, id)

		got, err := s.EraseMember(ctx, id, base.Add(time.Hour))
		if err != nil {
			t.Fatalf("EraseMember: %v", err)
		}
		if !got.Profile || got.Events != 2 || !got.Suppressed || got.Items < 3 {
			t.Errorf("EraseMember = %+v, want the profile, 2 events, the address suppressed and at least the send, suppression and timeline", got)
		}

		m, err := s.GetMember(ctx, id)
		if err != nil {
			t.Fatalf("GetMember: %v", err)
		}
		if leaks := f.Leaks(m); len(leaks) > 0 || m.Version != 2 || m.Locale != "zh-CN" || !m.Consent.EmailMarketing {
			t.Errorf("profile after erasure = %+v (leaks %v), want no personal data, version 2, the rest kept", m, leaks)
		}
		if !m.ErasedAt.Equal(base.Add(time.Hour)) {
			t.Errorf("erased mark = %s, want the erasure's time %s", m.ErasedAt, base.Add(time.Hour))
		}
		ev, err := s.GetEvent(ctx, f.Event.Source, f.Event.ID)
		if err != nil {
			t.Fatalf("GetEvent: %v", err)
		}
		if leaks := f.Leaks(string(ev.Payload)); len(leaks) > 0 || ev.Digest != f.Event.Digest || !strings.Contains(string(ev.Payload), `"locale":"zh-CN"`) {
			t.Errorf("event after erasure = %s digest %s (leaks %v), want the personal fields gone, the rest and the digest kept", ev.Payload, ev.Digest, leaks)
		}
		unknown, err := s.GetEvent(ctx, f.Other.Source, f.Other.ID)
		if err != nil {
			t.Fatalf("GetEvent: %v", err)
		}
		if leaks := f.Leaks(string(unknown.Payload)); len(leaks) > 0 || !strings.Contains(string(unknown.Payload), `"vip"`) {
			t.Errorf("event of an unknown shape after erasure = %s (leaks %v), want the personal fields and values gone, the rest kept", unknown.Payload, leaks)
		}
		sends, err := s.ListSends(ctx, id)
		if err != nil || len(sends) != 1 {
			t.Fatalf("ListSends = %+v, %v", sends, err)
		}
		if leaks := f.Leaks(sends); len(leaks) > 0 || !strings.HasPrefix(sends[0].Reason, "invalid_address: ") {
			t.Errorf("send after erasure = %+v (leaks %v)", sends[0], leaks)
		}
		sup, err := s.GetSuppression(ctx, id)
		if err != nil || len(f.Leaks(sup)) > 0 {
			t.Errorf("suppression after erasure = %+v, %v", sup, err)
		}
		tl, _, err := s.ListTimeline(ctx, id, 10, "")
		if err != nil || len(tl) != 1 || len(f.Leaks(tl)) > 0 {
			t.Errorf("timeline after erasure = %+v, %v", tl, err)
		}
		entries := listEntries(t, s, id, 10, 0)
		if len(entries) != 1 || len(f.Leaks(entries)) > 0 || entries[0].Available != 120 || entries[0].Rule != f.Change.Entries[0].Rule {
			t.Errorf("ledger after erasure = %+v, want the amounts and rule without the name", entries)
		}
		journal, err := s.Journal(ctx, id)
		if err != nil || len(journal) != 1 || journal[0].Cause != f.Event.ID || len(f.Leaks(string(journal[0].Params))) > 0 {
			t.Errorf("journal after erasure = %+v, %v; want the event's record without the personal values", journal, err)
		}
		checkJournalDecodes(t, s, id)
		checkEqual(t, "account", getAccount(t, s, id), accBefore)
		liabAfter, err := s.LiabilityCounters(ctx)
		if err != nil {
			t.Fatalf("LiabilityCounters: %v", err)
		}
		if fmt.Sprint(liabAfter) != fmt.Sprint(liabBefore) {
			t.Errorf("liability %v after erasure, %v before", liabAfter, liabBefore)
		}

		// The address is suppressed by its hash: a member re-imported
		// under another id with the address (in another case) is not
		// mailed.
		other := uniqueID("m")
		if err := s.SaveMember(ctx, loyalty.Member{ID: other, Email: "  " + strings.ToUpper(f.Member.Email), Version: 1}, "evt-"+other); err != nil {
			t.Fatalf("SaveMember: %v", err)
		}
		sc, err := s.SendContext(ctx, other, "welcome", 1)
		if err != nil {
			t.Fatalf("SendContext: %v", err)
		}
		if sc.Suppression == nil || sc.Suppression.Source != store.SuppressedErasedSource {
			t.Errorf("send context of a re-import = %+v, want the erased address suppressed", sc.Suppression)
		}
		if sc, err := s.SendContext(ctx, uniqueID("m"), "welcome", 1); err == nil || sc.Suppression != nil {
			t.Errorf("send context of nobody = %+v, %v", sc, err)
		}

		again, err := s.EraseMember(ctx, id, base.Add(2*time.Hour))
		if err != nil {
			t.Fatalf("EraseMember again: %v", err)
		}
		if want := (store.Erased{MemberID: id}); again != want {
			t.Errorf("EraseMember again = %+v, want %+v (nothing left to do)", again, want)
		}
		if m2, err := s.GetMember(ctx, id); err != nil || m2.Version != 2 || !m2.ErasedAt.Equal(base.Add(time.Hour)) {
			t.Errorf("profile after a repeat = %+v, %v; want version 2 and the first erasure's mark still", m2, err)
		}
	})

	t.Run("values changed before the erasure and ids holding a short name", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		ctx := t.Context()
		// Registered as Tom at a@…, then changed to Ted at b@… with a new
		// phone: the profile holds only the new values, the events, the
		// journal, a send row, a click, a suppression and the timeline
		// the old ones. The ids hold the short names by chance:
		// "cus-tom-er", "upda-ted", "comple-ted".
		suffix := strings.ToLower(id[len(id)-6:])
		oldEmail, newEmail := "a."+suffix+"@x.example", "b."+suffix+"@y.example"
		oldPhone, newPhone := "+86 139 "+suffix, "+86 137 "+suffix
		const oldName, newName = "Tom", "Ted"
		regID, updID := "shopify.customer."+suffix+".created", "shopify.customer."+suffix+".updated.1700000000"
		at := base.UTC().Format(time.RFC3339Nano)
		reg, _ := json.Marshal(map[string]any{"id": regID, "version": 1, "type": string(events.MemberRegistered), "occurred_at": at, "member_id": id,
			"data": map[string]any{"email": oldEmail, "name": oldName, "phone": oldPhone, "birthday": "1991-07-23", "locale": "zh-CN",
				"consent": map[string]any{"email_marketing": true}}})
		upd, _ := json.Marshal(map[string]any{"id": updID, "version": 1, "type": string(events.MemberProfileUpdated), "occurred_at": at, "member_id": id,
			"data": map[string]any{"email": newEmail, "name": newName, "phone": newPhone}})
		saveMember(t, s, loyalty.Member{ID: id, Email: newEmail, Name: newName, Phone: newPhone, Birthday: "1991-07-23", BirthdaySetAt: base,
			Locale: "zh-CN", RegisteredAt: base, Version: 1}, updID)
		if _, err := s.PutEvents(ctx, []store.RecordedEvent{
			{Source: "shopify", ID: regID, Type: string(events.MemberRegistered), MemberID: id, OccurredAt: base, ReceivedAt: base, Payload: reg, Digest: "sha256:reg-" + id},
			{Source: "shopify", ID: updID, Type: string(events.MemberProfileUpdated), MemberID: id, OccurredAt: base, ReceivedAt: base, Payload: upd, Digest: "sha256:upd-" + id},
		}); err != nil {
			t.Fatalf("PutEvents: %v", err)
		}
		for i, c := range []struct {
			cause  string
			params []byte
		}{{regID, reg}, {updID, upd}} {
			e := moveEntry(id, int64(i+1), 0, 10, "0", "0")
			e.Key, e.EventID, e.Rule, e.Reason = c.cause+"#points", c.cause, "member.profile_updated", "welcome points for "+oldName
			if err := s.CommitLedger(ctx, store.LedgerChange{Account: fullAccount(id, int64(i+1)), Entries: []loyalty.Entry{e}, Cause: c.cause,
				Record:    loyalty.Recorded{Cause: c.cause, Kind: loyalty.InputEvent, At: base, Params: c.params},
				Liability: map[string]decimal.Decimal{"points": decimal.NewFromInt(10)}}); err != nil {
				t.Fatalf("CommitLedger %s: %v", c.cause, err)
			}
		}
		snd := store.Send{Key: id + "#activation#1#welcome", MemberID: id, Journey: "activation", Enrollment: 1, Step: "welcome",
			Template: "activation_welcome", Status: store.SendPending, CreatedAt: base, UpdatedAt: base}
		if _, _, err := s.ReserveSend(ctx, snd); err != nil {
			t.Fatalf("ReserveSend: %v", err)
		}
		if err := s.CompleteSend(ctx, snd.Ref(), store.SendSkipped, "", "invalid_address: "+oldEmail+" rejected", base); err != nil {
			t.Fatalf("CompleteSend: %v", err)
		}
		if err := s.RecordSendEvent(ctx, store.SendEvent{ID: "sg-click-" + id, MemberID: id, SendKey: snd.Key, Journey: "activation", Step: "welcome",
			Enrollment: 1, Type: store.EventClick, At: base, URL: "https://shop.example.com/welcome?who=" + url.QueryEscape(oldEmail)}); err != nil {
			t.Fatalf("RecordSendEvent: %v", err)
		}
		if err := s.Suppress(ctx, store.Suppression{MemberID: id, Reason: "bounce: 550 " + oldEmail + " unknown", Source: "sendgrid:bounce", At: base}); err != nil {
			t.Fatalf("Suppress: %v", err)
		}
		if _, _, err := s.StartEnrollment(ctx, loyalty.Enrollment{MemberID: id, Journey: "activation", Number: 1, Version: 1,
			Status: loyalty.EnrollmentActive, StartedAt: base}); err != nil {
			t.Fatalf("StartEnrollment: %v", err)
		}
		if err := s.EndEnrollment(ctx, id, "activation", 1, loyalty.EnrollmentCompleted, "completed", base); err != nil {
			t.Fatalf("EndEnrollment: %v", err)
		}
		if err := s.AppendTimeline(ctx, store.TimelineEntry{MemberID: id, Journey: "activation", Version: 1, Enrollment: 1, Step: "welcome",
			Kind: "sent", Reason: "sent to " + oldName, Values: map[string]any{"member.email": oldEmail, "member.name": oldName, "event.id": updID},
			At: base, Key: snd.Key}); err != nil {
			t.Fatalf("AppendTimeline: %v", err)
		}

		if _, err := s.EraseMember(ctx, id, base.Add(time.Hour)); err != nil {
			t.Fatalf("EraseMember: %v", err)
		}
		personal := []string{oldEmail, newEmail, url.QueryEscape(oldEmail), oldPhone, newPhone, "1991-07-23", `"Tom"`, `"Ted"`, "for Tom", "to Tom"}
		leaks := func(what string, v any) {
			t.Helper()
			b, _ := json.Marshal(v)
			if raw, ok := v.(json.RawMessage); ok {
				b = raw
			}
			for _, p := range personal {
				if strings.Contains(string(b), p) {
					t.Errorf("%s after erasure holds %s: %s", what, p, b)
				}
			}
		}
		leaks("profile", getMember(t, s, id))
		evs, err := s.MemberEvents(ctx, id)
		if err != nil || len(evs) != 2 {
			t.Fatalf("MemberEvents = %+v, %v", evs, err)
		}
		for _, ev := range evs {
			leaks("event "+ev.ID, ev.Payload)
			env, _, err := store.DecodeRecorded(ev.Payload)
			if err != nil || env.ID != ev.ID || string(env.Type) != ev.Type || env.MemberID != id {
				t.Errorf("event %s after erasure = %s, %v; want it to decode with its id, type and member", ev.ID, ev.Payload, err)
			}
		}
		journal, err := s.Journal(ctx, id)
		if err != nil || len(journal) != 2 {
			t.Fatalf("Journal = %+v, %v", journal, err)
		}
		for _, rec := range journal {
			leaks("journal record "+rec.Cause, rec.Params)
		}
		checkJournalDecodes(t, s, id)
		for _, e := range listEntries(t, s, id, 10, 0) {
			leaks("ledger entry", e)
			if !strings.HasPrefix(e.Key, "shopify.customer."+suffix+".") || e.Rule != "member.profile_updated" {
				t.Errorf("ledger entry after erasure = %+v, want its key and rule kept", e)
			}
		}
		sends, err := s.ListSends(ctx, id)
		if err != nil || len(sends) != 1 {
			t.Fatalf("ListSends = %+v, %v", sends, err)
		}
		leaks("send", sends[0])
		sevs, err := s.ListSendEvents(ctx, id, time.Time{})
		if err != nil || len(sevs) != 1 {
			t.Fatalf("ListSendEvents = %+v, %v", sevs, err)
		}
		leaks("send event", sevs[0])
		if sevs[0].Type != store.EventClick || sevs[0].SendKey != snd.Key {
			t.Errorf("click after erasure = %+v, want its type and send kept", sevs[0])
		}
		sup, err := s.GetSuppression(ctx, id)
		if err != nil {
			t.Fatalf("GetSuppression: %v", err)
		}
		leaks("suppression", sup)
		tl, _, err := s.ListTimeline(ctx, id, 10, "")
		if err != nil || len(tl) != 1 {
			t.Fatalf("ListTimeline = %+v, %v", tl, err)
		}
		leaks("timeline", tl)
		if tl[0].Values["event.id"] != updID || tl[0].Kind != "sent" {
			t.Errorf("timeline after erasure = %+v, want the event id and kind kept", tl[0])
		}
		enr, err := s.GetEnrollment(ctx, id, "activation", 1)
		if err != nil || enr.Status != loyalty.EnrollmentCompleted || enr.Reason != "completed" {
			t.Errorf("enrollment after erasure = %+v, %v; want still completed", enr, err)
		}
	})

	t.Run("mark first", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		ctx := t.Context()
		if err := s.MarkErased(ctx, id, base); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MarkErased of no member = %v, want ErrNotFound", err)
		}
		f := NewErasureFixture(id)
		f.Load(t, s)
		if err := s.MarkErased(ctx, id, base.Add(time.Hour)); err != nil {
			t.Fatalf("MarkErased: %v", err)
		}
		m := getMember(t, s, id)
		if !m.ErasedAt.Equal(base.Add(time.Hour)) || m.Version != 2 || m.Email != f.Member.Email {
			t.Errorf("profile after MarkErased = %+v, want the mark, version 2 and the data still there", m)
		}
		// A projection write that read the profile before the mark is
		// refused.
		stale := f.Member
		stale.Version = 2
		if err := s.SaveMember(ctx, stale, "evt-stale-"+id); !errors.Is(err, store.ErrConflict) {
			t.Errorf("SaveMember from before the mark = %v, want ErrConflict", err)
		}
		if err := s.MarkErased(ctx, id, base.Add(2*time.Hour)); err != nil {
			t.Fatalf("MarkErased again: %v", err)
		}
		if again := getMember(t, s, id); !again.ErasedAt.Equal(base.Add(time.Hour)) || again.Version != 2 {
			t.Errorf("profile after a second MarkErased = %+v, want the first mark and version 2", again)
		}
		got, err := s.EraseMember(ctx, id, base.Add(3*time.Hour))
		if err != nil || !got.Profile {
			t.Fatalf("EraseMember after the mark = %+v, %v; want the profile blanked", got, err)
		}
		if after := getMember(t, s, id); len(f.Leaks(after)) > 0 || !after.ErasedAt.Equal(base.Add(time.Hour)) {
			t.Errorf("profile after the erasure = %+v, want no data and the mark's time", after)
		}
	})

	t.Run("the erased mark outlives later events", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		ctx := t.Context()
		f := NewErasureFixture(id)
		// A profile without personal data is marked all the same.
		saveMember(t, s, loyalty.Member{ID: id, Locale: "zh-CN", Version: 1}, "evt-0")
		got, err := s.EraseMember(ctx, id, base.Add(time.Hour))
		if err != nil || !got.Profile {
			t.Fatalf("EraseMember = %+v, %v; want the profile marked", got, err)
		}
		// A registration with the member's data, projected and saved as
		// dispatch does, leaves the profile without it and still marked.
		env := events.Envelope{ID: "evt-late", Type: events.MemberRegistered, MemberID: id, OccurredAt: base.Add(2 * time.Hour)}
		m := getMember(t, s, id)
		next, _ := loyalty.Project(m, env, &events.MemberRegisteredData{Email: f.Member.Email, Name: f.Member.Name, Phone: f.Member.Phone,
			Birthday: &events.Date{Year: 1991, Month: time.July, Day: 23}, Locale: "en-GB"})
		next.Version = m.Version + 1
		saveMember(t, s, next, env.ID)
		after := getMember(t, s, id)
		if leaks := f.Leaks(after); len(leaks) > 0 || after.Locale != "en-GB" || !after.ErasedAt.Equal(base.Add(time.Hour)) {
			t.Errorf("profile after a late registration = %+v (leaks %v), want the locale, no personal data, the mark kept", after, leaks)
		}
		if bday, err := s.MembersByBirthday(ctx, "0723", "", 100); err != nil || slices.ContainsFunc(bday, func(b loyalty.Member) bool { return b.ID == id }) {
			t.Errorf("birthday index after a late registration = %+v, %v; want the erased member absent", bday, err)
		}

		// Its event, recorded with the data, is redacted on request.
		ev := f.Other
		ev.ID = "evt-late-" + id
		if _, err := s.PutEvents(ctx, []store.RecordedEvent{ev}); err != nil {
			t.Fatalf("PutEvents: %v", err)
		}
		p := store.NewPersonalData(f.Member)
		changed, err := s.RedactEvent(ctx, ev.Source, ev.ID, p, base.Add(3*time.Hour))
		if err != nil || !changed {
			t.Fatalf("RedactEvent = %v, %v; want a change", changed, err)
		}
		red, err := s.GetEvent(ctx, ev.Source, ev.ID)
		if err != nil {
			t.Fatalf("GetEvent: %v", err)
		}
		if leaks := f.Leaks(string(red.Payload)); len(leaks) > 0 || red.Digest != ev.Digest || !strings.Contains(string(red.Payload), `"vip"`) {
			t.Errorf("event after RedactEvent = %s (leaks %v), want the personal fields gone, the rest and the digest kept", red.Payload, leaks)
		}
		if changed, err := s.RedactEvent(ctx, ev.Source, ev.ID, p, base.Add(4*time.Hour)); err != nil || changed {
			t.Errorf("RedactEvent again = %v, %v; want nothing to change", changed, err)
		}
		if _, err := s.RedactEvent(ctx, ev.Source, "evt-none-"+id, p, base); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RedactEvent of no event = %v, want ErrNotFound", err)
		}
	})
}

// checkJournalDecodes fails unless every journal record of the member
// still decodes (loyalty.DecodeCommand): the ledger replays the journal
// when an input arrives late, and a record it cannot read would block
// the member's stream for good.
func checkJournalDecodes(t *testing.T, s store.Store, id string) {
	t.Helper()
	journal, err := s.Journal(t.Context(), id)
	if err != nil {
		t.Fatalf("Journal: %v", err)
	}
	for _, rec := range journal {
		cmd, err := loyalty.DecodeCommand(rec)
		if err != nil {
			t.Errorf("journal record %s after erasure: %v (params %s)", rec.Cause, err, rec.Params)
			continue
		}
		if rec.Kind == loyalty.InputEvent && (cmd.Event.Event.ID != rec.Cause || cmd.Event.Event.MemberID != id) {
			t.Errorf("journal record %s after erasure decodes to event %s of %s, want its id and member kept", rec.Cause, cmd.Event.Event.ID, cmd.Event.Event.MemberID)
		}
	}
}
