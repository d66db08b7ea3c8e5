package mail_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/templates"
)

// update regenerates the golden files instead of comparing against them:
// go test ./internal/mail -update
var update = flag.Bool("update", false, "rewrite testdata/golden files")

// sampleData is the data the golden files are rendered with.
func sampleData() map[string]any {
	return map[string]any{
		"name":     "Lin Wei",
		"brand":    "Memberflow Demo",
		"shop_url": "https://shop.example.com",
	}
}

func loadCatalog(t *testing.T) *mail.Catalog {
	t.Helper()
	c, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatalf("LoadCatalog: %v", err)
	}
	return c
}

func TestCatalogNames(t *testing.T) {
	c := loadCatalog(t)
	want := []string{"activation_last_nudge", "activation_nudge", "activation_welcome"}
	if got := c.Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, n := range want {
		req, err := c.Required(n)
		if err != nil {
			t.Fatalf("Required(%q): %v", n, err)
		}
		if w := []string{"name", "brand", "shop_url"}; !reflect.DeepEqual(req, w) {
			t.Errorf("Required(%q) = %v, want %v", n, req, w)
		}
	}
	if _, err := c.Required("nope"); !errors.Is(err, mail.ErrTemplate) {
		t.Errorf("Required(unknown) error = %v, want ErrTemplate", err)
	}
}

func TestCatalogGolden(t *testing.T) {
	c := loadCatalog(t)
	subjects := map[string][2]string{
		"activation_welcome": {
			"Welcome to Memberflow Demo, Lin Wei!",
			"Thanks for joining. Here is what your Memberflow Demo membership gives you.",
		},
		"activation_nudge": {
			"Lin Wei, your Memberflow Demo member perks are waiting",
			"Your first order already earns points. Take a look when you have a moment.",
		},
		"activation_last_nudge": {
			"One last reminder from Memberflow Demo, Lin Wei",
			"Your member benefits are still here for your first order.",
		},
	}
	for _, name := range c.Names() {
		t.Run(name, func(t *testing.T) {
			r, err := c.Render(name, sampleData())
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
			for _, s := range []string{"Lin Wei", "Memberflow Demo", `href="https://shop.example.com"`} {
				if !strings.Contains(r.HTML, s) {
					t.Errorf("HTML does not contain %q", s)
				}
			}
			if strings.Contains(r.HTML, "{{") {
				t.Errorf("HTML contains unrendered Handlebars")
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

func TestRenderMissingVariables(t *testing.T) {
	c := loadCatalog(t)
	_, err := c.Render("activation_welcome", map[string]any{"name": "Lin Wei", "brand": "  "})
	if err == nil {
		t.Fatal("Render with missing variables succeeded")
	}
	if got, want := err.Error(), "template activation_welcome: missing variables: brand, shop_url"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if !errors.Is(err, mail.ErrTemplate) || !mail.IsPermanent(err) {
		t.Errorf("error %v should match ErrTemplate and be permanent", err)
	}
	var te *mail.TemplateError
	if !errors.As(err, &te) || !reflect.DeepEqual(te.Missing, []string{"brand", "shop_url"}) {
		t.Errorf("TemplateError.Missing = %+v", te)
	}

	_, err = c.Render("activation_welcome", nil)
	if got, want := err.Error(), "template activation_welcome: missing variables: name, brand, shop_url"; err == nil || got != want {
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
	fsys := fstest.MapFS{"email/points.hbs": {Data: []byte("---\nsubject: \"{{points}} points\"\nrequired: [points]\n---\n<p>{{points}}</p>\n")}}
	c, err := mail.LoadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Render("points", map[string]any{"points": 0})
	if err != nil {
		t.Fatalf("Render with zero: %v", err)
	}
	if r.Subject != "0 points" || r.HTML != "<p>0</p>\n" {
		t.Errorf("got %+v", r)
	}
}

func TestLoadCatalogErrors(t *testing.T) {
	good := "---\nsubject: Hi {{name}}\npreheader: p\nrequired: [name]\n---\n<p>{{name}}</p>\n"
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{"no front matter", "<p>hi</p>\n", "must start with"},
		{"unclosed front matter", "---\nsubject: x\n<p>hi</p>\n", "closing"},
		{"empty front matter", "---\n---\n<p>hi</p>\n", "empty"},
		{"invalid yaml", "---\nsubject: [unclosed\n---\n<p>hi</p>\n", "front matter"},
		{"unknown key", "---\nsubject: x\nrequried: [name]\n---\n<p>hi</p>\n", "requried"},
		{"missing subject", "---\npreheader: x\n---\n<p>hi</p>\n", "subject is required"},
		{"required not a list", "---\nsubject: x\nrequired: name\n---\n<p>hi</p>\n", "front matter"},
		{"duplicate required", "---\nsubject: x\nrequired: [a, a]\n---\n<p>hi</p>\n", "twice"},
		{"bad subject handlebars", "---\nsubject: \"{{#if x}}\"\n---\n<p>hi</p>\n", "subject"},
		{"bad body handlebars", "---\nsubject: x\n---\n<p>{{name</p>\n", "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"email/good.hbs":   {Data: []byte(good)},
				"email/broken.hbs": {Data: []byte(tt.content)},
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
		_, err := mail.LoadCatalog(fstest.MapFS{"email/bad-name.hbs": {Data: []byte(good)}})
		if err == nil || !strings.Contains(err.Error(), "bad-name") {
			t.Errorf("error = %v, want a template name error", err)
		}
	})
	t.Run("CRLF", func(t *testing.T) {
		c, err := mail.LoadCatalog(fstest.MapFS{"email/good.hbs": {Data: []byte(strings.ReplaceAll(good, "\n", "\r\n"))}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Render("good", map[string]any{"name": "Lin"})
		if err != nil || r.Subject != "Hi Lin" || r.HTML != "<p>Lin</p>\n" {
			t.Errorf("Render = %+v, %v", r, err)
		}
	})
}

func TestRenderEscaping(t *testing.T) {
	c := loadCatalog(t)
	data := sampleData()
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
