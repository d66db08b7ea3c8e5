package main

import (
	"context"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/lambdaenv/journeyenv"
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
	temporal := journeyenv.Config{TemporalAddress: "t:7233", TemporalNamespace: "default", TemporalTaskQueue: "memberflow", ScanEvery: time.Hour}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want config
	}{
		{"defaults", map[string]string{"TEMPORAL_ADDRESS": "t:7233"}, config{Config: temporal, BrandName: "our shop"}},
		{"set", map[string]string{"TEMPORAL_ADDRESS": "t:7233", "ADMIN_TOKEN_SECRET_ARN": "arn:admin", "CODE_SECRET_ARN": "arn:code", "MEMBERFLOW_BRAND_NAME": "Lin's", "MEMBERFLOW_SHOP_URL": "https://shop.example.com"},
			config{Config: temporal, AdminTokenSecretARN: "arn:admin", CodeSecretARN: "arn:code", BrandName: "Lin's", ShopURL: "https://shop.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := configFromEnv(func(k string) string { return tc.env[k] })
			if err != nil || c != tc.want {
				t.Errorf("config = %+v, %v; want %+v", c, err, tc.want)
			}
		})
	}
	// The ARN is checked at start, before any call to Secrets Manager.
	if _, err := configFromEnv(func(string) string { return "" }); err == nil || err.Error() != "TEMPORAL_ADDRESS is required" {
		t.Errorf("no Temporal: err = %v, want TEMPORAL_ADDRESS is required", err)
	}
	if _, err := mounts(context.Background(), nil, config{CodeSecretARN: "arn:code"}); err == nil || err.Error() != "ADMIN_TOKEN_SECRET_ARN is required" {
		t.Errorf("no ARN: err = %v, want ADMIN_TOKEN_SECRET_ARN is required", err)
	}
}
