package journey

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Targets is where the step with id can go next: the next step in order
// or its goto for send, reward, delay, update and webhook steps; on_event
// and on_timeout for a wait; the cases' gotos for a branch (and End when
// its last case has a when, since no case holding ends the enrollment);
// the paths' gotos for a split; nothing for an end step. Targets are step
// ids or End, each once, in the order written. An unknown id has none.
func (d Definition) Targets(id string) []string {
	i := d.Index(id)
	if i < 0 {
		return nil
	}
	return d.targets(i)
}

// targets is Targets of the step at index i.
func (d Definition) targets(i int) []string {
	s := d.Steps[i]
	var out []string
	add := func(t string) {
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	switch s.Kind() {
	case KindEnd:
	case KindWait:
		add(s.Wait.OnEvent)
		add(s.Wait.OnTimeout)
	case KindBranch:
		for _, c := range s.Branch {
			add(c.Goto)
		}
		if n := len(s.Branch); n == 0 || s.Branch[n-1].When != "" {
			add(End)
		}
	case KindSplit:
		for _, p := range s.Split {
			add(p.Goto)
		}
	default:
		add(d.Next(i))
	}
	return out
}

// edges is the step graph by index: for each step, the indexes of the
// steps it can go to (End and unknown ids left out; a repeated id means
// its first step).
func (d Definition) edges() [][]int {
	first := map[string]int{}
	for i, s := range d.Steps {
		if _, ok := first[s.ID]; !ok {
			first[s.ID] = i
		}
	}
	out := make([][]int, len(d.Steps))
	for i := range d.Steps {
		for _, t := range d.targets(i) {
			if j, ok := first[t]; ok && t != End && !slices.Contains(out[i], j) {
				out[i] = append(out[i], j)
			}
		}
	}
	return out
}

// graph checks that every step is reached from the first and that no loop
// runs without a delay or a wait.
func (v *validator) graph() {
	steps := v.d.Steps
	if len(steps) == 0 || len(steps) > MaxSteps {
		return
	}
	edges := v.d.edges()
	reached := make([]bool, len(steps))
	queue := []int{0}
	reached[0] = true
	// The goal's step is reached from wherever the member is.
	if g := v.d.Goal; g != nil && g.Goto != "" {
		if j := v.d.Index(g.Goto); j > 0 {
			reached[j] = true
			queue = append(queue, j)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, j := range edges[i] {
			if !reached[j] {
				reached[j] = true
				queue = append(queue, j)
			}
		}
	}
	for i, ok := range reached {
		if !ok {
			v.bad(fmt.Sprintf("steps[%d]", i), "is never reached: no goto, branch, split or wait leads to %q, and the step before it does not go on to it", steps[i].ID)
		}
	}

	// A loop whose steps all run at once (sends, rewards, branches…)
	// would spin: look for loops among the steps that do not pause. A
	// delay or wait until a member date does not count: once the date is
	// past, it no longer waits.
	for _, loop := range loops(edges, func(i int) bool { return pauses(steps[i]) }) {
		ids := make([]string, len(loop))
		for k, i := range loop {
			ids[k] = fmt.Sprintf("%q", steps[i].ID)
		}
		v.bad(fmt.Sprintf("steps[%d]", loop[0]), "is on a loop with no delay or wait in it (through %s): add a delay (for or until) or a wait with a timeout to the loop", strings.Join(ids, ", "))
	}
}

// pauses reports whether a step always takes time: a delay for a
// duration or until a time of day, or a wait with a timeout.
func pauses(s Step) bool {
	switch s.Kind() {
	case KindDelay:
		return s.Delay.For > 0 || s.Delay.Until != ""
	case KindWait:
		return s.Wait.Timeout > 0
	}
	return false
}

// loops returns the strongly connected parts of the graph without the
// skipped nodes that hold a cycle (more than one node, or a node that goes
// to itself), each as its node indexes in ascending order (Tarjan's
// algorithm).
func loops(edges [][]int, skip func(int) bool) [][]int {
	n := len(edges)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]int
	next := 0
	var visit func(i int)
	visit = func(i int) {
		index[i], low[i] = next, next
		next++
		stack = append(stack, i)
		onStack[i] = true
		for _, j := range edges[i] {
			if skip(j) {
				continue
			}
			if index[j] < 0 {
				visit(j)
				low[i] = min(low[i], low[j])
			} else if onStack[j] {
				low[i] = min(low[i], index[j])
			}
		}
		if low[i] != index[i] {
			return
		}
		var part []int
		for {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[j] = false
			part = append(part, j)
			if j == i {
				break
			}
		}
		if len(part) > 1 || slices.Contains(edges[i], i) {
			slices.Sort(part)
			out = append(out, part)
		}
	}
	for i := range n {
		if index[i] < 0 && !skip(i) {
			visit(i)
		}
	}
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}

// CalendarRunnable reports whether a calendar scan can run the journey
// without a workflow: the trigger is a date or inactivity, and the steps
// are only send and reward steps and delays, run in order (a goto may
// only name the step that comes next anyway), each delay a `for` or, for a date trigger, an until_date on
// the trigger's own attribute that does not go back in time, so every
// send and reward falls at a fixed offset from the trigger's date (see
// StepOffsets).
func (d Definition) CalendarRunnable() bool {
	_, ok := d.calendarOffsets()
	return ok
}

// StepOffsets are, for a CalendarRunnable journey, when each send or
// reward step falls (in step order), as an offset from member-local
// midnight at the start of the anchor day: the day of the member date the
// trigger reads (date), or the day of the member's newest event of the
// trigger's type (inactivity). The offset includes the time of day: a
// birthday step at 10:00 is 10h, a step 30 days before the tier review at
// 09:00 is -30d+9h. Nil for other journeys.
func (d Definition) StepOffsets() []time.Duration {
	offsets, ok := d.calendarOffsets()
	if !ok {
		return nil
	}
	return offsets
}

// inOrder is the step after the one at index i in order, or End.
func (d Definition) inOrder(i int) string {
	if i+1 < len(d.Steps) {
		return d.Steps[i+1].ID
	}
	return End
}

// calendarOffsets computes StepOffsets and whether the journey is
// calendar-runnable.
func (d Definition) calendarOffsets() ([]time.Duration, bool) {
	var attribute string
	var at time.Duration
	switch t := d.Trigger; t.Kind() {
	case TriggerDate:
		attribute = t.Date.Attribute
		at = t.Date.Offset.D() + clockOffset(t.Date.At)
	case TriggerInactivity:
		at = t.Inactivity.For.D() + clockOffset(t.Inactivity.At)
	default:
		return nil, false
	}
	var offsets []time.Duration
	for i, s := range d.Steps {
		if s.Goto != "" && s.Goto != d.inOrder(i) {
			return nil, false
		}
		switch s.Kind() {
		case KindSend, KindReward:
			offsets = append(offsets, at)
		case KindDelay:
			switch dl := s.Delay; {
			case dl.For > 0 && dl.Until == "" && dl.UntilDate == nil:
				if at > math.MaxInt64-dl.For.D() {
					return nil, false // no calendar reaches that far
				}
				at += dl.For.D()
			case dl.UntilDate != nil && dl.For == 0 && dl.Until == "" && attribute != "" && dl.UntilDate.Attribute == attribute:
				next := dl.UntilDate.Offset.D() + clockOffset(dl.UntilDate.At)
				if next < at {
					return nil, false
				}
				at = next
			default:
				return nil, false
			}
		default:
			return nil, false
		}
	}
	if len(offsets) == 0 {
		return nil, false
	}
	return offsets, true
}
