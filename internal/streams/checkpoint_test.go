package streams

import (
	"fmt"
	"os"
	"strings"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"path/filepath"
	"testing"

	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
)

// TestPollerResumesFromCheckpoint: a poller restarted with the same
// checkpoint file delivers only what was written since it stopped, not
// the stream from its trim horizon again; without checkpoints it does
// re-read everything (which is why they exist).
func TestPollerResumesFromCheckpoint(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	cps := &FileCheckpoints{Path: filepath.Join(t.TempDir(), "checkpoints.json")}

	first := newRecorder()
	p1 := newPoller(t, client, table, first.handle)
	p1.Checkpoints = cps
	stop := startPoller(t, p1)
	old := putN(t, client, table, "old", 5)
	drain(t, client, table, first)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(cps.Path); err != nil || len(b) == 0 {
		t.Fatalf("no checkpoint file after a run: %v", err)
	}

	fresh := putN(t, client, table, "new", 3)
	second := newRecorder()
	p2 := newPoller(t, client, table, second.handle)
	p2.Checkpoints = &FileCheckpoints{Path: cps.Path} // as after a process restart
	startPoller(t, p2)
	eventually(t, "the records written while stopped", func() bool { return second.processed(fresh[2]) > 0 })
	got := second.delivered()
	for _, sk := range old {
		if got[sk] != 0 {
			t.Errorf("record %s, handled before the restart, was delivered again %d times", sk, got[sk])
		}
	}
	for _, sk := range fresh {
		if got[sk] != 1 {
			t.Errorf("record %s delivered %d times after the restart, want 1", sk, got[sk])
		}
	}

	// Without checkpoints the same restart re-reads the whole stream.
	third := newRecorder()
	startPoller(t, newPoller(t, client, table, third.handle))
	eventually(t, "a re-read from the trim horizon", func() bool { return third.processed(old[0]) > 0 })
}

// TestFileCheckpointsIgnoreAnotherStream: positions saved for one stream
// are not offered for another (a recreated table).
func TestFileCheckpointsIgnoreAnotherStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.json")
	a := &FileCheckpoints{Path: path}
	if _, err := a.Load(t.Context(), "arn:one"); err != nil {
		t.Fatal(err)
	}
	if err := a.Save(t.Context(), "arn:one", "shard-1", Position{Seq: "42", Closed: true}); err != nil {
		t.Fatal(err)
	}
	b := &FileCheckpoints{Path: path}
	if got, err := b.Load(t.Context(), "arn:one"); err != nil || got["shard-1"] != (Position{Seq: "42", Closed: true}) {
		t.Errorf("same stream: %+v, %v", got, err)
	}
	c := &FileCheckpoints{Path: path}
	if got, err := c.Load(t.Context(), "arn:two"); err != nil || len(got) != 0 {
		t.Errorf("another stream: %+v, %v; want none", got, err)
	}
}

// TestPollerFiltersAndSplitsPages: like the mapping's FilterCriteria and
// BatchSize, only wanted records reach the handler, in batches of at most
// BatchSize, each once and in order; a failure in a later batch of a page
// resumes at the failed record, not at the page's start.
func TestPollerFiltersAndSplitsPages(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	r := newRecorder()
	failedOnce := false
	r.fail = func(call int, b lambdaevents.DynamoDBEvent) answer {
		for i, rec := range b.Records {
			if skOf(rec) == "want-055" && !failedOnce {
				failedOnce = true
				return answer{ok: i, resp: lambdaevents.DynamoDBEventResponse{BatchItemFailures: []lambdaevents.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}}}
			}
		}
		return success(b)
	}
	p := newPoller(t, client, table, r.handle)
	p.BatchSize = 20
	p.Filter = func(rec lambdaevents.DynamoDBEventRecord) bool {
		sk := skOf(rec)
		return strings.HasPrefix(sk, "want-") || sk == "zz-sentinel"
	}
	var want []string
	for i := range 80 {
		put(t, client, table, fmt.Sprintf("skip-%03d", i), nil)
		sk := fmt.Sprintf("want-%03d", i)
		put(t, client, table, sk, nil)
		want = append(want, sk)
	}
	startPoller(t, p)
	drain(t, client, table, r)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.batches {
		if len(b) > 20 {
			t.Errorf("a batch of %d records, BatchSize is 20", len(b))
		}
		for _, sk := range b {
			if strings.HasPrefix(sk, "skip-") {
				t.Errorf("filtered record %s reached the handler", sk)
			}
		}
	}
	for _, sk := range want {
		if r.done[sk] != 1 {
			t.Errorf("%s processed %d times, want 1", sk, r.done[sk])
		}
	}
	if got := len(r.records["want-000"]); got != 1 {
		t.Errorf("want-000, in a batch before the failed one, was delivered %d times; the retry must resume at want-055", got)
	}
}
