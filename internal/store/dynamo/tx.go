package dynamo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/memberflow/memberflow/internal/store"
)

// txRole says what one item of a transaction is, so a cancellation reason
// can be turned into the port's error.
type txRole int

const (
	roleAccount txRole = iota
	roleMarker
	roleEntry
	roleClaim
	roleCounter
	roleLiability

	roleSendRow     // a send row moved while pending
	roleSendEventID // a provider event's create-only id marker
	roleSendEvent   // a provider event
	roleSendFirst   // the create-only first-of-its-type marker
	roleConversion  // a conversion's create-only marker
	roleStats       // a step stats shard

	roleJourneyVersion // a journey version, create-only
	roleJourneyState   // a journey's state, conditioned on its latest version
	roleJourneyCounted // the create-only marker of a journey count
	roleTimeline       // a timeline entry, create-only
	roleAudit          // an audit entry, create-only
	roleAuditKey       // an audit entry's create-only key marker
	roleAuditDay       // the audit-days index item of the entry's day
	roleLiftCounted    // the marker of a lift count (create-only, or a goal's day moved)
	roleLiftCohort     // a shard of a lift cohort
)

// maxTransactItems is DynamoDB's limit on items in one TransactWriteItems.
const maxTransactItems = 100

// writeTx is a TransactWriteItems being assembled.
type writeTx struct {
	table   string
	items   []types.TransactWriteItem
	roles   []txRole
	changes []int // index into a ledger commit's changes, for account items; -1 otherwise
}

func (tx *writeTx) add(role txRole, change int, item types.TransactWriteItem) {
	tx.items = append(tx.items, item)
	tx.roles = append(tx.roles, role)
	tx.changes = append(tx.changes, change)
}

// put adds a Put; cond may be unset for an unconditional one. Like every
// conditioned item of a writeTx, a failed condition hands back the item as
// it was (see old).
func (tx *writeTx) put(role txRole, change int, item any, cond expression.ConditionBuilder) error {
	av, err := marshalItem(item)
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	put := &types.Put{TableName: aws.String(tx.table), Item: av}
	if cond.IsSet() {
		expr, err := expression.NewBuilder().WithCondition(cond).Build()
		if err != nil {
			return fmt.Errorf("build condition: %w", err)
		}
		put.ConditionExpression = expr.Condition()
		put.ExpressionAttributeNames = expr.Names()
		put.ExpressionAttributeValues = expr.Values()
		put.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	tx.add(role, change, types.TransactWriteItem{Put: put})
	return nil
}

// check adds a ConditionCheck: the transaction goes through only while
// cond holds for the item at pk/sk, which it leaves as it is.
func (tx *writeTx) check(role txRole, pk, sk string, cond expression.ConditionBuilder) error {
	key, err := marshalKey(pk, sk)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build condition: %w", err)
	}
	tx.add(role, -1, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                           aws.String(tx.table),
		Key:                                 key,
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}})
	return nil
}

// update adds an Update; cond may be unset for an unconditional one.
func (tx *writeTx) update(role txRole, change int, pk, sk string, update expression.UpdateBuilder, cond expression.ConditionBuilder) error {
	key, err := marshalKey(pk, sk)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	b := expression.NewBuilder().WithUpdate(update)
	if cond.IsSet() {
		b = b.WithCondition(cond)
	}
	expr, err := b.Build()
	if err != nil {
		return fmt.Errorf("build expression: %w", err)
	}
	upd := &types.Update{
		TableName:                 aws.String(tx.table),
		Key:                       key,
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	if cond.IsSet() {
		upd.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	tx.add(role, change, types.TransactWriteItem{Update: upd})
	return nil
}

// write runs the transaction.
func (tx *writeTx) write(ctx context.Context, client *dynamodb.Client) error {
	if n := len(tx.items); n > maxTransactItems {
		return fmt.Errorf("%d items exceed the %d of one transaction", n, maxTransactItems)
	}
	_, err := client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx.items})
	return err
}

// old tells what a cancelled transaction (reasons: cancellation of tx)
// found at its item of role: whether that item's condition failed and, if
// so, the item as it was then (nil: there was none). DynamoDB hands it
// back with the cancellation (ReturnValuesOnConditionCheckFailure), so a
// write that guessed the item's state learns it without another read.
// The role must occur once in tx.
func (tx *writeTx) old(reasons []types.CancellationReason, role txRole) (item map[string]types.AttributeValue, failed bool) {
	if len(reasons) != len(tx.items) {
		return nil, false
	}
	for i, r := range reasons {
		if tx.roles[i] == role && aws.ToString(r.Code) == reasonConditionFailed {
			if len(r.Item) == 0 {
				return nil, true
			}
			return r.Item, true
		}
	}
	return nil, false
}

// failed reports whether the cancelled transaction's item of this role
// failed its condition; codes are cancellationCodes of tx.
func (tx *writeTx) failed(codes []string, role txRole) bool {
	for i, code := range codes {
		if tx.roles[i] == role && code == reasonConditionFailed {
			return true
		}
	}
	return false
}

// lostRace reports whether a cancelled transaction failed only because
// another writer got in between the reads it was built on and the write:
// a condition that held when read, or an item another transaction had in
// flight. Read again, such a write may well succeed.
func lostRace(codes []string) bool {
	lost := false
	for _, code := range codes {
		switch code {
		case reasonConditionFailed, reasonTransactionConflict:
			lost = true
		case reasonNone, "":
		default:
			return false
		}
	}
	return lost
}

// Read-decide-write attempts: how many, and the first pause between them.
// Races here are between a few writers of one send or one stats shard and
// last milliseconds, so a few short, jittered pauses settle nearly all.
const (
	raceAttempts = 4
	raceBackoff  = 10 * time.Millisecond
)

// retryRaces runs attempt until it is done, re-running it (after a short,
// growing, jittered pause) while it reports that it lost a race. When the
// last attempt loses too, the caller gets store.ErrConflict to retry later.
func retryRaces(ctx context.Context, attempt func() (lost bool, err error)) error {
	for i := range raceAttempts {
		if i > 0 {
			pause := raceBackoff << (i - 1)
			pause += rand.N(pause)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
		}
		lost, err := attempt()
		if !lost {
			return err
		}
	}
	return store.ErrConflict
}
