package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/store"
)

// analyticsState holds what the analytics refresh stores, as JSON, so a
// caller's later changes cannot reach it (as with a real database).
type analyticsState struct {
	pages   map[[2]int][]byte // by shard, page
	models  map[int][]byte    // by version
	latest  int
	current int
}

// PutAnalyticsPage replaces the page stored under its shard and number.
func (s *Store) PutAnalyticsPage(_ context.Context, p store.AnalyticsPage) error {
	if err := store.CheckAnalyticsPage(p); err != nil {
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("put analytics page %d/%d: %w", p.Shard, p.Page, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.analytics.pages == nil {
		s.analytics.pages = map[[2]int][]byte{}
	}
	s.analytics.pages[[2]int{p.Shard, p.Page}] = b
	return nil
}

// GetAnalyticsPage reads one page.
func (s *Store) GetAnalyticsPage(_ context.Context, shard, page int) (store.AnalyticsPage, error) {
	s.mu.Lock()
	b, ok := s.analytics.pages[[2]int{shard, page}]
	s.mu.Unlock()
	if !ok {
		return store.AnalyticsPage{}, fmt.Errorf("get analytics page %d/%d: %w", shard, page, store.ErrNotFound)
	}
	var p store.AnalyticsPage
	return p, json.Unmarshal(b, &p)
}

// ListAnalyticsPages returns the shard's pages after after, in order.
func (s *Store) ListAnalyticsPages(ctx context.Context, shard, after, limit int) ([]store.AnalyticsPage, error) {
	s.mu.Lock()
	var nums []int
	for k := range s.analytics.pages {
		if k[0] == shard && k[1] > after {
			nums = append(nums, k[1])
		}
	}
	s.mu.Unlock()
	slices.Sort(nums)
	var out []store.AnalyticsPage
	for _, n := range nums[:min(len(nums), max(limit, 0))] {
		p, err := s.GetAnalyticsPage(ctx, shard, n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// CreateAnalyticsModel stores m as the next version unless the latest is
// m.Run's.
func (s *Store) CreateAnalyticsModel(ctx context.Context, m store.AnalyticsModel) (store.AnalyticsModel, bool, error) {
	if m.Run == "" {
		return store.AnalyticsModel{}, false, fmt.Errorf("create analytics model: no run")
	}
	s.mu.Lock()
	latest := s.analytics.latest
	s.mu.Unlock()
	if latest > 0 {
		prev, err := s.GetAnalyticsModel(ctx, latest)
		if err != nil {
			return store.AnalyticsModel{}, false, err
		}
		if prev.Run == m.Run {
			return prev, false, nil
		}
	}
	m.Version, m.Report, m.CompletedAt = latest+1, nil, time.Time{}
	b, err := json.Marshal(m)
	if err != nil {
		return store.AnalyticsModel{}, false, fmt.Errorf("create analytics model: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.analytics.latest != latest {
		return store.AnalyticsModel{}, false, fmt.Errorf("create analytics model %d: %w", m.Version, store.ErrConflict)
	}
	if s.analytics.models == nil {
		s.analytics.models = map[int][]byte{}
	}
	s.analytics.models[m.Version] = b
	s.analytics.latest = m.Version
	var out store.AnalyticsModel
	return out, true, json.Unmarshal(b, &out)
}

// GetAnalyticsModel reads one version.
func (s *Store) GetAnalyticsModel(_ context.Context, version int) (store.AnalyticsModel, error) {
	s.mu.Lock()
	b, ok := s.analytics.models[version]
	s.mu.Unlock()
	if !ok {
		return store.AnalyticsModel{}, fmt.Errorf("get analytics model %d: %w", version, store.ErrNotFound)
	}
	var m store.AnalyticsModel
	return m, json.Unmarshal(b, &m)
}

// CompleteAnalyticsModel records the report and moves the current model.
func (s *Store) CompleteAnalyticsModel(ctx context.Context, version int, report scoring.Report, at time.Time) error {
	m, err := s.GetAnalyticsModel(ctx, version)
	if err != nil {
		return fmt.Errorf("complete analytics model: %w", err)
	}
	if m.Report == nil {
		m.Report, m.CompletedAt = &report, at
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("complete analytics model %d: %w", version, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.analytics.models[version] = b
	if version > s.analytics.current {
		s.analytics.current = version
	}
	return nil
}

// CurrentAnalyticsModel reads the current model.
func (s *Store) CurrentAnalyticsModel(ctx context.Context) (store.AnalyticsModel, error) {
	s.mu.Lock()
	cur := s.analytics.current
	s.mu.Unlock()
	if cur == 0 {
		return store.AnalyticsModel{}, fmt.Errorf("current analytics model: %w", store.ErrNotFound)
	}
	return s.GetAnalyticsModel(ctx, cur)
}

// SetMemberScores writes or takes the member's scores, keyed by version.
func (s *Store) SetMemberScores(_ context.Context, memberID string, version int, sc *loyalty.Scores) error {
	if err := store.CheckMemberScores(memberID, version, sc); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[memberID]
	if !ok {
		return fmt.Errorf("set scores of %s: %w", memberID, store.ErrNotFound)
	}
	if m.ScoredBy() >= version || (sc == nil && m.Scores == nil) {
		return fmt.Errorf("set scores of %s by model %d: %w", memberID, version, store.ErrDuplicate)
	}
	if sc != nil {
		c := *sc
		m.Scores = &c
	} else {
		m.Scores = nil
	}
	m.Version++
	s.members[memberID] = m
	return nil
}
