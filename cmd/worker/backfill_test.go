package main

import (
	"io"
	"log/slog"
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

func TestMain(m *testing.M) { ddblocal.Main(m) }

// TestBackfillFlag runs the worker with -backfill-calendar-index against
// DynamoDB Local: it backfills the configured table (a profile without
// GSI2, an event without its member's GSI3), prints its progress and
// returns without dialling Temporal, whose address here answers no one.
func TestBackfillFlag(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	ctx := t.Context()
	m := loyalty.Member{ID: "m1", LastOrderAt: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), Version: 1}
	st := dynamo.New(client, table)
	if err := st.SaveMember(ctx, m, "evt_1"); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	ev := store.RecordedEvent{Source: "shopify", ID: "evt_1", Type: "orders/create", MemberID: "m1",
		OccurredAt: m.LastOrderAt, ReceivedAt: m.LastOrderAt, Payload: []byte(`{}`), Digest: "d1"}
	if _, err := st.PutEvents(ctx, []store.RecordedEvent{ev}); err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	for _, strip := range []struct{ pk, sk, update string }{
		{"M#m1", "PROFILE", "REMOVE GSI2PK, GSI2SK"},
		{"EVENT#shopify#evt_1", "EVENT", "REMOVE GSI3PK, GSI3SK"},
	} {
		key, err := attributevalue.MarshalMap(map[string]string{"PK": strip.pk, "SK": strip.sk})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(table), Key: key, UpdateExpression: aws.String(strip.update),
		}); err != nil {
			t.Fatalf("%s of %s: %v", strip.update, strip.pk, err)
		}
	}

	env := map[string]string{
		"TABLE_NAME": table, "DYNAMODB_ENDPOINT": ddblocal.Endpoint(t), "TEMPORAL_ADDRESS": "127.0.0.1:1",
		"SENDGRID_API_KEY": "k", "MEMBERFLOW_FROM_EMAIL": "hello@example.com", "MEMBERFLOW_SHOP_URL": "https://shop.example.com",
		"MEMBERFLOW_CODE_SECRET": "0123456789abcdef", "MEMBERFLOW_ENV": "staging", "MEMBERFLOW_PUBLIC_URL": "https://api.example.com",
	}
	var out strings.Builder
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(ctx, Flags{BackfillCalendarIndex: true}, func(k string) string { return env[k] }, &out, log); err != nil {
		t.Fatalf("run -backfill-calendar-index: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// The scan reads the applied marker too; how many items that makes is
	// the store's business, the counts of work are the point here.
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "backfill: scanned ") || !strings.HasSuffix(last, " updated 2 skipped 0") {
		t.Errorf("last progress line = %q, want \"backfill: scanned N updated 2 skipped 0\" (output %q)", last, out.String())
	}
	if evs, err := st.MemberEvents(ctx, "m1"); err != nil || len(evs) != 1 || evs[0].ID != "evt_1" {
		t.Errorf("member's events after the backfill = %+v, %v; want evt_1", evs, err)
	}
}
