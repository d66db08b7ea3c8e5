package dynamo_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
)

// TestBackfillCalendarIndex writes a profile and an account through the
// store, strips their GSI2 attributes as if they predated the index, and
// checks the backfill puts them back where the calendar scans look, leaves
// a member without orders out, and changes nothing when run again.
func TestBackfillCalendarIndex(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()

	// 00:30 at UTC+2 is the day before in UTC, the day the index counts.
	lastOrder := time.Date(2026, 5, 1, 0, 30, 0, 0, time.FixedZone("UTC+2", 2*3600))
	if err := s.SaveMember(ctx, loyalty.Member{ID: "m-order", LastOrderAt: lastOrder, Version: 1}, "evt_1"); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	if err := s.SaveMember(ctx, loyalty.Member{ID: "m-none", Birthday: "1990-12-10", Version: 1}, "evt_2"); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	reviewAt := time.Date(2027, 5, 1, 23, 30, 0, 0, time.FixedZone("UTC-1", -3600))
	if err := s.CommitLedger(ctx, store.LedgerChange{
		Account: loyalty.Account{MemberID: "m-gold", Version: 1, Tier: "gold", ReviewAt: reviewAt},
	}); err != nil {
		t.Fatalf("CommitLedger: %v", err)
	}
	removeGSI2(t, client, table, "M#m-order", "PROFILE")
	removeGSI2(t, client, table, "M#m-gold", "ACCOUNT")
	if got := lastOrderMembers(t, s, "2026-04-30"); len(got) != 0 {
		t.Fatalf("before the backfill the last-order scan finds %v, want none", got)
	}

	var pages []dynamo.BackfillProgress
	got, err := s.BackfillCalendarIndex(ctx, func(p dynamo.BackfillProgress) { pages = append(pages, p) })
	if err != nil {
		t.Fatalf("BackfillCalendarIndex: %v", err)
	}
	if got.Updated != 2 || got.Skipped != 0 || got.Scanned < 3 {
		t.Errorf("progress = %+v, want 2 updated, 0 skipped, at least 3 scanned", got)
	}
	if len(pages) == 0 || pages[len(pages)-1] != got {
		t.Errorf("progress reports %+v, want the last to be the result %+v", pages, got)
	}

	wantStrings(t, rawItem(t, client, table, "M#m-order", "PROFILE"), map[string]string{"GSI2PK": "LASTORDER#2026-04-30", "GSI2SK": "M#m-order"})
	wantStrings(t, rawItem(t, client, table, "M#m-gold", "ACCOUNT"), map[string]string{"GSI2PK": "REVIEW#2027-05-02", "GSI2SK": "M#m-gold"})
	wantAbsent(t, rawItem(t, client, table, "M#m-none", "PROFILE"), "GSI2PK", "GSI2SK")
	if got := lastOrderMembers(t, s, "2026-04-30"); len(got) != 1 || got[0] != "m-order" {
		t.Errorf("last-order scan of 2026-04-30 = %v, want [m-order]", got)
	}
	accounts, err := s.AccountsByReviewDay(ctx, "2027-05-02", "", 10)
	if err != nil {
		t.Fatalf("AccountsByReviewDay: %v", err)
	}
	if len(accounts) != 1 || accounts[0].MemberID != "m-gold" || !accounts[0].ReviewAt.Equal(reviewAt) {
		t.Errorf("review scan of 2027-05-02 = %+v, want m-gold's account", accounts)
	}

	again, err := s.BackfillCalendarIndex(ctx, nil)
	if err != nil {
		t.Fatalf("second BackfillCalendarIndex: %v", err)
	}
	if again.Updated != 0 || again.Skipped != 0 {
		t.Errorf("second run = %+v, want nothing updated or skipped", again)
	}
}

