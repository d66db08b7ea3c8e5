package loadtest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

const (
	// duplicateShare of the events of deliveries (b) and (c) is posted twice.
	duplicateShare = 0.3
	// clients is the number of concurrent clients of deliveries (b) and
	// (c): one vegeta attack with that many workers taking posts from one
	// shuffled list, as that many storefront clients would.
	clients = 8
	// maxExamples bounds the mismatches kept for the report.
	maxExamples = 10
	// quietFor is how long every member's documents must stay unchanged.
	quietFor = 3 * time.Second
)

// exactlyOncePhase delivers the same member histories three ways and
// compares the outcomes.
func (r *runner) exactlyOncePhase(ctx context.Context) error {
	n := r.cfg.Members
	ht := newHistoryTimes(r.gen.prog, time.Now())
	groups := []string{"a", "b", "c"}
	if r.stack == nil {
		groups = groups[:2]
	}
	hist := map[string][][]event{}
	var all []event
	for _, g := range groups {
		for i := range n {
			h, err := r.gen.history(r.member(g, i), i, ht)
			if err != nil {
				return err
			}
			hist[g] = append(hist[g], h)
			all = append(all, h...)
		}
	}
	fmt.Fprintf(r.out, "exactly-once: %d members per delivery, each registered %s, two orders and a partial refund by line (%s … %s)\n",
		n, ht.registered.Format("2006-01-02"), ht.first.Format("2006-01-02"), ht.refunded.Format("2006-01-02"))

	// (a) once, in causal order: one wave per event of the history, each
	// applied before the next is posted, so dispatch cannot reorder them.
	t0 := time.Now()
	answered := map[string]answer{}
	statuses := map[string]int{}
	for w := range 4 {
		var wave []event
		for _, h := range hist["a"] {
			wave = append(wave, h[w])
		}
		d, err := r.deliver(ctx, fmt.Sprintf("(a) wave %d", w+1), wave, false, 2*time.Minute)
		if err != nil {
			return err
		}
		maps.Copy(answered, d.answered)
		addCounts(statuses, d.statuses)
		if missing, _ := r.waitApplied(ctx, fmt.Sprintf("(a) wave %d", w+1), answeredOnly(wave, d.answered), nil, 2*time.Minute+time.Duration(len(wave))*100*time.Millisecond); len(missing) > 0 {
			fmt.Fprintf(r.out, "exactly-once (a): %d events of wave %d not applied within the bound; the next wave goes anyway\n", len(missing), w+1)
		}
	}
	fmt.Fprintf(r.out, "exactly-once (a): %d events in causal order, 4 waves, %.1f s; status %s\n", 4*n, time.Since(t0).Seconds(), statusLine(statuses))

	// (b) shuffled, 30% duplicates, 8 concurrent clients.
	plan := withDuplicates(r.rng, flatten(hist["b"]), duplicateShare)
	d, err := r.deliver(ctx, "(b)", plan, false, 3*time.Minute)
	if err != nil {
		return err
	}
	maps.Copy(answered, d.answered)
	fmt.Fprintf(r.out, "exactly-once (b): %d posts (%d events, %d duplicates) shuffled from %d clients in %.1f s, %d round(s): %.1f posts/s answered, latency p50 %s ms, p99 %s ms, max %s ms; status %s\n",
		d.posts, 4*n, len(plan)-4*n, clients, d.took.Seconds(), d.rounds, d.first.Throughput,
		ms(d.first.Latencies.P50), ms(d.first.Latencies.P99), ms(d.first.Latencies.Max), statusLine(d.statuses))
	if r.sum.EventsPerSecond == 0 {
		// No ingest phase ran: the headline is 8 clients posting flat out.
		r.sum.EventsPerSecond, r.sum.IngestP99 = d.first.Throughput, d.first.Latencies.P99
	}

	// (c) like (b), with the stack killed and restarted midway.
	if r.stack != nil {
		plan := withDuplicates(r.rng, flatten(hist["c"]), duplicateShare)
		d, err := r.deliver(ctx, "(c)", plan, true, 5*time.Minute)
		if err != nil {
			return err
		}
		maps.Copy(answered, d.answered)
		fmt.Fprintf(r.out, "exactly-once (c): %d posts (%d events, %d duplicates) from %d clients, %d more refused while the stack was down and made again; SIGKILL of the stack after %d answers, healthy again %.1f s later; %d round(s), %.1f s; status %s\n",
			d.delivered, 4*n, len(plan)-4*n, clients, d.posts-d.delivered, len(plan)/2, d.restart.Seconds(), d.rounds, d.took.Seconds(), statusLine(d.statuses))
	} else {
		fmt.Fprintln(r.out, "exactly-once (c): skipped: it kills the stack with SIGKILL, and --url names a stack this run did not start")
	}

	// Wait for every effect (projection, welcome, orders, refund), then
	// for the documents to stop changing.
	welcomes := map[string]bool{}
	var effects []event
	for _, ev := range all {
		welcomes[ev.Member] = true
		if _, ok := answered[ev.ID]; ok {
			effects = append(effects, ev)
		}
	}
	t1 := time.Now()
	limit := 2*time.Minute + time.Duration(len(welcomes))*250*time.Millisecond
	missing, _ := r.waitApplied(ctx, "exactly-once effects", effects, welcomes, limit)
	r.reportLost("exactly-once", missing, func(ev event) string {
		a := answered[ev.ID]
		when := a.at.UTC().Format("15:04:05.000")
		if !r.killedAt.IsZero() {
			when = fmt.Sprintf("%+.3f s from the SIGKILL", a.at.Sub(r.killedAt).Seconds())
		}
		return fmt.Sprintf(" (answered %d at %s)", a.status, when)
	})
	// Registration answered → welcome, for the headline when no email
	// phase ran; (c) is left out, its figures include the restart.
	if outbox, err := r.obs.welcomes(); err == nil {
		for _, g := range []string{"a", "b"} {
			for _, h := range hist[g] {
				if a, ok := answered[h[0].ID]; ok && len(outbox[h[0].Member]) > 0 {
					r.emailLatency = append(r.emailLatency, outbox[h[0].Member][0].Sub(a.at))
				}
			}
		}
	}
	quiet := r.waitQuiet(ctx, slices.Sorted(maps.Keys(welcomes)), time.Minute)
	fmt.Fprintf(r.out, "exactly-once: every effect in place %.1f s after the last post; documents unchanged for %s: %t\n", time.Since(t1).Seconds(), quietFor, quiet)

	return r.compare(ctx, groups, n)
}

