package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/store"
)

// analyticsPageItem is one page of a refresh's first pass; its records
// are JSON (nothing queries inside them), a few hundred KB at most.
type analyticsPageItem struct {
	itemKey
	Entity  string `dynamodbav:"entity"`
	Run     string `dynamodbav:"run"`
	Shard   int    `dynamodbav:"shard"`
	Page    int    `dynamodbav:"page"`
	Records string `dynamodbav:"records"`
}

func (it analyticsPageItem) page() (store.AnalyticsPage, error) {
	p := store.AnalyticsPage{Run: it.Run, Shard: it.Shard, Page: it.Page}
	if err := json.Unmarshal([]byte(it.Records), &p.Records); err != nil {
		return store.AnalyticsPage{}, fmt.Errorf("analytics page %d/%d: %w", it.Shard, it.Page, err)
	}
	return p, nil
}

// analyticsModelItem is a model version, or the current model's copy;
// the model is JSON.
type analyticsModelItem struct {
	itemKey
	Entity  string `dynamodbav:"entity"`
	Version int    `dynamodbav:"version"`
	Run     string `dynamodbav:"run"`
	Model   string `dynamodbav:"model"`
}

func newAnalyticsModelItem(sk, entity string, m store.AnalyticsModel) (analyticsModelItem, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return analyticsModelItem{}, fmt.Errorf("analytics model %d: %w", m.Version, err)
	}
	return analyticsModelItem{itemKey: itemKey{PK: pkAnalyticsModel, SK: sk}, Entity: entity, Version: m.Version, Run: m.Run, Model: string(b)}, nil
}

func (it analyticsModelItem) model() (store.AnalyticsModel, error) {
	var m store.AnalyticsModel
	if err := json.Unmarshal([]byte(it.Model), &m); err != nil {
		return store.AnalyticsModel{}, fmt.Errorf("analytics model %d: %w", it.Version, err)
	}
	return m, nil
}

// analyticsLatestItem names the last version created and its run.
type analyticsLatestItem struct {
	itemKey
	Entity  string `dynamodbav:"entity"`
	Version int    `dynamodbav:"version"`
	Run     string `dynamodbav:"run"`
}

// PutAnalyticsPage writes the page over whatever its shard and number held.
func (s *Store) PutAnalyticsPage(ctx context.Context, p store.AnalyticsPage) error {
	if err := store.CheckAnalyticsPage(p); err != nil {
		return err
	}
	recs, err := json.Marshal(p.Records)
	if err != nil {
		return fmt.Errorf("put analytics page %d/%d: %w", p.Shard, p.Page, err)
	}
	av, err := marshalItem(analyticsPageItem{
		itemKey: itemKey{PK: analyticsPagesPK(p.Shard), SK: analyticsPageSK(p.Page)},
		Entity:  entityAnalyticsPage, Run: p.Run, Shard: p.Shard, Page: p.Page, Records: string(recs),
	})
	if err != nil {
		return fmt.Errorf("put analytics page %d/%d: %w", p.Shard, p.Page, err)
	}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av}); err != nil {
		return fmt.Errorf("put analytics page %d/%d: %w", p.Shard, p.Page, err)
	}
	return nil
}

// GetAnalyticsPage reads one page.
func (s *Store) GetAnalyticsPage(ctx context.Context, shard, page int) (store.AnalyticsPage, error) {
	var it analyticsPageItem
	found, err := s.getItem(ctx, analyticsPagesPK(shard), analyticsPageSK(page), &it)
	if err != nil {
		return store.AnalyticsPage{}, fmt.Errorf("get analytics page %d/%d: %w", shard, page, err)
	}
	if !found {
		return store.AnalyticsPage{}, fmt.Errorf("get analytics page %d/%d: %w", shard, page, store.ErrNotFound)
	}
	return it.page()
}

