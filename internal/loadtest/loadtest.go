// Package loadtest is `memberflow load` (`make load`): figures of the local
// stack under load, measured with vegeta's attack library against a stack
// it starts (or one already running on loopback). Three phases, each
// bounded in count and time:
//
//  1. ingest: signed orders at a target rate for a duration — events/s
//     accepted, 202 latency, errors by status — and how long dispatch
//     takes to apply them;
//  2. email: member.registered → welcome email in the outbox, paced and
//     as a burst, with the drain rate of welcomes;
//  3. exactly once: the same member histories delivered (a) once in
//     causal order, (b) shuffled with 30% duplicates from 8 concurrent
//     clients, (c) like (b) while the stack is killed with SIGKILL and
//     restarted midway; every member of (b) and (c) must end equal to its
//     twin in (a), with one welcome email, and every account's balances
//     must equal the sum of its ledger entries.
//
// It ends with one line: `load: <n> events, <r> events/s, ingest p99 <ms>
// ms, event→email p99 <ms> ms, lost <n>, duplicated <n>, mismatched <n>`.
package loadtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	journey "github.com/memberflow/memberflow/internal/journey/v1"
	"github.com/memberflow/memberflow/internal/localstack"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/store/dynamo"
	"github.com/memberflow/memberflow/templates"
)

// Config says what to run and against which stack. A zero count or rate
// skips its phase.
type Config struct {
	// Binary is the memberflow executable whose `run` starts the stack,
	// Root the checkout it runs in (bin/temporal, .local/tools) and Env its
	// environment; the stack's ports, data directory, secret, token and
	// table are added to it.
	Binary string
	Root   string
	Env    []string
	// URL is a stack already running on loopback; empty starts one.
	// DataDir (its outbox is DataDir/outbox) and DynamoDB (its endpoint)
	// locate the rest of that stack.
	URL      string
	DataDir  string
	DynamoDB string
	Table    string
	// WebhookSecret signs the events (source "storefront"); AdminToken
	// reads members.
	WebhookSecret string
	AdminToken    string

	// Rate events per second for Duration: the ingest phase.
	Rate     int
	Duration time.Duration
	// Registrations are posted RegistrationRate per second and each
	// timed to its welcome email; then Burst more at once for the drain.
	Registrations    int
	RegistrationRate int
	Burst            int
	// Members is the number of members per delivery of the exactly-once
	// scenario (four events each).
	Members int
	// Keep leaves the started stack's data directory (outbox, logs) in place.
	Keep bool
	// Seed makes the shuffles and duplicates repeatable; 0 picks one.
	Seed uint64
	// Out receives the progress and figures.
	Out io.Writer
}

// Summary is what a run found.
type Summary struct {
	Events          int           // posts made, duplicates and retries included
	EventsPerSecond float64       // accepted per second in the ingest phase
	IngestP99       time.Duration // of the ingest phase's answers
	EmailP99        time.Duration // member.registered answered → welcome in the outbox
	Lost            int           // answered 200/202, effect missing at the deadline
	Duplicated      int           // members with two welcomes or a ledger key twice
	Mismatched      int           // members unlike their twin, or with balances ≠ entries
	// Mismatches are examples (the first few) of what differed.
	Mismatches []Mismatch
	// Twins is the number of members of the exactly-once phase (every
	// delivery), Welcomed how many of them have exactly one welcome email.
	Twins, Welcomed int
}

// Line is the run's last line.
func (s Summary) Line() string {
	return fmt.Sprintf("load: %d events, %.1f events/s, ingest p99 %s ms, event→email p99 %s ms, lost %d, duplicated %d, mismatched %d",
		s.Events, s.EventsPerSecond, ms(s.IngestP99), ms(s.EmailP99), s.Lost, s.Duplicated, s.Mismatched)
}

// Failed reports whether anything was lost, duplicated or mismatched.
func (s Summary) Failed() bool { return s.Lost+s.Duplicated+s.Mismatched > 0 }

// runner holds one run's state.
type runner struct {
	cfg    Config
	out    io.Writer
	gen    generator
	post   *poster
	obs    *observer
	stack  *stackProcess // nil with --url
	prefix string        // member ids of this run start with it
	rng    *rand.Rand
	sum    Summary
	// emailLatency are all registrations' answer → welcome latencies
	// (the headline when the paced phase did not run).
	emailLatency []time.Duration
	pacedP99     time.Duration
	pacedRan     bool
	// killedAt is when delivery (c) killed the stack.
	killedAt time.Time
	// overdue are effects not seen within their phase's bound.
	overdue []event
}

