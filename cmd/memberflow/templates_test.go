package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/templates"
)

// TestPreviewIsWhatTheOutboxWrites previews every template of the embedded
// catalog for the sample member, sends it through the real Sender to the
// outbox with the data a send uses (base data and, standing in for the
// journey step, the template's examples), and compares the file byte for
// byte with the preview.
func TestPreviewIsWhatTheOutboxWrites(t *testing.T) {
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	asmGroups := map[string]int{}
	for _, name := range catalog.Names() {
		g, err := catalog.Group(name)
		if err != nil {
			t.Fatal(err)
		}
		if asmGroups[g] == 0 {
			asmGroups[g] = len(asmGroups) + 1
		}
	}
	getenv := env(map[string]string{"MEMBERFLOW_BRAND_NAME": "Tea & Co"})
	cfg, err := stackConfigFromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv := httptest.NewServer(&outbox.Sink{Dir: dir, Catalog: catalog})
	defer srv.Close()
	sender, err := mail.NewSender(mail.SenderConfig{
		APIKey: "local-outbox", BaseURL: srv.URL, FromEmail: "hello@memberflow.local",
		Catalog: catalog, Environment: mail.EnvironmentLocal, ASMGroups: asmGroups,
	})
	if err != nil {
		t.Fatal(err)
	}
	unsubscribe := defaultURL + "/v1/unsubscribe?token=preview"

	for i, name := range catalog.Names() {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := templatesCmd(context.Background(), []string{"preview", name, "--member", "sample"}, getenv, &stdout, &stderr); err != nil {
				t.Fatalf("preview: %v", err)
			}
			m := activities.SampleMember()
			examples, err := catalog.Examples(name)
			if err != nil {
				t.Fatal(err)
			}
			data := activities.TemplateData(m, cfg.Brand, unsubscribe)
			for k, v := range examples {
				data[k] = v
			}
			if _, err := sender.Send(context.Background(), mail.Message{
				MemberID: m.ID, To: m.Email, ToName: m.Name, Template: name,
				Data:           data,
				UnsubscribeURL: unsubscribe,
			}); err != nil {
				t.Fatalf("send: %v", err)
			}
			entries, err := (&outbox.Sink{Dir: dir}).List()
			if err != nil || len(entries) != i+1 {
				t.Fatalf("outbox has %d entries (%v), want %d", len(entries), err, i+1)
			}
			written, err := os.ReadFile(entries[i].HTMLPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(stdout.Bytes(), written) {
				t.Errorf("preview differs from the outbox file %s\npreview:\n%s", entries[i].HTMLPath, stdout.Bytes())
			}
			r, err := catalog.Render(name, data)
			if err != nil {
				t.Fatal(err)
			}
			if want := "subject:   " + r.Subject + "\npreheader: " + r.Preheader + "\n"; stderr.String() != want {
				t.Errorf("stderr = %q, want %q", stderr.String(), want)
			}
			for _, s := range []string{"Lin Wei", "Tea &amp; Co", `href="http://127.0.0.1:8080/v1/unsubscribe?token=preview"`} {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("preview does not contain %q", s)
				}
			}
			for k, v := range examples {
				if !strings.Contains(stdout.String(), html.EscapeString(v)) {
					t.Errorf("preview does not show the example %s = %q", k, v)
				}
			}
		})
	}
}

