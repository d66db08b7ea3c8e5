package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// MembersByBirthday reads the birthday partitions of GSI1, which hold
// member profiles only. GSI1 is eventually consistent, so a birthday saved
// a moment ago may be missing.
func (s *Store) MembersByBirthday(ctx context.Context, mmdd, after string, limit int) ([]loyalty.Member, error) {
	what := fmt.Sprintf("members by birthday %s", mmdd)
	if err := store.CheckBirthdayPage(what, mmdd, limit); err != nil {
		return nil, err
	}
	items, err := calendarPage[memberItem](ctx, s, gsi1Name, attrGSI1PK, attrGSI1SK, mmddGSI1PK(mmdd), after, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return members(items), nil
}

// MembersByLastOrderDay reads the last-order partitions of GSI2.
func (s *Store) MembersByLastOrderDay(ctx context.Context, day, after string, limit int) ([]loyalty.Member, error) {
	what := fmt.Sprintf("members by last order day %s", day)
	if err := store.CheckDayPage(what, day, limit); err != nil {
		return nil, err
	}
	items, err := calendarPage[memberItem](ctx, s, gsi2Name, attrGSI2PK, attrGSI2SK, lastOrderDayGSI2PK(day), after, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return members(items), nil
}

// AccountsByReviewDay reads the review partitions of GSI2.
func (s *Store) AccountsByReviewDay(ctx context.Context, day, after string, limit int) ([]loyalty.Account, error) {
	what := fmt.Sprintf("accounts by review day %s", day)
	if err := store.CheckDayPage(what, day, limit); err != nil {
		return nil, err
	}
	items, err := calendarPage[accountItem](ctx, s, gsi2Name, attrGSI2PK, attrGSI2SK, reviewDayGSI2PK(day), after, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := make([]loyalty.Account, len(items))
	for i, it := range items {
		if out[i], err = it.account(); err != nil {
			return nil, fmt.Errorf("%s: account %s: %w", what, it.MemberID, err)
		}
	}
	return out, nil
}

// calendarPage reads up to limit items of the calendar partition pk of
// index, after the member-id cursor, in member-id order: every calendar
// partition sorts its items by memberGSI1SK.
func calendarPage[T any](ctx context.Context, s *Store, index, hashAttr, rangeAttr, pk, after string, limit int) ([]T, error) {
	keyCond := expression.KeyAnd(
		expression.Key(hashAttr).Equal(expression.Value(pk)),
		expression.Key(rangeAttr).GreaterThan(expression.Value(memberGSI1SK(after))),
	)
	return queryLimit[T](ctx, s, keyCond, limit, func(in *dynamodb.QueryInput) {
		in.IndexName = aws.String(index)
	})
}

// members turns profile items into members.
func members(items []memberItem) []loyalty.Member {
	out := make([]loyalty.Member, len(items))
	for i, it := range items {
		out[i] = it.member()
	}
	return out
}
