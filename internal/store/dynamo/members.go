package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// GetMember reads a member's projection.
func (s *Store) GetMember(ctx context.Context, id string) (loyalty.Member, error) {
	var it memberItem
	found, err := s.getItem(ctx, memberPK(id), skProfile, &it)
	if err != nil {
		return loyalty.Member{}, fmt.Errorf("get member %s: %w", id, err)
	}
	if !found {
		return loyalty.Member{}, fmt.Errorf("get member %s: %w", id, store.ErrNotFound)
	}
	return it.member(), nil
}

// SaveMember writes the profile and the applied-event marker in one
// transaction: the profile conditioned on the previous version, the marker
// create-only. Which condition failed tells a replayed event (ErrDuplicate)
// from a lost race (ErrConflict).
func (s *Store) SaveMember(ctx context.Context, m loyalty.Member, eventID string) error {
	if err := store.CheckSaveMember(m, eventID); err != nil {
		return err
	}
	profileCond := notExists()
	if m.Version > 1 {
		profileCond = expression.Name("version").Equal(expression.Value(m.Version - 1))
	}
	pExpr, err := expression.NewBuilder().WithCondition(profileCond).Build()
	if err != nil {
		return fmt.Errorf("save member %s: build condition: %w", m.ID, err)
	}
	mExpr, err := expression.NewBuilder().WithCondition(notExists()).Build()
	if err != nil {
		return fmt.Errorf("save member %s: build condition: %w", m.ID, err)
	}
	profile, err := marshalItem(newMemberItem(m))
	if err != nil {
		return fmt.Errorf("save member %s: marshal profile: %w", m.ID, err)
	}
	marker, err := marshalItem(appliedItem{
		itemKey: itemKey{PK: memberPK(m.ID), SK: appliedSK(eventID)},
		Entity:  entityApplied,
		EventID: eventID,
		Version: m.Version,
	})
	if err != nil {
		return fmt.Errorf("save member %s: marshal applied marker: %w", m.ID, err)
	}

	const profileIdx, markerIdx = 0, 1
	items := make([]types.TransactWriteItem, 2)
	items[profileIdx] = types.TransactWriteItem{Put: &types.Put{
		TableName:                 aws.String(s.table),
		Item:                      profile,
		ConditionExpression:       pExpr.Condition(),
		ExpressionAttributeNames:  pExpr.Names(),
		ExpressionAttributeValues: pExpr.Values(),
	}}
	items[markerIdx] = types.TransactWriteItem{Put: &types.Put{
		TableName:                 aws.String(s.table),
		Item:                      marker,
		ConditionExpression:       mExpr.Condition(),
		ExpressionAttributeNames:  mExpr.Names(),
		ExpressionAttributeValues: mExpr.Values(),
	}}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	codes, ok := cancellationCodes(err)
	if !ok || len(codes) != len(items) {
		return fmt.Errorf("save member %s: %w", m.ID, err)
	}
	// The marker wins: if the event was applied before, the caller must not
	// retry, whatever happened to the version.
	switch {
	case codes[markerIdx] == reasonConditionFailed:
		return fmt.Errorf("save member %s for event %s: %w", m.ID, eventID, store.ErrDuplicate)
	case codes[profileIdx] == reasonConditionFailed,
		codes[profileIdx] == reasonTransactionConflict,
		codes[markerIdx] == reasonTransactionConflict:
		return fmt.Errorf("save member %s at version %d: %w", m.ID, m.Version, store.ErrConflict)
	}
	return fmt.Errorf("save member %s: %w", m.ID, err)
}

// StartEnrollment creates the enrollment unless it exists, in which case it
// returns the stored one.
func (s *Store) StartEnrollment(ctx context.Context, e loyalty.Enrollment) (loyalty.Enrollment, bool, error) {
	e, err := store.NewEnrollment(e)
	if err != nil {
		return loyalty.Enrollment{}, false, err
	}
	var existing enrollmentItem
	created, err := s.createOnly(ctx, newEnrollmentItem(e), &existing)
	switch {
	case err != nil:
		return loyalty.Enrollment{}, false, fmt.Errorf("start enrollment %s/%s/%d: %w", e.Journey, e.MemberID, e.Number, err)
	case created:
		return e, true, nil
	}
	return existing.enrollment(), false, nil
}

// EndEnrollment moves an active enrollment to a final status, taking it
// out of its journey's listings; an enrollment that is already final is
// left as it is.
func (s *Store) EndEnrollment(ctx context.Context, memberID, journey string, number int, status loyalty.EnrollmentStatus, reason string, at time.Time) error {
	if !status.Final() {
		return fmt.Errorf("end enrollment %s/%s/%d: status %q is not final", journey, memberID, number, status)
	}
	// An ended enrollment leaves its journey's listings and is held no
	// longer: it waits for nothing.
	update := expression.Set(expression.Name(attrStatus), expression.Value(string(status))).
		Set(expression.Name(attrEndedAt), expression.Value(at)).
		Remove(expression.Name(attrGSI1PK)).Remove(expression.Name(attrGSI1SK)).
		Remove(expression.Name(attrGSI2PK)).Remove(expression.Name(attrGSI2SK)).
		Remove(expression.Name(attrHeld))
	if reason != "" {
		update = update.Set(expression.Name("reason"), expression.Value(reason))
	}
	err := s.moveStatus(ctx, memberPK(memberID), enrollmentSK(journey, number), string(loyalty.EnrollmentActive), update)
	if err != nil {
		return fmt.Errorf("end enrollment %s/%s/%d: %w", journey, memberID, number, err)
	}
	return nil
}

// GetEnrollment reads one enrollment.
func (s *Store) GetEnrollment(ctx context.Context, memberID, journey string, number int) (loyalty.Enrollment, error) {
	var it enrollmentItem
	found, err := s.getItem(ctx, memberPK(memberID), enrollmentSK(journey, number), &it)
	if err != nil {
		return loyalty.Enrollment{}, fmt.Errorf("get enrollment %s/%s/%d: %w", journey, memberID, number, err)
	}
	if !found {
		return loyalty.Enrollment{}, fmt.Errorf("get enrollment %s/%s/%d: %w", journey, memberID, number, store.ErrNotFound)
	}
	return it.enrollment(), nil
}

// ListEnrollments returns the member's enrollments by journey then number.
// The sort key already orders them, except where a journey name contains a
// byte below '#' or a number outgrows its padding, so the order is enforced
// here rather than trusted to the key layout.
func (s *Store) ListEnrollments(ctx context.Context, memberID string) ([]loyalty.Enrollment, error) {
	items, err := queryPrefix[enrollmentItem](ctx, s, memberPK(memberID), skEnrollPrefix)
	if err != nil {
		return nil, fmt.Errorf("list enrollments of %s: %w", memberID, err)
	}
	out := make([]loyalty.Enrollment, len(items))
	for i, it := range items {
		out[i] = it.enrollment()
	}
	slices.SortFunc(out, func(a, b loyalty.Enrollment) int {
		return cmp.Or(cmp.Compare(a.Journey, b.Journey), cmp.Compare(a.Number, b.Number))
	})
	return out, nil
}
