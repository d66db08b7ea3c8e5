package workflows_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/memberflow/memberflow/workflows"
)

// TestReplay replays committed histories recorded on the dev server (see
// internal/localstack's end-to-end tests, -update-history). A change to a
// workflow that is not deterministic against running executions fails here.
// Every registered workflow type must have at least one history: a type
// without one could change unnoticed under executions still running.
func TestReplay(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no committed histories in workflows/testdata")
	}
	covered := map[string][]string{}
	for _, f := range files {
		covered[workflowType(t, f)] = append(covered[workflowType(t, f)], filepath.Base(f))
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			workflows.RegisterTypes(r, workflows.Types())
			if err := replayFile(r, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
	for _, typ := range workflows.Types() {
		if len(covered[typ.Name]) == 0 {
			t.Errorf("workflow type %s has no committed history in workflows/testdata", typ.Name)
		}
	}
	t.Logf("histories by type: %v", covered)
}

// replayFile replays a committed history as its execution ran: under its
// own workflow ID and run ID, as `memberflow replay` replays production
// histories, so code that names things after workflow.GetInfo (the
// analytics refresh's child workflows) replays as recorded.
func replayFile(r worker.WorkflowReplayer, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		return err
	}
	var exec workflow.Execution
	if evs := h.GetEvents(); len(evs) > 0 {
		a := evs[0].GetWorkflowExecutionStartedEventAttributes()
		exec = workflow.Execution{ID: a.GetWorkflowId(), RunID: a.GetOriginalExecutionRunId()}
	}
	return r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{OriginalExecution: exec})
}

// workflowType reads the workflow type a history file starts.
func workflowType(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Events []struct {
			Started *struct {
				WorkflowType struct {
					Name string `json:"name"`
				} `json:"workflowType"`
			} `json:"workflowExecutionStartedEventAttributes"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(h.Events) == 0 || h.Events[0].Started == nil {
		t.Fatalf("%s: the first event is not the workflow's start", file)
	}
	return h.Events[0].Started.WorkflowType.Name
}
