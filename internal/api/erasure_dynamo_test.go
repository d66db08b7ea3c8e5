package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/projection"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/internal/testenv/piiscan"
	"github.com/memberflow/memberflow/internal/unsubscribe"
	"github.com/memberflow/memberflow/templates"
)

func TestMain(m *testing.M) { ddblocal.Main(m) }

// TestErasureLeavesNoPersonalDataInTheTable runs on DynamoDB Local: a
// member registers (email, phone, name, birthday), orders, is sent an
// email through the real send path into the local outbox, and SendGrid's
// delivered event is recorded; then DELETE /v1/members/{id}. Every item
// of the table is scanned and none may hold any of the member's personal
// values in any attribute; the outbox holds none of their files; the
// member's balances and the liability report are what they were; a
// repeat answers 200 and changes nothing.
func TestErasureLeavesNoPersonalDataInTheTable(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	st := dynamo.New(client, table)
	ctx := t.Context()
	ldg := ledgerfix.Service(t, st)

	reg := sample(t, "member.registered.json")
	var regData struct {
		Email, Name, Phone, Birthday string
	}
	if err := json.Unmarshal(reg.raw["data"], &regData); err != nil {
		t.Fatal(err)
	}
	personal := []string{regData.Email, regData.Name, regData.Phone, regData.Birthday, "lin.wei%40example.com", "Lin Wei"}
	id := reg.env.MemberID
	for _, ev := range []recorded{reg, sample(t, "order.paid.json")} {
		data, err := ev.env.DecodeData()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(ev.body)
		if _, err := st.PutEvents(ctx, []store.RecordedEvent{{Source: "storefront", ID: ev.env.ID, Type: string(ev.env.Type), MemberID: id,
			OccurredAt: ev.env.OccurredAt, ReceivedAt: ev.env.OccurredAt, Payload: ev.body, Digest: "sha256:" + hex.EncodeToString(sum[:])}}); err != nil {
			t.Fatalf("PutEvents %s: %v", ev.env.ID, err)
		}
		if _, err := projection.Apply(ctx, st, ev.env, data); err != nil {
			t.Fatalf("project %s: %v", ev.env.ID, err)
		}
		if err := ldg.ApplyEvent(ctx, ev.env, data); err != nil {
			t.Fatalf("ledger %s: %v", ev.env.ID, err)
		}
	}

	// The welcome email, through the send activity into the outbox.
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "outbox")
	sink := &outbox.Sink{Dir: dir, Catalog: catalog}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	sender, err := mail.NewSender(mail.SenderConfig{APIKey: "SG.local", BaseURL: srv.URL, FromEmail: "hello@memberflow.example", FromName: "Demo",
		Catalog: catalog, Environment: mail.EnvironmentLocal, ASMGroups: map[string]int{"activation": 4242}, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	links, err := unsubscribe.NewSigner([]byte("erasure-test-link-secret"))
	if err != nil {
		t.Fatal(err)
	}
	daytime := time.Date(2026, 3, 3, 3, 0, 0, 0, time.UTC) // 11:00 in Shanghai
	act := &activities.Activities{Store: st, Ledger: ldg, Mailer: sender, Templates: catalog, Links: links, PublicURL: "http://127.0.0.1:8080",
		Brand: activities.Brand{Name: "Demo", ShopURL: "https://shop.example.com"}, Now: func() time.Time { return daytime },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	res, err := act.SendEmail(ctx, activities.SendEmailRequest{MemberID: id, Journey: "activation", Enrollment: 1, Step: "welcome",
		Template: "activation_welcome", Year: 2026, Vars: map[string]string{"coupon_name": "满79减8", "coupon_code": "NEW8-TEST"},
		Dates: map[string]time.Time{"coupon_valid_until": daytime.Add(30 * 24 * time.Hour)}})
	if err != nil || res.Status != store.SendSent {
		t.Fatalf("SendEmail = %+v, %v; want sent", res, err)
	}
	if err := st.RecordSendEvent(ctx, store.SendEvent{ID: "sg-delivered-1", MemberID: id, SendKey: res.Key, Journey: "activation", Step: "welcome",
		Enrollment: 1, Type: store.EventDelivered, At: daytime.Add(time.Minute), MessageID: res.MessageID}); err != nil {
		t.Fatalf("RecordSendEvent: %v", err)
	}
	if leaks := piiscan.Table(t, client, table, personal); len(leaks) == 0 {
		t.Fatal("no personal value found in the table before the erasure: the test looks for the wrong strings")
	}
	if files := piiscan.Dir(t, dir, personal); len(files) == 0 {
		t.Fatal("the outbox holds none of the member's values before the erasure")
	}

	tokens, err := api.NewTokens("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	h := (&api.Handler{Store: st, Ledger: ldg, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Files: sink}).Routes()
	liability := liabilityFigures(t, h)
	account, err := st.GetAccount(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	balances := account.Balances()
	if balances.Available == 0 && balances.Pending == 0 {
		t.Fatalf("account after the order = %+v, want points", account)
	}

	for i := range 2 {
		rec := do(h, http.MethodDelete, "/v1/members/"+id, "", nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("DELETE #%d: %d %s", i+1, rec.Code, rec.Body)
		}
		if leaks := piiscan.Table(t, client, table, personal); len(leaks) > 0 {
			t.Errorf("after erasure #%d the table holds: %s", i+1, strings.Join(leaks, "\n"))
		}
		if files := piiscan.Dir(t, dir, personal); len(files) > 0 {
			t.Errorf("after erasure #%d the outbox holds %v", i+1, files)
		}
		if got := liabilityFigures(t, h); got != liability {
			t.Errorf("liability after erasure #%d = %s, before %s", i+1, got, liability)
		}
		after, err := st.GetAccount(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := after.Balances(); got.Available != balances.Available || got.Pending != balances.Pending || after.Version != account.Version ||
			!got.Principal.Equal(balances.Principal) || !got.Bonus.Equal(balances.Bonus) {
			t.Errorf("balances after erasure #%d = %+v (version %d), before %+v (version %d)", i+1, got, after.Version, balances, account.Version)
		}
	}
	entries, err := st.ListEntries(ctx, id, 100, 0)
	if err != nil || len(entries) == 0 {
		t.Errorf("ledger after erasure = %v, %v; want the entries kept", entries, err)
	}
	// A re-import of the address under another id is not mailed.
	other := "m-reimport"
	if err := st.SaveMember(ctx, loyaltyMember(other, strings.ToUpper(regData.Email)), "reg-"+other); err != nil {
		t.Fatal(err)
	}
	res2, err := act.SendEmail(ctx, activities.SendEmailRequest{MemberID: other, Journey: "activation", Enrollment: 1, Step: "welcome",
		Template: "activation_welcome", Year: 2026, Vars: map[string]string{"coupon_name": "满79减8", "coupon_code": "NEW8-TEST"},
		Dates: map[string]time.Time{"coupon_valid_until": daytime.Add(30 * 24 * time.Hour)}})
	if err != nil || res2.Status != store.SendSkipped {
		t.Errorf("send to the re-imported address = %+v, %v; want skipped", res2, err)
	}
}

type recorded struct {
	body []byte
	raw  map[string]json.RawMessage
	env  events.Envelope
}

func sample(t *testing.T, name string) recorded {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	envs, err := events.ParseBatch(b)
	if err != nil || len(envs) != 1 {
		t.Fatalf("parse %s: %v", name, err)
	}
	r := recorded{body: b, env: envs[0]}
	if err := json.Unmarshal(b, &r.raw); err != nil {
		t.Fatal(err)
	}
	return r
}

func loyaltyMember(id, email string) loyalty.Member {
	return loyalty.Member{ID: id, Email: email, Consent: loyalty.Consent{EmailMarketing: true}, Version: 1}
}

// liabilityFigures is GET /v1/liability without the moment it was read.
func liabilityFigures(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := get(h, "/v1/liability", "Bearer s3cret")
	var v map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &v) != nil {
		t.Fatalf("GET /v1/liability: %d %s", rec.Code, rec.Body)
	}
	delete(v, "as_of")
	b, _ := json.Marshal(v)
	return string(b)
}
