package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/memberflow/memberflow/internal/store"
)

// eventOutcome is what PutEvents made of one event of a batch.
type eventOutcome int

const (
	eventNew eventOutcome = iota
	eventDuplicate
	eventConflict
)

// PutEvents writes the new events of the batch in one transaction, each
// create-only. When the transaction is cancelled because some events
// already exist, DynamoDB hands back those items
// (ReturnValuesOnConditionCheckFailure) and their digests classify them:
// the same content is a duplicate, dropped before the rest is retried, so
// the new events still land all-or-nothing; other content is a conflict,
// and then nothing is written. A batch with one event to write (the usual
// webhook) writes it with a conditional PutItem instead, classified the
// same way.
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

	outcome := make([]eventOutcome, len(evs))
	conflict := false
	writes := make([]types.TransactWriteItem, len(evs))
	var pending []int // indexes into evs still to be written
	first := make(map[string]int, len(evs))
	for i, ev := range evs {
		// A transaction may not touch one item twice, and a repeat inside
		// the batch is a duplicate of its first occurrence, or a conflict
		// with it.
		pk := eventPK(ev.Source, ev.ID)
		if j, seen := first[pk]; seen {
			outcome[i] = classify(evs[j].Digest, ev.Digest)
			conflict = conflict || outcome[i] == eventConflict
			continue
		}
		first[pk] = i
		item, err := marshalItem(newEventItem(ev))
		if err != nil {
			return res, fmt.Errorf("put events: marshal event %s/%s: %w", ev.Source, ev.ID, err)
		}
		writes[i] = types.TransactWriteItem{Put: &types.Put{
			TableName:                           aws.String(s.table),
			Item:                                item,
			ConditionExpression:                 cond.Condition(),
			ExpressionAttributeNames:            cond.Names(),
			ExpressionAttributeValues:           cond.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
		pending = append(pending, i)
	}

	if len(pending) == 1 && !conflict {
		// One item to write needs no transaction: a conditional PutItem
		// is all or nothing on its own, at half a transaction's cost.
		i := pending[0]
		o, err := s.putEvent(ctx, evs[i], writes[i].Put)
		if err != nil {
			return store.PutEventsResult{}, fmt.Errorf("put events: %w", err)
		}
		outcome[i], conflict = o, conflict || o == eventConflict
		pending = nil
	}
	for len(pending) > 0 && !conflict {
		batch := make([]types.TransactWriteItem, len(pending))
		for j, i := range pending {
			batch[j] = writes[i]
		}
		_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: batch})
		if err == nil {
			break
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) || len(tce.CancellationReasons) != len(pending) {
			return store.PutEventsResult{}, fmt.Errorf("put events: %w", err)
		}
		var rest []int
		for j, r := range tce.CancellationReasons {
			i := pending[j]
			switch aws.ToString(r.Code) {
			case reasonConditionFailed:
				recorded, err := recordedDigest(evs[i], r.Item)
				if err != nil {
					return store.PutEventsResult{}, fmt.Errorf("put events: %w", err)
				}
				outcome[i] = classify(recorded, evs[i].Digest)
				conflict = conflict || outcome[i] == eventConflict
			case reasonNone, "":
				rest = append(rest, i)
			case reasonTransactionConflict:
				// Another writer is recording the same event right now;
				// the caller's retry will see it as a duplicate.
				return store.PutEventsResult{}, fmt.Errorf("put events: %w: %w", store.ErrConflict, err)
			default:
				return store.PutEventsResult{}, fmt.Errorf("put events: %w", err)
			}
		}
		if len(rest) == len(pending) {
			// Cancelled without naming a recorded event: retrying would loop.
			return store.PutEventsResult{}, fmt.Errorf("put events: %w", err)
		}
		pending = rest
	}

	for i, ev := range evs {
		switch outcome[i] {
		case eventNew:
			if !conflict {
				res.Accepted = append(res.Accepted, ev.ID)
			}
		case eventDuplicate:
			res.Duplicates = append(res.Duplicates, ev.ID)
		case eventConflict:
			res.Conflicts = append(res.Conflicts, ev.ID)
		}
	}
	return res, nil
}

// putEvent writes one event create-only with PutItem (put: its
// transaction item) and classifies it by the recorded item DynamoDB hands
// back when one exists.
func (s *Store) putEvent(ctx context.Context, ev store.RecordedEvent, put *types.Put) (eventOutcome, error) {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           put.TableName,
		Item:                                put.Item,
		ConditionExpression:                 put.ConditionExpression,
		ExpressionAttributeNames:            put.ExpressionAttributeNames,
		ExpressionAttributeValues:           put.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	var tce *types.TransactionConflictException
	switch {
	case err == nil:
		return eventNew, nil
	case errors.As(err, &tce):
		// Another writer is recording the same event right now; the
		// caller's retry will see it as a duplicate.
		return 0, fmt.Errorf("%w: %w", store.ErrConflict, err)
	case !errors.As(err, &ccf):
		return 0, err
	}
	recorded, err := recordedDigest(ev, ccf.Item)
	if err != nil {
		return 0, err
	}
	return classify(recorded, ev.Digest), nil
}

// classify compares a recorded (or earlier) digest with an arriving one.
func classify(recorded, arriving string) eventOutcome {
	if store.SameContent(recorded, arriving) {
		return eventDuplicate
	}
	return eventConflict
}

// recordedDigest returns the digest of the recorded event ev collided
// with, from the item DynamoDB returned with the failed condition: no
// second read, and no race with a writer in between.
func recordedDigest(ev store.RecordedEvent, item map[string]types.AttributeValue) (string, error) {
	if len(item) == 0 {
		return "", fmt.Errorf("recorded event %s/%s: the cancellation did not return the item", ev.Source, ev.ID)
	}
	var it eventItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return "", fmt.Errorf("unmarshal recorded event %s/%s: %w", ev.Source, ev.ID, err)
	}
	return it.Digest, nil
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
