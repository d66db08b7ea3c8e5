package outbox_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/mail/outbox"
)

// TestSinkOnAcceptReportsWhatSendGridWouldEcho: every accepted message is
// reported with the X-Message-Id the sender got and the custom_args
// SendGrid echoes in its events; a refused request reports nothing.
func TestSinkOnAcceptReportsWhatSendGridWouldEcho(t *testing.T) {
	f := newFixture(t)
	got := make(chan []outbox.Accepted, 2)
	f.sink.OnAccept = func(acc []outbox.Accepted) { got <- acc }

	m := message()
	m.CustomArgs = map[string]string{"journey": "activation", "step": "welcome", "enrollment": "1"}
	res, err := f.sender.Send(context.Background(), m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	var acc []outbox.Accepted
	select {
	case acc = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("OnAccept was not called")
	}
	if len(acc) != 1 {
		t.Fatalf("accepted = %+v, want one message", acc)
	}
	a := acc[0]
	if a.MessageID != res.MessageID {
		t.Errorf("MessageID = %q, want the X-Message-Id %q", a.MessageID, res.MessageID)
	}
	want := map[string]string{
		"member_id": "mem_42", "idempotency_key": "wf-1/welcome",
		"journey": "activation", "step": "welcome", "enrollment": "1",
	}
	for k, v := range want {
		if a.CustomArgs[k] != v {
			t.Errorf("custom_args[%s] = %q, want %q (all: %v)", k, a.CustomArgs[k], v, a.CustomArgs)
		}
	}
	if a.Email != "lin.wei@example.com" || a.Template != "activation_welcome" || a.ASMGroupID != 4242 ||
		!slices.Contains(a.Categories, "activation") || !a.Time.Equal(frozen.UTC().Round(0)) {
		t.Errorf("accepted = %+v", a)
	}

	// A request the Sink refuses (a missing variable) is never reported.
	bad := message()
	delete(bad.Data, "coupon_code")
	if _, err := f.sender.Send(context.Background(), bad); err == nil {
		t.Fatal("a send with a missing variable was accepted")
	}
	select {
	case acc := <-got:
		t.Errorf("OnAccept called for a refused request: %+v", acc)
	case <-time.After(200 * time.Millisecond):
	}
}
