package cond

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// testEnv is built once: every test and the fuzz target share it, as the
// journey engine does.
var testEnv = sync.OnceValues(NewEnv)

func mustEnv(tb testing.TB) *Env {
	tb.Helper()
	env, err := testEnv()
	if err != nil {
		tb.Fatalf("NewEnv: %v", err)
	}
	return env
}

func mustCompile(tb testing.TB, expr string, kind Kind, eventTypes ...string) *Program {
	tb.Helper()
	p, err := mustEnv(tb).Compile(expr, kind, eventTypes)
	if err != nil {
		tb.Fatalf("Compile(%q): %v", expr, err)
	}
	return p
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// testNow is the decision time of the tests.
var testNow = time.Date(2026, 3, 8, 2, 0, 0, 0, time.UTC)

// sampleMember is a realistic member: a V3 on an SVIP trial with points,
// coupons, a boost and years of enrollments.
func sampleMember() loyalty.MemberDocument {
	registered := testNow.AddDate(-1, -4, 0)
	review := "2026-11-03"
	var m loyalty.MemberDocument
	m.Member = loyalty.Member{
		ID: "m-1001", Email: "lin.wei@example.com", Name: "Lin Wei", Phone: "+8613800000000",
		Birthday: "1990-04-12", BirthdaySetAt: registered, Timezone: "Asia/Shanghai", Locale: "zh-CN",
		ReferralCode: "LINW88", Consent: loyalty.Consent{EmailMarketing: true, UpdatedAt: registered},
		RegisteredAt: registered, LastOrderAt: testNow.AddDate(0, 0, -12), OrderCount: 7, UpdatedAt: testNow.AddDate(0, 0, -1),
		Attributes: map[string]any{"favourite": "tea", "visits": 3.0}, Tags: []string{"vip"},
		// Only so the document has every field; an erased profile holds no contact data.
		ErasedAt: testNow.AddDate(0, 0, -1),
		Scores: &loyalty.Scores{
			RFM: loyalty.RFMScores{R: 2, F: 4, M: 5, Segment: "at_risk"}, PAlive: 0.21, ExpectedOrders90d: 0.35,
			CLV12m: dec("412.50"), Analytics: loyalty.ScoresInfo{ModelVersion: 3, AsOf: "2026-11-22", Currency: "CNY"},
		},
	}
	m.View = loyalty.View{
		Tier: "V3", TierName: "Gold", TierReviewOn: &review,
		Growth:      loyalty.GrowthTotals{Spend: dec("3200.00"), Interaction: dec("35"), Reward: dec("0"), Counted: dec("3235.00")},
		Points:      loyalty.PointsView{Pending: 120, Available: 2480, ExpiringNext: &loyalty.ExpiringView{Amount: 300, At: testNow.AddDate(0, 2, 0)}},
		StoredValue: loyalty.StoredValueView{Currency: "CNY", Principal: dec("200.00"), Bonus: dec("20.00")},
		Coupons: []loyalty.CouponView{
			{Code: "C15-8F2K", Kind: "C15", ExpiresAt: testNow.AddDate(0, 1, 0)},
			{Code: "FREE25-Q7", Kind: "FREE25", ExpiresAt: testNow.AddDate(0, 0, 10), Used: true},
			{Code: "BDAY-2025", Kind: "BIRTHDAY", ExpiresAt: testNow.AddDate(0, -1, 0)},
		},
		Boosts:   []loyalty.BoostView{{Multiplier: dec("2"), Until: testNow.AddDate(0, 0, 3)}},
		Paid:     &loyalty.PaidView{Plan: "svip-monthly", Status: loyalty.PaidTrial, Trial: true, EndsAt: testNow.AddDate(0, 0, 5)},
		Badges:   []string{"first_order", "reviewer"},
		Referral: loyalty.ReferralView{Code: "LINW88"},
	}
	for i, j := range []string{"activation", "birthday", "tier_expiry", "winback"} {
		m.Enrollments = append(m.Enrollments, loyalty.Enrollment{
			MemberID: m.ID, Journey: j, Number: 1, WorkflowID: "journey/" + j + "/m-1001/1",
			Status: loyalty.EnrollmentCompleted, StartedAt: registered.AddDate(0, i, 0), EndedAt: registered.AddDate(0, i+1, 0),
			Definition: `{"name":"` + j + `","steps":[{"id":"welcome","send":{"email":"` + j + `_1"}},{"id":"wait","delay":{"for":"3d"}},{"id":"nudge","send":{"email":"` + j + `_2"},"reward":{"coupon":"C15"}}]}`,
		})
	}
	return m
}

// orderPaid is an order.paid envelope for amount.
func orderPaid(amount string) *events.Envelope {
	data := fmt.Sprintf(`{"order_id":"ord-1","amount":%q,"currency":"CNY","lines":[{"sku":"TEA-1","category":"tea","quantity":1,"amount":%q}],"payments":[{"method":"card","amount":%q}]}`, amount, amount, amount)
	return &events.Envelope{ID: "evt-1", Version: 1, Type: events.OrderPaid, OccurredAt: testNow.Add(-time.Minute), MemberID: "m-1001", Data: json.RawMessage(data)}
}

// customEvent is an event of a type events does not know, whose data
// conditions read as generic JSON.
func customEvent() *events.Envelope {
	return &events.Envelope{ID: "evt-2", Version: 1, Type: "shop.custom_event", OccurredAt: testNow, MemberID: "m-1001",
		Data: json.RawMessage(`{"from":"V2","to":"V3","score":3,"weight":0.5,"tags":["a"],"extra":null}`)}
}

// segmentChanged is the internal member.segment_changed event, whose data
// is typed (events.MemberSegmentChangedData).
func segmentChanged() *events.Envelope {
	return &events.Envelope{ID: "rfm:3:m-1001", Version: 1, Type: events.MemberSegmentChanged, OccurredAt: testNow, MemberID: "m-1001",
		Data: json.RawMessage(`{"from":"loyal","to":"at_risk"}`)}
}

// typeCases are the member and event paths the shipped lifecycles and the
// issue's examples read, with the CEL type each must have.
var typeCases = []struct {
	expr   string
	events []string
	want   string
}{
	{"member.paid.status", nil, "string"},
	{"member.tier", nil, "string"},
	{"member.points.available", nil, "int"},
	{"member.consent.email_marketing", nil, "bool"},
	{"member.order_count", nil, "int"},
	{"member.growth.counted", nil, "Money"},
	{"member.coupons", nil, "list(loyalty.CouponView)"},
	{"member.tier_review_on", nil, "string"},
	{"member.birthday", nil, "string"},
	{"member.registered_at", nil, "google.protobuf.Timestamp"},
	{"member.last_order_at", nil, "google.protobuf.Timestamp"},
	{"member.paid", nil, "loyalty.PaidView"},
	{"member.paid.ends_at", nil, "google.protobuf.Timestamp"},
	{"member.points.expiring_next.amount", nil, "int"},
	{"member.stored_value.principal", nil, "Money"},
	{"member.boosts[0].multiplier", nil, "Money"},
	{"member.enrollments[0].status", nil, "string"},
	{"member.consent.unsubscribed_groups", nil, "list(string)"},
	{"member.badges", nil, "list(string)"},
	{"event.data.amount", []string{"order.paid"}, "Money"},
	{"event.data.lines", []string{"order.paid"}, "list(events.OrderLine)"},
	{"event.data.points_redeemed", []string{"order.paid"}, "int"},
	{"event.data", []string{"order.paid"}, "events.OrderPaidData"},
	{"event", []string{"order.paid"}, "events.OrderPaidEvent"},
	{"event.occurred_at", []string{"order.paid"}, "google.protobuf.Timestamp"},
	{"event.data.birthday", []string{"member.registered"}, "string"},
	{"event.data.consent.email_marketing", []string{"member.profile_updated"}, "bool"},
	{"event.data.effective_at", []string{"subscription.cancelled"}, "google.protobuf.Timestamp"},
	{"event.data.trial_ends_at", []string{"subscription.trial_started"}, "google.protobuf.Timestamp"},
	{"event.data.to", []string{"member.segment_changed"}, "string"},
	{"event.data", []string{"member.segment_changed"}, "events.MemberSegmentChangedData"},
	{"member.rfm.segment", nil, "string"},
	{"member.rfm.r", nil, "int"},
	{"member.p_alive", nil, "double"},
	{"member.expected_orders_90d", nil, "double"},
	{"member.clv_12m", nil, "Money"},
	{"member.analytics.model_version", nil, "int"},
	{"member.analytics.currency", nil, "string"},
	{"event.data.to", nil, "dyn"},
	{"event.data", []string{"order.paid", "order.refunded"}, "map(string, dyn)"},
	{"event.type", nil, "string"},
	{"now", nil, "google.protobuf.Timestamp"},
	{"now - member.registered_at", nil, "google.protobuf.Duration"},
	{"event.data.amount * 2", []string{"order.paid"}, "Money"},
	{"string(event.data.amount)", []string{"order.paid"}, "string"},
	{"double(member.growth.counted)", nil, "double"},
}

func TestFieldTypes(t *testing.T) {
	for _, tc := range typeCases {
		t.Run(tc.expr, func(t *testing.T) {
			p := mustCompile(t, tc.expr, Any, tc.events...)
			if got := p.Type(); got != tc.want {
				t.Errorf("type of %s = %s, want %s", tc.expr, got, tc.want)
			}
		})
	}
}

// TestEveryEventTypeDeclared checks that each event type's data fields are
// readable with their JSON names.
func TestEveryEventTypeDeclared(t *testing.T) {
	for _, et := range events.Types() {
		dt := events.DataType(et)
		for _, f := range jsonFields(dt) {
			expr := "event.data." + f.name
			t.Run(expr+"@"+string(et), func(t *testing.T) {
				mustCompile(t, expr, Any, string(et))
			})
		}
	}
}

// compileErrorCases are expressions that must not compile, with where and
// why.
var compileErrorCases = []struct {
	name         string
	expr         string
	kind         Kind
	events       []string
	line, column int
	msg          string
}{
	{"misspelt variable", "member.tier == 'V3' && membr.paid.status == 'active'", Bool, nil, 1, 24, "undeclared reference to 'membr'"},
	{"unknown field", "member.paid.statsu != 'active'", Bool, nil, 1, 12, "undefined field 'statsu'"},
	{"unknown event field", "event.data.amonut >= 500", Bool, []string{"order.paid"}, 1, 11, "undefined field 'amonut'"},
	{"string against int", "member.paid.status == 1", Bool, nil, 1, 20, "found no matching overload for '_==_' applied to '(string, int)'"},
	{"money against string", "event.data.amount >= '500'", Bool, []string{"order.paid"}, 1, 19, "found no matching overload for '_>=_' applied to '(Money, string)'"},
	{"money times money", "event.data.amount * event.data.amount", Any, []string{"order.paid"}, 1, 19, "found no matching overload for '_*_'"},
	{"syntax error on line 2", "member.tier == 'V3' &&\n  member.points.available >>= 100", Bool, nil, 2, 28, "Syntax error"},
	{"not a condition", "member.points.available + 1", Bool, nil, 1, 1, "must be a condition (bool), but is int"},
	{"empty", "  ", Bool, nil, 1, 1, "is empty"},
	{"object never null", "member.paid != null", Bool, nil, 1, 16, "member.paid is never null"},
	{"timestamp never null", "null == member.registered_at", Bool, nil, 1, 1, "member.registered_at is never null"},
	{"no such variable", "customer.tier == 'V3'", Bool, nil, 1, 1, "undeclared reference to 'customer'"},
	{"too long", "member.tier == '" + strings.Repeat("x", MaxExpressionSize) + "'", Bool, nil, 1, 1, "exceeds limit"},
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range compileErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := mustEnv(t).Compile(tc.expr, tc.kind, tc.events)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q) = %v, %v; want an *Error", tc.expr, p, err)
			}
			if ce.Line() != tc.line || ce.Column() != tc.column || !strings.Contains(ce.Message, tc.msg) {
				t.Errorf("error at line %d, column %d: %q; want line %d, column %d: %q", ce.Line(), ce.Column(), ce.Message, tc.line, tc.column, tc.msg)
			}
			if ce.Line() > 1 && !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", ce.Line())) {
				t.Errorf("Error() = %q does not name line %d", err.Error(), ce.Line())
			}
		})
	}
}

