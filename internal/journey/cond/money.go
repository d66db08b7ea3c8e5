package cond

import (
	"fmt"
	"math"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"github.com/shopspring/decimal"
)

// MoneyType is the CEL type of money amounts (decimal.Decimal fields such
// as event.data.amount and member.growth.counted). It is opaque: a
// condition compares, adds, subtracts and scales amounts and converts them
// with double() and string(), always with decimal meaning.
var MoneyType = types.NewOpaqueType("Money")

// Money is a money amount as CEL holds it. Numbers it meets are taken at
// their decimal value: an int exactly, a double by its shortest decimal
// form (499.99 is 499.99, not the binary fraction nearest to it), so
// amount >= 500 never misjudges "499.99" and amount == 0.3 holds for
// "0.30".
type Money struct {
	Amount decimal.Decimal
}

// ConvertToNative implements ref.Val: decimal.Decimal, or its string.
func (m Money) ConvertToNative(t reflect.Type) (any, error) {
	switch t {
	case decimalType, reflect.TypeFor[any]():
		return m.Amount, nil
	case reflect.TypeFor[string]():
		return moneyString(m.Amount), nil
	}
	return nil, fmt.Errorf("type conversion error from Money to %s", t)
}

// ConvertToType implements ref.Val: Money converts to string and double.
func (m Money) ConvertToType(t ref.Type) ref.Val {
	switch t.TypeName() {
	case MoneyType.TypeName():
		return m
	case types.StringType.TypeName():
		return types.String(moneyString(m.Amount))
	case types.DoubleType.TypeName():
		return types.Double(m.Amount.InexactFloat64())
	case types.TypeType.TypeName():
		return MoneyType
	}
	return types.NewErr("type conversion error from Money to %s", t.TypeName())
}

// Equal implements ref.Val with CEL's heterogeneous equality: equal to a
// number of the same decimal value, unequal to anything else.
func (m Money) Equal(other ref.Val) ref.Val {
	c, ok := compareMoney(m, other)
	return types.Bool(ok && c == 0)
}

// Type implements ref.Val.
func (m Money) Type() ref.Type { return MoneyType }

// Value implements ref.Val: the decimal.Decimal.
func (m Money) Value() any { return m.Amount }

// moneyString keeps the scale an amount was written with ("600.00", not
// "600"): it is what the member and the marketer saw.
func moneyString(d decimal.Decimal) string {
	if d.Exponent() < 0 {
		return d.StringFixed(-d.Exponent())
	}
	return d.String()
}

// decimalOf returns v as a decimal when it is a finite number or Money.
// inf is ±1 for an infinite double; nan reports a NaN.
func decimalOf(v ref.Val) (d decimal.Decimal, inf int, nan, ok bool) {
	switch n := v.(type) {
	case Money:
		return n.Amount, 0, false, true
	case types.Int:
		return decimal.NewFromInt(int64(n)), 0, false, true
	case types.Uint:
		return decimal.NewFromUint64(uint64(n)), 0, false, true
	case types.Double:
		f := float64(n)
		switch {
		case math.IsNaN(f):
			return decimal.Decimal{}, 0, true, true
		case math.IsInf(f, 0):
			if f > 0 {
				return decimal.Decimal{}, 1, false, true
			}
			return decimal.Decimal{}, -1, false, true
		}
		// NewFromFloat takes the shortest decimal that round-trips.
		return decimal.NewFromFloat(f), 0, false, true
	}
	return decimal.Decimal{}, 0, false, false
}

