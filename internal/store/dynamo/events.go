package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/memberflow/memberflow/internal/store"
)

// PutEvents writes the new events of the batch in one transaction, each
// create-only. When the transaction is cancelled because some events already
// exist, those are duplicates: they are dropped and the rest is retried, so
// the new events still land all-or-nothing.
func (s *Store) PutEvents(ctx context.Context, evs []store.RecordedEvent) (store.PutEventsResult, error) {
	var res store.PutEventsResult
	if err := store.CheckPutEvents(evs); err != nil {
		return res, err
	}
	if len(evs) == 0 {
		return res, nil
	}
	cond, err := expression.NewBuilder().WithCondition(notExists()).Build()
	if err != nil {
		return res, fmt.Errorf("put events: build condition: %w", err)
	}

	duplicate := make([]bool, len(evs))
	writes := make([]types.TransactWriteItem, len(evs))
	var pending []int // indexes into evs still to be written
	seen := make(map[string]bool, len(evs))
	for i, ev := range evs {
		// A transaction may not touch one item twice, and a repeat inside
		// the batch is a duplicate of its first occurrence anyway.
		pk := eventPK(ev.Source, ev.ID)
		if seen[pk] {
			duplicate[i] = true
			continue
		}
		seen[pk] = true
		item, err := marshalItem(newEventItem(ev))
		if err != nil {
			return res, fmt.Errorf("put events: marshal event %s/%s: %w", ev.Source, ev.ID, err)
		}
		writes[i] = types.TransactWriteItem{Put: &types.Put{
			TableName:                 aws.String(s.table),
			Item:                      item,
			ConditionExpression:       cond.Condition(),
			ExpressionAttributeNames:  cond.Names(),
			ExpressionAttributeValues: cond.Values(),
		}}
		pending = append(pending, i)
	}

	for len(pending) > 0 {
		batch := make([]types.TransactWriteItem, len(pending))
		for j, i := range pending {
			batch[j] = writes[i]
		}
		_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: batch})
		if err == nil {
			break
		}
		codes, ok := cancellationCodes(err)
		if !ok || len(codes) != len(pending) {
			return store.PutEventsResult{}, fmt.Errorf("put events: %w", err)
		}
		var rest []int
		for j, code := range codes {
			switch code {
			case reasonConditionFailed:
				duplicate[pending[j]] = true
			case reasonNone, "":
				rest = append(rest, pending[j])
			case reasonTransactionConflict:
				// Another writer is recording the same event right now;
				// the caller's retry will see it as a duplicate.
				return store.PutEventsResult{}, fmt.Errorf("put events: %w: %w", store.ErrConflict, err)
			default:
				return store.PutEventsResult{}, fmt.Errorf("put events: %w", err)
			}
		}
		if len(rest) == len(pending) {
			// Cancelled without naming a duplicate: retrying would loop.
			return store.PutEventsResult{}, fmt.Errorf("put events: %w", err)
		}
		pending = rest
	}

	for i, ev := range evs {
		if duplicate[i] {
			res.Duplicates = append(res.Duplicates, ev.ID)
		} else {
			res.Accepted = append(res.Accepted, ev.ID)
		}
	}
	return res, nil
}

// GetEvent reads one recorded event.
func (s *Store) GetEvent(ctx context.Context, source, id string) (store.RecordedEvent, error) {
	var it eventItem
	found, err := s.getItem(ctx, eventPK(source, id), skEvent, &it)
	if err != nil {
		return store.RecordedEvent{}, fmt.Errorf("get event %s/%s: %w", source, id, err)
	}
	if !found {
		return store.RecordedEvent{}, fmt.Errorf("get event %s/%s: %w", source, id, store.ErrNotFound)
	}
	return it.recordedEvent(), nil
}
