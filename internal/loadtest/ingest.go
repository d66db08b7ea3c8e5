package loadtest

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/memberflow/memberflow/events"
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
	r.sum.Events += rep.Delivered()
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
	r.postpone("ingest", missing)
	return nil
}

// postpone keeps events whose effect did not show within their phase's
// bound: a slow stack is not a lossy one, so they are checked once more at
// the end of the run, and only those still missing then are lost.
func (r *runner) postpone(phase string, missing []event) {
	if len(missing) == 0 {
		return
	}
	fmt.Fprintf(r.out, "%s: %d effects not there within the phase's bound; checked again at the end of the run\n", phase, len(missing))
	r.overdue = append(r.overdue, missing...)
}

// checkOverdue looks once more for the effects postponed by earlier phases.
func (r *runner) checkOverdue(ctx context.Context) {
	if len(r.overdue) == 0 {
		return
	}
	welcomes := map[string]bool{}
	for _, ev := range r.overdue {
		if ev.Type == events.MemberRegistered {
			welcomes[ev.Member] = true
		}
	}
	missing, _ := r.waitApplied(ctx, "overdue", r.overdue, welcomes, 0)
	fmt.Fprintf(r.out, "load: %d of %d postponed effects arrived late (after their phase's bound), %d never did\n", len(r.overdue)-len(missing), len(r.overdue), len(missing))
	r.reportLost("load", missing, nil)
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
//
// Polling reads DynamoDB Local, which the stack under test shares, so each
// pass is a probe: members in the order their last event was posted,
// stopping at the third one not yet complete (dispatch works through the
// stream roughly in that order). Only the pass at the deadline reads every
// member still pending, to name exactly what is missing.
func (r *runner) waitApplied(ctx context.Context, phase string, evs []event, welcomes map[string]bool, limit time.Duration) (missing []event, last time.Time) {
	pending := map[string][]event{}
	var order []string // by the position of the member's last event
	for _, ev := range evs {
		if _, ok := pending[ev.Member]; ok {
			order = slices.DeleteFunc(order, func(m string) bool { return m == ev.Member })
		}
		pending[ev.Member] = append(pending[ev.Member], ev)
		order = append(order, ev.Member)
	}
	total := len(evs)
	var done atomic.Int64
	stop := r.progress(phase, func() string { return fmt.Sprintf("applied %d of %d", done.Load(), total) })
	defer stop()
	deadline := time.Now().Add(limit)
	last = time.Now()
	for final := false; ; {
		final = final || time.Now().After(deadline) || ctx.Err() != nil
		var outbox map[string][]time.Time
		if welcomes != nil {
			var err error
			if outbox, err = r.obs.welcomes(); err != nil {
				fmt.Fprintf(r.out, "  [%s] %v\n", phase, err)
			}
		}
		blocked := 0
		for _, member := range order {
			if (blocked == 3 && !final) || ctx.Err() != nil {
				break
			}
			evs := pending[member]
			if len(evs) == 0 {
				continue
			}
			still := r.unapplied(ctx, member, evs, welcomes[member], len(outbox[member]) > 0)
			if len(still) < len(evs) {
				last = time.Now()
				done.Add(int64(len(evs) - len(still)))
			}
			pending[member] = still
			if len(still) > 0 {
				blocked++
			}
		}
		order = slices.DeleteFunc(order, func(m string) bool { return len(pending[m]) == 0 })
		if len(order) == 0 || final {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	for _, m := range order {
		missing = append(missing, pending[m]...)
	}
	return missing, last
}

// unapplied are the member's events whose effect is not in the table yet.
// A registration counts once the member is projected and, when wantWelcome,
// has its welcome email.
func (r *runner) unapplied(ctx context.Context, member string, evs []event, wantWelcome, welcomed bool) []event {
	var needMember, needAccount bool
	for _, ev := range evs {
		needMember = needMember || ev.OrderID == ""
		needAccount = needAccount || ev.OrderID != ""
	}
	projected := false
	if needMember && (!wantWelcome || welcomed) {
		_, err := r.obs.store.GetMember(ctx, member)
		projected = err == nil
	}
	var a loyalty.Account
	var found bool
	if needAccount {
		var err error
		if a, found, err = r.obs.account(ctx, member); err != nil {
			return evs
		}
	}
	var still []event
	for _, ev := range evs {
		if !applied(ev, projected, a, found) {
			still = append(still, ev)
		}
	}
	return still
}
