package mail_test

import (
	"errors"
	"flag"
	"html"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/mailgun/raymond/v2"

	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/templates"
)

// update regenerates the golden files instead of comparing against them:
// go test ./internal/mail -update
var update = flag.Bool("update", false, "rewrite testdata/golden files")

// sampleData is the base data the golden files are rendered with: what
// every send carries (mail.BaseVars).
func sampleData() map[string]any {
	return map[string]any{
		"name":            "Lin Wei",
		"brand":           "Memberflow Demo",
		"shop_url":        "https://shop.example.com",
		"unsubscribe_url": "https://memberflow.example/v1/unsubscribe?token=t0k3n",
	}
}

// templateData is sampleData plus the named template's example step
// variables, as `memberflow templates preview` renders it.
func templateData(t *testing.T, c *mail.Catalog, name string) map[string]any {
	t.Helper()
	examples, err := c.Examples(name)
	if err != nil {
		t.Fatalf("Examples(%q): %v", name, err)
	}
	data := sampleData()
	for k, v := range examples {
		if _, ok := data[k]; ok {
			t.Fatalf("%s has an example for base variable %s", name, k)
		}
		data[k] = v
	}
	return data
}

// baseRequired is what every template requires before its step variables.
var baseRequired = []string{"name", "brand", "shop_url", "unsubscribe_url"}

// couponVars are the step variables of a template that hands over a coupon.
var couponVars = []string{"coupon_name", "coupon_code", "coupon_valid_until"}

func loadCatalog(t *testing.T) *mail.Catalog {
	t.Helper()
	c, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatalf("LoadCatalog: %v", err)
	}
	return c
}

func TestBaseVarsAreRequiredFirst(t *testing.T) {
	if !reflect.DeepEqual(mail.BaseVars, baseRequired) {
		t.Errorf("BaseVars = %v, want %v", mail.BaseVars, baseRequired)
	}
}

func TestCatalogNames(t *testing.T) {
	c := loadCatalog(t)
	tests := []struct {
		name, group string
		stepVars    []string
	}{
		{"activation_last_nudge", "activation", nil},
		{"activation_nudge", "activation", nil},
		{"activation_welcome", "activation", couponVars},
		{"birthday_gift", "birthday", append([]string{"tier_name", "birthday_multiplier"}, couponVars...)},
		{"member_day", "offers", []string{"boost_multiplier", "boost_until"}},
		{"svip_offer", "offers", couponVars},
		{"tier_expiry_warning", "tier_expiry", []string{"tier_name", "review_on", "days_left", "growth_needed", "fall_to_tier_name"}},
		{"trial_offer", "trial", []string{"price", "currency", "offer_until"}},
		{"trial_reminder", "trial", []string{"days_left", "trial_ends_on", "price", "currency"}},
		{"trial_thanks", "trial", []string{"points_multiplier", "tier_floor_name", "renews_on"}},
		{"winback_last", "winback", nil},
		{"winback_miss_you", "winback", couponVars},
		{"winback_offer", "winback", append(append([]string(nil), couponVars...), "boost_multiplier", "boost_until")},
	}
	var want []string
	for _, tc := range tests {
		want = append(want, tc.name)
	}
	if got := c.Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := c.Required(tc.name)
			if err != nil {
				t.Fatalf("Required: %v", err)
			}
			if want := append(append([]string(nil), baseRequired...), tc.stepVars...); !reflect.DeepEqual(req, want) {
				t.Errorf("Required = %v, want %v", req, want)
			}
			if g, err := c.Group(tc.name); err != nil || g != tc.group {
				t.Errorf("Group = %q, %v; want %s", g, err, tc.group)
			}
			ex, err := c.Examples(tc.name)
			if err != nil {
				t.Fatalf("Examples: %v", err)
			}
			if got, want := slices.Sorted(maps.Keys(ex)), slices.Sorted(slices.Values(tc.stepVars)); !slices.Equal(got, want) {
				t.Errorf("Examples has values for %v, want %v", got, want)
			}
		})
	}
	if _, err := c.Required("nope"); !errors.Is(err, mail.ErrTemplate) {
		t.Errorf("Required(unknown) error = %v, want ErrTemplate", err)
	}
	if _, err := c.Group("nope"); !errors.Is(err, mail.ErrTemplate) {
		t.Errorf("Group(unknown) error = %v, want ErrTemplate", err)
	}
	if _, err := c.Source("nope"); !errors.Is(err, mail.ErrTemplate) {
		t.Errorf("Source(unknown) error = %v, want ErrTemplate", err)
	}
	if _, err := c.Examples("nope"); !errors.Is(err, mail.ErrTemplate) {
		t.Errorf("Examples(unknown) error = %v, want ErrTemplate", err)
	}
}

