package mail

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"maps"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mailgun/raymond/v2"
	"gopkg.in/yaml.v3"
)

// emailDir is where LoadCatalog looks; it matches the layout of
// templates.Email so the embedded FS can be passed as is.
const emailDir = "email"

// partialsDir holds the partials, relative to the templates directory.
const partialsDir = "partials"

// UnsubscribeVar is the variable every template must require and link to:
// a marketing email without a working unsubscribe link is not sent.
const UnsubscribeVar = "unsubscribe_url"

// BaseVars are the variables every journey email's data carries, whatever
// the step (activities.TemplateData): a template may require them without
// an example. Anything else it requires is a step variable that only a
// journey step supplies, so its front matter must give an example value.
var BaseVars = []string{"name", "brand", "shop_url", UnsubscribeVar}

// validName restricts template, partial and group names so that they are
// safe in file names and never contain the '-' the outbox uses as a
// separator in its file names.
var validName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// validEnv restricts environment names (the keys of template_ids).
var validEnv = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// validTemplateID matches SendGrid dynamic template ids ("d-" and hex).
var validTemplateID = regexp.MustCompile(`^d-[0-9A-Za-z]+$`)

// unsubscribeRef finds a reference to the unsubscribe URL in an HTML source.
var unsubscribeRef = regexp.MustCompile(`\{\{\{?\s*` + UnsubscribeVar + `\s*\}?\}\}`)

// Catalog is a set of parsed email templates. It is immutable after
// LoadCatalog and safe for concurrent use.
type Catalog struct {
	templates map[string]*entry
}

// entry is one parsed template file.
type entry struct {
	subject   *raymond.Template
	preheader *raymond.Template
	html      *raymond.Template
	source    TemplateSource
	required  []string
	examples  map[string]string // step variable → example value
	group     string
	ids       map[string]string // environment → SendGrid template id
}

// Rendered is a template rendered for one recipient.
type Rendered struct {
	Subject   string
	Preheader string
	HTML      string
}

// TemplateSource is a template as SendGrid stores it: the Handlebars subject
// and the HTML with partials inlined and the preheader element in front.
// It is exactly what `memberflow templates push` uploads and what the Catalog
// renders, so a local rendering is what SendGrid renders.
type TemplateSource struct {
	Subject string
	HTML    string
}

// frontMatter is the YAML header of a template file.
type frontMatter struct {
	Subject   string   `yaml:"subject"`
	Preheader string   `yaml:"preheader"`
	Group     string   `yaml:"group"`
	Required  []string `yaml:"required"`
	// Example maps each required step variable (one not in BaseVars) to
	// an example value, which `memberflow templates preview` and the
	// golden files render with.
	Example map[string]string `yaml:"example"`
	// TemplateIDs maps an environment to the SendGrid dynamic template id;
	// `memberflow templates push` records new ids here.
	TemplateIDs map[string]string `yaml:"template_ids"`
}

// LoadCatalog parses every email/<name>.hbs file in fsys, inlining the
// partials in email/partials/<partial>.hbs. The template name is the file's
// base name without ".hbs". Any unreadable file, malformed front matter,
// unknown partial or Handlebars syntax error fails the whole load, naming the
// file, so that a broken template stops the process at start-up rather than
// at the first send.
func LoadCatalog(fsys fs.FS) (*Catalog, error) {
	return loadCatalog(fsys, emailDir)
}

// loadCatalog parses the templates in dir of fsys; push reads a directory on
// disk, every other caller the embedded one.
func loadCatalog(fsys fs.FS, dir string) (*Catalog, error) {
	glob := path.Join(dir, "*.hbs")
	files, err := fs.Glob(fsys, glob)
	if err != nil {
		return nil, fmt.Errorf("mail: list templates: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("mail: no templates match %s", glob)
	}
	partials, err := loadPartials(fsys, path.Join(dir, partialsDir))
	if err != nil {
		return nil, err
	}
	c := &Catalog{templates: make(map[string]*entry, len(files))}
	for _, file := range files {
		name := strings.TrimSuffix(path.Base(file), ".hbs")
		if !validName.MatchString(name) {
			return nil, fmt.Errorf("mail: %s: template name %q must match %s", file, name, validName)
		}
		src, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("mail: %s: %w", file, err)
		}
		e, err := parseTemplate(src, partials)
		if err != nil {
			return nil, fmt.Errorf("mail: %s: %w", file, err)
		}
		c.templates[name] = e
	}
	return c, nil
}

