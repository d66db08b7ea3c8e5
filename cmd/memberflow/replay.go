package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/internal/temporalconn"
	"github.com/memberflow/memberflow/workflows"
)

// replayOptions are `memberflow replay`'s flags.
type replayOptions struct {
	// Since is how far back an execution must have started or closed to
	// be replayed.
	Since time.Duration
	// Limit bounds the histories replayed, so a busy namespace cannot
	// hold up a deploy for long.
	Limit int
}

// replayDialTimeout bounds the wait for an unreachable server: the check
// runs in a deploy pipeline, which should fail soon with a clear message.
const replayDialTimeout = 15 * time.Second

// replayCmd is `memberflow replay`: it replays the recent histories of
// the namespace the worker uses (the worker's TEMPORAL_* variables; the
// local stack's dev server when TEMPORAL_ADDRESS is unset) against this
// build's workflows, and fails naming every workflow that no longer
// replays. It is the step before a new worker version takes traffic.
func replayCmd(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	opts, err := parseReplayFlags(args, errOut)
	if err != nil {
		return err
	}
	conn, err := temporalconn.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	if conn.Address == "" {
		conn.Address = net.JoinHostPort("127.0.0.1", strconv.Itoa(defaultTemporalPort))
	}
	// The SDK's own logging would repeat, less readably, the failures this
	// command reports; only its errors are worth seeing.
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelError}))
	dialCtx, cancel := context.WithTimeout(ctx, replayDialTimeout)
	c, err := temporalconn.Dial(dialCtx, conn, log)
	cancel()
	if err != nil {
		return fmt.Errorf("replay: cannot reach Temporal at %s; set TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE, TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY) as the worker has them: %w", conn.Address, err)
	}
	defer c.Close()
	fmt.Fprintf(out, "replay: namespace %s at %s against this build's %d workflow types\n", conn.Namespace, conn.Address, len(workflows.Types()))
	var progress io.Writer = io.Discard
	if isTerminal(errOut) {
		progress = errOut
	}
	rep, err := replayRecent(ctx, c, workflows.Types(), opts, out, progress)
	if nf := (*serviceerror.NamespaceNotFound)(nil); errors.As(err, &nf) {
		return fmt.Errorf("replay: TEMPORAL_NAMESPACE %q does not exist at %s: %w", conn.Namespace, conn.Address, err)
	}
	if err != nil {
		return err
	}
	return rep.Err()
}

// parseReplayFlags reads replayOptions from args, writing what is wrong,
// and the flags, to errOut.
func parseReplayFlags(args []string, errOut io.Writer) (replayOptions, error) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var o replayOptions
	fs.DurationVar(&o.Since, "since", 24*time.Hour, "replay executions started or closed within this long, like 24h or 90m")
	fs.IntVar(&o.Limit, "limit", 1000, "replay at most this many histories, newest first")
	if err := fs.Parse(args); err != nil {
		return replayOptions{}, err
	}
	switch {
	case fs.NArg() > 0:
		return replayOptions{}, fmt.Errorf("replay takes flags only, not %q", fs.Args())
	case o.Since <= 0:
		return replayOptions{}, fmt.Errorf("--since must be a positive duration like 24h or 90m, got %s", o.Since)
	case o.Limit < 1:
		return replayOptions{}, fmt.Errorf("--limit must be at least 1, got %d", o.Limit)
	}
	return o, nil
}

// replayFailure is one history that did not replay.
type replayFailure struct {
	WorkflowID, RunID, Type string
	// NotRegistered says the build has no workflow of Type at all.
	NotRegistered bool
	Err           error
}

// replayReport is what a replay found.
type replayReport struct {
	Since    time.Time
	Replayed map[string]int // by workflow type
	Failures []replayFailure
	// Waiting counts, by type, executions no worker has run a workflow
	// task of yet: their histories hold no decision to check.
	Waiting map[string]int
	// Limited says more executions matched than --limit allowed.
	Limited bool
}

// Checked is how many histories were replayed or failed.
func (r replayReport) Checked() int {
	n := len(r.Failures)
	for _, c := range r.Replayed {
		n += c
	}
	return n
}

// Err is nil when every history replayed, or names each workflow that did
// not.
func (r replayReport) Err() error {
	if len(r.Failures) == 0 {
		return nil
	}
	const named = 10
	var ids []string
	for i, f := range r.Failures {
		if i == named {
			ids = append(ids, fmt.Sprintf("and %d more", len(r.Failures)-named))
			break
		}
		ids = append(ids, f.Type+" "+f.WorkflowID)
	}
	return fmt.Errorf("replay: %d of %d histories no longer replay with this build: %s", len(r.Failures), r.Checked(), strings.Join(ids, ", "))
}

