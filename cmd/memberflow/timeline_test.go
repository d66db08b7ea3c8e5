package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/store"
)

func TestTimelineCommand(t *testing.T) {
	s := newCLIStack(t)
	ctx := context.Background()
	at := func(h int) time.Time { return cliStart.Add(time.Duration(h) * time.Hour) }
	if err := s.Store.AppendTimeline(ctx,
		store.TimelineEntry{MemberID: "m-1", Journey: "paced", Version: 1, Enrollment: 7, Kind: "enrolled", Values: map[string]any{"member.consent.email_marketing": true}, At: at(0), Key: "m-1#paced#7#entry"},
		store.TimelineEntry{MemberID: "m-1", Journey: "paced", Version: 1, Enrollment: 7, Step: "hello", Kind: "deferred", Reason: "quiet_hours", At: at(1), Until: at(10), Key: "m-1#paced#7#hello#2026"},
		store.TimelineEntry{MemberID: "m-1", Journey: "paced", Version: 1, Enrollment: 7, Step: "hello", Kind: "sent", At: at(10), Key: "m-1#paced#7#hello#2026"},
	); err != nil {
		t.Fatal(err)
	}
	timeline := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := timelineCmd(ctx, args, s.env, &out, &errb)
		return out.String(), errb.String(), err
	}

	out, _, err := timeline("m-1")
	if err != nil {
		t.Fatal(err)
	}
	want := "2026-11-23T20:00:00Z  paced@1#7  hello  sent\n" +
		"2026-11-23T11:00:00Z  paced@1#7  hello  deferred  quiet_hours until 2026-11-23T20:00:00Z\n" +
		`2026-11-23T10:00:00Z  paced@1#7  -      enrolled  {"member.consent.email_marketing":true}` + "\n"
	if out != want {
		t.Errorf("timeline =\n%s\nwant\n%s", out, want)
	}

	// A page short of the whole says how to go on, and going on works.
	out, hint, err := timeline("m-1", "--limit", "2")
	if err != nil || strings.Count(out, "\n") != 2 || !strings.HasPrefix(hint, "older entries: memberflow timeline m-1 --before ") {
		t.Fatalf("first page = %q, %q, %v", out, hint, err)
	}
	cursor := strings.TrimSpace(strings.TrimPrefix(hint, "older entries: memberflow timeline m-1 --before "))
	out, hint, err = timeline("m-1", "--limit", "2", "--before", cursor)
	if err != nil || !strings.Contains(out, "enrolled") || strings.Count(out, "\n") != 1 || hint != "" {
		t.Errorf("second page = %q, %q, %v", out, hint, err)
	}

	if out, hint, err := timeline("m-2"); err != nil || out != "" || hint != "nothing was decided about m-2 yet\n" {
		t.Errorf("empty timeline = %q, %q, %v", out, hint, err)
	}
	if _, _, err := timeline("m-404"); err == nil || !strings.Contains(err.Error(), "404 Not Found: member m-404 not found") {
		t.Errorf("unknown member: %v", err)
	}
	if _, _, err := timeline("m-1", "--limit", "0"); err == nil || !strings.Contains(err.Error(), "limit: must be a whole number from 1 to 500") {
		t.Errorf("limit 0: %v", err)
	}
	if _, _, err := timeline(); err == nil || !strings.Contains(err.Error(), "timeline needs exactly one MEMBER") {
		t.Errorf("no member: %v", err)
	}
}
