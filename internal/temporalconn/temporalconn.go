// Package temporalconn dials Temporal the same way from every binary: a local
// dev server in plain text, or Temporal Cloud / a self-hosted cluster over
// mTLS with the client certificate from configuration.
package temporalconn

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// Config says where Temporal is.
type Config struct {
	Address   string // host:port
	Namespace string
	// CertPEM and KeyPEM are the mTLS client certificate; both empty means
	// plain text (local dev server only).
	CertPEM, KeyPEM []byte
}

// ConfigFromEnv reads where Temporal is the way every binary that dials it
// from the environment does: TEMPORAL_ADDRESS (host:port; empty when unset,
// each binary decides whether that is an error or has a default),
// TEMPORAL_NAMESPACE (default "default") and the mTLS client certificate
// TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (PEM, both or neither).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Address:   getenv("TEMPORAL_ADDRESS"),
		Namespace: cmp.Or(getenv("TEMPORAL_NAMESPACE"), "default"),
		CertPEM:   []byte(getenv("TEMPORAL_TLS_CERT")),
		KeyPEM:    []byte(getenv("TEMPORAL_TLS_KEY")),
	}
	// One without the other would dial in plain text or fail deep in the
	// TLS handshake; say which variable is missing instead.
	if (len(c.CertPEM) == 0) != (len(c.KeyPEM) == 0) {
		return c, errors.New("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (the mTLS client certificate and its key), or neither")
	}
	return c, nil
}

// TLSSecret is the JSON shape of the Temporal mTLS secret in Secrets Manager.
type TLSSecret struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// WithTLSSecret fills CertPEM and KeyPEM from a TLSSecret document.
func (c Config) WithTLSSecret(doc []byte) (Config, error) {
	var s TLSSecret
	if err := json.Unmarshal(doc, &s); err != nil {
		return c, fmt.Errorf("temporal TLS secret: must be JSON {\"cert\",\"key\"}: %w", err)
	}
	if s.Cert == "" || s.Key == "" {
		return c, fmt.Errorf("temporal TLS secret: both cert and key are required")
	}
	c.CertPEM, c.KeyPEM = []byte(s.Cert), []byte(s.Key)
	return c, nil
}

// Dial connects and checks the connection, so misconfiguration fails at
// start-up with a clear error rather than on the first workflow.
func Dial(ctx context.Context, cfg Config, log *slog.Logger) (client.Client, error) {
	opts := client.Options{
		HostPort:  cfg.Address,
		Namespace: cfg.Namespace,
		Logger:    tlog.NewStructuredLogger(log),
	}
	if len(cfg.CertPEM) > 0 || len(cfg.KeyPEM) > 0 {
		cert, err := tls.X509KeyPair(cfg.CertPEM, cfg.KeyPEM)
		if err != nil {
			return nil, fmt.Errorf("temporal client certificate: %w", err)
		}
		opts.ConnectionOptions.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s (namespace %s): %w", cfg.Address, cfg.Namespace, err)
	}
	return c, nil
}