// removeGSI2 strips an item's GSI2 attributes, as on an item written
// before the index existed.
func removeGSI2(t *testing.T, client *dynamodb.Client, table, pk, sk string) {
	t.Helper()
	key, err := attributevalue.MarshalMap(map[string]string{"PK": pk, "SK": sk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName:        aws.String(table),
		Key:              key,
		UpdateExpression: aws.String("REMOVE GSI2PK, GSI2SK"),
	}); err != nil {
		t.Fatalf("remove GSI2 of %s %s: %v", pk, sk, err)
	}
	wantAbsent(t, rawItem(t, client, table, pk, sk), "GSI2PK", "GSI2SK")
}

// lastOrderMembers is the ids the win-back scan finds on day.
func lastOrderMembers(t *testing.T, s *dynamo.Store, day string) []string {
	t.Helper()
	ms, err := s.MembersByLastOrderDay(t.Context(), day, "", 10)
	if err != nil {
		t.Fatalf("MembersByLastOrderDay %s: %v", day, err)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// TestBackfillCalendarIndexOnce scans the table the first time only: a
// second start finds the migration recorded and reads nothing, even with
// an item lacking GSI2 written since (which its next write fixes).
func TestBackfillCalendarIndexOnce(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	if err := s.SaveMember(ctx, loyalty.Member{ID: "m-order", LastOrderAt: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), Version: 1}, "evt_1"); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	removeGSI2(t, client, table, "M#m-order", "PROFILE")
	first, already, err := s.BackfillCalendarIndexOnce(ctx, nil)
	if err != nil || already || first.Updated != 1 || first.Scanned == 0 {
		t.Fatalf("first run = %+v, already %v, %v; want one update, not already done", first, already, err)
	}
	removeGSI2(t, client, table, "M#m-order", "PROFILE")
	second, already, err := s.BackfillCalendarIndexOnce(ctx, nil)
	if err != nil || !already || second.Scanned != 0 || second.Updated != 0 {
		t.Fatalf("second run = %+v, already %v, %v; want skipped without a scan", second, already, err)
	}
	// The explicit backfill (the worker's flag) still scans.
	if forced, err := s.BackfillCalendarIndex(ctx, nil); err != nil || forced.Updated != 1 {
		t.Fatalf("explicit run = %+v, %v; want one update", forced, err)
	}
}

// TestBackfillMemberIndex gives profiles written before GSI3 existed their
// place in the member index, whether or not they lack GSI2 too, leaves
// accounts out of it, and changes nothing when run again.
func TestBackfillMemberIndex(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()

	lastOrder := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, m := range []loyalty.Member{
		{ID: "m-order", LastOrderAt: lastOrder, Version: 1},
		{ID: "m-none", Birthday: "1990-12-10", Version: 1},
		{ID: "m-both", LastOrderAt: lastOrder, Version: 1},
	} {
		if err := s.SaveMember(ctx, m, "evt_1"); err != nil {
			t.Fatalf("SaveMember %s: %v", m.ID, err)
		}
	}
	if err := s.CommitLedger(ctx, store.LedgerChange{Account: loyalty.Account{MemberID: "m-order", Version: 1}}); err != nil {
		t.Fatalf("CommitLedger: %v", err)
	}
	for _, id := range []string{"m-order", "m-none", "m-both"} {
		removeAttributes(t, client, table, "M#"+id, "PROFILE", "GSI3PK", "GSI3SK")
	}
	removeGSI2(t, client, table, "M#m-both", "PROFILE")
	if got := memberIndex(t, s); len(got) != 0 {
		t.Fatalf("before the backfill the member index holds %v, want none", got)
	}

	got, err := s.BackfillCalendarIndex(ctx, nil)
	if err != nil {
		t.Fatalf("BackfillCalendarIndex: %v", err)
	}
	if got.Updated != 3 || got.Skipped != 0 {
		t.Errorf("progress = %+v, want 3 updated, 0 skipped", got)
	}
	for _, id := range []string{"m-order", "m-none", "m-both"} {
		wantStrings(t, rawItem(t, client, table, "M#"+id, "PROFILE"), map[string]string{
			"GSI3PK": fmt.Sprintf("MEMBERS#%02d", store.MemberShard(id)), "GSI3SK": "M#" + id})
	}
	wantStrings(t, rawItem(t, client, table, "M#m-both", "PROFILE"), map[string]string{"GSI2PK": "LASTORDER#2026-05-01"})
	wantAbsent(t, rawItem(t, client, table, "M#m-none", "PROFILE"), "GSI2PK")
	wantAbsent(t, rawItem(t, client, table, "M#m-order", "ACCOUNT"), "GSI3PK")
	if got := memberIndex(t, s); !slices.Equal(got, []string{"m-both", "m-none", "m-order"}) {
		t.Errorf("member index after the backfill = %v, want the three profiles", got)
	}

	again, err := s.BackfillCalendarIndex(ctx, nil)
	if err != nil || again.Updated != 0 || again.Skipped != 0 {
		t.Errorf("second run = %+v, %v; want nothing updated or skipped", again, err)
	}
}

// TestBackfillOnceAfterLayoutChange runs the backfill again on a table
// that completed it for the layout before GSI3.
func TestBackfillOnceAfterLayoutChange(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	if err := s.SaveMember(ctx, loyalty.Member{ID: "m1", Version: 1}, "evt_1"); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	removeAttributes(t, client, table, "M#m1", "PROFILE", "GSI3PK", "GSI3SK")
	item, err := attributevalue.MarshalMap(map[string]string{"PK": "META#MIGRATIONS", "SK": "MIGRATION#calendar-index#v1",
		"entity": "migration", "name": "calendar-index#v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("put the marker of v1: %v", err)
	}
	p, already, err := s.BackfillCalendarIndexOnce(ctx, nil)
	if err != nil || already || p.Updated != 1 {
		t.Fatalf("run after v1 = %+v, already %v, %v; want one update, not already done", p, already, err)
	}
	if _, already, err := s.BackfillCalendarIndexOnce(ctx, nil); err != nil || !already {
		t.Fatalf("second run: already %v, %v; want already done", already, err)
	}
}

// removeAttributes strips attributes from an item, as on an item written
// before they existed.
func removeAttributes(t *testing.T, client *dynamodb.Client, table, pk, sk string, names ...string) {
	t.Helper()
	key, err := attributevalue.MarshalMap(map[string]string{"PK": pk, "SK": sk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName:        aws.String(table),
		Key:              key,
		UpdateExpression: aws.String("REMOVE " + strings.Join(names, ", ")),
	}); err != nil {
		t.Fatalf("remove %v of %s %s: %v", names, pk, sk, err)
	}
	wantAbsent(t, rawItem(t, client, table, pk, sk), names...)
}

// memberIndex is the ids of every member in the member index, by id.
func memberIndex(t *testing.T, s *dynamo.Store) []string {
	t.Helper()
	var ids []string
	for shard := range store.MemberShards {
		ms, err := s.MembersPage(t.Context(), shard, "", 100)
		if err != nil {
			t.Fatalf("MembersPage(%d): %v", shard, err)
		}
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestBackfillMemberEvents files events recorded before the member's event
// index (GSI3, MEVENTS#<member>) in it, as PutEvents files them now, so
// the export and erasure of the member find them; a table that completed
// the backfill for the layout before runs it again, events without a
// member stay out, and a second run changes nothing.
func TestBackfillMemberEvents(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()

	if err := s.SaveMember(ctx, loyalty.Member{ID: "m1", Email: "ada@example.com", Version: 1}, "evt_0"); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	evs := []store.RecordedEvent{
		{Source: "shopify", ID: "old-1", Type: "orders/create", MemberID: "m1", OccurredAt: at, ReceivedAt: at,
			Payload: []byte(`{"email":"ada@example.com","total":"10.00"}`), Digest: "d1"},
		{Source: "shopify", ID: "old-2", Type: "customers/update", MemberID: "m1", OccurredAt: at, ReceivedAt: at,
			Payload: []byte(`{"email":"ada@example.com"}`), Digest: "d2"},
		{Source: "shopify", ID: "no-member", Type: "shop/update", OccurredAt: at, ReceivedAt: at,
			Payload: []byte(`{"shop":"x"}`), Digest: "d3"},
		{Source: "shopify", ID: "new-1", Type: "orders/create", MemberID: "m1", OccurredAt: at, ReceivedAt: at,
			Payload: []byte(`{"total":"5.00"}`), Digest: "d4"},
	}
	if _, err := s.PutEvents(ctx, evs); err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	// old-1 and old-2 as recorded before the index: no GSI3 attributes.
	for _, id := range []string{"old-1", "old-2"} {
		removeAttributes(t, client, table, "EVENT#shopify#"+id, "EVENT", "GSI3PK", "GSI3SK")
	}
	wantAbsent(t, rawItem(t, client, table, "EVENT#shopify#no-member", "EVENT"), "GSI3PK", "GSI3SK")
	if got := memberEventIDs(t, s, "m1"); !slices.Equal(got, []string{"new-1"}) {
		t.Fatalf("before the backfill the member's events are %v, want [new-1]", got)
	}

	// The marker of the layout before events were indexed.
	item, err := attributevalue.MarshalMap(map[string]string{"PK": "META#MIGRATIONS", "SK": "MIGRATION#calendar-index#v2",
		"entity": "migration", "name": "calendar-index#v2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("put the marker of v2: %v", err)
	}
	var pages []dynamo.BackfillProgress
	got, already, err := s.BackfillCalendarIndexOnce(ctx, func(p dynamo.BackfillProgress) { pages = append(pages, p) })
	if err != nil || already {
		t.Fatalf("run after v2 = %+v, already %v, %v; want a run", got, already, err)
	}
	if got.Updated != 2 || got.Skipped != 0 || got.Scanned < len(evs)+1 {
		t.Errorf("progress = %+v, want 2 updated, 0 skipped, at least %d scanned", got, len(evs)+1)
	}
	if len(pages) == 0 || pages[len(pages)-1] != got {
		t.Errorf("progress reports %+v, want the last to be the result %+v", pages, got)
	}
	for _, id := range []string{"old-1", "old-2"} {
		wantStrings(t, rawItem(t, client, table, "EVENT#shopify#"+id, "EVENT"),
			map[string]string{"GSI3PK": "MEVENTS#m1", "GSI3SK": "EVENT#shopify#" + id})
	}
	wantAbsent(t, rawItem(t, client, table, "EVENT#shopify#no-member", "EVENT"), "GSI3PK", "GSI3SK")
	if got := memberEventIDs(t, s, "m1"); !slices.Equal(got, []string{"new-1", "old-1", "old-2"}) {
		t.Errorf("member's events after the backfill = %v, want [new-1 old-1 old-2]", got)
	}

	again, err := s.BackfillCalendarIndex(ctx, nil)
	if err != nil || again.Updated != 0 || again.Skipped != 0 {
		t.Errorf("second run = %+v, %v; want nothing updated or skipped", again, err)
	}
	if _, already, err := s.BackfillCalendarIndexOnce(ctx, nil); err != nil || !already {
		t.Errorf("run after v3: already %v, %v; want already done", already, err)
	}

	// The erasure finds the backfilled events and redacts the address.
	erased, err := s.EraseMember(ctx, "m1", at.Add(time.Hour))
	if err != nil {
		t.Fatalf("EraseMember: %v", err)
	}
	if erased.Events != 2 {
		t.Errorf("erasure redacted %d events, want the 2 holding the address (%+v)", erased.Events, erased)
	}
	for _, id := range []string{"old-1", "old-2"} {
		payload := rawItem(t, client, table, "EVENT#shopify#"+id, "EVENT")["payload"]
		var text string
		if err := attributevalue.Unmarshal(payload, &text); err != nil {
			t.Fatalf("payload of %s: %v", id, err)
		}
		if strings.Contains(text, "ada@example.com") {
			t.Errorf("payload of %s after the erasure = %s, still holds the address", id, text)
		}
	}
}

// memberEventIDs is the ids of the member's events as export and erasure
// list them.
func memberEventIDs(t *testing.T, s *dynamo.Store, memberID string) []string {
	t.Helper()
	evs, err := s.MemberEvents(t.Context(), memberID)
	if err != nil {
		t.Fatalf("MemberEvents %s: %v", memberID, err)
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}
