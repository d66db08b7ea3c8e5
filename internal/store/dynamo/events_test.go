package dynamo_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/store/storetest"
	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
)

// TestEventsBeforeDigests writes an event item as PutEvents did before
// events had digests, and runs the contract for such events against it.
func TestEventsBeforeDigests(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	storetest.RunEventsBeforeDigests(t, s, func(t *testing.T, ev store.RecordedEvent) {
		t.Helper()
		// The attributes of the item as the earlier PutEvents wrote it:
		// the same as now, without "digest".
		item, err := attributevalue.MarshalMap(map[string]string{
			"PK": "EVENT#" + ev.Source + "#" + ev.ID, "SK": "EVENT", "entity": "event",
			"source": ev.Source, "event_id": ev.ID, "type": ev.Type, "member_id": ev.MemberID,
			"occurred_at": ev.OccurredAt.Format(time.RFC3339Nano), "received_at": ev.ReceivedAt.Format(time.RFC3339Nano),
			"payload": string(ev.Payload),
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatalf("PutItem: %v", err)
		}
	})
}
