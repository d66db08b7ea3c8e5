package sgevents_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/sgevents"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
)

var (
	now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	// sentAt is when the events happened: after the members' consent.
	sentAt = now.Add(-time.Hour)
)

const (
	member   = "m-1001"
	sendKey  = "m-1001#activation#1#welcome"
	asmGroup = 12345
)

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type fixture struct {
	h   *sgevents.Handler
	st  *memstore.Store
	key *ecdsa.PrivateKey
}

// newFixture has member m-1001 (and m-1002) consenting to email, and
// m-1001's welcome reserved but not yet confirmed by the provider.
func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	for _, id := range []string{member, "m-1002"} {
		m := loyalty.Member{ID: id, Name: "Lin", Consent: loyalty.Consent{EmailMarketing: true, UpdatedAt: sentAt.Add(-24 * time.Hour)}, Version: 1}
		if err := st.SaveMember(ctx, m, "evt-reg-"+id); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.ReserveSend(ctx, store.Send{
		Key: sendKey, MemberID: member, Journey: "activation", Enrollment: 1, Step: "welcome",
		Template: "welcome", CreatedAt: sentAt,
	}); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	return fixture{
		h: &sgevents.Handler{
			Store: st, PublicKey: &key.PublicKey, Groups: map[int]string{asmGroup: "activation"},
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now },
		},
		st: st, key: key,
	}
}

// ev is one SendGrid event of m-1001's welcome email; more fields are
// added or overridden by kv pairs.
func ev(id, typ string, kv ...any) map[string]any {
	e := map[string]any{
		"email": "lin.wei@example.com", "timestamp": sentAt.Unix(), "event": typ,
		"sg_event_id": id, "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
		"member_id": member, "idempotency_key": sendKey, "journey": "activation", "step": "welcome", "enrollment": "1",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(e, kv[i].(string))
			continue
		}
		e[kv[i].(string)] = kv[i+1]
	}
	return e
}

func body(t *testing.T, evs ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f fixture) post(t *testing.T, b []byte, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/sendgrid/events", bytes.NewReader(b))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func signed(key *ecdsa.PrivateKey, b []byte, at time.Time) map[string]string {
	sig, ts := sgevents.Sign(key, at, b)
	return map[string]string{sgevents.HeaderSignature: sig, sgevents.HeaderTimestamp: ts}
}

// postSigned posts a freshly signed batch (as SendGrid signs every retry
// anew) and decodes the 200 answer.
func (f fixture) postSigned(t *testing.T, b []byte) sgevents.Result {
	t.Helper()
	rec := f.post(t, b, signed(f.key, b, now))
	if got, want := rec.Code, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
	}
	var res sgevents.Result
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRecordsEventsAndSuppresses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := body(t,
		ev("e-processed", "processed"),
		ev("e-delivered", "delivered"),
		ev("e-open", "open"),
		ev("e-click", "click", "url", "https://shop.example.com/"),
		ev("e-bounce", "bounce", "type", "bounce", "reason", "550 5.1.1 no such user"),
		ev("e-spam", "spamreport", "member_id", "m-1002", "idempotency_key", "m-1002#activation#1#welcome"),
		ev("e-blocked", "bounce", "type", "blocked", "reason", "421 try later", "member_id", "m-1003", "idempotency_key", "m-1003#activation#1#welcome"),
		ev("e-foreign", "delivered", "member_id", nil, "idempotency_key", nil),
		ev("e-new-type", "machine_learned_open"),
		ev("e-no-step", "open", "journey", nil, "step", nil, "idempotency_key", "not-a-send-key"),
	)
	res := f.postSigned(t, b)
	if got, want := res, (sgevents.Result{Recorded: 7, Duplicates: 0, Skipped: 3}); got != want {
		t.Errorf("result = %+v, want %+v", got, want)
	}

	sup, err := f.st.GetSuppression(ctx, member)
	if err != nil {
		t.Fatalf("hard bounce did not suppress: %v", err)
	}
	if want := (store.Suppression{MemberID: member, Reason: "bounce: 550 5.1.1 no such user", Source: "sendgrid:bounce", At: sentAt}); sup != want {
		t.Errorf("suppression = %+v, want %+v", sup, want)
	}
	sup, err = f.st.GetSuppression(ctx, "m-1002")
	if err != nil || sup.Reason != "spamreport" || sup.Source != "sendgrid:spamreport" {
		t.Errorf("spam report suppression = %+v, %v", sup, err)
	}
	if _, err := f.st.GetSuppression(ctx, "m-1003"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a blocked (temporary) bounce suppressed: %v", err)
	}

	// The pending welcome became sent on the provider's word, with the id
	// its send call answered (no .filter suffix).
	snd, err := f.st.GetSend(ctx, member, sendKey)
	if err != nil {
		t.Fatal(err)
	}
	if snd.Status != store.SendSent || snd.MessageID != "14c5d75ce93.dfd.64b469" {
		t.Errorf("send row = %s %q, want sent 14c5d75ce93.dfd.64b469", snd.Status, snd.MessageID)
	}

	evs, err := f.st.ListSendEvents(ctx, member, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
		if e.Journey != "activation" || e.Step != "welcome" || e.Enrollment != 1 || !e.At.Equal(sentAt) {
			t.Errorf("event %s = %+v", e.ID, e)
		}
		if e.ID == "e-click" && e.URL != "https://shop.example.com/" {
			t.Errorf("click url = %q", e.URL)
		}
	}
	slices.Sort(ids)
	if got, want := ids, []string{"e-bounce", "e-click", "e-delivered", "e-open", "e-processed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("m-1001 events = %v, want %v", got, want)
	}
	blocked, err := f.st.ListSendEvents(ctx, "m-1003", time.Time{})
	if err != nil || len(blocked) != 1 || blocked[0].Type != store.EventBounce || blocked[0].Reason != "blocked: 421 try later" {
		t.Errorf("blocked bounce recorded as %+v, %v", blocked, err)
	}
}

