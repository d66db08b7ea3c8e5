package simulate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/templates"
)

// Limits of one simulation (the CLI's; the API's members are fewer).
const (
	MaxMembers = 1_000_000
	MaxDays    = 3650
)

// Request is one simulation as the CLI and the API ask for it: the
// journeys (validated), a cohort generated or given, the span, the seed
// and the behaviour model's parameters.
type Request struct {
	Program  *loyalty.Program
	Journeys []journey.Definition
	// Members is the size of the generated cohort; Cohort, when set, is
	// the cohort instead.
	Members   int
	Cohort    []Member
	Start     time.Time
	Days      int
	Seed      int64
	Behaviour BehaviourParams
	Progress  func(Progress)
}

// Simulate runs the request and reads its report.
func Simulate(ctx context.Context, req Request) (*Report, Outcome, error) {
	if req.Program == nil {
		return nil, Outcome{}, errors.New("simulate: no programme")
	}
	if len(req.Journeys) == 0 {
		return nil, Outcome{}, errors.New("simulate: no journey to simulate")
	}
	if req.Days < 1 || req.Days > MaxDays {
		return nil, Outcome{}, fmt.Errorf("simulate: days: must be from 1 to %d, got %d", MaxDays, req.Days)
	}
	members := req.Cohort
	if members == nil {
		if req.Members < 1 || req.Members > MaxMembers {
			return nil, Outcome{}, fmt.Errorf("simulate: members: must be from 1 to %d, got %d", MaxMembers, req.Members)
		}
		members = Generate(req.Members, req.Seed, req.Start, req.Days, req.Program)
	}
	b, err := NewBehaviour(req.Behaviour, req.Seed, req.Program, req.Journeys)
	if err != nil {
		return nil, Outcome{}, err
	}
	o, err := Run(ctx, Config{
		Program: req.Program, Journeys: req.Journeys, Members: members, Start: req.Start, Days: req.Days,
		Seed: req.Seed, Behaviour: b, Progress: req.Progress,
	})
	if err != nil {
		return nil, Outcome{}, err
	}
	r, err := NewReport(ctx, o)
	if err != nil {
		return nil, Outcome{}, err
	}
	return r, o, nil
}

// Checks is what a simulated journey is validated against, as publishing
// validates it: the programme's coupons, the email catalog, CEL.
func Checks(p *loyalty.Program) (journey.Checks, error) {
	cat, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		return journey.Checks{}, err
	}
	eng, err := engine.New(p)
	if err != nil {
		return journey.Checks{}, err
	}
	return journeys.NewChecks(p, cat, eng.Cond), nil
}

// Shipped is the journeys memberflow ships, by name: the lifecycles of
// templates/journeys and the examples of templates/journeys/examples.
func Shipped() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, dir := range []string{journeys.ShippedDir, path.Join(journeys.ShippedDir, "examples")} {
		entries, err := fs.ReadDir(templates.Journeys, dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".yaml") {
				continue
			}
			src, err := fs.ReadFile(templates.Journeys, path.Join(dir, name))
			if err != nil {
				return nil, err
			}
			out[strings.TrimSuffix(name, ".yaml")] = src
		}
	}
	return out, nil
}

// FinalLine is the line a simulation ends with: members, days, emails
// sent, reward cost in the programme's currency and the seconds it took,
// e.g. "simulate: 10000 members, 365 days, 41234 sends, 52310.40 CNY
// reward cost, 38.2 s".
func (r *Report) FinalLine(elapsed time.Duration) string {
	return fmt.Sprintf("simulate: %d members, %d days, %d sends, %s %s reward cost, %.1f s",
		r.Members.Total, r.Days, r.Totals.Sent, r.Totals.RewardCost.String(), r.Currency, elapsed.Seconds())
}
