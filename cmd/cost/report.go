package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/cost"
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/workflows"
)

// The reference incidence, per member and year.
const (
	newMemberShare = 0.20 // members who register (an activation enrollment)
	trialShare     = 0.10 // members who start a paid trial
	winbackShare   = 0.20 // members who enter win-back
)

// What the histories cannot show, assumed.
const (
	// quietShare of the event-driven journeys' emails fall in the member's
	// quiet hours (registrations and trials started in the evening) and
	// wait once, inside the enrollment's workflow.
	quietShare = 0.30
	// capShare of calendar emails meet a full frequency cap and wait in a
	// JourneyDeferredStep workflow.
	capShare = 0.05
	// demoteShare of tier reviews would demote: those members get the
	// three warnings (d30, d7, d1); the others are only scanned.
	demoteShare = 0.20
)

// runsPerYear is how often each hourly schedule runs.
const runsPerYear = 365 * 24

// referenceMembers is the member count the fixed hourly cost is spread
// over in the per-member figure.
const referenceMembers = 1_000_000

// line is one row of the yearly model.
type line struct {
	what, incidence string
	each            float64 // actions per occurrence
	perMember       float64 // actions per member and year
	how             string
}

// budget is the most the lifecycles may cost, in actions per member and
// year (the figure README.md's cost model gave the first engine; lower is
// the goal). make cost fails above it.
const budget = 4.10

// roundCents is f to two decimals, as the report prints it: the budget is
// checked on the printed figure.
func roundCents(f float64) float64 { return math.Round(f*100) / 100 }

