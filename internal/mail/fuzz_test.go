package mail

import (
	"errors"
	"html"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
	"github.com/memberflow/memberflow/templates"
)

// fuzzUnsubscribeURL is the unsubscribe link the fuzz target renders with.
const fuzzUnsubscribeURL = "https://memberflow.example/v1/unsubscribe?token=t0k3n"

// FuzzTemplateFrontMatter checks template parsing on any file, with the
// shipped partials. What it accepts keeps the front matter's promises
// (subject, a valid group, required variables listed once with
// unsubscribe_url among them and an example for each step variable, valid
// template ids), uploads a source without partials that links to the
// unsubscribe URL, renders with its examples or fails with a
// *TemplateError, and takes a template id from push with nothing else
// changing.
func FuzzTemplateFrontMatter(f *testing.F) {
	partials, err := loadPartials(templates.Email, path.Join(emailDir, partialsDir))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		e, err := parseTemplate(src, partials)
		if err != nil {
			if e != nil {
				t.Fatalf("parseTemplate returned an entry with its error %v", err)
			}
			return
		}
		checkEntry(t, e)

		c := &Catalog{templates: map[string]*entry{"t": e}}
		data := map[string]any{"name": "Lin Wei", "brand": "Memberflow Demo", "shop_url": "https://shop.example.com", UnsubscribeVar: fuzzUnsubscribeURL}
		for k, v := range e.examples {
			data[k] = v
		}
		r, err := c.Render("t", data)
		var te *TemplateError
		switch {
		case err != nil && !errors.As(err, &te):
			t.Fatalf("Render error %v is %T, want *TemplateError", err, err)
		case err != nil && len(te.Missing) > 0:
			t.Fatalf("Render with every required variable set says %v are missing", te.Missing)
		case err == nil && !strings.Contains(r.HTML, html.EscapeString(fuzzUnsubscribeURL)):
			t.Fatalf("rendered HTML has no unsubscribe link:\n%s", r.HTML)
		}

		out, err := setTemplateID(src, "staging", "d-new")
		if err != nil {
			return
		}
		e2, err := parseTemplate(out, partials)
		if err != nil {
			t.Fatalf("the file push wrote no longer parses: %v\n%s", err, out)
		}
		want := maps.Clone(e.ids)
		if want == nil {
			want = map[string]string{}
		}
		want["staging"] = "d-new"
		if !maps.Equal(e2.ids, want) {
			t.Fatalf("template_ids after push = %v, want %v", e2.ids, want)
		}
		if e2.source != e.source || e2.group != e.group || !slices.Equal(e2.required, e.required) || !maps.Equal(e2.examples, e.examples) {
			t.Fatalf("push changed more than the id:\n%+v\n%+v", e2, e)
		}
	})
}

