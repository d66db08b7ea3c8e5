package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/memberflow/memberflow/internal/store"
)

// auditItem is one entry of the audit log, under its day. Detail is kept
// as JSON text: it is read back whole and never queried.
type auditItem struct {
	itemKey
	Entity  string    `dynamodbav:"entity"`
	At      time.Time `dynamodbav:"at"`
	Action  string    `dynamodbav:"action"`
	Target  string    `dynamodbav:"target"`
	Token   string    `dynamodbav:"token"`
	Key     string    `dynamodbav:"key,omitempty"`
	Outcome string    `dynamodbav:"outcome"`
	Status  int       `dynamodbav:"status,omitempty"`
	Detail  string    `dynamodbav:"detail,omitempty"`
}

// auditMarkerItem is an audit key's marker or a day of the days index.
type auditMarkerItem struct {
	itemKey
	Entity string `dynamodbav:"entity"`
	ID     string `dynamodbav:"id,omitempty"` // the entry a key marker made
}

func (it auditItem) entry() (store.AuditEntry, error) {
	e := store.AuditEntry{
		ID: it.SK, At: it.At, Action: it.Action, Target: it.Target, Token: it.Token,
		Key: it.Key, Outcome: it.Outcome, Status: it.Status,
	}
	if it.Detail != "" {
		if err := json.Unmarshal([]byte(it.Detail), &e.Detail); err != nil {
			return e, fmt.Errorf("detail of audit entry %s: %w", it.SK, err)
		}
	}
	return e, nil
}

// AppendAudit writes the entry, its key's marker and its day in the days
// index in one transaction; the entry and the marker are create-only, so
// an entry is never overwritten and a key is appended once (a failed
// marker condition is store.ErrDuplicate, and then nothing is written).
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if err := store.CheckAuditEntry(e); err != nil {
		return store.AuditEntry{}, err
	}
	e.ID = store.AuditID(e.At, rand.Text()[:16])
	what := "append audit " + e.ID
	day := utcDay(e.At)
	it := auditItem{
		itemKey: itemKey{PK: auditPK(day), SK: e.ID}, Entity: entityAudit,
		At: e.At, Action: e.Action, Target: e.Target, Token: e.Token,
		Key: e.Key, Outcome: e.Outcome, Status: e.Status,
	}
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return store.AuditEntry{}, fmt.Errorf("%s: detail: %w", what, err)
		}
		it.Detail = string(b)
	}
	tx := &writeTx{table: s.table}
	if err := tx.put(roleAudit, -1, it, notExists()); err != nil {
		return store.AuditEntry{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.put(roleAuditDay, -1, auditMarkerItem{itemKey: itemKey{PK: auditDaysPK, SK: day}, Entity: entityAuditDay}, expression.ConditionBuilder{}); err != nil {
		return store.AuditEntry{}, fmt.Errorf("%s: %w", what, err)
	}
	if e.Key != "" {
		marker := auditMarkerItem{itemKey: itemKey{PK: auditKeyPK(e.Key), SK: skAuditKey}, Entity: entityAuditKey, ID: e.ID}
		if err := tx.put(roleAuditKey, -1, marker, notExists()); err != nil {
			return store.AuditEntry{}, fmt.Errorf("%s: %w", what, err)
		}
	}
	// Two appends of one day both put the day's index item, which
	// DynamoDB may cancel as a transaction conflict: that race is tried
	// again; a failed condition is final (the key was appended).
	err := retryRaces(ctx, func() (bool, error) {
		err := tx.write(ctx, s.client)
		codes, ok := cancellationCodes(err)
		switch {
		case !ok:
			return false, err
		case e.Key != "" && tx.failed(codes, roleAuditKey):
			return false, fmt.Errorf("key %s: %w", e.Key, store.ErrDuplicate)
		case tx.failed(codes, roleAudit):
			return false, fmt.Errorf("entry id taken: %w", err)
		}
		return lostOrFailed(err)
	})
	if errors.Is(err, store.ErrDuplicate) {
		first, rerr := s.auditByKey(ctx, e.Key)
		if rerr != nil {
			// Not ErrDuplicate: without the first entry a caller could
			// not tell a retry from another request.
			return store.AuditEntry{}, fmt.Errorf("%s: key %s was appended before and its entry cannot be read: %w", what, e.Key, rerr)
		}
		return first, fmt.Errorf("%s: %w", what, err)
	}
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("%s: %w", what, err)
	}
	return e, nil
}

// auditByKey reads the entry appended under key: its marker names it,
// and its ID starts with its day.
func (s *Store) auditByKey(ctx context.Context, key string) (store.AuditEntry, error) {
	var marker auditMarkerItem
	found, err := s.getItem(ctx, auditKeyPK(key), skAuditKey, &marker)
	if err != nil || !found || len(marker.ID) < len(time.DateOnly) {
		return store.AuditEntry{}, fmt.Errorf("marker of audit key %s: found %v, id %q: %w", key, found, marker.ID, err)
	}
	var it auditItem
	found, err = s.getItem(ctx, auditPK(marker.ID[:len(time.DateOnly)]), marker.ID, &it)
	if err != nil || !found {
		return store.AuditEntry{}, fmt.Errorf("audit entry %s: found %v: %w", marker.ID, found, err)
	}
	return it.entry()
}

// ListAudit reads the days index from since's day (or the cursor's), then
// each day's range in order, strongly consistently, until it has one
// entry more than the page, which says whether there is another.
func (s *Store) ListAudit(ctx context.Context, since time.Time, after string, limit int) ([]store.AuditEntry, string, error) {
	if err := store.CheckAuditPage(after, limit); err != nil {
		return nil, "", err
	}
	from := since.UTC().Format(store.AuditTimeLayout)
	firstDay := utcDay(since)
	if after != "" && after > from {
		firstDay = after[:len(time.DateOnly)]
	}
	days, err := queryAll[auditMarkerItem](ctx, s, expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(auditDaysPK)),
		expression.Key(attrSK).GreaterThanEqual(expression.Value(firstDay)),
	))
	if err != nil {
		return nil, "", fmt.Errorf("list audit days from %s: %w", firstDay, err)
	}
	var items []auditItem
	for _, d := range days {
		lower := expression.Key(attrSK).GreaterThanEqual(expression.Value(from))
		if after != "" && after >= from {
			lower = expression.Key(attrSK).GreaterThan(expression.Value(after))
		}
		page, err := queryLimit[auditItem](ctx, s, expression.KeyAnd(
			expression.Key(attrPK).Equal(expression.Value(auditPK(d.SK))), lower,
		), limit+1-len(items), func(in *dynamodb.QueryInput) {
			in.ConsistentRead = aws.Bool(true)
		})
		if err != nil {
			return nil, "", fmt.Errorf("list audit of %s: %w", d.SK, err)
		}
		if items = append(items, page...); len(items) > limit {
			break
		}
	}
	next := ""
	if len(items) > limit {
		items, next = items[:limit], items[limit-1].SK
	}
	out := make([]store.AuditEntry, len(items))
	for i, it := range items {
		if out[i], err = it.entry(); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}
