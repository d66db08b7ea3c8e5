package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestAuditCommand(t *testing.T) {
	s := newCLIStack(t)
	ctx := context.Background()
	audit := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := auditCmd(ctx, args, s.env, &out, &errb)
		return out.String(), errb.String(), err
	}
	if out, hint, err := audit(); err != nil || out != "" || hint != "no operator action in the audit log yet\n" {
		t.Fatalf("empty log = %q, %q, %v", out, hint, err)
	}
	// Operator actions through the API: a publish, an enrollment, a
	// pause, and a second pause the journey refuses (it is paused).
	for _, r := range []struct {
		method, path, body string
		status             int
	}{
		{http.MethodPost, "/v1/journeys", "name: paced\npriority: 40\ntrigger: { api: {} }\nsteps:\n  - id: hello\n    send: { email: activation_nudge }\n", 201},
		{http.MethodPost, "/v1/journeys/paced/enrollments", `{"member_id": "m-1"}`, 201},
		{http.MethodPost, "/v1/journeys/paced/pause", "", 200},
		{http.MethodPost, "/v1/journeys/paced/pause", "", 409},
	} {
		req, err := http.NewRequestWithContext(ctx, r.method, s.srv.URL+r.path, strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer cli-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != r.status {
			t.Fatalf("%s %s: %d, want %d", r.method, r.path, resp.StatusCode, r.status)
		}
	}
	out, hint, err := audit()
	if err != nil || hint != "" {
		t.Fatalf("audit = %q, %q, %v", out, hint, err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := [][]string{
		{"journey.publish", "journey:paced", "sha256:", "requested", `{"from":"definition"}`},
		{"journey.enroll", "journey:paced/member:m-1", "sha256:", "requested"},
		{"journey.pause", "journey:paced", "sha256:", "requested"},
		{"journey.pause", "journey:paced", "sha256:", "requested"},
		{"journey.pause", "journey:paced", "sha256:", "failed 409"},
	}
	if len(lines) != len(want) {
		t.Fatalf("audit printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		for _, part := range w {
			if !strings.Contains(lines[i], part) {
				t.Errorf("line %d %q lacks %q", i, lines[i], part)
			}
		}
	}
	// A page short of the whole says how to go on, and going on works.
	first, hint, err := audit("--limit", "2")
	if err != nil || strings.Count(first, "\n") != 2 || !strings.HasPrefix(hint, "more entries: memberflow audit --limit 2 --after ") {
		t.Fatalf("first page = %q, %q, %v", first, hint, err)
	}
	cursor := strings.TrimSpace(strings.TrimPrefix(hint, "more entries: memberflow audit --limit 2 --after "))
	rest, _, err := audit("--limit", "500", "--after", cursor)
	// Columns are padded per page: compare the fields.
	if err != nil || strings.Join(strings.Fields(first+rest), " ") != strings.Join(strings.Fields(out), " ") {
		t.Errorf("first page then the rest =\n%s%s\nwant\n%s (%v)", first, rest, out, err)
	}
	if _, _, err := audit("--since", "yesterday"); err == nil || !strings.Contains(err.Error(), "since: must be an RFC 3339 time") {
		t.Errorf("bad since: %v", err)
	}
	if _, _, err := audit("--limit", "501"); err == nil || !strings.Contains(err.Error(), "limit: must be a whole number from 1 to 500") {
		t.Errorf("limit 501: %v", err)
	}
}