// memberServer stands in for the local stack's GET /v1/members/{id}.
func memberServer(t *testing.T, token string, members map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, ok := members[strings.TrimPrefix(r.URL.Path, "/v1/members/")]
		if r.Method != http.MethodGet || !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"member not found"}`)
			return
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPreviewMemberFromLocalStack(t *testing.T) {
	srv := memberServer(t, "local-admin-token", map[string]string{
		"m-1":       `{"id":"m-1","email":"sean@example.com","name":"Seán O'Brien","consent":{"email_marketing":true},"order_count":0,"tier":"V1","enrollments":[]}`,
		"m-no-name": `{"id":"m-no-name","email":"x@example.com","consent":{"email_marketing":true},"enrollments":[]}`,
	})
	getenv := env(map[string]string{"MEMBERFLOW_URL": srv.URL + "/"})
	out := filepath.Join(t.TempDir(), "welcome.html")
	var stdout, stderr bytes.Buffer
	err := templatesCmd(context.Background(), []string{"preview", "--member", "m-1", "--out", out, "activation_welcome"}, getenv, &stdout, &stderr)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want the HTML in the file only", stdout.String())
	}
	if want := "subject:   Welcome to Memberflow Demo, Seán O'Brien!\n"; !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to start with %q", stderr.String(), want)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The coupon is the example: a member on the stack has no step variables.
	for _, s := range []string{"Welcome, Seán O&apos;Brien!", fmt.Sprintf(`href="%s/v1/unsubscribe?token=preview"`, srv.URL), "NEW8-3HT7WQ2P"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("preview does not contain %q", s)
		}
	}

	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"missing variable", []string{"preview", "activation_welcome", "--member", "m-no-name"}, nil,
			"preview for member m-no-name: template activation_welcome: missing variables: name"},
		{"unknown member", []string{"preview", "activation_welcome", "--member", "m-404"}, nil, "read member m-404: memberflow answered 404 Not Found"},
		{"wrong token", []string{"preview", "activation_welcome", "--member", "m-1"}, map[string]string{"MEMBERFLOW_ADMIN_TOKEN": "other"}, "401 Unauthorized"},
		{"unknown template", []string{"preview", "nope", "--member", "sample"}, nil, "template nope: unknown template"},
		{"no member", []string{"preview", "activation_welcome"}, nil, "--member"},
		{"no name", []string{"preview", "--member", "sample"}, nil, "exactly one template name"},
		{"no subcommand", nil, nil, "push or preview"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{"MEMBERFLOW_URL": srv.URL}
			for k, v := range tc.env {
				e[k] = v
			}
			var stdout, stderr bytes.Buffer
			err := templatesCmd(context.Background(), tc.args, env(e), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q on error", stdout.String())
			}
		})
	}
}

func TestPushCommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, templates.Email); err != nil {
		t.Fatal(err)
	}
	emailDir := filepath.Join(dir, "email")
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.Method+" "+r.URL.Path)
		if r.Header.Get("Authorization") != "Bearer SG.cli" {
			t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
		}
		w.WriteHeader(http.StatusCreated)
		if r.URL.Path == "/v3/templates" {
			json.NewEncoder(w).Encode(map[string]string{"id": fmt.Sprintf("d-%d", len(requests))})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"id": fmt.Sprintf("v-%d", len(requests))})
	}))
	defer srv.Close()

	// The audit log the pushes are recorded in: the API on a store.
	stack := newCLIStack(t)
	vars := map[string]string{"SENDGRID_API_KEY": "SG.cli", "SENDGRID_BASE_URL": srv.URL}
	getenv := func(k string) string { return cmp.Or(vars[k], stack.env(k)) }

	// Without an audit log to record them in, nothing is pushed.
	err := templatesCmd(context.Background(), []string{"push", "--env", "staging", "--dir", emailDir, "--url", "http://127.0.0.1:1"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "nothing was pushed") || len(requests) != 0 {
		t.Fatalf("push without the API: err %v, %d SendGrid requests; want a refusal before any", err, len(requests))
	}

	var stdout, stderr bytes.Buffer
	if err := templatesCmd(context.Background(), []string{"push", "--env", "staging", "--dir", emailDir}, getenv, &stdout, &stderr); err != nil {
		t.Fatalf("push: %v (stderr %s)", err, stderr.String())
	}
	// Every template is new to staging: one create and one version each.
	var want strings.Builder
	local, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range local.Names() {
		fmt.Fprintf(&want, "created   %s d-%d version v-%d\n", name, 2*i+1, 2*i+2)
	}
	if stdout.String() != want.String() {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout.String(), want.String())
	}
	// One audit entry per pushed template, by the admin token, with
	// SendGrid's ids.
	log, _, err := stack.Store.ListAudit(context.Background(), time.Time{}, "", store.MaxAuditPage)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != len(local.Names()) {
		t.Fatalf("audit has %d entries, want one per template (%d): %+v", len(log), len(local.Names()), log)
	}
	for i, name := range local.Names() {
		e, tid, vid := log[i], fmt.Sprintf("d-%d", 2*i+1), fmt.Sprintf("v-%d", 2*i+2)
		if e.Action != "template.push" || e.Target != "template:"+name || !strings.HasPrefix(e.Token, "sha256:") ||
			e.Detail["template_id"] != tid || e.Detail["version_id"] != vid || e.Detail["environment"] != "staging" || e.Detail["outcome"] != "created" {
			t.Errorf("audit entry %d = %+v, want template.push of %s %s version %s", i, e, name, tid, vid)
		}
	}
	// Recorded again with the same key (a rerun reporting the same
	// push), the log keeps one entry.
	if err := recordPush(context.Background(), newAPIClient(stack.srv.URL, getenv), "staging",
		mail.PushResult{Template: local.Names()[0], TemplateID: "d-1", VersionID: "v-2", Outcome: mail.PushCreated}); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := stack.Store.ListAudit(context.Background(), time.Time{}, "", store.MaxAuditPage); len(again) != len(log) {
		t.Errorf("a repeated report added entries: %d, then %d", len(log), len(again))
	}
	if !strings.Contains(stderr.String(), "rebuild") {
		t.Errorf("stderr = %q, want the rebuild hint", stderr.String())
	}
	c, err := mail.LoadCatalog(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := c.TemplateID("activation_nudge", "staging"); id != "d-3" || !ok {
		t.Errorf("recorded id = %q, %v", id, ok)
	}
	if _, err := fs.Stat(os.DirFS(dir), "email/partials/footer.hbs"); err != nil {
		t.Errorf("partial: %v", err)
	}

	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"no key":     {[]string{"push", "--env", "staging", "--dir", emailDir}, nil, "SENDGRID_API_KEY"},
		"no env":     {[]string{"push", "--dir", emailDir}, map[string]string{"SENDGRID_API_KEY": "k"}, "--env"},
		"local":      {[]string{"push", "--env", "local", "--dir", emailDir}, map[string]string{"SENDGRID_API_KEY": "k"}, "local environment"},
		"stray args": {[]string{"push", "staging"}, map[string]string{"SENDGRID_API_KEY": "k"}, "no arguments"},
		// The local stack is no default for where a production push is
		// recorded.
		"no url": {[]string{"push", "--env", "production", "--dir", emailDir}, map[string]string{"SENDGRID_API_KEY": "k"},
			"templates push --env production needs --url (or MEMBERFLOW_URL)"},
		"unknown sub": {[]string{"pull"}, nil, `unknown templates subcommand "pull"`},
	} {
		t.Run(name, func(t *testing.T) {
			err := templatesCmd(context.Background(), tc.args, env(tc.env), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestPushReportsUnrecordedPushes: when memberflow takes the check before
// the push but not the records after it, the push fails naming each
// template pushed and not recorded, with the body that records it: a
// rerun would find them unchanged and record nothing.
func TestPushReportsUnrecordedPushes(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, templates.Email); err != nil {
		t.Fatal(err)
	}
	n := 0
	sendgrid := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.WriteHeader(http.StatusCreated)
		if r.URL.Path == "/v3/templates" {
			json.NewEncoder(w).Encode(map[string]string{"id": fmt.Sprintf("d-%d", n)})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"id": fmt.Sprintf("v-%d", n)})
	}))
	defer sendgrid.Close()
	memberflow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/audit" {
			io.WriteString(w, `{"entries":[]}`)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":"the audit log is unavailable"}`)
	}))
	defer memberflow.Close()
	getenv := env(map[string]string{"SENDGRID_API_KEY": "SG.cli", "SENDGRID_BASE_URL": sendgrid.URL})
	var stdout bytes.Buffer
	err := templatesCmd(context.Background(), []string{"push", "--env", "staging", "--dir", filepath.Join(dir, "email"), "--url", memberflow.URL},
		getenv, &stdout, io.Discard)
	if err == nil {
		t.Fatal("push whose records failed succeeded")
	}
	local, lerr := mail.LoadCatalog(templates.Email)
	if lerr != nil {
		t.Fatal(lerr)
	}
	msg := err.Error()
	for _, want := range []string{fmt.Sprintf("%d pushed template(s) are in SendGrid but not in the audit log of %s", len(local.Names()), memberflow.URL),
		"a rerun finds them unchanged and will not record them", "POST /v1/templates/<name>/pushes", "the audit log is unavailable"} {
		if !strings.Contains(msg, want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}
	for i, name := range local.Names() {
		body := fmt.Sprintf(`%s {"environment":"staging","template_id":"d-%d","version_id":"v-%d","outcome":"created"}`, name, 2*i+1, 2*i+2)
		if !strings.Contains(msg, body) {
			t.Errorf("err does not name %s with its record's body %s:\n%v", name, body, err)
		}
	}
	if got := strings.Count(stdout.String(), "created"); got != len(local.Names()) {
		t.Errorf("stdout = %q, want every push reported", stdout.String())
	}
}

func TestRunDispatchesTemplates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, []string{"templates", "nope"}, env(nil)); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("run templates nope = %v", err)
	}
}
