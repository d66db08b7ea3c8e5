package loadtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/localstack"
)

// logWriter sends the run's lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestExactlyOnce runs a small exactly-once scenario end to end: the real
// `memberflow run` as a child process, 20 members per delivery (80 events
// in causal order, 104 posts shuffled with duplicates from 8 clients, 104
// more with the stack killed with SIGKILL and restarted midway). Nothing may
// be lost or duplicated, every member must equal its twin, every account's
// balances must be the sum of its entries, and every member must have
// exactly one welcome email.
func TestExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack twice (about two minutes)")
	}
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cli := os.Getenv("TEMPORAL_CLI")
	if cli == "" {
		cli = filepath.Join(root, "bin", "temporal")
	}
	_, cliErr := os.Stat(cli)
	_, javaErr := exec.LookPath("java")
	if cliErr != nil || javaErr != nil {
		msg := "the exactly-once test needs bin/temporal and Java; run `make test`, which installs them"
		if os.Getenv("MEMBERFLOW_REQUIRE_LOCAL") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	bin := filepath.Join(t.TempDir(), "memberflow")
	// go test puts its own GOROOT/bin first on the PATH, so "go" is the
	// toolchain running this test.
	build := exec.Command("go", "build", "-o", bin, "./cmd/memberflow")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build memberflow: %v\n%s", err, out)
	}

	const members = 20
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	sum, err := Run(ctx, Config{
		Binary: bin, Root: root, Env: os.Environ(),
		Table: "load", WebhookSecret: "load-test-secret", AdminToken: "load-test-token",
		Members: members, Seed: 7, Out: logWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	// (a) once, (b) and (c) with 30% duplicates, (c) plus its retries.
	events := 4 * members
	if want := events + 2*(events+(3*events+5)/10); sum.Events < want {
		t.Errorf("%d posts, want at least %d", sum.Events, want)
	}
	if sum.Twins != 3*members || sum.Welcomed != sum.Twins {
		t.Errorf("%d of %d members have exactly one welcome email, want all %d", sum.Welcomed, sum.Twins, 3*members)
	}
	if sum.Lost != 0 || sum.Duplicated != 0 || sum.Mismatched != 0 {
		for _, m := range sum.Mismatches {
			t.Log("mismatch:", m)
		}
		t.Errorf("lost %d, duplicated %d, mismatched %d; want 0 each", sum.Lost, sum.Duplicated, sum.Mismatched)
	}
}
