package main

import (
	"context"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want config
	}{
		{"defaults: no limit", map[string]string{}, config{}},
		{"set", map[string]string{"ADMIN_TOKEN_SECRET_ARN": "arn:admin", "CODE_SECRET_ARN": "arn:code", "MEMBERFLOW_SIMULATE_BUDGET": "6000000"},
			config{AdminTokenSecretARN: "arn:admin", CodeSecretARN: "arn:code", Budget: 6000000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := configFromEnv(func(k string) string { return tc.env[k] })
			if err != nil || c != tc.want {
				t.Errorf("config = %+v, %v; want %+v", c, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"-1", "lots", "1.5"} {
		if _, err := configFromEnv(func(k string) string {
			if k == "MEMBERFLOW_SIMULATE_BUDGET" {
				return bad
			}
			return ""
		}); err == nil {
			t.Errorf("MEMBERFLOW_SIMULATE_BUDGET=%s was accepted", bad)
		}
	}
	// The ARN is checked at start, before any call to Secrets Manager.
	if _, err := mounts(context.Background(), nil, config{CodeSecretARN: "arn:code"}); err == nil || err.Error() != "ADMIN_TOKEN_SECRET_ARN is required" {
		t.Errorf("no ARN: err = %v, want ADMIN_TOKEN_SECRET_ARN is required", err)
	}
}
