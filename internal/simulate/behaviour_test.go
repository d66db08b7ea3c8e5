package simulate

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
)

// testBehaviour is a small deterministic behaviour for the driver's own
// tests (the behaviour model proper is cohort.go's): each member
// registers, orders a few times, one in eight starts a paid trial (half
// of them convert), and emails are opened, clicked and ordered from by a
// hash of the member and the email.
type testBehaviour struct{ seed int64 }

func (b testBehaviour) rng(parts ...string) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprint(h, b.seed)
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return rand.New(rand.NewPCG(h.Sum64(), uint64(b.seed)))
}

func (b testBehaviour) Plan(m Member, from, to time.Time) []events.Envelope {
	rng := b.rng(m.ID)
	var out []events.Envelope
	add := func(env events.Envelope) {
		if !env.OccurredAt.Before(from) && env.OccurredAt.Before(to) {
			out = append(out, env)
		}
	}
	add(registered(m))
	at := m.Registered
	for i := range rng.IntN(5) {
		at = at.Add(time.Duration(1+rng.IntN(90*24)) * time.Hour)
		add(order(m.ID, fmt.Sprintf("%s-o%d", m.ID, i), at, 50+rng.IntN(900)))
	}
	if rng.IntN(8) == 0 {
		start := m.Registered.Add(time.Duration(2+rng.IntN(20)) * 24 * time.Hour)
		ends := start.Add(30 * 24 * time.Hour)
		sub := m.ID + "-sub"
		add(envelope(m.ID, m.ID+"-trial", events.SubscriptionTrialStarted, start, map[string]any{
			"subscription_id": sub, "plan": "svip", "price": "9.9", "currency": "CNY", "trial_ends_at": ends}))
		switch rng.IntN(3) {
		case 0:
			add(envelope(m.ID, m.ID+"-conv", events.SubscriptionConverted, ends.Add(-time.Hour), map[string]any{
				"subscription_id": sub, "plan": "svip", "price": "199", "currency": "CNY", "period_ends_at": ends.AddDate(1, 0, 0)}))
		case 1:
			add(envelope(m.ID, m.ID+"-cancel", events.SubscriptionCancelled, start.Add(10*24*time.Hour), map[string]any{
				"subscription_id": sub, "plan": "svip"}))
		}
	}
	slices.SortStableFunc(out, func(a, b events.Envelope) int { return a.OccurredAt.Compare(b.OccurredAt) })
	return out
}

func (b testBehaviour) OnEmail(m Member, e Email) Reaction {
	rng := b.rng(m.ID, e.Key)
	var r Reaction
	r.Opened = rng.IntN(100) < 45
	r.Clicked = r.Opened && rng.IntN(100) < 25
	if r.Clicked && rng.IntN(100) < 30 {
		r.Events = append(r.Events, order(m.ID, "r-"+strings.ReplaceAll(e.Key, "#", ":"), e.At.Add(time.Duration(1+rng.IntN(48))*time.Hour), 80+rng.IntN(400)))
	}
	return r
}

func envelope(member, id string, typ events.Type, at time.Time, data map[string]any) events.Envelope {
	raw, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return events.Envelope{ID: id, Version: 1, Type: typ, OccurredAt: at, MemberID: member, Data: raw}
}

func registered(m Member) events.Envelope {
	data := map[string]any{"email": m.Email, "name": "Member " + m.ID, "consent": map[string]any{"email_marketing": m.Consent}}
	if m.Birthday != "" {
		data["birthday"] = m.Birthday
	}
	if m.Timezone != "" {
		data["timezone"] = m.Timezone
	}
	return envelope(m.ID, m.ID+"-reg", events.MemberRegistered, m.Registered, data)
}

func order(member, id string, at time.Time, yuan int) events.Envelope {
	amount := fmt.Sprintf("%d.00", yuan)
	return envelope(member, id, events.OrderPaid, at, map[string]any{
		"order_id": id, "amount": amount, "currency": "CNY",
		"lines":    []map[string]any{{"sku": "TEA-1", "category": "tea", "quantity": 1, "amount": amount}},
		"payments": []map[string]any{{"method": "card", "amount": amount}},
	})
}

// testCohort is n members registering over the first regDays days from
// start, with birthdays, zones and consent spread by seed.
func testCohort(n int, start time.Time, regDays int, seed int64) []Member {
	zones := []string{"Asia/Shanghai", "Asia/Shanghai", "Europe/London", "America/New_York", ""}
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	out := make([]Member, n)
	for i := range out {
		id := fmt.Sprintf("m-%05d", i+1)
		bday := time.Date(1970+rng.IntN(35), time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(365))
		out[i] = Member{ID: id, Registered: start.Add(time.Duration(rng.IntN(regDays*24*60)) * time.Minute),
			Birthday: bday.Format(time.DateOnly), Timezone: zones[rng.IntN(len(zones))], Consent: rng.IntN(10) < 8,
			Email: id + "@example.com"}
	}
	return out
}

// program is the shipped programme.
func program(t testing.TB) *loyalty.Program {
	t.Helper()
	p, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// shipped parses the shipped journeys named, examples included (all
// five lifecycles when none is), validated as publishing validates them.
func shipped(t testing.TB, p *loyalty.Program, names ...string) []journey.Definition {
	t.Helper()
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	svc, _, err := journeys.New(memstore.New(), p, catalog)
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(templates.Journeys, "journeys/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > 0 {
		// The examples too, when asked for by name.
		examples, err := fs.Glob(templates.Journeys, "journeys/examples/*.yaml")
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, examples...)
	}
	var out []journey.Definition
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".yaml")
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		src, err := fs.ReadFile(templates.Journeys, f)
		if err != nil {
			t.Fatal(err)
		}
		def, err := svc.Validate(src)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, def)
	}
	return out
}
