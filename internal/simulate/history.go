package simulate

import (
	"fmt"

	"github.com/memberflow/memberflow/internal/dispatch"
	"github.com/memberflow/memberflow/internal/store"
)

// history gives the members registered before the simulation the past a
// real programme's members have (Historian): their registration and the
// orders that put them in their starting tier are recorded and applied to
// the projection and the ledger at the start, as a migration of an
// existing member base would, without dispatching them to the journeys —
// nobody is welcomed for a registration years ago. Their birthdays, last
// orders, tier reviews and registration dates are then in the indexes
// the scans read.
func (w *world) history(h Historian) error {
	live, err := w.journeys.LiveSet(w.ctx)
	if err != nil {
		return fmt.Errorf("simulate: history: %w", err)
	}
	for _, m := range w.cfg.Members {
		if !m.Registered.Before(w.cfg.Start) {
			continue
		}
		for _, ev := range h.History(m, w.cfg.Start) {
			res, err := w.st.PutEvents(w.ctx, []store.RecordedEvent{{Source: EventSource, ID: ev.ID, Type: string(ev.Type), MemberID: ev.MemberID,
				OccurredAt: ev.OccurredAt, ReceivedAt: w.host.now(), Payload: ev.Raw, Digest: ev.Digest}})
			if err != nil {
				return fmt.Errorf("simulate: history of %s: %w", m.ID, err)
			}
			if len(res.Accepted) == 0 {
				continue
			}
			data, err := ev.DecodeData()
			if err != nil {
				return fmt.Errorf("simulate: history of %s: %w", m.ID, err)
			}
			pm, err := dispatch.Project(w.ctx, w.st, ev, data)
			if err != nil {
				return fmt.Errorf("simulate: history of %s: %w", m.ID, err)
			}
			if _, err := w.ledger.ApplyEventTo(w.ctx, &pm, ev, data); err != nil {
				return fmt.Errorf("simulate: history of %s: %w", m.ID, err)
			}
			// The member dates dispatch files (registered_at, which
			// anniversary-style date triggers scan for).
			if err := w.dispatch.FileDates(w.ctx, live, ev, data, pm); err != nil {
				return fmt.Errorf("simulate: history of %s: %w", m.ID, err)
			}
		}
	}
	return nil
}
