package localstack

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

func TestDeadLetterFileAppendsOneLinePerRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead-letter.jsonl")
	dl := deadLetterFile(path)
	for _, seq := range []string{"1", "2"} {
		rec := lambdaevents.DynamoDBEventRecord{EventName: "INSERT", Change: lambdaevents.DynamoDBStreamRecord{SequenceNumber: seq}}
		if err := dl(context.Background(), rec, errors.New("boom "+seq)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, _ := f.Stat(); st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600 (records may hold personal data)", st.Mode().Perm())
	}
	var got []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Error  string                           `json:"error"`
			Record lambdaevents.DynamoDBEventRecord `json:"record"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		got = append(got, line.Record.Change.SequenceNumber+":"+line.Error)
	}
	if len(got) != 2 || got[0] != "1:boom 1" || got[1] != "2:boom 2" {
		t.Errorf("lines = %v", got)
	}
}