// report prints the tables and returns the total actions per member and
// year.
func report(out io.Writer, m *measured) (float64, error) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	// An email that waits inside an enrollment's workflow costs what the
	// deferred step's workflow does beyond its start and its bookkeeping:
	// the timer and the step run again.
	inFlow := float64(m.deferredStep.Timers + m.deferredStep.ran["RunStep"])
	empty := m.emptyRun[birthday]
	perBatch := float64(empty.ran["ScanJourney"] + empty.Heartbeats)
	perScanned := perBatch / float64(m.maxMembers)

	p("# Temporal Cloud actions of memberflow's lifecycles")
	p("")
	p("Measured by `make cost` on the Temporal dev server (%s): each lifecycle ran on the journey engine with its delays in seconds and the histories were counted with Temporal Cloud's billing rules (internal/cost).", time.Now().UTC().Format(time.DateOnly))
	p("Heartbeats are not in a history: each ScanJourney and SweepLedger attempt is counted as one (the SDK sends the first heartbeat at once and throttles the rest to 80%% of the 2-minute heartbeat timeout, so an attempt under 96 s sends one).")
	p("")
	p("## Per lifecycle")
	p("")
	p("| lifecycle | path | actions | per member acted on | counted |")
	p("|---|---|---:|---:|---|")
	row := func(name, path string, h history, members int) {
		per := "—"
		if members > 0 {
			per = fmt.Sprintf("%.3f (%d members)", float64(h.Total())/float64(members), members)
		}
		p("| %s | %s | %d | %s | %s; %s |", name, path, h.Total(), per, h.Actions, ran(h))
	}
	row(activation, "no order: welcome + NEW8, nudge, last nudge", m.activationNoOrder, 0)
	row(activation, "converted: order after the welcome", m.activationConverted, 0)
	row(trial, "converted at the end", m.trialConverted, 0)
	row(trial, "cancelled at the end: offer, window", m.trialEnded, 0)
	for _, name := range calendarNames {
		row(name, "one scheduled scan run", m.scanRun[name], m.actedOn[name])
	}
	for _, name := range calendarNames {
		row(name, "scheduled scan run with nobody due", m.emptyRun[name], 0)
	}
	row("ledger sweep", "scheduled run", m.sweepRun, 0)
	row("deferred step", "a calendar email waiting for the frequency cap (JourneyDeferredStep)", m.deferredStep, 0)
	for _, u := range m.upsell {
		row(svipUpsell, u.path, u.h, 0)
	}
	p("")
	p("Only the cancelled path is measured; a silent trial lapse (no cancellation event) ends on the until_end wait's timer instead of a signal and is not run here.")
	p("The trial members had no email consent: their three emails, seconds apart here, would meet the 7-day frequency cap that days apart they do not; a skipped send is the same activity.")
	p("svip_upsell is the example in templates/journeys/examples, published through `POST /v1/journeys` with its 2-day wait in seconds; it is not shipped and not in the yearly model.")
	p("A scan run costs its schedule's action, its start and PlanJourneyScan once, and per batch of up to %d members one ScanJourney with its heartbeat (%.0f actions): %.4f actions per member scanned.", m.maxMembers, perBatch, perScanned)
	p("")

	passes := map[string]float64{}
	for _, name := range calendarNames {
		n, err := scanPasses(m.calendar[name], workflows.DefaultCatchUp)
		if err != nil {
			return 0, err
		}
		passes[name] = n
	}
	perActed := func(name string) float64 {
		if m.actedOn[name] == 0 {
			return 0
		}
		return float64(m.scanRun[name].Total()) / float64(m.actedOn[name])
	}
	calendarEmail := func(name string) float64 { return perActed(name) + capShare*float64(m.deferredStep.Total()) }
	activationEach := float64(m.activationNoOrder.Total()) + quietShare*3*inFlow
	trialEach := float64(max(m.trialConverted.Total(), m.trialEnded.Total())) + quietShare*3*inFlow
	fixed := 0.0
	for _, name := range calendarNames {
		fixed += runsPerYear * float64(m.emptyRun[name].Total())
	}
	sweep := runsPerYear * float64(m.sweepRun.Total())
	// Win-back's stages are its send steps: one offset each.
	winbackStages := float64(len(m.calendar[winback].StepOffsets()))
	birthdayEach := calendarEmail(birthday) + passes[birthday]*perScanned
	tierEach := passes[tierExpiry]*perScanned + demoteShare*3*calendarEmail(tierExpiry)
	winbackEach := winbackStages*calendarEmail(winback) + passes[winback]*perScanned
	lines := []line{
		{"activation", pct(newMemberShare), activationEach, newMemberShare * activationEach,
			fmt.Sprintf("no-order path %d + %.0f%% × 3 emails × %.0f for quiet hours", m.activationNoOrder.Total(), quietShare*100, inFlow)},
		{"trial", pct(trialShare), trialEach, trialShare * trialEach,
			fmt.Sprintf("the dearer path %d + %.0f%% × 3 emails × %.0f for quiet hours", max(m.trialConverted.Total(), m.trialEnded.Total()), quietShare*100, inFlow)},
		{"birthday", "100%", birthdayEach, birthdayEach,
			fmt.Sprintf("scan run / members acted on %.3f + %.0f%% × deferred step %d + %.0f scans a year × %.4f", perActed(birthday), capShare*100, m.deferredStep.Total(), passes[birthday], perScanned)},
		{"tier review", "100%", tierEach, tierEach,
			fmt.Sprintf("%.0f scans a year × %.4f + %.0f%% would demote × 3 warnings × (%.3f + %.0f%% × %d); a warning is sent inside the scan's activity", passes[tierExpiry], perScanned, demoteShare*100, perActed(tierExpiry), capShare*100, m.deferredStep.Total())},
		{"win-back", pct(winbackShare), winbackEach, winbackShare * winbackEach,
			fmt.Sprintf("entry and both later stages, %.0f × (%.3f + %.0f%% × %d), + %.0f scans × %.4f", winbackStages, perActed(winback), capShare*100, m.deferredStep.Total(), passes[winback], perScanned)},
		{"calendar schedules", "fixed", fixed, fixed / referenceMembers,
			fmt.Sprintf("%d × %d runs a year × an empty run (%s), over %s members", len(calendarNames), runsPerYear, emptyTotals(m), thousands(referenceMembers))},
		{"ledger sweep", "fixed", sweep, sweep / referenceMembers,
			fmt.Sprintf("%d runs a year × %d, over %s members", runsPerYear, m.sweepRun.Total(), thousands(referenceMembers))},
	}
	variable, total := 0.0, 0.0
	for _, l := range lines {
		total += l.perMember
		if l.incidence != "fixed" {
			variable += l.perMember
		}
	}
	fixedYear := fixed + sweep

	p("## Per member and year")
	p("")
	p("At the reference incidence — %s of members register, %s start a trial, %s enter win-back, every member has a birthday and a tier review — with %s members for the fixed hourly cost.", pct(newMemberShare), pct(trialShare), pct(winbackShare), thousands(referenceMembers))
	p("Assumed, as no history shows it: %s of activation and trial emails fall in quiet hours and wait once (a timer and the step again, as in the deferred step's history); %s of calendar emails wait for the frequency cap (a JourneyDeferredStep each); %s of tier reviews would demote and send their three warnings.", pct(quietShare), pct(capShare), pct(demoteShare))
	p("Scans a year are how many hourly runs read a member's index partition (catch-up %s, one day of slack each side), from activities.PlanJourneyPartitions; a scan's own run is also in the fixed line, so it is counted twice.", workflows.DefaultCatchUp)
	p("")
	p("| line | incidence | actions each | actions/member/year | how |")
	p("|---|---:|---:|---:|---|")
	for _, l := range lines {
		each := fmt.Sprintf("%.2f", l.each)
		if l.incidence == "fixed" {
			each = thousands(int(l.each)) + "/year"
		}
		p("| %s | %s | %s | %.3f | %s |", l.what, l.incidence, each, l.perMember, l.how)
	}
	p("| **total** | | | **%.2f** | budget %.2f |", total, budget)
	p("")

	p("## List price per year")
	p("")
	p("Temporal Cloud list price per million actions, by monthly volume: $50 up to 5M, $45 to 10M, $40 to 20M, $35 to 50M, $30 to 100M, $25 to 200M (and beyond). Each month is priced on a twelfth of the year's actions; plan fees, storage and included actions are left out.")
	p("")
	p("| members | actions/member/year | actions/month | $/month | $/year |")
	p("|---:|---:|---:|---:|---:|")
	for _, n := range []int{1_000_000, 10_000_000} {
		year := float64(n)*variable + fixedYear
		month := year / 12
		p("| %s | %.2f | %s | $%s | $%s |", thousands(n), year/float64(n), thousands(int(month)), thousands(int(cost.MonthlyCost(month, cost.ListPrice)+0.5)), thousands(int(cost.YearlyCost(year, cost.ListPrice)+0.5)))
	}
	p("")
	p("actions/member/year: %.2f", total)
	return total, nil
}

