// Package ddblocal gives tests a DynamoDB endpoint: DynamoDB Local started
// once per test binary (through internal/dynamolocal, which the local stack
// uses too), or the endpoint in DDB_ENDPOINT when one is already running.
//
// It reads its settings from the environment itself, unlike production
// code, because a test binary has no main to read them once:
//
//	DDB_ENDPOINT              use this endpoint, start nothing
//	DYNAMODB_LOCAL_DIR        directory of DynamoDBLocal.jar (default: the one `make` installs)
//	MEMBERFLOW_REQUIRE_LOCAL  "1" turns "not installed" from a skip into a failure (CI)
package ddblocal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/memberflow/memberflow/internal/dynamolocal"
	"github.com/memberflow/memberflow/internal/store/dynamo"
)

// startTimeout bounds start-up. An idle machine answers in 3-8s, but a
// loaded 2-CPU CI box was measured at up to 24s, so 30s would flake.
const startTimeout = 60 * time.Second

// The one instance of this test binary, started on first use.
var (
	once     sync.Once
	server   *dynamolocal.Server
	logPath  string
	endpoint string
	missing  string // why DynamoDB Local cannot run here: a skip, not a failure
	startErr error
)

// Endpoint returns the DynamoDB endpoint for this test binary, starting
// DynamoDB Local on first use. When Java or the jar is missing it skips the
// test, or fails it when MEMBERFLOW_REQUIRE_LOCAL=1 so CI cannot pass by
// skipping.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	if ep := os.Getenv("DDB_ENDPOINT"); ep != "" {
		return ep
	}
	once.Do(start)
	if missing != "" {
		if os.Getenv("MEMBERFLOW_REQUIRE_LOCAL") == "1" {
			tb.Fatal(missing)
		}
		tb.Skip(missing)
	}
	if startErr != nil {
		tb.Fatal(startErr)
	}
	return endpoint
}

// Main is the body of a TestMain: it runs the tests, stops the DynamoDB
// Local they started (its whole process group) and exits with their code.
func Main(m *testing.M) {
	code := m.Run()
	if server != nil {
		server.Stop()
	}
	if logPath != "" {
		os.Remove(logPath)
	}
	os.Exit(code)
}

// NewTable returns a client for Endpoint and a new table, uniquely named so
// packages and runs sharing one endpoint never see each other's items. The
// table is deleted when the test ends, which matters for a long-lived
// DDB_ENDPOINT.
func NewTable(tb testing.TB) (*dynamodb.Client, string) {
	tb.Helper()
	ep := Endpoint(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := dynamo.NewClient(ctx, ep, "")
	if err != nil {
		tb.Fatalf("DynamoDB client for %s: %v", ep, err)
	}
	name := "memberflow-test-" + rand.Text()[:12]
	if err := dynamo.EnsureTable(ctx, client, name); err != nil {
		tb.Fatalf("create test table: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			tb.Logf("delete test table %s: %v", name, err)
		}
	})
	return client, name
}

// start runs once per binary and records the outcome for every caller.
func start() {
	jarDir, err := findJarDir()
	if err != nil {
		missing = err.Error()
		return
	}
	if _, err := exec.LookPath("java"); err != nil {
		missing = "Java 17, which DynamoDB Local needs, is not on PATH; run `make test`, which installs it"
		return
	}
	log, err := os.CreateTemp("", "dynamodb-local-*.log")
	if err != nil {
		startErr = fmt.Errorf("DynamoDB Local log file: %w", err)
		return
	}
	log.Close()
	logPath = log.Name()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	server, err = dynamolocal.Start(ctx, dynamolocal.Options{JarDir: jarDir, Log: logPath, QuickStart: true})
	if err == nil {
		err = answers(ctx, server.Endpoint)
	}
	if err != nil {
		startErr = fmt.Errorf("start DynamoDB Local from %s: %w\n--- java log tail ---\n%s", jarDir, err, logTail(logPath))
		server.Stop()
		server = nil
		return
	}
	endpoint = server.Endpoint
}

// answers checks the endpoint serves the DynamoDB API, not just HTTP.
func answers(ctx context.Context, ep string) error {
	client, err := dynamo.NewClient(ctx, ep, "")
	if err != nil {
		return err
	}
	if _, err := client.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		return fmt.Errorf("list tables on %s: %w", ep, err)
	}
	return nil
}

// findJarDir looks in DYNAMODB_LOCAL_DIR, else where `make` installs the jar
// under the module root.
func findJarDir() (string, error) {
	if dir := os.Getenv("DYNAMODB_LOCAL_DIR"); dir != "" {
		if _, err := dynamolocal.FindJarDir("", dir); err != nil {
			return "", notFound(dir)
		}
		return dir, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := dynamolocal.FindJarDir(root, "")
	if err != nil {
		return "", notFound(filepath.Join(root, dynamolocal.ToolsGlob))
	}
	return dir, nil
}

func notFound(where string) error {
	return fmt.Errorf("DynamoDB Local not found at %s; run `make test`, which installs it", where)
}

// moduleRoot walks up from the working directory (a package directory under
// `go test`) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// logTail returns the end of the java log, where the reason for a failed
// start usually is.
func logTail(path string) string {
	const max = 4 << 10
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > max {
		b = b[len(b)-max:]
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return s
	}
	return "(empty)"
}
