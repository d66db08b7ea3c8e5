// Package asmgroup reads SENDGRID_ASM_GROUPS: which SendGrid unsubscribe
// group (Advanced Suppression Manager, "ASM", group) each memberflow email
// group maps to. Sending (internal/mail, the worker) and the event webhook
// (internal/sgevents, the sendgrid-events Lambda) both need the mapping; it
// lives apart from internal/mail so that the webhook's Lambda reads it
// without linking the SendGrid client.
package asmgroup

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Parse parses a JSON object of memberflow email group name to SendGrid ASM
// group id ({"activation": 12345}); ids must be above 0 and unique, names
// non-empty. An empty document is no groups.
func Parse(doc string) (map[string]int, error) {
	if strings.TrimSpace(doc) == "" {
		return map[string]int{}, nil
	}
	var m map[string]int
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return nil, fmt.Errorf("must be a JSON object of group name to ASM group id: %w", err)
	}
	byID := make(map[int]string, len(m))
	for name, id := range m {
		if strings.TrimSpace(name) == "" || id <= 0 {
			return nil, fmt.Errorf("group %q: needs a name and an id above 0, got %d", name, id)
		}
		if other, ok := byID[id]; ok {
			return nil, fmt.Errorf("groups %q and %q share ASM group id %d", min(name, other), max(name, other), id)
		}
		byID[id] = name
	}
	if m == nil {
		m = map[string]int{}
	}
	return m, nil
}

// ByID inverts a mapping Parse returned: SendGrid's events name the ASM
// group id, and the webhook wants the memberflow group. Parse guarantees the
// ids are unique, so nothing is lost.
func ByID(groups map[string]int) map[int]string {
	out := make(map[int]string, len(groups))
	for name, id := range groups {
		out[id] = name
	}
	return out
}