// checkEntry checks what parseTemplate promises of an accepted template.
func checkEntry(t *testing.T, e *entry) {
	t.Helper()
	if strings.TrimSpace(e.source.Subject) == "" || !validName.MatchString(e.group) {
		t.Fatalf("accepted subject %q, group %q", e.source.Subject, e.group)
	}
	seen := map[string]bool{}
	for _, v := range e.required {
		if strings.TrimSpace(v) == "" || seen[v] {
			t.Fatalf("required %q lists an empty or repeated name", e.required)
		}
		seen[v] = true
		if _, ok := e.examples[v]; !ok && !slices.Contains(BaseVars, v) {
			t.Fatalf("step variable %s has no example", v)
		}
	}
	if !seen[UnsubscribeVar] {
		t.Fatalf("required %q lacks %s", e.required, UnsubscribeVar)
	}
	for k, v := range e.examples {
		if !seen[k] || slices.Contains(BaseVars, k) || strings.TrimSpace(v) == "" {
			t.Fatalf("example %s = %q: not a required step variable, or empty", k, v)
		}
	}
	for env, id := range e.ids {
		if !validEnv.MatchString(env) || !validTemplateID.MatchString(id) {
			t.Fatalf("template_ids.%s = %q", env, id)
		}
	}
	if partialTag.MatchString(e.source.HTML) || strings.Contains(e.source.HTML, "{{#>") {
		t.Fatalf("uploaded source still calls a partial:\n%s", e.source.HTML)
	}
	if !unsubscribeRef.MatchString(e.source.HTML) {
		t.Fatalf("uploaded source does not link to %s", UnsubscribeVar)
	}
	if e.subject == nil || e.preheader == nil || e.html == nil {
		t.Fatal("an accepted template lacks a parsed part")
	}
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzTemplateFrontMatter equal to the
// template files the tests parse: every shipped template and the files of
// catalog_test.go and frontmatter_test.go. go test ./internal/mail -run
// TestFuzzSeeds -update-seeds rewrites it.
func TestFuzzSeeds(t *testing.T) {
	var seeds []fuzzseed.Seed
	add := func(name, src string) { seeds = append(seeds, fuzzseed.New(name, []byte(src))) }

	files, err := fs.Glob(templates.Email, path.Join(emailDir, "*.hbs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		b, err := fs.ReadFile(templates.Email, file)
		if err != nil {
			t.Fatal(err)
		}
		add("shipped-"+strings.ReplaceAll(strings.TrimSuffix(path.Base(file), ".hbs"), "_", "-"), string(b))
	}

	// TestLoadCatalogErrors.
	good := "---\nsubject: Hi {{name}}\ngroup: activation\nrequired: [name, unsubscribe_url]\n---\n<p>{{name}}</p>{{> footer}}\n"
	add("catalog-good", good)
	add("catalog-good-crlf", strings.ReplaceAll(good, "\n", "\r\n"))
	for _, s := range []struct{ name, content string }{
		{"no-front-matter", "<p>hi</p>\n"},
		{"unclosed-front-matter", "---\nsubject: x\n<p>hi</p>\n"},
		{"empty-front-matter", "---\n---\n<p>hi</p>\n"},
		{"invalid-yaml", "---\nsubject: [unclosed\n---\n<p>hi</p>\n"},
		{"unknown-key", "---\nsubject: x\ngroup: g\nrequried: [name]\n---\n<p>hi</p>\n"},
		{"missing-subject", "---\npreheader: x\n---\n<p>hi</p>\n"},
		{"missing-group", "---\nsubject: x\nrequired: [unsubscribe_url]\n---\n{{> footer}}\n"},
		{"bad-group", "---\nsubject: x\ngroup: a-b\nrequired: [unsubscribe_url]\n---\n{{> footer}}\n"},
		{"required-not-a-list", "---\nsubject: x\ngroup: g\nrequired: name\n---\n<p>hi</p>\n"},
		{"duplicate-required", "---\nsubject: x\ngroup: g\nrequired: [a, a]\n---\n<p>hi</p>\n"},
		{"unsubscribe-url-not-required", "---\nsubject: x\ngroup: g\nrequired: [name]\n---\n{{> footer}}\n"},
		{"no-unsubscribe-link", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\n---\n<p>hi</p>\n"},
		{"template-ids-not-a-map", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\ntemplate_ids: d-1\n---\n{{> footer}}\n"},
		{"template-id-not-dynamic", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\ntemplate_ids: {staging: 0123-abcd}\n---\n{{> footer}}\n"},
		{"bad-environment", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\ntemplate_ids: {Prod: d-1}\n---\n{{> footer}}\n"},
		{"unknown-partial", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\n---\n{{> header}}{{> footer}}\n"},
		{"partial-with-context", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\n---\n{{> footer member}}\n"},
		{"partial-block", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\n---\n{{#> footer}}x{{/footer}}\n"},
		{"bad-subject-handlebars", "---\nsubject: \"{{#if x}}\"\ngroup: g\nrequired: [unsubscribe_url]\n---\n{{> footer}}\n"},
		{"bad-preheader-handlebars", "---\nsubject: x\npreheader: \"{{#if x}}\"\ngroup: g\nrequired: [unsubscribe_url]\n---\n{{> footer}}\n"},
		{"bad-body-handlebars", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\n---\n<p>{{name</p>{{> footer}}\n"},
		{"step-variable-without-example", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url, coupon_code]\n---\n{{> footer}}\n"},
		{"example-not-required", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url, coupon_code]\nexample: {coupon_code: C15-1, coupon_name: x}\n---\n{{> footer}}\n"},
		{"example-for-a-base-variable", "---\nsubject: x\ngroup: g\nrequired: [name, unsubscribe_url]\nexample: {name: Lin}\n---\n{{> footer}}\n"},
		{"empty-example", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url, coupon_code]\nexample: {coupon_code: \" \"}\n---\n{{> footer}}\n"},
		{"example-not-a-map", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url, coupon_code]\nexample: [coupon_code]\n---\n{{> footer}}\n"},
	} {
		add("catalog-"+s.name, s.content)
	}

	// The single-file catalogs of the other catalog tests.
	add("zero-numbers", "---\nsubject: \"{{points}} points\"\ngroup: g\nrequired: [points, unsubscribe_url]\nexample: {points: \"1200\"}\n---\n<p>{{points}}</p><a href=\"{{unsubscribe_url}}\">x</a>\n")
	add("preheader-escaped", "---\nsubject: s\npreheader: \"Tom & Jerry <3 {{{name}}}, {{name}} {{#if vip}}VIP{{/if}}\"\ngroup: g\nrequired: [name, unsubscribe_url]\n---\n<a href=\"{{unsubscribe_url}}\">u</a>\n")
	add("no-preheader", "---\nsubject: s\ngroup: g\nrequired: [unsubscribe_url]\n---\n<a href=\"{{unsubscribe_url}}\">u</a>\n")
	add("standalone-partial", "---\nsubject: s\ngroup: g\nrequired: [unsubscribe_url]\n---\n<div>\n    {{> footer}}\n</div>\n<p>{{> sig}}!</p>\n")
	add("template-ids", "---\nsubject: s\ngroup: g\nrequired: [unsubscribe_url]\ntemplate_ids:\n  staging: d-aaa1\n  production: d-aaa2\n---\n<a href=\"{{unsubscribe_url}}\">u</a>\n")

	// TestSetTemplateID.
	const body = "---\n<a href=\"{{unsubscribe_url}}\">u</a>\n"
	head := "---\n# why\nsubject: \"Hi {{{name}}}\" # plain text\ngroup: activation\nrequired: [name, unsubscribe_url]\n"
	for _, s := range []struct{ name, front string }{
		{"no-template-ids", head},
		{"empty-flow-mapping", head + "template_ids: {}\n"},
		{"block-with-comments", "---\ntemplate_ids: # per environment\n    # production first\n    production: d-p\n\nsubject: s\ngroup: g\nrequired: [unsubscribe_url]\n"},
		{"existing-id", head + "template_ids:\n  staging: d-old # was\n  production: d-p\n"},
		{"quoted-key", head + "template_ids:\n  \"staging\": d-old\n"},
		{"non-empty-flow-mapping", head + "template_ids: {production: d-p}\n"},
		{"duplicate-key", head + "template_ids:\n  staging: d-old\n  staging: d-dup\n"},
	} {
		add("push-"+s.name, s.front+body)
	}
	add("push-crlf", strings.ReplaceAll(head+body, "\n", "\r\n"))

	fuzzseed.Check(t, "FuzzTemplateFrontMatter", seeds)
}
