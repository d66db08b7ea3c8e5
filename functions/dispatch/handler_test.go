package main

import (
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/lambdaenv/journeyenv"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want config
	}{
		{"defaults", map[string]string{"TEMPORAL_ADDRESS": "t:7233"}, config{Config: journeyenv.Config{TemporalAddress: "t:7233", TemporalNamespace: "default", TemporalTaskQueue: "memberflow", ScanEvery: time.Hour}}},
		{"set", map[string]string{
			"TEMPORAL_ADDRESS": "t:7233", "TEMPORAL_NAMESPACE": "ns", "TEMPORAL_TLS_SECRET_ARN": "arn:tls",
			"TEMPORAL_TASK_QUEUE": "q", "CODE_SECRET_ARN": "arn:code", "MEMBERFLOW_SCAN_EVERY": "30m",
		}, config{Config: journeyenv.Config{TemporalAddress: "t:7233", TemporalNamespace: "ns", TemporalTLSSecretARN: "arn:tls", TemporalTaskQueue: "q", ScanEvery: 30 * time.Minute}, CodeSecretARN: "arn:code"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := configFromEnv(func(k string) string { return tc.env[k] })
			if err != nil || c != tc.want {
				t.Errorf("config = %+v, %v; want %+v", c, err, tc.want)
			}
		})
	}
	// Checked at start, before Secrets Manager or Temporal is called.
	for env, want := range map[string]string{"": "TEMPORAL_ADDRESS is required", "often": "MEMBERFLOW_SCAN_EVERY must be"} {
		_, err := configFromEnv(func(k string) string {
			if k == "MEMBERFLOW_SCAN_EVERY" {
				return env
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("scan every %q: err = %v, want %q", env, err, want)
		}
	}
}
