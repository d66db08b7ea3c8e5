package outbox_test

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestEraseMemberRemovesOnlyTheirFiles: an erasure removes both files of
// every message of the member, keeps the others' and finds nothing the
// second time.
func TestEraseMemberRemovesOnlyTheirFiles(t *testing.T) {
	f := newFixture(t)
	for _, member := range []string{"mem_42", "mem_7", "mem_42"} {
		m := message()
		m.MemberID = member
		if _, err := f.sender.Send(context.Background(), m); err != nil {
			t.Fatalf("Send to %s: %v", member, err)
		}
	}
	n, err := f.sink.EraseMember("mem_42")
	if err != nil || n != 2 {
		t.Fatalf("EraseMember = %d, %v; want 2 messages", n, err)
	}
	names := dirNames(t, f.dir)
	if len(names) != 2 {
		t.Errorf("outbox after erasure = %v, want the other member's .html and .json", names)
	}
	for _, name := range names {
		if !strings.Contains(name, "-mem_7-") {
			t.Errorf("%s left in the outbox, want only mem_7's", name)
		}
		b, err := os.ReadFile(f.dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "mem_42") {
			t.Errorf("%s still names mem_42", name)
		}
	}
	if n, err := f.sink.EraseMember("mem_42"); err != nil || n != 0 {
		t.Errorf("EraseMember again = %d, %v; want 0", n, err)
	}
}
