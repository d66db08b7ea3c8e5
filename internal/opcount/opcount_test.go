package opcount_test

import (
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/memberflow/memberflow/internal/opcount"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
)

func TestMain(m *testing.M) { ddblocal.Main(m) }

func TestCountsDynamoDBOperations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"TableNames":[]}`))
	}))
	defer srv.Close()
	client, err := dynamo.NewClient(t.Context(), srv.URL, "", func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, opcount.AWS("test-ddb"))
	})
	if err != nil {
		t.Fatal(err)
	}
	before := opcount.Snapshot()["test-ddb.ListTables"]
	for range 3 {
		if _, err := client.ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := opcount.Snapshot()["test-ddb.ListTables"] - before; got != 3 {
		t.Errorf("counted %d ListTables, want 3", got)
	}
}

func TestCountsTemporalRoundTrips(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go func() { _ = gs.Serve(l) }()
	defer gs.Stop()
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), opcount.Temporal())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	before := opcount.Snapshot()["temporal.Check"]
	for range 2 {
		if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := opcount.Snapshot()["temporal.Check"] - before; got != 2 {
		t.Errorf("counted %d Check calls, want 2", got)
	}
}

// TestCountsDynamoDBCapacity asks DynamoDB Local what calls consume: a
// small item written is one write unit, read strongly consistently one
// read unit, eventually consistently half of one.
func TestCountsDynamoDBCapacity(t *testing.T) {
	ep := ddblocal.Endpoint(t)
	client, err := dynamo.NewClient(t.Context(), ep, "us-east-1", func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, opcount.DynamoDBCapacity("cap-test"))
	})
	if err != nil {
		t.Fatal(err)
	}
	table := "capacity-" + rand.Text()[:8]
	if err := dynamo.EnsureTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	before := opcount.CapacitySnapshot()
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "X#1"}, "SK": &types.AttributeValueMemberS{Value: "A"}}
	item := map[string]types.AttributeValue{"PK": key["PK"], "SK": key["SK"], "v": &types.AttributeValueMemberS{Value: "small"}}
	if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		t.Fatal(err)
	}
	consistent := true
	if _, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: &consistent}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: &table, Key: key}); err != nil {
		t.Fatal(err)
	}
	after := opcount.CapacitySnapshot()
	if r, w := after["cap-test.GetItem.read"]-before["cap-test.GetItem.read"], after["cap-test.PutItem.write"]-before["cap-test.PutItem.write"]; r != 1.5 || w != 1 {
		t.Errorf("consumed %.2f read and %.2f write units, want 1.5 and 1", r, w)
	}
}
