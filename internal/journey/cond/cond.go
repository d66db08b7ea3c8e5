// Package cond compiles and evaluates the CEL expressions of journeys:
// conditions (trigger and wait when, entry audience, goal check, branch
// cases) and values (update set, send vars, webhook body).
//
// An expression reads three variables. `member` is the member document of
// GET /v1/members/{id} (loyalty.MemberDocument) with absent parts read as
// empty values rather than nulls, so member.paid.status != 'active' holds
// for a member who never paid. `event` is the enrollment's latest event,
// its envelope with `data` typed by the event type when the expression
// knows it (event.data.amount is Money for order.paid) and map(string,
// dyn) when it does not. `now` is the decision time. Money fields compare
// and add as exact decimals with numbers (event.data.amount >= 500).
//
// Expressions are compiled and type-checked once, at publish, against
// these types: an unknown field, a misspelt variable or a comparison of a
// string with a number is an *Error naming its line and column. Compiled
// programs are cached and have a cost limit, so a journey can neither
// fail to compile at send time nor spin.
package cond

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	celenv "cel.dev/cel-go/common/env"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
)

// Kind is what an expression computes, which decides the result type it
// must have.
type Kind int

const (
	// Bool is a condition: trigger and wait `when`, entry `audience`, goal
	// `check`, branch cases. It must have type bool (or dyn, checked when
	// it runs).
	Bool Kind = iota + 1
	// Any is a value of any type: update `set`, send `vars`, webhook
	// `body` values.
	Any
)

// ParseKind returns the Kind named "bool" or "any".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "bool":
		return Bool, nil
	case "any":
		return Any, nil
	}
	return 0, fmt.Errorf("condition kind %q: must be bool or any", s)
}