// TestRequiredVariablesAreUsed keeps required honest: a variable a template
// requires but never shows would make sends fail for nothing.
func TestRequiredVariablesAreUsed(t *testing.T) {
	c := loadCatalog(t)
	for _, name := range c.Names() {
		src, err := c.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := c.Required(name)
		for _, v := range req {
			if !regexp.MustCompile(`\{\{\{?\s*` + regexp.QuoteMeta(v) + `\s*\}?\}\}`).MatchString(src.Subject + src.HTML) {
				t.Errorf("%s requires %s but never uses it", name, v)
			}
		}
	}
}

func TestExamplesIsACopy(t *testing.T) {
	c := loadCatalog(t)
	ex, err := c.Examples("activation_welcome")
	if err != nil {
		t.Fatal(err)
	}
	ex["coupon_code"] = "changed"
	if again, _ := c.Examples("activation_welcome"); again["coupon_code"] != "NEW8-3HT7WQ2P" {
		t.Errorf("Examples after changing the copy = %v", again)
	}
	if ex, err := c.Examples("activation_nudge"); err != nil || ex == nil || len(ex) != 0 {
		t.Errorf("Examples(activation_nudge) = %v, %v; want an empty map", ex, err)
	}
}

func TestCatalogGolden(t *testing.T) {
	c := loadCatalog(t)
	subjects := map[string][2]string{
		"activation_welcome": {
			"Welcome to Memberflow Demo, Lin Wei!",
			"Thanks for joining. Here is what your Memberflow Demo membership gives you, and a welcome coupon.",
		},
		"activation_nudge": {
			"Lin Wei, your Memberflow Demo member perks are waiting",
			"Your first order already earns points. Take a look when you have a moment.",
		},
		"activation_last_nudge": {
			"One last reminder from Memberflow Demo, Lin Wei",
			"Your member benefits are still here for your first order.",
		},
		"birthday_gift": {
			"Happy birthday, Lin Wei! A gift from Memberflow Demo",
			"Your birthday month brings 3× points on every order, and a 满169减15 coupon.",
		},
		"tier_expiry_warning": {
			"Lin Wei, your 金卡 tier review is coming up",
			"Earn 120 more growth value by 2026-12-31 to keep 金卡.",
		},
		"winback_miss_you": {
			"We miss you, Lin Wei",
			"A 满169减15 coupon is waiting for you at Memberflow Demo.",
		},
		"winback_offer": {
			"Lin Wei, a 无门槛25 coupon and 2× points for you",
			"Come back to Memberflow Demo before 2026-12-14 and earn 2× points on every order.",
		},
		"winback_last": {
			"A last note from Memberflow Demo, Lin Wei",
			"This is the last of these emails. Your membership stays with you.",
		},
		"trial_reminder": {
			"Your Memberflow Demo SVIP trial ends on 2026-12-31",
			"After that, SVIP continues at 199.00 CNY a year, with every benefit you have now.",
		},
		"trial_thanks": {
			"Thank you for joining SVIP, Lin Wei!",
			"Your SVIP benefits at Memberflow Demo are active: 1.5× points and at least 金卡 tier.",
		},
		"trial_offer": {
			"Lin Wei, SVIP is still open to you",
			"Your trial has ended. You can still join SVIP at 199.00 CNY a year until 2026-12-31.",
		},
		"svip_offer": {
			"Lin Wei, SVIP is made for members like you",
			"Try Memberflow Demo SVIP: more points on every order, and a 无门槛25 coupon to start.",
		},
		"member_day": {
			"Lin Wei, it's member day: 2× points today",
			"Every order at Memberflow Demo earns 2× points until 2026-12-09.",
		},
	}
	for _, name := range c.Names() {
		t.Run(name, func(t *testing.T) {
			data := templateData(t, c, name)
			r, err := c.Render(name, data)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			want, ok := subjects[name]
			if !ok {
				t.Fatalf("no expected subject for %s; add one to this test", name)
			}
			if r.Subject != want[0] || r.Preheader != want[1] {
				t.Errorf("subject, preheader = %q, %q; want %q, %q", r.Subject, r.Preheader, want[0], want[1])
			}
			for _, s := range []string{
				"Lin Wei", "Memberflow Demo", `href="https://shop.example.com"`,
				`href="https://memberflow.example/v1/unsubscribe?token=t0k3n"`,
				"You are receiving this email because you joined the Memberflow Demo membership.",
			} {
				if !strings.Contains(r.HTML, s) {
					t.Errorf("HTML does not contain %q", s)
				}
			}
			if strings.Contains(r.HTML, "{{") {
				t.Errorf("HTML contains unrendered Handlebars")
			}
			for k, v := range data {
				if !strings.Contains(r.Subject+r.HTML, html.EscapeString(v.(string))) {
					t.Errorf("neither subject nor HTML shows %s (%q)", k, v)
				}
			}
			if want := `<div style="display:none;`; !strings.HasPrefix(r.HTML, want) || !strings.Contains(r.HTML, ">"+html.EscapeString(r.Preheader)+"</div>\n") {
				t.Errorf("HTML does not start with the hidden preheader %q", r.Preheader)
			}

			golden := filepath.Join("testdata", "golden", name+".html")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(r.HTML), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/mail -update to create it)", err)
			}
			if r.HTML != string(b) {
				t.Errorf("HTML differs from %s (run go test ./internal/mail -update after checking the change)\ngot:\n%s", golden, r.HTML)
			}
		})
	}
}

