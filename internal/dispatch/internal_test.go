package dispatch_test

import (
	"context"
	"io/fs"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// internalRecord is the stream record of an internal event recorded under
// source memberflow.
func internalRecord(t *testing.T, seq string, env events.Envelope) lambdaevents.DynamoDBEventRecord {
	t.Helper()
	return recordUnder(events.InternalSource, seq, env)
}

// recordUnder is the stream record of env recorded under source.
func recordUnder(source, seq string, env events.Envelope) lambdaevents.DynamoDBEventRecord {
	rec := streamRecord(seq, env.MemberID, env.Raw)
	rec.Change.NewImage["source"] = lambdaevents.NewStringAttribute(source)
	return rec
}

// TestSegmentChangedEnrolsAtRiskRescue: member.segment_changed reaches
// the journeys like any event — the at_risk_rescue example enrols a member
// moved to at_risk, and nobody else — and touches neither the projection
// nor the ledger.
func TestSegmentChangedEnrolsAtRiskRescue(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	src, err := fs.ReadFile(templates.Journeys, "journeys/examples/at_risk_rescue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Publish(ctx, src, "test"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"m-risk", "m-loyal"} {
		ledgerfix.Member(t, f.st, id)
	}
	at := testNow.Add(-time.Hour)
	moved := func(member, from, to string) events.Envelope {
		env, err := events.NewInternal(events.MemberSegmentChanged, "rfm:4:"+member, member, at, events.MemberSegmentChangedData{From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	risk, loyal := moved("m-risk", "loyal", "at_risk"), moved("m-loyal", "", "loyal")
	// The same event recorded under a storefront's source (forged: ingest
	// refuses both the type and the source) is dropped, not routed.
	forged, _ := events.NewInternal(events.MemberSegmentChanged, "rfm:9:m-loyal", "m-loyal", at, events.MemberSegmentChangedData{From: "loyal", To: "at_risk"})
	mustHandle(t, f.h, recordUnder("shop", "0", forged), streamRecord("00", "m-loyal", forged.Raw))
	if len(f.runner.started) != 0 {
		t.Fatalf("a forged internal event enrolled %v", f.runner.started)
	}
	mustHandle(t, f.h, internalRecord(t, "1", risk), internalRecord(t, "2", loyal))
	// A redelivered record changes nothing.
	mustHandle(t, f.h, internalRecord(t, "3", risk))

	// A journey that may be entered again numbers its enrollments by the
	// trigger's moment.
	id := workflows.JourneyWorkflowID("at_risk_rescue", "m-risk", int(at.Unix()))
	start, ok := f.runner.started[id]
	if !ok || len(f.runner.started) != 1 {
		t.Fatalf("started %v, want only %s", f.runner.started, id)
	}
	if start.Definition.Name != "at_risk_rescue" || string(start.Event) != string(risk.Raw) || !start.Anchor.Equal(at) {
		t.Errorf("start = %+v", start)
	}
	for _, member := range []string{"m-risk", "m-loyal"} {
		m, err := f.st.GetMember(ctx, member)
		if err != nil || m.Version != 1 {
			t.Errorf("%s: projection at version %d (%v), want untouched", member, m.Version, err)
		}
		if recs, err := f.st.Journal(ctx, member); err != nil || len(recs) != 0 {
			t.Errorf("%s: journal %+v (%v), want nothing", member, recs, err)
		}
	}
	// An event for a member without a profile (erased since) enrols
	// nobody and fails nothing.
	mustHandle(t, f.h, internalRecord(t, "4", moved("m-gone", "loyal", "at_risk")))
	if len(f.runner.started) != 1 {
		t.Errorf("a member without a profile was enrolled: %v", f.runner.started)
	}
}
