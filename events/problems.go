package events

import (
	"cmp"
	"slices"
	"strings"
)

// Problem is one way an event breaks the contract: the field, as a path
// like "data.lines[0].amount" ("[3]." in front for element 3 of a batch),
// and the rule it breaks, as a short sentence such as "is required".
type Problem struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
}

// ValidationError reports everything wrong with a request body. Problems
// is sorted by Field, then Rule, and holds no duplicates, so the same body
// always yields the same error.
type ValidationError struct {
	Problems []Problem
}

// Error lists every problem as "field rule", separated by semicolons.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid events: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Field)
		b.WriteByte(' ')
		b.WriteString(p.Rule)
	}
	return b.String()
}

// newValidationError sorts and de-duplicates problems. Duplicates are
// expected: a field can break several keywords of one definition that share
// an x-rule sentence, and the envelope and a type schema can both reject the
// same value.
func newValidationError(ps []Problem) *ValidationError {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Field, b.Field), strings.Compare(a.Rule, b.Rule))
	})
	return &ValidationError{Problems: slices.Compact(ps)}
}
