package lambdaenv_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/httpx"
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
	if c.TableName != "t" || c.LogLevel != slog.LevelDebug {
		t.Errorf("config = %+v", c)
	}
	if c, err := lambdaenv.ConfigFromEnv(env(map[string]string{"TABLE_NAME": "t"})); err != nil || c.LogLevel != slog.LevelInfo {
		t.Errorf("default log level = %v, %v; want INFO", c.LogLevel, err)
	}
	if _, err := lambdaenv.ConfigFromEnv(env(nil)); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Errorf("missing TABLE_NAME: err = %v", err)
	}
	if _, err := lambdaenv.ConfigFromEnv(env(map[string]string{"TABLE_NAME": "t", "LOG_LEVEL": "loud"})); err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Errorf("a bad LOG_LEVEL: err = %v", err)
	}
}

// TestLoadConfigurationErrors: a function's own configuration error stops
// Load like a common one, and the function's settings are read only once
// the common ones are valid.
func TestLoadConfigurationErrors(t *testing.T) {
	errOwn := errors.New("OWN_SETTING: bad")
	for _, tc := range []struct {
		name       string
		env        map[string]string
		wantErr    string
		wantCalled bool
	}{
		{"common error first", nil, "TABLE_NAME is required", false},
		{"function's own error", map[string]string{"TABLE_NAME": "t"}, errOwn.Error(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			configure := func(getenv func(string) string) (string, error) {
				called = true
				return getenv("OWN_SETTING"), errOwn
			}
			_, _, err := lambdaenv.Load(context.Background(), env(tc.env), configure)
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if called != tc.wantCalled {
				t.Errorf("configure called = %v, want %v", called, tc.wantCalled)
			}
		})
	}
}

func TestSecretNamesItsVariable(t *testing.T) {
	if _, err := lambdaenv.Secret(context.Background(), "WEBHOOK_SECRET_ARN", ""); err == nil || err.Error() != "WEBHOOK_SECRET_ARN is required" {
		t.Errorf("err = %v, want WEBHOOK_SECRET_ARN is required", err)
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
		mounts lambdaenv.Mounts
		status int
		body   string
	}{
		// The committed sample carries a placeholder signature.
		{"ingest", lambdaenv.Mounts{Events: in}, http.StatusUnauthorized, "signature"},
		{"api", lambdaenv.Mounts{API: a.Routes()}, http.StatusOK, `"id": "m-1001"`},
		{"sendgrid-events", lambdaenv.Mounts{SendGridEvents: sg}, http.StatusUnauthorized, sgevents.HeaderTimestamp},
		// The simulate function's route reaches the API's handler (without
		// journeys here, it says so).
		{"simulate", lambdaenv.Mounts{API: a.Routes()}, http.StatusServiceUnavailable, "journeys"},
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
			resp, err := httpadapter.NewV2(lambdaenv.Routes(log, tc.mounts)).ProxyWithContext(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.body) {
				t.Errorf("%s: %d %s, want %d containing %q", tc.fn, resp.StatusCode, resp.Body, tc.status, tc.body)
			}
		})
	}
}

// TestConsoleThroughTheLambdaAdapter: the console's files, its sign-in and
// an API call made with the session cookie, as API Gateway v2 delivers
// them (cookies in their own field, both ways).
func TestConsoleThroughTheLambdaAdapter(t *testing.T) {
	st := memstore.New()
	tokens, err := api.NewTokens("local-admin-token")
	if err != nil {
		t.Fatal(err)
	}
	if tokens, err = tokens.WithSessionSecret([]byte("adapter-test-session-secret")); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &api.Handler{Store: st, Ledger: ledgerfix.Service(t, st), Tokens: tokens, Log: log}
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "console "+r.URL.Path) })
	proxy := httpadapter.NewV2(lambdaenv.Routes(log, lambdaenv.Mounts{API: a.Routes(), UI: ui}))
	call := func(method, path, body string, cookies []string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		req := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RawPath: path, Body: body, Cookies: cookies,
			Headers: map[string]string{"x-forwarded-proto": "https", "content-type": "application/json"},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}},
		}
		resp, err := proxy.ProxyWithContext(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, p := range []string{"/ui", "/ui/", "/ui/journeys"} {
		if resp := call(http.MethodGet, p, "", nil); resp.StatusCode != http.StatusOK || resp.Body != "console "+p {
			t.Errorf("GET %s = %d %q, want the console handler", p, resp.StatusCode, resp.Body)
		}
	}
	resp := call(http.MethodPost, "/ui/session", `{"token":"local-admin-token"}`, nil)
	if resp.StatusCode != http.StatusOK || len(resp.Cookies) != 1 {
		t.Fatalf("sign in = %d %s, cookies %q", resp.StatusCode, resp.Body, resp.Cookies)
	}
	if c := resp.Cookies[0]; !strings.HasPrefix(c, api.SessionCookie+"=") || !strings.Contains(c, "Secure") || !strings.Contains(c, "HttpOnly") {
		t.Errorf("cookie = %q, want a Secure HttpOnly session (API Gateway is https)", c)
	}
	session, _, _ := strings.Cut(resp.Cookies[0], ";")
	if resp := call(http.MethodGet, "/v1/liability", "", []string{session}); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/liability with the cookie = %d %s", resp.StatusCode, resp.Body)
	}
	if resp := call(http.MethodGet, "/v1/liability", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/liability without it = %d, want 401", resp.StatusCode)
	}
}

