package store

import (
	"context"
	"fmt"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
)

// AnalyticsPage is one page of one shard of an analytics refresh's first
// pass: the records (scoring.Record) of the members of that page that the
// second pass acts on. A page number is reused by every run; Run says
// which run wrote it, so a reader skips pages an older run left.
type AnalyticsPage struct {
	Run     string           `json:"run"`
	Shard   int              `json:"shard"`
	Page    int              `json:"page"`
	Records []scoring.Record `json:"records"`
}

// MaxAnalyticsPageRecords bounds a page's records, so a stored page stays
// under DynamoDB's 400 KB item limit: a record is about 120 bytes, but
// up to about 240 with a 128-character member id (2000 of those would
// be 479 KB). MEMBERFLOW_ANALYTICS_PAGE is bounded by it.
const MaxAnalyticsPageRecords = 1000

// AnalyticsModel is one fitted model version: what a refresh fitted, and,
// once its scoring completed, what the scoring found. Versions count from
// 1; a run makes at most one.
type AnalyticsModel struct {
	Version int `json:"version"`
	// Run is the refresh run that fitted it.
	Run      string    `json:"run"`
	FittedAt time.Time `json:"fitted_at"`
	scoring.Fit
	// Report and CompletedAt are set when the run scored every member
	// with it (CompleteAnalyticsModel); only then is it current.
	Report      *scoring.Report `json:"report,omitempty"`
	CompletedAt time.Time       `json:"completed_at,omitzero"`
}

// Analytics stores what the nightly analytics refresh makes: the pages
// between its passes, the fitted model versions, and the scores on
// members.
type Analytics interface {
	// PutAnalyticsPage writes a page, replacing the one stored under the
	// same shard and number (a retry's, or an older run's). At most
	// MaxAnalyticsPageRecords records.
	PutAnalyticsPage(ctx context.Context, p AnalyticsPage) error
	// GetAnalyticsPage reads one page; ErrNotFound when none is stored.
	GetAnalyticsPage(ctx context.Context, shard, page int) (AnalyticsPage, error)
	// ListAnalyticsPages returns up to limit of the shard's pages numbered
	// after after (-1: from the first), in number order, whatever run
	// wrote them.
	ListAnalyticsPages(ctx context.Context, shard, after, limit int) ([]AnalyticsPage, error)

	// CreateAnalyticsModel stores m as the next version (m.Version is
	// ignored) and returns it as stored, unless the latest version is
	// m.Run's already: then it returns that one and created is false, so
	// a retried fit stores one version.
	CreateAnalyticsModel(ctx context.Context, m AnalyticsModel) (stored AnalyticsModel, created bool, err error)
	// GetAnalyticsModel reads one version; ErrNotFound when absent.
	GetAnalyticsModel(ctx context.Context, version int) (AnalyticsModel, error)
	// CompleteAnalyticsModel records the version's report and makes it
	// the current model, unless a later version is current already (then
	// only the report is recorded). Completing again changes nothing
	// more. ErrNotFound when the version does not exist.
	CompleteAnalyticsModel(ctx context.Context, version int, report scoring.Report, at time.Time) error
	// CurrentAnalyticsModel reads the current model: the latest version
	// whose scoring completed. ErrNotFound before the first.
	CurrentAnalyticsModel(ctx context.Context) (AnalyticsModel, error)

	// SetMemberScores writes s onto the member's profile as scored by
	// model version (s.Analytics.ModelVersion), or, with s nil, takes the
	// member's scores away; either moves the profile's version on. It is
	// keyed by version: when the member's scores are from version or a
	// later one already (or, for nil, when they have none), it changes
	// nothing and fails with ErrDuplicate, so a retry changes nothing.
	// ErrNotFound when the member has no profile.
	SetMemberScores(ctx context.Context, memberID string, version int, s *loyalty.Scores) error
}

// CheckAnalyticsPage refuses a page the stores cannot keep.
func CheckAnalyticsPage(p AnalyticsPage) error {
	switch {
	case p.Run == "":
		return fmt.Errorf("analytics page %d/%d: no run", p.Shard, p.Page)
	case p.Shard < 0 || p.Shard >= MemberShards:
		return fmt.Errorf("analytics page: shard %d, want 0 to %d", p.Shard, MemberShards-1)
	case p.Page < 0:
		return fmt.Errorf("analytics page %d/%d: negative number", p.Shard, p.Page)
	case len(p.Records) > MaxAnalyticsPageRecords:
		return fmt.Errorf("analytics page %d/%d: %d records, at most %d", p.Shard, p.Page, len(p.Records), MaxAnalyticsPageRecords)
	}
	return nil
}

// CheckMemberScores refuses scores that do not name the version they are
// written as.
func CheckMemberScores(memberID string, version int, s *loyalty.Scores) error {
	if version < 1 {
		return fmt.Errorf("scores of %s: model version %d, want 1 or more", memberID, version)
	}
	if s != nil && s.Analytics.ModelVersion != version {
		return fmt.Errorf("scores of %s: made by model version %d, written as %d", memberID, s.Analytics.ModelVersion, version)
	}
	return nil
}
