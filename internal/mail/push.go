package mail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/sendgrid/rest"
)

// PushConfig configures Push.
type PushConfig struct {
	// APIKey is a SendGrid API key with the Template Engine permission.
	APIKey string
	// BaseURL is the API origin, normally "https://api.sendgrid.com".
	BaseURL string
	// Environment is the template_ids key the ids are read from and written
	// to ("staging", "production"). "local" is refused: the local stack
	// sends to the outbox, which needs no SendGrid template.
	Environment string
	// Dir is the templates directory on disk (templates/email); Push
	// records new template ids in its files.
	Dir string
	// HTTPClient is used for requests when set; otherwise the sendgrid-go
	// default client is used.
	HTTPClient *http.Client
}

// PushOutcome says what Push did with one template.
type PushOutcome string

// The outcomes of Push, one per template.
const (
	// PushCreated: the SendGrid template did not exist for the environment;
	// it was created with an active version and its id recorded.
	PushCreated PushOutcome = "created"
	// PushUpdated: a new active version was added to the existing template.
	PushUpdated PushOutcome = "updated"
	// PushUnchanged: the active version already has this subject and HTML.
	PushUnchanged PushOutcome = "unchanged"
)

// PushResult is what Push did with one template.
type PushResult struct {
	Template   string
	TemplateID string
	Outcome    PushOutcome
	// VersionID is the new active version; empty when unchanged.
	VersionID string
}

// String formats the result as the CLI prints it.
func (r PushResult) String() string {
	s := fmt.Sprintf("%-9s %s %s", r.Outcome, r.Template, r.TemplateID)
	if r.VersionID != "" {
		s += " version " + r.VersionID
	}
	return s
}

// sgTemplate is the part of SendGrid's template resource Push reads.
type sgTemplate struct {
	ID       string `json:"id"`
	Versions []struct {
		ID          string `json:"id"`
		Active      int    `json:"active"`
		Subject     string `json:"subject"`
		HTMLContent string `json:"html_content"`
	} `json:"versions"`
}

// sgVersion is the body of POST /v3/templates/{id}/versions.
type sgVersion struct {
	Name                 string `json:"name"`
	Subject              string `json:"subject"`
	HTMLContent          string `json:"html_content"`
	Active               int    `json:"active"`
	GeneratePlainContent bool   `json:"generate_plain_content"`
}

