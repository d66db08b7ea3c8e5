package temporalconn_test

import (
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/temporalconn"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    temporalconn.Config
		wantErr string
	}{
		{
			name: "nothing set: no address, default namespace, plain text",
			env:  nil,
			want: temporalconn.Config{Namespace: "default"},
		},
		{
			name: "cloud over mTLS",
			env: map[string]string{"TEMPORAL_ADDRESS": "ns.a1b2c.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "ns.a1b2c",
				"TEMPORAL_TLS_CERT": "CERT", "TEMPORAL_TLS_KEY": "KEY"},
			want: temporalconn.Config{Address: "ns.a1b2c.tmprl.cloud:7233", Namespace: "ns.a1b2c", CertPEM: []byte("CERT"), KeyPEM: []byte("KEY")},
		},
		{
			name:    "certificate without its key",
			env:     map[string]string{"TEMPORAL_ADDRESS": "x:7233", "TEMPORAL_TLS_CERT": "CERT"},
			wantErr: "TEMPORAL_TLS_KEY",
		},
		{
			name:    "key without its certificate",
			env:     map[string]string{"TEMPORAL_ADDRESS": "x:7233", "TEMPORAL_TLS_KEY": "KEY"},
			wantErr: "TEMPORAL_TLS_CERT",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := temporalconn.ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to name %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Address != tc.want.Address || got.Namespace != tc.want.Namespace ||
				string(got.CertPEM) != string(tc.want.CertPEM) || string(got.KeyPEM) != string(tc.want.KeyPEM) {
				t.Errorf("config = %+v, want %+v", got, tc.want)
			}
		})
	}
}
