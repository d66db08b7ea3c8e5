// Package dynamo is the DynamoDB adapter of the store ports: one table with
// string keys PK/SK (built only in keys.go), GSI1 and GSI2 for calendar
// scans and journey enrollments, GSI3 for the member index, and Streams
// feeding the dispatcher. Every change that touches more
// than one item is a single TransactWriteItems so a crash never leaves half
// a change.
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

// Store implements store.Store on one DynamoDB table.
type Store struct {
	client *dynamodb.Client
	table  string
}

var _ store.Store = (*Store)(nil)

// New returns a Store on table, which must have the schema of TableDefinition.
func New(client *dynamodb.Client, table string) *Store {
	return &Store{client: client, table: table}
}

// Ping checks the table is reachable by describing it.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}); err != nil {
		return fmt.Errorf("ping table %s: %w", s.table, err)
	}
	return nil
}

// Cancellation reason codes of TransactWriteItems that the adapter acts on.
const (
	reasonNone                = "None"
	reasonConditionFailed     = "ConditionalCheckFailed"
	reasonTransactionConflict = "TransactionConflict"
)

// marshalItem marshals an item struct, leaving zero times out so an unset
// time reads back as the zero time rather than year 1.
func marshalItem(v any) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMapWithOptions(v, func(o *attributevalue.EncoderOptions) {
		o.OmitEmptyTime = true
	})
}

// marshalKey marshals a primary key for Get/Update/Query calls.
func marshalKey(pk, sk string) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(itemKey{PK: pk, SK: sk})
}

// notExists is the condition that makes a Put create-only.
func notExists() expression.ConditionBuilder {
	return expression.Name(attrPK).AttributeNotExists()
}

// getItem reads one item strongly consistently into out; found is false when
// there is no such item. Consistent reads matter because callers read, decide
// and write back with conditions that would otherwise fail spuriously.
func (s *Store) getItem(ctx context.Context, pk, sk string, out any) (found bool, err error) {
	key, err := marshalKey(pk, sk)
	if err != nil {
		return false, err
	}
	got, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, err
	}
	if len(got.Item) == 0 {
		return false, nil
	}
	return true, attributevalue.UnmarshalMap(got.Item, out)
}

// queryPrefix reads every item of partition pk whose sort key starts with
// prefix, following pagination to the end.
func queryPrefix[T any](ctx context.Context, s *Store, pk, prefix string) ([]T, error) {
	return queryAll[T](ctx, s, expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(pk)),
		expression.Key(attrSK).BeginsWith(prefix),
	))
}

// queryAll reads every item matching keyCond, strongly consistently and
// in sort-key order, following pagination to the end.
func queryAll[T any](ctx context.Context, s *Store, keyCond expression.KeyConditionBuilder) ([]T, error) {
	raw, err := s.queryItems(ctx, keyCond)
	if err != nil {
		return nil, err
	}
	var out []T
	if err := attributevalue.UnmarshalListOfMaps(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// queryItems is queryAll without unmarshalling, for items whose attribute
// names are data (the stats counters).
func (s *Store) queryItems(ctx context.Context, keyCond expression.KeyConditionBuilder) ([]map[string]types.AttributeValue, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return nil, err
	}
	pages := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	var out []map[string]types.AttributeValue
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
	}
	return out, nil
}

// cancellationCodes returns the per-item reason codes of a cancelled
// transaction, in request order; ok is false for any other error.
func cancellationCodes(err error) (codes []string, ok bool) {
	reasons, ok := cancellation(err)
	if !ok {
		return nil, false
	}
	return codesOf(reasons), true
}

// codesOf returns the reasons' codes, in request order.
func codesOf(reasons []types.CancellationReason) []string {
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = aws.ToString(r.Code)
	}
	return codes
}

// cancellation returns the per-item reasons of a cancelled transaction, in
// request order; ok is false for any other error.
func cancellation(err error) (reasons []types.CancellationReason, ok bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	return tce.CancellationReasons, true
}

// createOnly writes item unless an item with its key exists. When one
// does, DynamoDB returns it with the failed condition (no second read, no
// race with a concurrent change) and it is unmarshalled into existing.
func (s *Store) createOnly(ctx context.Context, item, existing any) (created bool, err error) {
	cond, err := expression.NewBuilder().WithCondition(notExists()).Build()
	if err != nil {
		return false, fmt.Errorf("build condition: %w", err)
	}
	av, err := marshalItem(item)
	if err != nil {
		return false, fmt.Errorf("marshal: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                av,
		ConditionExpression:                 cond.Condition(),
		ExpressionAttributeNames:            cond.Names(),
		ExpressionAttributeValues:           cond.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return true, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || len(ccf.Item) == 0 {
		return false, err
	}
	if err := attributevalue.UnmarshalMap(ccf.Item, existing); err != nil {
		return false, fmt.Errorf("unmarshal existing: %w", err)
	}
	return false, nil
}

// updateItem applies update to the item at pk/sk, under cond when it is
// set, and returns the item after the update when returnNew. A failed
// condition is a *types.ConditionalCheckFailedException holding the item
// as it was.
func (s *Store) updateItem(ctx context.Context, pk, sk string, update expression.UpdateBuilder, cond expression.ConditionBuilder, returnNew bool) (map[string]types.AttributeValue, error) {
	b := expression.NewBuilder().WithUpdate(update)
	if cond.IsSet() {
		b = b.WithCondition(cond)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build expression: %w", err)
	}
	key, err := marshalKey(pk, sk)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	if cond.IsSet() {
		in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	if returnNew {
		in.ReturnValues = types.ReturnValueAllNew
	}
	out, err := s.client.UpdateItem(ctx, in)
	if err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// moveStatus applies update to the item at pk/sk only while its status is
// from. A failed condition is not an error when the item exists, because it
// has then already left from, and moving a final item changes nothing; it is
// store.ErrNotFound when there is no item. The condition also keeps the
// update from creating an item.
func (s *Store) moveStatus(ctx context.Context, pk, sk, from string, update expression.UpdateBuilder) error {
	_, err := s.updateItem(ctx, pk, sk, update, expression.Name(attrStatus).Equal(expression.Value(from)), false)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &ccf):
		return err
	case len(ccf.Item) == 0:
		return store.ErrNotFound
	}
	return nil
}
