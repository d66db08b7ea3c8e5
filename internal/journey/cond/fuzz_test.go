package cond

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/testenv/fuzzseed"
)

// FuzzConditions compiles any expression and evaluates what compiles over
// a member, an event and a time made from the fuzz bytes. Compile refuses
// with an *Error that has a position; evaluation never panics, a condition
// gives a bool or an error, evaluating twice gives the same answer, and
// the converted activation (only the parts of the member and event the
// program reads) gives the answer the whole document gives.
func FuzzConditions(f *testing.F) {
	env := mustEnv(f)
	f.Fuzz(func(t *testing.T, expr string, data []byte) {
		kind, eventTypes, in := fuzzInput(data)
		p, err := env.Compile(expr, kind, eventTypes)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Compile error %v is a %T, want *Error", err, err)
			}
			if ce.Line() < 1 || ce.Column() < 1 || ce.Message == "" {
				t.Fatalf("Compile error at line %d, column %d: %q", ce.Line(), ce.Column(), ce.Message)
			}
			return
		}
		if again, err := env.Compile(expr, kind, eventTypes); err != nil || again != p {
			t.Fatalf("a second Compile gave %p, %v; want the cached %p", again, err, p)
		}
		v, err := p.Eval(in)
		v2, err2 := p.Eval(in)
		if got, want := outcome(v2, err2), outcome(v, err); got != want {
			t.Fatalf("evaluated twice: %s, then %s", want, got)
		}
		if kind == Bool && err == nil {
			if _, ok := v.Result.(bool); !ok {
				t.Fatalf("condition gave %#v, not a bool", v.Result)
			}
		}
		if err == nil {
			full, ferr := evalWhole(p, in)
			if ferr != nil || fmt.Sprint(full) != fmt.Sprint(v.Result) {
				t.Fatalf("over the whole document: %v, %v; over what it reads: %v", full, ferr, v.Result)
			}
		}
	})
}

// outcome is an evaluation's result, reads and error as text.
func outcome(v Value, err error) string {
	return fmt.Sprintf("%v %v %v", v.Result, v.Read, err)
}

// evalWhole evaluates p over the whole member and event, not only the
// parts it reads.
func evalWhole(p *Program, in Input) (any, error) {
	act := map[string]any{
		varMember: p.env.member.encode(reflect.ValueOf(in.Member)),
		varNow:    timestamp(in.Now),
	}
	if p.event != nil {
		ev, err := p.env.event(&in, p.eventType, &need{all: true})
		if err != nil {
			return nil, err
		}
		act[varEvent] = ev
	}
	out, _, err := p.prg.Eval(act)
	if err != nil {
		return nil, err
	}
	return native(out)
}

// fuzzVariants are the event types an expression may be compiled for.
var fuzzVariants = [][]string{nil, {"order.paid"}, {"order.paid", "order.refunded"}, {"member.segment_changed"}, {"subscription.cancelled"}}

// samples are events.Sample of every type, parsed.
var samples = sync.OnceValue(func() map[events.Type]events.Envelope {
	out := map[events.Type]events.Envelope{}
	for _, t := range events.Types() {
		b, err := events.Sample(t)
		if err != nil {
			panic(err)
		}
		envs, err := events.ParseBatch(b)
		if err != nil {
			panic(err)
		}
		out[t] = envs[0]
	}
	return out
})

// byteSource hands out fuzz bytes, zeros once they run out.
type byteSource []byte

func (s *byteSource) next() byte {
	if len(*s) == 0 {
		return 0
	}
	b := (*s)[0]
	*s = (*s)[1:]
	return b
}

func (s *byteSource) pick(n int) int { return int(s.next()) % n }
func (s *byteSource) yes() bool      { return s.next()&1 == 1 }
func (s *byteSource) int64() int64   { return int64(int16(uint16(s.next())<<8 | uint16(s.next()))) }
func (s *byteSource) days() time.Duration {
	return time.Duration(int8(s.next())) * 24 * time.Hour
}

// amount is a money amount of up to 2 decimals, sometimes negative.
func (s *byteSource) amount() decimal.Decimal { return decimal.New(s.int64(), -int32(s.pick(3))) }

