// Package shopseed gives a test store a simulated shop's members and
// ledgers with the code dispatch runs on each recorded event (the
// projection, then the ledger), many members at once: through the webhook
// and the stream it would take minutes on DynamoDB Local.
package shopseed

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/dispatch"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/eventfix"
	"github.com/memberflow/memberflow/internal/testenv/shopfix"
)

// Seed applies each customer's registration (made by register) and then
// their orders, oldest first, as order.paid events shaped like a
// storefront's; customers run 16 at a time.
func Seed(t *testing.T, st store.Store, l *ledger.Service, shop []shopfix.Customer, register func(c shopfix.Customer) map[string]any) {
	t.Helper()
	ctx := context.Background()
	apply := func(obj map[string]any) error {
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		envs, err := events.ParseBatch(b)
		if err != nil {
			return err
		}
		env := envs[0]
		data, err := env.DecodeData()
		if err != nil {
			return err
		}
		m, err := dispatch.Project(ctx, st, env, data)
		if err != nil {
			return err
		}
		_, err = l.ApplyEventTo(ctx, &m, env, data)
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(shop))
	sem := make(chan struct{}, 16)
	for _, c := range shop {
		reg := register(c) // on the test's goroutine: it may call t.Fatal
		orders := make([]map[string]any, len(c.Orders))
		for i, o := range c.Orders {
			orders[i] = eventfix.OrderPaid(t, c.ID, fmt.Sprintf("%s-o%d", c.ID, i), o.Amount.StringFixed(2), o.At)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := apply(reg); err != nil {
				errs <- fmt.Errorf("%s: %w", c.ID, err)
				return
			}
			for i, o := range orders {
				if err := apply(o); err != nil {
					errs <- fmt.Errorf("%s order %d: %w", c.ID, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
