package mail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/mailgun/raymond/v2"
	"gopkg.in/yaml.v3"
)

// templateGlob is where LoadCatalog looks; it matches the layout of
// templates.Email so the embedded FS can be passed as is.
const templateGlob = "email/*.hbs"

// validName restricts template names so that they are safe in file names and
// never contain the '-' the outbox uses as a separator in its file names.
var validName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

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
	required  []string
}

// Rendered is a template rendered for one recipient.
type Rendered struct {
	Subject   string
	Preheader string
	HTML      string
}

// frontMatter is the YAML header of a template file.
type frontMatter struct {
	Subject   string   `yaml:"subject"`
	Preheader string   `yaml:"preheader"`
	Required  []string `yaml:"required"`
}

// LoadCatalog parses every email/*.hbs file in fsys. The template name is the
// file's base name without ".hbs". Any unreadable file, malformed front
// matter or Handlebars syntax error fails the whole load, naming the file, so
// that a broken template stops the process at start-up rather than at the
// first send.
func LoadCatalog(fsys fs.FS) (*Catalog, error) {
	files, err := fs.Glob(fsys, templateGlob)
	if err != nil {
		return nil, fmt.Errorf("mail: list templates: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("mail: no templates match %s", templateGlob)
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
		e, err := parseTemplate(src)
		if err != nil {
			return nil, fmt.Errorf("mail: %s: %w", file, err)
		}
		c.templates[name] = e
	}
	return c, nil
}

// parseTemplate splits a template file into front matter and body and
// parses all three Handlebars sources.
func parseTemplate(src []byte) (*entry, error) {
	front, body, err := splitFrontMatter(src)
	if err != nil {
		return nil, err
	}

	var fm frontMatter
	dec := yaml.NewDecoder(bytes.NewReader(front))
	// Unknown keys are rejected because a typo such as "requried" would
	// otherwise silently disable the missing-variable check.
	dec.KnownFields(true)
	if err := dec.Decode(&fm); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("front matter is empty")
		}
		return nil, fmt.Errorf("front matter: %w", err)
	}
	if strings.TrimSpace(fm.Subject) == "" {
		return nil, errors.New("front matter: subject is required")
	}
	seen := make(map[string]bool, len(fm.Required))
	for _, v := range fm.Required {
		if strings.TrimSpace(v) == "" {
			return nil, errors.New("front matter: required contains an empty name")
		}
		if seen[v] {
			return nil, fmt.Errorf("front matter: required lists %q twice", v)
		}
		seen[v] = true
	}

	e := &entry{required: fm.Required}
	if e.subject, err = raymond.Parse(fm.Subject); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	if e.preheader, err = raymond.Parse(fm.Preheader); err != nil {
		return nil, fmt.Errorf("preheader: %w", err)
	}
	if e.html, err = raymond.Parse(body); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return e, nil
}

// splitFrontMatter returns the YAML between the leading "---" line and the
// next "---" line, and everything after that as the body. Line endings are
// normalised to "\n" so that a file saved on Windows renders (and compares
// against golden files) identically.
func splitFrontMatter(src []byte) (front []byte, body string, err error) {
	s := strings.ReplaceAll(string(src), "\r\n", "\n")
	s = strings.TrimPrefix(s, "\ufeff")
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

// Names returns the names of all templates, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.templates))
	for n := range c.templates {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Required returns the variables the named template requires, in declared
// order. The slice is a copy.
func (c *Catalog) Required(name string) ([]string, error) {
	e, ok := c.templates[name]
	if !ok {
		return nil, &TemplateError{Template: name, Err: errUnknownTemplate}
	}
	return append([]string(nil), e.required...), nil
}

// Render renders the named template's subject, preheader and HTML body with
// data. It fails with a *TemplateError (matching ErrTemplate) when the
// template is unknown, when any required variable is missing or empty (all
// of them are named), or when Handlebars evaluation fails.
func (c *Catalog) Render(name string, data map[string]any) (Rendered, error) {
	e, ok := c.templates[name]
	if !ok {
		return Rendered{}, &TemplateError{Template: name, Err: errUnknownTemplate}
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
	var err error
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
