package dynamo_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
)

// TestJourneyItemLayout pins the stored shape of the journey engine's
// items: versions and states, counters beside the step stats, the
// timeline, the enrollment listings, member dates and the member index.
func TestJourneyItemLayout(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

	if err := s.PublishJourney(ctx, store.JourneyVersion{Name: "svip_upsell", Definition: journey.Definition{Name: "svip_upsell", Priority: 50},
		Source: "name: svip_upsell\n", PublishedAt: at, PublishedBy: "tok_1"}, 0); err != nil {
		t.Fatalf("PublishJourney: %v", err)
	}
	version := rawItem(t, client, table, "JOURNEY#svip_upsell", "V#000001")
	wantStrings(t, version, map[string]string{"entity": "journey_version", "name": "svip_upsell", "source": "name: svip_upsell\n",
		"published_by": "tok_1", "published_at": "2026-05-01T12:00:00Z"})
	wantNumbers(t, version, map[string]string{"version": "1"})
	if def, ok := version["definition"].(*types.AttributeValueMemberS); !ok || def.Value == "" {
		t.Errorf("definition = %#v, want its JSON as a String", version["definition"])
	}
	state := rawItem(t, client, table, "JOURNEYS", "svip_upsell")
	wantStrings(t, state, map[string]string{"entity": "journey_state", "status": "live"})
	wantNumbers(t, state, map[string]string{"live": "1", "latest": "1"})

	if err := s.CountJourney(ctx, "svip_upsell", "m1", "m1#svip_upsell#1#ended", map[string]int64{"exited:goal": 1, "ended": 1}); err != nil {
		t.Fatalf("CountJourney: %v", err)
	}
	wantStrings(t, rawItem(t, client, table, "M#m1", "JCOUNT#m1#svip_upsell#1#ended"), map[string]string{"entity": "journey_counted", "journey": "svip_upsell"})
	var shards []map[string]types.AttributeValue
	for i := range 8 {
		if item := getRaw(t, client, table, "STATS#svip_upsell", fmt.Sprintf("JOURNEY#%d", i)); item != nil {
			shards = append(shards, item)
		}
	}
	if len(shards) != 1 {
		t.Fatalf("%d journey counter shards written, want 1", len(shards))
	}
	wantStrings(t, shards[0], map[string]string{"entity": "journey_stats", "journey": "svip_upsell"})
	wantNumbers(t, shards[0], map[string]string{"exited:goal": "1", "ended": "1"})

	if err := s.AppendTimeline(ctx, store.TimelineEntry{MemberID: "m1", Journey: "svip_upsell", Kind: "sent", Key: "m1#svip_upsell#1#offer#2026",
		At: at, Values: map[string]any{"member.tier": "V3"}}); err != nil {
		t.Fatalf("AppendTimeline: %v", err)
	}
	wantStrings(t, rawItem(t, client, table, "M#m1", "TL#2026-05-01T12:00:00.000000000Z#m1#svip_upsell#1#offer#2026#sent"),
		map[string]string{"entity": "timeline", "kind": "sent", "values": `{"member.tier":"V3"}`})

	e := loyalty.Enrollment{MemberID: "m1", Journey: "svip_upsell", Number: 1, StartedAt: at, Version: 1, Listen: []string{"order.paid"}}
	if _, _, err := s.StartEnrollment(ctx, e); err != nil {
		t.Fatalf("StartEnrollment: %v", err)
	}
	if err := s.SetEnrollmentHeld(ctx, "m1", "svip_upsell", 1, true); err != nil {
		t.Fatalf("SetEnrollmentHeld: %v", err)
	}
	enr := rawItem(t, client, table, "M#m1", "ENROLL#svip_upsell#000001")
	wantStrings(t, enr, map[string]string{"GSI1PK": "JACTIVE#svip_upsell", "GSI1SK": "M#m1#000001",
		"GSI2PK": "JHELD#svip_upsell", "GSI2SK": "M#m1#000001"})
	if l, ok := enr["listen"].(*types.AttributeValueMemberL); !ok || len(l.Value) != 1 {
		t.Errorf("listen = %#v, want a list of 1", enr["listen"])
	}
	if err := s.EndEnrollment(ctx, "m1", "svip_upsell", 1, loyalty.EnrollmentExited, "archived", at); err != nil {
		t.Fatalf("EndEnrollment: %v", err)
	}
	wantAbsent(t, rawItem(t, client, table, "M#m1", "ENROLL#svip_upsell#000001"), "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "held")

	if err := s.SetMemberDate(ctx, "m1", "trial_ends_on", "2026-06-01"); err != nil {
		t.Fatalf("SetMemberDate: %v", err)
	}
	wantStrings(t, rawItem(t, client, table, "M#m1", "DATE#trial_ends_on"), map[string]string{"entity": "member_date",
		"GSI1PK": "DATE#trial_ends_on#2026-06-01", "GSI1SK": "M#m1", "day": "2026-06-01"})

	m := loyalty.Member{ID: "m1", Version: 1, Attributes: map[string]any{"plan": "gold"}, Tags: []string{"vip", "early"}}
	if err := s.SaveMember(ctx, m, "evt_1"); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	profile := rawItem(t, client, table, "M#m1", "PROFILE")
	wantStrings(t, profile, map[string]string{"attributes": `{"plan":"gold"}`,
		"GSI3PK": fmt.Sprintf("MEMBERS#%02d", store.MemberShard("m1")), "GSI3SK": "M#m1"})
	if tags, ok := profile["tags"].(*types.AttributeValueMemberL); !ok || len(tags.Value) != 2 {
		t.Errorf("tags = %#v, want a list of 2", profile["tags"])
	}
}

// TestEnrollmentBeforeTheIndex reads and moves an enrollment item written
// before the journey listings existed: it has none of their attributes,
// and is listed by none of them, yet every call on it works.
func TestEnrollmentBeforeTheIndex(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	item, err := attributevalue.MarshalMap(map[string]any{"PK": "M#m1", "SK": "ENROLL#winback#000001", "entity": "enrollment",
		"member_id": "m1", "journey": "winback", "number": 1, "workflow_id": "winback/m1/1", "status": "active",
		"started_at": "2026-05-01T12:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	got, err := s.GetEnrollment(ctx, "m1", "winback", 1)
	if err != nil || got.Status != loyalty.EnrollmentActive || got.Version != 0 || got.Listen != nil {
		t.Fatalf("GetEnrollment = %+v, %v; want the active enrollment without the engine's fields", got, err)
	}
	if page, _, err := s.ListActiveEnrollments(ctx, "winback", "", 10); err != nil || len(page) != 0 {
		t.Errorf("ListActiveEnrollments = %+v, %v; want none (the item predates the index)", page, err)
	}
	if err := s.SetEnrollmentHeld(ctx, "m1", "winback", 1, true); err != nil {
		t.Fatalf("SetEnrollmentHeld: %v", err)
	}
	if page, _, err := s.ListHeldEnrollments(ctx, "winback", "", 10); err != nil || len(page) != 1 || !page[0].Held {
		t.Errorf("ListHeldEnrollments = %+v, %v; want the held enrollment", page, err)
	}
	at := time.Date(2026, 5, 2, 12, 0, 0, 0, time.UTC)
	if err := s.EndEnrollment(ctx, "m1", "winback", 1, loyalty.EnrollmentCompleted, "", at); err != nil {
		t.Fatalf("EndEnrollment: %v", err)
	}
	got, err = s.GetEnrollment(ctx, "m1", "winback", 1)
	if err != nil || got.Status != loyalty.EnrollmentCompleted || !got.EndedAt.Equal(at) || got.Held {
		t.Errorf("GetEnrollment after the end = %+v, %v; want completed at %v, not held", got, err, at)
	}
	if page, _, err := s.ListHeldEnrollments(ctx, "winback", "", 10); err != nil || len(page) != 0 {
		t.Errorf("ListHeldEnrollments after the end = %+v, %v; want none", page, err)
	}
}
