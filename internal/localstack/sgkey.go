package localstack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WebhookKeyFile is the name, in the data directory, of the private key
// that stands in for SendGrid's when signing Event Webhook posts locally.
const WebhookKeyFile = "sendgrid-webhook-key.pem"

// LoadOrCreateWebhookKey returns the local SendGrid webhook signing key
// (P-256) kept at <dir>/sendgrid-webhook-key.pem, creating it (mode 0600)
// when absent. With dir "" the key lives in memory only, like the rest of
// such a stack. The stack verifies with its public half; `memberflow
// send-sendgrid-events` signs with it.
func LoadOrCreateWebhookKey(dir string) (*ecdsa.PrivateKey, error) {
	if dir == "" {
		return newWebhookKey()
	}
	key, err := ReadWebhookKey(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, err = newWebhookKey()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("sendgrid webhook key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sendgrid webhook key: %w", err)
	}
	path := filepath.Join(dir, WebhookKeyFile)
	// O_EXCL: if another process wrote the key meanwhile, use theirs
	// rather than replace a key something may already sign with.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return ReadWebhookKey(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("sendgrid webhook key: %w", err)
	}
	werr := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path) // a half-written key would fail every later start
		return nil, fmt.Errorf("sendgrid webhook key: write %s: %w", path, werr)
	}
	return key, nil
}

// ReadWebhookKey reads the key LoadOrCreateWebhookKey keeps in dir. The
// error wraps fs.ErrNotExist when there is none yet.
func ReadWebhookKey(dir string) (*ecdsa.PrivateKey, error) {
	path := filepath.Join(dir, WebhookKeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sendgrid webhook key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("sendgrid webhook key: %s holds no PEM \"PRIVATE KEY\" block; delete it to have a new key made", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("sendgrid webhook key: %s: %w", path, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("sendgrid webhook key: %s holds a %T, want an ECDSA P-256 key; delete it to have a new key made", path, parsed)
	}
	return key, nil
}

func newWebhookKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sendgrid webhook key: generate: %w", err)
	}
	return key, nil
}
