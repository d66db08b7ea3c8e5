package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/workflows"
)

func TestReplayFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    replayOptions
		wantErr string
	}{
		{name: "defaults", want: replayOptions{Since: 24 * time.Hour, Limit: 1000}},
		{name: "both", args: []string{"--since", "90m", "--limit", "50"}, want: replayOptions{Since: 90 * time.Minute, Limit: 50}},
		{name: "single dash", args: []string{"-since=2h"}, want: replayOptions{Since: 2 * time.Hour, Limit: 1000}},
		{name: "since not a duration", args: []string{"--since", "yesterday"}, wantErr: "-since"},
		{name: "since without unit", args: []string{"--since", "24"}, wantErr: "-since"},
		{name: "since negative", args: []string{"--since", "-1h"}, wantErr: "--since"},
		{name: "limit zero", args: []string{"--limit", "0"}, wantErr: "--limit"},
		{name: "limit not a number", args: []string{"--limit", "many"}, wantErr: "-limit"},
		{name: "stray argument", args: []string{"24h"}, wantErr: "flags only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseReplayFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to name %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("options = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestReplayUnreachable: a deploy whose TEMPORAL_ADDRESS answers no one
// fails, saying which variable to fix.
func TestReplayUnreachable(t *testing.T) {
	var out, errOut strings.Builder
	err := replayCmd(t.Context(), nil, env(map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1"}), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "TEMPORAL_ADDRESS") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v, want it to name TEMPORAL_ADDRESS and the address", err)
	}
	t.Log(err)
}

// TestReplayDevServer runs the real workflows on a dev server and replays
// their histories: all replay with this build; a changed LedgerSweep (a
// timer where it ran an activity) fails naming each sweep; a workflow
// type this build does not register fails as such; --limit is said.
func TestReplayDevServer(t *testing.T) {
	srv := startDevServer(t)
	c := srv.Client()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	st := memstore.New()
	svc := ledgerfix.Service(t, st)
	const queue = "replay-test"
	w := worker.New(c, queue, worker.Options{})
	workflows.Register(w, &activities.Activities{Store: st, Ledger: svc, Log: slog.New(slog.DiscardHandler)})
	// A journey an older build ran: its histories outlive its code.
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) error { return workflow.Sleep(ctx, time.Millisecond) },
		workflow.RegisterOptions{Name: "RetiredJourney"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	sweeps := []string{"replay-sweep-1", "replay-sweep-2", "replay-sweep-3"}
	for _, id := range sweeps {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, workflows.LedgerSweep, workflows.LedgerSweepInput{CatchUpDays: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			t.Fatalf("sweep %s: %v", id, err)
		}
	}
	// A deferred send still waiting for its slot: a running workflow's
	// history replays up to where it is.
	deferred, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "send/replay-test", TaskQueue: queue}, activities.DeferredSendWorkflow,
		activities.DeferredSendInput{Request: activities.SendEmailRequest{MemberID: "m1"}, Until: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.TerminateWorkflow(context.Background(), deferred.GetID(), "", "test over")
	waitTimerStarted(ctx, t, c, deferred.GetID())
	// A sweep no worker has picked up yet (as during a deploy): nothing
	// to replay, and no failure.
	queued, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "replay-sweep-queued", TaskQueue: "nobody-polls"}, workflows.LedgerSweep, workflows.LedgerSweepInput{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.TerminateWorkflow(context.Background(), queued.GetID(), "", "test over")
	waitListed(ctx, t, c, 5)

	t.Run("this build replays everything", func(t *testing.T) {
		var out, errOut strings.Builder
		err := replayCmd(ctx, []string{"--since", "1h"}, env(map[string]string{"TEMPORAL_ADDRESS": srv.FrontendHostPort()}), &out, &errOut)
		t.Log(out.String())
		if err != nil {
			t.Fatalf("replay: %v (stderr %q)", err, errOut.String())
		}
		for _, want := range []string{
			"namespace default at " + srv.FrontendHostPort(),
			"LedgerSweep 3 replayed 0 failed 1 not yet run by a worker, nothing to replay\n",
			"DeferredSend 1 replayed 0 failed\n",
			"Activation 0 replayed 0 failed\n",
			"replay: 4 histories of 2 types since ",
		} {
			if !strings.Contains(squash(out.String()), want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if !strings.HasSuffix(out.String(), ", 0 failed; 1 executions not yet run by a worker\n") {
			t.Errorf("summary does not end with 0 failed and the execution not yet run")
		}
	})

	t.Run("running executions whatever their age", func(t *testing.T) {
		// Only the deferred send is still running (waiting on its timer);
		// the sweeps closed more than a second ago drop out of the window.
		// (The dev server's SQL visibility also matches a running
		// execution on CloseTime; Temporal Cloud's does not, which is why
		// the query names running executions explicitly.)
		time.Sleep(3 * time.Second)
		var out, errOut strings.Builder
		err := replayCmd(ctx, []string{"--since", "1s"}, env(map[string]string{"TEMPORAL_ADDRESS": srv.FrontendHostPort()}), &out, &errOut)
		if err != nil {
			t.Fatalf("replay: %v (stderr %q)", err, errOut.String())
		}
		if !strings.Contains(squash(out.String()), "DeferredSend 1 replayed 0 failed\n") {
			t.Errorf("the running deferred send was not replayed:\n%s", out.String())
		}
		if strings.Contains(squash(out.String()), "LedgerSweep 3 replayed") {
			t.Errorf("sweeps closed before the window were replayed:\n%s", out.String())
		}
	})

	t.Run("a changed workflow fails naming each execution", func(t *testing.T) {
		types := workflows.Types()
		for i := range types {
			if types[i].Name == "LedgerSweep" {
				// Waits before sweeping: the histories hold an activity
				// where this code now starts a timer.
				types[i].Func = func(ctx workflow.Context, in workflows.LedgerSweepInput) (activities.SweepResult, error) {
					err := workflow.Sleep(ctx, time.Minute)
					return activities.SweepResult{}, err
				}
			}
		}
		var out strings.Builder
		rep, err := replayRecent(ctx, c, types, replayOptions{Since: time.Hour, Limit: 1000}, &out, io.Discard)
		t.Log(out.String())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Checked() != 4 || len(rep.Failures) != 3 || rep.Replayed["DeferredSend"] != 1 {
			t.Errorf("histories %d, failures %d, deferred sends replayed %d; want 4, 3, 1", rep.Checked(), len(rep.Failures), rep.Replayed["DeferredSend"])
		}
		failed := rep.Err()
		if failed == nil {
			t.Fatal("a nondeterministic LedgerSweep replayed without error")
		}
		for _, id := range sweeps {
			if !strings.Contains(failed.Error(), "LedgerSweep "+id) {
				t.Errorf("error %q does not name %s", failed, id)
			}
			if !strings.Contains(out.String(), "FAIL LedgerSweep workflow "+id+" run ") {
				t.Errorf("output names no failure of %s", id)
			}
		}
		// TMPRL1100 is the SDK's code for a nondeterministic replay.
		if !strings.Contains(out.String(), "[TMPRL1100]") {
			t.Errorf("output does not give the SDK's nondeterminism error")
		}
		if !strings.Contains(out.String(), "replay: 4 histories of 2 types since ") || !strings.HasSuffix(out.String(), ", 3 failed; 1 executions not yet run by a worker\n") {
			t.Errorf("summary wrong")
		}
	})

	t.Run("a type the build does not register fails", func(t *testing.T) {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "retired-1", TaskQueue: queue}, "RetiredJourney")
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			t.Fatal(err)
		}
		waitListed(ctx, t, c, 6)
		var out, errOut strings.Builder
		err = replayCmd(ctx, nil, env(map[string]string{"TEMPORAL_ADDRESS": srv.FrontendHostPort()}), &out, &errOut)
		t.Log(out.String())
		if err == nil || !strings.Contains(err.Error(), "1 of 5 histories") || !strings.Contains(err.Error(), "RetiredJourney retired-1") {
			t.Fatalf("err = %v, want 1 of 5 failed naming RetiredJourney retired-1", err)
		}
		for _, want := range []string{
			"RetiredJourney 0 replayed 1 failed not registered by this build",
			"FAIL RetiredJourney workflow retired-1 run " + run.GetRunID() + ": workflow type RetiredJourney is not registered by this build",
			"LedgerSweep 3 replayed 0 failed 1 not yet run by a worker, nothing to replay\n",
			"replay: 5 histories of 3 types since ",
		} {
			if !strings.Contains(squash(out.String()), want) {
				t.Errorf("output lacks %q", want)
			}
		}
	})

	t.Run("an unknown namespace is named", func(t *testing.T) {
		var out, errOut strings.Builder
		err := replayCmd(ctx, nil, env(map[string]string{"TEMPORAL_ADDRESS": srv.FrontendHostPort(), "TEMPORAL_NAMESPACE": "nope"}), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), `TEMPORAL_NAMESPACE "nope"`) {
			t.Errorf("err = %v, want it to name TEMPORAL_NAMESPACE \"nope\"", err)
		}
	})

	t.Run("the limit is said", func(t *testing.T) {
		var out strings.Builder
		rep, err := replayRecent(ctx, c, workflows.Types(), replayOptions{Since: time.Hour, Limit: 2}, &out, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		listed := rep.Checked()
		for _, n := range rep.Waiting {
			listed += n
		}
		if !rep.Limited || listed != 2 || !strings.Contains(out.String(), "stopped at --limit 2") {
			t.Errorf("limited %t, executions %d, output %q; want the limit of 2 hit and said", rep.Limited, listed, out.String())
		}
	})
}

// squash collapses the runs of spaces the report's columns are aligned
// with, so checks do not depend on the longest type name.
func squash(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// startDevServer starts Temporal's dev server (bin/temporal, or
// TEMPORAL_CLI) on a free port for the test.
func startDevServer(t *testing.T) *testsuite.DevServer {
	t.Helper()
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cli := os.Getenv("TEMPORAL_CLI")
	if cli == "" {
		cli = filepath.Join(root, "bin", "temporal")
	}
	if _, err := os.Stat(cli); err != nil {
		msg := "the replay test needs bin/temporal; run `make test`, which installs it"
		if os.Getenv("MEMBERFLOW_REQUIRE_LOCAL") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	quiet := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	srv, err := testsuite.StartDevServer(t.Context(), testsuite.DevServerOptions{
		ExistingPath:  cli,
		ClientOptions: &client.Options{Namespace: "default", Logger: quiet},
		LogLevel:      "error",
		Stdout:        io.Discard, Stderr: io.Discard,
	})
	if err != nil {
		t.Fatalf("start Temporal dev server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Logf("stop dev server: %v", err)
		}
	})
	return srv
}

// waitListed waits until visibility, which lags the executions a little,
// lists n executions.
func waitListed(ctx context.Context, t *testing.T, c client.Client, n int64) {
	t.Helper()
	for {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{})
		if err == nil && resp.GetCount() >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("visibility lists fewer than %d executions: %v, %v", n, resp, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitTimerStarted waits until the workflow id has started its timer, so
// its history has gone past its first workflow task.
func waitTimerStarted(ctx context.Context, t *testing.T, c client.Client, id string) {
	t.Helper()
	for {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err == nil && d.GetWorkflowExecutionInfo().GetHistoryLength() >= 5 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s has not started its timer: %v", id, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
