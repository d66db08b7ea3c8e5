package workflows_test

import (
	"context"
	"errors"
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
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// TestAnalyticsRefreshToAtRiskRescue runs the product's path on the
// in-memory store: members with orders in their ledgers; the nightly
// refresh fits the models and writes every member's scores; the
// member.segment_changed events it recorded go through dispatch like any
// recorded event. The first refresh moves every buyer from "" and the
// at_risk_rescue example enrols none of them; a refresh 90 quiet days
// later moves some from a real segment, and the example enrols exactly
// those moved into at_risk or cant_lose.
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
	at := refreshAt.Add(time.Minute)
	now := func() time.Time { return at }
	h := &dispatch.Handler{Store: f.store, Ledger: f.ldg, Journeys: svc, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: now,
		Enroller: &journeys.Enroller{Store: f.store, Engine: eng, Runner: runner, Now: now}}

	// dispatchRun hands dispatch the events the refresh of version
	// recorded, as the table's stream would, read back by their ids; it
	// returns the members moved into a segment the example rescues from
	// one they had.
	seq := 0
	dispatchRun := func(version int) map[string]bool {
		t.Helper()
		var recs []lambdaevents.DynamoDBEventRecord
		rescued := map[string]bool{}
		for _, c := range shop {
			m := f.member(t, c.ID)
			if m.Scores == nil || m.Scores.Analytics.ModelVersion != version {
				t.Fatalf("%s not scored by version %d: %+v", c.ID, version, m.Scores)
			}
			ev, err := f.store.GetEvent(ctx, events.InternalSource, scoring.EventID(version, c.ID))
			if errors.Is(err, store.ErrNotFound) {
				continue // not moved
			}
			if err != nil {
				t.Fatal(err)
			}
			if seg := m.Scores.RFM.Segment; (seg == "at_risk" || seg == "cant_lose") && !strings.Contains(string(ev.Payload), `"from":""`) {
				rescued[c.ID] = true
			}
			seq++
			recs = append(recs, lambdaevents.DynamoDBEventRecord{
				EventID: ev.ID, EventName: "INSERT",
				Change: lambdaevents.DynamoDBStreamRecord{SequenceNumber: fmt.Sprintf("%06d", seq),
					NewImage: map[string]lambdaevents.DynamoDBAttributeValue{
						"entity":    lambdaevents.NewStringAttribute("event"),
						"source":    lambdaevents.NewStringAttribute(ev.Source),
						"member_id": lambdaevents.NewStringAttribute(ev.MemberID),
						"payload":   lambdaevents.NewStringAttribute(string(ev.Payload)),
					}},
			})
		}
		for start := 0; start < len(recs); start += 100 {
			resp, err := h.Handle(ctx, lambdaevents.DynamoDBEvent{Records: recs[start:min(start+100, len(recs))]})
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("dispatch: %v, failures %+v", err, resp.BatchItemFailures)
			}
		}
		return rescued
	}
	enrolled := func() map[string]bool {
		out := map[string]bool{}
		for _, s := range runner.starts {
			if s.Definition.Name == "at_risk_rescue" {
				out[s.MemberID] = true
				if !strings.Contains(string(s.Event), `"to":"at_risk"`) && !strings.Contains(string(s.Event), `"to":"cant_lose"`) {
					t.Errorf("%s enrolled on %s", s.MemberID, s.Event)
				}
			}
		}
		return out
	}

	res := f.refresh(t, refreshAt, workflows.AnalyticsRefreshInput{PageSize: 40})
	if res.Version != 1 || res.Report.Scored != 500 || res.Recorded != 500 {
		t.Fatalf("refresh = %+v", res)
	}
	if rescued := dispatchRun(1); len(rescued) != 0 || len(enrolled()) != 0 {
		t.Fatalf("the first refresh (every buyer moves from \"\") enrolled %v", enrolled())
	}
	if res.Report.Segments["at_risk"]+res.Report.Segments["cant_lose"] == 0 {
		t.Fatal("nobody is at risk after the first refresh; the test would prove little")
	}

	// 90 days without an order: recency and the window's frequency and
	// spend fall, and some members move.
	second := refreshAt.AddDate(0, 0, 90)
	at = second.Add(time.Minute)
	res = f.refresh(t, second, workflows.AnalyticsRefreshInput{PageSize: 40})
	if res.Version != 2 || res.Report.Scored != 500 {
		t.Fatalf("second refresh = %+v", res)
	}
	rescued := dispatchRun(2)
	if len(rescued) == 0 {
		t.Fatal("nobody moved into at_risk or cant_lose on the second refresh; the test would prove nothing")
	}
	got := enrolled()
	for id := range rescued {
		if !got[id] {
			t.Errorf("%s moved into at_risk or cant_lose but was not enrolled", id)
		}
		enrs, err := f.store.ListEnrollments(ctx, id)
		if err != nil || len(enrs) != 1 || enrs[0].Journey != "at_risk_rescue" {
			t.Errorf("%s enrollments = %+v (%v)", id, enrs, err)
		}
	}
	if len(got) != len(rescued) {
		t.Errorf("%d enrolled, %d moved into at_risk or cant_lose", len(got), len(rescued))
	}
	t.Logf("second refresh: %d of 500 members moved into at_risk or cant_lose, each enrolled in at_risk_rescue; %d moves in all", len(rescued), res.Report.Changed)
}
