package dynamo

import (
	"context"
	"encoding/json"
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

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/store"
)

// journeyVersionItem is one published version of a journey. The
// definition is its JSON: the language owns its shape and nothing
// queries inside it.
type journeyVersionItem struct {
	itemKey
	Entity      string    `dynamodbav:"entity"`
	Name        string    `dynamodbav:"name"`
	Version     int       `dynamodbav:"version"`
	Definition  string    `dynamodbav:"definition"`
	Source      string    `dynamodbav:"source,omitempty"`
	PublishedAt time.Time `dynamodbav:"published_at,omitempty"`
	PublishedBy string    `dynamodbav:"published_by,omitempty"`
}

func newJourneyVersionItem(v store.JourneyVersion) (journeyVersionItem, error) {
	def, err := json.Marshal(v.Definition)
	if err != nil {
		return journeyVersionItem{}, fmt.Errorf("marshal definition: %w", err)
	}
	return journeyVersionItem{
		itemKey:     itemKey{PK: journeyPK(v.Name), SK: journeyVersionSK(v.Version)},
		Entity:      entityJourneyVersion,
		Name:        v.Name,
		Version:     v.Version,
		Definition:  string(def),
		Source:      v.Source,
		PublishedAt: v.PublishedAt,
		PublishedBy: v.PublishedBy,
	}, nil
}

func (it journeyVersionItem) version() (store.JourneyVersion, error) {
	v := store.JourneyVersion{Name: it.Name, Version: it.Version, Source: it.Source, PublishedAt: it.PublishedAt, PublishedBy: it.PublishedBy}
	if err := json.Unmarshal([]byte(it.Definition), &v.Definition); err != nil {
		return store.JourneyVersion{}, fmt.Errorf("unmarshal definition of version %d: %w", it.Version, err)
	}
	return v, nil
}

// journeyStateItem is a journey's state, in the one partition of every
// journey's.
type journeyStateItem struct {
	itemKey
	Entity       string    `dynamodbav:"entity"`
	Name         string    `dynamodbav:"name"`
	Status       string    `dynamodbav:"status"`
	Live         int       `dynamodbav:"live"`
	Latest       int       `dynamodbav:"latest"`
	Draft        string    `dynamodbav:"draft,omitempty"`
	DraftSavedAt time.Time `dynamodbav:"draft_saved_at,omitempty"`
	UpdatedAt    time.Time `dynamodbav:"updated_at,omitempty"`
}

// Attribute names of the journey state item that update expressions and
// conditions name; journeyStateItem's tags must spell them the same.
const (
	attrName         = "name"
	attrLive         = "live"
	attrLatest       = "latest"
	attrDraft        = "draft"
	attrDraftSavedAt = "draft_saved_at"
)

func (it journeyStateItem) state() store.JourneyState {
	return store.JourneyState{
		Name:         it.Name,
		Status:       journey.Status(it.Status),
		Live:         it.Live,
		Latest:       it.Latest,
		Draft:        it.Draft,
		DraftSavedAt: it.DraftSavedAt,
		UpdatedAt:    it.UpdatedAt,
	}
}

