package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/loyalty"
)

func reviewDay(s string) *string { return &s }

func sampleStanding() standing {
	return standing{
		Tier: "V3", TierReviewOn: reviewDay("2027-10-20"),
		Growth:      loyalty.GrowthTotals{Spend: decimal.RequireFromString("900.00"), Interaction: decimal.Zero, Reward: decimal.Zero, Counted: decimal.RequireFromString("900")},
		Points:      loyalty.PointsView{Available: 15, ExpiringNext: &loyalty.ExpiringView{Amount: 15, At: time.Date(2027, 11, 30, 16, 0, 0, 0, time.UTC)}},
		StoredValue: loyalty.StoredValueView{Currency: "CNY", Principal: decimal.Zero, Bonus: decimal.Zero},
		Coupons: []loyalty.CouponView{
			{Code: "NEW8-AAAA", Kind: "NEW8", ExpiresAt: time.Date(2026, 12, 23, 16, 0, 0, 0, time.UTC)},
		},
	}
}

// TestCompareTwins: a planted difference is reported field by field; what
// differs between twins by design (coupon codes and expiry, the form of an
// amount) is not.
func TestCompareTwins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *standing)
		want   []string // fields
	}{
		{"identical", func(*standing) {}, nil},
		{"coupon code and expiry differ by member", func(s *standing) {
			s.Coupons[0].Code, s.Coupons[0].ExpiresAt = "NEW8-BBBB", s.Coupons[0].ExpiresAt.Add(time.Minute)
		}, nil},
		{"same amount written differently", func(s *standing) { s.Growth.Spend = decimal.RequireFromString("900") }, nil},
		{"points and tier", func(s *standing) {
			s.Points.Available, s.Tier = 9, "V4"
		}, []string{"points.available", "tier"}},
		{"coupon used", func(s *standing) { s.Coupons[0].Used = true }, []string{"coupons"}},
		{"extra coupon", func(s *standing) {
			s.Coupons = append(s.Coupons, loyalty.CouponView{Code: "X", Kind: "C15"})
		}, []string{"coupons"}},
		{"no review", func(s *standing) { s.TierReviewOn = nil }, []string{"tier_review_on"}},
		{"growth and stored value", func(s *standing) {
			s.Growth.Counted, s.StoredValue.Bonus = decimal.RequireFromString("1200"), decimal.RequireFromString("30")
		}, []string{"growth.counted", "stored_value.bonus"}},
		{"expiring", func(s *standing) { s.Points.ExpiringNext = nil }, []string{"points.expiring_next"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := sampleStanding()
			got := sampleStanding()
			tc.change(&got)
			ms := compareTwins("ld1-b-0001", "ld1-a-0001", got, want)
			var fields []string
			for _, m := range ms {
				fields = append(fields, m.Field)
				if m.Member != "ld1-b-0001" || m.Twin != "ld1-a-0001" || m.Got == m.Want {
					t.Errorf("mismatch %+v", m)
				}
			}
			if !slices.Equal(fields, tc.want) {
				t.Errorf("fields %v, want %v", fields, tc.want)
			}
		})
	}
	ms := compareTwins("b", "a", standing{Tier: "V2", Points: loyalty.PointsView{Available: 9}}, standing{Tier: "V2", Points: loyalty.PointsView{Available: 18}})
	if len(ms) != 1 || ms[0].String() != "b vs a: points.available 9, want 18" {
		t.Errorf("mismatches %v", ms)
	}
}

// TestLedgerCheck: balances that are not the sum of the entries, and a key
// written twice, are reported.
func TestLedgerCheck(t *testing.T) {
	entries := []loyalty.Entry{
		{Seq: 2, Key: "e2#points", Available: 5, Principal: decimal.Zero, Bonus: decimal.Zero},
		{Seq: 1, Key: "e1#points", Pending: 3, Available: 10, Principal: decimal.RequireFromString("100"), Bonus: decimal.Zero},
	}
	acc := loyalty.Account{Principal: decimal.RequireFromString("100.00"), Bonus: decimal.Zero,
		Lots: []loyalty.Lot{{ID: "l1", Points: 3}, {ID: "l2", Points: 15, Released: true}}}
	if ms, keys := ledgerCheck("m", acc, entries); len(ms) != 0 || len(keys) != 0 {
		t.Fatalf("consistent account reported: %v %v", ms, keys)
	}
	acc.Lots[1].Points = 14
	ms, _ := ledgerCheck("m", acc, entries)
	if len(ms) != 1 || !strings.Contains(ms[0].String(), "available 14") || !strings.Contains(ms[0].String(), "available 15") {
		t.Errorf("planted difference: %v", ms)
	}
	_, keys := ledgerCheck("m", acc, append(entries, loyalty.Entry{Seq: 3, Key: "e1#points"}))
	if !slices.Equal(keys, []string{"e1#points"}) {
		t.Errorf("duplicate keys %v", keys)
	}
}

