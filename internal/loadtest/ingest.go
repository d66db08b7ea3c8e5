package loadtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/memberflow/memberflow/internal/loyalty"
)

// ordersPerMember is how many of the ingest phase's orders share a member.
const ordersPerMember = 10

// ingestPhase posts signed orders at cfg.Rate for cfg.Duration and then
// waits, bounded, until dispatch has applied every accepted one.
func (r *runner) ingestPhase(ctx context.Context) error {
	cfg := r.cfg
	planned := cfg.Rate * int(cfg.Duration/time.Second)
	members := max(1, planned/ordersPerMember)
	fmt.Fprintf(r.out, "ingest: posting signed order.paid events at %d/s for %s (%d members)\n", cfg.Rate, cfg.Duration, members)
	var answered atomic.Int64
	stop := r.progress("ingest", func() string { return fmt.Sprintf("answered %d of ~%d", answered.Load(), planned) })
	actx, cancel := context.WithTimeout(ctx, cfg.Duration+time.Minute)
	rep, err := r.post.attack(actx, nil, func(n int) (event, error) {
		return r.gen.ingestOrder(r.prefix, n, members, time.Now())
	}, attackOptions{
		name: "ingest", pacer: vegeta.ConstantPacer{Freq: cfg.Rate, Per: time.Second}, duration: cfg.Duration,
		onAnswer: func(n int) { answered.Store(int64(n)) },
	})
	cancel()
	stop()
	if err != nil {
		return fmt.Errorf("ingest phase: %w", err)
	}
	m := rep.Metrics
	r.sum.Events += int(m.Requests)
	r.sum.EventsPerSecond = m.Throughput
	r.sum.IngestP99 = m.Latencies.P99
	fmt.Fprintf(r.out, "ingest: %d events at %d/s for %s: %.1f events/s accepted; latency p50 %s ms, p99 %s ms, max %s ms; status %s\n",
		m.Requests, cfg.Rate, cfg.Duration, m.Throughput, ms(m.Latencies.P50), ms(m.Latencies.P99), ms(m.Latencies.Max), statusLine(m.StatusCodes))

	if len(rep.Answered) == 0 {
		return fmt.Errorf("ingest phase: none of %d posts was accepted (status %s)%s", m.Requests, statusLine(m.StatusCodes), r.stackLogHint())
	}
	var accepted []event
	for i := range rep.Answered {
		accepted = append(accepted, rep.Posted[i])
	}
	// Dispatch should keep up with ingest; the bound allows it a fifth of
	// the rate (but at least two minutes) before calling the rest lost.
	limit := max(2*time.Minute, time.Duration(len(accepted))*time.Second/max(1, time.Duration(cfg.Rate)/5))
	missing, last := r.waitApplied(ctx, "ingest drain", accepted, nil, limit)
	took := last.Sub(rep.Started)
	fmt.Fprintf(r.out, "ingest: dispatch applied %d of %d accepted orders %.1f s after the first post (%.1f events/s end to end)\n",
		len(accepted)-len(missing), len(accepted), took.Seconds(), float64(len(accepted)-len(missing))/took.Seconds())
	r.reportLost("ingest", missing, nil)
	return nil
}

// reportLost counts events whose effect never showed and prints a few.
func (r *runner) reportLost(phase string, missing []event, detail func(event) string) {
	r.sum.Lost += len(missing)
	for i, ev := range missing {
		if i == 5 {
			fmt.Fprintf(r.out, "  %s: … and %d more lost\n", phase, len(missing)-5)
			break
		}
		more := ""
		if detail != nil {
			more = detail(ev)
		}
		fmt.Fprintf(r.out, "  %s: lost %s (%s of %s): answered, but its effect never showed%s\n", phase, ev.ID, ev.Type, ev.Member, more)
	}
}

// waitApplied polls the table until every event's effect is there
// (registrations projected and, when welcomes is given, their welcome
// email in the outbox; orders in the account; refunds on their order) or
// limit passes. It returns the events still missing and when the last
// one was seen applied.
func (r *runner) waitApplied(ctx context.Context, phase string, evs []event, welcomes map[string]bool, limit time.Duration) (missing []event, last time.Time) {
	byMember := map[string][]event{}
	for _, ev := range evs {
		byMember[ev.Member] = append(byMember[ev.Member], ev)
	}
	total := len(evs)
	var done atomic.Int64
	stop := r.progress(phase, func() string { return fmt.Sprintf("applied %d of %d", done.Load(), total) })
	defer stop()
	deadline := time.Now().Add(limit)
	last = time.Now()
	for {
		var outbox map[string][]time.Time
		if welcomes != nil {
			var err error
			if outbox, err = r.obs.welcomes(); err != nil {
				fmt.Fprintf(r.out, "  [%s] %v\n", phase, err)
			}
		}
		for member, pending := range byMember {
			if ctx.Err() != nil {
				break
			}
			var needMember, needAccount bool
			for _, ev := range pending {
				needMember = needMember || ev.OrderID == ""
				needAccount = needAccount || ev.OrderID != ""
			}
			// A registration counts once the member is projected and,
			// when asked, welcomed.
			projected := false
			if needMember && (!welcomes[member] || len(outbox[member]) > 0) {
				_, err := r.obs.store.GetMember(ctx, member)
				projected = err == nil
			}
			var a loyalty.Account
			var found bool
			if needAccount {
				var err error
				if a, found, err = r.obs.account(ctx, member); err != nil {
					continue
				}
			}
			var still []event
			for _, ev := range pending {
				if !applied(ev, projected, a, found) {
					still = append(still, ev)
				}
			}
			if len(still) < len(pending) {
				last = time.Now()
				done.Add(int64(len(pending) - len(still)))
			}
			if len(still) == 0 {
				delete(byMember, member)
			} else {
				byMember[member] = still
			}
		}
		if len(byMember) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	for _, pending := range byMember {
		missing = append(missing, pending...)
	}
	return missing, last
}