// absentCases evaluate over a member with nothing but an id and no event
// data beyond its envelope: absent parts read as empty values.
var absentCases = []struct {
	expr string
	want bool
}{
	{"member.paid.status != 'active'", true},
	{"member.paid.status == ''", true},
	{"member.paid.trial", false},
	{"member.paid.ends_at == timestamp(0)", true},
	{"member.points.expiring_next.amount == 0", true},
	{"member.tier_review_on == ''", true},
	{"member.birthday == ''", true},
	{"member.coupons.size() == 0", true},
	{"member.enrollments.size() == 0", true},
	{"member.registered_at == timestamp(0)", true},
	{"member.stored_value.principal == 0", true},
	{"member.growth.counted < 1", true},
	{"member.consent.email_marketing", false},
	{"member.consent.unsubscribed_groups.size() == 0", true},
	{"has(member.paid)", true},
	{"now - member.registered_at > duration('720h')", true},
}

func TestAbsentValues(t *testing.T) {
	var bare loyalty.MemberDocument
	bare.ID = "m-new"
	for _, tc := range absentCases {
		t.Run(tc.expr, func(t *testing.T) {
			got, _, err := mustCompile(t, tc.expr, Bool).EvalBool(Input{Member: bare, Now: testNow})
			if err != nil || got != tc.want {
				t.Errorf("%s = %v, %v; want %v", tc.expr, got, err, tc.want)
			}
		})
	}
}