// fuzzInput makes the kind, event types and input of one run. Byte 0: bit
// 0 the kind, the rest the event types (fuzzVariants); byte 1: the time,
// in days from testNow; byte 2: the event (none, order.paid,
// member.segment_changed, a sample of another type); then the member,
// field by field.
func fuzzInput(data []byte) (Kind, []string, Input) {
	s := byteSource(data)
	flags := s.next()
	kind := Bool
	if flags&1 == 1 {
		kind = Any
	}
	eventTypes := fuzzVariants[int(flags>>1)%len(fuzzVariants)]
	now := testNow.Add(s.days())

	var in Input
	switch s.pick(4) {
	case 1:
		in.Event = orderPaid(s.amount().StringFixed(2))
	case 2:
		in.Event = segmentChanged()
	case 3:
		ts := events.Types()
		e := samples()[ts[s.pick(len(ts))]]
		in.Event = &e
	}

	var m loyalty.MemberDocument
	m.ID = fmt.Sprintf("m-%d", s.next())
	m.Consent.EmailMarketing = s.yes()
	if s.yes() {
		m.Consent.UnsubscribedGroups = []string{"winback"}
	}
	m.Tier = []string{"", "V1", "V2", "V3", "V4"}[s.pick(5)]
	m.Points.Available = s.int64()
	m.Points.Pending = int64(s.next())
	if s.yes() {
		m.Points.ExpiringNext = &loyalty.ExpiringView{Amount: int64(s.next()), At: now.Add(s.days())}
	}
	if s.yes() {
		statuses := []loyalty.PaidStatus{loyalty.PaidTrial, loyalty.PaidActive, loyalty.PaidCancelled, loyalty.PaidLapsed}
		m.Paid = &loyalty.PaidView{Plan: "svip-monthly", Status: statuses[s.pick(len(statuses))], Trial: s.yes(), EndsAt: now.Add(s.days())}
	}
	for range s.pick(4) {
		m.Coupons = append(m.Coupons, loyalty.CouponView{
			Code: fmt.Sprintf("C-%d", s.next()), Kind: []string{"C15", "FREE25", "BIRTHDAY"}[s.pick(3)],
			ExpiresAt: now.Add(s.days()), Used: s.yes(),
		})
	}
	m.Growth.Counted = s.amount()
	m.Growth.Spend = s.amount()
	m.StoredValue = loyalty.StoredValueView{Currency: "CNY", Principal: s.amount()}
	if s.yes() {
		m.Boosts = []loyalty.BoostView{{Multiplier: decimal.NewFromInt(int64(s.pick(4))), Until: now.Add(s.days())}}
	}
	if s.yes() {
		d := now.Add(s.days()).Format(time.DateOnly)
		m.TierReviewOn = &d
	}
	if s.yes() {
		m.Birthday = fmt.Sprintf("19%02d-%02d-%02d", s.pick(100), 1+s.pick(12), 1+s.pick(28))
	}
	if s.yes() {
		m.RegisteredAt = now.Add(s.days() * 4)
	}
	m.OrderCount = s.pick(20)
	for range s.pick(3) {
		m.Enrollments = append(m.Enrollments, loyalty.Enrollment{MemberID: m.ID, Journey: "winback", Number: s.pick(5) + 1, Status: loyalty.EnrollmentActive})
	}
	in.Member = m
	in.Now = now
	return kind, eventTypes, in
}

// seedData is the fuzz bytes for kind, the event types fuzzVariants[v],
// event choice ev and a member varied by n, at testNow.
func seedData(kind Kind, v, ev, n int) []byte {
	flags := byte(v << 1)
	if kind == Any {
		flags |= 1
	}
	b := []byte{flags, 0, byte(ev)}
	x := uint32(n)*2654435761 + 1
	for range 40 {
		x = x*1664525 + 1013904223
		b = append(b, byte(x>>24))
	}
	return b
}

// variantOf returns the fuzzVariants index of eventTypes.
func variantOf(t testing.TB, eventTypes []string) int {
	for i, v := range fuzzVariants {
		if reflect.DeepEqual(v, eventTypes) {
			return i
		}
	}
	if len(eventTypes) == 1 {
		return 0 // another single type: the generic envelope will do for a seed
	}
	t.Fatalf("no fuzz variant for %v", eventTypes)
	return 0
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzConditions equal to the
// expressions the tests compile, each with fuzz bytes that make a member
// and the event it reads. go test ./internal/journey/cond -run
// TestFuzzSeeds -update-seeds rewrites it.
func TestFuzzSeeds(t *testing.T) {
	var seeds []fuzzseed.Seed
	add := func(name, expr string, data []byte) { seeds = append(seeds, fuzzseed.New(name, expr, data)) }
	const noEvent, orderEvent, segmentEvent = 0, 1, 2
	for i, tc := range typeCases {
		add(fmt.Sprintf("type-%02d", i), tc.expr, seedData(Any, variantOf(t, tc.events), orderEvent, i))
	}
	for i, tc := range compileErrorCases {
		add(fmt.Sprintf("error-%02d", i), tc.expr, seedData(tc.kind, variantOf(t, tc.events), noEvent, i))
	}
	for i, tc := range absentCases {
		add(fmt.Sprintf("absent-%02d", i), tc.expr, seedData(Bool, 0, noEvent, i))
	}
	for i, tc := range moneyCases {
		add(fmt.Sprintf("money-%02d", i), tc.expr, seedData(Bool, 1, orderEvent, i))
	}
	for i, tc := range timeCases {
		add(fmt.Sprintf("time-%02d", i), tc.expr, seedData(Bool, 0, orderEvent, i))
	}
	for i, tc := range lifecycleCases {
		ev := orderEvent
		if variantOf(t, tc.events) != 1 {
			ev = segmentEvent
		}
		add(fmt.Sprintf("lifecycle-%02d", i), tc.expr, seedData(Bool, variantOf(t, tc.events), ev, i))
	}
	for i, tc := range mapOrderCases {
		add(fmt.Sprintf("map-order-%02d", i), tc.expr, seedData(Any, 0, segmentEvent, i))
	}
	add("pathological", pathologicalCondition, seedData(Bool, 0, noEvent, 0))
	fuzzseed.Check(t, "FuzzConditions", seeds)
}

// TestFuzzInputVaries guards the generator: the seeds' bytes make members
// that differ in what conditions read.
func TestFuzzInputVaries(t *testing.T) {
	seen := map[string]bool{}
	for n := range 40 {
		_, _, in := fuzzInput(seedData(Bool, 1, 1, n))
		b, err := json.Marshal(struct {
			Paid    *loyalty.PaidView
			Tier    string
			Consent bool
			Coupons int
		}{in.Member.Paid, in.Member.Tier, in.Member.Consent.EmailMarketing, len(in.Member.Coupons)})
		if err != nil {
			t.Fatal(err)
		}
		seen[string(b)] = true
	}
	if len(seen) < 20 {
		t.Errorf("40 seeds made %d different members", len(seen))
	}
}
