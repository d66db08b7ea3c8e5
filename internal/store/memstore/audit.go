package memstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/store"
)

// auditLog is the audit log: entries by ID and the keys appended, with
// the ID of the entry each made.
type auditLog struct {
	entries map[string]store.AuditEntry
	keys    map[string]string
}

// AppendAudit appends e unless its Key was appended before.
func (s *Store) AppendAudit(_ context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if err := store.CheckAuditEntry(e); err != nil {
		return store.AuditEntry{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.audit.entries == nil {
		s.audit.entries, s.audit.keys = map[string]store.AuditEntry{}, map[string]string{}
	}
	if id, ok := s.audit.keys[e.Key]; e.Key != "" && ok {
		first := s.audit.entries[id]
		first.Detail = maps.Clone(first.Detail)
		return first, fmt.Errorf("append audit %s: %w", e.Key, store.ErrDuplicate)
	}
	e.ID = store.AuditID(e.At, rand.Text()[:16])
	e.Detail = maps.Clone(e.Detail)
	s.audit.entries[e.ID] = e
	if e.Key != "" {
		s.audit.keys[e.Key] = e.ID
	}
	out := e
	out.Detail = maps.Clone(e.Detail)
	return out, nil
}

// ListAudit returns entries from since, oldest first, after the cursor.
func (s *Store) ListAudit(_ context.Context, since time.Time, after string, limit int) ([]store.AuditEntry, string, error) {
	if err := store.CheckAuditPage(after, limit); err != nil {
		return nil, "", err
	}
	from := since.UTC().Format(store.AuditTimeLayout)
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.audit.entries {
		if id >= from && id > after {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, strings.Compare)
	next := ""
	if len(ids) > limit {
		ids, next = ids[:limit], ids[limit-1]
	}
	out := make([]store.AuditEntry, len(ids))
	for i, id := range ids {
		out[i] = s.audit.entries[id]
		out[i].Detail = maps.Clone(out[i].Detail)
	}
	return out, next, nil
}
