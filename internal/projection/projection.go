// Package projection keeps the member projection: it applies one event to
// a member's profile exactly once (optimistic version plus an applied
// marker per event id), retrying lost races. Dispatch, the unsubscribe link
// and the SendGrid event webhook all change profiles through it.
package projection

import (
	"context"
	"errors"
	"fmt"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// maxAttempts bounds optimistic-concurrency retries on one member;
// contention is rare (one member's events arrive in order on one shard).
const maxAttempts = 5

// Apply applies the event to the member projection exactly once and
// returns the projection as stored afterwards. Besides dispatch, the
// unsubscribe link and the SendGrid event webhook change the projection
// through it, each with an event id of its own, so every consent change
// follows the same rules and is applied once.
func Apply(ctx context.Context, st store.Members, env events.Envelope, data any) (loyalty.Member, error) {
	for range maxAttempts {
		m, err := st.GetMember(ctx, env.MemberID)
		if errors.Is(err, store.ErrNotFound) {
			m = loyalty.Member{ID: env.MemberID}
		} else if err != nil {
			return loyalty.Member{}, fmt.Errorf("project event %s: %w", env.ID, err)
		}
		next, changed := loyalty.Project(m, env, data)
		if !changed {
			return m, nil
		}
		next.Version = m.Version + 1
		err = st.SaveMember(ctx, next, env.ID)
		switch {
		case err == nil:
			return next, nil
		case errors.Is(err, store.ErrDuplicate):
			return m, nil // applied before: what was read already holds it
		case errors.Is(err, store.ErrConflict):
			continue
		default:
			return loyalty.Member{}, fmt.Errorf("project event %s: %w", env.ID, err)
		}
	}
	return loyalty.Member{}, fmt.Errorf("project event %s: member %s kept changing; giving up after %d attempts", env.ID, env.MemberID, maxAttempts)
}