// TestNoStaleGoldenFiles keeps testdata/golden one file per template.
func TestNoStaleGoldenFiles(t *testing.T) {
	c := loadCatalog(t)
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := c.Required(strings.TrimSuffix(filepath.Base(f), ".html")); err != nil {
			t.Errorf("%s has no template; delete it", f)
		}
	}
}

func TestRenderMissingVariables(t *testing.T) {
	c := loadCatalog(t)
	_, err := c.Render("activation_welcome", map[string]any{"name": "Lin Wei", "brand": "  ", "coupon_name": "满79减8", "coupon_valid_until": "2026-07-31"})
	if err == nil {
		t.Fatal("Render with missing variables succeeded")
	}
	if got, want := err.Error(), "template activation_welcome: missing variables: brand, shop_url, unsubscribe_url, coupon_code"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if !errors.Is(err, mail.ErrTemplate) || !mail.IsPermanent(err) {
		t.Errorf("error %v should match ErrTemplate and be permanent", err)
	}
	var te *mail.TemplateError
	if !errors.As(err, &te) || !reflect.DeepEqual(te.Missing, []string{"brand", "shop_url", "unsubscribe_url", "coupon_code"}) {
		t.Errorf("TemplateError.Missing = %+v", te)
	}

	// Base data alone is not enough for a template with step variables.
	_, err = c.Render("activation_welcome", sampleData())
	if want := "template activation_welcome: missing variables: coupon_name, coupon_code, coupon_valid_until"; err == nil || err.Error() != want {
		t.Errorf("base data only error = %v, want %q", err, want)
	}

	_, err = c.Render("activation_welcome", nil)
	if want := "template activation_welcome: missing variables: name, brand, shop_url, unsubscribe_url, coupon_name, coupon_code, coupon_valid_until"; err == nil || err.Error() != want {
		t.Errorf("nil data error = %v, want %q", err, want)
	}
}