func TestPaidMemberIsNotAbsent(t *testing.T) {
	m := sampleMember()
	m.Paid.Status = loyalty.PaidActive
	got, read, err := mustCompile(t, "member.paid.status != 'active'", Bool).EvalBool(Input{Member: m, Now: testNow})
	if err != nil || got {
		t.Fatalf("member.paid.status != 'active' for an active member = %v, %v; want false", got, err)
	}
	if read["member.paid.status"] != "active" {
		t.Errorf("read = %v, want member.paid.status: active", read)
	}
}

// moneyCases evaluate over an order.paid event of amount, typed and
// through the generic envelope.
var moneyCases = []struct {
	expr   string
	amount string
	want   bool
}{
	{"event.data.amount >= 500", "500.00", true},
	{"event.data.amount >= 500", "499.99", false},
	{"event.data.amount > 499.99", "499.99", false},
	{"event.data.amount == 499.99", "499.99", true},
	{"500 <= event.data.amount", "500.00", true},
	{"500 <= event.data.amount", "499.99", false},
	{"499.99 < event.data.amount", "500", true},
	{"event.data.amount == 0.3", "0.30", true},
	{"0.3 == event.data.amount", "0.30", true},
	{"event.data.amount != 0.3", "0.30", false},
	{"event.data.amount - 0.1 == 0.2", "0.30", true},
	{"event.data.amount + event.data.amount == 0.6", "0.30", true},
	{"event.data.amount * 3 == 0.9", "0.30", true},
	{"3 * event.data.amount == 0.9", "0.30", true},
	{"event.data.amount * 0.1 == 0.03", "0.30", true},
	{"event.data.amount == 500u", "500.00", true},
	{"event.data.amount < 1u", "0.30", true},
	{"-event.data.amount < 0", "0.30", true},
	{"event.data.amount == event.data.lines[0].amount", "12.50", true},
	{"event.data.amount + 0.01 == 500", "499.99", true},
	{"1000 - event.data.amount == 500.01", "499.99", true},
	{"string(event.data.amount) == '499.99'", "499.99", true},
	{"string(event.data.amount * 2) == '999.98'", "499.99", true},
	{"double(event.data.amount) == 0.3", "0.30", true},
	{"event.data.amount < double('NaN')", "1", false},
	{"event.data.amount == double('NaN')", "1", false},
	{"event.data.amount != double('NaN')", "1", true},
	{"event.data.amount < double('Infinity')", "99999999999999999999.99", true},
	{"event.data.amount > double('-Infinity')", "-99999999999999999999.99", true},
	{"event.data.amount == 1e-2", "0.01", true},
	{"event.data.amount in [event.data.amount]", "12.50", true},
}