// String returns "bool" or "any".
func (k Kind) String() string {
	switch k {
	case Bool:
		return "bool"
	case Any:
		return "any"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

const (
	// MaxExpressionSize is the longest expression accepted, in characters.
	// Conditions are a line or two; this bounds the work of parsing and
	// checking what an API caller sends.
	MaxExpressionSize = 4096
	// CostLimit bounds one evaluation in CEL's cost units (about one per
	// operation, per list element visited by a comprehension). A typical
	// condition costs under 50; a comprehension over a member's coupons
	// or enrollments a few hundred.
	CostLimit = 10_000
	// maxCached bounds the program cache: the API validates expressions
	// anyone with a marketer token sends.
	maxCached = 4096
)

// Variable names, as expressions spell them.
const (
	varMember = "member"
	varEvent  = "event"
	varNow    = "now"
	// varProgram is the membership programme (loyalty.ProgramDocument).
	varProgram = "program"
)

// genericEvent is the event key of expressions that do not know the event
// type: several types, or one events does not know.
const genericEvent = "*"

// Error is a compile error: where in the expression, and what is wrong.
// Error() is the message alone (after "line L: " when the expression has
// several lines): callers place it, as the journey validator does with the
// expression's path and column (`steps[2].branch[0].when: does not compile
// (column 14): undeclared reference to 'membr'`).
type Error struct {
	line, column int
	// Message says what is wrong, as CEL's checker puts it.
	Message string
}

// Line returns the 1-based line of the problem.
func (e *Error) Line() int { return e.line }

// Column returns the 1-based column of the problem, in characters.
func (e *Error) Column() int { return e.column }

// Error returns the message, after the line when it is not the first.
func (e *Error) Error() string {
	if e.line > 1 {
		return fmt.Sprintf("line %d: %s", e.line, e.Message)
	}
	return e.Message
}

// errorAt returns an *Error at 1-based line and column.
func errorAt(line, column int, msg string) *Error {
	return &Error{line: max(line, 1), column: max(column, 1), Message: msg}
}

// Env is the CEL environment of journeys: the member, event and Money
// types, and the compiled programs. Build it once with NewEnv; it is safe
// for concurrent use.
type Env struct {
	reg     *registry
	base    *cel.Env
	std     map[string]stdOp
	member  *objectType
	program *objectType
	typed   map[events.Type]*objectType // event envelopes with typed data
	generic *objectType

	mu    sync.Mutex
	envs  map[string]*cel.Env // by event key
	cache map[cacheKey]*Program
}

type cacheKey struct {
	expr   string
	kind   Kind
	events string
}

// NewEnv builds the environment: it declares the member document, every
// event type's envelope and Money to the checker.
func NewEnv() (*Env, error) {
	reg := newRegistry()
	member, err := reg.object(reflect.TypeFor[loyalty.MemberDocument]())
	if err != nil {
		return nil, fmt.Errorf("declare member: %w", err)
	}
	program, err := reg.object(reflect.TypeFor[loyalty.ProgramDocument]())
	if err != nil {
		return nil, fmt.Errorf("declare program: %w", err)
	}
	e := &Env{reg: reg, member: member, program: program, typed: map[events.Type]*objectType{}, envs: map[string]*cel.Env{}, cache: map[cacheKey]*Program{}}
	for _, t := range append(events.Types(), events.InternalTypes()...) {
		dt := events.DataType(t)
		if dt == nil {
			return nil, fmt.Errorf("declare event %s: no data type", t)
		}
		env, err := e.envelope("events."+strings.TrimSuffix(dt.Name(), "Data")+"Event", dt)
		if err != nil {
			return nil, fmt.Errorf("declare event %s: %w", t, err)
		}
		e.typed[t] = env
	}
	if e.generic, err = e.envelope("events.Envelope", reflect.TypeFor[map[string]any]()); err != nil {
		return nil, fmt.Errorf("declare generic event: %w", err)
	}

	var objects []*types.Type
	for _, name := range slices.Sorted(maps.Keys(reg.objects)) {
		objects = append(objects, reg.objects[name].cel)
	}
	base, err := types.NewRegistry()
	if err != nil {
		return nil, fmt.Errorf("cel registry: %w", err)
	}
	std := celenv.NewLibrarySubset().AddExcludedFunctions(celenv.NewFunction(operators.Equals), celenv.NewFunction(operators.NotEquals))
	opts := []cel.EnvOption{
		cel.StdLib(cel.StdLibSubset(std)),
		cel.CustomTypeProvider(&provider{Registry: base, reg: reg}),
		cel.CustomTypeAdapter(base),
		cel.CrossTypeNumericComparisons(true),
		// Timestamp accessors without a zone use UTC, not the server's.
		cel.DefaultUTCTimeZone(true),
		cel.ParserExpressionSizeLimit(MaxExpressionSize),
		cel.Variable(varMember, member.cel),
		cel.Variable(varNow, types.TimestampType),
		cel.Variable(varProgram, program.cel),
	}
	opts = append(opts, moneyDecls()...)
	opts = append(opts, dateDecls()...)
	opts = append(opts, equalityDecls(objects)...)
	if e.base, err = cel.NewCustomEnv(opts...); err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	if e.std, err = standardOperators(e.base); err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	return e, nil
}

// envelope declares the object type of an event envelope whose data has
// Go type data.
func (e *Env) envelope(name string, data reflect.Type) (*objectType, error) {
	var fields []*field
	for _, f := range []struct {
		name string
		typ  reflect.Type
	}{
		{"id", reflect.TypeFor[string]()},
		{"type", reflect.TypeFor[string]()},
		{"occurred_at", reflect.TypeFor[time.Time]()},
		{"member_id", reflect.TypeFor[string]()},
		{"version", reflect.TypeFor[int]()},
		{"data", data},
	} {
		ct, enc, err := e.reg.typeOf(f.typ)
		if err != nil {
			return nil, err
		}
		fields = append(fields, &field{name: f.name, typ: f.typ, cel: ct, enc: enc, obj: e.reg.byGo[deref(f.typ)]})
	}
	return e.reg.assemble(name, fields...)
}

// eventKey says which event variable expressions over eventTypes get.
func (e *Env) eventKey(eventTypes []string) string {
	ts := slices.Compact(slices.Sorted(slices.Values(eventTypes)))
	if len(ts) == 1 && e.typed[events.Type(ts[0])] != nil {
		return ts[0]
	}
	return genericEvent
}

// envFor returns the CEL environment with the event variable of key.
func (e *Env) envFor(key string) (*cel.Env, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if env, ok := e.envs[key]; ok {
		return env, nil
	}
	t := e.generic
	if key != genericEvent {
		t = e.typed[events.Type(key)]
	}
	env, err := e.base.Extend(cel.Variable(varEvent, t.cel))
	if err != nil {
		return nil, fmt.Errorf("declare event %s: %w", key, err)
	}
	e.envs[key] = env
	return env, nil
}

// Compile compiles and type-checks expr as an expression of kind over
// member, now and event. The event is typed by eventTypes when it names
// one events.Type, a storefront's or an internal one (event.data.amount is
// Money for order.paid, event.data.to a string for member.segment_changed);
// otherwise (none, several, or an unknown type) it is the generic envelope
// whose data is map(string, dyn). A problem in the
// expression is an *Error; the same (expr, kind, event types) compiles
// once.
func (e *Env) Compile(expr string, kind Kind, eventTypes []string) (*Program, error) {
	if kind != Bool && kind != Any {
		return nil, fmt.Errorf("compile condition: unknown kind %v", kind)
	}
	key := cacheKey{expr: expr, kind: kind, events: e.eventKey(eventTypes)}
	e.mu.Lock()
	p, ok := e.cache[key]
	e.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := e.compile(key)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, ok := e.cache[key]; ok {
		return prev, nil
	}
	if len(e.cache) >= maxCached {
		clear(e.cache)
	}
	e.cache[key] = p
	return p, nil
}

func (e *Env) compile(key cacheKey) (*Program, error) {
	env, err := e.envFor(key.events)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(key.expr) == "" {
		return nil, errorAt(1, 1, "is empty")
	}
	checked, iss := env.Compile(key.expr)
	if iss.Err() != nil {
		return nil, firstError(iss.Errors())
	}
	a := checked.NativeRep()
	out := checked.OutputType()
	if key.kind == Bool && !out.IsExactType(types.BoolType) && !out.IsExactType(types.DynType) {
		return nil, errorAt(1, 1, fmt.Sprintf("must be a condition (bool), but is %s", out))
	}
	if err := nullComparisons(a); err != nil {
		return nil, err
	}
	prg, err := env.Program(checked, cel.CostLimit(CostLimit), cel.CustomDecoratorV2(decorator(a, e.std)))
	if err != nil {
		return nil, fmt.Errorf("plan condition: %w", err)
	}
	p := &Program{env: e, expr: key.expr, kind: key.kind, out: out, prg: prg}
	if key.events != genericEvent {
		p.eventType = events.Type(key.events)
	}
	p.analyse(a)
	return p, nil
}

// firstError converts the first of CEL's errors, by position, to an
// *Error.
func firstError(errs []*cel.Error) *Error {
	if len(errs) == 0 {
		return errorAt(1, 1, "does not compile")
	}
	first := slices.MinFunc(errs, func(a, b *cel.Error) int {
		if c := a.Location.Line() - b.Location.Line(); c != 0 {
			return c
		}
		return a.Location.Column() - b.Location.Column()
	})
	msg := strings.TrimSuffix(first.Message, " (in container '')")
	return errorAt(first.Location.Line(), first.Location.Column()+1, msg)
}

// nullComparisons refuses `x == null` and `x != null` for x that can
// never be null: absent parts read as empty values, so member.paid !=
// null would hold for every member, paid or not.
func nullComparisons(a *ast.AST) error {
	for _, n := range ast.MatchDescendants(ast.NavigateAST(a), func(e ast.NavigableExpr) bool {
		if e.Kind() != ast.CallKind {
			return false
		}
		fn := e.AsCall().FunctionName()
		return fn == operators.Equals || fn == operators.NotEquals
	}) {
		args := n.AsCall().Args()
		for i, arg := range args {
			other := args[1-i]
			if arg.Kind() != ast.LiteralKind || arg.AsLiteral() != types.NullValue {
				continue
			}
			switch a.GetType(other.ID()).Kind() {
			case types.DynKind, types.NullTypeKind, types.AnyKind:
				continue
			}
			loc := a.SourceInfo().GetStartLocation(arg.ID())
			what := "this value"
			if p, ok := pathOf(other); ok {
				what = p
			}
			return errorAt(loc.Line(), loc.Column()+1, fmt.Sprintf(
				"%s is never null: absent parts read as empty values (\"\", 0, false, [], timestamp(0)); compare a field with its empty value instead", what))
		}
	}
	return nil
}

// Program is a compiled expression. It is safe for concurrent use.
type Program struct {
	env       *Env
	expr      string
	kind      Kind
	out       *types.Type
	prg       cel.Program
	eventType events.Type // "" when the event's data is generic

	// member, event and program are what the program reads of them (nil:
	// nothing).
	member, event, program *need
	usesNow                bool
	reads                  []readPath
}

// readPath is a field path the program reads, e.g. member.paid.status.
type readPath struct {
	name  string // "member.paid.status"
	root  string
	steps []string
}

// Expr returns the expression's source text.
func (p *Program) Expr() string { return p.expr }

// Kind returns the kind the program was compiled as.
func (p *Program) Kind() Kind { return p.kind }

// Type returns the CEL type of the result, e.g. "bool", "Money",
// "list(loyalty.CouponView)" or "dyn".
func (p *Program) Type() string { return p.out.String() }

// Reads returns the member, event and now paths the expression reads,
// sorted: the keys of Value.Read.
func (p *Program) Reads() []string {
	out := make([]string, len(p.reads))
	for i, r := range p.reads {
		out[i] = r.name
	}
	return out
}

// Input is what an expression is evaluated over.
type Input struct {
	Member loyalty.MemberDocument
	// Event is the enrollment's latest event: the trigger, or the event
	// that ended the last wait. Nil when there is none; a program that
	// reads event then fails.
	Event *events.Envelope
	// EventData is Event's data already decoded, when the caller has it:
	// what Envelope.DecodeData returns, or a map for an event type that is
	// not an events.Type. Nil means Event.Data is decoded here.
	EventData any
	// Now is the decision time.
	Now time.Time
	// Program is the membership programme (the same for every decision;
	// loyalty.Program.Document).
	Program loyalty.ProgramDocument
}

// Value is the result of an evaluation.
type Value struct {
	// Result is a bool for a condition; for a value it is one of bool,
	// int64, uint64, float64, string, []byte, decimal.Decimal (Money),
	// time.Time, time.Duration, []any, map[string]any, or nil.
	Result any
	// Read holds the value of each member, event and now path the
	// expression reads ("member.paid.status": "trial", "event.data.amount":
	// "600.00"): the values that decided it, for the member's timeline.
	// Money is its decimal string; a long list or large object is
	// summarised.
	Read map[string]any
}

// Eval evaluates the program over in. When evaluation fails, the Value
// still holds what was read.
func (p *Program) Eval(in Input) (Value, error) {
	return p.eval(&in)
}

func (p *Program) eval(in *Input) (Value, error) {
	act, err := p.activation(in)
	if err != nil {
		return Value{}, err
	}
	read := p.readValues(act)
	out, _, err := p.prg.Eval(act)
	if err != nil {
		return Value{Read: read}, fmt.Errorf("evaluate %s: %w", p.kind, err)
	}
	res, err := native(out)
	if err != nil {
		return Value{Read: read}, fmt.Errorf("evaluate %s: %w", p.kind, err)
	}
	if p.kind == Bool {
		if _, ok := res.(bool); !ok {
			return Value{Read: read}, fmt.Errorf("evaluate bool: the condition gave %s, not a bool", out.Type().TypeName())
		}
	}
	return Value{Result: res, Read: read}, nil
}

// EvalBool evaluates a condition: whether it holds, and the values that
// decided it (also when it fails).
func (p *Program) EvalBool(in Input) (bool, map[string]any, error) {
	if p.kind != Bool {
		return false, nil, fmt.Errorf("evaluate condition: the program is a %s value, not a condition", p.kind)
	}
	v, err := p.eval(&in)
	if err != nil {
		return false, v.Read, err
	}
	return v.Result.(bool), v.Read, nil
}

// activation converts the parts of in the program reads.
func (p *Program) activation(in *Input) (map[string]any, error) {
	act := make(map[string]any, 3)
	if p.member != nil {
		act[varMember] = p.env.member.encodeNeed(reflect.ValueOf(&in.Member).Elem(), p.member)
	}
	if p.event != nil {
		ev, err := p.env.event(in, p.eventType, p.event)
		if err != nil {
			return nil, fmt.Errorf("evaluate %s: %w", p.kind, err)
		}
		act[varEvent] = ev
	}
	if p.usesNow {
		act[varNow] = timestamp(in.Now)
	}
	if p.program != nil {
		act[varProgram] = p.env.program.encodeNeed(reflect.ValueOf(&in.Program).Elem(), p.program)
	}
	return act, nil
}

// event converts in's event for a program whose event type is want ("" for
// generic data), as far as n needs: a program that reads only event.type
// does not decode the data.
func (e *Env) event(in *Input, want events.Type, n *need) (map[string]any, error) {
	env := in.Event
	if env == nil {
		return nil, errors.New("the expression reads event, but there is none")
	}
	if want != "" && env.Type != want {
		return nil, fmt.Errorf("the expression reads a %s event, but event %s is %s", want, env.ID, env.Type)
	}
	needs := func(field string) bool { return n.all || n.fields[field] != nil }
	m := make(map[string]any, 6)
	if needs("id") {
		m["id"] = types.String(env.ID)
	}
	if needs("type") {
		m["type"] = types.String(env.Type)
	}
	if needs("occurred_at") {
		m["occurred_at"] = timestamp(env.OccurredAt)
	}
	if needs("member_id") {
		m["member_id"] = types.String(env.MemberID)
	}
	if needs("version") {
		m["version"] = types.Int(env.Version)
	}
	if needs("data") {
		dn := n
		if !n.all {
			dn = n.fields["data"]
		}
		dv, err := e.eventData(in, dn)
		if err != nil {
			return nil, err
		}
		m["data"] = dv
	}
	return m, nil
}

// eventData converts the data of in's event as far as n needs.
func (e *Env) eventData(in *Input, n *need) (any, error) {
	env := in.Event
	data := in.EventData
	typed := e.typed[env.Type]
	if data == nil && len(env.Data) > 0 {
		var err error
		if typed != nil {
			data, err = env.DecodeData()
		} else {
			data, err = decodeJSON(env.Data)
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case data == nil && typed != nil:
		f := typed.byName["data"]
		return f.enc(reflect.Zero(f.typ)), nil
	case data == nil:
		return map[string]any{}, nil
	case typed != nil:
		rv := reflect.ValueOf(data)
		if rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return nil, fmt.Errorf("event %s has nil data", env.ID)
			}
			rv = rv.Elem()
		}
		f := typed.byName["data"]
		if rv.Type() != f.typ {
			return nil, fmt.Errorf("event %s is %s, but its data is a %s", env.ID, env.Type, rv.Type())
		}
		return f.encodeNeed(rv, n), nil
	}
	return e.reg.dyn(data), nil
}

// decodeJSON decodes the data of an event that is not an events.Type,
// keeping numbers exact until dyn reads them.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode event data: %w", err)
	}
	return v, nil
}

