package templates_test

import (
	"io/fs"
	"reflect"
	"slices"
	"testing"

	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/templates"
)

// TestEmailTemplatesLoad guards against committing a template that would stop
// every binary at start-up.
func TestEmailTemplatesLoad(t *testing.T) {
	c, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatalf("LoadCatalog: %v", err)
	}
	files, err := fs.Glob(templates.Email, "email/*.hbs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(templates.Email, "email/partials/footer.hbs"); err != nil {
		t.Errorf("the footer partial is not embedded: %v", err)
	}
	if len(c.Names()) != len(files) {
		t.Errorf("catalog has %d templates, embedded FS has %d files", len(c.Names()), len(files))
	}
	base := []string{"name", "brand", "shop_url", "unsubscribe_url"}
	coupon := []string{"coupon_name", "coupon_code", "coupon_valid_until"}
	for name, step := range map[string][]string{
		"activation_welcome":    coupon,
		"activation_nudge":      nil,
		"activation_last_nudge": nil,
		"winback_miss_you":      coupon,
		"winback_last":          nil,
	} {
		req, err := c.Required(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if want := append(slices.Clone(base), step...); !reflect.DeepEqual(req, want) {
			t.Errorf("%s requires %v, want %v", name, req, want)
		}
	}
}
