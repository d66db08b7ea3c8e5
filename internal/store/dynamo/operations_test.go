package dynamo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/opcount"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
)

// opPrefix names this test's counters in opcount.Calls.
const opPrefix = "operations_test"

// TestOperations pins how many DynamoDB operations the store calls on a
// registration's way from webhook to outbox cost (issue 10: DynamoDB is
// what limits the pipeline's throughput). The counts are exact, not
// timings: a change that adds a read to one of these calls fails here
// rather than only slowing `memberflow load`.
func TestOperations(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	plain := dynamo.New(client, table)
	countedClient, err := dynamo.NewClient(t.Context(), ddblocal.Endpoint(t), "", func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, opcount.AWS(opPrefix))
	})
	if err != nil {
		t.Fatalf("counting client: %v", err)
	}
	counted := dynamo.New(countedClient, table)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

	type fixture struct {
		snd     store.Send // reserved with plain before the call, unless !reserved
		journey string     // a journey of the row's own
	}
	publish := func(ctx context.Context, s *dynamo.Store, f fixture, source string, expect int) error {
		return s.PublishJourney(ctx, store.JourneyVersion{Name: f.journey, Definition: journey.Definition{Name: f.journey},
			Source: source, PublishedAt: at}, expect)
	}
	enroll := func(ctx context.Context, f fixture) error {
		_, _, err := plain.StartEnrollment(ctx, loyalty.Enrollment{MemberID: f.snd.MemberID, Journey: f.journey, Number: 1, StartedAt: at})
		return err
	}
	entry := func(f fixture, key string) store.TimelineEntry {
		return store.TimelineEntry{MemberID: f.snd.MemberID, Journey: f.journey, Kind: "sent", Key: key, At: at,
			Values: map[string]any{"member.tier": "V3"}}
	}
	for _, tc := range []struct {
		name     string
		reserved bool
		before   func(ctx context.Context, f fixture) error // with plain
		call     func(ctx context.Context, s *dynamo.Store, f fixture) error
		want     map[string]int64
	}{
		{
			name: "CompleteSend of a pending row", reserved: true,
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.CompleteSend(ctx, f.snd.Ref(), store.SendSent, "msg-1", "", at)
			},
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			name: "CompleteSend of a final row", reserved: true,
			before: func(ctx context.Context, f fixture) error {
				return plain.CompleteSend(ctx, f.snd.Ref(), store.SendSent, "msg-1", "", at)
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.CompleteSend(ctx, f.snd.Ref(), store.SendSkipped, "", "late", at)
			},
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			name: "RecordSendEvent processed of a completed row", reserved: true,
			before: func(ctx context.Context, f fixture) error {
				return plain.CompleteSend(ctx, f.snd.Ref(), store.SendSent, "msg-1", "", at)
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.RecordSendEvent(ctx, sendEventOf(f.snd, "e1", store.EventProcessed, at))
			},
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			name: "RecordSendEvent open", reserved: true,
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.RecordSendEvent(ctx, sendEventOf(f.snd, "e1", store.EventOpen, at))
			},
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			// A worker died between the provider and CompleteSend: the
			// first write learns the row is pending and the second moves it.
			name: "RecordSendEvent processed of a pending row", reserved: true,
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.RecordSendEvent(ctx, sendEventOf(f.snd, "e1", store.EventProcessed, at))
			},
			want: map[string]int64{"TransactWriteItems": 2},
		},
		{
			// Reported as the provider took the message: the activity
			// may not have completed the row yet, and here has not.
			name: "RecordSendEvent fresh processed of a pending row", reserved: true,
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.RecordSendEvent(ctx, sendEventOf(f.snd, "e1", store.EventProcessed, time.Now()))
			},
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			name: "RecordSendEvent fresh processed of a completed row", reserved: true,
			before: func(ctx context.Context, f fixture) error {
				return plain.CompleteSend(ctx, f.snd.Ref(), store.SendSent, "msg-1", "", at)
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.RecordSendEvent(ctx, sendEventOf(f.snd, "e1", store.EventProcessed, time.Now()))
			},
			want: map[string]int64{"TransactWriteItems": 2},
		},
		{
			name: "PutEvents of one event",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return putOne(ctx, s, f.snd.MemberID, store.PutEventsResult{Accepted: []string{"e1"}})
			},
			want: map[string]int64{"PutItem": 1},
		},
		{
			name: "PutEvents of one event again",
			before: func(ctx context.Context, f fixture) error {
				return putOne(ctx, plain, f.snd.MemberID, store.PutEventsResult{Accepted: []string{"e1"}})
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return putOne(ctx, s, f.snd.MemberID, store.PutEventsResult{Duplicates: []string{"e1"}})
			},
			want: map[string]int64{"PutItem": 1},
		},
		{
			name: "SendContext",
			before: func(ctx context.Context, f fixture) error {
				if err := plain.SaveMember(ctx, loyalty.Member{ID: f.snd.MemberID, Email: "a@example.com", Version: 1}, "evt_1"); err != nil {
					return err
				}
				if _, _, err := plain.StartEnrollment(ctx, loyalty.Enrollment{MemberID: f.snd.MemberID, Journey: "activation", Number: 1, StartedAt: at}); err != nil {
					return err
				}
				return plain.PutContact(ctx, f.snd.MemberID, contact.State{}, 0)
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				sc, err := s.SendContext(ctx, f.snd.MemberID, "activation", 1)
				if err == nil && (sc.Enrollment == nil || sc.ContactVersion != 1) {
					err = fmt.Errorf("send context %+v: want the enrollment and contact version 1", sc)
				}
				return err
			},
			// The batch, and the erased addresses' item of the member's
			// address hash (it cannot join the batch: the address is in
			// the profile the batch reads).
			want: map[string]int64{"BatchGetItem": 1, "GetItem": 1},
		},
		{
			name: "MemberAndAccount",
			before: func(ctx context.Context, f fixture) error {
				return plain.SaveMember(ctx, loyalty.Member{ID: f.snd.MemberID, Version: 1}, "evt_1")
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				m, _, err := s.MemberAndAccount(ctx, f.snd.MemberID)
				if err == nil && m.Version != 1 {
					err = fmt.Errorf("member %+v, want version 1", m)
				}
				return err
			},
			want: map[string]int64{"BatchGetItem": 1},
		},
		// The journey engine's calls (issue 11).
		{
			name: "PublishJourney",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error { return publish(ctx, s, f, "v1", 0) },
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			name: "PublishJourney of the saved draft",
			before: func(ctx context.Context, f fixture) error {
				return plain.SaveJourneyDraft(ctx, f.journey, "v1", at)
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error { return publish(ctx, s, f, "v1", 0) },
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			// The first write guesses the draft is what is published and
			// learns from its cancellation that it is not.
			name: "PublishJourney beside another draft",
			before: func(ctx context.Context, f fixture) error {
				return plain.SaveJourneyDraft(ctx, f.journey, "work in progress", at)
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error { return publish(ctx, s, f, "v1", 0) },
			want: map[string]int64{"TransactWriteItems": 2},
		},
		{
			name:   "PublishJourney conflict",
			before: func(ctx context.Context, f fixture) error { return publish(ctx, plain, f, "v1", 0) },
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				if err := publish(ctx, s, f, "v2", 0); !errors.Is(err, store.ErrConflict) {
					return fmt.Errorf("err = %v, want ErrConflict", err)
				}
				return nil
			},
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			name:   "GetJourney",
			before: func(ctx context.Context, f fixture) error { return publish(ctx, plain, f, "v1", 0) },
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				_, err := s.GetJourney(ctx, f.journey)
				return err
			},
			want: map[string]int64{"GetItem": 1},
		},
		{
			name:   "ListJourneys",
			before: func(ctx context.Context, f fixture) error { return publish(ctx, plain, f, "v1", 0) },
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				_, err := s.ListJourneys(ctx)
				return err
			},
			want: map[string]int64{"Query": 1},
		},
		{
			name:   "GetJourneyVersion",
			before: func(ctx context.Context, f fixture) error { return publish(ctx, plain, f, "v1", 0) },
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				_, err := s.GetJourneyVersion(ctx, f.journey, 1)
				return err
			},
			want: map[string]int64{"GetItem": 1},
		},
		{
			name: "ListJourneyVersions",
			before: func(ctx context.Context, f fixture) error {
				if err := publish(ctx, plain, f, "v1", 0); err != nil {
					return err
				}
				return publish(ctx, plain, f, "v2", 1)
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				vs, err := s.ListJourneyVersions(ctx, f.journey)
				if err == nil && len(vs) != 2 {
					err = fmt.Errorf("%d versions, want 2", len(vs))
				}
				return err
			},
			want: map[string]int64{"Query": 1},
		},
		{
			name: "SaveJourneyDraft",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.SaveJourneyDraft(ctx, f.journey, "draft", at)
			},
			want: map[string]int64{"UpdateItem": 1},
		},
		{
			name:   "SetJourneyStatus",
			before: func(ctx context.Context, f fixture) error { return publish(ctx, plain, f, "v1", 0) },
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				_, err := s.SetJourneyStatus(ctx, f.journey, []journey.Status{journey.StatusLive}, journey.StatusPaused, at)
				return err
			},
			want: map[string]int64{"UpdateItem": 1},
		},
		{
			name:   "SetJourneyStatus refused",
			before: func(ctx context.Context, f fixture) error { return publish(ctx, plain, f, "v1", 0) },
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				st, err := s.SetJourneyStatus(ctx, f.journey, []journey.Status{journey.StatusPaused}, journey.StatusLive, at)
				if !errors.Is(err, store.ErrConflict) || st.Status != journey.StatusLive {
					return fmt.Errorf("SetJourneyStatus = %+v, %v; want the live state and ErrConflict", st, err)
				}
				return nil
			},
			want: map[string]int64{"UpdateItem": 1},
		},
		{
			name: "CountJourney",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.CountJourney(ctx, f.journey, f.snd.MemberID, "k", map[string]int64{store.CountEnded: 1, store.CountExited("goal"): 1})
			},
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			name: "CountJourney repeated",
			before: func(ctx context.Context, f fixture) error {
				return plain.CountJourney(ctx, f.journey, f.snd.MemberID, "k", map[string]int64{store.CountEnrolled: 1})
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.CountJourney(ctx, f.journey, f.snd.MemberID, "k", map[string]int64{store.CountEnrolled: 1})
			},
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			name: "JourneyCounters",
			before: func(ctx context.Context, f fixture) error {
				return plain.CountJourney(ctx, f.journey, f.snd.MemberID, "k", map[string]int64{store.CountEnrolled: 1})
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				c, err := s.JourneyCounters(ctx, f.journey)
				if err == nil && c[store.CountEnrolled] != 1 {
					err = fmt.Errorf("counters %v, want enrolled 1", c)
				}
				return err
			},
			want: map[string]int64{"Query": 1},
		},
		{
			name: "AppendTimeline of one entry",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.AppendTimeline(ctx, entry(f, "k1"))
			},
			want: map[string]int64{"PutItem": 1},
		},
		{
			name: "AppendTimeline of one entry again",
			before: func(ctx context.Context, f fixture) error {
				return plain.AppendTimeline(ctx, entry(f, "k1"))
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.AppendTimeline(ctx, entry(f, "k1"))
			},
			want: map[string]int64{"PutItem": 1},
		},
		{
			name: "AppendTimeline of three entries",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.AppendTimeline(ctx, entry(f, "k1"), entry(f, "k2"), entry(f, "k3"))
			},
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			name: "AppendTimeline of three entries again",
			before: func(ctx context.Context, f fixture) error {
				return plain.AppendTimeline(ctx, entry(f, "k1"), entry(f, "k2"), entry(f, "k3"))
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.AppendTimeline(ctx, entry(f, "k1"), entry(f, "k2"), entry(f, "k3"))
			},
			want: map[string]int64{"TransactWriteItems": 1},
		},
		{
			name: "ListTimeline",
			before: func(ctx context.Context, f fixture) error {
				return plain.AppendTimeline(ctx, entry(f, "k1"), entry(f, "k2"), entry(f, "k3"))
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				es, next, err := s.ListTimeline(ctx, f.snd.MemberID, 2, "")
				if err == nil && (len(es) != 2 || next == "") {
					err = fmt.Errorf("%d entries, next %q; want 2 and a next page", len(es), next)
				}
				return err
			},
			want: map[string]int64{"Query": 1},
		},
		{
			name: "StartEnrollment",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				_, _, err := s.StartEnrollment(ctx, loyalty.Enrollment{MemberID: f.snd.MemberID, Journey: f.journey, Number: 1, StartedAt: at,
					Version: 1, Listen: []string{"order.paid"}, Anchor: at, Step: "welcome"})
				return err
			},
			want: map[string]int64{"PutItem": 1},
		},
		{
			name:   "SetEnrollmentHeld",
			before: func(ctx context.Context, f fixture) error { return enroll(ctx, f) },
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.SetEnrollmentHeld(ctx, f.snd.MemberID, f.journey, 1, true)
			},
			want: map[string]int64{"UpdateItem": 1},
		},
		{
			name:   "SetEnrollmentStep",
			before: func(ctx context.Context, f fixture) error { return enroll(ctx, f) },
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.SetEnrollmentStep(ctx, f.snd.MemberID, f.journey, 1, "wait", []string{"order.paid"})
			},
			want: map[string]int64{"UpdateItem": 1},
		},
		{
			name:   "EndEnrollment",
			before: func(ctx context.Context, f fixture) error { return enroll(ctx, f) },
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.EndEnrollment(ctx, f.snd.MemberID, f.journey, 1, loyalty.EnrollmentExited, "archived", at)
			},
			want: map[string]int64{"UpdateItem": 1},
		},
		{
			name:   "ListActiveEnrollments",
			before: func(ctx context.Context, f fixture) error { return enroll(ctx, f) },
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				page, next, err := s.ListActiveEnrollments(ctx, f.journey, "", 10)
				if err == nil && (len(page) != 1 || next != "") {
					err = fmt.Errorf("%d enrollments, next %q; want 1 and no next page", len(page), next)
				}
				return err
			},
			want: map[string]int64{"Query": 1},
		},
		{
			name: "ListHeldEnrollments",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				_, _, err := s.ListHeldEnrollments(ctx, f.journey, "", 10)
				return err
			},
			want: map[string]int64{"Query": 1},
		},
		{
			name: "SetMemberDate",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.SetMemberDate(ctx, f.snd.MemberID, "trial_ends_on", "2026-06-01")
			},
			want: map[string]int64{"PutItem": 1},
		},
		{
			name: "SetMemberDate removed",
			before: func(ctx context.Context, f fixture) error {
				return plain.SetMemberDate(ctx, f.snd.MemberID, "trial_ends_on", "2026-06-01")
			},
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				return s.SetMemberDate(ctx, f.snd.MemberID, "trial_ends_on", "")
			},
			want: map[string]int64{"DeleteItem": 1},
		},
		{
			name: "MembersByDate",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				_, err := s.MembersByDate(ctx, "trial_ends_on", "2026-06-01", "", 100)
				return err
			},
			want: map[string]int64{"Query": 1},
		},
		{
			name: "MembersPage",
			call: func(ctx context.Context, s *dynamo.Store, f fixture) error {
				_, err := s.MembersPage(ctx, 0, "", 100)
				return err
			},
			want: map[string]int64{"Query": 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			member := "m-" + strings.ReplaceAll(tc.name, " ", "-")
			f := fixture{snd: store.Send{Key: member + "#activation#1#welcome", MemberID: member, Journey: "activation",
				Enrollment: 1, Step: "welcome", Template: "d-welcome", CreatedAt: at, UpdatedAt: at},
				journey: "ops_" + strings.ToLower(strings.ReplaceAll(tc.name, " ", "_"))}
			if tc.reserved {
				if _, _, err := plain.ReserveSend(ctx, f.snd); err != nil {
					t.Fatalf("ReserveSend: %v", err)
				}
			}
			if tc.before != nil {
				if err := tc.before(ctx, f); err != nil {
					t.Fatalf("before: %v", err)
				}
			}
			was := opcount.Snapshot()
			if err := tc.call(ctx, counted, f); err != nil {
				t.Fatalf("call: %v", err)
			}
			got := map[string]int64{}
			for k, n := range opcount.Snapshot() {
				if op, ok := strings.CutPrefix(k, opPrefix+"."); ok && n != was[k] {
					got[op] = n - was[k]
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("operations = %v, want %v", got, tc.want)
			}
		})
	}
}

func sendEventOf(snd store.Send, id, typ string, at time.Time) store.SendEvent {
	return store.SendEvent{ID: id, MemberID: snd.MemberID, SendKey: snd.Key, Journey: snd.Journey, Step: snd.Step,
		Enrollment: snd.Enrollment, Type: typ, At: at, MessageID: "msg-1"}
}

// putOne records one member.registered event of memberID and checks the
// store's answer.
func putOne(ctx context.Context, s *dynamo.Store, memberID string, want store.PutEventsResult) error {
	payload := `{"id":"e1","type":"member.registered"}`
	got, err := s.PutEvents(ctx, []store.RecordedEvent{{Source: "storefront-" + memberID, ID: "e1", Type: "member.registered",
		MemberID: memberID, Payload: json.RawMessage(payload), Digest: "sha256:1"}})
	if err == nil && !reflect.DeepEqual(got, want) {
		err = fmt.Errorf("PutEvents = %+v, want %+v", got, want)
	}
	return err
}
