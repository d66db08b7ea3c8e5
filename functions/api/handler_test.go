package main

import (
	"context"
	"testing"
)

func TestAdminTokens(t *testing.T) {
	tok, err := adminTokens([]byte(`{"tokens":["one","two"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Valid("two") || tok.Valid("three") {
		t.Error("token set does not match its document")
	}
	for _, bad := range []string{`{"tokens":[]}`, `{"tokens":[""]}`, `{}`, `x`} {
		if _, err := adminTokens([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want config
	}{
		{"defaults", nil, config{BrandName: "our shop"}},
		{"set", map[string]string{"ADMIN_TOKEN_SECRET_ARN": "arn:admin", "CODE_SECRET_ARN": "arn:code", "MEMBERFLOW_BRAND_NAME": "Lin's"},
			config{AdminTokenSecretARN: "arn:admin", CodeSecretARN: "arn:code", BrandName: "Lin's"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := configFromEnv(func(k string) string { return tc.env[k] })
			if err != nil || c != tc.want {
				t.Errorf("config = %+v, %v; want %+v", c, err, tc.want)
			}
		})
	}
	// The ARN is checked at start, before any call to Secrets Manager.
	if _, err := mounts(context.Background(), nil, config{CodeSecretARN: "arn:code"}); err == nil || err.Error() != "ADMIN_TOKEN_SECRET_ARN is required" {
		t.Errorf("no ARN: err = %v, want ADMIN_TOKEN_SECRET_ARN is required", err)
	}
}
