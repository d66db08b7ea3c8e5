package lambdaenv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/sgevents"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
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

func TestSendGridConfig(t *testing.T) {
	c, err := lambdaenv.ConfigFromEnv(env(map[string]string{
		"TABLE_NAME": "t", "SENDGRID_WEBHOOK_PUBLIC_KEY": "a2V5", "SENDGRID_ASM_GROUPS": `{"activation": 12345, "newsletter": 678}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SendGridWebhookPublicKey != "a2V5" || c.SendGridASMGroups["activation"] != 12345 || c.SendGridASMGroups["newsletter"] != 678 {
		t.Errorf("config = %+v", c)
	}
	c, err = lambdaenv.ConfigFromEnv(env(map[string]string{"TABLE_NAME": "t"}))
	if err != nil || c.SendGridASMGroups == nil || len(c.SendGridASMGroups) != 0 {
		t.Errorf("default groups = %v, %v; want an empty map", c.SendGridASMGroups, err)
	}
	for _, bad := range []string{`[]`, `{"a": "1"}`, `{"a": 0}`, `{"": 1}`, `{"a": 1, "b": 1}`, `{"a": 1.5}`, `x`} {
		_, err := lambdaenv.ConfigFromEnv(env(map[string]string{"TABLE_NAME": "t", "SENDGRID_ASM_GROUPS": bad}))
		if err == nil || !strings.Contains(err.Error(), "SENDGRID_ASM_GROUPS") {
			t.Errorf("%s: err = %v, want one naming SENDGRID_ASM_GROUPS", bad, err)
		}
	}
}

func TestSendgridEventsHandlerNeedsAKey(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"", "SENDGRID_WEBHOOK_PUBLIC_KEY is required"},
		{"not a key", "SENDGRID_WEBHOOK_PUBLIC_KEY"},
	} {
		e := &lambdaenv.Env{Config: lambdaenv.Config{TableName: "t", SendGridWebhookPublicKey: tc.key}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if _, err := e.SendgridEventsHandler(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("key %q: err = %v, want %q", tc.key, err, tc.want)
		}
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

// TestLambdaEntryPoint sends the functions' sample events (event.json, for
// `sam local invoke`) through the same adapter the Lambda mains use, so the
// router, the adapter and the samples are known to fit together.
func TestLambdaEntryPoint(t *testing.T) {
	st := memstore.New()
	if err := st.SaveMember(context.Background(), loyalty.Member{ID: "m-1001", Name: "Lin", Version: 1}, "e1"); err != nil {
		t.Fatal(err)
	}
	tokens, err := api.NewTokens("local-admin-token")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	in := &ingest.Handler{Store: st, Secrets: map[string][]byte{"storefront": []byte("local-dev-secret")}, Log: log}
	ldg := ledgerfix.Service(t, st)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sg := &sgevents.Handler{Store: st, PublicKey: &key.PublicKey, Log: log}
	a := &api.Handler{Store: st, Ledger: ldg, Tokens: tokens, Log: log}
	for _, tc := range []struct {
		fn     string
		router http.Handler
		status int
		body   string
	}{
		// The committed sample carries a placeholder signature.
		{"ingest", lambdaenv.Routes(in, nil, nil, log), http.StatusUnauthorized, "signature"},
		{"api", lambdaenv.Routes(nil, a, nil, log), http.StatusOK, `"id": "m-1001"`},
		{"sendgrid-events", lambdaenv.Routes(nil, nil, sg, log), http.StatusUnauthorized, sgevents.HeaderTimestamp},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			raw, err := os.ReadFile("../../functions/" + tc.fn + "/event.json")
			if err != nil {
				t.Fatal(err)
			}
			var req events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				t.Fatal(err)
			}
			resp, err := httpadapter.NewV2(tc.router).ProxyWithContext(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.body) {
				t.Errorf("%s: %d %s, want %d containing %q", tc.fn, resp.StatusCode, resp.Body, tc.status, tc.body)
			}
		})
	}
}
