package workflows_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/dispatch"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/scoring"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// TestAnalyticsRefreshToAtRiskRescue runs the product's path on the
// in-memory store: members with orders in their ledgers; the nightly
// refresh fits the models and writes every member's scores; the
// member.segment_changed events it recorded go through dispatch like any
// recorded event; and the at_risk_rescue example enrols exactly the
// members who moved into at_risk.
func TestAnalyticsRefreshToAtRiskRescue(t *testing.T) {
	ctx := context.Background()
	shop := shopfix.Simulate(17, shopfix.Shop, 500, "m", shopStart, shopDays)
	f := newAnalyticsFixture(t, shop)

	// The journeys as a deployment has them, with the example published.
	cat, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	svc, eng, err := journeys.New(f.store, f.ldg.Rules.Program, cat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PublishFiles(ctx, templates.Journeys, journeys.ShippedDir); err != nil {
		t.Fatal(err)
	}
	src, err := fs.ReadFile(templates.Journeys, "journeys/examples/at_risk_rescue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Publish(ctx, src, "test"); err != nil {
		t.Fatal(err)
	}
	runner := &scanRunner{}
	now := func() time.Time { return refreshAt.Add(time.Minute) }
	h := &dispatch.Handler{Store: f.store, Ledger: f.ldg, Journeys: svc, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: now,
		Enroller: &journeys.Enroller{Store: f.store, Engine: eng, Runner: runner, Now: now}}

	res := f.refresh(t, refreshAt, workflows.AnalyticsRefreshInput{PageSize: 40})
	if res.Version != 1 || res.Report.Scored != 500 || res.Recorded != 500 {
		t.Fatalf("refresh = %+v", res)
	}

	// The table's stream hands dispatch every event recorded; here, the
	// refresh's, read back by their ids.
	var recs []lambdaevents.DynamoDBEventRecord
	atRisk := map[string]bool{}
	for i, c := range shop {
		m := f.member(t, c.ID)
		if m.Scores == nil || m.Scores.Analytics.ModelVersion != 1 {
			t.Fatalf("%s not scored: %+v", c.ID, m.Scores)
		}
		if m.Scores.RFM.Segment == "at_risk" {
			atRisk[c.ID] = true
		}
		ev, err := f.store.GetEvent(ctx, events.InternalSource, scoring.EventID(1, c.ID))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, lambdaevents.DynamoDBEventRecord{
			EventID: ev.ID, EventName: "INSERT",
			Change: lambdaevents.DynamoDBStreamRecord{SequenceNumber: fmt.Sprintf("%06d", i),
				NewImage: map[string]lambdaevents.DynamoDBAttributeValue{
					"entity":    lambdaevents.NewStringAttribute("event"),
					"member_id": lambdaevents.NewStringAttribute(ev.MemberID),
					"payload":   lambdaevents.NewStringAttribute(string(ev.Payload)),
				}},
		})
	}
	if len(atRisk) == 0 {
		t.Fatal("nobody is at risk in the simulated shop; the test would prove nothing")
	}
	for start := 0; start < len(recs); start += 100 {
		resp, err := h.Handle(ctx, lambdaevents.DynamoDBEvent{Records: recs[start:min(start+100, len(recs))]})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("dispatch: %v, failures %+v", err, resp.BatchItemFailures)
		}
	}

	enrolled := map[string]bool{}
	for _, s := range runner.starts {
		if s.Definition.Name == "at_risk_rescue" {
			enrolled[s.MemberID] = true
			if !strings.Contains(string(s.Event), `"to":"at_risk"`) {
				t.Errorf("%s enrolled on %s", s.MemberID, s.Event)
			}
		}
	}
	for id := range atRisk {
		if !enrolled[id] {
			t.Errorf("%s moved into at_risk but was not enrolled", id)
		}
		enrs, err := f.store.ListEnrollments(ctx, id)
		if err != nil || len(enrs) != 1 || enrs[0].Journey != "at_risk_rescue" {
			t.Errorf("%s enrollments = %+v (%v)", id, enrs, err)
		}
	}
	if len(enrolled) != len(atRisk) {
		t.Errorf("%d enrolled, %d at risk", len(enrolled), len(atRisk))
	}
	t.Logf("%d of 500 members at risk, each enrolled in at_risk_rescue", len(atRisk))
}