// loadPartials reads dir/<name>.hbs files: plain Handlebars, no front
// matter. A missing directory means no partials.
func loadPartials(fsys fs.FS, dir string) (map[string]string, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.hbs"))
	if err != nil {
		return nil, fmt.Errorf("mail: list partials: %w", err)
	}
	partials := make(map[string]string, len(files))
	for _, file := range files {
		name := strings.TrimSuffix(path.Base(file), ".hbs")
		if !validName.MatchString(name) {
			return nil, fmt.Errorf("mail: %s: partial name %q must match %s", file, name, validName)
		}
		b, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("mail: %s: %w", file, err)
		}
		src := dropLeadingComment(normaliseNewlines(string(b)))
		if partialTag.MatchString(src) || strings.Contains(src, "{{#>") {
			// One level keeps the inlining obviously finite and the
			// uploaded source easy to read.
			return nil, fmt.Errorf("mail: %s: a partial cannot include another partial", file)
		}
		if _, err := raymond.Parse(src); err != nil {
			return nil, fmt.Errorf("mail: %s: %w", file, err)
		}
		partials[name] = src
	}
	return partials, nil
}

// dropLeadingComment removes a {{!-- … --}} comment that opens a partial
// file: it documents the file and need not be uploaded with every template.
func dropLeadingComment(src string) string {
	rest, ok := strings.CutPrefix(src, "{{!--")
	if !ok {
		return src
	}
	_, after, ok := strings.Cut(rest, "--}}")
	if !ok {
		return src // raymond.Parse reports the unclosed comment
	}
	return strings.TrimPrefix(after, "\n")
}

// parseTemplate splits a template file into front matter and body, builds
// the source SendGrid receives and parses all three Handlebars sources.
func parseTemplate(src []byte, partials map[string]string) (*entry, error) {
	front, body, err := splitFrontMatter(src)
	if err != nil {
		return nil, err
	}
	fm, err := decodeFrontMatter(front)
	if err != nil {
		return nil, err
	}

	body, err = inlinePartials(body, partials)
	if err != nil {
		return nil, err
	}
	if !unsubscribeRef.MatchString(body) {
		return nil, fmt.Errorf("body: nothing links to {{%s}}; include {{> footer}}", UnsubscribeVar)
	}
	head, err := preheaderElement(fm.Preheader)
	if err != nil {
		return nil, err
	}

	e := &entry{
		source:   TemplateSource{Subject: fm.Subject, HTML: head + body},
		required: fm.Required,
		examples: fm.Example,
		group:    fm.Group,
		ids:      fm.TemplateIDs,
	}
	if e.subject, err = raymond.Parse(fm.Subject); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	if e.preheader, err = raymond.Parse(fm.Preheader); err != nil {
		return nil, fmt.Errorf("preheader: %w", err)
	}
	if e.html, err = raymond.Parse(e.source.HTML); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return e, nil
}