func TestMoney(t *testing.T) {
	for _, tc := range moneyCases {
		for _, et := range [][]string{{"order.paid"}, nil} {
			t.Run(fmt.Sprintf("%s/%s/%v", tc.expr, tc.amount, et), func(t *testing.T) {
				got, read, err := mustCompile(t, tc.expr, Bool, et...).EvalBool(Input{Event: orderPaid(tc.amount), Now: testNow})
				if err != nil || got != tc.want {
					t.Fatalf("%s with amount %s = %v, %v; want %v", tc.expr, tc.amount, got, err, tc.want)
				}
				if read["event.data.amount"] != tc.amount {
					t.Errorf("read event.data.amount = %v, want %q", read["event.data.amount"], tc.amount)
				}
			})
		}
	}
}

func TestMoneyResults(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string
	}{
		{"event.data.amount", "499.99"},
		{"event.data.amount * 2", "999.98"},
		{"event.data.amount + 0.01", "500"},
		{"-event.data.amount", "-499.99"},
		{"event.data.amount - event.data.amount", "0"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			v, err := mustCompile(t, tc.expr, Any, "order.paid").Eval(Input{Event: orderPaid("499.99"), Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := v.Result.(decimal.Decimal)
			if !ok || !got.Equal(dec(tc.want)) {
				t.Errorf("%s = %#v, want decimal %s", tc.expr, v.Result, tc.want)
			}
		})
	}
}

func TestMoneyRuntimeErrors(t *testing.T) {
	for _, expr := range []string{
		"event.data.amount + double('Infinity') > 0",
		"event.data.amount * double('NaN') > 0",
		"event.data.amount >= 'x'", // generic: the data is dyn, so only the run finds out
	} {
		t.Run(expr, func(t *testing.T) {
			got, _, err := mustCompile(t, expr, Bool).EvalBool(Input{Event: orderPaid("10.00"), Now: testNow})
			if err == nil {
				t.Errorf("%s = %v, want an error", expr, got)
			}
		})
	}
}

