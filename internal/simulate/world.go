package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/dispatch"
	"github.com/memberflow/memberflow/internal/ingest"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/internal/unsubscribe"
	"github.com/memberflow/memberflow/templates"
	"github.com/memberflow/memberflow/workflows"
)

// EventSource is the source the simulated members' events are recorded
// under.
const EventSource = "simulate"

// world is one simulation's object graph, built as the worker and the
// functions build theirs (the ledger, the journeys and their engine, the
// enroller, the activities, dispatch) on the in-memory store, and the
// members' side of it: their events, recorded and dispatched as ingest
// and the stream do, and the email provider, which hands each email to
// the member's behaviour and feeds their reaction back.
type world struct {
	ctx  context.Context
	cfg  Config
	host host
	st   *memstore.Store

	acts     *activities.Activities
	ledger   *ledger.Service
	journeys *journeys.Service
	enroller *journeys.Enroller
	dispatch *dispatch.Handler
	parser   events.Parser

	members map[string]Member
	// mu guards emails and messages: the sends of Temporal's test
	// environment (the equivalence test) run in parallel.
	mu       sync.Mutex
	emails   []Email
	messages int
}

// host is where a world's workflows run and its time passes: the
// simulator's scheduler (sim), or in the equivalence test Temporal's own
// test environment. It starts and signals enrollments (journeys.Runner)
// and the workflows activities start (activities.WorkflowStarter).
type host interface {
	now() time.Time
	// at does do at t; what is due at one instant is done in the order
	// it was asked for.
	at(t time.Time, do func() error)
	// fire runs a Temporal Schedule's action for its nominal time.
	fire(o client.ScheduleOptions, nominal time.Time) error
	journeys.Runner
	activities.WorkflowStarter
}

var discard = slog.New(slog.DiscardHandler)

// checkConfig names the first field of cfg that cannot be simulated.
func checkConfig(cfg Config) error {
	switch {
	case cfg.Program == nil:
		return errors.New("simulate: config program: is required")
	case cfg.Behaviour == nil:
		return errors.New("simulate: config behaviour: is required")
	case cfg.Days < 1:
		return fmt.Errorf("simulate: config days: is %d, must be at least 1", cfg.Days)
	case cfg.Start.IsZero():
		return errors.New("simulate: config start: is required")
	}
	return nil
}

func newWorld(ctx context.Context, cfg Config, h host) (*world, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	w := &world{ctx: ctx, cfg: cfg, host: h, st: memstore.New(), members: make(map[string]Member, len(cfg.Members))}
	for i, m := range cfg.Members {
		if m.ID == "" {
			return nil, fmt.Errorf("simulate: members[%d].id: is required", i)
		}
		if _, dup := w.members[m.ID]; dup {
			return nil, fmt.Errorf("simulate: members[%d].id: %s is given twice", i, m.ID)
		}
		w.members[m.ID] = m
	}
	now := h.now
	secret := []byte("memberflow-simulation-" + strconv.FormatInt(cfg.Seed, 10))
	w.ledger = &ledger.Service{Rules: &loyalty.Rules{Program: cfg.Program, CodeSecret: secret}, Store: w.st, Log: discard, Now: now}
	catalog, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		return nil, err
	}
	svc, eng, err := journeys.New(w.st, cfg.Program, catalog)
	if err != nil {
		return nil, err
	}
	// The live set does not change during a run.
	svc.Now, svc.TTL = now, 1<<62
	w.journeys = svc
	seen := map[string]bool{}
	for i, def := range cfg.Journeys {
		if seen[def.Name] {
			return nil, fmt.Errorf("simulate: journeys[%d].name: %s is given twice", i, def.Name)
		}
		seen[def.Name] = true
		def.Version = 0
		err := w.st.PublishJourney(ctx, store.JourneyVersion{Name: def.Name, Definition: def, Source: string(def.Canonical()),
			PublishedAt: cfg.Start, PublishedBy: "simulate"}, 0)
		if err != nil {
			return nil, fmt.Errorf("simulate: publish journey %s: %w", def.Name, err)
		}
	}
	w.enroller = &journeys.Enroller{Store: w.st, Engine: eng, Runner: h, Now: now}
	links, err := unsubscribe.NewSigner(secret)
	if err != nil {
		return nil, err
	}
	w.acts = &activities.Activities{Store: w.st, Ledger: w.ledger, Mailer: mailer{w}, Templates: catalog,
		Brand: activities.Brand{Name: "Shop", ShopURL: "https://shop.example.com"}, Links: links, PublicURL: "https://memberflow.example.com",
		Log: discard, Now: now, Workflows: h, TaskQueue: workflows.DefaultTaskQueue,
		Engine: eng, Journeys: svc, Enroller: w.enroller,
		WebhookSecret: activities.WebhookSecret(secret), HTTP: &http.Client{Transport: webhookSink{}}, Unpaced: true}
	w.dispatch = &dispatch.Handler{Store: w.st, Ledger: w.ledger, Journeys: svc, Enroller: w.enroller, Log: discard, Now: now}
	w.parser = events.Parser{Rules: ingest.ProgramRules(cfg.Program)}
	return w, nil
}

