package lambdaenv_test

import (
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/lambdaenv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	c, err := lambdaenv.ConfigFromEnv(env(map[string]string{"TABLE_NAME": "t", "LOG_LEVEL": "debug"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TemporalNamespace != "default" || c.TemporalTaskQueue != "memberflow" || c.LogLevel.String() != "DEBUG" {
		t.Errorf("defaults = %+v", c)
	}
	if _, err := lambdaenv.ConfigFromEnv(env(nil)); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Errorf("missing TABLE_NAME: err = %v", err)
	}
	if _, err := lambdaenv.ConfigFromEnv(env(map[string]string{"TABLE_NAME": "t", "LOG_LEVEL": "loud"})); err == nil {
		t.Error("a bad LOG_LEVEL was accepted")
	}
}

func TestWebhookSecrets(t *testing.T) {
	s, err := lambdaenv.WebhookSecrets([]byte(`{"storefront":"abc","pos":"def"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(s["storefront"]) != "abc" || string(s["pos"]) != "def" {
		t.Errorf("secrets = %v", s)
	}
	for _, bad := range []string{`[]`, `{}`, `{"storefront":""}`, `not json`} {
		if _, err := lambdaenv.WebhookSecrets([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

func TestAdminTokens(t *testing.T) {
	tok, err := lambdaenv.AdminTokens([]byte(`{"tokens":["one","two"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Valid("two") || tok.Valid("three") {
		t.Error("token set does not match its document")
	}
	for _, bad := range []string{`{"tokens":[]}`, `{"tokens":[""]}`, `{}`, `x`} {
		if _, err := lambdaenv.AdminTokens([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}
