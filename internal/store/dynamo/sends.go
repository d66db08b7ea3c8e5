package dynamo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// CompleteSend moves a pending row to sent or skipped and counts the move
// in the step's stats, in one transaction that reads nothing first: the
// caller names the row's journey and step, and the update is conditioned
// on the row being still pending and of that step. The condition is what
// counts the move once, however many callers complete the row at the same
// time. When it fails, the cancellation hands back the row: none is
// ErrNotFound, a final one is left as it is, and a pending one of another
// step (a caller that did not know it) is completed under its own step.
func (s *Store) CompleteSend(ctx context.Context, ref store.SendRef, status store.SendStatus, messageID, reason string, at time.Time) error {
	statsKey, err := store.CheckCompleteSend(ref.Key, status, reason)
	if err != nil {
		return err
	}
	update := expression.Set(expression.Name(attrStatus), expression.Value(string(status))).
		Set(expression.Name(attrUpdatedAt), expression.Value(at))
	if messageID != "" {
		update = update.Set(expression.Name(attrMessageID), expression.Value(messageID))
	}
	if reason != "" {
		update = update.Set(expression.Name(attrReason), expression.Value(reason))
	}
	pk, sk := memberPK(ref.MemberID), sendSK(ref.Key)
	err = retryRaces(ctx, func() (bool, error) {
		// The second round knows the row's step from the first's
		// cancellation.
		for range 2 {
			tx := &writeTx{table: s.table}
			if err := tx.update(roleSendRow, -1, pk, sk, update, stillPending().And(ofStep(ref.Journey, ref.Step))); err != nil {
				return false, err
			}
			stats := statsDelta{}
			if status == store.SendSent {
				stats.sent(ref.Journey, ref.Step, at)
			} else {
				stats.add(ref.Journey, ref.Step, statsKey)
			}
			if err := tx.stats(ref.MemberID, stats); err != nil {
				return false, err
			}
			err := tx.write(ctx, s.client)
			reasons, ok := cancellation(err)
			if !ok {
				return false, err
			}
			item, failed := tx.old(reasons, roleSendRow)
			if !failed {
				return lostOrFailed(err)
			}
			if item == nil {
				return false, store.ErrNotFound
			}
			var row sendItem
			if err := attributevalue.UnmarshalMap(item, &row); err != nil {
				return false, fmt.Errorf("read the row: %w", err)
			}
			if row.Status != string(store.SendPending) {
				return false, nil // final: left as it is, counted when it moved
			}
			if row.Journey == ref.Journey && row.Step == ref.Step {
				return true, nil // it was not pending when the condition was checked
			}
			ref.Journey, ref.Step = row.Journey, row.Step
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("complete send %s: %w", ref.Key, err)
	}
	return nil
}

// ofStep is the condition that a send row belongs to the journey step: a
// send reserved without a journey or step has no such attribute.
func ofStep(journey, step string) expression.ConditionBuilder {
	is := func(name, v string) expression.ConditionBuilder {
		if v == "" {
			return expression.AttributeNotExists(expression.Name(name))
		}
		return expression.Name(name).Equal(expression.Value(v))
	}
	return is(attrJourney, journey).And(is(attrStep, step))
}

// lostOrFailed sorts a transaction's outcome for retryRaces: a race lost
// is tried again, any other error is final.
func lostOrFailed(err error) (lost bool, _ error) {
	if err == nil {
		return false, nil
	}
	if codes, ok := cancellationCodes(err); ok && lostRace(codes) {
		return true, nil
	}
	return false, err
}

// stillPending is the condition of every write that moves a send row: it
// exists and nobody has completed it since it was read.
func stillPending() expression.ConditionBuilder {
	return expression.Name(attrStatus).Equal(expression.Value(string(store.SendPending)))
}

// MarkSendAttempt sets attempted_at on a pending row; a final row is left
// as it is, and a missing one is ErrNotFound.
func (s *Store) MarkSendAttempt(ctx context.Context, memberID, key string, at, prev time.Time) error {
	// Times are written in UTC so the value read back compares equal in
	// the next claim's condition; clearing removes the attribute.
	update := expression.Set(expression.Name(attrAttemptedAt), expression.Value(at.UTC()))
	if at.IsZero() {
		update = expression.Remove(expression.Name(attrAttemptedAt))
	}
	attempt := expression.Name(attrAttemptedAt)
	same := attempt.Equal(expression.Value(prev.UTC()))
	if prev.IsZero() {
		// Rows cleared before attempts were removed hold the zero time.
		same = expression.AttributeNotExists(attempt).Or(attempt.Equal(expression.Value(time.Time{})))
	}
	cond := expression.Name(attrStatus).Equal(expression.Value(string(store.SendPending))).And(same)
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("mark send attempt %s: build expression: %w", key, err)
	}
	k, err := marshalKey(memberPK(memberID), sendSK(key))
	if err != nil {
		return fmt.Errorf("mark send attempt %s: %w", key, err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: k,
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &ccf):
		return fmt.Errorf("mark send attempt %s: %w", key, err)
	case len(ccf.Item) == 0:
		return fmt.Errorf("mark send attempt %s: %w", key, store.ErrNotFound)
	}
	var it sendItem
	if err := attributevalue.UnmarshalMap(ccf.Item, &it); err != nil {
		return fmt.Errorf("mark send attempt %s: read the row: %w", key, err)
	}
	if it.Status != string(store.SendPending) {
		return nil // final: left as it is
	}
	return fmt.Errorf("mark send attempt %s: %w", key, store.ErrConflict)
}

// GetSend reads one ledger row.
func (s *Store) GetSend(ctx context.Context, memberID, key string) (store.Send, error) {
	var it sendItem
	found, err := s.getItem(ctx, memberPK(memberID), sendSK(key), &it)
	if err != nil {
		return store.Send{}, fmt.Errorf("get send %s: %w", key, err)
	}
	if !found {
		return store.Send{}, fmt.Errorf("get send %s: %w", key, store.ErrNotFound)
	}
	return it.send(), nil
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
