package dispatch_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
)

// recorded is record for an event ingest also stored: the item is in the
// store and the stream image names its source, as DynamoDB's does.
func recorded(t *testing.T, st *memstore.Store, seq string, typ events.Type, mutate func(map[string]any)) lambdaevents.DynamoDBEventRecord {
	t.Helper()
	rec := record(t, seq, typ, mutate)
	payload := rec.Change.NewImage["payload"].String()
	var env events.Envelope
	if err := json.Unmarshal([]byte(payload), &env); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(payload))
	if _, err := st.PutEvents(context.Background(), []store.RecordedEvent{{Source: "storefront", ID: env.ID, Type: string(env.Type), MemberID: env.MemberID,
		OccurredAt: env.OccurredAt, ReceivedAt: env.OccurredAt, Payload: json.RawMessage(payload), Digest: "sha256:" + hex.EncodeToString(sum[:])}}); err != nil {
		t.Fatal(err)
	}
	rec.Change.NewImage["source"] = lambdaevents.NewStringAttribute("storefront")
	return rec
}

// TestErasedMemberStaysErased: after DELETE /v1/members/{id}'s store
// erasure, a registration that was still in the stream and a profile
// update sent afterwards, both full of personal data, put none of it on
// the profile, in their stored items, in the ledger's journal or in a
// journey; an order afterwards still earns points under the member id.
// The registration does not restart the workflow of the activation
// enrollment the store's erasure left open here (the API's erasure ends
// it; a new entry of an erased member is TestErasureMarkedWhileDispatching's).
func TestErasedMemberStaysErased(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	const member = "m-1001"
	mustHandle(t, f.h, recorded(t, f.st, "1", events.MemberRegistered, nil))
	started := f.runner.starts
	if started == 0 {
		t.Fatal("the registration started no workflow: the checks below would pass for nothing")
	}
	// Recorded before the erasure, dispatched after it.
	inFlight := recorded(t, f.st, "2", events.MemberRegistered, func(m map[string]any) {
		m["id"] = "evt-reg-again"
		d := m["data"].(map[string]any)
		d["email"], d["name"], d["phone"] = "lin.again@example.com", "Lin Again", "+8613811112222"
	})
	before, err := f.st.GetMember(ctx, member)
	if err != nil || before.Email == "" {
		t.Fatalf("member before erasure = %+v, %v", before, err)
	}
	if _, err := f.st.EraseMember(ctx, member, testNow); err != nil {
		t.Fatal(err)
	}
	later := recorded(t, f.st, "3", events.MemberProfileUpdated, func(m map[string]any) {
		m["id"] = "evt-prof-after"
		d := m["data"].(map[string]any)
		d["email"], d["name"], d["birthday"] = "lin.after@example.com", "Lin After", "1990-06-15"
	})
	order := recorded(t, f.st, "4", events.OrderPaid, func(m map[string]any) { m["id"] = "evt-ord-after" })
	accBefore, err := f.st.GetAccount(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	mustHandle(t, f.h, inFlight, later, order)

	personal := []string{before.Email, before.Name, before.Phone, before.Birthday, "lin.again@example.com", "Lin Again", "+8613811112222",
		"lin.after@example.com", "Lin After"}
	leaks := func(what string, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		for _, p := range personal {
			if strings.Contains(string(b), p) {
				t.Errorf("%s holds %q: %s", what, p, b)
			}
		}
	}
	m, err := f.st.GetMember(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	leaks("the profile", m)
	if !m.ErasedAt.Equal(testNow) || m.Locale != "en-GB" || m.OrderCount != before.OrderCount+1 {
		t.Errorf("profile = %+v, want still erased, the later locale applied and the order counted", m)
	}
	for _, id := range []string{"evt-reg-again", "evt-prof-after"} {
		ev, err := f.st.GetEvent(ctx, "storefront", id)
		if err != nil {
			t.Fatal(err)
		}
		leaks("stored event "+id, string(ev.Payload))
	}
	// The journal's records of the events after the erasure hold the
	// redacted events (the first registration's was redacted by the
	// erasure itself).
	journal, err := f.st.Journal(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rec := range journal {
		found = found || rec.Cause == "evt-reg-again"
		leaks("journal record of "+rec.Cause, string(rec.Params))
	}
	if !found {
		t.Errorf("journal = %+v, want the in-flight registration's record", journal)
	}
	// The order was stored as it came and earned points.
	ord, err := f.st.GetEvent(ctx, "storefront", "evt-ord-after")
	if err != nil || string(ord.Payload) != order.Change.NewImage["payload"].String() {
		t.Errorf("order event = %s, %v; want it untouched", ord.Payload, err)
	}
	acc, err := f.st.GetAccount(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	if got, was := acc.Balances(), accBefore.Balances(); got.Pending+got.Available <= was.Pending+was.Available {
		t.Errorf("points after the order = %+v, before %+v: want more", got, was)
	}
	// No journey restarted the open enrollment's workflow (a count of
	// starts: the runner keeps one entry per workflow id, which a
	// restart would not change).
	if f.runner.starts != started {
		t.Errorf("workflow starts after the erasure: %d, before %d", f.runner.starts, started)
	}
	tl, _, err := f.st.ListTimeline(ctx, member, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	leaks("the timeline", tl)
}

// TestLateOrderAfterErasure: the ledger replays a member's journal when
// an input arrives out of order. After an erasure the journal's
// registration must still decode, or the late order fails for good and
// holds up the member's stream.
func TestLateOrderAfterErasure(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	const member = "m-1001"
	order := func(seq, day string) lambdaevents.DynamoDBEventRecord {
		return recorded(t, f.st, seq, events.OrderPaid, func(m map[string]any) {
			m["id"], m["occurred_at"] = "evt-ord-"+day, "2026-03-"+day+"T10:00:00+08:00"
			m["data"].(map[string]any)["order_id"] = "ord-" + day
		})
	}
	mustHandle(t, f.h, recorded(t, f.st, "1", events.MemberRegistered, nil), order("2", "05"))
	if _, err := f.st.EraseMember(ctx, member, testNow); err != nil {
		t.Fatal(err)
	}
	if resp := handle(t, f.h, order("3", "03")); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("the late order failed after the erasure: %+v", resp.BatchItemFailures)
	}
	journal, err := f.st.Journal(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	var causes []string
	for _, rec := range journal {
		causes = append(causes, rec.Cause)
	}
	if !slices.Contains(causes, "evt-ord-03") {
		t.Errorf("journal causes = %v, want the late order applied", causes)
	}
	entries, err := f.st.ListEntries(ctx, member, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(e loyalty.Entry) bool { return e.EventID == "evt-ord-03" }) {
		t.Errorf("ledger entries = %+v, want the late order's", entries)
	}
}

// TestErasedEventWithShortNameKeepsItsIds: an erased member's later
// events are redacted field by field. A name that hides inside the
// event's own id or type ("Tom" in "customer", "Ted" in "updated") must
// not rewrite them: the event would no longer decode, or the ledger
// would apply it under another id.
func TestErasedEventWithShortNameKeepsItsIds(t *testing.T) {
	for _, name := range []string{"Ted", "Tom"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture()
			ctx := context.Background()
			const member = "m-1001"
			mustHandle(t, f.h, recorded(t, f.st, "1", events.MemberRegistered, nil))
			if _, err := f.st.EraseMember(ctx, member, testNow); err != nil {
				t.Fatal(err)
			}
			const id = "shopify.customer.1001.updated.1772713965"
			upd := recorded(t, f.st, "2", events.MemberProfileUpdated, func(m map[string]any) {
				m["id"] = id
				m["data"].(map[string]any)["name"] = name
			})
			if resp := handle(t, f.h, upd); len(resp.BatchItemFailures) != 0 {
				t.Fatalf("the profile update of an erased member named %s failed: %+v", name, resp.BatchItemFailures)
			}
			ev, err := f.st.GetEvent(ctx, "storefront", id)
			if err != nil {
				t.Fatal(err)
			}
			env, _, err := store.DecodeRecorded(ev.Payload)
			if err != nil || env.ID != id || env.Type != events.MemberProfileUpdated || strings.Contains(string(ev.Payload), `"`+name+`"`) {
				t.Errorf("stored event = %s, %v; want its id and type kept and the name gone", ev.Payload, err)
			}
			journal, err := f.st.Journal(ctx, member)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(journal, func(r loyalty.Recorded) bool { return r.Cause == id }) {
				t.Errorf("journal = %+v, want the update under its own id %s", journal, id)
			}
		})
	}
}

// markAfterProjection is the store as an erasure that runs while dispatch
// works sees it: the member is marked erased (the erasure's first write)
// just after dispatch's projection saved the profile.
type markAfterProjection struct {
	*memstore.Store
	at time.Time
}

func (s markAfterProjection) SaveMember(ctx context.Context, m loyalty.Member, eventID string) error {
	if err := s.Store.SaveMember(ctx, m, eventID); err != nil {
		return err
	}
	return s.Store.MarkErased(ctx, m.ID, s.at)
}

// TestErasureMarkedWhileDispatching: the mark set after dispatch projected
// an event, but before its ledger write and journey entry, is seen: the
// journal gets the event redacted and no journey is entered (the erasure
// would not end it: it read the enrollments after setting the mark).
func TestErasureMarkedWhileDispatching(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	const member = "m-1001"
	f.h.Store = markAfterProjection{Store: f.st, at: testNow}
	reg := recorded(t, f.st, "1", events.MemberRegistered, nil)
	mustHandle(t, f.h, reg)
	if f.runner.starts != 0 {
		t.Errorf("workflows started for a member marked erased: %d", f.runner.starts)
	}
	enrs, err := f.st.ListEnrollments(ctx, member)
	if err != nil || len(enrs) != 0 {
		t.Errorf("enrollments = %+v, %v; want none", enrs, err)
	}
	journal, err := f.st.Journal(ctx, member)
	if err != nil || len(journal) != 1 {
		t.Fatalf("journal = %+v, %v", journal, err)
	}
	for _, pii := range []string{"lin.wei@example.com", "Lin Wei", "+8613800000000", "1990-06-15"} {
		if strings.Contains(string(journal[0].Params), pii) {
			t.Errorf("journal record holds %q: %s", pii, journal[0].Params)
		}
		ev, err := f.st.GetEvent(ctx, "storefront", "evt-reg-1001")
		if err != nil || strings.Contains(string(ev.Payload), pii) {
			t.Errorf("stored event = %s, %v; want %q gone", ev.Payload, err, pii)
		}
	}
}