// ran lists the activities a history scheduled, by type, in name order:
// "FinishEnrollment 1, RunStep 3".
func ran(h history) string {
	names := make([]string, 0, len(h.ran))
	for name := range h.ran {
		names = append(names, name)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s %d", name, h.ran[name])
	}
	if len(parts) == 0 {
		return "no activities"
	}
	return strings.Join(parts, ", ")
}

// emptyTotals is the calendar journeys' empty runs: "5, 5, 5".
func emptyTotals(m *measured) string {
	parts := make([]string, len(calendarNames))
	for i, name := range calendarNames {
		parts[i] = fmt.Sprint(m.emptyRun[name].Total())
	}
	return strings.Join(parts, ", ")
}

// scanPasses is how many hourly runs of a calendar journey's scan read a
// member's index partition in a year: the runs whose planned partitions
// include it, over every step's moment.
func scanPasses(def journey.Definition, catchUp time.Duration) (float64, error) {
	offsets := def.StepOffsets()
	if len(offsets) == 0 {
		return 0, fmt.Errorf("journey %s does not run inside its scan (no step offsets): the yearly model has no line for a workflow per member", def.Name)
	}
	// A partition: the birthday's MMDD, or the UTC day of the review or
	// the last order. Mid-June keeps 29 February out of the way.
	anchor := time.Date(2025, time.June, 15, 0, 0, 0, 0, time.UTC)
	key, err := partitionOf(def, anchor)
	if err != nil {
		return 0, err
	}
	defs := []journey.Definition{def}
	n := 0
	for at := anchor.Add(slices.Min(offsets) - 30*journey.Day); at.Before(anchor.Add(slices.Max(offsets) + 30*journey.Day)); at = at.Add(time.Hour) {
		if slices.Contains(activities.PlanJourneyPartitions(defs, at, catchUp), key) {
			n++
		}
	}
	return float64(n), nil
}

// partitionOf names the index partition that files a member whose
// trigger date (birthday, tier review, last order) is the UTC day.
func partitionOf(def journey.Definition, day time.Time) (string, error) {
	var attribute string
	switch t := def.Trigger; t.Kind() {
	case journey.TriggerDate:
		attribute = t.Date.Attribute
	case journey.TriggerInactivity:
		attribute = engine.InactivityRule(*t.Inactivity).Attribute
	}
	switch attribute {
	case "birthday":
		return "birthday:" + day.Format("0102"), nil
	case "tier_review_on":
		return "review:" + day.Format(time.DateOnly), nil
	case "last_order_at":
		return "last_order:" + day.Format(time.DateOnly), nil
	}
	return "", fmt.Errorf("journey %s: no index partition for a trigger on %q", def.Name, attribute)
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// thousands writes n with comma separators: 1,000,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
