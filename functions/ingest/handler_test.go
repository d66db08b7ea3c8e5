package main

import (
	"context"
	"strings"
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
	// A Standard Webhooks secret is checked as one: base64 of at least
	// 16 bytes, the source named when it is not.
	if _, err := webhookSecrets([]byte(`{"storefront":"whsec_bG9jYWwtZGV2LXNlY3JldA=="}`)); err != nil {
		t.Errorf("whsec_ secret of 16 bytes refused: %v", err)
	}
	_, err = webhookSecrets([]byte(`{"storefront":"abc","pos":"whsec_c2hvcnQ="}`))
	if err == nil || !strings.Contains(err.Error(), `source "pos"`) || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("whsec_ secret of 5 bytes: err = %v, want one naming the source and the rule", err)
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
