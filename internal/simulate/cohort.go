package simulate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
)

// The generated cohort. Its shape is fixed (the behaviour model, not the
// cohort, is what a flag file tunes) and documented here so a report can
// be read against it:
//
//   - ExistingShare of the members registered before the simulation, at a
//     uniform moment up to ExistingYears years before start; the rest
//     register over the simulated days, uniformly by day, at a local hour
//     drawn from RegistrationHours (most sign up in the day and evening,
//     some at night — which is what quiet hours are for).
//   - BirthdayShare give a birthday: a uniform day of a year in which the
//     member turns 18 to 65 (29 February included in leap years).
//   - Time zones from TimeZones: a programme run from China, with members
//     in Greater China, South-East Asia and abroad; "" is a member who
//     gave none (the programme's zone applies).
//   - Members registered before start begin in a tier of the programme
//     with TierDecay: each tier up holds TierDecay times the members of
//     the one below (with four tiers 62%, 25%, 10%, 4%); new members
//     begin in the lowest.
//   - ConsentShare consent to marketing email.
const (
	ExistingShare = 0.5
	ExistingYears = 3
	BirthdayShare = 0.85
	TierDecay     = 0.4
	ConsentShare  = 0.8
)

// TimeZones is the cohort's mix of member time zones, in parts per 100.
var TimeZones = []struct {
	Name  string
	Parts int
}{
	{"Asia/Shanghai", 70},
	{"Asia/Hong_Kong", 5},
	{"Asia/Singapore", 5},
	{"Asia/Taipei", 4},
	{"America/Los_Angeles", 4},
	{"Asia/Tokyo", 3},
	{"America/New_York", 3},
	{"Europe/London", 3},
	{"Australia/Sydney", 2},
	{"", 1},
}

// RegistrationHours weighs the member-local hour (0–23) new members
// register at.
var RegistrationHours = [24]int{1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 7, 6, 6, 6, 7, 8, 9, 10, 9, 6, 3}

// MemberID is the id of the cohort's member i (0-based).
func MemberID(i int) string { return fmt.Sprintf("m-%06d", i+1) }

// EmailOf is the synthetic address of a member: a reserved domain, so
// nothing the simulator makes could ever reach a person.
func EmailOf(id string) string { return id + "@sim.memberflow.invalid" }

// Generate makes n members for a simulation of days days from start,
// deterministically for seed: member i's attributes depend only on seed
// and i, so a larger cohort of the same seed starts with the same
// members.
func Generate(n int, seed int64, start time.Time, days int, p *loyalty.Program) []Member {
	out := make([]Member, n)
	for i := range out {
		rng := rand.New(rand.NewPCG(uint64(seed), subSeed("cohort", MemberID(i))))
		out[i] = generateMember(rng, MemberID(i), start, days, p)
	}
	return out
}

