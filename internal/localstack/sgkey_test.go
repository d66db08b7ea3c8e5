package localstack_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/memberflow/memberflow/internal/localstack"
)

func TestWebhookKeyIsCreatedOnceAndKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := localstack.ReadWebhookKey(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read before creation: err = %v, want fs.ErrNotExist", err)
	}
	first, err := localstack.LoadOrCreateWebhookKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, localstack.WebhookKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Mode().Perm(), fs.FileMode(0o600); got != want {
		t.Errorf("key file mode = %v, want %v", got, want)
	}
	again, err := localstack.LoadOrCreateWebhookKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Equal(first) {
		t.Error("a second start made a new key")
	}
	read, err := localstack.ReadWebhookKey(dir)
	if err != nil || !read.Equal(first) {
		t.Errorf("ReadWebhookKey = %v, %v; want the created key", read, err)
	}
}

func TestWebhookKeyInMemory(t *testing.T) {
	a, err := localstack.LoadOrCreateWebhookKey("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := localstack.LoadOrCreateWebhookKey("")
	if err != nil {
		t.Fatal(err)
	}
	if a.Equal(b) {
		t.Error("two in-memory stacks share a key")
	}
}

func TestWebhookKeyRejectsJunk(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, localstack.WebhookKeyFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := localstack.LoadOrCreateWebhookKey(dir); err == nil {
		t.Error("a junk key file was accepted")
	}
}