func TestSendKeyFillsMissingCustomArgs(t *testing.T) {
	f := newFixture(t)
	res := f.postSigned(t, body(t, ev("e-1", "delivered", "journey", nil, "step", nil, "enrollment", nil)))
	if res.Recorded != 1 {
		t.Fatalf("result = %+v", res)
	}
	evs, err := f.st.ListSendEvents(context.Background(), member, time.Time{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("events = %v, %v", evs, err)
	}
	if e := evs[0]; e.Journey != "activation" || e.Step != "welcome" || e.Enrollment != 1 {
		t.Errorf("event = %+v, want journey, step and enrollment from the send key", e)
	}
}

// state is everything a batch may change, to compare before and after a
// replay.
type state struct {
	result      sgevents.Result
	suppression store.Suppression
	member      loyalty.Member
	events      int
	stats       []store.StepStats
}

func (f fixture) state(t *testing.T, res sgevents.Result) state {
	t.Helper()
	ctx := context.Background()
	sup, err := f.st.GetSuppression(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.st.GetMember(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := f.st.ListSendEvents(ctx, member, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := f.st.JourneyStats(ctx, "activation")
	if err != nil {
		t.Fatal(err)
	}
	return state{res, sup, m, len(evs), stats}
}

func TestReplayedBatchChangesNothing(t *testing.T) {
	f := newFixture(t)
	b := body(t,
		ev("e-delivered", "delivered"),
		ev("e-bounce", "bounce", "type", "bounce", "reason", "550 no such user"),
		ev("e-group", "group_unsubscribe", "asm_group_id", asmGroup),
		ev("e-unsub", "unsubscribe"),
	)
	first := f.state(t, f.postSigned(t, b))
	if got, want := first.result, (sgevents.Result{Recorded: 4}); got != want {
		t.Fatalf("first post = %+v, want %+v", got, want)
	}
	if first.member.Version != 3 {
		t.Errorf("member version after two consent changes = %d, want 3", first.member.Version)
	}

	// SendGrid retries a batch it saw fail, signed again. A later bounce
	// for the same member must not replace the first suppression either.
	again := f.state(t, f.postSigned(t, b))
	if got, want := again.result, (sgevents.Result{Duplicates: 4}); got != want {
		t.Errorf("replay = %+v, want %+v", got, want)
	}
	again.result = first.result
	if !reflect.DeepEqual(again, first) {
		t.Errorf("replay changed state:\n got %+v\nwant %+v", again, first)
	}
}

func TestGroupUnsubscribeLeavesTheGroup(t *testing.T) {
	f := newFixture(t)
	res := f.postSigned(t, body(t,
		ev("e-group", "group_unsubscribe", "asm_group_id", asmGroup),
		ev("e-unknown-group", "group_unsubscribe", "asm_group_id", 999),
	))
	if got, want := res, (sgevents.Result{Recorded: 2}); got != want {
		t.Errorf("result = %+v, want %+v", got, want)
	}
	m, err := f.st.GetMember(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Consent.UnsubscribedGroups, []string{"activation"}) {
		t.Errorf("unsubscribed groups = %v, want [activation]", m.Consent.UnsubscribedGroups)
	}
	if !m.Consent.EmailMarketing || m.Consent.MayEmail("activation") || !m.Consent.MayEmail("newsletter") {
		t.Errorf("consent = %+v: want marketing on, only activation left", m.Consent)
	}
	if _, err := f.st.GetSuppression(context.Background(), member); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a group unsubscribe suppressed the member: %v", err)
	}
}

func TestUnsubscribeTurnsMarketingOff(t *testing.T) {
	f := newFixture(t)
	if res := f.postSigned(t, body(t, ev("e-unsub", "unsubscribe"))); res.Recorded != 1 {
		t.Fatalf("result = %+v", res)
	}
	m, err := f.st.GetMember(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	if m.Consent.EmailMarketing || !m.Consent.UpdatedAt.Equal(sentAt) {
		t.Errorf("consent = %+v, want marketing off as of the event", m.Consent)
	}
	if m2, _ := f.st.GetMember(context.Background(), "m-1002"); !m2.Consent.EmailMarketing {
		t.Error("another member's consent changed")
	}
}

func TestRejectsUnsignedTamperedAndStale(t *testing.T) {
	f := newFixture(t)
	b := body(t, ev("e-bounce", "bounce", "type", "bounce"))
	other := newKey(t)
	for _, tc := range []struct {
		name    string
		body    []byte
		headers map[string]string
		header  string // the header the answer must name
	}{
		{"unsigned", b, nil, sgevents.HeaderSignature},
		{"no timestamp", b, map[string]string{sgevents.HeaderSignature: signed(f.key, b, now)[sgevents.HeaderSignature]}, sgevents.HeaderTimestamp},
		{"tampered body", bytes.Replace(b, []byte(`"bounce"`), []byte(`"open"`), 1), signed(f.key, b, now), sgevents.HeaderSignature},
		{"another key", b, signed(other, b, now), sgevents.HeaderSignature},
		{"stale", b, signed(f.key, b, now.Add(-11*time.Minute)), sgevents.HeaderTimestamp},
		{"from the future", b, signed(f.key, b, now.Add(11*time.Minute)), sgevents.HeaderTimestamp},
		{"timestamp changed", b, map[string]string{
			sgevents.HeaderSignature: signed(f.key, b, now)[sgevents.HeaderSignature],
			sgevents.HeaderTimestamp: fmt.Sprint(now.Unix() + 1),
		}, sgevents.HeaderSignature},
		{"garbled", b, map[string]string{sgevents.HeaderSignature: "not base64!", sgevents.HeaderTimestamp: fmt.Sprint(now.Unix())}, sgevents.HeaderSignature},
		{"timestamp not a number", b, map[string]string{sgevents.HeaderSignature: "c2ln", sgevents.HeaderTimestamp: "yesterday"}, sgevents.HeaderTimestamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.post(t, tc.body, tc.headers)
			if got, want := rec.Code, http.StatusUnauthorized; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.header) {
				t.Errorf("answer %s does not name %s", rec.Body, tc.header)
			}
			if evs, _ := f.st.ListSendEvents(context.Background(), member, time.Time{}); len(evs) != 0 {
				t.Errorf("recorded %d events of a rejected request", len(evs))
			}
			if _, err := f.st.GetSuppression(context.Background(), member); !errors.Is(err, store.ErrNotFound) {
				t.Error("a rejected request suppressed the member")
			}
		})
	}
}

func TestAcceptsSignatureWithinWindow(t *testing.T) {
	f := newFixture(t)
	b := body(t, ev("e-1", "open"))
	rec := f.post(t, b, signed(f.key, b, now.Add(-9*time.Minute)))
	if got, want := rec.Code, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		method string
		body   []byte
		status int
	}{
		{"GET", http.MethodGet, nil, http.StatusMethodNotAllowed},
		{"object, not array", http.MethodPost, []byte(`{"event":"open"}`), http.StatusBadRequest},
		{"not JSON", http.MethodPost, []byte(`open`), http.StatusBadRequest},
		{"null, not array", http.MethodPost, []byte(`null`), http.StatusBadRequest},
		{"too big", http.MethodPost, bytes.Repeat([]byte(" "), sgevents.MaxBodyBytes+1), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/v1/sendgrid/events", bytes.NewReader(tc.body))
			for k, v := range signed(f.key, tc.body, now) {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			if got, want := rec.Code, tc.status; got != want {
				t.Errorf("status = %d, want %d: %s", got, want, rec.Body)
			}
		})
	}
}

func TestOddElementsAreSkipped(t *testing.T) {
	f := newFixture(t)
	b := []byte(`[1, {"event":"open","sg_event_id":"e-odd","member_id":"m-1001","idempotency_key":"` + sendKey + `","timestamp":"soon"},` + string(body(t, ev("e-ok", "open")))[1:])
	res := f.postSigned(t, b)
	if got, want := res, (sgevents.Result{Recorded: 1, Skipped: 2}); got != want {
		t.Errorf("result = %+v, want %+v", got, want)
	}
}

// flakyStore fails its first call of a chosen method, as a throttled or
// unreachable DynamoDB would.
type flakyStore struct {
	*memstore.Store
	failSuppress, failRecord bool
}

var errUnavailable = errors.New("table unavailable")

func (s *flakyStore) Suppress(ctx context.Context, sup store.Suppression) error {
	if s.failSuppress {
		s.failSuppress = false
		return errUnavailable
	}
	return s.Store.Suppress(ctx, sup)
}

func (s *flakyStore) RecordSendEvent(ctx context.Context, ev store.SendEvent) error {
	if s.failRecord {
		s.failRecord = false
		return errUnavailable
	}
	return s.Store.RecordSendEvent(ctx, ev)
}

// TestStoreErrorIs500AndTheRetryCompletes: SendGrid retries a 500, and
// the retry must still apply what the first attempt did not finish.
func TestStoreErrorIs500AndTheRetryCompletes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(*memstore.Store) *flakyStore
	}{
		{"suppress fails", func(m *memstore.Store) *flakyStore { return &flakyStore{Store: m, failSuppress: true} }},
		{"record fails after suppressing", func(m *memstore.Store) *flakyStore { return &flakyStore{Store: m, failRecord: true} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.h.Store = tc.store(f.st)
			b := body(t, ev("e-bounce", "bounce", "type", "bounce", "reason", "550"))
			rec := f.post(t, b, signed(f.key, b, now))
			if got, want := rec.Code, http.StatusInternalServerError; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, rec.Body)
			}
			if strings.Contains(rec.Body.String(), errUnavailable.Error()) {
				t.Errorf("answer %s shows the internal error", rec.Body)
			}
			if got, want := f.postSigned(t, b), (sgevents.Result{Recorded: 1}); got != want {
				t.Errorf("retry = %+v, want %+v", got, want)
			}
			if sup, err := f.st.GetSuppression(context.Background(), member); err != nil || sup.Reason != "bounce: 550" {
				t.Errorf("suppression after the retry = %+v, %v", sup, err)
			}
		})
	}
}

