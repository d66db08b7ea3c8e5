package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"testing"

	"github.com/memberflow/memberflow/events"
)

// benchMix is the events of one benchmark batch, by type: orders dominate a
// storefront's traffic, with the rest of the catalogue in smaller numbers.
var benchMix = []struct {
	typ events.Type
	n   int
}{
	{events.OrderPaid, 10},
	{events.OrderRefunded, 2},
	{events.MemberRegistered, 3},
	{events.MemberCheckedIn, 3},
	{events.ReviewPosted, 2},
	{events.ContentShared, 1},
	{events.MemberProfileUpdated, 1},
	{events.WalletToppedUp, 1},
	{events.SubscriptionRenewed, 1},
	{events.SubscriptionTrialStarted, 1},
}

// benchStamp is where each request's serial number goes in every id of a
// benchmark body, so that every request records new events, as a live
// storefront's do, instead of answering duplicates from the second on.
const benchStamp = "000000000000"

// benchBody is a compact request body built from the samples: one event of
// typ, or the whole mix as a batch. Ids carry benchStamp.
func benchBody(b *testing.B, batch bool) (body []byte, n int) {
	b.Helper()
	var objs []map[string]any
	add := func(typ events.Type) {
		raw, err := events.Sample(typ)
		if err != nil {
			b.Fatal(err)
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			b.Fatal(err)
		}
		i := len(objs)
		obj["id"] = fmt.Sprintf("evt-%s-%02d", benchStamp, i)
		obj["member_id"] = fmt.Sprintf("m-%s-%02d", benchStamp, i%7)
		if data, _ := obj["data"].(map[string]any); data != nil && data["order_id"] != nil {
			data["order_id"] = fmt.Sprintf("ord-%s-%02d", benchStamp, i)
		}
		objs = append(objs, obj)
	}
	if !batch {
		add(events.OrderPaid)
		body, err := json.Marshal(objs[0])
		if err != nil {
			b.Fatal(err)
		}
		return body, 1
	}
	for _, m := range benchMix {
		for range m.n {
			add(m.typ)
		}
	}
	body, err := json.Marshal(objs)
	if err != nil {
		b.Fatal(err)
	}
	return body, len(objs)
}

// stamper rewrites the serial number in every id of a body in place.
type stamper struct {
	body []byte
	at   []int
}

func newStamper(body []byte) *stamper {
	s := &stamper{body: body}
	for off := 0; ; {
		i := bytes.Index(body[off:], []byte(benchStamp))
		if i < 0 {
			return s
		}
		s.at = append(s.at, off+i)
		off += i + len(benchStamp)
	}
}

func (s *stamper) stamp(serial int) []byte {
	var buf [len(benchStamp)]byte
	d := strconv.AppendInt(buf[:0], int64(serial), 10)
	for _, at := range s.at {
		copy(s.body[at:at+len(benchStamp)], benchStamp)
		copy(s.body[at+len(benchStamp)-len(d):], d)
	}
	return s.body
}

// BenchmarkIngest measures POST /v1/events through the real handler:
// signature check, schema and arithmetic validation, and recording on the
// in-memory store (so the figure is the handler's own work, not DynamoDB's
// latency). Every request carries new ids. Signing each body (the
// storefront's share, one HMAC-SHA256 like the check) is inside the timed
// loop; it is under 1% of the figure. Run it with -cpu 1 for a per-core
// figure: events/s/core divides by GOMAXPROCS and wall time; events/cpu-s
// divides by the CPU time the process used, the figure to trust on a busy
// machine.
func BenchmarkIngest(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch bool
	}{
		{"single", false},
		{"batch", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body, n := benchBody(b, bc.batch)
			st := newStamper(body)
			h, _ := newHandler()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			serial := 0
			cpu0, cpuKnown := processCPU()
			for b.Loop() {
				serial++
				body := st.stamp(serial)
				rec := post(h, body, signed(body, now))
				if rec.Code != http.StatusAccepted {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
			cpu1, _ := processCPU()
			evs := float64(serial * n)
			b.ReportMetric(evs/(b.Elapsed().Seconds()*float64(runtime.GOMAXPROCS(0))), "events/s/core")
			if cpuKnown {
				// The same figure by the CPU time the process used, which
				// other work on the machine does not inflate.
				b.ReportMetric(evs/(cpu1-cpu0).Seconds(), "events/cpu-s")
			}
		})
	}
}
