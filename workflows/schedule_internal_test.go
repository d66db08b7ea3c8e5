package workflows

import (
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	journey "github.com/memberflow/memberflow/internal/journey/v1"
)

// An edited definition keeps the previous one scanning for the open
// enrollments pinned to it; an unchanged one adds nothing.
func TestScheduleUpdateKeepsRetiredDefinitions(t *testing.T) {
	v1 := journey.Definition{Name: journey.Winback, Version: 1, Enabled: true, Steps: []journey.Step{{Name: "d60", After: journey.Duration(60 * 24 * time.Hour), Email: "winback_miss_you"}}}
	v2 := v1
	v2.Version = 2
	v2.Steps = []journey.Step{{Name: "d45", After: journey.Duration(45 * 24 * time.Hour), Email: "winback_miss_you"}}

	payload, err := converter.GetDefaultDataConverter().ToPayload(CalendarScanInput{Definition: v1, CatchUp: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	prev := previousInput(&client.ScheduleWorkflowAction{Args: []any{payload}})
	if prev == nil || prev.Definition.Version != 1 {
		t.Fatalf("previous input = %+v, want v1 decoded from the schedule's payload", prev)
	}
	in := withRetired(CalendarScanInput{Definition: v2}, prev)
	if len(in.Retired) != 1 || in.Retired[0].Version != 1 {
		t.Fatalf("retired = %+v, want v1", in.Retired)
	}
	// The next update with v2 again keeps v1 and adds nothing.
	again := withRetired(CalendarScanInput{Definition: v2}, &in)
	if len(again.Retired) != 1 || again.Retired[0].Version != 1 {
		t.Errorf("retired after an unchanged update = %+v", again.Retired)
	}
	// Unchanged from the start: nothing retired.
	if same := withRetired(CalendarScanInput{Definition: v1}, prev); len(same.Retired) != 0 {
		t.Errorf("an unchanged definition retired %+v", same.Retired)
	}
	// Bounded.
	many := CalendarScanInput{Definition: v2}
	for i := range 20 {
		d := v1
		d.Version = 100 + i
		many = withRetired(CalendarScanInput{Definition: v2}, &CalendarScanInput{Definition: d, Retired: many.Retired})
	}
	if len(many.Retired) != maxRetired {
		t.Errorf("%d retired definitions kept, want at most %d", len(many.Retired), maxRetired)
	}
	if previousInput(&client.ScheduleWorkflowAction{Args: []any{"not a payload"}}) != nil {
		t.Error("an undecodable action decoded")
	}
}