// ListAnalyticsPages reads the shard's pages after after with one Query
// per MB, eventually consistently: a run reads its pages after the pass
// that wrote them has ended.
func (s *Store) ListAnalyticsPages(ctx context.Context, shard, after, limit int) ([]store.AnalyticsPage, error) {
	if limit < 1 {
		return nil, nil
	}
	keyCond := expression.KeyAnd(expression.Key(attrPK).Equal(expression.Value(analyticsPagesPK(shard))),
		expression.Key(attrSK).Between(expression.Value(analyticsPageSK(max(after+1, 0))), expression.Value(analyticsPageSK(99_999_999))))
	items, err := queryLimit[analyticsPageItem](ctx, s, keyCond, limit, func(*dynamodb.QueryInput) {})
	if err != nil {
		return nil, fmt.Errorf("list analytics pages of shard %d: %w", shard, err)
	}
	out := make([]store.AnalyticsPage, len(items))
	for i, it := range items {
		if out[i], err = it.page(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CreateAnalyticsModel writes version latest+1 and moves the latest
// pointer in one transaction, conditioned on the pointer not having moved
// meanwhile (ErrConflict).
func (s *Store) CreateAnalyticsModel(ctx context.Context, m store.AnalyticsModel) (store.AnalyticsModel, bool, error) {
	if m.Run == "" {
		return store.AnalyticsModel{}, false, errors.New("create analytics model: no run")
	}
	var latest analyticsLatestItem
	found, err := s.getItem(ctx, pkAnalyticsModel, skAnalyticsLatest, &latest)
	if err != nil {
		return store.AnalyticsModel{}, false, fmt.Errorf("create analytics model: %w", err)
	}
	if found && latest.Run == m.Run {
		prev, err := s.GetAnalyticsModel(ctx, latest.Version)
		return prev, false, err
	}
	m.Version, m.Report, m.CompletedAt = latest.Version+1, nil, time.Time{}
	version, err := newAnalyticsModelItem(analyticsModelSK(m.Version), entityAnalyticsModel, m)
	if err != nil {
		return store.AnalyticsModel{}, false, err
	}
	vAV, err := marshalItem(version)
	if err != nil {
		return store.AnalyticsModel{}, false, fmt.Errorf("create analytics model %d: %w", m.Version, err)
	}
	lAV, err := marshalItem(analyticsLatestItem{itemKey: itemKey{PK: pkAnalyticsModel, SK: skAnalyticsLatest}, Entity: entityAnalyticsLatest, Version: m.Version, Run: m.Run})
	if err != nil {
		return store.AnalyticsModel{}, false, fmt.Errorf("create analytics model %d: %w", m.Version, err)
	}
	vCond, err := expression.NewBuilder().WithCondition(notExists()).Build()
	if err != nil {
		return store.AnalyticsModel{}, false, err
	}
	lc := notExists()
	if found {
		lc = expression.Name("version").Equal(expression.Value(latest.Version))
	}
	lCond, err := expression.NewBuilder().WithCondition(lc).Build()
	if err != nil {
		return store.AnalyticsModel{}, false, err
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: vAV, ConditionExpression: vCond.Condition(),
			ExpressionAttributeNames: vCond.Names(), ExpressionAttributeValues: vCond.Values()}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: lAV, ConditionExpression: lCond.Condition(),
			ExpressionAttributeNames: lCond.Names(), ExpressionAttributeValues: lCond.Values()}},
	}})
	if err != nil {
		if _, ok := cancellationCodes(err); ok {
			return store.AnalyticsModel{}, false, fmt.Errorf("create analytics model %d: %w", m.Version, store.ErrConflict)
		}
		return store.AnalyticsModel{}, false, fmt.Errorf("create analytics model %d: %w", m.Version, err)
	}
	return m, true, nil
}

// GetAnalyticsModel reads one version.
func (s *Store) GetAnalyticsModel(ctx context.Context, version int) (store.AnalyticsModel, error) {
	return s.analyticsModel(ctx, analyticsModelSK(version), fmt.Sprintf("analytics model %d", version))
}

// CurrentAnalyticsModel reads the current model's copy: one GetItem.
func (s *Store) CurrentAnalyticsModel(ctx context.Context) (store.AnalyticsModel, error) {
	return s.analyticsModel(ctx, skAnalyticsCurrent, "current analytics model")
}

func (s *Store) analyticsModel(ctx context.Context, sk, what string) (store.AnalyticsModel, error) {
	var it analyticsModelItem
	found, err := s.getItem(ctx, pkAnalyticsModel, sk, &it)
	if err != nil {
		return store.AnalyticsModel{}, fmt.Errorf("get %s: %w", what, err)
	}
	if !found {
		return store.AnalyticsModel{}, fmt.Errorf("get %s: %w", what, store.ErrNotFound)
	}
	return it.model()
}