func generateMember(rng *rand.Rand, id string, start time.Time, days int, p *loyalty.Program) Member {
	m := Member{ID: id, Email: EmailOf(id)}
	m.Timezone = pick(rng, TimeZones, func(z struct {
		Name  string
		Parts int
	}) int {
		return z.Parts
	}).Name
	loc := p.Location
	if m.Timezone != "" {
		if l, err := time.LoadLocation(m.Timezone); err == nil {
			loc = l
		}
	}
	existing := rng.Float64() < ExistingShare
	if existing {
		span := start.Sub(start.AddDate(-ExistingYears, 0, 0))
		m.Registered = start.Add(-time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
		m.Tier = pickTier(rng, p)
	} else {
		day := start.In(loc).AddDate(0, 0, rng.IntN(max(days, 1)))
		hour := pickIndex(rng, RegistrationHours[:])
		at := time.Date(day.Year(), day.Month(), day.Day(), hour, rng.IntN(60), rng.IntN(60), 0, loc)
		if at.Before(start) { // the first local day began before start
			at = at.AddDate(0, 0, 1)
		}
		if end := start.AddDate(0, 0, max(days, 1)); !at.Before(end) {
			at = end.Add(-time.Minute)
		}
		m.Registered = at.UTC()
	}
	if rng.Float64() < BirthdayShare {
		first := time.Date(start.Year()-18-rng.IntN(48), 1, 1, 0, 0, 0, 0, time.UTC)
		daysInYear := first.AddDate(1, 0, 0).Sub(first).Hours() / 24
		m.Birthday = first.AddDate(0, 0, rng.IntN(int(daysInYear))).Format(time.DateOnly)
	}
	m.Consent = rng.Float64() < ConsentShare
	return m
}

// pickTier draws a starting tier with TierDecay between tiers.
func pickTier(rng *rand.Rand, p *loyalty.Program) string {
	if len(p.Tiers) == 0 {
		return ""
	}
	w := make([]float64, len(p.Tiers))
	sum, x := 0.0, 1.0
	for i := range w {
		w[i] = x
		sum += x
		x *= TierDecay
	}
	u := rng.Float64() * sum
	for i, wi := range w {
		if u < wi {
			return p.Tiers[i].Code
		}
		u -= wi
	}
	return p.Tiers[len(p.Tiers)-1].Code
}

func pick[T any](rng *rand.Rand, items []T, weight func(T) int) T {
	total := 0
	for _, it := range items {
		total += weight(it)
	}
	u := rng.IntN(total)
	for _, it := range items {
		if u < weight(it) {
			return it
		}
		u -= weight(it)
	}
	return items[len(items)-1]
}

func pickIndex(rng *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	u := rng.IntN(total)
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

// subSeed is the second word of a PCG seed for one purpose and one
// member (or one email): every random draw about a member comes from
// their own stream, so nothing depends on the order members or emails
// are handled in.
func subSeed(parts ...string) uint64 {
	h := fnv.New64a()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// CohortColumns are the columns of a cohort CSV (--cohort), in any order
// after a header line naming them: member_id, registered (RFC 3339, or
// YYYY-MM-DD for midnight in the programme's zone), birthday (YYYY-MM-DD
// or empty), timezone (an IANA name or empty for the programme's), tier
// (a tier code of the programme, or empty for the lowest), consent
// (true/false, yes/no or 1/0) and, optionally, email (empty: a synthetic
// address on a reserved domain).
var CohortColumns = []string{"member_id", "registered", "birthday", "timezone", "tier", "consent", "email"}

// cohortOptional are the columns a cohort CSV may leave out.
var cohortOptional = map[string]bool{"email": true}

var (
	validMemberID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	validEmail    = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

// CohortError is a problem of a cohort CSV: the line (1-based, the
// header is line 1) and the column.
type CohortError struct {
	Line   int
	Column string
	Rule   string
}

func (e *CohortError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("cohort line %d: %s", e.Line, e.Rule)
	}
	return fmt.Sprintf("cohort line %d, column %s: %s", e.Line, e.Column, e.Rule)
}

// ReadCohortCSV reads members from a CSV with a header line (see
// CohortColumns). Every value is checked against the programme; the first
// problem is returned as a *CohortError naming its line and column.
func ReadCohortCSV(r io.Reader, p *loyalty.Program) ([]Member, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &CohortError{Line: 1, Rule: "is empty: a header line naming the columns is required (" + strings.Join(CohortColumns, ",") + ")"}
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !slices.Contains(CohortColumns, h) {
			return nil, &CohortError{Line: 1, Column: h, Rule: "unknown column: must be one of " + strings.Join(CohortColumns, ", ")}
		}
		if _, dup := col[h]; dup {
			return nil, &CohortError{Line: 1, Column: h, Rule: "appears twice"}
		}
		col[h] = i
	}
	for _, c := range CohortColumns {
		if _, ok := col[c]; !ok && !cohortOptional[c] {
			return nil, &CohortError{Line: 1, Column: c, Rule: "missing: the header must name " + strings.Join(CohortColumns[:6], ", ")}
		}
	}
	var out []Member
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			return nil, &CohortError{Line: line, Rule: fmt.Sprintf("has %d fields, the header %d", len(rec), len(header))}
		}
		get := func(c string) string {
			if i, ok := col[c]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		m, cerr := cohortMember(get, p)
		if cerr != nil {
			cerr.Line = line
			return nil, cerr
		}
		if first, dup := seen[m.ID]; dup {
			return nil, &CohortError{Line: line, Column: "member_id", Rule: fmt.Sprintf("%q is already on line %d", m.ID, first)}
		}
		seen[m.ID] = line
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, &CohortError{Line: 2, Rule: "no members: the file has a header and nothing else"}
	}
	return out, nil
}

func cohortMember(get func(string) string, p *loyalty.Program) (Member, *CohortError) {
	bad := func(c, rule string) (Member, *CohortError) { return Member{}, &CohortError{Column: c, Rule: rule} }
	m := Member{ID: get("member_id"), Birthday: get("birthday"), Timezone: get("timezone"), Tier: get("tier"), Email: get("email")}
	if !validMemberID.MatchString(m.ID) {
		return bad("member_id", "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'")
	}
	reg := get("registered")
	if t, err := time.Parse(time.RFC3339, reg); err == nil {
		m.Registered = t.UTC()
	} else if d, err := time.ParseInLocation(time.DateOnly, reg, p.Location); err == nil {
		m.Registered = d.UTC()
	} else {
		return bad("registered", fmt.Sprintf("%q must be an RFC 3339 time (2026-01-02T15:04:05+08:00) or a date YYYY-MM-DD", reg))
	}
	if m.Birthday != "" {
		if _, err := time.Parse(time.DateOnly, m.Birthday); err != nil {
			return bad("birthday", fmt.Sprintf("%q must be a date YYYY-MM-DD or empty", m.Birthday))
		}
	}
	if m.Timezone != "" {
		if _, err := time.LoadLocation(m.Timezone); err != nil || m.Timezone == "Local" {
			return bad("timezone", fmt.Sprintf("%q must be an IANA time zone name (Asia/Shanghai) or empty", m.Timezone))
		}
	}
	if m.Tier != "" {
		if _, ok := p.Tier(m.Tier); !ok {
			codes := make([]string, len(p.Tiers))
			for i, t := range p.Tiers {
				codes[i] = t.Code
			}
			return bad("tier", fmt.Sprintf("%q must be a tier of the programme (%s) or empty", m.Tier, strings.Join(codes, ", ")))
		}
	}
	switch strings.ToLower(get("consent")) {
	case "true", "yes", "1":
		m.Consent = true
	case "false", "no", "0":
	default:
		return bad("consent", fmt.Sprintf("%q must be true or false (yes/no, 1/0)", get("consent")))
	}
	if m.Email == "" {
		m.Email = EmailOf(m.ID)
	} else if !validEmail.MatchString(m.Email) {
		return bad("email", "must be an email address or empty")
	}
	return m, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CohortError{Line: pe.Line, Rule: pe.Err.Error()}
	}
	return fmt.Errorf("read cohort: %w", err)
}
