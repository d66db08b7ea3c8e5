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
	groups := map[string]int{"activation": 1, "birthday": 2, "tier_expiry": 3, "winback": 4, "trial": 5, "offers": 6}
	if err := mail.CheckSendable(c, mail.EnvironmentLocal, groups); err != nil {
		t.Errorf("local with groups: %v", err)
	}
	delete(groups, "trial")
	err = mail.CheckSendable(c, mail.EnvironmentLocal, groups)
	if want := `mail: cannot send every template: template trial_offer: group "trial" has no ASM group id (SENDGRID_ASM_GROUPS); ` +
		`template trial_reminder: group "trial" has no ASM group id (SENDGRID_ASM_GROUPS); ` +
		`template trial_thanks: group "trial" has no ASM group id (SENDGRID_ASM_GROUPS)`; err == nil || err.Error() != want {
		t.Errorf("local without the trial group: %v\nwant %s", err, want)
	}
	err = mail.CheckSendable(c, "production", map[string]int{})
	if err == nil {
		t.Fatal("production without ids or groups passed")
	}
	for _, want := range []string{`group "activation" has no ASM group id`, `group "winback" has no ASM group id`, `no SendGrid id for environment "production"`, "activation_welcome", "activation_last_nudge", "birthday_gift"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