// analyse records which variables and paths the program reads.
func (p *Program) analyse(a *ast.AST) {
	seen := map[string]bool{}
	for _, id := range ast.MatchDescendants(ast.NavigateAST(a), ast.KindMatcher(ast.IdentKind)) {
		name := id.AsIdent()
		switch name {
		case varMember:
			p.member = needFrom(p.member, id)
		case varEvent:
			p.event = needFrom(p.event, id)
		case varNow:
			p.usesNow = true
		case varProgram:
			p.program = needFrom(p.program, id)
		default:
			continue
		}
		r := readFrom(id)
		if (len(r.steps) > 0 || r.root == varNow) && !seen[r.name] {
			seen[r.name] = true
			p.reads = append(p.reads, r)
		}
	}
	slices.SortFunc(p.reads, func(a, b readPath) int { return strings.Compare(a.name, b.name) })
}

// needFrom adds to n what the field selections applied to identifier id
// read: member.paid.status needs paid.status, has(member.paid) needs
// paid, a bare member needs all of it.
func needFrom(n *need, id ast.NavigableExpr) *need {
	if n == nil {
		n = &need{}
	}
	var path []string
	for cur := id; ; {
		parent, ok := cur.Parent()
		if !ok || parent.Kind() != ast.SelectKind || parent.AsSelect().Operand().ID() != cur.ID() {
			break
		}
		path = append(path, parent.AsSelect().FieldName())
		if parent.AsSelect().IsTestOnly() {
			break
		}
		cur = parent
	}
	n.add(path)
	return n
}

