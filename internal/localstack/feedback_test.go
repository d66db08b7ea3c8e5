package localstack

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/sgevents"
	"github.com/memberflow/memberflow/internal/store"
)

// TestProcessedEventsReadAsSendGrids: the outbox's feedback is what the
// event webhook handler reads from SendGrid — custom arguments at the top
// level, the X-Message-Id as sg_message_id, a fresh sg_event_id each.
func TestProcessedEventsReadAsSendGrids(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	acc := outbox.Accepted{
		MessageID: "abc123", Email: "lin.wei@example.com", Template: "birthday_gift", ASMGroupID: 2, Time: at,
		Categories: []string{"birthday", "birthday:gift"},
		CustomArgs: map[string]string{
			"member_id": "m-1", "idempotency_key": "m-1#birthday#2026#gift#2026",
			"journey": "birthday", "step": "gift", "enrollment": "2026", "year": "2026",
			"event": "spoofed", // a custom argument never overrides SendGrid's own fields
		},
	}
	body, err := processedEvents([]outbox.Accepted{acc, acc})
	if err != nil {
		t.Fatal(err)
	}
	var evs []sgevents.Event
	if err := json.Unmarshal(body, &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("events = %d, want 2", len(evs))
	}
	want := sgevents.Event{
		Event: store.EventProcessed, MessageID: "abc123", Timestamp: at.Unix(), ASMGroupID: 2,
		MemberID: "m-1", IdempotencyKey: "m-1#birthday#2026#gift#2026", Journey: "birthday", Step: "gift", Enrollment: "2026",
	}
	for i, ev := range evs {
		id := ev.ID
		ev.ID = ""
		if ev != want {
			t.Errorf("event %d = %+v, want %+v", i, ev, want)
		}
		if id == "" {
			t.Errorf("event %d has no sg_event_id", i)
		}
	}
	if evs[0].ID == evs[1].ID {
		t.Errorf("sg_event_id %q is not unique", evs[0].ID)
	}
}
