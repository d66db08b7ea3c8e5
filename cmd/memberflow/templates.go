package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/templates"
)

// Defaults of the templates commands.
const (
	defaultURL            = "http://127.0.0.1:8080" // MEMBERFLOW_URL, as send-event
	defaultSendGridURL    = "https://api.sendgrid.com"
	sampleMember          = activities.SampleMemberID
	previewUnsubscribeURL = activities.PreviewUnsubscribePath
)

// templatesUsage is the help of `memberflow templates`.
const templatesUsage = `usage:
  memberflow templates push --env <env> --url <url> [--dir <dir>]
      create or update the SendGrid dynamic templates of <env> (SENDGRID_API_KEY,
      SENDGRID_BASE_URL) from <dir> (default templates/email), record new ids,
      and append each pushed template to the audit log of <env>'s memberflow
      at <url> (required; MEMBERFLOW_URL if set; token MEMBERFLOW_ADMIN_TOKEN)
  memberflow templates preview <name> --member <id|sample> [--out <file>]
      render a template exactly as the outbox does: HTML to stdout or <file>,
      subject and preheader to stderr; <id> is read from the running local stack
`

// templatesCmd runs `memberflow templates push|preview …`.
func templatesCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, templatesUsage)
		return errors.New("templates needs a subcommand: push or preview")
	}
	switch args[0] {
	case "push":
		return pushTemplates(ctx, args[1:], getenv, stdout, stderr)
	case "preview":
		return previewTemplate(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, templatesUsage)
		return nil
	}
	fmt.Fprint(stderr, templatesUsage)
	return fmt.Errorf("unknown templates subcommand %q", args[0])
}

