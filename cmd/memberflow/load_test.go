package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestLoadRefusesBeforeStarting: arguments the load tool must refuse are
// refused before any stack starts or any event is posted.
func TestLoadRefusesBeforeStarting(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a remote stack", []string{"--url", "http://10.1.2.3:8080"}, "only talks to a stack on this machine"},
		{"a remote DynamoDB", []string{"--url", "http://127.0.0.1:1", "--dynamodb", "http://dynamodb.us-east-1.amazonaws.com"}, "DynamoDB endpoint"},
		{"positional arguments", []string{"now"}, "flags only"},
		{"unknown flag", []string{"--rps", "5"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := loadCmd(context.Background(), tc.args, env(nil), nil, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
