package mail_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/templates"
)

// fakeTemplates stands in for SendGrid's template API: templates with
// their versions, the newest active.
type fakeTemplates struct {
	t        *testing.T
	mu       sync.Mutex
	versions map[string][]map[string]any // template id → versions
	requests []string                    // "METHOD path" in order
	bodies   []map[string]any            // request bodies, nil for GET
	nextID   int
}

func (f *fakeTemplates) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := r.Header.Get("Authorization"); got != "Bearer SG.push" {
		f.t.Errorf("Authorization = %q", got)
	}
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	var body map[string]any
	if r.Method == http.MethodPost {
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			f.t.Errorf("%s %s: body is not JSON: %s", r.Method, r.URL.Path, b)
		}
	}
	f.bodies = append(f.bodies, body)
	answer := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v3/templates"), "/")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v3/templates":
		f.nextID++
		id := fmt.Sprintf("d-%032x", f.nextID)
		f.versions[id] = nil
		answer(http.StatusCreated, map[string]any{"id": id, "name": body["name"], "generation": "dynamic", "versions": []any{}})
	case r.Method == http.MethodGet && len(parts) == 2:
		vs, ok := f.versions[parts[1]]
		if !ok {
			answer(http.StatusNotFound, map[string]any{"errors": []any{map[string]any{"message": "resource not found"}}})
			return
		}
		answer(http.StatusOK, map[string]any{"id": parts[1], "generation": "dynamic", "versions": vs})
	case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "versions":
		if _, ok := f.versions[parts[1]]; !ok {
			answer(http.StatusNotFound, map[string]any{"errors": []any{map[string]any{"message": "resource not found"}}})
			return
		}
		for _, v := range f.versions[parts[1]] {
			v["active"] = 0
		}
		v := map[string]any{"id": fmt.Sprintf("v-%d", len(f.requests)), "template_id": parts[1]}
		for k, x := range body {
			v[k] = x
		}
		f.versions[parts[1]] = append(f.versions[parts[1]], v)
		answer(http.StatusCreated, v)
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		answer(http.StatusNotFound, nil)
	}
}

