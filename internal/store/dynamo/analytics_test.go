package dynamo_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
)

// TestAnalyticsLayout pins where the analytics refresh's items live: the
// scores as a map on the member's profile (its model version at
// scores.analytics.model_version, what SetMemberScores is conditioned on),
// the pages by shard and number, the model versions and the current copy
// in one partition.
func TestAnalyticsLayout(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	m := loyalty.Member{ID: "m-scored", Name: "Ada", Version: 1}
	if err := s.SaveMember(ctx, m, "e1"); err != nil {
		t.Fatal(err)
	}
	sc := &loyalty.Scores{RFM: loyalty.RFMScores{R: 2, F: 4, M: 5, Segment: "at_risk"}, PAlive: 0.25, ExpectedOrders90d: 0.5,
		CLV12m: decimal.RequireFromString("120.50"), Analytics: loyalty.ScoresInfo{ModelVersion: 7, AsOf: "2026-12-05", Currency: "CNY"}}
	if err := s.SetMemberScores(ctx, m.ID, 7, sc); err != nil {
		t.Fatal(err)
	}
	prof := rawItem(t, client, table, "M#m-scored", "PROFILE")
	scores, ok := prof["scores"].(*types.AttributeValueMemberM)
	if !ok {
		t.Fatalf("scores = %#v, want a map", prof["scores"])
	}
	wantStrings(t, scores.Value, map[string]string{"clv_12m": "120.5"})
	an := scores.Value["analytics"].(*types.AttributeValueMemberM).Value
	if v, ok := an["model_version"].(*types.AttributeValueMemberN); !ok || v.Value != "7" {
		t.Errorf("scores.analytics.model_version = %#v, want 7", an["model_version"])
	}
	if v, ok := prof["version"].(*types.AttributeValueMemberN); !ok || v.Value != "2" {
		t.Errorf("profile version = %#v, want 2 (moved on by the scores)", prof["version"])
	}

	if err := s.PutAnalyticsPage(ctx, store.AnalyticsPage{Run: "r1", Shard: 3, Page: 12, Records: []scoring.Record{{MemberID: "m-scored", Buyer: true}}}); err != nil {
		t.Fatal(err)
	}
	wantStrings(t, rawItem(t, client, table, "ANALYTICS#PAGES#03", "P#00000012"), map[string]string{"entity": "analytics_page", "run": "r1"})

	v, _, err := s.CreateAnalyticsModel(ctx, store.AnalyticsModel{Run: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteAnalyticsModel(ctx, v.Version, scoring.Report{Scored: 1}, v.FittedAt); err != nil {
		t.Fatal(err)
	}
	wantStrings(t, rawItem(t, client, table, "ANALYTICS#MODEL", "V#00000001"), map[string]string{"entity": "analytics_model", "run": "r1"})
	wantStrings(t, rawItem(t, client, table, "ANALYTICS#MODEL", "LATEST"), map[string]string{"entity": "analytics_latest", "run": "r1"})
	wantStrings(t, rawItem(t, client, table, "ANALYTICS#MODEL", "CURRENT"), map[string]string{"entity": "analytics_current", "run": "r1"})
}
