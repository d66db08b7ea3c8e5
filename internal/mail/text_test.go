package mail_test

import (
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/templates"
)

func TestRenderedText(t *testing.T) {
	r := mail.Rendered{HTML: `<div style="display: none; max-height:0">Your gift inside</div>
<style>p { color: red }</style>
<h1>Hello Lin &amp; friends</h1>
<p>Your <b>10%</b>
   coupon<br>is ready.</p>
<ul><li>One</li><li>Two</li></ul>
<p><a href="https://shop.example.com/c?x=1">Shop now</a> or <a href="https://shop.example.com">https://shop.example.com</a></p>
<img src="logo.png" alt="Lin's shop">`}
	want := "Hello Lin & friends\n\nYour 10% coupon\nis ready.\n\n- One\n\n- Two\n\nShop now (https://shop.example.com/c?x=1) or https://shop.example.com\n[Lin's shop]\n"
	if got := r.Text(); got != want {
		t.Errorf("Text() =\n%q\nwant\n%q", got, want)
	}
}

// TestShippedTemplatesHaveText: every shipped template reads as text with
// its subject's name in it and without markup or the hidden preheader.
func TestShippedTemplatesHaveText(t *testing.T) {
	c, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range c.Names() {
		data := map[string]any{"name": "Lin Wei", "brand": "Lin's", "shop_url": "https://shop.example.com", "unsubscribe_url": "https://x.example/u"}
		ex, _ := c.Examples(name)
		for k, v := range ex {
			data[k] = v
		}
		r, err := c.Render(name, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		text := r.Text()
		if !strings.Contains(text, "Lin Wei") || strings.Contains(text, "<") || !strings.Contains(text, "https://x.example/u") {
			t.Errorf("%s text = %q, want the name and the unsubscribe link without markup", name, text)
		}
		if r.Preheader != "" && strings.HasPrefix(text, strings.TrimSpace(r.Preheader)) {
			t.Errorf("%s text starts with the hidden preheader: %q", name, text)
		}
	}
}
