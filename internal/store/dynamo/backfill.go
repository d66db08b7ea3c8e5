package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BackfillProgress counts what BackfillCalendarIndex has done so far.
type BackfillProgress struct {
	Scanned int // items the scan has read, before its filter: how far through the table it is
	Updated int // items given their GSI2 attributes
	Skipped int // items written by someone else between the scan and the update
}

// BackfillCalendarIndex gives the member profiles and accounts written
// before GSI2 existed the GSI2 attributes their next write would give them,
// so the win-back and tier-expiry scans find them. It calls progress, when
// not nil, with the running totals after each page and returns the totals.
//
// It is the adapter's one full-table Scan, legitimate only because it is a
// one-off migration; everything else reads by key or index. It is
// idempotent, reading only items without GSI2PK, and safe beside live
// traffic: an item is updated only while it still lacks GSI2PK and has the
// version the scan read, so a concurrent write, which sets GSI2 itself,
// wins and the item counts as skipped. A run to completion is recorded in
// the table (see BackfillCalendarIndexOnce).
func (s *Store) BackfillCalendarIndex(ctx context.Context, progress func(BackfillProgress)) (BackfillProgress, error) {
	p, err := s.backfillCalendarIndex(ctx, progress)
	if err != nil {
		return p, err
	}
	return p, s.markMigrated(ctx, calendarIndexMigration(), p)
}

func calendarIndexMigration() string { return fmt.Sprintf("calendar-index#v%d", calendarIndexVersion) }

func (s *Store) backfillCalendarIndex(ctx context.Context, progress func(BackfillProgress)) (BackfillProgress, error) {
	var p BackfillProgress
	filter := expression.Name(attrEntity).In(expression.Value(entityMember), expression.Value(entityAccount)).
		And(expression.Name(attrGSI2PK).AttributeNotExists())
	expr, err := expression.NewBuilder().WithFilter(filter).Build()
	if err != nil {
		return p, fmt.Errorf("backfill calendar index: build filter: %w", err)
	}
	pages := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return p, fmt.Errorf("backfill calendar index: scan %s: %w", s.table, err)
		}
		p.Scanned += int(page.ScannedCount)
		for _, item := range page.Items {
			t, err := gsi2TargetOf(item)
			if err != nil {
				return p, fmt.Errorf("backfill calendar index: %w", err)
			}
			if t.pk == "" {
				continue // no order or no review: the item belongs in no GSI2 partition
			}
			set, err := s.setGSI2(ctx, t)
			switch {
			case err != nil:
				return p, fmt.Errorf("backfill calendar index: %s %s: %w", t.key.PK, t.key.SK, err)
			case set:
				p.Updated++
			default:
				p.Skipped++
			}
		}
		if progress != nil {
			progress(p)
		}
	}
	return p, nil
}

// gsi2Target is where one scanned item belongs in GSI2, with the version
// the scan read it at.
type gsi2Target struct {
	key     itemKey
	version int64
	pk, sk  string // "" when the item belongs in no GSI2 partition
}

// gsi2TargetOf computes an item's GSI2 attributes as its write path does:
// a profile through newMemberItem, an account from its decoded state as
// CommitLedger sets them.
func gsi2TargetOf(item map[string]types.AttributeValue) (gsi2Target, error) {
	var head struct {
		itemKey
		Entity string `dynamodbav:"entity"`
	}
	if err := attributevalue.UnmarshalMap(item, &head); err != nil {
		return gsi2Target{}, fmt.Errorf("unmarshal item: %w", err)
	}
	what := head.Entity + " " + head.PK
	switch head.Entity {
	case entityMember:
		var it memberItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return gsi2Target{}, fmt.Errorf("%s: unmarshal: %w", what, err)
		}
		want := newMemberItem(it.member())
		return gsi2Target{key: it.itemKey, version: it.Version, pk: want.GSI2PK, sk: want.GSI2SK}, nil
	case entityAccount:
		var it accountItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return gsi2Target{}, fmt.Errorf("%s: unmarshal: %w", what, err)
		}
		a, err := it.account()
		if err != nil {
			return gsi2Target{}, fmt.Errorf("%s: %w", what, err)
		}
		t := gsi2Target{key: it.itemKey, version: it.Version}
		t.pk, t.sk, _ = accountGSI2(a)
		return t, nil
	}
	return gsi2Target{}, fmt.Errorf("%s: entity %q has no GSI2 attributes", what, head.Entity)
}

// setGSI2 writes t's GSI2 attributes while the item still lacks GSI2PK and
// is at t.version; set is false when that condition failed, which means
// a write since the scan has placed the item itself (or removed it).
func (s *Store) setGSI2(ctx context.Context, t gsi2Target) (set bool, err error) {
	update := expression.Set(expression.Name(attrGSI2PK), expression.Value(t.pk)).
		Set(expression.Name(attrGSI2SK), expression.Value(t.sk))
	// An item that is gone has no version either, so the update never
	// creates one.
	cond := expression.Name(attrGSI2PK).AttributeNotExists().
		And(expression.Name(attrVersion).Equal(expression.Value(t.version)))
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return false, fmt.Errorf("build update: %w", err)
	}
	key, err := marshalKey(t.key.PK, t.key.SK)
	if err != nil {
		return false, fmt.Errorf("marshal key: %w", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ccf):
		return false, nil
	}
	return false, err
}

// calendarIndexVersion is the calendar index layout this build writes
// (version 1: GSI2 holds last-order and review days). A migration for a
// newer layout raises it, so BackfillCalendarIndexOnce runs again once.
const calendarIndexVersion = 1

// migrationItem records that a one-off migration ran to completion on
// this table.
type migrationItem struct {
	itemKey
	Entity  string    `dynamodbav:"entity"`
	Name    string    `dynamodbav:"name"`
	DoneAt  time.Time `dynamodbav:"done_at"`
	Scanned int       `dynamodbav:"scanned"`
	Updated int       `dynamodbav:"updated"`
}

// BackfillCalendarIndexOnce runs BackfillCalendarIndex unless it already
// ran to completion on this table for the current index version, and then
// records that it did, so a start-up pays for the full-table scan once per
// table version instead of every time. already reports a run skipped
// because it had been done (nothing was scanned then).
func (s *Store) BackfillCalendarIndexOnce(ctx context.Context, progress func(BackfillProgress)) (p BackfillProgress, already bool, err error) {
	var done migrationItem
	found, err := s.getItem(ctx, migrationPK, migrationSK(calendarIndexMigration()), &done)
	if err != nil {
		return p, false, fmt.Errorf("backfill calendar index: read migration marker: %w", err)
	}
	if found {
		return p, true, nil
	}
	p, err = s.BackfillCalendarIndex(ctx, progress)
	return p, false, err
}

// markMigrated records that the migration name completed with p.
func (s *Store) markMigrated(ctx context.Context, name string, p BackfillProgress) error {
	item, err := marshalItem(migrationItem{itemKey: itemKey{PK: migrationPK, SK: migrationSK(name)}, Entity: entityMigration,
		Name: name, DoneAt: time.Now().UTC(), Scanned: p.Scanned, Updated: p.Updated})
	if err != nil {
		return fmt.Errorf("record migration %s: %w", name, err)
	}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("record migration %s: %w", name, err)
	}
	return nil
}