// CompleteAnalyticsModel writes the report into the version, then its copy
// as the current model unless a later version is current (a failed
// condition then). Both writes repeat harmlessly.
func (s *Store) CompleteAnalyticsModel(ctx context.Context, version int, report scoring.Report, at time.Time) error {
	m, err := s.GetAnalyticsModel(ctx, version)
	if err != nil {
		return fmt.Errorf("complete analytics model: %w", err)
	}
	if m.Report == nil {
		m.Report, m.CompletedAt = &report, at
		it, err := newAnalyticsModelItem(analyticsModelSK(version), entityAnalyticsModel, m)
		if err != nil {
			return err
		}
		_, err = s.updateItem(ctx, pkAnalyticsModel, analyticsModelSK(version),
			expression.Set(expression.Name("model"), expression.Value(it.Model)),
			expression.Name(attrPK).AttributeExists(), false)
		if err != nil {
			return fmt.Errorf("complete analytics model %d: %w", version, err)
		}
	}
	cur, err := newAnalyticsModelItem(skAnalyticsCurrent, entityAnalyticsCurrent, m)
	if err != nil {
		return err
	}
	av, err := marshalItem(cur)
	if err != nil {
		return fmt.Errorf("complete analytics model %d: %w", version, err)
	}
	cond, err := expression.NewBuilder().WithCondition(
		notExists().Or(expression.Name("version").LessThanEqual(expression.Value(version)))).Build()
	if err != nil {
		return err
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av,
		ConditionExpression: cond.Condition(), ExpressionAttributeNames: cond.Names(), ExpressionAttributeValues: cond.Values()})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("complete analytics model %d: make current: %w", version, err)
	}
	return nil
}

// SetMemberScores updates the profile's scores attribute and version in
// one UpdateItem, conditioned on the stored scores being from an earlier
// model version; a failed condition is ErrNotFound without a profile and
// ErrDuplicate otherwise.
func (s *Store) SetMemberScores(ctx context.Context, memberID string, version int, sc *loyalty.Scores) error {
	if err := store.CheckMemberScores(memberID, version, sc); err != nil {
		return err
	}
	keyed := expression.Name("scores.analytics.model_version").LessThan(expression.Value(version))
	bump := expression.Set(expression.Name("version"), expression.Name("version").Plus(expression.Value(1)))
	var update expression.UpdateBuilder
	var cond expression.ConditionBuilder
	if sc == nil {
		update, cond = bump.Remove(expression.Name("scores")), expression.Name(attrPK).AttributeExists().And(keyed)
	} else {
		update = bump.Set(expression.Name("scores"), expression.Value(*newScoresAttr(sc)))
		cond = expression.Name(attrPK).AttributeExists().And(expression.Name("scores").AttributeNotExists().Or(keyed))
	}
	_, err := s.updateItem(ctx, memberPK(memberID), skProfile, update, cond, false)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &ccf):
		return fmt.Errorf("set scores of %s: %w", memberID, err)
	case len(ccf.Item) == 0:
		return fmt.Errorf("set scores of %s: %w", memberID, store.ErrNotFound)
	}
	return fmt.Errorf("set scores of %s by model %d: %w", memberID, version, store.ErrDuplicate)
}

// scoresAttr is loyalty.Scores as the profile's scores map holds it; the
// lifetime value is its exact decimal string.
type scoresAttr struct {
	RFM struct {
		R       int    `dynamodbav:"r"`
		F       int    `dynamodbav:"f"`
		M       int    `dynamodbav:"m"`
		Segment string `dynamodbav:"segment"`
	} `dynamodbav:"rfm"`
	PAlive            float64 `dynamodbav:"p_alive"`
	ExpectedOrders90d float64 `dynamodbav:"expected_orders_90d"`
	CLV12m            string  `dynamodbav:"clv_12m"`
	Analytics         struct {
		ModelVersion int    `dynamodbav:"model_version"`
		AsOf         string `dynamodbav:"as_of"`
		Currency     string `dynamodbav:"currency"`
	} `dynamodbav:"analytics"`
}

func newScoresAttr(s *loyalty.Scores) *scoresAttr {
	if s == nil {
		return nil
	}
	var a scoresAttr
	a.RFM.R, a.RFM.F, a.RFM.M, a.RFM.Segment = s.RFM.R, s.RFM.F, s.RFM.M, s.RFM.Segment
	a.PAlive, a.ExpectedOrders90d, a.CLV12m = s.PAlive, s.ExpectedOrders90d, s.CLV12m.String()
	a.Analytics.ModelVersion, a.Analytics.AsOf, a.Analytics.Currency = s.Analytics.ModelVersion, s.Analytics.AsOf, s.Analytics.Currency
	return &a
}

func (a *scoresAttr) scores() *loyalty.Scores {
	if a == nil {
		return nil
	}
	// A value the adapter wrote itself; one that does not parse reads as 0.
	clv, _ := decimal.NewFromString(a.CLV12m)
	return &loyalty.Scores{
		RFM:               loyalty.RFMScores{R: a.RFM.R, F: a.RFM.F, M: a.RFM.M, Segment: a.RFM.Segment},
		PAlive:            a.PAlive,
		ExpectedOrders90d: a.ExpectedOrders90d,
		CLV12m:            clv,
		Analytics:         loyalty.ScoresInfo{ModelVersion: a.Analytics.ModelVersion, AsOf: a.Analytics.AsOf, Currency: a.Analytics.Currency},
	}
}
