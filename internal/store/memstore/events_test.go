package memstore

import (
	"testing"

	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/storetest"
)

// TestEventsBeforeDigests runs the contract for events recorded without a
// digest, put straight into the map as the DynamoDB adapter's older items
// are found in the table.
func TestEventsBeforeDigests(t *testing.T) {
	s := New()
	storetest.RunEventsBeforeDigests(t, s, func(t *testing.T, ev store.RecordedEvent) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.events[eventKey{ev.Source, ev.ID}] = cloneEvent(ev)
	})
}
