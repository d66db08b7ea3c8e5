package mail_test

import (
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/templates"
)

func TestCheckSendable(t *testing.T) {
	c, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	if err := mail.CheckSendable(c, mail.EnvironmentLocal, map[string]int{"activation": 1}); err != nil {
		t.Errorf("local with groups: %v", err)
	}
	err = mail.CheckSendable(c, "production", map[string]int{})
	if err == nil {
		t.Fatal("production without ids or groups passed")
	}
	for _, want := range []string{`group "activation" has no ASM group id`, `no SendGrid id for environment "production"`, "activation_welcome", "activation_last_nudge"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
