// Package journeys keeps the journeys a deployment runs: it validates and
// publishes definitions as immutable versions, moves journeys between
// draft, live, paused and archived, publishes the files in
// templates/journeys at start-up when their content changed, and hands
// dispatch, the scans and the activities the live set and pinned versions
// (cached: versions never change). The HTTP API and the CLI drive it; the
// journey language itself is internal/journey.
package journeys

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journey/cond"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// InternalEvents are event types memberflow records itself (they never
// come from storefronts) that journeys may trigger on: events.InternalTypes.
var InternalEvents = func() []string {
	var out []string
	for _, t := range events.InternalTypes() {
		out = append(out, string(t))
	}
	return out
}()

// Catalog is what validation needs of the email templates: the variables
// a template requires (an error when it does not exist). *mail.Catalog is
// the implementation.
type Catalog interface {
	Required(name string) ([]string, error)
}

// BaseVars are the variables every email has (activities.TemplateData).
var BaseVars = []string{"name", "brand", "shop_url", "unsubscribe_url"}

// RewardVars are the variables a step's reward gives its email.
func RewardVars(r *journey.Reward) []string {
	if r == nil {
		return nil
	}
	var out []string
	if r.Coupon != "" || r.BirthdayGift {
		out = append(out, "coupon_code", "coupon_name", "coupon_valid_until")
	}
	if r.Boost != nil {
		out = append(out, "boost_multiplier", "boost_until")
	}
	if r.Points > 0 {
		out = append(out, "points")
	}
	return out
}

// NewChecks is what publishing validates a definition against: the
// programme's coupons, the email catalog, the CEL environment, the event
// types and the member dates.
func NewChecks(p *loyalty.Program, cat Catalog, env *cond.Env) journey.Checks {
	evs := slices.Clone(InternalEvents)
	for _, t := range events.Types() {
		evs = append(evs, string(t))
	}
	return journey.Checks{
		Template: cat.Required,
		StandardVars: func(s journey.Step) []string {
			return append(slices.Clone(BaseVars), RewardVars(s.Reward)...)
		},
		Coupon:         func(kind string) bool { _, ok := p.Coupon(kind); return ok },
		Conditions:     conditions{env},
		EventTypes:     evs,
		DateAttributes: journey.MemberDates,
	}
}

// conditions adapts the CEL environment to what validation asks.
type conditions struct{ env *cond.Env }

func (c conditions) Compile(expr string, kind journey.CondKind, eventTypes []string) error {
	k, err := cond.ParseKind(string(kind))
	if err != nil {
		return err
	}
	_, err = c.env.Compile(expr, k, eventTypes)
	return err
}

// Service publishes journeys and serves their live set.
type Service struct {
	Store  store.Store
	Checks journey.Checks
	Now    func() time.Time // nil: time.Now
	// TTL is how long the live set is cached (default 10s): a publish or a
	// pause reaches dispatch within it.
	TTL time.Duration
	// Changed, when set, is told after a publish or a status change, with
	// the live set as it is now: the worker's and the API's hook that
	// keeps each journey's Temporal Schedule (scans, broadcasts) in step.
	// Its error is the caller's: the change is stored, the schedules are
	// not yet.
	Changed func(ctx context.Context, live []Live) error

	mu       sync.Mutex
	live     []Live
	listened map[string]bool
	loadedAt time.Time
	versions sync.Map // name#version → journey.Definition
}

