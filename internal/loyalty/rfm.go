package loyalty

import (
	"fmt"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// RFMRules say how members are grouped by their recency, frequency and
// monetary scores (1–5, 5 best; internal/analytics computes them by
// quintiles over the window). The segments are the programme's data
// (templates/program.yaml rfm), so marketers change them without a
// release.
type RFMRules struct {
	// WindowDays is the window the frequency and monetary scores count
	// purchases in, ending on the day of scoring.
	WindowDays int
	// Segments are tried in order; the first whose ranges hold all three
	// scores is the member's. LoadProgram checks that every combination
	// of scores reaches a segment and that every segment is reachable.
	Segments []RFMSegment
}

// RFMSegment is one named group of score combinations.
type RFMSegment struct {
	Code    string // e.g. at_risk: what events and journey conditions name
	Name    string // for people: "At risk"
	R, F, M ScoreRange
}

// ScoreRange is an inclusive range of 1–5 scores.
type ScoreRange struct{ Min, Max int }

// Contains reports whether score s is in the range.
func (r ScoreRange) Contains(s int) bool { return r.Min <= s && s <= r.Max }

// Segment is the code of the first segment holding the scores r, f, m, or
// "" when none does (only for scores outside 1–5 in a loaded programme).
func (rules RFMRules) Segment(r, f, m int) string {
	if i := rules.segmentIndex(r, f, m); i >= 0 {
		return rules.Segments[i].Code
	}
	return ""
}

func (rules RFMRules) segmentIndex(r, f, m int) int {
	for i, s := range rules.Segments {
		if s.R.Contains(r) && s.F.Contains(f) && s.M.Contains(m) {
			return i
		}
	}
	return -1
}

// defaultRFMWindowDays is the window when the programme names none: a
// year, so seasonal buyers are not scored on their off season alone.
const defaultRFMWindowDays = 365

var segmentCode = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// rfmFile is the rfm section as written.
type rfmFile struct {
	WindowDays *int `yaml:"window_days"`
	Segments   []struct {
		Code string `yaml:"code"`
		Name string `yaml:"name"`
		// Kept as nodes so that a range written wrong (5, [5], "4-5")
		// is reported with its key, not as a YAML type error.
		R yaml.Node `yaml:"r"`
		F yaml.Node `yaml:"f"`
		M yaml.Node `yaml:"m"`
	} `yaml:"segments"`
}

// rfm checks the rfm section and turns it into RFMRules.
func (v *validator) rfm(f rfmFile) RFMRules {
	before := len(v.problems)
	rules := RFMRules{WindowDays: defaultRFMWindowDays}
	if f.WindowDays != nil {
		rules.WindowDays = v.atLeast("rfm.window_days", *f.WindowDays, 1)
	}
	v.require(len(f.Segments) > 0, "rfm.segments", "must list at least one segment")
	codes := map[string]bool{}
	for i, s := range f.Segments {
		key := fmt.Sprintf("rfm.segments[%d]", i)
		v.require(segmentCode.MatchString(s.Code), key+".code", "must be 1-32 lower-case letters, digits or _ starting with a letter, such as at_risk")
		v.require(!codes[s.Code], key+".code", "must be unique ("+s.Code+" appears twice)")
		codes[s.Code] = true
		v.require(s.Name != "", key+".name", "is required")
		rules.Segments = append(rules.Segments, RFMSegment{
			Code: s.Code, Name: s.Name,
			R: v.scoreRange(key+".r", s.R), F: v.scoreRange(key+".f", s.F), M: v.scoreRange(key+".m", s.M),
		})
	}
	if len(v.problems) > before {
		// Coverage means little while a range is wrong.
		return rules
	}
	won := make([]bool, len(rules.Segments))
	var uncovered []string
	for r := 1; r <= 5; r++ {
		for fq := 1; fq <= 5; fq++ {
			for m := 1; m <= 5; m++ {
				if i := rules.segmentIndex(r, fq, m); i >= 0 {
					won[i] = true
				} else {
					uncovered = append(uncovered, fmt.Sprintf("r=%d f=%d m=%d", r, fq, m))
				}
			}
		}
	}
	if n := len(uncovered); n > 0 {
		more := ""
		if n > 3 {
			more = fmt.Sprintf(" and %d more", n-3)
			uncovered = uncovered[:3]
		}
		v.problems = append(v.problems, fmt.Sprintf("rfm.segments: scores %v%s match no segment; every combination of 1-5 scores needs one (end with a catch-all)", uncovered, more))
	}
	for i, ok := range won {
		v.require(ok, fmt.Sprintf("rfm.segments[%d]", i), "is never reached: every score it matches is taken by an earlier segment")
	}
	return rules
}

// scoreRange reads [low, high] with 1 ≤ low ≤ high ≤ 5.
func (v *validator) scoreRange(key string, n yaml.Node) ScoreRange {
	var bounds []int
	if n.Kind == yaml.SequenceNode && len(n.Content) == 2 {
		for _, c := range n.Content {
			if i, err := strconv.Atoi(c.Value); err == nil && c.Kind == yaml.ScalarNode {
				bounds = append(bounds, i)
			}
		}
	}
	if len(bounds) != 2 || bounds[0] < 1 || bounds[0] > bounds[1] || bounds[1] > 5 {
		if n.Kind == 0 {
			v.problems = append(v.problems, key+": is required")
		} else {
			v.problems = append(v.problems, key+": must be [low, high] with 1 ≤ low ≤ high ≤ 5, such as [4, 5]")
		}
		return ScoreRange{}
	}
	return ScoreRange{Min: bounds[0], Max: bounds[1]}
}
