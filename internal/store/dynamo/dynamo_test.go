package dynamo_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/store/storetest"
	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
)

func TestMain(m *testing.M) { ddblocal.Main(m) }

func TestContract(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	storetest.Run(t, func(*testing.T) store.Store { return s })
}

// TestItemLayout pins the stored shape other components read directly: the
// stream dispatcher (entity, payload) and the calendar scans (GSI1, GSI2).
func TestItemLayout(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)

	payload := `{"id":"evt_1","type":"order.paid","data":{"total":"12.50"}}`
	if _, err := s.PutEvents(ctx, []store.RecordedEvent{{
		Source: "storefront", ID: "evt_1", Type: "order.paid", MemberID: "m1",
		OccurredAt: at, ReceivedAt: at.Add(time.Second), Payload: json.RawMessage(payload),
		Digest: "sha256:0123abcd", DeliveryID: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
	}}); err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	ev := rawItem(t, client, table, "EVENT#storefront#evt_1", "EVENT")
	wantStrings(t, ev, map[string]string{
		"entity": "event", "source": "storefront", "event_id": "evt_1", "type": "order.paid",
		"member_id": "m1", "payload": payload,
		"occurred_at": "2026-05-01T12:00:00.123456789Z", "received_at": "2026-05-01T12:00:01.123456789Z",
		"digest": "sha256:0123abcd", "delivery_id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
	})

	// 00:30 at UTC+2 is the day before in UTC, the day the index counts.
	lastOrder := time.Date(2026, 5, 1, 0, 30, 0, 0, time.FixedZone("UTC+2", 2*3600))
	m := loyalty.Member{ID: "m1", Birthday: "1990-12-10", LastOrderAt: lastOrder, Version: 1}
	if err := s.SaveMember(ctx, m, "evt_1"); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	profile := rawItem(t, client, table, "M#m1", "PROFILE")
	wantStrings(t, profile, map[string]string{"entity": "member", "GSI1PK": "BDAY#1210", "GSI1SK": "M#m1",
		"GSI2PK": "LASTORDER#2026-04-30", "GSI2SK": "M#m1"})
	if v, ok := profile["version"].(*types.AttributeValueMemberN); !ok || v.Value != "1" {
		t.Errorf("version = %#v, want number 1", profile["version"])
	}
	wantStrings(t, rawItem(t, client, table, "M#m1", "APPLIED#evt_1"), map[string]string{"entity": "applied"})
	if got := birthdayMembers(t, client, table, "BDAY#1210"); len(got) != 1 {
		t.Errorf("GSI1 BDAY#1210 holds %d items, want 1", len(got))
	}

	m.Birthday, m.LastOrderAt, m.Version = "", time.Time{}, 2
	if err := s.SaveMember(ctx, m, "evt_2"); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	wantAbsent(t, rawItem(t, client, table, "M#m1", "PROFILE"), "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK")

	if err := s.PutContact(ctx, "m1", contact.State{Contacts: []contact.Contact{{Key: "k", Journey: "birthday", At: at}}}, 0); err != nil {
		t.Fatalf("PutContact: %v", err)
	}
	contactItem := rawItem(t, client, table, "M#m1", "CONTACT")
	wantStrings(t, contactItem, map[string]string{"entity": "contact", "member_id": "m1",
		"state": `{"contacts":[{"key":"k","journey":"birthday","at":"2026-05-01T12:00:00.123456789Z"}]}`})
	wantNumbers(t, contactItem, map[string]string{"version": "1"})

	if _, _, err := s.StartEnrollment(ctx, loyalty.Enrollment{MemberID: "m1", Journey: "activation", Number: 1, StartedAt: at}); err != nil {
		t.Fatalf("StartEnrollment: %v", err)
	}
	wantStrings(t, rawItem(t, client, table, "M#m1", "ENROLL#activation#000001"), map[string]string{"entity": "enrollment", "status": "active"})

	if _, _, err := s.ReserveSend(ctx, store.Send{Key: "m1#activation#1#welcome", MemberID: "m1", CreatedAt: at}); err != nil {
		t.Fatalf("ReserveSend: %v", err)
	}
	wantStrings(t, rawItem(t, client, table, "M#m1", "SEND#m1#activation#1#welcome"), map[string]string{"entity": "send", "status": "pending"})
}