// replayRecent replays, with a replayer holding types, every execution of
// c's namespace that is still running, or started or closed within
// opts.Since (at most opts.Limit, newest first): the running ones are those
// the new build will go on executing, however long ago they started. A history of a type not in types fails: a workflow type
// removed while it still has histories is what this is here to catch. It
// prints per type how many replayed, a line per failure and a summary to
// out, and a running count to progress.
func replayRecent(ctx context.Context, c client.Client, types []workflows.Type, opts replayOptions, out, progress io.Writer) (replayReport, error) {
	rep := replayReport{Since: time.Now().UTC().Add(-opts.Since).Truncate(time.Second), Replayed: map[string]int{}, Waiting: map[string]int{}}
	since := rep.Since.Format(time.RFC3339)
	query := fmt.Sprintf(`ExecutionStatus = "Running" OR StartTime > "%s" OR CloseTime > "%s"`, since, since)
	fmt.Fprintf(progress, "replay: listing executions since %s…", since)
	execs, limited, err := listExecutions(ctx, c, query, opts.Limit)
	fmt.Fprint(progress, "\r\x1b[K")
	if err != nil {
		return rep, err
	}
	rep.Limited = limited

	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{})
	if err != nil {
		return rep, fmt.Errorf("replay: new replayer: %w", err)
	}
	workflows.RegisterTypes(r, types)
	registered := map[string]bool{}
	for _, t := range types {
		registered[t.Name] = true
	}
	quiet := tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for i, e := range execs {
		fmt.Fprintf(progress, "\rreplay: %d/%d histories", i+1, len(execs))
		id, runID, typ := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), e.GetType().GetName()
		replayed, err := false, fmt.Errorf("workflow type %s is not registered by this build (removed while it still has histories?)", typ)
		if registered[typ] {
			replayed, err = replayExecution(ctx, c, r, quiet, id, runID)
		}
		switch {
		case ctx.Err() != nil:
			fmt.Fprint(progress, "\r\x1b[K")
			return rep, fmt.Errorf("replay: interrupted after %d of %d histories: %w", i, len(execs), ctx.Err())
		case err != nil:
			rep.Failures = append(rep.Failures, replayFailure{WorkflowID: id, RunID: runID, Type: typ, NotRegistered: !registered[typ], Err: err})
		case !replayed:
			rep.Waiting[typ]++
		default:
			rep.Replayed[typ]++
		}
	}
	fmt.Fprint(progress, "\r\x1b[K")
	rep.print(out, types, opts.Limit)
	return rep, nil
}

// print writes the report: a line per type (the build's, then those it
// does not register), a line per failure, the limit if it was hit, and a
// summary.
func (r replayReport) print(out io.Writer, types []workflows.Type, limit int) {
	failed := map[string]int{}
	var unregistered []string
	for _, f := range r.Failures {
		if failed[f.Type]++; f.NotRegistered && failed[f.Type] == 1 {
			unregistered = append(unregistered, f.Type)
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, t := range types {
		fmt.Fprintf(tw, "  %s\t%d replayed\t%d failed", t.Name, r.Replayed[t.Name], failed[t.Name])
		if n := r.Waiting[t.Name]; n > 0 {
			fmt.Fprintf(tw, "\t%d not yet run by a worker, nothing to replay", n)
		}
		fmt.Fprintln(tw)
	}
	for _, name := range unregistered {
		fmt.Fprintf(tw, "  %s\t0 replayed\t%d failed\tnot registered by this build\n", name, failed[name])
	}
	tw.Flush()
	for _, f := range r.Failures {
		fmt.Fprintf(out, "FAIL %s workflow %s run %s: %v\n", f.Type, f.WorkflowID, f.RunID, f.Err)
	}
	if r.Limited {
		fmt.Fprintf(out, "replay: stopped at --limit %d; more executions match: raise --limit or shorten --since\n", limit)
	}
	checkedTypes, notRun := len(failed), 0
	for t := range r.Replayed {
		if failed[t] == 0 {
			checkedTypes++
		}
	}
	for _, n := range r.Waiting {
		notRun += n
	}
	fmt.Fprintf(out, "replay: %d histories of %d types since %s, %d failed", r.Checked(), checkedTypes, r.Since.Format(time.RFC3339), len(r.Failures))
	if notRun > 0 {
		fmt.Fprintf(out, "; %d executions not yet run by a worker", notRun)
	}
	fmt.Fprintln(out)
}

// replayExecution fetches the history of one execution and replays it
// with r. It replays nothing, and says so, when no worker has completed a
// workflow task of the execution yet (just started, or queued behind the
// deploy): such a history holds no decision to check, and the SDK's
// replayer would reject it as too short.
func replayExecution(ctx context.Context, c client.Client, r worker.WorkflowReplayer, log tlog.Logger, id, runID string) (replayed bool, err error) {
	var h historypb.History
	ran := false
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return false, fmt.Errorf("fetch history: %w", err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			ran = true
		}
		h.Events = append(h.Events, ev)
	}
	if !ran {
		return false, nil
	}
	// The execution's own ID and run ID, not the replayer's placeholders,
	// so code reading workflow.GetInfo replays as it ran.
	return true, r.ReplayWorkflowHistoryWithOptions(log, &h, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: id, RunID: runID},
	})
}

// listExecutions pages through the executions matching query, newest
// first, stopping at limit; more says that executions beyond it match.
// An execution seen twice (it closed while the pages were read, and moved)
// counts once.
func listExecutions(ctx context.Context, c client.Client, query string, limit int) (execs []*workflowpb.WorkflowExecutionInfo, more bool, err error) {
	req := &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: int32(min(limit+1, 100))}
	seen := map[string]bool{}
	for {
		resp, err := c.ListWorkflow(ctx, req)
		if err != nil {
			return nil, false, fmt.Errorf("replay: list executions (%s): %w", query, err)
		}
		for _, e := range resp.GetExecutions() {
			if run := e.GetExecution().GetRunId(); !seen[run] {
				if len(execs) == limit {
					return execs, true, nil
				}
				seen[run] = true
				execs = append(execs, e)
			}
		}
		if len(resp.GetNextPageToken()) == 0 {
			return execs, false, nil
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
}

// isTerminal reports whether w is a terminal, where a running count is
// shown; in a pipeline's log it would only be noise.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