// PublishJourney writes the version create-only and the state,
// conditioned on its latest version, in one transaction. Nothing is read
// first: the transaction also clears the draft on the guess that the
// draft, if any, is what is published (its condition says so), and when
// only that guess fails — the cancellation hands back the state — it is
// written again leaving the draft. So a publish costs one
// TransactWriteItems, two while another draft is saved.
func (s *Store) PublishJourney(ctx context.Context, v store.JourneyVersion, expectLatest int) error {
	v, err := store.NewJourneyVersion(v, expectLatest)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("publish journey %s version %d", v.Name, v.Version)
	version, err := newJourneyVersionItem(v)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	latest := expression.Name(attrLatest).Equal(expression.Value(expectLatest))
	if expectLatest == 0 {
		// A new journey has no state; a draft's says latest 0.
		latest = expression.Name(attrLatest).AttributeNotExists().Or(latest)
	}
	// Built afresh for every attempt: an UpdateBuilder's copies share
	// their operations.
	live := func() expression.UpdateBuilder {
		return expression.Set(expression.Name(attrEntity), expression.Value(entityJourneyState)).
			Set(expression.Name(attrName), expression.Value(v.Name)).
			Set(expression.Name(attrStatus), expression.Value(string(journey.StatusLive))).
			Set(expression.Name(attrLive), expression.Value(v.Version)).
			Set(expression.Name(attrLatest), expression.Value(v.Version)).
			Set(expression.Name(attrUpdatedAt), expression.Value(v.PublishedAt))
	}
	clearDraft := true
	err = retryRaces(ctx, func() (bool, error) {
		for {
			update, cond := live(), latest
			if clearDraft {
				update = update.Remove(expression.Name(attrDraft)).Remove(expression.Name(attrDraftSavedAt))
				cond = cond.And(expression.Name(attrDraft).AttributeNotExists().
					Or(expression.Name(attrDraft).Equal(expression.Value(v.Source))))
			}
			tx := &writeTx{table: s.table}
			if err := tx.put(roleJourneyVersion, -1, version, notExists()); err != nil {
				return false, fmt.Errorf("version: %w", err)
			}
			if err := tx.update(roleJourneyState, -1, journeysPK, journeyStateSK(v.Name), update, cond); err != nil {
				return false, fmt.Errorf("state: %w", err)
			}
			err := tx.write(ctx, s.client)
			reasons, ok := cancellation(err)
			if !ok {
				return false, err
			}
			if _, failed := tx.old(reasons, roleJourneyVersion); failed {
				return false, store.ErrConflict
			}
			if item, failed := tx.old(reasons, roleJourneyState); failed {
				var st journeyStateItem
				if err := attributevalue.UnmarshalMap(item, &st); err != nil {
					return false, fmt.Errorf("read state: %w", err)
				}
				if item == nil || st.Latest != expectLatest || !clearDraft {
					return false, store.ErrConflict
				}
				clearDraft = false // another draft: it stays
				continue
			}
			return lostOrFailed(err)
		}
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// GetJourney reads the journey's state item.
func (s *Store) GetJourney(ctx context.Context, name string) (store.JourneyState, error) {
	var it journeyStateItem
	found, err := s.getItem(ctx, journeysPK, journeyStateSK(name), &it)
	if err != nil {
		return store.JourneyState{}, fmt.Errorf("get journey %s: %w", name, err)
	}
	if !found {
		return store.JourneyState{}, fmt.Errorf("get journey %s: %w", name, store.ErrNotFound)
	}
	return it.state(), nil
}

// ListJourneys reads the partition of every journey's state: one query.
func (s *Store) ListJourneys(ctx context.Context) ([]store.JourneyState, error) {
	items, err := queryAll[journeyStateItem](ctx, s, expression.Key(attrPK).Equal(expression.Value(journeysPK)))
	if err != nil {
		return nil, fmt.Errorf("list journeys: %w", err)
	}
	out := make([]store.JourneyState, len(items))
	for i, it := range items {
		out[i] = it.state()
	}
	return out, nil
}

// GetJourneyVersion reads one version item.
func (s *Store) GetJourneyVersion(ctx context.Context, name string, version int) (store.JourneyVersion, error) {
	what := fmt.Sprintf("get journey %s version %d", name, version)
	var it journeyVersionItem
	found, err := s.getItem(ctx, journeyPK(name), journeyVersionSK(version), &it)
	if err != nil {
		return store.JourneyVersion{}, fmt.Errorf("%s: %w", what, err)
	}
	if !found {
		return store.JourneyVersion{}, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	v, err := it.version()
	if err != nil {
		return store.JourneyVersion{}, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// ListJourneyVersions reads the journey's version items backwards, leaving
// the source out of the answer.
func (s *Store) ListJourneyVersions(ctx context.Context, name string) ([]store.JourneyVersion, error) {
	what := "list versions of journey " + name
	expr, err := expression.NewBuilder().
		WithKeyCondition(expression.KeyAnd(
			expression.Key(attrPK).Equal(expression.Value(journeyPK(name))),
			expression.Key(attrSK).BeginsWith(skJourneyVersionPrefix),
		)).
		WithProjection(expression.NamesList(expression.Name(attrPK), expression.Name(attrSK),
			expression.Name(attrEntity), expression.Name(attrName), expression.Name(attrVersion),
			expression.Name("definition"), expression.Name("published_at"), expression.Name("published_by"))).
		Build()
	if err != nil {
		return nil, fmt.Errorf("%s: build query: %w", what, err)
	}
	pages := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false),
		ConsistentRead:            aws.Bool(true),
	})
	var out []store.JourneyVersion
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		var items []journeyVersionItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		for _, it := range items {
			v, err := it.version()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// SaveJourneyDraft sets (or removes) the draft on the state item with one
// UpdateItem, which creates the state of a new journey as a draft.
func (s *Store) SaveJourneyDraft(ctx context.Context, name, source string, at time.Time) error {
	what := "save draft of journey " + name
	if err := store.CheckJourneyName(what, name); err != nil {
		return err
	}
	if source == "" {
		what = "remove draft of journey " + name
		update := expression.Remove(expression.Name(attrDraft)).Remove(expression.Name(attrDraftSavedAt)).
			Set(expression.Name(attrUpdatedAt), expression.Value(at))
		_, err := s.updateItem(ctx, journeysPK, journeyStateSK(name), update, expression.Name(attrPK).AttributeExists(), false)
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf):
			return fmt.Errorf("%s: %w", what, store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	update := expression.Set(expression.Name(attrEntity), expression.Value(entityJourneyState)).
		Set(expression.Name(attrName), expression.Value(name)).
		Set(expression.Name(attrStatus), expression.IfNotExists(expression.Name(attrStatus), expression.Value(string(journey.StatusDraft)))).
		Set(expression.Name(attrLive), expression.IfNotExists(expression.Name(attrLive), expression.Value(0))).
		Set(expression.Name(attrLatest), expression.IfNotExists(expression.Name(attrLatest), expression.Value(0))).
		Set(expression.Name(attrDraft), expression.Value(source)).
		Set(expression.Name(attrDraftSavedAt), expression.Value(at)).
		Set(expression.Name(attrUpdatedAt), expression.Value(at))
	if _, err := s.updateItem(ctx, journeysPK, journeyStateSK(name), update, expression.ConditionBuilder{}, false); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// SetJourneyStatus moves the status with one conditional UpdateItem,
// which hands back the state after the move or, when the condition fails,
// as it was.
func (s *Store) SetJourneyStatus(ctx context.Context, name string, from []journey.Status, to journey.Status, at time.Time) (store.JourneyState, error) {
	if err := store.CheckJourneyStatus(name, from, to); err != nil {
		return store.JourneyState{}, err
	}
	what := fmt.Sprintf("set journey %s %s", name, to)
	froms := make([]expression.OperandBuilder, len(from))
	for i, f := range from {
		froms[i] = expression.Value(string(f))
	}
	update := expression.Set(expression.Name(attrStatus), expression.Value(string(to))).
		Set(expression.Name(attrUpdatedAt), expression.Value(at))
	item, err := s.updateItem(ctx, journeysPK, journeyStateSK(name), update, expression.Name(attrStatus).In(froms[0], froms[1:]...), true)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && len(ccf.Item) == 0:
		return store.JourneyState{}, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	case errors.As(err, &ccf):
		var it journeyStateItem
		if err := attributevalue.UnmarshalMap(ccf.Item, &it); err != nil {
			return store.JourneyState{}, fmt.Errorf("%s: read state: %w", what, err)
		}
		return it.state(), fmt.Errorf("%s: it is %s: %w", what, it.Status, store.ErrConflict)
	case err != nil:
		return store.JourneyState{}, fmt.Errorf("%s: %w", what, err)
	}
	var it journeyStateItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return store.JourneyState{}, fmt.Errorf("%s: read state: %w", what, err)
	}
	return it.state(), nil
}

// journeyCountedItem records that a member's key was counted in a
// journey's counters, and what it added.
type journeyCountedItem struct {
	itemKey
	Entity  string           `dynamodbav:"entity"`
	Journey string           `dynamodbav:"journey"`
	Key     string           `dynamodbav:"key"`
	Counts  map[string]int64 `dynamodbav:"counts"`
}

// CountJourney writes the key's create-only marker and adds the counts to
// the member's shard of the journey's counters in one transaction: one
// TransactWriteItems, whether it counts or finds the key counted.
func (s *Store) CountJourney(ctx context.Context, journeyName, memberID, key string, counts map[string]int64) error {
	if err := store.CheckCountJourney(journeyName, memberID, key, counts); err != nil {
		return err
	}
	what := fmt.Sprintf("count journey %s for %s", journeyName, key)
	marker := journeyCountedItem{
		itemKey: itemKey{PK: memberPK(memberID), SK: journeyCountedSK(key)},
		Entity:  entityJourneyCounted,
		Journey: journeyName,
		Key:     key,
		Counts:  counts,
	}
	update := expression.Set(expression.Name(attrEntity), expression.Value(entityJourneyStats)).
		Set(expression.Name(attrJourney), expression.Value(journeyName))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if counts[k] != 0 {
			// NameNoDotSplit: a counter key is one attribute, dots and
			// colons included; CheckCountJourney keeps brackets out.
			update = update.Add(expression.NameNoDotSplit(k), expression.Value(counts[k]))
		}
	}
	tx := &writeTx{table: s.table}
	if err := tx.put(roleJourneyCounted, -1, marker, notExists()); err != nil {
		return fmt.Errorf("%s: marker: %w", what, err)
	}
	if err := tx.update(roleStats, -1, statsPK(journeyName), journeyStatsSK(statsShard(memberID)), update, expression.ConditionBuilder{}); err != nil {
		return fmt.Errorf("%s: counters: %w", what, err)
	}
	// Nothing was read: the marker's condition says counted before, and
	// anything else lost is a race for the shard, tried again.
	err := retryRaces(ctx, func() (bool, error) {
		err := tx.write(ctx, s.client)
		if codes, ok := cancellationCodes(err); ok && len(codes) == len(tx.items) && tx.failed(codes, roleJourneyCounted) {
			return false, nil
		}
		return lostOrFailed(err)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// JourneyCounters reads the journey counters' range of the stats
// partition (one query of eight items at most) and sums the shards.
func (s *Store) JourneyCounters(ctx context.Context, journeyName string) (map[string]int64, error) {
	items, err := s.queryItems(ctx, expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(statsPK(journeyName))),
		expression.Key(attrSK).BeginsWith(skJourneyStatsPrefix),
	))
	if err != nil {
		return nil, fmt.Errorf("journey counters of %s: %w", journeyName, err)
	}
	out := map[string]int64{}
	for _, item := range items {
		if err := addCounts(out, item); err != nil {
			return nil, fmt.Errorf("journey counters of %s: %w", journeyName, err)
		}
	}
	return out, nil
}