// compareMoney compares two values at least one of which is Money. ok is
// false when they are not comparable: one is not a number, or is NaN.
func compareMoney(l, r ref.Val) (c int, ok bool) {
	ld, linf, lnan, lok := decimalOf(l)
	rd, rinf, rnan, rok := decimalOf(r)
	if !lok || !rok || lnan || rnan {
		return 0, false
	}
	switch {
	case linf != 0 || rinf != 0:
		return cmpInt(linf, rinf), true
	}
	return ld.Cmp(rd), true
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// moneyOp applies operator op to l and r, at least one of them Money.
func moneyOp(op string, l, r ref.Val) ref.Val {
	switch op {
	case operators.Equals:
		c, ok := compareMoney(l, r)
		return types.Bool(ok && c == 0)
	case operators.NotEquals:
		c, ok := compareMoney(l, r)
		return types.Bool(!ok || c != 0)
	case operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
		if _, _, _, ok := decimalOf(l); !ok {
			return types.NoSuchOverloadErr()
		}
		if _, _, _, ok := decimalOf(r); !ok {
			return types.NoSuchOverloadErr()
		}
		c, ok := compareMoney(l, r)
		if !ok {
			return types.False // NaN compares false, as in CEL
		}
		switch op {
		case operators.Less:
			return types.Bool(c < 0)
		case operators.LessEquals:
			return types.Bool(c <= 0)
		case operators.Greater:
			return types.Bool(c > 0)
		default:
			return types.Bool(c >= 0)
		}
	case operators.Add, operators.Subtract, operators.Multiply:
		_, lm := l.(Money)
		_, rm := r.(Money)
		if op == operators.Multiply && lm && rm {
			return types.NoSuchOverloadErr()
		}
		ld, linf, lnan, lok := decimalOf(l)
		rd, rinf, rnan, rok := decimalOf(r)
		if !lok || !rok {
			return types.NoSuchOverloadErr()
		}
		if lnan || rnan || linf != 0 || rinf != 0 {
			return types.NewErr("money arithmetic with a number that is not finite")
		}
		switch op {
		case operators.Add:
			return Money{ld.Add(rd)}
		case operators.Subtract:
			return Money{ld.Sub(rd)}
		default:
			return Money{ld.Mul(rd)}
		}
	}
	return types.NoSuchOverloadErr()
}

// moneyOperators are the binary operators Money takes part in.
var moneyOperators = []string{
	operators.Equals, operators.NotEquals,
	operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals,
	operators.Add, operators.Subtract, operators.Multiply,
}

// moneyDecls declares Money's overloads of the standard operators and
// conversions to the checker. The operators' run-time behaviour is
// moneyCalls': CEL dispatches them on the left operand's traits, which
// would make 500 <= amount an error even though amount >= 500 works.
func moneyDecls() []cel.EnvOption {
	numbers := []*types.Type{types.IntType, types.UintType, types.DoubleType}
	pairs := [][2]*types.Type{{MoneyType, MoneyType}}
	for _, n := range numbers {
		pairs = append(pairs, [2]*types.Type{MoneyType, n}, [2]*types.Type{n, MoneyType})
	}
	name := func(t *types.Type) string { return t.TypeName() }
	var opts []cel.EnvOption
	for _, op := range []struct {
		fn, id string
		out    *types.Type
	}{
		{operators.Less, "less", types.BoolType},
		{operators.LessEquals, "less_equals", types.BoolType},
		{operators.Greater, "greater", types.BoolType},
		{operators.GreaterEquals, "greater_equals", types.BoolType},
		{operators.Add, "add", MoneyType},
		{operators.Subtract, "subtract", MoneyType},
		{operators.Multiply, "multiply", MoneyType},
	} {
		var overloads []cel.FunctionOpt
		for _, p := range pairs {
			if op.fn == operators.Multiply && p[0] == MoneyType && p[1] == MoneyType {
				continue // money times money is not an amount
			}
			overloads = append(overloads, cel.Overload(op.id+"_"+name(p[0])+"_"+name(p[1]), []*types.Type{p[0], p[1]}, op.out))
		}
		opts = append(opts, cel.Function(op.fn, overloads...))
	}
	opts = append(opts,
		cel.Function(operators.Negate, cel.Overload("negate_Money", []*types.Type{MoneyType}, MoneyType)),
		cel.Function("double", cel.Overload("Money_to_double", []*types.Type{MoneyType}, types.DoubleType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return v.ConvertToType(types.DoubleType) }))),
		cel.Function("string", cel.Overload("Money_to_string", []*types.Type{MoneyType}, types.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return v.ConvertToType(types.StringType) }))),
	)
	return opts
}

// equalityDecls replaces the standard library's == and != declarations.
// Theirs is one overload (A, A) that no other overload may sit beside, so
// amount == 500 could not type-check; these are the same pairs spelled out
// per type, plus Money with numbers and numbers with each other. Object
// types compare only with their own type: since absent parts read as
// empty values, member.paid == null would always be false, and the
// checker says so instead of letting it pass.
func equalityDecls(objects []*types.Type) []cel.EnvOption {
	a, k, v := types.NewTypeParamType("A"), types.NewTypeParamType("K"), types.NewTypeParamType("V")
	same := []*types.Type{
		types.BoolType, types.IntType, types.UintType, types.DoubleType, types.StringType, types.BytesType,
		types.NullType, types.TimestampType, types.DurationType, types.TypeType, MoneyType,
		types.NewListType(a), types.NewMapType(k, v),
	}
	same = append(same, objects...)
	var pairs [][2]*types.Type
	for _, t := range same {
		pairs = append(pairs, [2]*types.Type{t, t})
	}
	numbers := []*types.Type{types.IntType, types.UintType, types.DoubleType, MoneyType}
	for i, x := range numbers {
		for _, y := range numbers[i+1:] {
			pairs = append(pairs, [2]*types.Type{x, y}, [2]*types.Type{y, x})
		}
	}
	var opts []cel.EnvOption
	for _, op := range []struct{ fn, id string }{{operators.Equals, "equals"}, {operators.NotEquals, "not_equals"}} {
		var overloads []cel.FunctionOpt
		for _, p := range pairs {
			id := op.id + "_" + p[0].TypeName() + "_" + p[1].TypeName()
			overloads = append(overloads, cel.Overload(id, []*types.Type{p[0], p[1]}, types.BoolType))
		}
		opts = append(opts, cel.Function(op.fn, overloads...))
	}
	return opts
}

