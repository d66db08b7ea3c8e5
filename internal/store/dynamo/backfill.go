package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
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
	Updated int // items given the index attributes they lacked
	Skipped int // items written by someone else between the scan and the update
}

// BackfillCalendarIndex gives the member profiles, accounts and recorded
// events written before an index existed the attributes of that index
// their write would give them now: GSI2 (last-order and review days) so
// the win-back and tier-expiry scans find them, GSI3 (the member index)
// so broadcasts do, and GSI3 of a member's events (MEVENTS#<member>) so
// erasure and export find the events recorded before that index. It calls
// progress, when not nil, with the running totals after each page and
// returns the totals.
//
// It is the adapter's one full-table Scan, legitimate only because it is a
// one-off migration; everything else reads by key or index. It is
// idempotent, reading only items lacking an index attribute, and safe
// beside live traffic: an item is updated only while it still lacks the
// attributes set and has the version the scan read (an event, which has
// no version and is never rewritten, only while it exists), so a
// concurrent write, which sets them itself, wins and the item counts as
// skipped. A run to completion is recorded in the table (see
// BackfillCalendarIndexOnce).
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
	// A member without orders never has GSI2PK, so the filter finds it
	// on every run; indexTargetOf then finds nothing to set. Events
	// without a member stay out of GSI3, so only those with one are read.
	profiles := expression.Name(attrEntity).In(expression.Value(entityMember), expression.Value(entityAccount)).
		And(expression.Name(attrGSI2PK).AttributeNotExists().Or(
			expression.Name(attrEntity).Equal(expression.Value(entityMember)).And(expression.Name(attrGSI3PK).AttributeNotExists())))
	events := expression.Name(attrEntity).Equal(expression.Value(entityEvent)).
		And(expression.Name(attrMemberID).AttributeExists(), expression.Name(attrGSI3PK).AttributeNotExists())
	filter := profiles.Or(events)
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
			t, err := indexTargetOf(item)
			if err != nil {
				return p, fmt.Errorf("backfill calendar index: %w", err)
			}
			if len(t.set) == 0 {
				continue // what it lacks places it nowhere (a member without orders has no GSI2)
			}
			set, err := s.setIndexes(ctx, t)
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

// indexTarget is the index attributes one scanned item lacks and belongs
// in, with the version the scan read it at.
type indexTarget struct {
	key     itemKey
	version int64
	// unversioned marks an item without a version (an event), updated
	// on the absence of its index attributes alone.
	unversioned bool
	// set holds each index's hash-key attribute (GSI2PK, GSI3PK) with the
	// values of the hash and range keys to give it.
	set map[string][2]string
}

// indexRangeAttr is the range-key attribute of each index's hash key.
var indexRangeAttr = map[string]string{attrGSI2PK: attrGSI2SK, attrGSI3PK: attrGSI3SK}

// indexTargetOf computes what an item lacks as its write path would set
// it: a profile through newMemberItem, an account from its decoded state
// as CommitLedger does, an event through newEventItem.
func indexTargetOf(item map[string]types.AttributeValue) (indexTarget, error) {
	var head struct {
		itemKey
		Entity string `dynamodbav:"entity"`
		GSI2PK string `dynamodbav:"GSI2PK"`
		GSI3PK string `dynamodbav:"GSI3PK"`
	}
	if err := attributevalue.UnmarshalMap(item, &head); err != nil {
		return indexTarget{}, fmt.Errorf("unmarshal item: %w", err)
	}
	what := head.Entity + " " + head.PK
	t := indexTarget{key: head.itemKey, set: map[string][2]string{}}
	switch head.Entity {
	case entityMember:
		var it memberItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return indexTarget{}, fmt.Errorf("%s: unmarshal: %w", what, err)
		}
		t.version = it.Version
		want := newMemberItem(it.member())
		if head.GSI2PK == "" && want.GSI2PK != "" {
			t.set[attrGSI2PK] = [2]string{want.GSI2PK, want.GSI2SK}
		}
		if head.GSI3PK == "" {
			t.set[attrGSI3PK] = [2]string{want.GSI3PK, want.GSI3SK}
		}
		return t, nil
	case entityAccount:
		var it accountItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return indexTarget{}, fmt.Errorf("%s: unmarshal: %w", what, err)
		}
		a, err := it.account()
		if err != nil {
			return indexTarget{}, fmt.Errorf("%s: %w", what, err)
		}
		t.version = it.Version
		if pk, sk, ok := accountGSI2(a); ok && head.GSI2PK == "" {
			t.set[attrGSI2PK] = [2]string{pk, sk}
		}
		return t, nil
	case entityEvent:
		var it eventItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return indexTarget{}, fmt.Errorf("%s: unmarshal: %w", what, err)
		}
		t.unversioned = true
		want := newEventItem(it.recordedEvent())
		if head.GSI3PK == "" && want.GSI3PK != "" {
			t.set[attrGSI3PK] = [2]string{want.GSI3PK, want.GSI3SK}
		}
		return t, nil
	}
	return indexTarget{}, fmt.Errorf("%s: entity %q has no index attributes", what, head.Entity)
}

// setIndexes writes t's index attributes while the item still lacks them
// and is at t.version; set is false when that condition failed, which
// means a write since the scan has placed the item itself (or removed
// it).
func (s *Store) setIndexes(ctx context.Context, t indexTarget) (set bool, err error) {
	// An item that is gone has no version either, so the update never
	// creates one; an unversioned item must exist for the same reason.
	cond := expression.Name(attrVersion).Equal(expression.Value(t.version))
	if t.unversioned {
		cond = expression.Name(attrPK).AttributeExists()
	}
	var update expression.UpdateBuilder
	for _, hash := range slices.Sorted(maps.Keys(t.set)) {
		v := t.set[hash]
		update = update.Set(expression.Name(hash), expression.Value(v[0])).
			Set(expression.Name(indexRangeAttr[hash]), expression.Value(v[1]))
		cond = cond.And(expression.Name(hash).AttributeNotExists())
	}
	_, err = s.updateItem(ctx, t.key.PK, t.key.SK, update, cond, false)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ccf):
		return false, nil
	}
	return false, err
}

// calendarIndexVersion is the index layout this build writes (version 1:
// GSI2 holds last-order and review days; version 2: GSI3 holds every
// profile; version 3: GSI3 holds every event with a member, under
// MEVENTS#<member>). A migration for a newer layout raises it, so
// BackfillCalendarIndexOnce runs again once.
const calendarIndexVersion = 3

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