func TestRenderUnknownTemplate(t *testing.T) {
	c := loadCatalog(t)
	_, err := c.Render("no_such_template", sampleData())
	var te *mail.TemplateError
	if !errors.As(err, &te) || !te.IsUnknownTemplate() || !errors.Is(err, mail.ErrTemplate) {
		t.Fatalf("error = %v, want unknown-template TemplateError", err)
	}
	if got, want := err.Error(), "template no_such_template: unknown template"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestRenderKeepsZeroNumbers(t *testing.T) {
	fsys := fstest.MapFS{"email/points.hbs": {Data: []byte("---\nsubject: \"{{points}} points\"\ngroup: g\nrequired: [points, unsubscribe_url]\nexample: {points: \"1200\"}\n---\n<p>{{points}}</p><a href=\"{{unsubscribe_url}}\">x</a>\n")}}
	c, err := mail.LoadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Render("points", map[string]any{"points": 0, "unsubscribe_url": "u"})
	if err != nil {
		t.Fatalf("Render with zero: %v", err)
	}
	if r.Subject != "0 points" || r.HTML != "<p>0</p><a href=\"u\">x</a>\n" {
		t.Errorf("got %+v", r)
	}
}

func TestLoadCatalogErrors(t *testing.T) {
	good := "---\nsubject: Hi {{name}}\ngroup: activation\nrequired: [name, unsubscribe_url]\n---\n<p>{{name}}</p>{{> footer}}\n"
	footer := "<a href=\"{{unsubscribe_url}}\">unsubscribe</a>\n"
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{"no front matter", "<p>hi</p>\n", "must start with"},
		{"unclosed front matter", "---\nsubject: x\n<p>hi</p>\n", "closing"},
		{"empty front matter", "---\n---\n<p>hi</p>\n", "empty"},
		{"invalid yaml", "---\nsubject: [unclosed\n---\n<p>hi</p>\n", "front matter"},
		{"unknown key", "---\nsubject: x\ngroup: g\nrequried: [name]\n---\n<p>hi</p>\n", "requried"},
		{"missing subject", "---\npreheader: x\n---\n<p>hi</p>\n", "subject is required"},
		{"missing group", "---\nsubject: x\nrequired: [unsubscribe_url]\n---\n{{> footer}}\n", "group is required"},
		{"bad group", "---\nsubject: x\ngroup: a-b\nrequired: [unsubscribe_url]\n---\n{{> footer}}\n", "group \"a-b\""},
		{"required not a list", "---\nsubject: x\ngroup: g\nrequired: name\n---\n<p>hi</p>\n", "front matter"},
		{"duplicate required", "---\nsubject: x\ngroup: g\nrequired: [a, a]\n---\n<p>hi</p>\n", "twice"},
		{"unsubscribe_url not required", "---\nsubject: x\ngroup: g\nrequired: [name]\n---\n{{> footer}}\n", "required must list unsubscribe_url"},
		{"no unsubscribe link", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\n---\n<p>hi</p>\n", "nothing links to {{unsubscribe_url}}"},
		{"template_ids not a map", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\ntemplate_ids: d-1\n---\n{{> footer}}\n", "into map[string]string"},
		{"template id not dynamic", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\ntemplate_ids: {staging: 0123-abcd}\n---\n{{> footer}}\n", "template_ids.staging"},
		{"bad environment", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\ntemplate_ids: {Prod: d-1}\n---\n{{> footer}}\n", "environment \"Prod\""},
		{"unknown partial", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\n---\n{{> header}}{{> footer}}\n", "unknown partial \"header\""},
		{"partial with context", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\n---\n{{> footer member}}\n", "only {{> name}} partials"},
		{"partial block", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\n---\n{{#> footer}}x{{/footer}}\n", "only {{> name}} partials"},
		{"bad subject handlebars", "---\nsubject: \"{{#if x}}\"\ngroup: g\nrequired: [unsubscribe_url]\n---\n{{> footer}}\n", "subject"},
		{"bad preheader handlebars", "---\nsubject: x\npreheader: \"{{#if x}}\"\ngroup: g\nrequired: [unsubscribe_url]\n---\n{{> footer}}\n", "preheader"},
		{"bad body handlebars", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url]\n---\n<p>{{name</p>{{> footer}}\n", "body"},
		{"step variable without example", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url, coupon_code]\n---\n{{> footer}}\n", `required step variable "coupon_code" has no example`},
		{"example not required", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url, coupon_code]\nexample: {coupon_code: C15-1, coupon_name: x}\n---\n{{> footer}}\n", "example.coupon_name: coupon_name is not in required"},
		{"example for a base variable", "---\nsubject: x\ngroup: g\nrequired: [name, unsubscribe_url]\nexample: {name: Lin}\n---\n{{> footer}}\n", "example.name: name is a base variable"},
		{"empty example", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url, coupon_code]\nexample: {coupon_code: \" \"}\n---\n{{> footer}}\n", "example.coupon_code is empty"},
		{"example not a map", "---\nsubject: x\ngroup: g\nrequired: [unsubscribe_url, coupon_code]\nexample: [coupon_code]\n---\n{{> footer}}\n", "into map[string]string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"email/good.hbs":            {Data: []byte(good)},
				"email/broken.hbs":          {Data: []byte(tt.content)},
				"email/partials/footer.hbs": {Data: []byte(footer)},
			}
			_, err := mail.LoadCatalog(fsys)
			if err == nil {
				t.Fatal("LoadCatalog succeeded")
			}
			if !strings.Contains(err.Error(), "email/broken.hbs") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to name email/broken.hbs and contain %q", err, tt.wantErr)
			}
		})
	}

	t.Run("no templates", func(t *testing.T) {
		if _, err := mail.LoadCatalog(fstest.MapFS{}); err == nil {
			t.Error("LoadCatalog of an empty FS succeeded")
		}
	})
	t.Run("bad name", func(t *testing.T) {
		_, err := mail.LoadCatalog(fstest.MapFS{"email/bad-name.hbs": {Data: []byte(good)}, "email/partials/footer.hbs": {Data: []byte(footer)}})
		if err == nil || !strings.Contains(err.Error(), "bad-name") {
			t.Errorf("error = %v, want a template name error", err)
		}
	})
	t.Run("nested partial", func(t *testing.T) {
		_, err := mail.LoadCatalog(fstest.MapFS{
			"email/good.hbs":            {Data: []byte(good)},
			"email/partials/footer.hbs": {Data: []byte("{{> legal}}\n")},
			"email/partials/legal.hbs":  {Data: []byte("<a href=\"{{unsubscribe_url}}\">x</a>\n")},
		})
		if err == nil || !strings.Contains(err.Error(), "email/partials/footer.hbs: a partial cannot include another partial") {
			t.Errorf("error = %v, want a nested partial error", err)
		}
	})
	t.Run("bad partial handlebars", func(t *testing.T) {
		_, err := mail.LoadCatalog(fstest.MapFS{"email/good.hbs": {Data: []byte(good)}, "email/partials/footer.hbs": {Data: []byte("{{#if x}}\n")}})
		if err == nil || !strings.Contains(err.Error(), "email/partials/footer.hbs") {
			t.Errorf("error = %v, want a partial parse error", err)
		}
	})
	t.Run("CRLF", func(t *testing.T) {
		c, err := mail.LoadCatalog(fstest.MapFS{
			"email/good.hbs":            {Data: []byte(strings.ReplaceAll(good, "\n", "\r\n"))},
			"email/partials/footer.hbs": {Data: []byte(strings.ReplaceAll(footer, "\n", "\r\n"))},
		})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Render("good", map[string]any{"name": "Lin", "unsubscribe_url": "https://u"})
		if err != nil || r.Subject != "Hi Lin" || r.HTML != "<p>Lin</p><a href=\"https://u\">unsubscribe</a>\n" {
			t.Errorf("Render = %+v, %v", r, err)
		}
	})
}

func TestRenderEscaping(t *testing.T) {
	c := loadCatalog(t)
	data := templateData(t, c, "activation_welcome")
	data["name"] = "Seán O'Brien <b>"
	r, err := c.Render("activation_welcome", data)
	if err != nil {
		t.Fatal(err)
	}
	// The subject is plain text, so it must not be HTML-escaped...
	if want := "Welcome to Memberflow Demo, Seán O'Brien <b>!"; r.Subject != want {
		t.Errorf("Subject = %q, want %q", r.Subject, want)
	}
	// ...while the HTML body must be.
	if !strings.Contains(r.HTML, "Welcome, Seán O&apos;Brien &lt;b&gt;!") || strings.Contains(r.HTML, "<b>") {
		t.Errorf("HTML does not escape the name")
	}
}

// TestSourceIsWhatRenders checks that the uploaded source, rendered by a
// plain Handlebars engine with no partials or helpers (as SendGrid would),
// gives exactly the Catalog's rendering.
func TestSourceIsWhatRenders(t *testing.T) {
	c := loadCatalog(t)
	for _, name := range c.Names() {
		t.Run(name, func(t *testing.T) {
			src, err := c.Source(name)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(src.HTML, "{{>") || strings.Contains(src.HTML, "{{!") {
				t.Errorf("uploaded HTML still has partials or partial comments")
			}
			if !strings.HasPrefix(src.HTML, `<div style="display:none;`) {
				t.Errorf("uploaded HTML does not start with the preheader element")
			}
			data := templateData(t, c, name)
			r, err := c.Render(name, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []struct{ src, want string }{{src.Subject, r.Subject}, {src.HTML, r.HTML}} {
				got, err := raymond.Render(part.src, data)
				if err != nil {
					t.Fatal(err)
				}
				if got != part.want {
					t.Errorf("rendering the source gives\n%s\nwant\n%s", got, part.want)
				}
			}
		})
	}
}

func TestPreheaderIsEscapedInHTML(t *testing.T) {
	fsys := fstest.MapFS{
		"email/p.hbs": {Data: []byte("---\nsubject: s\npreheader: \"Tom & Jerry <3 {{{name}}}, {{name}} {{#if vip}}VIP{{/if}}\"\ngroup: g\nrequired: [name, unsubscribe_url]\n---\n<a href=\"{{unsubscribe_url}}\">u</a>\n")},
		"email/q.hbs": {Data: []byte("---\nsubject: s\ngroup: g\nrequired: [unsubscribe_url]\n---\n<a href=\"{{unsubscribe_url}}\">u</a>\n")},
	}
	c, err := mail.LoadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := c.Source("p")
	wantSrc := `<div style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all;">` +
		"Tom &amp; Jerry &lt;3 {{name}}, {{name}} {{#if vip}}VIP{{/if}}</div>\n<a href=\"{{unsubscribe_url}}\">u</a>\n"
	if src.HTML != wantSrc {
		t.Errorf("source HTML =\n%s\nwant\n%s", src.HTML, wantSrc)
	}
	r, err := c.Render("p", map[string]any{"name": "O'Brien <b>", "vip": true, "unsubscribe_url": "https://u"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Tom & Jerry <3 O'Brien <b>, O&apos;Brien &lt;b&gt; VIP"; r.Preheader != want {
		t.Errorf("Preheader = %q, want %q", r.Preheader, want)
	}
	if want := ">Tom &amp; Jerry &lt;3 O&apos;Brien &lt;b&gt;, O&apos;Brien &lt;b&gt; VIP</div>"; !strings.Contains(r.HTML, want) {
		t.Errorf("HTML = %s\nwant it to contain %s", r.HTML, want)
	}
	// No preheader, no element.
	if src, _ := c.Source("q"); strings.Contains(src.HTML, "display:none") {
		t.Errorf("empty preheader produced an element: %s", src.HTML)
	}
}

func TestPartialsInlineLikeHandlebars(t *testing.T) {
	fsys := fstest.MapFS{
		"email/p.hbs":               {Data: []byte("---\nsubject: s\ngroup: g\nrequired: [unsubscribe_url]\n---\n<div>\n    {{> footer}}\n</div>\n<p>{{> sig}}!</p>\n")},
		"email/partials/footer.hbs": {Data: []byte("{{!-- documents the file --}}\n<table>\n\n  <tr><a href=\"{{unsubscribe_url}}\">u</a></tr>\n</table>\n")},
		"email/partials/sig.hbs":    {Data: []byte("The team\n")},
	}
	c, err := mail.LoadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := c.Source("p")
	want := "<div>\n    <table>\n\n      <tr><a href=\"{{unsubscribe_url}}\">u</a></tr>\n    </table>\n</div>\n<p>The team!</p>\n"
	if src.HTML != want {
		t.Errorf("source HTML =\n%q\nwant\n%q", src.HTML, want)
	}
}

func TestTemplateIDs(t *testing.T) {
	fsys := fstest.MapFS{
		"email/a.hbs": {Data: []byte("---\nsubject: s\ngroup: g\nrequired: [unsubscribe_url]\ntemplate_ids:\n  staging: d-aaa1\n  production: d-aaa2\n---\n<a href=\"{{unsubscribe_url}}\">u</a>\n")},
		"email/b.hbs": {Data: []byte("---\nsubject: s\ngroup: g\nrequired: [unsubscribe_url]\n---\n<a href=\"{{unsubscribe_url}}\">u</a>\n")},
	}
	c, err := mail.LoadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, want string
		ok              bool
	}{
		{"a", "staging", "d-aaa1", true},
		{"a", "production", "d-aaa2", true},
		{"a", "local", "", false},
		{"b", "staging", "", false},
		{"nope", "staging", "", false},
	}
	for _, tc := range tests {
		if id, ok := c.TemplateID(tc.name, tc.env); id != tc.want || ok != tc.ok {
			t.Errorf("TemplateID(%s, %s) = %q, %v; want %q, %v", tc.name, tc.env, id, ok, tc.want, tc.ok)
		}
	}
	if name, ok := c.NameForTemplateID("d-aaa2"); name != "a" || !ok {
		t.Errorf("NameForTemplateID(d-aaa2) = %q, %v", name, ok)
	}
	if _, ok := c.NameForTemplateID("d-none"); ok {
		t.Error("NameForTemplateID(d-none) found a template")
	}
}
