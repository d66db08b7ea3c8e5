// Package journeyfix builds the journeys' Control over a store for tests
// of the layers above it (the HTTP API, the CLI): the real journeys
// service, checking definitions against the shipped programme, email
// catalog and CEL engine, the real enroller and ledger, on a clock the
// test moves, with a Runner that records what it is asked instead of
// starting Temporal workflows.
package journeyfix

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/testenv/ledgerfix"
	"github.com/memberflow/memberflow/templates"
)

// Fixture is a Control and the parts it is built of.
type Fixture struct {
	Store    store.Store
	Ledger   *ledger.Service
	Service  *journeys.Service
	Enroller *journeys.Enroller
	Control  *journeys.Control
	Runner   *Runner
	Clock    *Clock
}

// New builds a Fixture over st at start. Control pages through
// enrollments two at a time, so a test with a few of them pages.
func New(t testing.TB, st store.Store, start time.Time) *Fixture {
	t.Helper()
	clock := &Clock{now: start}
	ldg := ledgerfix.Service(t, st)
	ldg.Now = clock.Now
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	svc, eng, err := journeys.New(st, ldg.Rules.Program, catalog)
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = clock.Now
	runner := &Runner{}
	enr := &journeys.Enroller{Store: st, Engine: eng, Runner: runner, Now: clock.Now}
	return &Fixture{
		Store: st, Ledger: ldg, Service: svc, Enroller: enr, Runner: runner, Clock: clock,
		Control: &journeys.Control{Journeys: svc, Enroller: enr, Store: st, Ledger: ldg, Now: clock.Now, Page: 2},
	}
}

// PublishShipped publishes the journeys in templates/journeys, as the
// binaries do at start-up.
func (f *Fixture) PublishShipped(t testing.TB) {
	t.Helper()
	if _, err := f.Service.PublishFiles(context.Background(), templates.Journeys, journeys.ShippedDir); err != nil {
		t.Fatal(err)
	}
}

// Clock is a time the test sets.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Signalled is one SignalEnrollment call.
type Signalled struct {
	WorkflowID string
	Signal     journeys.Signal
}

// Runner records the workflows it is asked to start and signal
// (journeys.Runner). Fail, when set, is the error for a workflow id.
type Runner struct {
	mu      sync.Mutex
	starts  []journeys.Start
	signals []Signalled
	Fail    map[string]error
}

// StartEnrollment records s.
func (r *Runner) StartEnrollment(_ context.Context, s journeys.Start) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.Fail[s.WorkflowID]; err != nil {
		return err
	}
	r.starts = append(r.starts, s)
	return nil
}

// SignalEnrollment records the signal.
func (r *Runner) SignalEnrollment(_ context.Context, workflowID string, s journeys.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.Fail[workflowID]; err != nil {
		return err
	}
	r.signals = append(r.signals, Signalled{WorkflowID: workflowID, Signal: s})
	return nil
}

// Starts are the starts recorded so far.
func (r *Runner) Starts() []journeys.Start {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.starts)
}

// Signals are the signals recorded so far.
func (r *Runner) Signals() []Signalled {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.signals)
}
