package dynamo_test

import (
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