// timeCases evaluate over sampleMember, registered 16 months before
// testNow with a trial ending 5 days after it.
var timeCases = []struct {
	expr string
	want bool
}{
	{"now - member.registered_at > duration('720h')", true},
	{"now - member.last_order_at > duration('720h')", false},
	{"now - member.last_order_at > duration('264h')", true},
	{"member.paid.ends_at - now <= duration('120h')", true},
	{"member.paid.ends_at - now < duration('119h')", false},
	{"member.points.expiring_next.at > now", true},
	{"now.getHours() == 2", true},
	{"now.getHours('Asia/Shanghai') == 10", true},
	{"now.getDayOfMonth() == 7", true},
	{"member.coupons.exists(c, !c.used && c.expires_at > now && c.kind == 'C15')", true},
	{"member.coupons.filter(c, c.expires_at < now).size() == 1", true},
	{"event.occurred_at < now", true},
}

func TestTimeZoneIsUTC(t *testing.T) {
	// Accessors without a zone read UTC whatever zone now was given in:
	// a decision must not depend on the server's or the caller's zone.
	p := mustCompile(t, "now.getHours() == 2 && now.getDayOfWeek() == 0", Bool)
	for _, zone := range []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("PST", -8*3600)} {
		got, _, err := p.EvalBool(Input{Now: testNow.In(zone)})
		if err != nil || !got {
			t.Errorf("in %s: %v, %v; want true", zone, got, err)
		}
	}
}

// TestUnscoredMember: before a refresh scores a member their scores are
// absent, and read as empty values, so conditions guard with
// member.analytics.model_version > 0 (or member.rfm.segment != ”).
func TestUnscoredMember(t *testing.T) {
	m := sampleMember()
	m.Scores = nil
	for expr, want := range map[string]bool{
		"member.rfm.segment == '' && member.rfm.r == 0":                            true,
		"member.p_alive == 0.0 && member.clv_12m == 0":                             true,
		"member.analytics.model_version > 0 && member.p_alive < 0.3":               false,
		"member.analytics.model_version == 0 && member.expected_orders_90d == 0.0": true,
	} {
		got, _, err := mustCompile(t, expr, Bool).EvalBool(Input{Member: m})
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", expr, got, err, want)
		}
	}
}

