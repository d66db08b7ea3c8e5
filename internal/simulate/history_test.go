package simulate

import (
	"context"
	"testing"

	"github.com/memberflow/memberflow/internal/journey"
)

// Members registered before the simulation have their registration date
// filed as dispatch files it, so a journey on the anniversary of the
// registration finds those whose first anniversary falls in the simulated
// year (nobody registered during it has one by its end).
func TestHistoryFilesRegistrationDates(t *testing.T) {
	p := program(t)
	checks, err := Checks(p)
	if err != nil {
		t.Fatal(err)
	}
	def, err := journey.Decode([]byte(`
name: anniversary
trigger:
  date: { attribute: registered_at, offset: 365d }
steps:
  - id: thanks
    send: { email: activation_nudge }
`), checks)
	if err != nil {
		t.Fatal(err)
	}
	const days = 365
	members := Generate(300, 2, simStart, days, p)
	var due int
	for _, m := range members {
		if a := m.Registered.AddDate(0, 0, 365); !a.Before(simStart) && a.Before(simStart.AddDate(0, 0, days-1)) {
			due++
		}
	}
	if due == 0 {
		t.Fatal("no generated member has an anniversary in the simulated year; the test proves nothing")
	}
	r, _, err := Simulate(context.Background(), Request{Program: p, Journeys: []journey.Definition{def}, Cohort: members,
		Start: simStart, Days: days, Seed: 2, Behaviour: DefaultBehaviour()})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Totals.Enrolled; got == 0 || got > due+1 {
		t.Errorf("anniversary enrolled %d members, want the %d registered a year or less before the start", got, due)
	}
}
