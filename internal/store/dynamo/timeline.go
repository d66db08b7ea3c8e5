package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/memberflow/memberflow/internal/store"
)

// timelineItem is one decision about a member, under the member.
type timelineItem struct {
	itemKey
	Entity     string     `dynamodbav:"entity"`
	MemberID   string     `dynamodbav:"member_id"`
	Journey    string     `dynamodbav:"journey,omitempty"`
	Version    int        `dynamodbav:"version,omitempty"`
	Enrollment int        `dynamodbav:"enrollment,omitempty"`
	Step       string     `dynamodbav:"step,omitempty"`
	Kind       string     `dynamodbav:"kind"`
	Reason     string     `dynamodbav:"reason,omitempty"`
	Values     jsonObject `dynamodbav:"values,omitempty"`
	At         time.Time  `dynamodbav:"at,omitempty"`
	Until      time.Time  `dynamodbav:"until,omitempty"`
	Key        string     `dynamodbav:"key"`
}

func newTimelineItem(e store.TimelineEntry) timelineItem {
	it := timelineItem{
		itemKey:    itemKey{PK: memberPK(e.MemberID), SK: timelineSK(e.At, e.Key, e.Kind)},
		Entity:     entityTimeline,
		MemberID:   e.MemberID,
		Journey:    e.Journey,
		Version:    e.Version,
		Enrollment: e.Enrollment,
		Step:       e.Step,
		Kind:       e.Kind,
		Reason:     e.Reason,
		At:         e.At,
		Until:      e.Until,
		Key:        e.Key,
	}
	if len(e.Values) > 0 {
		it.Values = e.Values
	}
	return it
}

func (it timelineItem) entry() store.TimelineEntry {
	return store.TimelineEntry{
		MemberID:   it.MemberID,
		Journey:    it.Journey,
		Version:    it.Version,
		Enrollment: it.Enrollment,
		Step:       it.Step,
		Kind:       it.Kind,
		Reason:     it.Reason,
		Values:     it.Values,
		At:         it.At,
		Until:      it.Until,
		Key:        it.Key,
	}
}

// AppendTimeline writes every entry create-only: one entry with one
// conditional PutItem, several with one TransactWriteItems of conditional
// Puts. A Put of the same content would be idempotent too, the key being
// deterministic, but a retry need not decide with the same values (a
// reason, a value read again), and the first decision is the one that
// happened; the condition keeps it. The transaction makes a call's
// entries all or nothing, so a retry finds all of them written or none;
// should it find some (a caller that adds an entry on its retry), the
// cancellation says which, and the others are written again without
// them.
func (s *Store) AppendTimeline(ctx context.Context, entries ...store.TimelineEntry) error {
	entries, err := store.TimelineEntries(entries)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	what := fmt.Sprintf("append timeline of %s", entries[0].MemberID)
	pending := make([]timelineItem, len(entries))
	for i, e := range entries {
		pending[i] = newTimelineItem(e)
	}
	err = retryRaces(ctx, func() (bool, error) {
		for {
			if len(pending) == 1 {
				var existing timelineItem
				_, err := s.createOnly(ctx, pending[0], &existing)
				return false, err
			}
			tx := &writeTx{table: s.table}
			for _, it := range pending {
				if err := tx.put(roleTimeline, -1, it, notExists()); err != nil {
					return false, fmt.Errorf("entry %s: %w", it.SK, err)
				}
			}
			err := tx.write(ctx, s.client)
			codes, ok := cancellationCodes(err)
			if !ok || len(codes) != len(pending) {
				return false, err
			}
			var rest []timelineItem
			for i, code := range codes {
				if code != reasonConditionFailed {
					rest = append(rest, pending[i])
				}
			}
			if len(rest) == len(pending) {
				return lostOrFailed(err)
			}
			if pending = rest; len(pending) == 0 {
				return false, nil
			}
		}
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ListTimeline reads the member's timeline range backwards from the
// cursor, which is the sort key of the last entry of the page before: one
// Query, strongly consistent, of one item more than the page, which says
// whether there is another.
func (s *Store) ListTimeline(ctx context.Context, memberID string, limit int, before string) ([]store.TimelineEntry, string, error) {
	if err := store.CheckTimelinePage(memberID, limit); err != nil {
		return nil, "", err
	}
	what := "list timeline of " + memberID
	if before != "" && !strings.HasPrefix(before, skTimelinePrefix) {
		return nil, "", fmt.Errorf("%s: cursor %q is not one of the timeline's", what, before)
	}
	pk := memberPK(memberID)
	var start map[string]types.AttributeValue
	if before != "" {
		var err error
		if start, err = marshalKey(pk, before); err != nil {
			return nil, "", fmt.Errorf("%s: cursor: %w", what, err)
		}
	}
	items, err := queryLimit[timelineItem](ctx, s, expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(pk)),
		expression.Key(attrSK).BeginsWith(skTimelinePrefix),
	), limit+1, func(in *dynamodb.QueryInput) {
		in.ScanIndexForward = aws.Bool(false)
		in.ConsistentRead = aws.Bool(true)
		in.ExclusiveStartKey = start
	})
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	next := ""
	if len(items) > limit {
		items, next = items[:limit], items[limit-1].SK
	}
	out := make([]store.TimelineEntry, len(items))
	for i, it := range items {
		out[i] = it.entry()
	}
	return out, next, nil
}
