package dynamo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/memberflow/memberflow/internal/contact"
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
		snd store.Send // reserved with plain before the call, unless !reserved
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
			want: map[string]int64{"BatchGetItem": 1},
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			member := "m-" + strings.ReplaceAll(tc.name, " ", "-")
			f := fixture{snd: store.Send{Key: member + "#activation#1#welcome", MemberID: member, Journey: "activation",
				Enrollment: 1, Step: "welcome", Template: "d-welcome", CreatedAt: at, UpdatedAt: at}}
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
