package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
)

// genEvent is one generated member event.
type genEvent struct {
	env  events.Envelope
	data any
	day  int
}

var cst = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// genSequence makes a random but plausible life of one member over about
// two months: a registration, orders paid by card, stored value and points,
// full, partial and line-level refunds (some before their order), top-ups,
// interactions and a paid trial.
//
// With commuting set, money moves only by card: stored-value spends and
// point redemptions draw on balances, so their outcome depends on what was
// applied before them and same-day order legitimately matters.
func genSequence(r *rand.Rand, member string, commuting bool) []genEvent {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, cst) // March: the member's birthday month
	var evs []genEvent
	n := 0
	add := func(day int, typ events.Type, data any) {
		n++
		at := base.AddDate(0, 0, day).Add(time.Duration(r.IntN(24*60)) * time.Minute)
		evs = append(evs, genEvent{env: events.Envelope{ID: fmt.Sprintf("%s-e%03d", member, n), Version: 1, Type: typ, OccurredAt: at, MemberID: member}, data: data, day: day})
	}
	money := func(max int) decimal.Decimal { return decimal.New(int64(r.IntN(max*100)+100), -2) }
	add(0, events.MemberRegistered, &events.MemberRegisteredData{Email: member + "@example.com", Name: "P", Birthday: &events.Date{Year: 1990, Month: time.March, Day: 20}, Consent: events.Consent{EmailMarketing: true}})
	var orders []*events.OrderPaidData
	for range 8 + r.IntN(25) {
		day := 1 + r.IntN(45)
		switch k := r.IntN(10); {
		case k < 4:
			amount := money(1500)
			d := &events.OrderPaidData{OrderID: fmt.Sprintf("o%d", len(orders)), Amount: amount, Currency: "CNY"}
			half := amount.Div(decimal.NewFromInt(2)).Round(2)
			d.Lines = []events.OrderLine{{SKU: "A", Quantity: 1, Amount: half}, {SKU: "B", Quantity: 1, Amount: amount.Sub(half)}}
			pay := r.IntN(4)
			if commuting {
				pay = 3
			}
			switch pay {
			case 0:
				d.Payments = []events.Payment{{Method: events.PaymentStoredValue, Amount: amount}}
			case 1:
				pts := 10 + r.IntN(30)
				d.PointsRedeemed = pts
				d.Payments = []events.Payment{{Method: events.PaymentCard, Amount: amount.Sub(decimal.NewFromInt(int64(pts)))}, {Method: events.PaymentPoints, Amount: decimal.NewFromInt(int64(pts))}}
			default:
				d.Payments = []events.Payment{{Method: events.PaymentCard, Amount: amount}}
			}
			orders = append(orders, d)
			add(day, events.OrderPaid, d)
		case k < 6 && len(orders) > 0:
			o := orders[r.IntN(len(orders))]
			rf := &events.OrderRefundedData{OrderID: o.OrderID, RefundID: fmt.Sprintf("r%d", n), Currency: "CNY"}
			switch r.IntN(3) {
			case 0:
				rf.Amount = o.Amount
			case 1:
				rf.Amount = o.Lines[1].Amount
				rf.Lines = []events.OrderLine{o.Lines[1]}
			default:
				rf.Amount = o.Amount.Div(decimal.NewFromInt(3)).Round(2)
			}
			add(day, events.OrderRefunded, rf)
		case k < 7 && !commuting:
			add(day, events.WalletToppedUp, &events.WalletToppedUpData{TopupID: fmt.Sprintf("t%d", n), Amount: money(6000), Currency: "CNY"})
		case k < 8:
			add(day, events.MemberCheckedIn, &events.MemberCheckedInData{})
		case k < 9:
			add(day, events.ReviewPosted, &events.ReviewPostedData{ReviewID: fmt.Sprint(n), Rating: 5})
		default:
			add(day, events.SubscriptionTrialStarted, &events.SubscriptionTrialStartedData{SubscriptionID: "s", Plan: "svip", Price: decimal.RequireFromString("9.9"), Currency: "CNY", TrialEndsAt: base.AddDate(0, 0, day+30)})
		}
	}
	slices.SortStableFunc(evs, func(a, b genEvent) int { return a.env.OccurredAt.Compare(b.env.OccurredAt) })
	return evs
}

