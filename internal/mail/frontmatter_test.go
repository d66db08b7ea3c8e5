package mail

import (
	"strings"
	"testing"
)

// TestSetTemplateID checks the textual front matter edit push makes: only
// the id line changes, comments and layout stay.
func TestSetTemplateID(t *testing.T) {
	const body = "---\n<a href=\"{{unsubscribe_url}}\">u</a>\n"
	head := "---\n# why\nsubject: \"Hi {{{name}}}\" # plain text\ngroup: activation\nrequired: [name, unsubscribe_url]\n"
	tests := []struct {
		name, front, want, wantErr string
	}{
		{name: "no template_ids", front: head,
			want: head + "template_ids:\n  staging: d-new\n"},
		{name: "empty flow mapping", front: head + "template_ids: {}\n",
			want: head + "template_ids:\n  staging: d-new\n"},
		{name: "add to a block, keep comments and order",
			front: "---\ntemplate_ids: # per environment\n    # production first\n    production: d-p\n\nsubject: s\ngroup: g\nrequired: [unsubscribe_url]\n",
			want:  "---\ntemplate_ids: # per environment\n    # production first\n    production: d-p\n    staging: d-new\n\nsubject: s\ngroup: g\nrequired: [unsubscribe_url]\n"},
		{name: "replace an existing id", front: head + "template_ids:\n  staging: d-old # was\n  production: d-p\n",
			want: head + "template_ids:\n  staging: d-new\n  production: d-p\n"},
		{name: "quoted key", front: head + "template_ids:\n  \"staging\": d-old\n",
			want: head + "template_ids:\n  staging: d-new\n"},
		{name: "non-empty flow mapping", front: head + "template_ids: {production: d-p}\n",
			wantErr: "not a block mapping"},
		{name: "result must still load", front: head + "template_ids:\n  staging: d-old\n  staging: d-dup\n",
			wantErr: "after recording"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := setTemplateID([]byte(tc.front+body), "staging", "d-new")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want + body; string(got) != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}

	t.Run("CRLF", func(t *testing.T) {
		src := strings.ReplaceAll(head+body, "\n", "\r\n")
		got, err := setTemplateID([]byte(src), "staging", "d-new")
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.ReplaceAll(head+"template_ids:\n  staging: d-new\n"+body, "\n", "\r\n"); string(got) != want {
			t.Errorf("got %q", got)
		}
	})
}