// Run runs the phases the configuration asks for and returns the summary;
// an error means the run itself could not be completed (the stack did not
// start, a phase's posts could not be made), not that a figure was bad.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	cfg.Out = cmp.Or[io.Writer](cfg.Out, io.Discard)
	cfg.Table = cmp.Or(cfg.Table, "memberflow")
	if cfg.RegistrationRate <= 0 {
		cfg.RegistrationRate = 10
	}
	prog, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		return Summary{}, err
	}
	shipped, err := journey.Shipped(prog)
	if err != nil {
		return Summary{}, err
	}
	act, ok := shipped[journey.Activation]
	if !ok || len(act.Steps) == 0 || act.Steps[0].Email == "" {
		return Summary{}, errors.New("the shipped activation journey has no first email to time")
	}
	zone, err := localstack.DaytimeZone(time.Now())
	if err != nil {
		return Summary{}, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	r := &runner{
		cfg: cfg, out: cfg.Out,
		gen:    generator{prog: prog, zone: zone},
		prefix: "ld" + strconv.FormatInt(time.Now().Unix()%(36*36*36*36*36*36), 36),
		rng:    rand.New(rand.NewPCG(seed, seed>>1|1)),
	}

	base, ddb, outboxDir := cfg.URL, cfg.DynamoDB, filepath.Join(cfg.DataDir, "outbox")
	if cfg.URL == "" {
		if r.stack, err = newStackProcess(cfg.Binary, cfg.Root, cfg.Env, cfg.WebhookSecret, cfg.AdminToken, cfg.Table); err != nil {
			return Summary{}, err
		}
		defer func() {
			r.stack.stop()
			if cfg.Keep {
				fmt.Fprintf(r.out, "load: kept the stack's data in %s\n", r.stack.dataDir)
			} else {
				os.RemoveAll(r.stack.dataDir)
			}
		}()
		fmt.Fprintf(r.out, "load: starting %s run on %s (data %s)\n", cfg.Binary, r.stack.URL, r.stack.dataDir)
		t0 := time.Now()
		if err := r.stack.start(ctx); err != nil {
			return Summary{}, err
		}
		fmt.Fprintf(r.out, "load: stack healthy after %.1f s\n", time.Since(t0).Seconds())
		base, ddb, outboxDir = r.stack.URL, r.stack.DynamoDB, filepath.Join(r.stack.dataDir, "outbox")
	} else {
		if err := checkLoopback(cfg.URL); err != nil {
			return Summary{}, err
		}
		if err := checkLoopback(cfg.DynamoDB); err != nil {
			return Summary{}, fmt.Errorf("DynamoDB endpoint: %w", err)
		}
		if !healthy(ctx, cfg.URL) {
			return Summary{}, fmt.Errorf("%s/healthz does not answer 200: is `make run` running?", cfg.URL)
		}
	}
	client, err := dynamo.NewClient(ctx, ddb, "")
	if err != nil {
		return Summary{}, err
	}
	r.post = &poster{base: base, secret: []byte(cfg.WebhookSecret)}
	r.obs = &observer{
		base: base, token: cfg.AdminToken,
		outbox: &outbox.Sink{Dir: outboxDir}, welcome: act.Steps[0].Email,
		store: dynamo.New(client, cfg.Table), client: &http.Client{Timeout: 30 * time.Second},
	}
	fmt.Fprintf(r.out, "load: members %s-*, time zone %s (daytime now: no quiet-hours deferral), seed %d\n", r.prefix, zone, seed)

	if cfg.Rate > 0 && cfg.Duration > 0 {
		if err := r.ingestPhase(ctx); err != nil {
			return r.sum, err
		}
	}
	if cfg.Registrations > 0 || cfg.Burst > 0 {
		if err := r.emailPhase(ctx); err != nil {
			return r.sum, err
		}
	}
	if cfg.Members > 0 {
		if err := r.exactlyOncePhase(ctx); err != nil {
			return r.sum, err
		}
	}
	r.checkOverdue(ctx)
	if r.pacedRan {
		r.sum.EmailP99 = r.pacedP99
	} else {
		r.sum.EmailP99 = quantile(r.emailLatency, 0.99)
	}
	for _, m := range r.sum.Mismatches {
		fmt.Fprintln(r.out, "  mismatch:", m)
	}
	fmt.Fprintln(r.out, r.sum.Line())
	return r.sum, nil
}

// progress prints a line every 5 seconds until the returned stop is called.
func (r *runner) progress(phase string, line func() string) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(r.out, "  [%s] %s, %.0f s\n", phase, line(), time.Since(start).Seconds())
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// member is the id of member i of a group of this run ("ldxxxx-a-0007").
func (r *runner) member(group string, i int) string {
	return fmt.Sprintf("%s-%s-%04d", r.prefix, group, i)
}

// stackLogHint points at the started stack's log, for an error message.
func (r *runner) stackLogHint() string {
	if r.stack == nil {
		return ""
	}
	return "; last lines of " + r.stack.logPath() + ":\n" + tail(r.stack.logPath(), 10)
}
