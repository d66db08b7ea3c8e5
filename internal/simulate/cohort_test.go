package simulate

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

var simStart = time.Date(2027, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))

func TestGenerateIsDeterministicPerMember(t *testing.T) {
	p := program(t)
	a := Generate(200, 7, simStart, 365, p)
	if b := Generate(200, 7, simStart, 365, p); !reflect.DeepEqual(a, b) {
		t.Fatal("two cohorts of one seed differ")
	}
	// Member i depends on the seed and i alone: a smaller cohort is the
	// larger one's beginning.
	if small := Generate(50, 7, simStart, 365, p); !reflect.DeepEqual(small, a[:50]) {
		t.Error("the first 50 of 200 members differ from a cohort of 50")
	}
	other := Generate(200, 8, simStart, 365, p)
	same := 0
	for i := range a {
		if a[i].Registered.Equal(other[i].Registered) {
			same++
		}
	}
	if same > 2 {
		t.Errorf("seeds 7 and 8 gave %d of 200 members the same registration", same)
	}
}

func TestGenerateShape(t *testing.T) {
	p := program(t)
	const n, days = 8000, 365
	ms := Generate(n, 1, simStart, days, p)
	end := simStart.AddDate(0, 0, days)
	var existing, birthday, consent, shanghai, newNight int
	tiers := map[string]int{}
	ids := map[string]bool{}
	for _, m := range ms {
		if ids[m.ID] || ids[m.Email] {
			t.Fatalf("id or address of %s repeats", m.ID)
		}
		ids[m.ID], ids[m.Email] = true, true
		if m.Registered.Before(simStart) {
			existing++
			if m.Registered.Before(simStart.AddDate(-ExistingYears, 0, 0)) {
				t.Errorf("%s registered %s, more than %d years before the start", m.ID, m.Registered, ExistingYears)
			}
			tiers[m.Tier]++
		} else {
			if !m.Registered.Before(end) {
				t.Errorf("%s registered %s, after the simulated days", m.ID, m.Registered)
			}
			if m.Tier != "" {
				t.Errorf("new member %s starts in tier %q", m.ID, m.Tier)
			}
			loc := p.Location
			if m.Timezone != "" {
				loc, _ = time.LoadLocation(m.Timezone)
			}
			if h := m.Registered.In(loc).Hour(); h < 6 {
				newNight++
			}
		}
		if m.Birthday != "" {
			birthday++
			b, err := time.Parse(time.DateOnly, m.Birthday)
			if err != nil {
				t.Fatalf("%s: birthday %q: %v", m.ID, m.Birthday, err)
			}
			if age := simStart.Year() - b.Year(); age < 18 || age > 65 {
				t.Errorf("%s is %d", m.ID, age)
			}
		}
		if m.Consent {
			consent++
		}
		if m.Timezone == "Asia/Shanghai" {
			shanghai++
		}
		if m.Timezone != "" {
			if _, err := time.LoadLocation(m.Timezone); err != nil {
				t.Errorf("%s: %v", m.ID, err)
			}
		}
	}
	share := func(name string, got int, of int, want, tol float64) {
		t.Helper()
		if f := float64(got) / float64(of); math.Abs(f-want) > tol {
			t.Errorf("%s: %.3f, want %.3f ± %.3f", name, f, want, tol)
		}
	}
	share("registered before the start", existing, n, ExistingShare, 0.02)
	share("with a birthday", birthday, n, BirthdayShare, 0.015)
	share("consenting", consent, n, ConsentShare, 0.015)
	share("in Asia/Shanghai", shanghai, n, 0.70, 0.02)
	// Four tiers at a ratio of 0.4: 1/(1+.4+.16+.064) = 61.6% in V1.
	share("existing members in V1", tiers["V1"], existing, 1/1.624, 0.02)
	share("existing members in V4", tiers["V4"], existing, 0.064/1.624, 0.01)
	// RegistrationHours puts 6 of 151 parts in 00–05.
	share("new members registering 00–05 local", newNight, n-existing, 6.0/151, 0.012)
}

func TestReadCohortCSV(t *testing.T) {
	p := program(t)
	src := "member_id,registered,birthday,timezone,tier,consent,email\n" +
		"c-1,2026-03-01T09:30:00+08:00,1990-06-15,Asia/Shanghai,V2,true,lin@example.com\n" +
		"c-2,2026-12-31,,,,no,\n"
	ms, err := ReadCohortCSV(strings.NewReader(src), p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{
		{ID: "c-1", Registered: time.Date(2026, 3, 1, 1, 30, 0, 0, time.UTC), Birthday: "1990-06-15", Timezone: "Asia/Shanghai", Tier: "V2", Consent: true, Email: "lin@example.com"},
		{ID: "c-2", Registered: time.Date(2026, 12, 30, 16, 0, 0, 0, time.UTC), Email: EmailOf("c-2")},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("got  %+v\nwant %+v", ms, want)
	}
	// Columns in another order, email left out.
	ms, err = ReadCohortCSV(strings.NewReader("consent,tier,timezone,birthday,registered,member_id\n1,,,,2026-01-01,x\n"), p)
	if err != nil || len(ms) != 1 || ms[0].ID != "x" || !ms[0].Consent {
		t.Errorf("reordered columns: %+v, %v", ms, err)
	}
}

func TestReadCohortCSVErrors(t *testing.T) {
	p := program(t)
	const head = "member_id,registered,birthday,timezone,tier,consent\n"
	for _, tc := range []struct {
		name, src string
		line      int
		column    string
		rule      string
	}{
		{"empty", "", 1, "", "header line"},
		{"unknown column", "member_id,registered,birthday,timezone,tier,consent,phone\n", 1, "phone", "unknown column"},
		{"missing column", "member_id,registered,birthday,timezone,tier\n", 1, "consent", "missing"},
		{"no rows", head, 2, "", "no members"},
		{"bad id", head + "a#b,2026-01-01,,,,true\n", 2, "member_id", "A-Z"},
		{"bad registered", head + "a,yesterday,,,,true\n", 2, "registered", "RFC 3339"},
		{"bad birthday", head + "a,2026-01-01,1990-02-30,,,true\n", 2, "birthday", "YYYY-MM-DD"},
		{"bad zone", head + "a,2026-01-01,,Mars/Olympus,,true\n", 2, "timezone", "IANA"},
		{"bad tier", head + "a,2026-01-01,,,V9,true\n", 2, "tier", "V1, V2, V3, V4"},
		{"bad consent", head + "a,2026-01-01,,,,maybe\n", 2, "consent", "true or false"},
		{"short row", head + "a,2026-01-01,,,,true\nb,2026-01-01\n", 3, "", "2 fields"},
		{"duplicate", head + "a,2026-01-01,,,,true\na,2026-01-02,,,,true\n", 3, "member_id", "already on line 2"},
		{"bad email", "member_id,registered,birthday,timezone,tier,consent,email\na,2026-01-01,,,,true,nobody\n", 2, "email", "email address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCohortCSV(strings.NewReader(tc.src), p)
			var ce *CohortError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CohortError", err)
			}
			if ce.Line != tc.line || ce.Column != tc.column || !strings.Contains(ce.Rule, tc.rule) {
				t.Errorf("got line %d column %q rule %q; want line %d column %q rule with %q", ce.Line, ce.Column, ce.Rule, tc.line, tc.column, tc.rule)
			}
		})
	}
}