// deliver turns a time-ordered sequence into what a stream might deliver:
// events of the same day shuffled, and some delivered twice (immediately or
// later that day).
func deliver(r *rand.Rand, evs []genEvent) []genEvent {
	out := slices.Clone(evs)
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && out[j].day == out[i].day {
			j++
		}
		r.Shuffle(j-i, func(a, b int) { out[i+a], out[i+b] = out[i+b], out[i+a] })
		i = j
	}
	for range len(out) / 4 {
		k := r.IntN(len(out))
		dup := out[k]
		// Redeliver within the same day's run.
		pos := k + 1 + r.IntN(len(out)-k)
		for pos < len(out) && out[pos-1].day != dup.day {
			pos--
		}
		out = slices.Insert(out, pos, dup)
	}
	return out
}

// scramble is what stream records of different items may do: any order at
// all (orders before the registration, refunds before and between their
// orders, a week's events backwards), and 30% delivered twice, anywhere.
func scramble(r *rand.Rand, evs []genEvent) []genEvent {
	out := slices.Clone(evs)
	r.Shuffle(len(out), func(a, b int) { out[a], out[b] = out[b], out[a] })
	for range len(evs) * 3 / 10 {
		dup := evs[r.IntN(len(evs))]
		out = slices.Insert(out, r.IntN(len(out)+1), dup)
	}
	return out
}

func newService(t testing.TB, st store.Store) *ledger.Service {
	t.Helper()
	return ledgerfix.Service(t, st)
}

// run applies the deliveries like dispatch: projection first, then the
// ledger, each once per event id. The clock follows the events.
func run(t *testing.T, st *memstore.Store, svc *ledger.Service, evs []genEvent) {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	for _, ev := range evs {
		var before loyalty.Account
		if seen[ev.env.ID] {
			before, _ = st.GetAccount(ctx, ev.env.MemberID)
		}
		m, err := st.GetMember(ctx, ev.env.MemberID)
		if err != nil {
			m = loyalty.Member{ID: ev.env.MemberID}
		}
		if next, changed := loyalty.Project(m, ev.env, ev.data); changed {
			next.Version = m.Version + 1
			if err := st.SaveMember(ctx, next, ev.env.ID); err != nil && !isDuplicate(err) {
				t.Fatalf("project %s: %v", ev.env.ID, err)
			}
		}
		if err := svc.ApplyEvent(ctx, ev.env, ev.data); err != nil {
			t.Fatalf("apply %s: %v", ev.env.ID, err)
		}
		if seen[ev.env.ID] {
			after, _ := st.GetAccount(ctx, ev.env.MemberID)
			if after.Version != before.Version {
				t.Fatalf("redelivered %s changed the account (version %d → %d)", ev.env.ID, before.Version, after.Version)
			}
		}
		seen[ev.env.ID] = true
		checkBalances(t, st, svc, ev.env.MemberID)
	}
}

func isDuplicate(err error) bool { return errors.Is(err, store.ErrDuplicate) }