// decodeFrontMatter decodes and validates the YAML header.
func decodeFrontMatter(front []byte) (frontMatter, error) {
	var fm frontMatter
	dec := yaml.NewDecoder(bytes.NewReader(front))
	// Unknown keys are rejected because a typo such as "requried" would
	// otherwise silently disable the missing-variable check.
	dec.KnownFields(true)
	if err := dec.Decode(&fm); err != nil {
		if errors.Is(err, io.EOF) {
			return fm, errors.New("front matter is empty")
		}
		return fm, fmt.Errorf("front matter: %w", err)
	}
	if strings.TrimSpace(fm.Subject) == "" {
		return fm, errors.New("front matter: subject is required")
	}
	if fm.Group == "" {
		return fm, errors.New("front matter: group is required (the email group members unsubscribe from, e.g. activation)")
	}
	if !validName.MatchString(fm.Group) {
		return fm, fmt.Errorf("front matter: group %q must match %s", fm.Group, validName)
	}
	seen := make(map[string]bool, len(fm.Required))
	for _, v := range fm.Required {
		if strings.TrimSpace(v) == "" {
			return fm, errors.New("front matter: required contains an empty name")
		}
		if seen[v] {
			return fm, fmt.Errorf("front matter: required lists %q twice", v)
		}
		seen[v] = true
	}
	if !seen[UnsubscribeVar] {
		return fm, fmt.Errorf("front matter: required must list %s: every email links to it", UnsubscribeVar)
	}
	if err := checkExamples(fm); err != nil {
		return fm, err
	}
	for env, id := range fm.TemplateIDs {
		if !validEnv.MatchString(env) {
			return fm, fmt.Errorf("front matter: template_ids: environment %q must match %s", env, validEnv)
		}
		if !validTemplateID.MatchString(id) {
			return fm, fmt.Errorf("front matter: template_ids.%s: %q is not a SendGrid dynamic template id (d-…)", env, id)
		}
	}
	return fm, nil
}