// TestLedgerItemLayout pins the ledger's stored shape: balances as exact
// numbers beside the JSON state, the due index on GSI1, the review index
// on GSI2, and the claim, counter and liability items.
func TestLedgerItemLayout(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()

	entry := func(seq int64, principal string) loyalty.Entry {
		return loyalty.Entry{Seq: seq, Key: fmt.Sprintf("m1#k%d", seq), MemberID: "m1", Rule: "topup",
			Available: 5, Principal: decimal.RequireFromString(principal)}
	}
	// 0.1 + 0.2 is 0.30000000000000004 in float64; the store must keep 0.3.
	c := store.LedgerChange{
		Account: loyalty.Account{MemberID: "m1", Version: 1, Seq: 2, Tier: "gold",
			ReviewAt: time.Date(2027, 5, 1, 23, 30, 0, 0, time.FixedZone("UTC-1", -3600))},
		Entries:   []loyalty.Entry{entry(1, "0.1"), entry(2, "0.2")},
		Cause:     "evt_1",
		Claims:    []loyalty.Claim{{Key: "coupon#NEW8-AB12", Owner: "m1"}},
		Counters:  []loyalty.Counter{{Key: "NEW8", Limit: 5}},
		Liability: map[string]decimal.Decimal{"sv#principal": decimal.RequireFromString("0.3"), "coupon#NEW8#2026-12-24": decimal.NewFromInt(1)},
		NextDue:   "2026-12-01",
	}
	if err := s.CommitLedger(ctx, c); err != nil {
		t.Fatalf("CommitLedger: %v", err)
	}

	acc := rawItem(t, client, table, "M#m1", "ACCOUNT")
	wantStrings(t, acc, map[string]string{"entity": "account", "member_id": "m1", "GSI1PK": "DUE#2026-12-01", "GSI1SK": "M#m1",
		"GSI2PK": "REVIEW#2027-05-02", "GSI2SK": "M#m1"})
	wantNumbers(t, acc, map[string]string{"version": "1", "points_pending": "0", "points_available": "10", "sv_principal": "0.3", "sv_bonus": "0"})
	if _, ok := acc["state"].(*types.AttributeValueMemberS); !ok {
		t.Errorf("state = %#v, want a String", acc["state"])
	}
	wantStrings(t, rawItem(t, client, table, "M#m1", "LEDGER#000000000002"), map[string]string{"entity": "ledger_entry", "key": "m1#k2"})
	wantStrings(t, rawItem(t, client, table, "M#m1", "LAPPLIED#evt_1"), map[string]string{"entity": "ledger_applied"})
	wantStrings(t, rawItem(t, client, table, "CLAIM#coupon#NEW8-AB12", "CLAIM"), map[string]string{"entity": "claim", "owner": "m1"})
	wantNumbers(t, rawItem(t, client, table, "COUNTER#NEW8", "COUNTER"), map[string]string{"n": "1"})

	var shards []map[string]types.AttributeValue
	for i := range 16 {
		if item := getRaw(t, client, table, fmt.Sprintf("LIAB#%02d", i), "LIAB"); item != nil {
			shards = append(shards, item)
		}
	}
	if len(shards) != 1 {
		t.Fatalf("%d liability shards written, want 1", len(shards))
	}
	wantStrings(t, shards[0], map[string]string{"entity": "liability"})
	wantNumbers(t, shards[0], map[string]string{"sv#principal": "0.3", "coupon#NEW8#2026-12-24": "1"})

	c.Account.Version, c.Account.ReviewAt, c.NextDue = 2, time.Time{}, ""
	c.Entries, c.Cause, c.Claims, c.Counters, c.Liability = nil, "", nil, nil, nil
	if err := s.CommitLedger(ctx, c); err != nil {
		t.Fatalf("CommitLedger: %v", err)
	}
	wantAbsent(t, rawItem(t, client, table, "M#m1", "ACCOUNT"), "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK")
}

