package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/cost"
	journey "github.com/memberflow/memberflow/internal/journey/v1"
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
	// DeferredSend workflow.
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

func report(out io.Writer, m *measured) error {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	inFlow := float64(m.deferredSend.Total() - m.deferredSend.WorkflowStarts) // a wait inside an enrollment: timer + SendEmail again
	perBatch := float64(m.emptyRun[journey.Birthday].Activities + m.emptyRun[journey.Birthday].Heartbeats)
	perScanned := perBatch / float64(m.maxMembers)

	p("# Temporal Cloud actions of memberflow's lifecycles")
	p("")
	p("Measured by `make cost` on the Temporal dev server (%s): each lifecycle ran with its delays in seconds and the histories were counted with Temporal Cloud's billing rules (internal/cost).", time.Now().UTC().Format(time.DateOnly))
	p("Heartbeats are not in a history: each ScanCalendar and SweepLedger attempt is counted as one (the SDK sends the first heartbeat at once and throttles the rest to 80%% of the 2-minute heartbeat timeout, so an attempt under 96 s sends one).")
	p("")
	p("## Per lifecycle")
	p("")
	p("| lifecycle | path | actions | per member acted on | counted |")
	p("|---|---|---:|---:|---|")
	row := func(name, path string, a cost.Actions, members int) {
		per := "—"
		if members > 0 {
			per = fmt.Sprintf("%.3f (%d members)", float64(a.Total())/float64(members), members)
		}
		p("| %s | %s | %d | %s | %s |", name, path, a.Total(), per, a)
	}
	row("activation", "no order: welcome + NEW8, nudge, last nudge", m.activationNoOrder, 0)
	row("activation", "converted: order after the welcome", m.activationConverted, 0)
	row("trial", "converted at the end", m.trialConverted, 0)
	row("trial", "cancelled at the end: offer, window", m.trialEnded, 0)
	for _, name := range workflows.CalendarJourneys {
		row(name, "one scheduled scan run", m.scanRun[name], m.actedOn[name])
	}
	for _, name := range workflows.CalendarJourneys {
		row(name, "scheduled scan run with nobody due", m.emptyRun[name], 0)
	}
	row("ledger sweep", "scheduled run", m.sweepRun, 0)
	row("deferred send", "a calendar email waiting for the frequency cap", m.deferredSend, 0)
	p("")
	p("Only the cancelled path is measured; a silent trial lapse (no cancellation event) ends on its grace timer instead of a signal and is not run here.")
	p("The trial members had no email consent: their three emails, seconds apart here, would meet the 7-day frequency cap that days apart they do not; a skipped send is the same activity.")
	p("A scan batch handles up to %d members for %.0f actions (activity + heartbeat): %.4f actions per member scanned.", m.maxMembers, perBatch, perScanned)
	p("")

	passes := map[string]float64{}
	for _, name := range workflows.CalendarJourneys {
		passes[name] = scanPasses(m.calendar[name], workflows.DefaultCatchUp)
	}
	perActed := func(name string) float64 {
		if m.actedOn[name] == 0 {
			return 0
		}
		return float64(m.scanRun[name].Total()) / float64(m.actedOn[name])
	}
	calendarEmail := func(name string) float64 { return perActed(name) + capShare*float64(m.deferredSend.Total()) }
	activation := float64(m.activationNoOrder.Total()) + quietShare*3*inFlow
	trial := float64(max(m.trialConverted.Total(), m.trialEnded.Total())) + quietShare*3*inFlow
	fixed := 0.0
	for _, name := range workflows.CalendarJourneys {
		fixed += runsPerYear * float64(m.emptyRun[name].Total())
	}
	sweep := runsPerYear * float64(m.sweepRun.Total())
	winbackSteps := float64(len(m.calendar[journey.Winback].Steps))
	lines := []line{
		{"activation", pct(newMemberShare), activation, newMemberShare * activation,
			fmt.Sprintf("no-order path %d + %.0f%% × 3 emails × %.0f for quiet hours", m.activationNoOrder.Total(), quietShare*100, inFlow)},
		{"trial", pct(trialShare), trial, trialShare * trial,
			fmt.Sprintf("the dearer path %d + %.0f%% × 3 emails × %.0f for quiet hours", max(m.trialConverted.Total(), m.trialEnded.Total()), quietShare*100, inFlow)},
		{"birthday", "100%", calendarEmail(journey.Birthday) + passes[journey.Birthday]*perScanned,
			calendarEmail(journey.Birthday) + passes[journey.Birthday]*perScanned,
			fmt.Sprintf("scan run / members acted on %.3f + %.0f%% × deferred send %d + %.0f scans a year × %.4f", perActed(journey.Birthday), capShare*100, m.deferredSend.Total(), passes[journey.Birthday], perScanned)},
		{"tier review", "100%", passes[journey.TierExpiry]*perScanned + demoteShare*3*calendarEmail(journey.TierExpiry),
			passes[journey.TierExpiry]*perScanned + demoteShare*3*calendarEmail(journey.TierExpiry),
			fmt.Sprintf("%.0f scans a year × %.4f + %.0f%% would demote × 3 warnings × (%.3f + %.0f%% × %d); a warning is sent inside the scan's activity", passes[journey.TierExpiry], perScanned, demoteShare*100, perActed(journey.TierExpiry), capShare*100, m.deferredSend.Total())},
		{"win-back", pct(winbackShare), winbackSteps*calendarEmail(journey.Winback) + passes[journey.Winback]*perScanned,
			winbackShare * (winbackSteps*calendarEmail(journey.Winback) + passes[journey.Winback]*perScanned),
			fmt.Sprintf("entry and both later stages, %.0f × (%.3f + %.0f%% × %d), + %.0f scans × %.4f", winbackSteps, perActed(journey.Winback), capShare*100, m.deferredSend.Total(), passes[journey.Winback], perScanned)},
		{"calendar schedules", "fixed", fixed, fixed / referenceMembers,
			fmt.Sprintf("3 × %d runs a year × an empty run (%d, %d, %d), over %s members", runsPerYear, m.emptyRun[journey.Birthday].Total(), m.emptyRun[journey.TierExpiry].Total(), m.emptyRun[journey.Winback].Total(), thousands(referenceMembers))},
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
	p("Assumed, as no history shows it: %s of activation and trial emails fall in quiet hours and wait once; %s of calendar emails wait for the frequency cap (a DeferredSend each); %s of tier reviews would demote and send their three warnings.", pct(quietShare), pct(capShare), pct(demoteShare))
	p("Scans a year are how many hourly runs read a member's index partition (catch-up %s, one day of slack each side), from workflows.PlanPartitions; a scan's own run is also in the fixed line, so it is counted twice.", workflows.DefaultCatchUp)
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
	p("| **total** | | | **%.2f** | |", total)
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
	return nil
}

// scanPasses is how many hourly runs of a calendar journey's scan read a
// member's index partition in a year: the runs whose planned partitions
// include it.
func scanPasses(def journey.Definition, catchUp time.Duration) float64 {
	const day = 24 * time.Hour
	var before, after time.Duration
	for _, s := range def.Steps {
		before, after = max(before, s.Before.D()), max(after, s.After.D())
	}
	// A partition: the birthday's MMDD, or the UTC day of the review or
	// the last order. Mid-June keeps 29 February out of the way.
	anchor := time.Date(2025, time.June, 15, 0, 0, 0, 0, time.UTC)
	key := anchor.Format(time.DateOnly)
	if def.Name == journey.Birthday {
		key = anchor.Format("0102")
	}
	n := 0
	for at := anchor.Add(-before - 30*day); at.Before(anchor.Add(after + 30*day)); at = at.Add(time.Hour) {
		if slices.Contains(workflows.PlanPartitions(def, at, catchUp), key) {
			n++
		}
	}
	return float64(n)
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