// Push uploads every template in cfg.Dir to SendGrid as a dynamic template
// for cfg.Environment: it creates the template when the front matter has no
// id for the environment (and writes the new id into the file at once, so a
// later failure never leaves an orphan to be created twice), then adds an
// active version with Catalog.Source's subject and HTML unless the active
// version already has exactly those. Templates are pushed in name order;
// on error the results so far are returned with it.
func Push(ctx context.Context, cfg PushConfig) ([]PushResult, error) {
	if err := CheckPushEnvironment(cfg.Environment); err != nil {
		return nil, err
	}
	api, err := newAPIClient("PushConfig", cfg.APIKey, cfg.BaseURL, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	catalog, err := loadCatalog(os.DirFS(cfg.Dir), ".")
	if err != nil {
		return nil, fmt.Errorf("%w (templates directory %s)", err, cfg.Dir)
	}
	var results []PushResult
	for _, name := range catalog.Names() {
		r, err := pushTemplate(ctx, &api, catalog, cfg, name)
		if err != nil {
			return results, fmt.Errorf("mail: push %s to %s: %w", name, cfg.Environment, err)
		}
		results = append(results, r)
	}
	return results, nil
}

// MaxEnvironmentLen is the longest environment name a push takes.
const MaxEnvironmentLen = 32

// CheckPushEnvironment refuses an environment Push cannot push to: one
// that is not a template_ids key (at most MaxEnvironmentLen long), or
// local. The API's record of a push checks its environment with it too.
func CheckPushEnvironment(env string) error {
	if !validEnv.MatchString(env) || len(env) > MaxEnvironmentLen {
		return fmt.Errorf("mail: push: environment %q must match %s and be at most %d characters", env, validEnv, MaxEnvironmentLen)
	}
	if env == EnvironmentLocal {
		return errors.New("mail: push: the local environment sends to the outbox by template name; push to staging or production")
	}
	return nil
}

// pushTemplate makes SendGrid's active version of one template match its
// source.
func pushTemplate(ctx context.Context, api *apiClient, c *Catalog, cfg PushConfig, name string) (PushResult, error) {
	src, err := c.Source(name)
	if err != nil {
		return PushResult{}, err
	}
	r := PushResult{Template: name, Outcome: PushUpdated}
	id, ok := c.TemplateID(name, cfg.Environment)
	if ok {
		var t sgTemplate
		if err := api.call(ctx, rest.Get, "/v3/templates/"+url.PathEscape(id), nil, &t); err != nil {
			var pe *ProviderError
			if errors.As(err, &pe) && pe.StatusCode == http.StatusNotFound {
				return r, fmt.Errorf("SendGrid has no template %s; remove template_ids.%s from %s.hbs to create a new one: %w", id, cfg.Environment, name, err)
			}
			return r, err
		}
		for _, v := range t.Versions {
			if v.Active == 1 && v.Subject == src.Subject && v.HTMLContent == src.HTML {
				r.TemplateID, r.Outcome = id, PushUnchanged
				return r, nil
			}
		}
	} else {
		var t sgTemplate
		create := map[string]string{"name": sendGridName(name, cfg.Environment), "generation": "dynamic"}
		if err := api.call(ctx, rest.Post, "/v3/templates", create, &t); err != nil {
			return r, err
		}
		if !validTemplateID.MatchString(t.ID) {
			return r, fmt.Errorf("SendGrid answered template id %q, not a dynamic template id", t.ID)
		}
		id, r.Outcome = t.ID, PushCreated
		if err := recordTemplateID(filepath.Join(cfg.Dir, name+".hbs"), cfg.Environment, id); err != nil {
			return r, fmt.Errorf("created SendGrid template %s but could not record it (add template_ids.%s: %s by hand): %w", id, cfg.Environment, id, err)
		}
	}
	r.TemplateID = id

	var v struct {
		ID string `json:"id"`
	}
	version := sgVersion{
		Name:                 versionName(name, src),
		Subject:              src.Subject,
		HTMLContent:          src.HTML,
		Active:               1,
		GeneratePlainContent: true,
	}
	if err := api.call(ctx, rest.Post, "/v3/templates/"+url.PathEscape(id)+"/versions", version, &v); err != nil {
		return r, err
	}
	r.VersionID = v.ID
	return r, nil
}

// call sends body as JSON (when not nil) and decodes the answer into out.
func (c *apiClient) call(ctx context.Context, method rest.Method, endpoint string, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	resp, err := c.do(ctx, method, endpoint, b)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, endpoint, err)
	}
	if err := json.Unmarshal([]byte(resp.Body), out); err != nil {
		return fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, endpoint, err)
	}
	return nil
}

// sendGridName is the template's name in the SendGrid UI, where templates
// of several environments may share one account.
func sendGridName(name, env string) string {
	return "memberflow " + env + " " + name
}

// versionName names a version by its content, so SendGrid's version list
// shows which source is live (SendGrid allows 100 characters).
func versionName(name string, src TemplateSource) string {
	sum := sha256.Sum256([]byte(src.Subject + "\x00" + src.HTML))
	return name + " " + hex.EncodeToString(sum[:6])
}

