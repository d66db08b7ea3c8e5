package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/workflows"
)

// upsellPath is one way through svip_upsell: how a member is driven into
// it and the steps the enrollment must go through (anything else is a
// different path, usually a wait in seconds the machine was too busy
// for).
type upsellPath struct {
	name   string
	member string
	// events are posted at the order's moment; afterStart once the
	// enrollment's workflow runs (what its wait listens for).
	events     func(member string, order time.Time) []event
	afterStart func(member string) []event
	want       []string
	sends      int
}

// upsellPaths are the paths of svip_upsell one enrollment each measures.
// The branch's goto: end needs a member below V3 whose order was 500 or
// more: an order of 600 makes V3, and a refund of 200 within the wait
// takes the tier back to V2 at once (the ledger demotes on a refund).
var upsellPaths = []upsellPath{
	{
		name:   "offer: V3 (order 600.00), no trial within the wait → branch → svip_offer + FREE25",
		member: "m-cost-up-offer",
		events: func(m string, at time.Time) []event {
			return []event{orderPaid(m, "ord-"+m, "600.00", at)}
		},
		want: []string{"wait_trial", "check", "offer"}, sends: 1,
	},
	{
		name:   "trial: a trial started within the wait → ends at the wait",
		member: "m-cost-up-trial",
		events: func(m string, at time.Time) []event {
			return []event{orderPaid(m, "ord-"+m, "600.00", at)}
		},
		afterStart: func(m string) []event {
			return []event{trialStarted(m, time.Now(), time.Now().AddDate(0, 0, 14))}
		},
		want: []string{"wait_trial"},
	},
	{
		name:   "below V3: order 600.00, 200.00 refunded within the wait (V2) → branch → end",
		member: "m-cost-up-refund",
		events: func(m string, at time.Time) []event {
			return []event{orderPaid(m, "ord-"+m, "600.00", at), orderRefunded(m, "ord-"+m, "200.00", at.Add(time.Second))}
		},
		want: []string{"wait_trial", "check"},
	},
}

// upsell publishes svip_upsell through the API, as an operator would, and
// measures one enrollment per path, side by side.
func (r *runner) upsell(ctx context.Context, src string) ([]upsellRun, error) {
	if err := r.publish(ctx, src); err != nil {
		return nil, err
	}
	def, err := r.liveDefinition(ctx, svipUpsell)
	if err != nil {
		return nil, err
	}
	out := make([]upsellRun, len(upsellPaths))
	errs := make([]error, len(upsellPaths))
	var wg sync.WaitGroup
	for i, p := range upsellPaths {
		wg.Go(func() {
			out[i], errs[i] = r.upsellEnrollment(ctx, def, p)
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// upsellEnrollment drives one member through a path and counts its
// enrollment's actions.
func (r *runner) upsellEnrollment(ctx context.Context, def journey.Definition, p upsellPath) (upsellRun, error) {
	// A second ago, so the events after it (a refund a second later, a
	// trial) are not in the future.
	order := time.Now().Add(-2 * time.Second)
	evs := append([]event{registration(p.member, order.Add(-time.Minute), true, r.zone, "")}, p.events(p.member, order)...)
	if err := r.post(ctx, evs...); err != nil {
		return upsellRun{}, err
	}
	// An order-triggered journey a member may enter again is numbered by
	// the order's moment.
	id := workflows.JourneyWorkflowID(svipUpsell, p.member, journeys.Number(def, order))
	if p.afterStart != nil {
		if err := r.waitStarted(ctx, id); err != nil {
			return upsellRun{}, err
		}
		if err := r.post(ctx, p.afterStart(p.member)...); err != nil {
			return upsellRun{}, err
		}
	}
	h, res, err := r.journeyEnrollment(ctx, id)
	if err != nil {
		return upsellRun{}, err
	}
	if !slices.Equal(res.Path, p.want) || len(res.Sends) != p.sends {
		return upsellRun{}, fmt.Errorf("svip_upsell enrollment %s went through %v with %d sends, not the path's %v with %d (was the machine too busy for a wait in seconds?)", id, res.Path, len(res.Sends), p.want, p.sends)
	}
	return upsellRun{path: p.name, h: h, res: res}, nil
}

// publish publishes a journey definition through the HTTP API.
func (r *runner) publish(ctx context.Context, src string) error {
	header := http.Header{}
	header.Set("Authorization", "Bearer "+adminToken)
	return r.call(ctx, "publish journey", "/v1/journeys", []byte(src), header, http.StatusCreated)
}

// liveDefinition is the live version of the journey.
func (r *runner) liveDefinition(ctx context.Context, name string) (journey.Definition, error) {
	live, err := r.s.Activities.Journeys.LiveSet(ctx)
	if err != nil {
		return journey.Definition{}, fmt.Errorf("live journeys: %w", err)
	}
	for _, l := range live {
		if l.Definition.Name == name {
			return l.Definition, nil
		}
	}
	return journey.Definition{}, fmt.Errorf("journey %s is not live after its publish", name)
}