// checkBalances: the account's balances equal the sum of every entry and
// none is negative.
func checkBalances(t *testing.T, st *memstore.Store, svc *ledger.Service, id string) {
	t.Helper()
	ctx := context.Background()
	a, err := st.GetAccount(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	es, err := svc.Entries(ctx, id, 1_000_000, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := a.Balances()
	if sum := loyalty.SumEntries(es); !sum.Equal(b) {
		t.Fatalf("balances %+v != sum of %d entries %+v", b, len(es), sum)
	}
	if b.Pending < 0 || b.Available < 0 || b.Principal.IsNegative() || b.Bonus.IsNegative() {
		t.Fatalf("negative balance %+v", b)
	}
	keys := map[string]bool{}
	for _, e := range es {
		if keys[e.Key] {
			t.Fatalf("two entries with idempotency key %s", e.Key)
		}
		keys[e.Key] = true
	}
}

// stored is what an account holds that a twin delivered in time order
// must hold too.
type stored struct {
	Tier, ReviewOn, TierSince string
	Balances                  string
	Coupons                   string
	Orders                    int
}

func storedOf(t *testing.T, st *memstore.Store, id string) stored {
	t.Helper()
	a, err := st.GetAccount(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b := a.Balances()
	var cs []string
	for _, c := range a.Coupons {
		cs = append(cs, fmt.Sprintf("%s/%s/used=%v", c.Kind, c.Key, c.Used()))
	}
	slices.Sort(cs)
	return stored{Tier: a.Tier, ReviewOn: a.ReviewAt.In(cst).Format(time.DateOnly), TierSince: a.TierSince.In(cst).Format(time.DateOnly),
		Balances: fmt.Sprintf("%d/%d/%s/%s/%d", b.Pending, b.Available, b.Principal, b.Bonus, a.Shortfall),
		Coupons:  fmt.Sprint(cs), Orders: len(a.Orders)}
}

type standing struct {
	Tier                 string
	Pending, Available   int64
	Shortfall            int64
	Principal, Bonus     string
	Counted              string
	Coupons, UsedCoupons int
	Paid                 string
}

func standingOf(t *testing.T, st *memstore.Store, svc *ledger.Service, id string, now time.Time) standing {
	t.Helper()
	m, err := st.GetMember(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.GetAccount(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	v := svc.Rules.View(a, m, now)
	s := standing{Tier: v.Tier, Pending: v.Points.Pending, Available: v.Points.Available, Shortfall: v.Points.Shortfall,
		Principal: v.StoredValue.Principal.String(), Bonus: v.StoredValue.Bonus.String(), Counted: v.Growth.Counted.String()}
	for _, c := range v.Coupons {
		s.Coupons++
		if c.Used {
			s.UsedCoupons++
		}
	}
	if v.Paid != nil {
		s.Paid = string(v.Paid.Status)
	}
	return s
}

func TestPropertyLedger(t *testing.T) {
	runs := 150
	if testing.Short() {
		runs = 30
	}
	for i := range runs {
		seed := uint64(i + 1)
		commuting := i%2 == 0
		t.Run(fmt.Sprintf("seed=%d/commuting=%v", seed, commuting), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			seq := genSequence(r, "p", commuting)
			end := time.Date(2026, 6, 1, 0, 0, 0, 0, cst)

			// In time order, once each.
			st1 := memstore.New()
			svc1 := newService(t, st1)
			run(t, st1, svc1, seq)
			want := standingOf(t, st1, svc1, "p", end)

			// Shuffled within days, with duplicates: the invariants hold
			// after every delivery and no duplicate changes anything (run
			// checks both), and the outcome is the one of time order —
			// stored-value spends and redemptions included, which do not
			// commute.
			st2 := memstore.New()
			svc2 := newService(t, st2)
			run(t, st2, svc2, deliver(r, seq))
			got := standingOf(t, st2, svc2, "p", end)
			if got != want {
				t.Fatalf("reordered within days and duplicated:\n got %+v\nwant %+v", got, want)
			}

			// In any order at all, with 30% duplicates: still the outcome
			// of time order, down to the tier review day and the stored
			// balances.
			st3 := memstore.New()
			svc3 := newService(t, st3)
			run(t, st3, svc3, scramble(r, seq))
			if got := standingOf(t, st3, svc3, "p", end); got != want {
				t.Fatalf("scrambled and duplicated:\n got %+v\nwant %+v", got, want)
			}
			if got, want := storedOf(t, st3, "p"), storedOf(t, st1, "p"); got != want {
				t.Fatalf("scrambled: stored account differs:\n got %+v\nwant %+v", got, want)
			}

			// Replaying everything again changes nothing at all.
			before, _ := st2.GetAccount(context.Background(), "p")
			n, _ := svc2.Entries(context.Background(), "p", 1_000_000, 0)
			run(t, st2, svc2, seq)
			after, _ := st2.GetAccount(context.Background(), "p")
			m, _ := svc2.Entries(context.Background(), "p", 1_000_000, 0)
			if after.Version != before.Version || len(m) != len(n) {
				t.Fatalf("replay changed the account: version %d → %d, entries %d → %d", before.Version, after.Version, len(n), len(m))
			}

			// The sweep persists what time did; balances still add up and
			// the standing is what reads showed before it.
			svc2.Now = func() time.Time { return end }
			if _, err := svc2.Sweep(context.Background(), "p"); err != nil {
				t.Fatal(err)
			}
			checkBalances(t, st2, svc2, "p")
			if swept := standingOf(t, st2, svc2, "p", end); swept != got {
				t.Fatalf("after the sweep:\n got %+v\nwant %+v", swept, got)
			}
		})
	}
}