func TestSummaryLine(t *testing.T) {
	s := Summary{Events: 10040, EventsPerSecond: 49.93, IngestP99: 85400 * time.Microsecond, EmailP99: 410 * time.Millisecond, Lost: 1, Duplicated: 2, Mismatched: 3}
	want := "load: 10040 events, 49.9 events/s, ingest p99 85 ms, event→email p99 410 ms, lost 1, duplicated 2, mismatched 3"
	if got := s.Line(); got != want {
		t.Errorf("line\n%s\nwant\n%s", got, want)
	}
	if !s.Failed() || (Summary{}).Failed() {
		t.Error("Failed")
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://localhost:8080", true},
		{"http://[::1]:8080", true},
		{"http://127.0.0.2:8080", true},
		{"http://10.0.0.5:8080", false},
		{"https://api.example.com", false},
		{"127.0.0.1:8080", false},
		{"ftp://127.0.0.1", false},
	} {
		if err := checkLoopback(tc.url); (err == nil) != tc.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok %t", tc.url, err, tc.ok)
		}
	}
}

func TestStatusLine(t *testing.T) {
	if got, want := statusLine(map[string]int{"202": 10, "0": 3, "200": 3, "503": 1}), "202×10 0×3 200×3 503×1"; got != want {
		t.Errorf("statusLine = %q, want %q", got, want)
	}
}

// TestAttackSignsAndNamesEachPost runs the vegeta attack against a server
// that verifies every signature with ingest.Verify and refuses some
// events: each post is signed freshly, and the report names exactly the
// posts that were not answered 200 or 202.
func TestAttackSignsAndNamesEachPost(t *testing.T) {
	secret := []byte("test-secret")
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/events" || r.Header.Get(ingest.HeaderSource) != source {
			http.Error(w, "wrong path or source", http.StatusNotFound)
			return
		}
		if err := ingest.Verify(secret, r.Header.Get(ingest.HeaderSignature), body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		id := strings.TrimSuffix(strings.TrimPrefix(string(body), `{"id":"`), `"}`)
		mu.Lock()
		seen[id]++
		n := seen[id]
		mu.Unlock()
		switch {
		case strings.HasSuffix(id, "7"):
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		case n > 1:
			// A duplicate; the two posts of e03 are in flight at once, so
			// its answer waits a little for the first post's to land
			// first, as a real duplicate's would behind the recorded one.
			time.Sleep(100 * time.Millisecond)
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	var evs []event
	for i := range 40 {
		id := fmt.Sprintf("e%02d", i)
		evs = append(evs, event{ID: id, Body: []byte(`{"id":"` + id + `"}`)})
	}
	evs = append(evs, evs[3]) // posted twice
	p := &poster{base: srv.URL, secret: secret}
	rep, err := p.attack(context.Background(), evs, nil, attackOptions{name: "t", pacer: vegeta.ConstantPacer{}, workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Metrics.Requests != uint64(len(evs)) || rep.Metrics.StatusCodes["401"] != 0 {
		t.Fatalf("requests %d, statuses %v", rep.Metrics.Requests, rep.Metrics.StatusCodes)
	}
	var failed []string
	for _, ev := range rep.Failed() {
		failed = append(failed, ev.ID)
	}
	slices.Sort(failed)
	if want := []string{"e07", "e17", "e27", "e37"}; !slices.Equal(failed, want) {
		t.Errorf("failed %v, want %v", failed, want)
	}
	if got := rep.Metrics.StatusCodes; got["202"] != 36 || got["200"] != 1 || got["503"] != 4 {
		t.Errorf("statuses %v", got)
	}
	first := rep.FirstAnswers()
	if a, ok := first["e03"]; !ok || a.status != http.StatusAccepted || len(first) != 36 {
		t.Errorf("answered %d ids, e03 %+v", len(first), first["e03"])
	}

	// With the server gone, a round gives up after giveUpAfter refusals
	// and leaves every post for the next round.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	down := &poster{base: gone.URL, secret: secret}
	refused, err := down.attack(context.Background(), evs, nil, attackOptions{name: "down", pacer: vegeta.ConstantPacer{}, workers: 2, giveUpAfter: 4})
	if err != nil {
		t.Fatal(err)
	}
	if n := refused.Metrics.Requests; n < 4 || n > 10 || len(refused.Failed()) != len(evs) || refused.Delivered() != 0 {
		t.Errorf("down: %d requests, %d failed, %d delivered; want 4 to 10, all %d failed, none delivered", n, len(refused.Failed()), refused.Delivered(), len(evs))
	}

	// An endless feed stops after the duration and reports what it generated.
	gen, err := p.attack(context.Background(), nil, func(n int) (event, error) {
		id := fmt.Sprintf("g%d", n*10) // never ends in 7
		return event{ID: id, Body: []byte(`{"id":"` + id + `"}`)}, nil
	}, attackOptions{name: "g", pacer: vegeta.ConstantPacer{Freq: 50, Per: time.Second}, duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(gen.Posted); n < 10 || n > 40 || len(gen.Answered) != n || len(gen.Failed()) != 0 {
		t.Errorf("generated %d, answered %d, failed %d", n, len(gen.Answered), len(gen.Failed()))
	}
}