// delivery is what delivering one plan took.
type delivery struct {
	answered map[string]answer // event ids answered 200 or 202
	statuses map[string]int    // over every round
	first    vegeta.Metrics    // of the first round
	posts    int               // made, refused ones included
	// delivered are the posts the stack answered (any status).
	delivered int
	rounds    int
	took      time.Duration
	restart   time.Duration // from SIGKILL to healthy again
}

// deliver posts plan from the concurrent clients and retries, round after
// round, every post that got neither 200 nor 202 (a 200 duplicate counts as
// delivered), until all are delivered or limit passes, which is an error:
// the scenario cannot be judged on events that never arrived. With kill the
// stack's process group gets SIGKILL when half the posts are answered
// and is started again, on the same data and ports, while the clients
// go on retrying.
func (r *runner) deliver(ctx context.Context, name string, plan []event, kill bool, limit time.Duration) (delivery, error) {
	d := delivery{answered: map[string]answer{}, statuses: map[string]int{}}
	start := time.Now()
	deadline := start.Add(limit)
	var (
		restarted   chan error
		restartTook time.Duration
		once        sync.Once
		answered    atomic.Int64
		round       atomic.Int64
	)
	stop := r.progress(name, func() string {
		return fmt.Sprintf("round %d, answered %d of %d", round.Load(), answered.Load(), len(plan))
	})
	defer stop()
	pending := plan
	for backoff := 250 * time.Millisecond; len(pending) > 0; backoff = min(2*backoff, 2*time.Second) {
		d.rounds++
		round.Store(int64(d.rounds))
		opts := attackOptions{name: name, pacer: vegeta.ConstantPacer{}, workers: clients, giveUpAfter: 2 * clients}
		opts.onAnswer = func(n int) { answered.Store(int64(n)) }
		if kill && d.rounds == 1 {
			half := len(plan) / 2
			opts.onAnswer = func(n int) {
				answered.Store(int64(n))
				if n < half {
					return
				}
				once.Do(func() {
					killedAt := time.Now()
					r.killedAt = killedAt
					fmt.Fprintf(r.out, "  [%s] SIGKILL to the stack's process group after %d of %d answers at %s\n", name, n, len(plan), time.Now().UTC().Format(time.RFC3339Nano))
					r.stack.kill()
					restarted = make(chan error, 1)
					go func() {
						err := r.stack.start(ctx)
						restartTook = time.Since(killedAt)
						restarted <- err
					}()
				})
			}
		}
		rep, err := r.post.attack(ctx, pending, nil, opts)
		if err != nil {
			return d, fmt.Errorf("exactly-once %s: %w", name, err)
		}
		d.posts += int(rep.Metrics.Requests)
		d.delivered += rep.Delivered()
		addCounts(d.statuses, rep.Metrics.StatusCodes)
		if d.rounds == 1 {
			d.first = rep.Metrics
		}
		for id, a := range rep.FirstAnswers() {
			if prev, ok := d.answered[id]; !ok || a.at.Before(prev.at) {
				d.answered[id] = a
			}
		}
		pending = rep.Failed()
		if len(pending) == 0 || ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
	r.sum.Events += d.delivered
	d.took = time.Since(start)
	if restarted != nil {
		if err := <-restarted; err != nil {
			return d, fmt.Errorf("exactly-once %s: restart after SIGKILL: %w", name, err)
		}
		d.restart = restartTook
	}
	if len(pending) > 0 {
		return d, fmt.Errorf("exactly-once %s: %d of %d posts not answered 200 or 202 after %d rounds in %s (status %s)%s",
			name, len(pending), len(plan), d.rounds, d.took.Round(time.Second), statusLine(d.statuses), r.stackLogHint())
	}
	return d, nil
}

// waitQuiet waits until no member projection or account of members changes
// for quietFor, at most limit; it reports whether that happened.
func (r *runner) waitQuiet(ctx context.Context, members []string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	snapshot := func() map[string]int64 {
		s := make(map[string]int64, 2*len(members))
		for _, m := range members {
			if p, err := r.obs.store.GetMember(ctx, m); err == nil {
				s["m:"+m] = p.Version
			}
			if a, found, err := r.obs.account(ctx, m); err == nil && found {
				s["a:"+m] = a.Version
			}
		}
		return s
	}
	prev := snapshot()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(quietFor)
		cur := snapshot()
		if maps.Equal(prev, cur) {
			return true
		}
		prev = cur
	}
	return false
}

