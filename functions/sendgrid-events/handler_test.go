package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/sgevents"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	c, err := configFromEnv(getenv(map[string]string{
		"SENDGRID_WEBHOOK_PUBLIC_KEY": "a2V5", "SENDGRID_ASM_GROUPS": `{"activation": 12345, "newsletter": 678}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.WebhookPublicKey != "a2V5" || c.ASMGroups["activation"] != 12345 || c.ASMGroups["newsletter"] != 678 {
		t.Errorf("config = %+v", c)
	}
	c, err = configFromEnv(getenv(nil))
	if err != nil || c.ASMGroups == nil || len(c.ASMGroups) != 0 {
		t.Errorf("default groups = %v, %v; want an empty map", c.ASMGroups, err)
	}
	for _, bad := range []string{`[]`, `{"a": "1"}`, `{"a": 0}`, `{"": 1}`, `{"a": 1, "b": 1}`, `{"a": 1.5}`, `x`} {
		_, err := configFromEnv(getenv(map[string]string{"SENDGRID_ASM_GROUPS": bad}))
		if err == nil || !strings.Contains(err.Error(), "SENDGRID_ASM_GROUPS") {
			t.Errorf("%s: err = %v, want one naming SENDGRID_ASM_GROUPS", bad, err)
		}
	}
}

func TestMountsNeedAKey(t *testing.T) {
	e := &lambdaenv.Env{Config: lambdaenv.Config{TableName: "t"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tc := range []struct{ key, want string }{
		{"", "SENDGRID_WEBHOOK_PUBLIC_KEY is required"},
		{"not a key", "SENDGRID_WEBHOOK_PUBLIC_KEY"},
	} {
		if _, err := mounts(context.Background(), e, config{WebhookPublicKey: tc.key}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("key %q: err = %v, want %q", tc.key, err, tc.want)
		}
	}
}

// TestMounts: the handler is mounted at the SendGrid route with the key and
// the groups by SendGrid's id, which is what SendGrid's events carry.
func TestMounts(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sgevents.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	e := &lambdaenv.Env{Config: lambdaenv.Config{TableName: "t"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m, err := mounts(context.Background(), e, config{WebhookPublicKey: pub, ASMGroups: map[string]int{"activation": 12345}})
	if err != nil {
		t.Fatal(err)
	}
	h, ok := m.SendGridEvents.(*sgevents.Handler)
	if !ok || m.Events != nil || m.API != nil || m.Local != nil {
		t.Fatalf("mounts = %+v, want only SendGridEvents", m)
	}
	if !h.PublicKey.Equal(&key.PublicKey) || !reflect.DeepEqual(h.Groups, map[int]string{12345: "activation"}) {
		t.Errorf("handler key or groups differ: %+v", h)
	}
}
