package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/journeyfix"
)

var cliStart = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

const cliPaced = `name: paced
priority: 40
trigger: { api: {} }
entry:
  audience: "member.consent.email_marketing"
steps:
  - id: first
    delay: { for: 1d }
  - id: hello
    send: { email: activation_nudge }
`

// cliBroken has two problems: the priority on line 2, the template on
// line 6.
const cliBroken = `name: paced
priority: 400
trigger: { api: {} }
steps:
  - id: hello
    send: { email: no_such_template }
`

// cliStack is the real API over the in-memory store, served over HTTP
// with the token cli-token, and the CLI's environment pointing at it.
type cliStack struct {
	*journeyfix.Fixture
	srv *httptest.Server
	env func(string) string
	dir string
}

func newCLIStack(t *testing.T) *cliStack {
	t.Helper()
	st := memstore.New()
	ctx := context.Background()
	for _, id := range []string{"m-1", "m-2"} {
		if err := st.SaveMember(ctx, loyalty.Member{ID: id, Name: "Lin", Consent: loyalty.Consent{EmailMarketing: true}, Version: 1}, "reg-"+id); err != nil {
			t.Fatal(err)
		}
	}
	fix := journeyfix.New(t, st, cliStart)
	tokens, err := api.NewTokens("cli-token")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Handler{Store: st, Ledger: fix.Ledger, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Journeys: fix.Control}).Routes())
	t.Cleanup(srv.Close)
	return &cliStack{Fixture: fix, srv: srv, dir: t.TempDir(),
		env: env(map[string]string{"MEMBERFLOW_URL": srv.URL, "MEMBERFLOW_ADMIN_TOKEN": "cli-token"})}
}

