package localstack

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/mail/asmgroup"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"

	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/sgevents"
	"github.com/memberflow/memberflow/internal/store"
)

// TestProcessedEventsReadAsSendGrids: the outbox's feedback is what the
// event webhook handler reads from SendGrid — custom arguments at the top
// level, the X-Message-Id as sg_message_id, an sg_event_id of each
// message's own that is the same when the message's event is posted again.
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
	other := acc
	other.File = "20261123T100000.000000001Z-m-1-birthday_gift"
	acc.File = "20261123T100000.000000000Z-m-1-birthday_gift"
	body, err := processedEvents([]outbox.Accepted{acc, other})
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
	again, err := processedEvents([]outbox.Accepted{acc})
	if err != nil {
		t.Fatal(err)
	}
	var replayed []sgevents.Event
	if err := json.Unmarshal(again, &replayed); err != nil || len(replayed) != 1 || replayed[0].ID != evs[0].ID {
		t.Errorf("the same message posted again has sg_event_id %+v, want %q", replayed, evs[0].ID)
	}
}

// TestReplayFeedbackConfirmsWhatAKilledStackAccepted: a message the
// outbox accepted while its feedback was never delivered (the stack was
// killed in between) is confirmed when the stack starts again — the send
// row is sent, so the worker's retry does not send it a second time — and
// posting it again changes nothing.
func TestReplayFeedbackConfirmsWhatAKilledStackAccepted(t *testing.T) {
	ctx := context.Background()
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := localASMGroups(catalog)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	s := &Stack{log: slog.New(slog.DiscardHandler), WebhookKey: key,
		events: &sgevents.Handler{Store: st, PublicKey: &key.PublicKey, Groups: asmgroup.ByID(groups), Log: slog.New(slog.DiscardHandler)}}
	// The killed run: the outbox took the message, its feedback never left.
	s.sink = &outbox.Sink{Dir: t.TempDir(), Catalog: catalog, OnAccept: func([]outbox.Accepted) {}}
	srv := httptest.NewServer(s.sink)
	defer srv.Close()
	sender, err := mail.NewSender(mail.SenderConfig{APIKey: "local-outbox", BaseURL: srv.URL, FromEmail: "hello@memberflow.example",
		FromName: "Memberflow", Catalog: catalog, Environment: mail.EnvironmentLocal, ASMGroups: groups})
	if err != nil {
		t.Fatal(err)
	}
	const sendKey = "m-1#activation#1#welcome#2026"
	at := time.Now().UTC().Truncate(time.Second)
	if _, _, err := st.ReserveSend(ctx, store.Send{Key: sendKey, MemberID: "m-1", Journey: "activation", Enrollment: 1, Step: "welcome",
		Template: "activation_welcome", Status: store.SendPending, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkSendAttempt(ctx, "m-1", sendKey, at, time.Time{}); err != nil {
		t.Fatal(err)
	}
	res, err := sender.Send(ctx, mail.Message{MemberID: "m-1", To: "lin.wei@example.com", Template: "activation_welcome",
		Group: "activation", IdempotencyKey: sendKey, UnsubscribeURL: "http://127.0.0.1:8080/v1/unsubscribe?token=t",
		CustomArgs: map[string]string{"journey": "activation", "step": "welcome", "enrollment": "1"},
		Data: map[string]any{"name": "Lin Wei", "brand": "Memberflow", "shop_url": "https://shop.example.com",
			"unsubscribe_url": "http://127.0.0.1:8080/v1/unsubscribe?token=t", "coupon_name": "满79减8",
			"coupon_code": "NEW8-3HT7WQ2P", "coupon_valid_until": "2026-07-31"}})
	if err != nil {
		t.Fatal(err)
	}

	owed, err := s.sink.Unconfirmed()
	if err != nil || len(owed) != 1 {
		t.Fatalf("feedback owed by the killed run = %+v, %v; want the message", owed, err)
	}
	// The next start.
	if err := s.replayFeedback(ctx); err != nil {
		t.Fatal(err)
	}
	row, err := st.GetSend(ctx, "m-1", sendKey)
	if err != nil {
		t.Fatal(err)
	}
	if row.Status != store.SendSent || row.MessageID != res.MessageID {
		t.Errorf("send after the replay = %s %q, want sent with message %q", row.Status, row.MessageID, res.MessageID)
	}
	if owed, err := s.sink.Unconfirmed(); err != nil || len(owed) != 0 {
		t.Errorf("feedback still owed after the replay: %+v, %v", owed, err)
	}
	// A stack killed after posting but before the outbox forgot the
	// record posts the same event again: the handler knows it.
	if err := s.deliverFeedback(ctx, owed); err != nil {
		t.Fatal(err)
	}
	evs, err := st.ListSendEvents(ctx, "m-1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Errorf("send events = %+v, want the one processed event", evs)
	}
}

// TestFeedbackHandlerPanicIsAnError: handed in-process, a handler's panic
// is the post's error (as the router's recovery makes it a 500), not the
// end of the stack.
func TestFeedbackHandlerPanicIsAnError(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/v1/sendgrid/events", nil)
	err := serveRecovered(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), httptest.NewRecorder(), req)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("serveRecovered = %v, want the panic as an error", err)
	}
}
