package cond

import (
	"cmp"
	"slices"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// decorator adapts one program's planned nodes: operator calls that may
// see Money get Money's arithmetic (moneyCalls), and maps that
// comprehensions range over are visited in key order. CEL leaves that
// order to the map (a Go map: random), so {'a': 1, 'b': 2}.map(k, k)
// could give a different list on each run; a journey's decision must not.
func decorator(a *ast.AST, std map[string]stdOp) interpreter.InterpretableDecoratorV2 {
	ranges := map[int64]bool{}
	for _, c := range ast.MatchDescendants(ast.NavigateAST(a), ast.KindMatcher(ast.ComprehensionKind)) {
		ranges[c.AsComprehension().IterRange().ID()] = true
	}
	money := moneyCalls(a, std)
	return func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		i, err := money(i)
		if err != nil || !ranges[i.ID()] {
			return i, err
		}
		return &orderedRange{InterpretableV2: i}, nil
	}
}

// orderedRange is the range of a comprehension: a map it yields iterates
// in key order.
type orderedRange struct {
	interpreter.InterpretableV2
}

// Exec implements interpreter.InterpretableV2.
func (r *orderedRange) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	v := r.InterpretableV2.Exec(frame)
	if m, ok := v.(traits.Mapper); ok {
		return orderedMap{m}
	}
	return v
}

// Eval implements interpreter.Interpretable.
func (r *orderedRange) Eval(vars interpreter.Activation) ref.Val {
	return interpreter.EvalActivation(vars, r.Exec)
}

// orderedMap is a map whose iterator yields its keys sorted: by type, then
// by value.
type orderedMap struct {
	traits.Mapper
}

// Iterator implements traits.Iterable.
func (m orderedMap) Iterator() traits.Iterator {
	var keys []ref.Val
	for it := m.Mapper.Iterator(); it.HasNext() == types.True; {
		keys = append(keys, it.Next())
	}
	slices.SortFunc(keys, compareKeys)
	return types.NewRefValList(types.DefaultTypeAdapter, keys).Iterator()
}

// compareKeys orders map keys (bool, int, uint or string).
func compareKeys(a, b ref.Val) int {
	if c := cmp.Compare(a.Type().TypeName(), b.Type().TypeName()); c != 0 {
		return c
	}
	if c, ok := a.(traits.Comparer); ok {
		if r, ok := c.Compare(b).(types.Int); ok {
			return int(r)
		}
	}
	return 0
}
