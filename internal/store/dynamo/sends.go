package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/memberflow/memberflow/internal/store"
)

// ReserveSend creates the pending ledger row unless its key is taken, in
// which case it returns the stored row, so a retried activity learns what an
// earlier attempt did.
func (s *Store) ReserveSend(ctx context.Context, snd store.Send) (store.Send, bool, error) {
	snd, err := store.NewSend(snd)
	if err != nil {
		return store.Send{}, false, err
	}
	var existing sendItem
	created, err := s.createOnly(ctx, newSendItem(snd), &existing)
	switch {
	case err != nil:
		return store.Send{}, false, fmt.Errorf("reserve send %s: %w", snd.Key, err)
	case created:
		return snd, true, nil
	}
	return existing.send(), false, nil
}

// CompleteSend moves a pending row to sent or skipped; a row that is already
// final is left as it is.
func (s *Store) CompleteSend(ctx context.Context, memberID, key string, status store.SendStatus, messageID, reason string, at time.Time) error {
	if status != store.SendSent && status != store.SendSkipped {
		return fmt.Errorf("complete send %s: status %q, want sent or skipped", key, status)
	}
	update := expression.Set(expression.Name("status"), expression.Value(string(status))).
		Set(expression.Name("updated_at"), expression.Value(at))
	if messageID != "" {
		update = update.Set(expression.Name("message_id"), expression.Value(messageID))
	}
	if reason != "" {
		update = update.Set(expression.Name("reason"), expression.Value(reason))
	}
	if err := s.moveStatus(ctx, memberPK(memberID), sendSK(key), string(store.SendPending), update); err != nil {
		return fmt.Errorf("complete send %s: %w", key, err)
	}
	return nil
}

// ListSends returns the member's ledger rows oldest first. Sort keys order
// rows by idempotency key, not time, hence the sort here.
func (s *Store) ListSends(ctx context.Context, memberID string) ([]store.Send, error) {
	items, err := queryPrefix[sendItem](ctx, s, memberPK(memberID), skSendPrefix)
	if err != nil {
		return nil, fmt.Errorf("list sends of %s: %w", memberID, err)
	}
	out := make([]store.Send, len(items))
	for i, it := range items {
		out[i] = it.send()
	}
	slices.SortFunc(out, func(a, b store.Send) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}
