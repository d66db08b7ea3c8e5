package events

import (
	"fmt"
	"sync"
	"time"

	// The Lambda runtime image is not guaranteed to ship /usr/share/zoneinfo
	// (the build machine does). Embedding the database (about 450 KB) makes
	// timezone validation give the same answer everywhere; the system copy
	// is still preferred when present.
	_ "time/tzdata"
)

// The checks here are ones JSON Schema cannot express. They run on the same
// decoded object as the schema and add to its problems rather than waiting
// for the schema to pass, so a caller still hears about everything at once.

// goChecks runs the Go-side checks of one event object. reported is what
// the schema already found; a field listed there is skipped, both to avoid
// repeating the same complaint and so that input of the wrong form never
// reaches time.LoadLocation.
func (r *registry) goChecks(t Type, obj map[string]any, prefix string, reported []Problem) []Problem {
	if t != MemberRegistered && t != MemberProfileUpdated {
		return nil
	}
	data, _ := obj["data"].(map[string]any)
	tz, ok := data["timezone"].(string)
	if !ok {
		return nil
	}
	field := fieldPath(prefix, obj, []string{"data", "timezone"})
	for _, p := range reported {
		if p.Field == field {
			return nil
		}
	}
	if knownTimezone(tz) {
		return nil
	}
	// The sentence comes from the schema so it reads the same whether the
	// pattern or the time zone database rejected the name.
	return []Problem{{Field: field, Rule: r.xRule(schemaBase + envelopeFile + "#/$defs/timezone")}}
}

// knownZones caches names time.LoadLocation accepted: it reads and parses a
// zoneinfo file on every call. Only valid names are stored, so the cache is
// bounded by the size of the time zone database whatever callers send.
var knownZones sync.Map

// knownTimezone reports whether name is in the IANA time zone database.
func knownTimezone(name string) bool {
	if _, ok := knownZones.Load(name); ok {
		return true
	}
	// LoadLocation maps "" to UTC and "Local" to the server's own zone;
	// neither is an IANA name a member can have.
	if name == "" || name == "Local" {
		return false
	}
	if _, err := time.LoadLocation(name); err != nil {
		return false
	}
	knownZones.Store(name, struct{}{})
	return true
}

// duplicateIDs reports every element whose id an earlier element of the
// batch already used. The later one is blamed because the earlier one is
// fine on its own; ids that are not strings are left to the schema.
func duplicateIDs(insts []any) []Problem {
	var ps []Problem
	first := make(map[string]int, len(insts))
	for i, inst := range insts {
		obj, _ := inst.(map[string]any)
		id, ok := obj["id"].(string)
		if !ok {
			continue
		}
		if j, dup := first[id]; dup {
			ps = append(ps, Problem{
				Field: fmt.Sprintf("[%d].id", i),
				Rule:  fmt.Sprintf("must be unique within the batch (element [%d] has the same id)", j),
			})
			continue
		}
		first[id] = i
	}
	return ps
}