// checkExamples makes sure every required step variable has an example, so
// that every template can be previewed without a journey, and that every
// example belongs to a required step variable, so that a renamed variable
// leaves no stale example behind. Keys are checked in sorted order to name
// the same one on every run.
func checkExamples(fm frontMatter) error {
	for _, v := range fm.Required {
		if slices.Contains(BaseVars, v) {
			continue
		}
		if _, ok := fm.Example[v]; !ok {
			return fmt.Errorf("front matter: required step variable %q has no example (give one under example:, or use only %s)", v, strings.Join(BaseVars, ", "))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(fm.Example)) {
		switch {
		case slices.Contains(BaseVars, k):
			return fmt.Errorf("front matter: example.%s: %s is a base variable every send supplies; remove the example", k, k)
		case !slices.Contains(fm.Required, k):
			return fmt.Errorf("front matter: example.%s: %s is not in required", k, k)
		case strings.TrimSpace(fm.Example[k]) == "":
			return fmt.Errorf("front matter: example.%s is empty", k)
		}
	}
	return nil
}

// normaliseNewlines turns "\r\n" into "\n" and drops a byte order mark, so
// that a file saved on Windows renders (and compares against golden files)
// identically.
func normaliseNewlines(s string) string {
	return strings.TrimPrefix(strings.ReplaceAll(s, "\r\n", "\n"), "\ufeff")
}

// splitFrontMatter returns the YAML between the leading "---" line and the
// next "---" line, and everything after that as the body, with line endings
// normalised.
func splitFrontMatter(src []byte) (front []byte, body string, err error) {
	s := normaliseNewlines(string(src))
	rest, ok := strings.CutPrefix(s, "---\n")
	if !ok {
		return nil, "", errors.New(`front matter: file must start with a "---" line`)
	}
	if strings.HasPrefix(rest, "---\n") {
		return nil, "", errors.New("front matter is empty")
	}
	i := strings.Index(rest, "\n---\n")
	if i < 0 {
		if strings.HasSuffix(rest, "\n---") {
			return []byte(strings.TrimSuffix(rest, "\n---")), "", nil
		}
		return nil, "", errors.New(`front matter: closing "---" line not found`)
	}
	return []byte(rest[:i+1]), rest[i+len("\n---\n"):], nil
}

// partialTag is a partial call. Only the plain form {{> name}} is inlined;
// anything else that looks like a partial is an error.
var (
	partialTag    = regexp.MustCompile(`\{\{~?\s*>`)
	plainPartial  = regexp.MustCompile(`\{\{>\s*([A-Za-z0-9_]+)\s*\}\}`)
	standaloneTag = regexp.MustCompile(`^([ \t]*)\{\{>\s*([A-Za-z0-9_]+)\s*\}\}[ \t]*$`)
)

// inlinePartials replaces every {{> name}} in body by the partial's source.
// SendGrid's dynamic templates have no partials, so they are resolved here,
// textually, before both upload and local rendering. A tag alone on its line
// is replaced by the partial indented like the tag, as Handlebars itself
// does with standalone partials; elsewhere the partial goes in as it is,
// without its final newline.
func inlinePartials(body string, partials map[string]string) (string, error) {
	if !partialTag.MatchString(body) && !strings.Contains(body, "{{#>") {
		return body, nil
	}
	lines := strings.SplitAfter(body, "\n")
	var b strings.Builder
	var unknown []string
	lookup := func(name string) string {
		p, ok := partials[name]
		if !ok {
			unknown = append(unknown, name)
		}
		return p
	}
	for _, line := range lines {
		text, nl := strings.CutSuffix(line, "\n")
		if m := standaloneTag.FindStringSubmatch(text); m != nil {
			p := strings.TrimSuffix(lookup(m[2]), "\n")
			for i, pl := range strings.Split(p, "\n") {
				if i > 0 {
					b.WriteString("\n")
				}
				if pl != "" {
					b.WriteString(m[1] + pl)
				}
			}
			if nl {
				b.WriteString("\n")
			}
			continue
		}
		b.WriteString(plainPartial.ReplaceAllStringFunc(line, func(tag string) string {
			return strings.TrimSuffix(lookup(plainPartial.FindStringSubmatch(tag)[1]), "\n")
		}))
	}
	if len(unknown) > 0 {
		return "", fmt.Errorf("body: unknown partial %q (partials live in %s/<name>.hbs)", unknown[0], partialsDir)
	}
	out := b.String()
	if partialTag.MatchString(out) || strings.Contains(out, "{{#>") {
		return "", errors.New("body: only {{> name}} partials without parameters or blocks are supported")
	}
	return out, nil
}

// preheaderOpen is the usual hidden preheader element: inbox lists show its
// text next to the subject, the opened email does not.
const preheaderOpen = `<div style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all;">`

// mustache matches one Handlebars expression, triple-stash first.
var mustache = regexp.MustCompile(`\{\{\{[^{}]*\}\}\}|\{\{[^{}]*\}\}`)

// htmlText escapes literal text for an HTML element's content.
var htmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// preheaderElement turns the front matter's plain-text preheader into the
// hidden element that starts the HTML, still as Handlebars: literal text is
// HTML-escaped and {{{x}}} becomes {{x}}, so values are escaped in the HTML
// while Rendered.Preheader stays plain text. An empty preheader adds nothing.
func preheaderElement(preheader string) (string, error) {
	if strings.TrimSpace(preheader) == "" {
		return "", nil
	}
	if strings.Contains(preheader, "{{{{") || strings.Contains(preheader, `\{{`) {
		return "", errors.New("preheader: raw blocks and escaped mustaches are not supported")
	}
	var b strings.Builder
	b.WriteString(preheaderOpen)
	last := 0
	for _, loc := range mustache.FindAllStringIndex(preheader, -1) {
		b.WriteString(htmlText.Replace(preheader[last:loc[0]]))
		tag := preheader[loc[0]:loc[1]]
		switch {
		case strings.HasPrefix(tag, "{{{"):
			tag = "{{" + tag[3:len(tag)-3] + "}}"
		case strings.HasPrefix(tag, "{{&"):
			tag = "{{" + tag[3:]
		}
		b.WriteString(tag)
		last = loc[1]
	}
	b.WriteString(htmlText.Replace(preheader[last:]))
	b.WriteString("</div>\n")
	return b.String(), nil
}

// Names returns the names of all templates, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.templates))
	for n := range c.templates {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookup returns the named entry or an unknown-template error.
func (c *Catalog) lookup(name string) (*entry, error) {
	e, ok := c.templates[name]
	if !ok {
		return nil, &TemplateError{Template: name, Err: errUnknownTemplate}
	}
	return e, nil
}

// Required returns the variables the named template requires, in declared
// order. The slice is a copy.
func (c *Catalog) Required(name string) ([]string, error) {
	e, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), e.required...), nil
}

