package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/simulate"
	"github.com/memberflow/memberflow/internal/simulate/chart"
	"github.com/memberflow/memberflow/templates"
)

const simulateUsage = `usage:
  memberflow simulate FILE|NAME... [--members 1000] [--days 365] [--seed 1] [--start YYYY-MM-DD]
                      [--cohort members.csv] [--behaviour FILE] [--json] [--out DIR]

Runs the journeys (a YAML or JSON file, or the name of a shipped journey:
activation, birthday, tier_expiry, trial, winback, and the examples
member_day and svip_upsell) all live at once over a cohort in simulated
time, with the engine's own step code on an in-memory store, and prints a
report: enrollments, sends per step and per week, deferrals and skips by
reason, frequency-cap collisions between journeys, branch and split mix,
goals, reward cost and Temporal actions (Markdown, or JSON with --json).

  --members N        generated members (ignored with --cohort)
  --days D           simulated days from --start
  --seed S           the seed: the same seed gives the same report
  --start DATE       the first simulated day, midnight in the programme's zone (default today)
  --cohort FILE      members from a CSV with a header line:
                     member_id,registered,birthday,timezone,tier,consent[,email]
  --behaviour FILE   YAML or JSON overriding the behaviour model's defaults
  --json             the report as JSON
  --out DIR          also write DIR/report.md, DIR/report.json and DIR/sends-per-day.svg

Progress (simulated day, members, elapsed) shows on a terminal only. The last
line is "simulate: <members> members, <days> days, <sends> sends, <cost> <currency>
reward cost, <seconds> s" (on stderr with --json, so stdout stays JSON).
`

// simulateOptions are `memberflow simulate`'s arguments, checked.
type simulateOptions struct {
	Journeys  []string
	Members   int
	Days      int
	Seed      int64
	Start     string
	Cohort    string
	Behaviour string
	JSON      bool
	Out       string
}

func parseSimulateFlags(args []string, stderr io.Writer) (simulateOptions, error) {
	var o simulateOptions
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, simulateUsage) }
	fs.IntVar(&o.Members, "members", 1000, "generated members")
	fs.IntVar(&o.Days, "days", 365, "simulated days")
	fs.Int64Var(&o.Seed, "seed", 1, "seed")
	fs.StringVar(&o.Start, "start", "", "first simulated day, YYYY-MM-DD")
	fs.StringVar(&o.Cohort, "cohort", "", "cohort CSV")
	fs.StringVar(&o.Behaviour, "behaviour", "", "behaviour model file")
	fs.BoolVar(&o.JSON, "json", false, "JSON report")
	fs.StringVar(&o.Out, "out", "", "directory for report.md, report.json and the chart")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return o, err
	}
	o.Journeys = pos
	switch {
	case len(pos) == 0:
		fmt.Fprint(stderr, simulateUsage)
		return o, errors.New("simulate needs at least one journey: a FILE or the NAME of a shipped journey")
	case o.Members < 1 || o.Members > simulate.MaxMembers:
		return o, fmt.Errorf("--members: must be from 1 to %d, got %d", simulate.MaxMembers, o.Members)
	case o.Days < 1 || o.Days > simulate.MaxDays:
		return o, fmt.Errorf("--days: must be from 1 to %d, got %d", simulate.MaxDays, o.Days)
	}
	return o, nil
}