// readFrom follows the field selections and constant-key indexes applied
// to identifier id: member.paid.status, event.data['to'].
func readFrom(id ast.NavigableExpr) readPath {
	r := readPath{root: id.AsIdent()}
	cur := id
	for {
		parent, ok := cur.Parent()
		if !ok {
			break
		}
		if step, ok := stepOf(parent, cur); ok {
			r.steps = append(r.steps, step)
			cur = parent
			continue
		}
		break
	}
	r.name = strings.Join(append([]string{r.root}, r.steps...), ".")
	return r
}

// stepOf returns the field that parent reads from child, when parent is a
// selection of child or an index into it by a constant string.
func stepOf(parent, child ast.NavigableExpr) (string, bool) {
	switch parent.Kind() {
	case ast.SelectKind:
		s := parent.AsSelect()
		if s.IsTestOnly() || s.Operand().ID() != child.ID() {
			return "", false
		}
		return s.FieldName(), true
	case ast.CallKind:
		c := parent.AsCall()
		args := c.Args()
		if c.FunctionName() != operators.Index || len(args) != 2 || args[0].ID() != child.ID() || args[1].Kind() != ast.LiteralKind {
			return "", false
		}
		if s, ok := args[1].AsLiteral().(types.String); ok {
			return string(s), true
		}
	}
	return "", false
}