// end is the first instant after the simulation.
func (w *world) end() time.Time {
	return w.cfg.Start.Add(time.Duration(w.cfg.Days) * 24 * time.Hour)
}

// start asks the host for the members' planned events and the schedules'
// runs.
func (w *world) start() error {
	end := w.end()
	if h, ok := w.cfg.Behaviour.(Historian); ok {
		if err := w.history(h); err != nil {
			return err
		}
	}
	for _, m := range w.cfg.Members {
		for _, ev := range w.cfg.Behaviour.Plan(m, w.cfg.Start, end) {
			w.host.at(ev.OccurredAt, func() error { return w.event(ev) })
		}
	}
	live, err := w.journeys.LiveSet(w.ctx)
	if err != nil {
		return err
	}
	scheds, err := schedules(w.ctx, live)
	if err != nil {
		return err
	}
	for _, o := range scheds {
		times, err := fireTimes(o.Spec, w.cfg.Start, end)
		if err != nil {
			return fmt.Errorf("simulate: schedule %s: %w", o.ID, err)
		}
		for _, t := range times {
			w.host.at(t.Add(jitter(w.cfg.Seed, o.ID, t, o.Spec.Jitter)), func() error { return w.host.fire(o, t) })
		}
	}
	return nil
}

// event records a member's event as ingest does (validated against the
// programme, once per id) and dispatches it.
func (w *world) event(ev events.Envelope) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("simulate: event %s: %w", ev.ID, err)
	}
	parsed, err := w.parser.ParseBatch(w.ctx, body)
	if err != nil {
		return fmt.Errorf("simulate: event %s of member %s: %w", ev.ID, ev.MemberID, err)
	}
	e := parsed[0]
	res, err := w.st.PutEvents(w.ctx, []store.RecordedEvent{{Source: EventSource, ID: e.ID, Type: string(e.Type), MemberID: e.MemberID,
		OccurredAt: e.OccurredAt, ReceivedAt: w.host.now(), Payload: e.Raw, Digest: e.Digest}})
	switch {
	case err != nil:
		return err
	case len(res.Conflicts) > 0:
		return fmt.Errorf("simulate: event %s of member %s: its id was used before for another event", ev.ID, ev.MemberID)
	case len(res.Accepted) == 0:
		return nil // a duplicate, as ingest answers it
	}
	if err := w.dispatch.Apply(w.ctx, EventSource, e.Raw); err != nil {
		return fmt.Errorf("simulate: dispatch event %s of member %s: %w", ev.ID, ev.MemberID, err)
	}
	return nil
}

// mailer is the email provider: it records the email, asks the member's
// behaviour for their reaction, and feeds it back as SendGrid's events
// and the member's later events would come back.
type mailer struct{ w *world }

func (m mailer) Send(_ context.Context, msg mail.Message) (mail.SendResult, error) {
	w := m.w
	n, _ := strconv.Atoi(msg.CustomArgs["enrollment"])
	now := w.host.now()
	e := Email{MemberID: msg.MemberID, Journey: msg.CustomArgs["journey"], Step: msg.CustomArgs["step"], Template: msg.Template,
		Key: msg.IdempotencyKey, Enrollment: n, At: now}
	w.mu.Lock()
	w.messages++
	id := "sim-" + strconv.Itoa(w.messages)
	w.emails = append(w.emails, e)
	w.mu.Unlock()
	r := w.cfg.Behaviour.OnEmail(w.members[msg.MemberID], e)
	w.host.at(now, func() error { return w.feedback(e, id, r) })
	for _, ev := range r.Events {
		w.host.at(ev.OccurredAt, func() error { return w.event(ev) })
	}
	return mail.SendResult{MessageID: id, StatusCode: http.StatusAccepted}, nil
}

// feedback records the provider's events about an email as the SendGrid
// event webhook does: delivered, and opened and clicked as the member
// reacted.
func (w *world) feedback(e Email, messageID string, r Reaction) error {
	types := []string{store.EventDelivered}
	if r.Opened || r.Clicked {
		types = append(types, store.EventOpen)
	}
	if r.Clicked {
		types = append(types, store.EventClick)
	}
	for _, typ := range types {
		err := w.st.RecordSendEvent(w.ctx, store.SendEvent{ID: messageID + "-" + typ, MemberID: e.MemberID, SendKey: e.Key,
			Journey: e.Journey, Step: e.Step, Enrollment: e.Enrollment, Type: typ, At: e.At, MessageID: messageID})
		if err != nil && !errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("simulate: feedback on %s: %w", e.Key, err)
		}
	}
	return nil
}

// webhookSink answers a journey's webhook posts without sending them:
// nothing leaves a simulation.
type webhookSink struct{}

func (webhookSink) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusNoContent, Status: "204 No Content", Body: http.NoBody,
		Header: http.Header{}, Request: req, ProtoMajor: 1, ProtoMinor: 1, Proto: "HTTP/1.1"}, nil
}