// TestFeedbackItemLayout pins the stored shape of provider feedback: events
// by time under the member, their markers, the suppression, conversions
// and the sharded step stats.
func TestFeedbackItemLayout(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const key = "m1#activation#1#welcome"

	m := loyalty.Member{ID: "m1", Version: 1, Consent: loyalty.Consent{UnsubscribedGroups: []string{"winback", "newsletter"}}}
	if err := s.SaveMember(ctx, m, "evt_1"); err != nil {
		t.Fatalf("SaveMember: %v", err)
	}
	groups, ok := rawItem(t, client, table, "M#m1", "PROFILE")["consent_unsubscribed_groups"].(*types.AttributeValueMemberL)
	if !ok || len(groups.Value) != 2 {
		t.Errorf("consent_unsubscribed_groups = %#v, want a list of 2", groups)
	}

	if _, _, err := s.ReserveSend(ctx, store.Send{Key: key, MemberID: "m1", Journey: "activation", Step: "welcome", CreatedAt: at}); err != nil {
		t.Fatalf("ReserveSend: %v", err)
	}
	if err := s.MarkSendAttempt(ctx, "m1", key, at, time.Time{}); err != nil {
		t.Fatalf("MarkSendAttempt: %v", err)
	}
	ev := store.SendEvent{ID: "sg1", MemberID: "m1", SendKey: key, Journey: "activation", Step: "welcome", Enrollment: 1,
		Type: store.EventDelivered, At: at, MessageID: "msg-1"}
	if err := s.RecordSendEvent(ctx, ev); err != nil {
		t.Fatalf("RecordSendEvent: %v", err)
	}
	if err := s.Suppress(ctx, store.Suppression{MemberID: "m1", Reason: "bounce", Source: "sendgrid:bounce", At: at}); err != nil {
		t.Fatalf("Suppress: %v", err)
	}
	if err := s.RecordConversion(ctx, "m1", "o1", ev, at); err != nil {
		t.Fatalf("RecordConversion: %v", err)
	}

	wantStrings(t, rawItem(t, client, table, "M#m1", "SEND#"+key), map[string]string{
		"status": "sent", "message_id": "msg-1", "attempted_at": "2026-05-01T12:00:00Z"})
	wantStrings(t, rawItem(t, client, table, "M#m1", "SENDEVT#2026-05-01T12:00:00.000000000Z#sg1"), map[string]string{
		"entity": "send_event", "type": "delivered", "send_key": key})
	wantStrings(t, rawItem(t, client, table, "M#m1", "SENDEVTID#sg1"), map[string]string{"entity": "send_event_id"})
	wantStrings(t, rawItem(t, client, table, "M#m1", "SENDFIRST#"+key+"#delivered"), map[string]string{"entity": "send_first", "event_id": "sg1"})
	wantStrings(t, rawItem(t, client, table, "M#m1", "SUPPRESSED"), map[string]string{"entity": "suppression", "source": "sendgrid:bounce"})
	wantStrings(t, rawItem(t, client, table, "M#m1", "CONV#o1#"+key), map[string]string{"entity": "conversion", "event_id": "sg1"})

	var shards []map[string]types.AttributeValue
	for i := range 8 {
		if item := getRaw(t, client, table, "STATS#activation", fmt.Sprintf("STEP#welcome#%d", i)); item != nil {
			shards = append(shards, item)
		}
	}
	if len(shards) != 1 {
		t.Fatalf("%d stats shards written, want 1", len(shards))
	}
	wantStrings(t, shards[0], map[string]string{"entity": "step_stats", "journey": "activation", "step": "welcome"})
	wantNumbers(t, shards[0], map[string]string{"sent": "1", "delivered": "1", "conversion": "1"})
}

func TestEnsureTableTwice(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	if err := dynamo.EnsureTable(t.Context(), client, table); err != nil {
		t.Fatalf("EnsureTable on an existing table: %v", err)
	}
	out, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	if spec := out.Table.StreamSpecification; spec == nil || !aws.ToBool(spec.StreamEnabled) || spec.StreamViewType != types.StreamViewTypeNewAndOldImages {
		t.Errorf("stream = %+v, want NEW_AND_OLD_IMAGES", spec)
	}
	checkIndexes(t, out.Table, "GSI1", "GSI2", "GSI3")
}