// Live is a journey that takes (or, paused, holds) members: its state and
// the version new enrollments start on.
type Live struct {
	State      store.JourneyState
	Definition journey.Definition
	// Versions are every published version, newest first, when the live
	// set was read with them (LiveSet): an open enrollment keeps its
	// version's timing, which the scans plan for.
	Versions []journey.Definition
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Validate parses and validates a definition; the error is a
// *journey.ValidationError naming each problem's path, rule and line.
func (s *Service) Validate(src []byte) (journey.Definition, error) {
	return journey.Decode(src, s.Checks)
}

// Published is the outcome of a publish.
type Published struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Unchanged says the content equals the live version (shipped files
	// at start-up only): nothing was published.
	Unchanged bool `json:"unchanged,omitempty"`
	// OnOlderVersions is how many enrollments stay on the versions they
	// started on.
	OnOlderVersions int64 `json:"enrollments_on_older_versions"`
}

// Publish validates src and stores it as the journey's next version,
// which becomes live; by is who published it (a token fingerprint). A
// definition that fails validation writes nothing.
func (s *Service) Publish(ctx context.Context, src []byte, by string) (Published, error) {
	return s.publish(ctx, src, by, false)
}

func (s *Service) publish(ctx context.Context, src []byte, by string, onlyChanged bool) (Published, error) {
	def, err := s.Validate(src)
	if err != nil {
		return Published{}, err
	}
	for range 3 {
		st, err := s.Store.GetJourney(ctx, def.Name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Published{}, err
		}
		if onlyChanged && st.Live > 0 {
			cur, err := s.Version(ctx, def.Name, st.Live)
			if err != nil {
				return Published{}, err
			}
			if same(cur, def) {
				return Published{Name: def.Name, Version: st.Live, Unchanged: true}, nil
			}
		}
		def.Version = st.Latest + 1
		err = s.Store.PublishJourney(ctx, store.JourneyVersion{
			Name: def.Name, Version: def.Version, Definition: def, Source: string(src), PublishedAt: s.now(), PublishedBy: by,
		}, st.Latest)
		if errors.Is(err, store.ErrConflict) {
			continue // someone published meanwhile: the next number
		}
		if err != nil {
			return Published{}, fmt.Errorf("publish %s: %w", def.Name, err)
		}
		s.forget()
		if err := s.changed(ctx); err != nil {
			return Published{}, fmt.Errorf("publish %s: version %d is live, but its schedule is not: %w", def.Name, def.Version, err)
		}
		counters, err := s.Store.JourneyCounters(ctx, def.Name)
		if err != nil {
			return Published{}, err
		}
		return Published{Name: def.Name, Version: def.Version, OnOlderVersions: store.JourneyActive(counters)}, nil
	}
	return Published{}, loyalty.Errorf(loyalty.EConflict, "journey %s kept being published by someone else; try again", def.Name)
}

// same reports whether two definitions say the same (their versions
// aside).
func same(a, b journey.Definition) bool {
	a.Version, b.Version = 0, 0
	return string(a.Canonical()) == string(b.Canonical())
}

// PublishFiles publishes every journey file in dir of fsys (YAML or JSON)
// whose content differs from its live version, so `make run` and a deploy
// carry the shipped journeys. Every file is validated first; one that
// fails stops start-up with its problems, and nothing is published.
func (s *Service) PublishFiles(ctx context.Context, fsys fs.FS, dir string) ([]Published, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("journeys in %s: %w", dir, err)
	}
	var srcs [][]byte
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".json")) || strings.HasSuffix(name, ".schema.json") {
			continue
		}
		file := path.Join(dir, name)
		src, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		def, err := s.Validate(src)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		if want := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".yaml"), ".yml"), ".json"); def.Name != want {
			errs = append(errs, fmt.Errorf("%s: name: is %q, must be %q like the file", file, def.Name, want))
			continue
		}
		srcs = append(srcs, src)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var out []Published
	for _, src := range srcs {
		p, err := s.publish(ctx, src, "file", true)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Version returns one version's definition (cached: versions never
// change).
func (s *Service) Version(ctx context.Context, name string, version int) (journey.Definition, error) {
	key := fmt.Sprintf("%s#%d", name, version)
	if d, ok := s.versions.Load(key); ok {
		return d.(journey.Definition), nil
	}
	v, err := s.Store.GetJourneyVersion(ctx, name, version)
	if err != nil {
		return journey.Definition{}, fmt.Errorf("journey %s version %d: %w", name, version, err)
	}
	def := v.Definition
	def.Version = version
	s.versions.Store(key, def)
	return def, nil
}

// LiveSet returns the journeys that take or hold members (live and
// paused; archived and draft-only ones are left out), each with the
// version new enrollments start on. It is cached for TTL.
func (s *Service) LiveSet(ctx context.Context) ([]Live, error) {
	live, _, err := s.load(ctx)
	return live, err
}

// Listened is the event types some open enrollment may listen for: those
// of every version of the live and paused journeys (an enrollment keeps
// its version's exits, goal and waits). Dispatch reads no enrollments for
// other types. It is cached with the live set.
func (s *Service) Listened(ctx context.Context) (map[string]bool, error) {
	_, listened, err := s.load(ctx)
	return listened, err
}

func (s *Service) load(ctx context.Context) ([]Live, map[string]bool, error) {
	ttl := s.TTL
	if ttl == 0 {
		ttl = 10 * time.Second
	}
	s.mu.Lock()
	if !s.loadedAt.IsZero() && s.now().Sub(s.loadedAt) < ttl {
		live, listened := s.live, s.listened
		s.mu.Unlock()
		return live, listened, nil
	}
	s.mu.Unlock()
	states, err := s.Store.ListJourneys(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list journeys: %w", err)
	}
	var live []Live
	listened := map[string]bool{}
	for _, st := range states {
		if st.Live == 0 || (st.Status != journey.StatusLive && st.Status != journey.StatusPaused) {
			continue
		}
		def, err := s.Version(ctx, st.Name, st.Live)
		if err != nil {
			return nil, nil, err
		}
		versions, err := s.Store.ListJourneyVersions(ctx, st.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("versions of %s: %w", st.Name, err)
		}
		l := Live{State: st, Definition: def, Versions: make([]journey.Definition, 0, len(versions))}
		for _, v := range versions {
			d := v.Definition
			d.Version = v.Version
			l.Versions = append(l.Versions, d)
			for _, t := range engine.Listen(d) {
				listened[t] = true
			}
		}
		live = append(live, l)
	}
	s.mu.Lock()
	s.live, s.listened, s.loadedAt = live, listened, s.now()
	s.mu.Unlock()
	return live, listened, nil
}

// forget drops the cached live set, after a change made here.
func (s *Service) forget() {
	s.mu.Lock()
	s.loadedAt = time.Time{}
	s.mu.Unlock()
}

// Status changes a journey's status, if it is in one of from.
func (s *Service) Status(ctx context.Context, name string, from []journey.Status, to journey.Status) (store.JourneyState, error) {
	st, err := s.Store.SetJourneyStatus(ctx, name, from, to, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return st, loyalty.Errorf(loyalty.ENotFound, "journey %s not found", name)
	}
	if errors.Is(err, store.ErrConflict) {
		return st, loyalty.Errorf(loyalty.EConflict, "journey %s is %s: it can only be %s from %s", name, st.Status, to, statuses(from))
	}
	if err != nil {
		return st, err
	}
	s.forget()
	if err := s.changed(ctx); err != nil {
		return st, fmt.Errorf("journey %s is %s, but its schedule is not: %w", name, to, err)
	}
	return st, nil
}

// changed tells Changed about the live set after a change.
func (s *Service) changed(ctx context.Context) error {
	if s.Changed == nil {
		return nil
	}
	live, err := s.LiveSet(ctx)
	if err != nil {
		return err
	}
	return s.Changed(ctx, live)
}

func statuses(ss []journey.Status) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, " or ")
}
