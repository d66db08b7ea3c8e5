package journey

import "strings"

// Problem is one way a definition breaks the language: the path of the
// key it is about, like "steps[2].wait.timeout" ("$" for the document as
// a whole), and the rule, a short sentence a marketer can act on. Line and
// Column (1-based) point at the key's value in the source when the
// definition was read by Parse or Decode (0 when unknown); the console
// shows problems inline there. For a CEL expression ExprColumn is the
// column inside the expression the compiler pointed at, and Line/Column
// point at that character itself when the expression is written on one
// line without escapes.
type Problem struct {
	Path       string `json:"path"`
	Rule       string `json:"rule"`
	Line       int    `json:"line,omitempty"`
	Column     int    `json:"column,omitempty"`
	ExprColumn int    `json:"expr_column,omitempty"`
}

// String is "path: rule".
func (p Problem) String() string { return p.Path + ": " + p.Rule }

// ValidationError is everything wrong with a definition, in the order of
// the document, without duplicates.
type ValidationError struct {
	Problems []Problem
}

// Error lists every problem as "path: rule", separated by semicolons.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid journey: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects problems; the zero value is ready to use.
type problems struct {
	list []Problem
}

// add records that the value at path breaks rule.
func (ps *problems) add(path, rule string) {
	ps.list = append(ps.list, Problem{Path: path, Rule: rule})
}

// err is the problems as a *ValidationError, or nil when there are none.
// Duplicates go: a value can break a rule on more than one road to it.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	var out []Problem
	seen := make(map[Problem]bool, len(ps.list))
	for _, p := range ps.list {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return &ValidationError{Problems: out}
}