// compare checks every member of (b) and (c) against its twin in (a),
// every member's welcome count, and every account against its entries.
func (r *runner) compare(ctx context.Context, groups []string, n int) error {
	standings := map[string]standing{}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	ids := make(chan string)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				s, err := r.obs.standing(ctx, id)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				standings[id] = s
				mu.Unlock()
			}
		}()
	}
	for _, g := range groups {
		for i := range n {
			ids <- r.member(g, i)
		}
	}
	close(ids)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("exactly-once: %w", firstErr)
	}
	welcomes, err := r.obs.welcomes()
	if err != nil {
		return err
	}

	fields := map[string]int{}
	mismatched, twins := 0, 0
	keep := func(ms []Mismatch) {
		for _, m := range ms {
			if len(r.sum.Mismatches) < maxExamples {
				r.sum.Mismatches = append(r.sum.Mismatches, m)
			}
		}
	}
	duplicated := 0
	for _, g := range groups {
		for i := range n {
			id := r.member(g, i)
			bad, dup := false, false
			if g != "a" {
				twins++
				twin := r.member("a", i)
				if ms := compareTwins(id, twin, standings[id], standings[twin]); len(ms) > 0 {
					bad = true
					for _, m := range ms {
						fields[m.Field]++
					}
					keep(ms)
				}
			}
			switch c := len(welcomes[id]); {
			case c == 1:
				r.sum.Welcomed++
			case c > 1:
				dup = true
				fmt.Fprintf(r.out, "  exactly-once: %s got %d welcome emails: %s\n", id, c, strings.Join(r.obs.welcomeKeys(id), "; "))
			}
			a, found, err := r.obs.account(ctx, id)
			if err != nil {
				return fmt.Errorf("exactly-once: %w", err)
			}
			if found {
				es, err := r.obs.entries(ctx, id)
				if err != nil {
					return fmt.Errorf("exactly-once: %w", err)
				}
				ms, keys := ledgerCheck(id, a, es)
				if len(ms) > 0 {
					bad = true
					fields[ms[0].Field]++
					keep(ms)
				}
				if len(keys) > 0 {
					dup = true
					fmt.Fprintf(r.out, "  exactly-once: %s has ledger keys twice: %s\n", id, strings.Join(keys, ", "))
				}
			}
			if bad {
				mismatched++
			}
			if dup {
				duplicated++
			}
		}
	}
	r.sum.Mismatched += mismatched
	r.sum.Duplicated += duplicated
	r.sum.Twins += len(groups) * n
	var byField []string
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		byField = append(byField, fmt.Sprintf("%s ×%d", f, fields[f]))
	}
	line := fmt.Sprintf("exactly-once: %d twins compared with (a), %d accounts checked against their entries, %d of %d members with exactly one welcome: %d members mismatched, %d duplicated",
		twins, len(groups)*n, r.sum.Welcomed, r.sum.Twins, mismatched, duplicated)
	if len(byField) > 0 {
		line += fmt.Sprintf(" (fields: %s)", strings.Join(byField, ", "))
	}
	fmt.Fprintln(r.out, line)
	return nil
}

// flatten is every member's events, member after member.
func flatten(hist [][]event) []event {
	var out []event
	for _, h := range hist {
		out = append(out, h...)
	}
	return out
}

// addCounts adds status counts into sum.
func addCounts(sum, add map[string]int) {
	for k, v := range add {
		sum[k] += v
	}
}

// answeredOnly are the events of evs whose id was answered 200 or 202.
func answeredOnly(evs []event, answered map[string]answer) []event {
	var out []event
	for _, ev := range evs {
		if _, ok := answered[ev.ID]; ok {
			out = append(out, ev)
		}
	}
	return out
}