func TestReadsOnError(t *testing.T) {
	_, read, err := mustCompile(t, "member.tier == 'V3' && event.data.nope == 1", Bool).EvalBool(Input{Member: sampleMember(), Event: customEvent()})
	if err == nil || read["member.tier"] != "V3" {
		t.Fatalf("EvalBool = %v, %v; want an error and the values read", read, err)
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []Kind{Bool, Any} {
		if got, err := ParseKind(k.String()); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKind("int"); err == nil {
		t.Error("ParseKind(int) succeeded")
	}
}

func TestNow(t *testing.T) {
	m := sampleMember()
	for _, tc := range timeCases {
		t.Run(tc.expr, func(t *testing.T) {
			got, _, err := mustCompile(t, tc.expr, Bool).EvalBool(Input{Member: m, Event: orderPaid("1.00"), Now: testNow})
			if err != nil || got != tc.want {
				t.Errorf("%s = %v, %v; want %v", tc.expr, got, err, tc.want)
			}
		})
	}
}

// lifecycleCases are conditions of the kind the shipped lifecycles and the
// issue's svip_upsell use, over sampleMember and an order.paid of 600.00.
var lifecycleCases = []struct {
	expr   string
	events []string
	want   bool
	read   map[string]any
}{
	{"event.data.amount >= 500 && member.paid.status != 'active'", []string{"order.paid"}, true,
		map[string]any{"event.data.amount": "600.00", "member.paid.status": "trial"}},
	{"member.tier in ['V3', 'V4']", nil, true, map[string]any{"member.tier": "V3"}},
	{"member.consent.email_marketing", nil, true, map[string]any{"member.consent.email_marketing": true}},
	{"member.points.available >= 100 && member.tier != 'V1'", nil, true,
		map[string]any{"member.points.available": int64(2480), "member.tier": "V3"}},
	{"member.order_count == 0", nil, false, map[string]any{"member.order_count": int64(7)}},
	{"member.growth.counted >= 3000", nil, true, map[string]any{"member.growth.counted": "3235.00"}},
	{"member.tier_review_on != '' && member.birthday.startsWith('1990-')", nil, true,
		map[string]any{"member.tier_review_on": "2026-11-03", "member.birthday": "1990-04-12"}},
	{"size(member.coupons) > 2", nil, true, nil},
	{"member.rfm.segment == 'at_risk' && member.p_alive < 0.3 && member.clv_12m >= 400", nil, true,
		map[string]any{"member.rfm.segment": "at_risk", "member.p_alive": 0.21, "member.clv_12m": "412.50"}},
	{"event.data.to == 'at_risk' && event.data.from != ''", []string{"member.segment_changed"}, true,
		map[string]any{"event.data.to": "at_risk", "event.data.from": "loyal"}},
	{"event.data['to'] == 'V3' && event.data.score == 3 && event.data.weight == 0.5", nil, true,
		map[string]any{"event.data.to": "V3", "event.data.score": int64(3), "event.data.weight": 0.5}},
	{"event.data.extra == null && 'a' in event.data.tags", nil, true, nil},
}

func TestLifecycleConditions(t *testing.T) {
	m := sampleMember()
	for _, tc := range lifecycleCases {
		t.Run(tc.expr, func(t *testing.T) {
			ev := orderPaid("600.00")
			switch {
			case slices.Contains(tc.events, string(events.MemberSegmentChanged)):
				ev = segmentChanged()
			case strings.Contains(tc.expr, "event.data.to") || strings.Contains(tc.expr, "'to'") || strings.Contains(tc.expr, "extra"):
				ev = customEvent()
			}
			got, read, err := mustCompile(t, tc.expr, Bool, tc.events...).EvalBool(Input{Member: m, Event: ev, Now: testNow})
			if err != nil || got != tc.want {
				t.Fatalf("%s = %v, %v; want %v", tc.expr, got, err, tc.want)
			}
			for k, want := range tc.read {
				if !reflect.DeepEqual(read[k], want) {
					t.Errorf("read[%s] = %#v, want %#v", k, read[k], want)
				}
			}
		})
	}
}

func TestReads(t *testing.T) {
	m := sampleMember()
	for i := range 100 {
		m.Enrollments = append(m.Enrollments, loyalty.Enrollment{Journey: "member_day", Number: 20250108 + i})
	}
	for _, tc := range []struct {
		expr string
		want []string
		read map[string]any
	}{
		{"member.paid.status == 'trial' || now > member.paid.ends_at", []string{"member.paid.ends_at", "member.paid.status", "now"},
			map[string]any{"member.paid.status": "trial", "member.paid.ends_at": m.Paid.EndsAt, "now": testNow}},
		{"member == member", nil, map[string]any{}},
		{"member.enrollments.size() > 100", []string{"member.enrollments"},
			map[string]any{"member.enrollments": "(list of 104 items)"}},
		{"member.badges.exists(b, b == 'reviewer')", []string{"member.badges"},
			map[string]any{"member.badges": []any{"first_order", "reviewer"}}},
		{"has(member.paid.plan)", []string{"member.paid"}, nil},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			p := mustCompile(t, tc.expr, Bool)
			if got := p.Reads(); !reflect.DeepEqual(got, tc.want) && (len(got) != 0 || len(tc.want) != 0) {
				t.Errorf("Reads() = %v, want %v", got, tc.want)
			}
			v, err := p.Eval(Input{Member: m, Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.read {
				if !reflect.DeepEqual(v.Read[k], want) {
					t.Errorf("read[%s] = %#v, want %#v", k, v.Read[k], want)
				}
			}
		})
	}
}

func TestAnyResults(t *testing.T) {
	m := sampleMember()
	for _, tc := range []struct {
		expr string
		want any
	}{
		{"member.name", "Lin Wei"},
		{"member.points.available * 2", int64(4960)},
		{"member.points.available > 100", true},
		{"member.badges", []any{"first_order", "reviewer"}},
		{"{'tier': member.tier, 'n': 1u}", map[string]any{"tier": "V3", "n": uint64(1)}},
		{"member.paid.ends_at", m.Paid.EndsAt},
		{"member.paid.ends_at - now", 5 * 24 * time.Hour},
		{"member.points.available > 100 ? 'many' : 'few'", "many"},
		{"null", nil},
		{"member.referral", map[string]any{"code": "LINW88", "referred_by": ""}},
		{"type(member.tier)", "string"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			v, err := mustCompile(t, tc.expr, Any).Eval(Input{Member: m, Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v.Result, tc.want) {
				t.Errorf("%s = %#v, want %#v", tc.expr, v.Result, tc.want)
			}
		})
	}
}

func TestEventInputs(t *testing.T) {
	typed := mustCompile(t, "event.data.amount >= 500", Bool, "order.paid")
	generic := mustCompile(t, "event.type == 'order.paid' && event.data.amount >= 500", Bool)
	decoded, err := orderPaid("750.00").DecodeData()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    *Program
		in   Input
		want bool
		err  string
	}{
		{"typed", typed, Input{Event: orderPaid("750.00")}, true, ""},
		{"typed, decoded by the caller", typed, Input{Event: orderPaid("1"), EventData: decoded}, true, ""},
		{"generic, decoded by the caller", generic, Input{Event: orderPaid("1"), EventData: decoded}, true, ""},
		{"decoded data of another type", typed, Input{Event: orderPaid("1"), EventData: &events.OrderRefundedData{}}, false, "its data is a events.OrderRefundedData"},
		{"another event type", typed, Input{Event: customEvent()}, false, "reads a order.paid event"},
		{"no event", typed, Input{}, false, "there is none"},
		{"bad data", typed, Input{Event: &events.Envelope{ID: "e", Type: events.OrderPaid, Data: json.RawMessage(`{"amount":"lots"}`)}}, false, "decode data"},
		{"only the envelope read: the data is not decoded", mustCompile(t, "event.type == 'order.paid'", Bool, "order.paid"),
			Input{Event: &events.Envelope{ID: "e", Type: events.OrderPaid, Data: json.RawMessage(`{"amount":"lots"}`)}}, true, ""},
		{"generic with an unknown field", generic, Input{Event: &events.Envelope{ID: "e", Type: "order.paid", Data: json.RawMessage(`{"amount":"1","x":1}`)}}, false, "decode data"},
		{"generic event", mustCompile(t, "event.data.score + 1 == 4", Bool), Input{Event: customEvent()}, true, ""},
		{"generic event without data", mustCompile(t, "event.data.size() == 0", Bool), Input{Event: &events.Envelope{ID: "e", Type: "shop.custom_event"}}, true, ""},
		{"generic absent key", mustCompile(t, "event.data.nope == 1", Bool), Input{Event: customEvent()}, false, "no such key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := tc.p.EvalBool(tc.in)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("EvalBool = %v, %v; want an error containing %q", got, err, tc.err)
			case tc.err == "" && (err != nil || got != tc.want):
				t.Fatalf("EvalBool = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestEvalBoolOfAValue(t *testing.T) {
	if _, _, err := mustCompile(t, "member.tier", Any).EvalBool(Input{}); err == nil {
		t.Fatal("EvalBool of an Any program succeeded")
	}
	// A dyn condition that turns out not to be a bool is an error, not false.
	p := mustCompile(t, "event.data.to", Bool)
	if got, _, err := p.EvalBool(Input{Event: customEvent()}); err == nil {
		t.Fatalf("a string condition gave %v and no error", got)
	}
}

// pathologicalCondition visits 10^5 combinations.
const pathologicalCondition = "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, " +
	"[1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a + b + c + d + e > 0)))))"

func TestCostLimit(t *testing.T) {
	p := mustCompile(t, pathologicalCondition, Bool)
	got, _, err := p.EvalBool(Input{Now: testNow})
	if err == nil || !strings.Contains(err.Error(), "cost limit") {
		t.Fatalf("the pathological condition = %v, %v; want refused for its cost", got, err)
	}
	// A comprehension over a realistic member stays well inside the limit.
	m := sampleMember()
	ok, _, err := mustCompile(t, "member.enrollments.all(e, e.status != 'active' && e.journey != 'svip_upsell') && member.coupons.exists(c, !c.used)", Bool).EvalBool(Input{Member: m, Now: testNow})
	if err != nil || !ok {
		t.Fatalf("realistic comprehension = %v, %v", ok, err)
	}
}

func TestCompileCache(t *testing.T) {
	env := mustEnv(t)
	a, _ := env.Compile("member.tier == 'V3'", Bool, nil)
	b, _ := env.Compile("member.tier == 'V3'", Bool, []string{})
	c, _ := env.Compile("member.tier == 'V3'", Any, nil)
	d, _ := env.Compile("member.tier == 'V3'", Bool, []string{"order.paid"})
	e, _ := env.Compile("member.tier == 'V3'", Bool, []string{"order.paid", "order.paid"})
	if a == nil || a != b || a == c || a == d || d != e {
		t.Fatalf("cache: %p %p %p %p %p; want the first two and the last two the same and the others apart", a, b, c, d, e)
	}
}

func TestConcurrentCompileAndEval(t *testing.T) {
	env := mustEnv(t)
	m := sampleMember()
	exprs := []string{
		"event.data.amount >= 500 && member.paid.status != 'active'",
		"member.tier in ['V3', 'V4'] && member.points.available >= 100",
		"now - member.registered_at > duration('720h')",
		"member.coupons.exists(c, !c.used)",
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				expr := exprs[(g+i)%len(exprs)]
				p, err := env.Compile(expr, Bool, []string{"order.paid"})
				if err != nil {
					errs <- err
					return
				}
				got, _, err := p.EvalBool(Input{Member: m, Event: orderPaid("600.00"), Now: testNow})
				if err != nil || !got {
					errs <- fmt.Errorf("%s = %v, %v", expr, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestObjectLiterals(t *testing.T) {
	v, err := mustCompile(t, "loyalty.PaidView{plan: 'svip'} == loyalty.PaidView{plan: 'svip', status: ''}", Bool).Eval(Input{})
	if err != nil || v.Result != true {
		t.Fatalf("object literal equality = %v, %v", v.Result, err)
	}
}

func TestJSONFieldsFollowEncodingJSON(t *testing.T) {
	// The member document's fields are exactly the keys of its JSON.
	m := sampleMember()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range jsonFields(reflect.TypeFor[loyalty.MemberDocument]()) {
		names = append(names, f.name)
		if _, ok := doc[f.name]; !ok {
			t.Errorf("field %s is not in the JSON document", f.name)
		}
	}
	if len(names) != len(doc) {
		t.Errorf("fields %v, JSON keys %d", names, len(doc))
	}

	type inner struct {
		A string `json:"a"`
		B string `json:"b"`
	}
	type other struct {
		B string `json:"b"`
	}
	type outer struct {
		inner
		*other
		A        string `json:"a"`
		Skip     string `json:"-"`
		Untagged int
		//lint:ignore U1000 encoding/json skips unexported fields, so jsonFields must
		hidden int
	}
	var got []string
	for _, f := range jsonFields(reflect.TypeFor[outer]()) {
		got = append(got, f.name)
	}
	// a: the shallower wins; b: two at the same depth, both tagged, hide
	// each other; Untagged keeps its Go name.
	if want := []string{"a", "Untagged"}; !reflect.DeepEqual(got, want) {
		t.Errorf("jsonFields(outer) = %v, want %v", got, want)
	}
}

func BenchmarkEvalCondition(b *testing.B) {
	m := sampleMember()
	b.Run("audience", func(b *testing.B) {
		p := mustCompile(b, "member.consent.email_marketing && member.tier in ['V2', 'V3', 'V4'] && member.points.available >= 100", Bool)
		in := Input{Member: m, Now: testNow}
		for b.Loop() {
			if ok, _, err := p.EvalBool(in); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("trigger", func(b *testing.B) {
		p := mustCompile(b, "event.data.amount >= 500 && member.paid.status != 'active'", Bool, "order.paid")
		in := Input{Member: m, Event: orderPaid("600.00"), Now: testNow}
		for b.Loop() {
			if ok, _, err := p.EvalBool(in); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("trigger-decoded", func(b *testing.B) {
		// The caller decoded the event once, as dispatch does before it
		// evaluates a journey's several conditions over it.
		p := mustCompile(b, "event.data.amount >= 500 && member.paid.status != 'active'", Bool, "order.paid")
		ev := orderPaid("600.00")
		data, err := ev.DecodeData()
		if err != nil {
			b.Fatal(err)
		}
		in := Input{Member: m, Event: ev, EventData: data, Now: testNow}
		for b.Loop() {
			if ok, _, err := p.EvalBool(in); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("whole-member", func(b *testing.B) {
		p := mustCompile(b, "member != loyalty.MemberDocument{}", Bool)
		in := Input{Member: m, Now: testNow}
		for b.Loop() {
			if ok, _, err := p.EvalBool(in); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}

// mapOrderCases iterate over maps, whose order CEL leaves undefined.
var mapOrderCases = []struct {
	expr string
	want []any
}{
	{"{'c': 1, 'a': 2, 'b': 3, 'e': 4, 'd': 5, 'g': 6, 'f': 7, 'i': 8, 'h': 9}.map(k, k)", []any{"a", "b", "c", "d", "e", "f", "g", "h", "i"}},
	{"event.data.map(k, k)", []any{"extra", "from", "score", "tags", "to", "weight"}},
	{"{3: 'x', 1: 'y', 2: 'z'}.filter(k, k > 1)", []any{int64(2), int64(3)}},
}

func TestMapComprehensionsAreOrdered(t *testing.T) {
	for _, tc := range mapOrderCases {
		t.Run(tc.expr, func(t *testing.T) {
			p := mustCompile(t, tc.expr, Any)
			for range 20 {
				v, err := p.Eval(Input{Event: customEvent()})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(v.Result, tc.want) {
					t.Fatalf("%s = %v, want %v", tc.expr, v.Result, tc.want)
				}
			}
		})
	}
}
