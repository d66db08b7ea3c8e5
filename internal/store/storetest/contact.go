package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/store"
)

// fullContactState sets every field of a contact state, so its round trip
// proves each one is stored.
func fullContactState() contact.State {
	return contact.State{
		Contacts: []contact.Contact{
			{Key: "m#birthday#1#gift", Journey: "birthday", At: base},
			{Key: "m#activation#1#welcome", Journey: "activation", At: base.Add(-48 * time.Hour)},
		},
		Waiters: []contact.Waiter{{Key: "m#winback#1#nudge", Journey: "winback", Priority: 40, Since: base.Add(time.Hour),
			Deadline: base.Add(72 * time.Hour)}},
	}
}

func runContacts(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("fixture sets every field", func(t *testing.T) {
		checkAllSet(t, reflect.ValueOf(fullContactState()), "State")
		checkAllSet(t, reflect.ValueOf(fullContactState().Contacts[0]), "State.Contacts[0]")
		checkAllSet(t, reflect.ValueOf(fullContactState().Waiters[0]), "State.Waiters[0]")
	})

	t.Run("none stored is the zero state at version 0", func(t *testing.T) {
		checkContact(t, newStore(t), uniqueID("m"), contact.State{}, 0)
	})

	t.Run("put round-trips and counts versions", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		first := fullContactState()
		putContact(t, s, id, first, 0)
		checkContact(t, s, id, first, 1)

		// Cleared fields must not survive.
		next := contact.State{Contacts: first.Contacts[:1]}
		putContact(t, s, id, next, 1)
		checkContact(t, s, id, next, 2)
	})

	t.Run("stale version is a conflict", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		want := fullContactState()
		putContact(t, s, id, want, 0)
		for _, v := range []int64{0, 2} {
			if err := s.PutContact(t.Context(), id, contact.State{}, v); !errors.Is(err, store.ErrConflict) {
				t.Errorf("PutContact(version %d over 1) err = %v, want ErrConflict", v, err)
			}
		}
		checkContact(t, s, id, want, 1)
	})

	t.Run("version above 0 with nothing stored is a conflict", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		if err := s.PutContact(t.Context(), id, fullContactState(), 1); !errors.Is(err, store.ErrConflict) {
			t.Errorf("PutContact(version 1, nothing stored) err = %v, want ErrConflict", err)
		}
		checkContact(t, s, id, contact.State{}, 0)
	})

	t.Run("members are apart", func(t *testing.T) {
		s, a, b := newStore(t), uniqueID("m"), uniqueID("m")
		putContact(t, s, a, fullContactState(), 0)
		checkContact(t, s, b, contact.State{}, 0)
	})

	t.Run("rejects invalid arguments", func(t *testing.T) {
		s := newStore(t)
		if err := s.PutContact(t.Context(), "", fullContactState(), 0); err == nil {
			t.Error("PutContact(no member id) = nil, want an error")
		}
		id := uniqueID("m")
		if err := s.PutContact(t.Context(), id, fullContactState(), -1); err == nil {
			t.Error("PutContact(version -1) = nil, want an error")
		}
		checkContact(t, s, id, contact.State{}, 0)
	})

	t.Run("concurrent writers", func(t *testing.T) {
		s, id := newStore(t), uniqueID("m")
		putContact(t, s, id, fullContactState(), 0)
		won := raceWriters(t, func(i int) error {
			st := contact.State{Contacts: []contact.Contact{{Key: uniqueID("k"), Journey: "trial", At: base}}}
			return s.PutContact(t.Context(), id, st, 1)
		})
		if _, got, err := s.GetContact(t.Context(), id); err != nil || got != int64(1+won) {
			t.Errorf("GetContact = version %d, %v; want %d", got, err, 1+won)
		}
	})
}

func putContact(t *testing.T, s store.Store, memberID string, st contact.State, version int64) {
	t.Helper()
	if err := s.PutContact(t.Context(), memberID, st, version); err != nil {
		t.Fatalf("PutContact(version %d): %v", version, err)
	}
}

// checkContact checks the member's stored state and version.
func checkContact(t *testing.T, s store.Store, memberID string, want contact.State, version int64) {
	t.Helper()
	got, v, err := s.GetContact(t.Context(), memberID)
	if err != nil {
		t.Fatalf("GetContact: %v", err)
	}
	if v != version {
		t.Errorf("contact version = %d, want %d", v, version)
	}
	checkEqual(t, "contact state", got, want)
}
