package main

import (
	"context"
	"testing"
)

func TestWebhookSecrets(t *testing.T) {
	s, err := webhookSecrets([]byte(`{"storefront":"abc","pos":"def"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(s["storefront"]) != "abc" || string(s["pos"]) != "def" {
		t.Errorf("secrets = %v", s)
	}
	for _, bad := range []string{`[]`, `{}`, `{"storefront":""}`, `not json`, `{"storefront":"abc","memberflow":"def"}`} {
		if _, err := webhookSecrets([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	c, err := configFromEnv(func(k string) string { return map[string]string{"WEBHOOK_SECRET_ARN": "arn:webhook"}[k] })
	if err != nil || c.WebhookSecretARN != "arn:webhook" {
		t.Errorf("config = %+v, %v", c, err)
	}
	// The ARN is checked at start, before any call to Secrets Manager.
	if _, err := mounts(context.Background(), nil, config{}); err == nil || err.Error() != "WEBHOOK_SECRET_ARN is required" {
		t.Errorf("no ARN: err = %v, want WEBHOOK_SECRET_ARN is required", err)
	}
}