// panickyStore panics where a store bug would.
type panickyStore struct{ *memstore.Store }

func (panickyStore) RecordSendEvent(context.Context, store.SendEvent) error { panic("store bug") }

func TestPanicIs500(t *testing.T) {
	f := newFixture(t)
	f.h.Store = panickyStore{f.st}
	b := body(t, ev("e-1", "open"), ev("e-2", "open", "member_id", "m-1002", "idempotency_key", "m-1002#activation#1#welcome"))
	if rec := f.post(t, b, signed(f.key, b, now)); rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500: %s", rec.Code, rec.Body)
	}
}

func TestNoPublicKeyIs500(t *testing.T) {
	f := newFixture(t)
	f.h.PublicKey = nil
	b := body(t, ev("e-1", "open"))
	if rec := f.post(t, b, signed(f.key, b, now)); rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", rec.Code)
	}
}

func TestPublicKeyRoundTrip(t *testing.T) {
	key := newKey(t)
	s, err := sgevents.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sgevents.ParsePublicKey(" " + s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Error("parsed key differs from the marshalled one")
	}
	pemText := "-----BEGIN PUBLIC KEY-----\n" + s + "\n-----END PUBLIC KEY-----\n"
	if _, err := sgevents.ParsePublicKey(pemText); err != nil {
		t.Errorf("PEM form: %v", err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s384, err := sgevents.MarshalPublicKey(&p384.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "not base64!", "c2ln", s384} {
		if _, err := sgevents.ParsePublicKey(bad); err == nil {
			t.Errorf("%.20q was accepted", bad)
		}
	}
}

func TestDroppedBecauseSuppressedAtSendGridSuppresses(t *testing.T) {
	for reason, want := range map[string]bool{
		"Bounced Address":        true,
		"Spam Reporting Address": true,
		"Unsubscribed Address":   true,
		"Invalid":                true,
		"Exceeded Max Size":      false,
	} {
		t.Run(reason, func(t *testing.T) {
			f := newFixture(t)
			if res := f.postSigned(t, body(t, ev("e-drop", "dropped", "reason", reason))); res.Recorded != 1 {
				t.Fatalf("result = %+v", res)
			}
			s, err := f.st.GetSuppression(context.Background(), member)
			if got := err == nil; got != want {
				t.Fatalf("suppressed = %v (%v), want %v", got, err, want)
			}
			if want && (s.Reason != "dropped: "+reason || s.Source != "sendgrid:dropped") {
				t.Errorf("suppression = %+v", s)
			}
		})
	}
}
