package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/memberflow/memberflow/internal/ingest"
)

// source is the webhook source the local stack knows (MEMBERFLOW_WEBHOOK_SECRET).
const source = "storefront"

// poster posts events to /v1/events with vegeta's attacker.
type poster struct {
	base   string // the stack's URL
	secret []byte
}

// attackOptions shape one attack: a pacer (vegeta.ConstantPacer{} is "as
// fast as the workers go"), a fixed number of concurrent workers (0 lets
// vegeta add workers up to 64 to hold the pace), and an optional limit
// on the attack's length for an endless feed.
type attackOptions struct {
	name     string
	pacer    vegeta.Pacer
	workers  uint64
	duration time.Duration
	// onAnswer is called, on the results goroutine, after each answer
	// with the number answered so far.
	onAnswer func(answered int)
	// giveUpAfter, when set, ends the attack after that many consecutive
	// posts got no HTTP answer at all (refused while the stack is down):
	// the rest are left for the next round instead of being refused one
	// by one.
	giveUpAfter int
}

// attackReport is what an attack did.
type attackReport struct {
	Metrics vegeta.Metrics
	// Posted are the events posted, in the order the targeter handed
	// them out (for an endless feed, the ones generated).
	Posted []event
	// Answered is when each post (index into Posted) got 200 or 202.
	Answered map[int]time.Time
	// Status is each post's last status (0: no answer).
	Status map[int]int
	// Started is when the first post went out.
	Started time.Time
}

// Delivered is the number of posts the stack answered with any status
// (refused connections are not counted as events posted).
func (r attackReport) Delivered() int {
	return int(r.Metrics.Requests) - r.Metrics.StatusCodes["0"]
}

// Failed are the posts that got neither 200 nor 202, or were not made.
func (r attackReport) Failed() []event {
	var out []event
	for i, ev := range r.Posted {
		if _, ok := r.Answered[i]; !ok {
			out = append(out, ev)
		}
	}
	return out
}

// answer is how and when an event was first answered 200 or 202.
type answer struct {
	at     time.Time
	status int
}

// FirstAnswers is each event id's first 200 or 202.
func (r attackReport) FirstAnswers() map[string]answer {
	out := make(map[string]answer, len(r.Answered))
	for i, at := range r.Answered {
		id := r.Posted[i].ID
		if prev, ok := out[id]; !ok || at.Before(prev.at) {
			out[id] = answer{at: at, status: r.Status[i]}
		}
	}
	return out
}

// attack posts events, one per request: the fixed list evs, or when gen
// is set an endless feed gen(0), gen(1), … Each is signed as vegeta's
// worker takes it, so the signature is fresh however long the attack
// runs, and its index rides in the target URL's fragment, which HTTP never
// sends, so every vegeta Result names the post it answers. The attack
// stops at the end of the list, after opts.duration, or when ctx ends.
func (p *poster) attack(ctx context.Context, evs []event, gen func(n int) (event, error), opts attackOptions) (attackReport, error) {
	endpoint := p.base + "/v1/events"
	var (
		next   atomic.Int64
		mu     sync.Mutex
		posted = slices.Clone(evs)
		genErr error
	)
	targeter := func(t *vegeta.Target) error {
		n := int(next.Add(1) - 1)
		var ev event
		if gen != nil {
			var err error
			if ev, err = gen(n); err != nil {
				mu.Lock()
				genErr = err
				mu.Unlock()
				return err
			}
			mu.Lock()
			for len(posted) <= n {
				posted = append(posted, event{})
			}
			posted[n] = ev
			mu.Unlock()
		} else {
			if n >= len(evs) {
				return vegeta.ErrNoTargets
			}
			ev = evs[n]
		}
		t.Method, t.URL, t.Body = http.MethodPost, endpoint+"#"+strconv.Itoa(n), ev.Body
		t.Header = http.Header{
			"Content-Type":         {"application/json"},
			ingest.HeaderSource:    {source},
			ingest.HeaderSignature: {ingest.Sign(p.secret, time.Now(), ev.Body)},
		}
		return nil
	}
	vopts := []func(*vegeta.Attacker){
		vegeta.Timeout(30 * time.Second),
		vegeta.KeepAlive(true),
		vegeta.Redirects(vegeta.NoFollow),
		// Loopback only: never through a proxy from the environment.
		vegeta.Proxy(func(*http.Request) (*url.URL, error) { return nil, nil }),
	}
	if opts.workers > 0 {
		vopts = append(vopts, vegeta.Workers(opts.workers), vegeta.MaxWorkers(opts.workers), vegeta.Connections(int(opts.workers)))
	} else {
		vopts = append(vopts, vegeta.MaxWorkers(64))
	}
	atk := vegeta.NewAttacker(vopts...)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	rep := attackReport{Answered: map[int]time.Time{}, Status: map[int]int{}, Started: time.Now()}
	answered, refused := 0, 0
	var resultErr error
	for res := range atk.Attack(vegeta.Targeter(targeter), opts.pacer, opts.duration, opts.name) {
		if res.Method == "" {
			continue // the targeter ran dry (or failed): no request was made
		}
		rep.Metrics.Add(res)
		i, err := postIndex(res.URL)
		if err != nil {
			resultErr = err
			continue
		}
		rep.Status[i] = int(res.Code)
		if refused = refused + 1; res.Code != 0 {
			refused = 0
		}
		if opts.giveUpAfter > 0 && refused >= opts.giveUpAfter {
			atk.Stop()
		}
		if res.Code == http.StatusOK || res.Code == http.StatusAccepted {
			if prev, ok := rep.Answered[i]; !ok || res.End().Before(prev) {
				rep.Answered[i] = res.End()
			}
		}
		answered++
		if opts.onAnswer != nil {
			opts.onAnswer(answered)
		}
	}
	rep.Metrics.Close()
	mu.Lock()
	rep.Posted = posted
	err := genErr
	mu.Unlock()
	if err == nil {
		err = resultErr
	}
	return rep, err
}

// postIndex reads the post's index back from the target URL's fragment.
func postIndex(target string) (int, error) {
	_, frag, ok := strings.Cut(target, "#")
	if !ok {
		return 0, fmt.Errorf("vegeta result for %s names no post", target)
	}
	return strconv.Atoi(frag)
}

// statusLine prints status counts as "202×2990 200×3 0×7", most frequent
// first; 0 is no answer at all (refused, reset, timeout).
func statusLine(codes map[string]int) string {
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if codes[a] != codes[b] {
			return codes[b] - codes[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, codes[k])
	}
	return strings.Join(parts, " ")
}

// ms prints a duration in whole milliseconds.
func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
