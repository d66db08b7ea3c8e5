package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/store"
)

// GetContact reads the member's contact state strongly consistently, as
// the caller decides on it and writes back under its version.
func (s *Store) GetContact(ctx context.Context, memberID string) (contact.State, int64, error) {
	var it contactItem
	found, err := s.getItem(ctx, memberPK(memberID), skContact, &it)
	if err != nil {
		return contact.State{}, 0, fmt.Errorf("get contact state of %s: %w", memberID, err)
	}
	if !found {
		return contact.State{}, 0, nil
	}
	st, err := it.state()
	if err != nil {
		return contact.State{}, 0, fmt.Errorf("get contact state of %s: %w", memberID, err)
	}
	return st, it.Version, nil
}

// PutContact replaces the member's contact state with one Put conditioned
// on the version the caller read.
func (s *Store) PutContact(ctx context.Context, memberID string, st contact.State, version int64) error {
	if err := store.CheckPutContact(memberID, version); err != nil {
		return err
	}
	what := fmt.Sprintf("put contact state of %s at version %d", memberID, version)
	it, err := newContactItem(memberID, st, version+1)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	av, err := marshalItem(it)
	if err != nil {
		return fmt.Errorf("%s: marshal: %w", what, err)
	}
	cond := notExists()
	if version > 0 {
		cond = expression.Name(attrVersion).Equal(expression.Value(version))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("%s: build condition: %w", what, err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      av,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ccf):
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	}
	return fmt.Errorf("%s: %w", what, err)
}
