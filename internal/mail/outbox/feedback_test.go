package outbox_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/memberflow/memberflow/internal/mail/outbox"
)

// TestFeedbackOwedOutlivesTheProcess: with OnAccept, every accepted
// message is recorded as owing feedback before the send is answered
// (0600: it holds the address), so a process killed before delivering it
// finds it again (Unconfirmed), and a confirmation or the member's erasure
// removes it.
func TestFeedbackOwedOutlivesTheProcess(t *testing.T) {
	f := newFixture(t)
	// A callee that never confirms: the process "died" before delivering.
	f.sink.OnAccept = func([]outbox.Accepted) {}

	var ids []string
	for _, member := range []string{"mem_42", "mem_7"} {
		m := message()
		m.MemberID = member
		res, err := f.sender.Send(context.Background(), m)
		if err != nil {
			t.Fatalf("Send to %s: %v", member, err)
		}
		ids = append(ids, res.MessageID)
	}

	// What a restarted process reads: a new Sink over the same Dir.
	restarted := &outbox.Sink{Dir: f.dir, Catalog: f.catalog}
	owed, err := restarted.Unconfirmed()
	if err != nil {
		t.Fatal(err)
	}
	if len(owed) != 2 {
		t.Fatalf("unconfirmed = %+v, want both messages", owed)
	}
	entries, err := restarted.List()
	if err != nil || len(entries) != 2 {
		t.Fatalf("List = %v, %v; want the two messages and not the feedback records", entries, err)
	}
	for i, a := range owed {
		if a.MessageID != ids[i] || a.Email != "lin.wei@example.com" || a.CustomArgs["idempotency_key"] != "wf-1/welcome" ||
			a.Template != "activation_welcome" || a.File != filepath.Base(entries[i].JSONPath[:len(entries[i].JSONPath)-len(".json")]) {
			t.Errorf("unconfirmed[%d] = %+v, want message %s of %s", i, a, ids[i], entries[i].JSONPath)
		}
		info, err := os.Stat(filepath.Join(f.dir, outbox.FeedbackDir, a.File+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("feedback record of %s has mode %v, want 0600", a.File, info.Mode().Perm())
		}
	}

	// The first member's feedback is delivered; the second is erased.
	if err := restarted.Confirmed(owed[:1]); err != nil {
		t.Fatal(err)
	}
	if err := restarted.Confirmed(owed[:1]); err != nil {
		t.Errorf("confirming twice: %v", err)
	}
	if n, err := restarted.EraseMember("mem_7"); err != nil || n != 1 {
		t.Fatalf("EraseMember = %d, %v", n, err)
	}
	if owed, err := restarted.Unconfirmed(); err != nil || len(owed) != 0 {
		t.Errorf("unconfirmed after confirming and erasing = %+v, %v; want none", owed, err)
	}
	if err := restarted.Confirmed([]outbox.Accepted{{File: "../escape"}}); err == nil {
		t.Error("a record name with a path separator was accepted")
	}
	if info, err := os.Stat(filepath.Join(f.dir, outbox.FeedbackDir)); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("feedback directory: %v, %v; want mode 0700", info, err)
	}
}

// TestOrphanAndUnreadableFeedbackRecords: a record whose message never
// reached the outbox (killed between the record and the message; the send
// was not answered and will be retried) is dropped, not confirmed; an
// unreadable one is moved aside without stopping the others.
func TestOrphanAndUnreadableFeedbackRecords(t *testing.T) {
	f := newFixture(t)
	f.sink.OnAccept = func([]outbox.Accepted) {}
	if _, err := f.sender.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(f.dir, outbox.FeedbackDir)
	orphan := filepath.Join(dir, "20990101T000000.000000000Z-mem_9-activation_welcome.json")
	if err := os.WriteFile(orphan, []byte(`{"MessageID":"never-answered"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := f.sink.List()
	if err != nil || len(entries) != 1 {
		t.Fatalf("List = %v, %v", entries, err)
	}
	// The accepted message's record, truncated as a host crash might.
	bad := filepath.Join(dir, filepath.Base(entries[0].JSONPath))
	if err := os.WriteFile(bad, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	owed, err := f.sink.Unconfirmed()
	if err != nil || len(owed) != 0 {
		t.Errorf("Unconfirmed = %+v, %v; want nothing and no error", owed, err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan record still there: %v", err)
	}
	if _, err := os.Stat(bad + ".bad"); err != nil {
		t.Errorf("unreadable record not moved aside: %v", err)
	}
}

// TestNoFeedbackRecordsWithoutOnAccept: a Sink nobody takes feedback from
// keeps only the messages.
func TestNoFeedbackRecordsWithoutOnAccept(t *testing.T) {
	f := newFixture(t)
	if _, err := f.sender.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, outbox.FeedbackDir)); !os.IsNotExist(err) {
		t.Errorf("feedback directory without OnAccept: %v", err)
	}
	if owed, err := f.sink.Unconfirmed(); err != nil || len(owed) != 0 {
		t.Errorf("Unconfirmed = %v, %v", owed, err)
	}
}
