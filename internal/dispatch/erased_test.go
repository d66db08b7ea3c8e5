package dispatch_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/memberflow/memberflow/events"
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
func TestErasedMemberStaysErased(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	const member = "m-1001"
	mustHandle(t, f.h, recorded(t, f.st, "1", events.MemberRegistered, nil))
	started := len(f.runner.started)
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
	// No journey entered them again.
	if len(f.runner.started) != started {
		t.Errorf("workflows started after the erasure: %d, before %d", len(f.runner.started), started)
	}
	tl, _, err := f.st.ListTimeline(ctx, member, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	leaks("the timeline", tl)
}