// pathOf returns the member/event/now path e is, if it is one.
func pathOf(e ast.Expr) (string, bool) {
	var steps []string
	for {
		switch e.Kind() {
		case ast.SelectKind:
			s := e.AsSelect()
			if s.IsTestOnly() {
				return "", false
			}
			steps = append(steps, s.FieldName())
			e = s.Operand()
			continue
		case ast.IdentKind:
			switch e.AsIdent() {
			case varMember, varEvent, varNow, varProgram:
				steps = append(steps, e.AsIdent())
				slices.Reverse(steps)
				return strings.Join(steps, "."), true
			}
		}
		return "", false
	}
}

// readValues looks up the program's read paths in the activation.
func (p *Program) readValues(act map[string]any) map[string]any {
	if len(p.reads) == 0 {
		return nil
	}
	out := make(map[string]any, len(p.reads))
	for _, r := range p.reads {
		v, ok := act[r.root]
		for _, s := range r.steps {
			if !ok {
				break
			}
			v, ok = lookup(v, s)
		}
		if ok {
			budget := readBudget
			out[r.name] = readable(v, &budget)
		}
	}
	return out
}

// lookup returns field or key s of v.
func lookup(v any, s string) (any, bool) {
	switch m := v.(type) {
	case map[string]any:
		x, ok := m[s]
		return x, ok
	case ref.Val:
		if mp, ok := m.(interface {
			Find(ref.Val) (ref.Val, bool)
		}); ok {
			return mp.Find(types.String(s))
		}
	}
	return nil, false
}