// TestEnsureTableAddsIndex upgrades tables made before an index existed,
// as the local stack's table in .local/ is: one before GSI2 and GSI3 and
// one before GSI3 only. EnsureTable adds each missing index and returns
// once they can be queried, and items written before are in them.
func TestEnsureTableAddsIndex(t *testing.T) {
	for _, tc := range []struct {
		name string
		kept int // indexes of TableDefinition the old table has
	}{{"before GSI2", 1}, {"before GSI3", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			client, err := dynamo.NewClient(ctx, ddblocal.Endpoint(t), "")
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			name := "memberflow-test-" + rand.Text()[:12]
			old := dynamo.TableDefinition(name)
			var dropped []string
			for _, gsi := range old.GlobalSecondaryIndexes[tc.kept:] {
				dropped = append(dropped, aws.ToString(gsi.IndexName))
			}
			old.GlobalSecondaryIndexes = old.GlobalSecondaryIndexes[:tc.kept]
			old.AttributeDefinitions = slices.DeleteFunc(old.AttributeDefinitions, func(d types.AttributeDefinition) bool {
				return slices.ContainsFunc(dropped, func(index string) bool {
					return strings.HasPrefix(aws.ToString(d.AttributeName), index)
				})
			})
			if _, err := client.CreateTable(ctx, old); err != nil {
				t.Fatalf("CreateTable without %v: %v", dropped, err)
			}
			t.Cleanup(func() {
				if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
					t.Logf("delete test table %s: %v", name, err)
				}
			})
			s := dynamo.New(client, name)
			at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			if err := s.SaveMember(ctx, loyalty.Member{ID: "m1", LastOrderAt: at, Version: 1}, "evt_1"); err != nil {
				t.Fatalf("SaveMember before the upgrade: %v", err)
			}

			if err := dynamo.EnsureTable(ctx, client, name); err != nil {
				t.Fatalf("EnsureTable on a table without %v: %v", dropped, err)
			}
			out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
			if err != nil {
				t.Fatalf("DescribeTable: %v", err)
			}
			checkIndexes(t, out.Table, "GSI1", "GSI2", "GSI3")
			for _, gsi := range out.Table.GlobalSecondaryIndexes {
				if gsi.IndexStatus != types.IndexStatusActive {
					t.Errorf("%s is %s, want ACTIVE", aws.ToString(gsi.IndexName), gsi.IndexStatus)
				}
			}
			got, err := s.MembersByLastOrderDay(ctx, "2026-05-01", "", 10)
			if err != nil {
				t.Fatalf("MembersByLastOrderDay after the upgrade: %v", err)
			}
			if len(got) != 1 || got[0].ID != "m1" {
				t.Errorf("MembersByLastOrderDay after the upgrade = %+v, want m1 (written before it)", got)
			}
			page, err := s.MembersPage(ctx, store.MemberShard("m1"), "", 10)
			if err != nil {
				t.Fatalf("MembersPage after the upgrade: %v", err)
			}
			if len(page) != 1 || page[0].ID != "m1" {
				t.Errorf("MembersPage after the upgrade = %+v, want m1 (written before it)", page)
			}
			if err := dynamo.EnsureTable(ctx, client, name); err != nil {
				t.Fatalf("EnsureTable on the upgraded table: %v", err)
			}
		})
	}
}

// checkIndexes checks the table has exactly these GSIs.
func checkIndexes(t *testing.T, table *types.TableDescription, want ...string) {
	t.Helper()
	var got []string
	for _, gsi := range table.GlobalSecondaryIndexes {
		got = append(got, aws.ToString(gsi.IndexName))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("indexes = %q, want %q", got, want)
	}
}

func TestPingMissingTable(t *testing.T) {
	client, _ := ddblocal.NewTable(t)
	if err := dynamo.New(client, "no-such-table").Ping(t.Context()); err == nil {
		t.Error("Ping(missing table) = nil, want an error")
	}
}

func rawItem(t *testing.T, client *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	item := getRaw(t, client, table, pk, sk)
	if item == nil {
		t.Fatalf("no item at PK=%s SK=%s", pk, sk)
	}
	return item
}

// getRaw reads one item as stored; nil when there is none.
func getRaw(t *testing.T, client *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	key, err := attributevalue.MarshalMap(map[string]string{"PK": pk, "SK": sk})
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem %s %s: %v", pk, sk, err)
	}
	if len(out.Item) == 0 {
		return nil
	}
	return out.Item
}