// Examples returns the example values of the named template's step
// variables, for previews and golden files; base variables have none. The
// map is a copy, never nil.
func (c *Catalog) Examples(name string) (map[string]string, error) {
	e, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	examples := make(map[string]string, len(e.examples))
	maps.Copy(examples, e.examples)
	return examples, nil
}

// Group returns the named template's email group: the journey kind whose
// SendGrid unsubscribe (ASM) group its sends belong to.
func (c *Catalog) Group(name string) (string, error) {
	e, err := c.lookup(name)
	if err != nil {
		return "", err
	}
	return e.group, nil
}

// TemplateID returns the SendGrid dynamic template id of the named template
// in env, as recorded in its front matter. ok is false when the template is
// unknown or has not been pushed to env.
func (c *Catalog) TemplateID(name, env string) (id string, ok bool) {
	e, found := c.templates[name]
	if !found {
		return "", false
	}
	id, ok = e.ids[env]
	return id, ok
}

// NameForTemplateID returns the name of the template that has id in any
// environment, so the outbox can render a send addressed by SendGrid id.
func (c *Catalog) NameForTemplateID(id string) (string, bool) {
	for _, name := range c.Names() {
		for _, v := range c.templates[name].ids {
			if v == id {
				return name, true
			}
		}
	}
	return "", false
}

// Source returns what SendGrid stores for the named template: the
// Handlebars subject and HTML (partials inlined, preheader element first).
func (c *Catalog) Source(name string) (TemplateSource, error) {
	e, err := c.lookup(name)
	if err != nil {
		return TemplateSource{}, err
	}
	return e.source, nil
}

// Render renders the named template's subject, preheader and HTML body with
// data. It fails with a *TemplateError (matching ErrTemplate) when the
// template is unknown, when any required variable is missing or empty (all
// of them are named), or when Handlebars evaluation fails.
func (c *Catalog) Render(name string, data map[string]any) (Rendered, error) {
	e, err := c.lookup(name)
	if err != nil {
		return Rendered{}, err
	}
	var missing []string
	for _, v := range e.required {
		if isEmpty(data[v]) {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		return Rendered{}, &TemplateError{Template: name, Missing: missing}
	}
	if data == nil {
		data = map[string]any{}
	}

	var r Rendered
	if r.Subject, err = e.subject.Exec(data); err != nil {
		return Rendered{}, &TemplateError{Template: name, Err: fmt.Errorf("subject: %w", err)}
	}
	if r.Preheader, err = e.preheader.Exec(data); err != nil {
		return Rendered{}, &TemplateError{Template: name, Err: fmt.Errorf("preheader: %w", err)}
	}
	if r.HTML, err = e.html.Exec(data); err != nil {
		return Rendered{}, &TemplateError{Template: name, Err: fmt.Errorf("body: %w", err)}
	}
	return r, nil
}

// Document wraps a rendered body in a minimal HTML document whose only
// addition is the subject as <title> (plus a charset, so that a browser
// opening the file shows non-ASCII text correctly). The outbox writes it and
// `memberflow templates preview` prints it, byte for byte the same.
func (r Rendered) Document() string {
	return "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>" +
		html.EscapeString(r.Subject) +
		"</title>\n</head>\n<body>\n" +
		r.HTML +
		"</body>\n</html>\n"
}

// isEmpty reports whether a required variable's value would render as
// nothing: absent, nil, a blank string, or an empty list or map. Numbers and
// booleans count as present even when zero, because 0 is a legitimate value
// (for example a points balance).
func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s) == ""
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