// panicRoutes has a row for every field of lambdaenv.Mounts (checked by
// allMounts): a request that reaches that group of routes.
var panicRoutes = []struct {
	mount, method, path string
}{
	{"Events", http.MethodPost, "/v1/events"},
	{"SendGridEvents", http.MethodPost, "/v1/sendgrid/events"},
	{"Connectors", http.MethodPost, "/v1/connectors/shopify"},
	{"API", http.MethodGet, "/v1/members/m-1"},
	{"UI", http.MethodGet, "/ui/"},
	{"Local", http.MethodGet, "/healthz"},
}

// panicking is a handler whose every request panics, naming its mount.
func panicking(mount string) http.Handler {
	return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("bug in " + mount) })
}

// allMounts mounts a panicking handler at every field of lambdaenv.Mounts,
// plus GET /alive that answers 204, to show the router still serves after
// a panic. It fails the test when a field has no row in panicRoutes, so a
// new group of routes cannot go untested.
func allMounts(t *testing.T) lambdaenv.Mounts {
	t.Helper()
	var m lambdaenv.Mounts
	v := reflect.ValueOf(&m).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		covered := false
		for _, r := range panicRoutes {
			covered = covered || r.mount == name
		}
		if !covered {
			t.Fatalf("lambdaenv.Mounts.%s has no row in panicRoutes: add a request that reaches it", name)
		}
		switch f := v.Field(i); f.Type() {
		case reflect.TypeFor[http.Handler]():
			f.Set(reflect.ValueOf(panicking(name)))
		case reflect.TypeFor[map[string]http.Handler]():
			f.Set(reflect.ValueOf(map[string]http.Handler{
				"GET /healthz": panicking(name),
				"GET /alive":   http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
			}))
		default:
			t.Fatalf("lambdaenv.Mounts.%s is a %s; teach allMounts to fill it", name, f.Type())
		}
	}
	return m
}

// syncBuffer is a log destination the server's goroutines may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkPanicAnswer checks a panic's answer and its log line.
func checkPanicAnswer(t *testing.T, status int, body string, logs *syncBuffer, mount, method, path string) {
	t.Helper()
	var e httpx.ErrorBody
	if err := json.Unmarshal([]byte(body), &e); status != http.StatusInternalServerError || err != nil || e.Error == "" {
		t.Errorf("answer = %d %q, want 500 with a JSON error", status, body)
	}
	if strings.Contains(body, "bug in") {
		t.Errorf("answer %q shows the panic to the caller", body)
	}
	var line struct {
		Msg, Method, Path, Panic string
	}
	for l := range strings.Lines(logs.String()) {
		if err := json.Unmarshal([]byte(l), &line); err == nil && line.Msg == "handler panicked" && line.Panic == "bug in "+mount {
			break
		}
		line.Msg = ""
	}
	if line.Msg == "" || line.Method != method || line.Path != path {
		t.Errorf("no log line for the panic in %s with method %s and path %s; logs:\n%s", mount, method, path, logs)
	}
}

// TestLambdaRoutesRecover: a panic in any route, served through the Lambda
// adapter the HTTP functions use, is a logged 500 and the next request is
// served; unrecovered, it would end the Lambda runtime (and this test).
func TestLambdaRoutesRecover(t *testing.T) {
	logs := &syncBuffer{}
	adapter := httpadapter.NewV2(lambdaenv.Routes(slog.New(slog.NewJSONHandler(logs, nil)), allMounts(t)))
	call := func(t *testing.T, method, path string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		resp, err := adapter.ProxyWithContext(context.Background(), events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: method + " " + path, RawPath: path, Body: "{}",
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}},
		})
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp
	}
	for _, r := range panicRoutes {
		t.Run(r.mount, func(t *testing.T) {
			resp := call(t, r.method, r.path)
			checkPanicAnswer(t, resp.StatusCode, resp.Body, logs, r.mount, r.method, r.path)
			if got := call(t, http.MethodGet, "/alive").StatusCode; got != http.StatusNoContent {
				t.Errorf("after the panic GET /alive = %d, want 204", got)
			}
		})
	}
}

// TestLocalRoutesRecover: the same through an HTTP server, as the local
// stack serves the router. Unrecovered, net/http would drop the
// connection instead of answering.
func TestLocalRoutesRecover(t *testing.T) {
	logs := &syncBuffer{}
	srv := httptest.NewServer(lambdaenv.Routes(slog.New(slog.NewJSONHandler(logs, nil)), allMounts(t)))
	defer srv.Close()
	call := func(t *testing.T, method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	for _, r := range panicRoutes {
		t.Run(r.mount, func(t *testing.T) {
			status, body := call(t, r.method, r.path)
			checkPanicAnswer(t, status, body, logs, r.mount, r.method, r.path)
			if got, _ := call(t, http.MethodGet, "/alive"); got != http.StatusNoContent {
				t.Errorf("after the panic GET /alive = %d, want 204", got)
			}
		})
	}
}
