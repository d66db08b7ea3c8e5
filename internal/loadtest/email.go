package loadtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// burstWorkers is how many posts of the burst are in flight at once:
// enough to keep two cores' worth of ingest busy.
const burstWorkers = 16

// emailPhase times member.registered → welcome email: cfg.Registrations
// paced at cfg.RegistrationRate, then cfg.Burst posted at once and the
// rate at which their welcomes drain.
func (r *runner) emailPhase(ctx context.Context) error {
	cfg := r.cfg
	if cfg.Registrations > 0 {
		name := fmt.Sprintf("email paced %d/s", cfg.RegistrationRate)
		evs, err := r.registrations("r", cfg.Registrations)
		if err != nil {
			return err
		}
		c0, counted := r.obs.counters(ctx)
		res, err := r.registerAndWait(ctx, name, evs, vegeta.ConstantPacer{Freq: cfg.RegistrationRate, Per: time.Second}, 0)
		if err != nil {
			return err
		}
		r.pacedRan, r.pacedP99 = true, res.lat.P99
		fmt.Fprintf(r.out, "email: %d registrations at %d/s (%.1f s): event→email p50 %s ms, p99 %s ms, max %s ms; posts p99 %s ms, status %s; welcomes %d\n",
			len(evs), cfg.RegistrationRate, res.posted.Seconds(), ms(res.lat.P50), ms(res.lat.P99), ms(res.lat.Max),
			ms(res.metrics.Latencies.P99), statusLine(res.metrics.StatusCodes), res.welcomed)
		if c1, ok := r.obs.counters(ctx); counted && ok {
			n := float64(len(evs))
			d, dd := callCost(c0, c1, "dynamodb", n)
			t, td := callCost(c0, c1, "temporal", n)
			fmt.Fprintf(r.out, "email: one registration costs %.1f DynamoDB operations (%s) and %.1f Temporal round trips (%s), webhook to outbox (stack counters over the paced run)\n", d, dd, t, td)
		} else {
			fmt.Fprintln(r.out, "email: cost per registration not measured: the stack serves no GET /debug/vars with memberflow_calls")
		}
	}
	if cfg.Burst > 0 {
		name := "email burst"
		evs, err := r.registrations("s", cfg.Burst)
		if err != nil {
			return err
		}
		res, err := r.registerAndWait(ctx, name, evs, vegeta.ConstantPacer{}, burstWorkers)
		if err != nil {
			return err
		}
		m := res.metrics
		drain := res.lastWelcome.Sub(res.started)
		fmt.Fprintf(r.out, "email: burst of %d registrations accepted in %.1f s (%.1f/s, posts p99 %s ms, status %s); %d welcomes, the last %.1f s after the first post: %.1f welcomes/s; event→email p50 %s ms, p99 %s ms, max %s ms\n",
			len(evs), res.posted.Seconds(), m.Throughput, ms(m.Latencies.P99), statusLine(m.StatusCodes),
			res.welcomed, drain.Seconds(), float64(res.welcomed)/drain.Seconds(), ms(res.lat.P50), ms(res.lat.P99), ms(res.lat.Max))
	}
	return nil
}

// registrations are n member.registered events of fresh members in group.
func (r *runner) registrations(group string, n int) ([]event, error) {
	now := time.Now()
	evs := make([]event, n)
	for i := range evs {
		var err error
		if evs[i], err = r.gen.registration(r.member(group, i), now, nil); err != nil {
			return nil, err
		}
	}
	return evs, nil
}

// registerResult is one registration run's figures.
type registerResult struct {
	metrics     vegeta.Metrics
	lat         vegeta.LatencyMetrics // answer → welcome in the outbox
	posted      time.Duration         // first post to last answer
	started     time.Time
	lastWelcome time.Time
	welcomed    int
}

// registerAndWait posts registrations and waits, bounded, for each
// accepted one's welcome email. Latency is the outbox's time of the
// message (from its file name) minus the time the post was answered.
func (r *runner) registerAndWait(ctx context.Context, name string, evs []event, pacer vegeta.Pacer, workers uint64) (registerResult, error) {
	var answered atomic.Int64
	stop := r.progress(name, func() string {
		welcomed := 0
		if seen, err := r.obs.welcomes(); err == nil {
			for _, ev := range evs {
				if len(seen[ev.Member]) > 0 {
					welcomed++
				}
			}
		}
		return fmt.Sprintf("posted %d of %d, welcomes %d", answered.Load(), len(evs), welcomed)
	})
	defer stop()
	rep, err := r.post.attack(ctx, evs, nil, attackOptions{
		name: name, pacer: pacer, workers: workers,
		onAnswer: func(n int) { answered.Store(int64(n)) },
	})
	if err != nil {
		return registerResult{}, fmt.Errorf("%s: %w", name, err)
	}
	r.sum.Events += rep.Delivered()
	res := registerResult{metrics: rep.Metrics, started: rep.Started, posted: rep.Metrics.Duration + rep.Metrics.Wait}
	answeredAt := rep.FirstAnswers()
	if len(answeredAt) == 0 {
		return res, fmt.Errorf("%s: none of %d posts was accepted (status %s)%s", name, rep.Metrics.Requests, statusLine(rep.Metrics.StatusCodes), r.stackLogHint())
	}
	want := map[string]time.Time{} // member → answered
	for _, ev := range evs {
		if a, ok := answeredAt[ev.ID]; ok {
			want[ev.Member] = a.at
		}
	}
	// Welcomes should drain at several per second; the bound allows two per
	// second (but at least two minutes) before calling the rest lost.
	deadline := time.Now().Add(max(2*time.Minute, time.Duration(len(want))*time.Second/2))
	var seen map[string][]time.Time
	for {
		seen, err = r.obs.welcomes()
		if err != nil {
			return res, err
		}
		n := 0
		for member := range want {
			if len(seen[member]) > 0 {
				n++
			}
		}
		if n == len(want) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	var lost []event
	var lats []time.Duration
	for _, ev := range evs {
		at, ok := want[ev.Member]
		if !ok {
			continue // never accepted: counted in the status line, not lost
		}
		got := seen[ev.Member]
		if len(got) == 0 {
			lost = append(lost, ev)
			continue
		}
		if len(got) > 1 {
			r.sum.Duplicated++
			fmt.Fprintf(r.out, "  %s: %s got %d welcome emails\n", name, ev.Member, len(got))
		}
		lats = append(lats, got[0].Sub(at))
		res.lastWelcome = maxTime(res.lastWelcome, got[0])
	}
	res.welcomed = len(lats)
	res.lat = latencies(lats)
	r.emailLatency = append(r.emailLatency, lats...)
	r.postpone(name, lost)
	return res, nil
}

// latencies summarises durations with vegeta's estimator, as its Metrics
// do for request latencies.
func latencies(ds []time.Duration) vegeta.LatencyMetrics {
	var l vegeta.LatencyMetrics
	for _, d := range ds {
		l.Add(d)
	}
	if len(ds) > 0 {
		l.Mean = l.Total / time.Duration(len(ds))
		l.P50, l.P90, l.P95, l.P99 = l.Quantile(0.5), l.Quantile(0.9), l.Quantile(0.95), l.Quantile(0.99)
	}
	return l
}

// quantile is latencies(ds).Quantile(q), 0 for no durations.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return latencies(ds).Quantile(q)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
