package memstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/store"
)

// contactState is a stored contact state: the JSON the DynamoDB adapter
// keeps, so a caller's later changes to its State cannot reach the store.
type contactState struct {
	state   []byte
	version int64
}

// GetContact reads the member's contact state; none yet is the zero state
// at version 0.
func (s *Store) GetContact(_ context.Context, memberID string) (contact.State, int64, error) {
	s.mu.Lock()
	c, ok := s.contacts[memberID]
	s.mu.Unlock()
	if !ok {
		return contact.State{}, 0, nil
	}
	var st contact.State
	if err := json.Unmarshal(c.state, &st); err != nil {
		return contact.State{}, 0, fmt.Errorf("get contact state of %s: %w", memberID, err)
	}
	return st, c.version, nil
}

// PutContact stores st as version+1 while the stored version is version.
func (s *Store) PutContact(_ context.Context, memberID string, st contact.State, version int64) error {
	if err := store.CheckPutContact(memberID, version); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("put contact state of %s: %w", memberID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contacts[memberID].version != version {
		return fmt.Errorf("put contact state of %s at version %d: %w", memberID, version, store.ErrConflict)
	}
	s.contacts[memberID] = contactState{state: b, version: version + 1}
	return nil
}