// wantStrings checks attributes are String (S) attributes with these values.
func wantStrings(t *testing.T, item map[string]types.AttributeValue, want map[string]string) {
	t.Helper()
	for name, w := range want {
		s, ok := item[name].(*types.AttributeValueMemberS)
		switch {
		case !ok:
			t.Errorf("%s = %#v, want String %q", name, item[name], w)
		case s.Value != w:
			t.Errorf("%s = %q, want %q", name, s.Value, w)
		}
	}
}

// wantAbsent checks the item has none of these attributes.
func wantAbsent(t *testing.T, item map[string]types.AttributeValue, names ...string) {
	t.Helper()
	for _, name := range names {
		if v, ok := item[name]; ok {
			t.Errorf("%s = %#v, want it absent", name, v)
		}
	}
}

// wantNumbers checks attributes are Number (N) attributes with these values,
// as DynamoDB spells them.
func wantNumbers(t *testing.T, item map[string]types.AttributeValue, want map[string]string) {
	t.Helper()
	for name, w := range want {
		n, ok := item[name].(*types.AttributeValueMemberN)
		switch {
		case !ok:
			t.Errorf("%s = %#v, want Number %s", name, item[name], w)
		case n.Value != w:
			t.Errorf("%s = %s, want %s", name, n.Value, w)
		}
	}
}

func birthdayMembers(t *testing.T, client *dynamodb.Client, table, pk string) []map[string]types.AttributeValue {
	t.Helper()
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key("GSI1PK").Equal(expression.Value(pk))).Build()
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.Query(t.Context(), &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String("GSI1"),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		t.Fatalf("Query GSI1: %v", err)
	}
	return out.Items
}

func BenchmarkPutEvents(b *testing.B) {
	client, table := ddblocal.NewTable(b)
	s := dynamo.New(client, table)
	for _, size := range []int{1, 25, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			evs := make([]store.RecordedEvent, size)
			payload := json.RawMessage(`{"type":"order.paid","data":{"order_id":"o_123","total":"42.00","currency":"EUR"}}`)
			n := 0
			for b.Loop() {
				for i := range evs {
					n++
					evs[i] = store.RecordedEvent{Source: "bench", ID: fmt.Sprintf("%s-%d", b.Name(), n), Type: "order.paid",
						MemberID: "m1", OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: payload}
				}
				if _, err := s.PutEvents(context.Background(), evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkSaveMember(b *testing.B) {
	client, table := ddblocal.NewTable(b)
	s := dynamo.New(client, table)
	m := loyalty.Member{ID: "bench", Email: "bench@example.com", Birthday: "1990-12-10", Timezone: "Europe/Berlin"}
	for b.Loop() {
		m.Version++
		m.OrderCount++
		m.UpdatedAt = time.Now()
		if err := s.SaveMember(context.Background(), m, fmt.Sprintf("e%d", m.Version)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitLedger commits what an order typically produces: an
// account update with three entries (points, growth, a coupon), the cause
// marker and one liability shard.
func BenchmarkCommitLedger(b *testing.B) {
	client, table := ddblocal.NewTable(b)
	s := dynamo.New(client, table)
	a := loyalty.Account{MemberID: "bench", Tier: "gold", Principal: decimal.RequireFromString("50"),
		Growth: []loyalty.GrowthRecord{{Key: "o0", At: time.Now(), Kind: loyalty.GrowthSpend, Source: "order", Amount: decimal.RequireFromString("42.50")}}}
	for b.Loop() {
		a.Version++
		at := time.Now()
		es := make([]loyalty.Entry, 3)
		for i := range es {
			a.Seq++
			es[i] = loyalty.Entry{Seq: a.Seq, Key: fmt.Sprintf("bench#%d", a.Seq), MemberID: a.MemberID, At: at, Rule: "order.paid",
				Reason: "points for order", EventID: fmt.Sprintf("evt_%d", a.Version), Pending: 42,
				Lots: []loyalty.LotMove{{Lot: fmt.Sprintf("lot-%d", a.Seq), ReleaseDay: "2026-12-08", Points: 42}}}
		}
		c := store.LedgerChange{
			Account:   a,
			Entries:   es,
			Cause:     fmt.Sprintf("evt_%d", a.Version),
			Liability: map[string]decimal.Decimal{"points#2026-12-08": decimal.NewFromInt(126), "coupon#NEW8#2026-12-24": decimal.NewFromInt(1)},
			NextDue:   "2026-12-08",
		}
		if err := s.CommitLedger(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}
