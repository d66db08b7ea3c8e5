package simulate

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/workflows"
)

func TestFireTimesOfAnInterval(t *testing.T) {
	from := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	got, err := fireTimes(client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}}, from, from.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{from.Add(30 * time.Minute), from.Add(90 * time.Minute), from.Add(150 * time.Minute)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("times = %v, want %v", got, want)
	}
}

// A broadcast on the 8th of every month at 10:00 fires where the 8th
// begins first (UTC+14): 20:00 UTC on the 7th.
func TestFireTimesOfABroadcast(t *testing.T) {
	spec, err := workflows.BroadcastSpec(journey.Broadcast{Every: journey.EveryMonth, Day: 8, At: "10:00"})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	got, err := fireTimes(spec, from, from.AddDate(0, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{
		time.Date(2026, 3, 7, 20, 0, 0, 0, time.UTC),
		time.Date(2026, 4, 7, 20, 0, 0, 0, time.UTC),
		time.Date(2026, 5, 7, 20, 0, 0, 0, time.UTC),
	}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("times = %v, want %v", got, want)
	}
	weekly, err := workflows.BroadcastSpec(journey.Broadcast{Every: journey.EveryWeek, Weekday: "monday", At: "09:30"})
	if err != nil {
		t.Fatal(err)
	}
	got, err = fireTimes(weekly, from, from.AddDate(0, 0, 14))
	if err != nil {
		t.Fatal(err)
	}
	// Mondays 09:30 at UTC+14 are Sundays 19:30 UTC.
	want = []time.Time{time.Date(2026, 3, 1, 19, 30, 0, 0, time.UTC), time.Date(2026, 3, 8, 19, 30, 0, 0, time.UTC)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("weekly times = %v, want %v", got, want)
	}
}

func TestJitterIsWithinItsSpecAndRepeats(t *testing.T) {
	nominal := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	seen := map[time.Duration]bool{}
	for i := range 50 {
		at := nominal.Add(time.Duration(i) * time.Hour)
		j := jitter(1, "scan/birthday", at, 5*time.Minute)
		if j < 0 || j >= 5*time.Minute || j != jitter(1, "scan/birthday", at, 5*time.Minute) {
			t.Fatalf("jitter %s for %s", j, at)
		}
		seen[j] = true
	}
	if len(seen) < 40 {
		t.Errorf("%d distinct jitters in 50 runs", len(seen))
	}
}

// The worker's schedules for the live set: the sweep, a scan per date or
// inactivity journey, nothing for event journeys.
func TestSchedulesAreTheWorkers(t *testing.T) {
	p := program(t)
	cfg := Config{Program: p, Journeys: shipped(t, p), Start: start, Days: 1, Behaviour: testBehaviour{}}
	w, err := newWorld(context.Background(), cfg, &sim{clock: newClock(start)})
	if err != nil {
		t.Fatal(err)
	}
	live, err := w.journeys.LiveSet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	scheds, err := schedules(context.Background(), live)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range scheds {
		ids = append(ids, o.ID)
	}
	want := []string{workflows.SweepScheduleID, "scan/birthday", "scan/tier_expiry", "scan/winback"}
	if !slices.Equal(ids, want) {
		t.Errorf("schedules = %v, want %v", ids, want)
	}
}