// simulateCmd is `memberflow simulate`.
func simulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) error {
	began := time.Now()
	o, err := parseSimulateFlags(args, stderr)
	if err != nil {
		return err
	}
	p, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		return err
	}
	start, err := simulateStart(o.Start, p, now())
	if err != nil {
		return err
	}
	defs, err := loadSimulatedJourneys(o.Journeys, p, stderr)
	if err != nil {
		return err
	}
	req := simulate.Request{Program: p, Journeys: defs, Members: o.Members, Start: start, Days: o.Days, Seed: o.Seed,
		Behaviour: simulate.DefaultBehaviour()}
	if o.Cohort != "" {
		f, err := os.Open(o.Cohort)
		if err != nil {
			return fmt.Errorf("--cohort: %w", err)
		}
		req.Cohort, err = simulate.ReadCohortCSV(f, p)
		f.Close()
		if err != nil {
			return fmt.Errorf("--cohort %s: %w", o.Cohort, err)
		}
	}
	if o.Behaviour != "" {
		src, err := os.ReadFile(o.Behaviour)
		if err != nil {
			return fmt.Errorf("--behaviour: %w", err)
		}
		if req.Behaviour, err = simulate.LoadBehaviour(src); err != nil {
			return fmt.Errorf("--behaviour %s: %w", o.Behaviour, err)
		}
	}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		req.Progress = func(pr simulate.Progress) {
			fmt.Fprintf(stderr, "\rsimulate: day %d/%d, %d members, %.1f s ", pr.Day, pr.Days, pr.Members, pr.Elapsed.Seconds())
			if pr.Day == pr.Days {
				fmt.Fprintln(stderr)
			}
		}
	}
	// The process does nothing else: trade memory for collector time.
	defer simulate.TuneGC()()
	r, _, err := simulate.Simulate(ctx, req)
	if err != nil {
		return err
	}
	var md, js bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		return err
	}
	if err := r.WriteJSON(&js); err != nil {
		return err
	}
	if o.Out != "" {
		if err := writeSimulation(o.Out, r, md.Bytes(), js.Bytes()); err != nil {
			return err
		}
	}
	final := r.FinalLine(time.Since(began))
	if o.JSON {
		if _, err := stdout.Write(js.Bytes()); err != nil {
			return err
		}
		fmt.Fprintln(stderr, final)
		return nil
	}
	if _, err := stdout.Write(md.Bytes()); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, final)
	return err
}

// simulateStart is --start as midnight in the programme's zone; today's
// when empty.
func simulateStart(s string, p *loyalty.Program, now time.Time) (time.Time, error) {
	if s == "" {
		d := now.In(p.Location)
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, p.Location), nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, p.Location)
	if err != nil {
		return time.Time{}, fmt.Errorf("--start: %q must be a date YYYY-MM-DD", s)
	}
	return t, nil
}

// loadSimulatedJourneys reads each argument — a file, or the name of a
// shipped journey — and validates it as publishing would; problems are
// printed to out (stderr: stdout is the report, JSON with --json) one a
// line, "file:path:line:column: rule".
func loadSimulatedJourneys(args []string, p *loyalty.Program, out io.Writer) ([]journey.Definition, error) {
	checks, err := simulate.Checks(p)
	if err != nil {
		return nil, err
	}
	shipped, err := simulate.Shipped()
	if err != nil {
		return nil, err
	}
	var defs []journey.Definition
	var problems int
	for _, arg := range args {
		src, ok := shipped[arg]
		label := arg
		if !ok {
			if src, err = os.ReadFile(arg); err != nil {
				if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(arg, `/\.`) {
					names := make([]string, 0, len(shipped))
					for n := range shipped {
						names = append(names, n)
					}
					slices.Sort(names)
					return nil, fmt.Errorf("%s: no such file, nor a shipped journey (%s)", arg, strings.Join(names, ", "))
				}
				return nil, err
			}
		} else {
			label = "journey " + arg
		}
		def, err := journey.Decode(src, checks)
		var ve *journey.ValidationError
		if errors.As(err, &ve) {
			for _, pr := range ve.Problems {
				fmt.Fprintf(out, "%s:%s:%d:%d: %s\n", label, pr.Path, pr.Line, pr.Column, pr.Rule)
			}
			problems += len(ve.Problems)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		if slices.ContainsFunc(defs, func(d journey.Definition) bool { return d.Name == def.Name }) {
			return nil, fmt.Errorf("%s: journey %s is named twice", label, def.Name)
		}
		defs = append(defs, def)
	}
	if problems > 0 {
		return nil, fmt.Errorf("the journeys have %d problem(s); nothing was simulated", problems)
	}
	return defs, nil
}

// writeSimulation writes the report and its chart into dir.
func writeSimulation(dir string, r *simulate.Report, md, js []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	var svg bytes.Buffer
	if err := chart.Write(&svg, r, "svg"); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"report.md": md, "report.json": js, chart.File: svg.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	return nil
}
