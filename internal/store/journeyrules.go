package store

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/journey"
)

// The argument rules of the journey engine's ports, shared by every
// adapter like those of rules.go.

var (
	validJourneyName   = regexp.MustCompile(journey.NamePattern)
	validDateAttribute = regexp.MustCompile(journey.AttributePattern)
)

// CheckJourneyName checks a journey name as the language spells it: it
// is part of keys, so nothing else may reach them.
func CheckJourneyName(what, name string) error {
	if !validJourneyName.MatchString(name) {
		return fmt.Errorf("%s: journey name %q does not match %s", what, name, journey.NamePattern)
	}
	return nil
}

// NewJourneyVersion checks PublishJourney's arguments and returns v as it
// is stored: numbered expectLatest+1, with its Definition carrying the
// name and number.
func NewJourneyVersion(v JourneyVersion, expectLatest int) (JourneyVersion, error) {
	what := "publish journey " + v.Name
	if err := CheckJourneyName(what, v.Name); err != nil {
		return v, err
	}
	n := expectLatest + 1
	switch {
	case expectLatest < 0:
		return v, fmt.Errorf("%s: expected latest version %d, want at least 0", what, expectLatest)
	case v.Version != 0 && v.Version != n:
		return v, fmt.Errorf("%s: version %d, but the next version after %d is %d", what, v.Version, expectLatest, n)
	case v.Definition.Name != "" && v.Definition.Name != v.Name:
		return v, fmt.Errorf("%s: the definition is named %q", what, v.Definition.Name)
	case v.Definition.Version != 0 && v.Definition.Version != n:
		return v, fmt.Errorf("%s: the definition says version %d, want %d", what, v.Definition.Version, n)
	case v.PublishedAt.IsZero():
		return v, fmt.Errorf("%s: the publish time is required", what)
	}
	v.Version, v.Definition.Name, v.Definition.Version = n, v.Name, n
	return v, nil
}

// journeyStatuses are the statuses a journey can be in.
var journeyStatuses = []journey.Status{journey.StatusDraft, journey.StatusLive, journey.StatusPaused, journey.StatusArchived}

// CheckJourneyStatus checks SetJourneyStatus's arguments.
func CheckJourneyStatus(name string, from []journey.Status, to journey.Status) error {
	what := fmt.Sprintf("set journey %s %s", name, to)
	if err := CheckJourneyName(what, name); err != nil {
		return err
	}
	if !slices.Contains(journeyStatuses, to) {
		return fmt.Errorf("%s: unknown status %q", what, to)
	}
	if len(from) == 0 {
		return fmt.Errorf("%s: the statuses it may move from are required", what)
	}
	for _, f := range from {
		if !slices.Contains(journeyStatuses, f) {
			return fmt.Errorf("%s: unknown status %q to move from", what, f)
		}
	}
	return nil
}

// CheckCountJourney checks CountJourney's arguments. Each counter key
// becomes an attribute of a counter item, so it may not be one of the
// item's own attributes, nor hold brackets (the DynamoDB expression
// builder reads them as a list index).
func CheckCountJourney(journeyName, memberID, key string, counts map[string]int64) error {
	what := fmt.Sprintf("count journey %s for %s", journeyName, key)
	if err := CheckJourneyName(what, journeyName); err != nil {
		return err
	}
	if memberID == "" || key == "" {
		return fmt.Errorf("%s: member id and key are required", what)
	}
	if len(counts) == 0 {
		return fmt.Errorf("%s: nothing to count", what)
	}
	for k := range counts {
		switch k {
		case "", "PK", "SK", "entity", "journey", "step":
			return fmt.Errorf("%s: counter key %q not allowed", what, k)
		}
		if strings.ContainsAny(k, "[]") {
			return fmt.Errorf("%s: counter key %q holds brackets", what, k)
		}
	}
	return nil
}

// MaxTimelineEntries is the most entries one AppendTimeline writes: the
// item limit of one DynamoDB transaction.
const MaxTimelineEntries = 100

// TimelineEntries checks AppendTimeline's entries and returns them
// without repeats (an entry is named by its member, At, Key and Kind; the
// first of a name is kept). A kind holds no '#', so the name read back
// from a stored key is unambiguous.
func TimelineEntries(entries []TimelineEntry) ([]TimelineEntry, error) {
	if len(entries) > MaxTimelineEntries {
		return nil, fmt.Errorf("append timeline: %d entries exceed %d", len(entries), MaxTimelineEntries)
	}
	type name struct {
		member, key, kind string
		at                time.Time
	}
	seen := make(map[name]bool, len(entries))
	out := make([]TimelineEntry, 0, len(entries))
	for _, e := range entries {
		switch {
		case e.MemberID == "" || e.Key == "" || e.Kind == "":
			return nil, fmt.Errorf("append timeline: entry %q (%s) needs a member id, a key and a kind", e.Key, e.Kind)
		case strings.Contains(e.Kind, "#"):
			return nil, fmt.Errorf("append timeline: entry %s: kind %q holds '#'", e.Key, e.Kind)
		case e.At.IsZero():
			return nil, fmt.Errorf("append timeline: entry %s (%s) needs a time", e.Key, e.Kind)
		}
		n := name{e.MemberID, e.Key, e.Kind, e.At.UTC()}
		if !seen[n] {
			seen[n] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// CheckTimelinePage checks ListTimeline's arguments.
func CheckTimelinePage(memberID string, limit int) error {
	if memberID == "" {
		return errors.New("list timeline: member id is required")
	}
	return checkLimit("list timeline of "+memberID, limit)
}

// CheckEnrollmentPage checks the arguments of ListActiveEnrollments and
// ListHeldEnrollments.
func CheckEnrollmentPage(what, journeyName string, limit int) error {
	if err := CheckJourneyName(what, journeyName); err != nil {
		return err
	}
	return checkLimit(what, limit)
}

// CheckMemberDate checks SetMemberDate's arguments: day is a date
// YYYY-MM-DD or "".
func CheckMemberDate(memberID, attribute, day string) error {
	what := fmt.Sprintf("set member date %s of %s", attribute, memberID)
	if memberID == "" {
		return fmt.Errorf("%s: member id is required", what)
	}
	if err := checkDateAttribute(what, attribute); err != nil {
		return err
	}
	if _, err := time.Parse(time.DateOnly, day); day != "" && err != nil {
		return fmt.Errorf("%s: day %q is not a date YYYY-MM-DD", what, day)
	}
	return nil
}

// CheckDatePage checks MembersByDate's arguments.
func CheckDatePage(what, attribute, day string, limit int) error {
	if err := checkDateAttribute(what, attribute); err != nil {
		return err
	}
	return CheckDayPage(what, day, limit)
}

func checkDateAttribute(what, attribute string) error {
	if !validDateAttribute.MatchString(attribute) {
		return fmt.Errorf("%s: attribute %q does not match %s", what, attribute, journey.AttributePattern)
	}
	return nil
}

// CheckMembersPage checks MembersPage's arguments.
func CheckMembersPage(shard, limit int) error {
	what := fmt.Sprintf("members page of shard %d", shard)
	if shard < 0 || shard >= MemberShards {
		return fmt.Errorf("%s: shard out of 0..%d", what, MemberShards-1)
	}
	return checkLimit(what, limit)
}
