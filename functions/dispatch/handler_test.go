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
		{"defaults", map[string]string{"TEMPORAL_ADDRESS": "t:7233"}, config{TemporalAddress: "t:7233", TemporalNamespace: "default", TemporalTaskQueue: "memberflow"}},
		{"set", map[string]string{
			"TEMPORAL_ADDRESS": "t:7233", "TEMPORAL_NAMESPACE": "ns", "TEMPORAL_TLS_SECRET_ARN": "arn:tls",
			"TEMPORAL_TASK_QUEUE": "q", "CODE_SECRET_ARN": "arn:code",
		}, config{TemporalAddress: "t:7233", TemporalNamespace: "ns", TemporalTLSSecretARN: "arn:tls", TemporalTaskQueue: "q", CodeSecretARN: "arn:code"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := configFromEnv(func(k string) string { return tc.env[k] })
			if err != nil || c != tc.want {
				t.Errorf("config = %+v, %v; want %+v", c, err, tc.want)
			}
		})
	}
	// Checked at start, before Secrets Manager or Temporal is called.
	if _, err := newHandler(context.Background(), nil, config{}); err == nil || err.Error() != "TEMPORAL_ADDRESS is required" {
		t.Errorf("no address: err = %v, want TEMPORAL_ADDRESS is required", err)
	}
}