// pushTemplates uploads the templates on disk to SendGrid, one line per
// template.
func pushTemplates(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("templates push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := fs.String("env", "", "environment whose template ids to use and record (staging, production)")
	dir := fs.String("dir", "", "templates directory on disk (default <repo>/templates/email)")
	base := fs.String("url", getenv("MEMBERFLOW_URL"), "base URL of <env>'s memberflow, whose audit log records the pushes (default MEMBERFLOW_URL; required)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("templates push takes no arguments, got %q", fs.Args())
	}
	if *env == "" {
		return errors.New("templates push needs --env (staging, production)")
	}
	if err := mail.CheckPushEnvironment(*env); err != nil {
		return err
	}
	key := getenv("SENDGRID_API_KEY")
	if key == "" {
		return errors.New("SENDGRID_API_KEY is not set: push needs a SendGrid API key with template access")
	}
	// No default: the local stack's (the other commands') would record a
	// push to staging or production in the local audit log, and local
	// itself is never pushed.
	if *base == "" {
		return fmt.Errorf("templates push --env %s needs --url (or MEMBERFLOW_URL): the memberflow serving %s, whose audit log records the push; nothing was pushed", *env, *env)
	}
	if *dir == "" {
		root, err := localstack.RepoRoot()
		if err != nil {
			return err
		}
		*dir = filepath.Join(root, "templates", "email")
	}
	// Every push is an operator action for the audit log, which only
	// memberflow writes: make sure it will take the entries before
	// anything is pushed, so a push is not left unlogged because the API
	// was down or the token wrong.
	audit := newAPIClient(*base, getenv)
	var page api.AuditPage
	if err := audit.call(ctx, http.MethodGet, "/v1/audit?limit=1", nil, &page); err != nil {
		return fmt.Errorf("templates push records every push in the audit log of memberflow at %s, which cannot take it: %w; nothing was pushed", *base, err)
	}
	results, err := mail.Push(ctx, mail.PushConfig{
		APIKey:      key,
		BaseURL:     cmp.Or(getenv("SENDGRID_BASE_URL"), defaultSendGridURL),
		Environment: *env,
		Dir:         *dir,
	})
	created := false
	var unrecorded []string
	for _, r := range results {
		fmt.Fprintln(stdout, r)
		created = created || r.Outcome == mail.PushCreated
		if err := recordPush(ctx, audit, *env, r); err != nil {
			body, _ := pushRecord(*env, r)
			unrecorded = append(unrecorded, fmt.Sprintf("%s %s: %v", r.Template, body, err))
		}
	}
	if created {
		// The binaries embed the templates: an id on disk reaches the
		// worker only with the next build.
		fmt.Fprintf(stderr, "new template ids are recorded in %s; commit them and rebuild the worker\n", *dir)
	}
	if len(unrecorded) > 0 {
		// A rerun finds these templates unchanged in SendGrid and pushes,
		// so records, nothing: say which, and how to record them.
		err = errors.Join(err, fmt.Errorf("%d pushed template(s) are in SendGrid but not in the audit log of %s, and a rerun finds them unchanged and will not record them; "+
			"record each with POST /v1/templates/<name>/pushes and the body shown:\n  %s", len(unrecorded), *base, strings.Join(unrecorded, "\n  ")))
	}
	return err
}

// recordPush appends a pushed template to the audit log (POST
// /v1/templates/{name}/pushes); an unchanged one was not pushed and is
// not recorded. The Idempotency-Key is the environment, template and
// version, so a rerun's report of the same push adds no second entry.
func recordPush(ctx context.Context, c apiClient, env string, r mail.PushResult) error {
	if r.Outcome != mail.PushCreated && r.Outcome != mail.PushUpdated {
		return nil
	}
	body, key := pushRecord(env, r)
	var out api.TemplatePush
	return c.callWith(ctx, http.MethodPost, "/v1/templates/"+url.PathEscape(r.Template)+"/pushes", map[string]string{api.IdempotencyKeyHeader: key}, body, &out)
}

// pushRecord is the body and Idempotency-Key that record a push.
func pushRecord(env string, r mail.PushResult) ([]byte, string) {
	// A struct of strings always encodes.
	body, _ := json.Marshal(api.TemplatePush{Environment: env, TemplateID: r.TemplateID, VersionID: r.VersionID, Outcome: r.Outcome})
	return body, env + "." + r.Template + "." + r.VersionID
}

// previewTemplate renders one template for a member with the data and
// Catalog a send uses, and writes the same document the outbox writes.
func previewTemplate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("templates preview", flag.ContinueOnError)
	fs.SetOutput(stderr)
	memberID := fs.String("member", "", `member id to read from the local stack, or "sample"`)
	out := fs.String("out", "", "write the HTML to this file instead of stdout")
	names, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return fmt.Errorf("templates preview needs exactly one template name, got %d", len(names))
	}
	if *memberID == "" {
		return errors.New(`templates preview needs --member <id> or --member sample`)
	}
	cfg, err := stackConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	base := strings.TrimRight(cmp.Or(getenv("MEMBERFLOW_URL"), defaultURL), "/")

	m := activities.SampleMember()
	if *memberID != sampleMember {
		if m, err = fetchMember(ctx, base, cfg.AdminToken, *memberID); err != nil {
			return err
		}
	}
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		return err
	}
	data, err := activities.PreviewData(catalog, names[0], activities.TemplateData(m, cfg.Brand, base+previewUnsubscribeURL), nil)
	if err != nil {
		return err
	}
	r, err := catalog.Render(names[0], data)
	if err != nil {
		return fmt.Errorf("preview for member %s: %w", m.ID, err)
	}
	fmt.Fprintf(stderr, "subject:   %s\npreheader: %s\n", r.Subject, r.Preheader)
	if *out == "" {
		_, err = io.WriteString(stdout, r.Document())
		return err
	}
	return os.WriteFile(*out, []byte(r.Document()), 0o644)
}

// fetchMember reads GET /v1/members/<id> from the running local stack.
func fetchMember(ctx context.Context, base, token, id string) (loyalty.Member, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/members/"+url.PathEscape(id), nil)
	if err != nil {
		return loyalty.Member{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return loyalty.Member{}, fmt.Errorf("read member %s: %w (is `make run` running?)", id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return loyalty.Member{}, fmt.Errorf("read member %s: %w", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		return loyalty.Member{}, fmt.Errorf("read member %s: memberflow answered %s: %s", id, resp.Status, strings.TrimSpace(string(body)))
	}
	// The member view embeds the member's fields; the rest is ignored.
	var m loyalty.Member
	if err := json.Unmarshal(body, &m); err != nil {
		return loyalty.Member{}, fmt.Errorf("read member %s: %w", id, err)
	}
	return m, nil
}

// parseInterleaved parses flags that may come before or after positional
// arguments (`preview welcome --member sample`), which flag.Parse alone
// stops at, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	// Leave them where fs.NArg and fs.Args report them too.
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return nil, err
	}
	return positional, nil
}