// mayBeMoney reports whether a checked type may hold Money at run time.
func mayBeMoney(t *types.Type) bool {
	if t == nil {
		return true
	}
	switch t.Kind() {
	case types.DynKind, types.AnyKind, types.TypeParamKind, types.ErrorKind:
		return true
	case types.OpaqueKind:
		return t.TypeName() == MoneyType.TypeName()
	}
	return false
}

// stdOp is the standard implementation of an operator, with the trait its
// first operand must have.
type stdOp struct {
	unary  func(v ref.Val) ref.Val
	binary func(l, r ref.Val) ref.Val
	trait  int
}

func (s stdOp) apply(args ...ref.Val) ref.Val {
	if s.trait != 0 && !args[0].Type().HasTrait(s.trait) {
		return types.MaybeNoSuchOverloadErr(args[0])
	}
	if len(args) == 1 {
		return s.unary(args[0])
	}
	return s.binary(args[0], args[1])
}

// moneyCalls replaces, in one program, the operator calls that may see
// Money with moneyCall. Calls whose operands are statically of other types
// keep the interpreter's own code.
func moneyCalls(checked *ast.AST, std map[string]stdOp) interpreter.InterpretableDecoratorV2 {
	return func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		call, ok := i.(interpreter.InterpretableCall)
		if !ok {
			return i, nil
		}
		fallback, ok := std[call.Function()]
		if !ok {
			return i, nil
		}
		args := call.Args()
		if (fallback.unary == nil) != (len(args) == 2) || len(args) == 0 || len(args) > 2 {
			return i, nil
		}
		for _, a := range args {
			if mayBeMoney(checked.GetType(a.ID())) {
				return &moneyCall{InterpretableCall: call, op: call.Function(), args: args, std: fallback}, nil
			}
		}
		return i, nil
	}
}

// moneyCall is an operator call that applies Money's arithmetic when an
// operand is Money and the standard operator otherwise.
type moneyCall struct {
	interpreter.InterpretableCall
	op   string
	args []interpreter.InterpretableV2
	std  stdOp
}

// Exec implements interpreter.InterpretableV2.
func (c *moneyCall) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	var vals [2]ref.Val
	money := false
	for i, a := range c.args {
		v := a.Exec(frame)
		if types.IsUnknownOrError(v) {
			return v
		}
		_, m := v.(Money)
		vals[i], money = v, money || m
	}
	switch {
	case !money:
		return c.std.apply(vals[:len(c.args)]...)
	case len(c.args) == 1:
		return Money{vals[0].(Money).Amount.Neg()}
	}
	return moneyOp(c.op, vals[0], vals[1])
}

// Eval implements interpreter.Interpretable.
func (c *moneyCall) Eval(vars interpreter.Activation) ref.Val {
	return interpreter.EvalActivation(vars, c.Exec)
}

// standardOperators returns the standard implementations of the
// operators moneyCall stands in for, taken from the environment so that
// other operands behave exactly as CEL specifies.
func standardOperators(env *cel.Env) (map[string]stdOp, error) {
	std := map[string]stdOp{
		operators.Equals:    {binary: types.Equal},
		operators.NotEquals: {binary: func(l, r ref.Val) ref.Val { return types.Bool(types.Equal(l, r) != types.True) }},
	}
	fns := env.Functions()
	for _, op := range append(moneyOperators, operators.Negate) {
		if _, ok := std[op]; ok {
			continue
		}
		decl, ok := fns[op]
		if !ok {
			return nil, fmt.Errorf("operator %s is not declared", op)
		}
		bindings, err := decl.Bindings()
		if err != nil {
			return nil, fmt.Errorf("bindings of %s: %w", op, err)
		}
		for _, b := range bindings {
			if b.Operator == op && (b.Binary != nil || b.Unary != nil) {
				std[op] = stdOp{unary: b.Unary, binary: b.Binary, trait: b.OperandTrait}
			}
		}
		if _, ok := std[op]; !ok {
			return nil, fmt.Errorf("operator %s has no implementation", op)
		}
	}
	return std, nil
}
