package opcount_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/memberflow/memberflow/internal/opcount"
	"github.com/memberflow/memberflow/internal/store/dynamo"
)

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