// recordTemplateID writes template_ids.<env>: <id> into the front matter of
// the file at path, keeping everything else byte for byte.
func recordTemplateID(path, env, id string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := setTemplateID(src, env, id)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, info.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

var (
	// templateIDsKey is the top-level template_ids key of a block mapping,
	// possibly followed by a comment.
	templateIDsKey = regexp.MustCompile(`^template_ids:[ \t]*(#.*)?$`)
	// templateIDsEmpty is an empty flow mapping.
	templateIDsEmpty = regexp.MustCompile(`^template_ids:[ \t]*\{[ \t]*\}[ \t]*(#.*)?$`)
	// indentOf captures the indentation of a line inside a block.
	indentOf = regexp.MustCompile(`^([ \t]+)\S`)
)

// setTemplateID returns src with template_ids.<env> set to id. It edits the
// text rather than re-encoding the YAML, so comments, quoting and key order
// stay as the author wrote them: an existing "  <env>: …" line under
// template_ids is replaced, otherwise a line is added to the block, or the
// block to the end of the front matter. Forms it does not recognise (a
// non-empty flow mapping) are refused rather than guessed at. The result is
// decoded again to prove the edit.
func setTemplateID(src []byte, env, id string) ([]byte, error) {
	if !validEnv.MatchString(env) || !validTemplateID.MatchString(id) {
		return nil, fmt.Errorf("invalid environment %q or template id %q", env, id)
	}
	nl := "\n"
	if bytes.Contains(src, []byte("\r\n")) {
		nl = "\r\n"
	}
	lines := strings.SplitAfter(string(src), "\n")
	trim := func(l string) string { return strings.TrimRight(l, "\r\n") }
	if len(lines) == 0 || strings.TrimPrefix(trim(lines[0]), "\ufeff") != "---" {
		return nil, errors.New(`front matter: file must start with a "---" line`)
	}
	end := -1
	for i := 1; i < len(lines); i++ {
		if trim(lines[i]) == "---" {
			end = i
			break
		}
	}
	if end < 0 {
		return nil, errors.New(`front matter: closing "---" line not found`)
	}

	entry := func(indent string) string { return indent + env + ": " + id + nl }
	var out []string
	switch key := findKey(lines[1:end]) + 1; {
	case key == 0:
		out = slices.Concat(lines[:end], []string{"template_ids:" + nl, entry("  ")}, lines[end:])
	case templateIDsEmpty.MatchString(trim(lines[key])):
		out = slices.Concat(lines[:key], []string{"template_ids:" + nl, entry("  ")}, lines[key+1:])
	case templateIDsKey.MatchString(trim(lines[key])):
		indent, last, replace := "  ", key, -1
		for i := key + 1; i < end; i++ {
			l := trim(lines[i])
			if strings.TrimSpace(l) == "" {
				continue
			}
			m := indentOf.FindStringSubmatch(l)
			if m == nil {
				break // the next top-level key
			}
			last = i
			if strings.HasPrefix(strings.TrimSpace(l), "#") {
				continue
			}
			indent = m[1]
			if k, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && strings.Trim(k, `"'`) == env {
				replace = i
			}
		}
		if replace >= 0 {
			out = slices.Concat(lines[:replace], []string{entry(indent)}, lines[replace+1:])
		} else {
			out = slices.Concat(lines[:last+1], []string{entry(indent)}, lines[last+1:])
		}
	default:
		return nil, errors.New("front matter: template_ids is not a block mapping; set the id by hand")
	}

	result := []byte(strings.Join(out, ""))
	front, _, err := splitFrontMatter(result)
	if err != nil {
		return nil, err
	}
	fm, err := decodeFrontMatter(front)
	if err != nil {
		return nil, fmt.Errorf("after recording the id: %w", err)
	}
	if fm.TemplateIDs[env] != id {
		return nil, errors.New("after recording the id the front matter does not have it; set it by hand")
	}
	return result, nil
}

// findKey returns the index of the top-level template_ids line, or -1.
func findKey(front []string) int {
	for i, l := range front {
		if strings.HasPrefix(l, "template_ids:") {
			return i
		}
	}
	return -1
}