// file writes src to a file of the test's and returns its path.
func (s *cliStack) file(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(s.dir, name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// journeys runs `memberflow journeys args…` and returns its stdout.
func (s *cliStack) journeys(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := journeysCmd(context.Background(), args, s.env, &out, &errb)
	return out.String(), err
}

// mustJourneys is journeys that fails the test on an error.
func (s *cliStack) mustJourneys(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.journeys(t, args...)
	if err != nil {
		t.Fatalf("journeys %v: %v (out %q)", args, err, out)
	}
	return out
}

func (s *cliStack) enrol(t *testing.T, member string) {
	t.Helper()
	if _, err := s.Control.EnrollAPI(context.Background(), "paced", member); err != nil {
		t.Fatal(err)
	}
}

func TestJourneysValidateAndPublish(t *testing.T) {
	s := newCLIStack(t)
	good, broken := s.file(t, "paced.yaml", cliPaced), s.file(t, "broken.yaml", cliBroken)

	if out := s.mustJourneys(t, "validate", good); out != "ok\n" {
		t.Errorf("validate a good file = %q, want ok", out)
	}
	out, err := s.journeys(t, "validate", broken)
	if err == nil || err.Error() != "the journey has 2 problems" {
		t.Errorf("validate a broken file: error %v, want 2 problems", err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "priority:2:11: ") || !strings.HasPrefix(lines[1], "steps[0].send.email:6:20: ") || !strings.Contains(lines[1], "no_such_template") {
		t.Errorf("problems = %q, want one line each, path:line:column: rule", out)
	}

	// A refused publish lists the problems the same way and writes nothing.
	if out, err := s.journeys(t, "publish", broken); err == nil || !strings.HasPrefix(out, "priority:2:11: ") || strings.Count(out, "\n") != 2 {
		t.Errorf("publish a broken file = %q, %v", out, err)
	}
	if out := s.mustJourneys(t, "publish", good); out != "published paced version 1 (0 enrollments stay on older versions)\n" {
		t.Errorf("publish = %q", out)
	}
	s.enrol(t, "m-1")
	v2 := s.file(t, "paced2.yaml", strings.Replace(cliPaced, "1d", "2d", 1))
	if out := s.mustJourneys(t, "publish", v2); out != "published paced version 2 (1 enrollments stay on older versions)\n" {
		t.Errorf("second publish = %q", out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "journeys needs a command"},
		{"unknown command", []string{"launch", "paced"}, `unknown journeys command "launch"`},
		{"validate without a file", []string{"validate"}, "journeys validate needs exactly one FILE"},
		{"missing file", []string{"publish", filepath.Join(s.dir, "nope.yaml")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.journeys(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestJourneysListShowAndStatus(t *testing.T) {
	s := newCLIStack(t)
	s.mustJourneys(t, "publish", s.file(t, "paced.yaml", cliPaced))
	s.enrol(t, "m-1")
	s.enrol(t, "m-2")
	s.mustJourneys(t, "publish", s.file(t, "ordered.yaml", "name: ordered\npriority: 10\ntrigger: { event: order.paid }\nsteps:\n  - id: hello\n    send: { email: activation_nudge }\n"))

	want := "NAME     STATUS  LIVE  ACTIVE  ENROLLED\n" +
		"ordered  live    1     0       0\n" +
		"paced    live    1     2       2\n"
	if out := s.mustJourneys(t, "list"); out != want {
		t.Errorf("list =\n%s\nwant\n%s", out, want)
	}

	show := s.mustJourneys(t, "show", "paced")
	for _, w := range []string{"name:      paced\n", "status:    live\n", "live:      version 1 (latest 1)\n", "enrolled:  2 (2 active)\n", "versions:\n  1  2026-11-23T10:00:00Z  sha256:", "source of version 1:\n" + cliPaced} {
		if !strings.Contains(show, w) {
			t.Errorf("show lacks %q:\n%s", w, show)
		}
	}

	for _, tc := range []struct{ op, want string }{
		{"pause", "paused paced (2 enrollments in flight are held before their next send or reward)\n"},
		{"resume", "resumed paced (0 held enrollments go on where they were)\n"},
		{"archive", "archived paced (2 enrollments ended)\n"},
	} {
		if out := s.mustJourneys(t, tc.op, "paced"); out != tc.want {
			t.Errorf("%s = %q, want %q", tc.op, out, tc.want)
		}
	}
	_, err := s.journeys(t, "resume", "paced")
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != "409 Conflict" || !strings.Contains(ae.Message, "journey paced is archived") {
		t.Errorf("resume an archived journey: %v, want the API's 409 and its message", err)
	}
	if _, err := s.journeys(t, "show", "nope"); err == nil || err.Error() != "memberflow answered 404 Not Found: journey nope not found" {
		t.Errorf("show an unknown journey: %v", err)
	}
	// The token comes from the environment.
	s.env = env(map[string]string{"MEMBERFLOW_URL": s.srv.URL, "MEMBERFLOW_ADMIN_TOKEN": "wrong"})
	if _, err := s.journeys(t, "list"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong token: %v, want 401", err)
	}
	// --url beats MEMBERFLOW_URL, before or after the command.
	s.env = env(map[string]string{"MEMBERFLOW_URL": "http://127.0.0.1:1", "MEMBERFLOW_ADMIN_TOKEN": "cli-token"})
	if out := s.mustJourneys(t, "list", "--url", s.srv.URL); !strings.HasPrefix(out, "NAME") {
		t.Errorf("list --url = %q", out)
	}
	if out := s.mustJourneys(t, "--url", s.srv.URL, "list"); !strings.HasPrefix(out, "NAME") {
		t.Errorf("--url list = %q", out)
	}
}

func TestJourneysDiff(t *testing.T) {
	s := newCLIStack(t)
	s.mustJourneys(t, "publish", s.file(t, "v1.yaml", cliPaced))
	s.mustJourneys(t, "publish", s.file(t, "v2.yaml", strings.Replace(cliPaced, "1d", "2d", 1)))
	want := `--- paced version 1
+++ paced version 2
@@ -5,6 +5,6 @@
   audience: "member.consent.email_marketing"
 steps:
   - id: first
-    delay: { for: 1d }
+    delay: { for: 2d }
   - id: hello
     send: { email: activation_nudge }
`
	if out := s.mustJourneys(t, "diff", "paced", "1", "2"); out != want {
		t.Errorf("diff =\n%s\nwant\n%s", out, want)
	}
	if out := s.mustJourneys(t, "diff", "paced", "2", "2"); out != "" {
		t.Errorf("diff of a version with itself = %q, want nothing", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", "paced", "1"}, "journeys diff needs NAME A B"},
		{[]string{"diff", "paced", "one", "2"}, `"one" is not a version number`},
		{[]string{"diff", "paced", "1", "3"}, "journey paced has no version 3"},
	} {
		if _, err := s.journeys(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
