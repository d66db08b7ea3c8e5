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

// ListActiveEnrollments reads the journey's partition of active
// enrollments in GSI1.
func (s *Store) ListActiveEnrollments(ctx context.Context, journey, after string, limit int) ([]loyalty.Enrollment, string, error) {
	what := "list active enrollments of " + journey
	if err := store.CheckEnrollmentPage(what, journey, limit); err != nil {
		return nil, "", err
	}
	page, next, err := s.enrollmentPage(ctx, gsi1Name, attrGSI1PK, attrGSI1SK, activeGSI1PK(journey), after, limit)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	return page, next, nil
}

// ListHeldEnrollments reads the journey's partition of held enrollments
// in GSI2.
func (s *Store) ListHeldEnrollments(ctx context.Context, journey, after string, limit int) ([]loyalty.Enrollment, string, error) {
	what := "list held enrollments of " + journey
	if err := store.CheckEnrollmentPage(what, journey, limit); err != nil {
		return nil, "", err
	}
	page, next, err := s.enrollmentPage(ctx, gsi2Name, attrGSI2PK, attrGSI2SK, heldGSI2PK(journey), after, limit)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	return page, next, nil
}

// enrollmentPage reads up to limit enrollments of partition pk of index
// after the cursor (an enrollmentIndexSK), one more than asked for to
// tell whether a next page exists: one Query.
func (s *Store) enrollmentPage(ctx context.Context, index, hashAttr, rangeAttr, pk, after string, limit int) ([]loyalty.Enrollment, string, error) {
	keyCond := expression.Key(hashAttr).Equal(expression.Value(pk))
	if after != "" {
		keyCond = expression.KeyAnd(keyCond, expression.Key(rangeAttr).GreaterThan(expression.Value(after)))
	}
	items, err := queryLimit[enrollmentItem](ctx, s, keyCond, limit+1, func(in *dynamodb.QueryInput) {
		in.IndexName = aws.String(index)
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = enrollmentIndexSK(last.MemberID, last.Number)
	}
	out := make([]loyalty.Enrollment, len(items))
	for i, it := range items {
		out[i] = it.enrollment()
	}
	return out, next, nil
}

// SetEnrollmentHeld sets or clears held, and the held index entry with
// it, in one UpdateItem conditioned on the enrollment being active.
func (s *Store) SetEnrollmentHeld(ctx context.Context, memberID, journey string, number int, held bool) error {
	update := expression.Remove(expression.Name(attrHeld)).
		Remove(expression.Name(attrGSI2PK)).Remove(expression.Name(attrGSI2SK))
	if held {
		update = expression.Set(expression.Name(attrHeld), expression.Value(true)).
			Set(expression.Name(attrGSI2PK), expression.Value(heldGSI2PK(journey))).
			Set(expression.Name(attrGSI2SK), expression.Value(enrollmentIndexSK(memberID, number)))
	}
	if err := s.moveStatus(ctx, memberPK(memberID), enrollmentSK(journey, number), string(loyalty.EnrollmentActive), update); err != nil {
		return fmt.Errorf("set enrollment %s/%s/%d held %t: %w", journey, memberID, number, held, err)
	}
	return nil
}

// SetEnrollmentStep sets step and listen in one UpdateItem conditioned on
// the enrollment being active.
func (s *Store) SetEnrollmentStep(ctx context.Context, memberID, journey string, number int, step string, listen []string) error {
	var update expression.UpdateBuilder
	if step == "" {
		update = update.Remove(expression.Name(attrStep))
	} else {
		update = update.Set(expression.Name(attrStep), expression.Value(step))
	}
	if len(listen) == 0 {
		update = update.Remove(expression.Name(attrListen))
	} else {
		update = update.Set(expression.Name(attrListen), expression.Value(listen))
	}
	if err := s.moveStatus(ctx, memberPK(memberID), enrollmentSK(journey, number), string(loyalty.EnrollmentActive), update); err != nil {
		return fmt.Errorf("set enrollment %s/%s/%d step %s: %w", journey, memberID, number, step, err)
	}
	return nil
}

// memberDateItem files a member under the UTC day of one date attribute.
type memberDateItem struct {
	itemKey
	GSI1PK    string `dynamodbav:"GSI1PK"`
	GSI1SK    string `dynamodbav:"GSI1SK"`
	Entity    string `dynamodbav:"entity"`
	MemberID  string `dynamodbav:"member_id"`
	Attribute string `dynamodbav:"attribute"`
	Day       string `dynamodbav:"day"`
}

// SetMemberDate puts the member's item of the attribute (one PutItem,
// which moves it from the day before) or deletes it (one DeleteItem).
func (s *Store) SetMemberDate(ctx context.Context, memberID, attribute, day string) error {
	if err := store.CheckMemberDate(memberID, attribute, day); err != nil {
		return err
	}
	what := fmt.Sprintf("set member date %s of %s", attribute, memberID)
	if day == "" {
		key, err := marshalKey(memberPK(memberID), memberDateSK(attribute))
		if err != nil {
			return fmt.Errorf("%s: marshal key: %w", what, err)
		}
		if _, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key}); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	item, err := marshalItem(memberDateItem{
		itemKey:   itemKey{PK: memberPK(memberID), SK: memberDateSK(attribute)},
		GSI1PK:    memberDateGSI1PK(attribute, day),
		GSI1SK:    memberGSI1SK(memberID),
		Entity:    entityMemberDate,
		MemberID:  memberID,
		Attribute: attribute,
		Day:       day,
	})
	if err != nil {
		return fmt.Errorf("%s: marshal: %w", what, err)
	}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// MembersByDate reads the attribute's day partition of GSI1.
func (s *Store) MembersByDate(ctx context.Context, attribute, day, after string, limit int) ([]string, error) {
	what := fmt.Sprintf("members by date %s %s", attribute, day)
	if err := store.CheckDatePage(what, attribute, day, limit); err != nil {
		return nil, err
	}
	items, err := calendarPage[memberDateItem](ctx, s, gsi1Name, attrGSI1PK, attrGSI1SK, memberDateGSI1PK(attribute, day), after, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.MemberID
	}
	return ids, nil
}

// MembersPage reads one shard of GSI3, which holds member profiles only.
func (s *Store) MembersPage(ctx context.Context, shard int, after string, limit int) ([]loyalty.Member, error) {
	if err := store.CheckMembersPage(shard, limit); err != nil {
		return nil, err
	}
	items, err := calendarPage[memberItem](ctx, s, gsi3Name, attrGSI3PK, attrGSI3SK, membersGSI3PK(shard), after, limit)
	if err != nil {
		return nil, fmt.Errorf("members page of shard %d: %w", shard, err)
	}
	return members(items), nil
}