// copyTemplates writes the embedded templates to a directory laid out like
// templates/email and returns it.
func copyTemplates(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(templates.Email, "email", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, "email")))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := fs.ReadFile(templates.Email, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// addFrontMatter appends lines to the front matter of dir/name.hbs.
func addFrontMatter(t *testing.T, dir, name, lines string) {
	t.Helper()
	file := filepath.Join(dir, name+".hbs")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), "\n---\n", "\n"+lines+"---\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPush(t *testing.T) {
	dir := copyTemplates(t)
	// The story is told with the activation templates; the others would
	// only be created like activation_welcome.
	others, err := filepath.Glob(filepath.Join(dir, "*.hbs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range others {
		if !strings.HasPrefix(filepath.Base(f), "activation_") {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	const nudgeID, lastID = "d-00000000000000000000000000000111", "d-00000000000000000000000000000222"
	// activation_nudge is live as it is; activation_last_nudge has an older
	// version live; activation_welcome was never pushed to staging.
	addFrontMatter(t, dir, "activation_nudge", "template_ids:\n  # pushed by hand\n  production: d-99\n  staging: "+nudgeID+"\n")
	addFrontMatter(t, dir, "activation_last_nudge", "template_ids: {staging: "+lastID+"}\n")
	before := readFile(t, filepath.Join(dir, "activation_welcome.hbs"))

	local, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	nudge, _ := local.Source("activation_nudge")
	last, _ := local.Source("activation_last_nudge")
	welcome, _ := local.Source("activation_welcome")
	f := &fakeTemplates{t: t, versions: map[string][]map[string]any{
		nudgeID: {
			{"id": "v-old", "active": 0, "subject": "old", "html_content": "old"},
			{"id": "v-live", "active": 1, "subject": nudge.Subject, "html_content": nudge.HTML},
		},
		lastID: {{"id": "v-old", "active": 1, "subject": last.Subject, "html_content": "<p>last year's copy</p>"}},
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := mail.PushConfig{APIKey: "SG.push", BaseURL: srv.URL, Environment: "staging", Dir: dir, HTTPClient: srv.Client()}

	results, err := mail.Push(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	newID := fmt.Sprintf("d-%032x", 1)
	want := []mail.PushResult{
		{Template: "activation_last_nudge", TemplateID: lastID, Outcome: mail.PushUpdated, VersionID: "v-2"},
		{Template: "activation_nudge", TemplateID: nudgeID, Outcome: mail.PushUnchanged},
		{Template: "activation_welcome", TemplateID: newID, Outcome: mail.PushCreated, VersionID: "v-5"},
	}
	if !reflect.DeepEqual(results, want) {
		t.Errorf("results = %+v\nwant %+v", results, want)
	}
	wantRequests := []string{
		"GET /v3/templates/" + lastID,
		"POST /v3/templates/" + lastID + "/versions",
		"GET /v3/templates/" + nudgeID,
		"POST /v3/templates",
		"POST /v3/templates/" + newID + "/versions",
	}
	if !reflect.DeepEqual(f.requests, wantRequests) {
		t.Fatalf("requests = %v\nwant %v", f.requests, wantRequests)
	}
	if want := map[string]any{"name": "memberflow staging activation_welcome", "generation": "dynamic"}; !reflect.DeepEqual(f.bodies[3], want) {
		t.Errorf("create body = %v, want %v", f.bodies[3], want)
	}
	for i, src := range map[int]mail.TemplateSource{1: last, 4: welcome} {
		body := f.bodies[i]
		name, _ := body["name"].(string)
		if !regexp.MustCompile(`^activation_(last_nudge|welcome) [0-9a-f]{12}$`).MatchString(name) {
			t.Errorf("version name = %q", name)
		}
		want := map[string]any{"name": name, "subject": src.Subject, "html_content": src.HTML, "active": 1.0, "generate_plain_content": true}
		if !reflect.DeepEqual(body, want) {
			t.Errorf("version body %d = %v\nwant %v", i, body, want)
		}
	}

	// The new id is in the file, and nothing else changed.
	after := readFile(t, filepath.Join(dir, "activation_welcome.hbs"))
	if want := strings.Replace(before, "\n---\n", "\ntemplate_ids:\n  staging: "+newID+"\n---\n", 1); after != want {
		t.Errorf("activation_welcome.hbs after push:\n%s", after)
	}
	if got := readFile(t, filepath.Join(dir, "activation_last_nudge.hbs")); !strings.Contains(got, "template_ids: {staging: "+lastID+"}\n") {
		t.Errorf("activation_last_nudge.hbs changed:\n%s", got)
	}
	// A second push finds everything live.
	f.requests = nil
	results, err = mail.Push(context.Background(), cfg)
	if err != nil {
		t.Fatalf("second Push: %v", err)
	}
	for _, r := range results {
		if r.Outcome != mail.PushUnchanged {
			t.Errorf("second push: %+v", r)
		}
	}
	for _, r := range f.requests {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("second push made %s", r)
		}
	}
	if got := results[2].String(); got != "unchanged activation_welcome "+newID {
		t.Errorf("String() = %q", got)
	}
}

func TestPushErrors(t *testing.T) {
	t.Run("template deleted in SendGrid", func(t *testing.T) {
		dir := copyTemplates(t)
		addFrontMatter(t, dir, "activation_last_nudge", "template_ids:\n  staging: d-404\n")
		f := &fakeTemplates{t: t, versions: map[string][]map[string]any{}}
		srv := httptest.NewServer(f)
		defer srv.Close()
		results, err := mail.Push(context.Background(), mail.PushConfig{APIKey: "SG.push", BaseURL: srv.URL, Environment: "staging", Dir: dir})
		if err == nil || len(results) != 0 || !strings.Contains(err.Error(), "SendGrid has no template d-404; remove template_ids.staging from activation_last_nudge.hbs") {
			t.Errorf("Push = %v, %v", results, err)
		}
		var pe *mail.ProviderError
		if !errors.As(err, &pe) || pe.StatusCode != http.StatusNotFound {
			t.Errorf("error %v does not carry the 404", err)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		defer srv.Close()
		_, err := mail.Push(context.Background(), mail.PushConfig{APIKey: "SG.push", BaseURL: srv.URL, Environment: "production", Dir: copyTemplates(t)})
		var pe *mail.ProviderError
		if !errors.As(err, &pe) || !pe.Retryable() || pe.RetryAfter.Seconds() != 3 {
			t.Errorf("error = %v, want a retryable 429", err)
		}
	})
	for name, cfg := range map[string]mail.PushConfig{
		"local":       {APIKey: "k", BaseURL: "http://127.0.0.1:1", Environment: "local", Dir: "."},
		"bad env":     {APIKey: "k", BaseURL: "http://127.0.0.1:1", Environment: "Prod", Dir: "."},
		"no key":      {BaseURL: "http://127.0.0.1:1", Environment: "staging", Dir: "."},
		"no template": {APIKey: "k", BaseURL: "http://127.0.0.1:1", Environment: "staging", Dir: t.TempDir()},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := mail.Push(context.Background(), cfg); err == nil {
				t.Error("Push succeeded")
			}
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
