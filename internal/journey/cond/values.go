package cond

import (
	"fmt"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// native converts a CEL result to the Go values Value.Result documents.
func native(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return []byte(x), nil
	case types.Null:
		return nil, nil
	case types.Timestamp:
		return x.Time, nil
	case types.Duration:
		return x.Duration, nil
	case Money:
		return x.Amount, nil
	case *types.Err:
		return nil, x
	case *types.Type:
		return x.TypeName(), nil
	}
	if types.IsUnknown(v) {
		return nil, fmt.Errorf("the result depends on unknown values")
	}
	if m, ok := v.(traits.Mapper); ok {
		out := map[string]any{}
		for it := m.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			val, err := native(m.Get(k))
			if err != nil {
				return nil, err
			}
			key, err := native(k)
			if err != nil {
				return nil, err
			}
			s, ok := key.(string)
			if !ok {
				s = fmt.Sprint(key)
			}
			out[s] = val
		}
		return out, nil
	}
	if l, ok := v.(traits.Lister); ok {
		out := []any{}
		for it := l.Iterator(); it.HasNext() == types.True; {
			val, err := native(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s result cannot be used", v.Type().TypeName())
}

// readBudget is how many scalar values one entry of Value.Read may hold
// before it is summarised: a condition over member.enrollments should not
// copy years of enrollments into every timeline item.
const readBudget = 64

// readable converts a value the activation holds (ref.Val, or the maps and
// slices encoders build) to what Value.Read reports: JSON-friendly, Money
// as its decimal string, durations as text.
func readable(v any, budget *int) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) > *budget {
			return fmt.Sprintf("(object of %d fields)", len(x))
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = readable(e, budget)
		}
		return out
	case []any:
		if len(x) > *budget {
			return fmt.Sprintf("(list of %d items)", len(x))
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = readable(e, budget)
		}
		return out
	case Money:
		*budget--
		return moneyString(x.Amount)
	case types.Timestamp:
		*budget--
		return x.Time
	case types.Duration:
		*budget--
		return x.Duration.String()
	case ref.Val:
		if types.IsError(x) {
			*budget--
			return x.(*types.Err).Error()
		}
		n, err := native(x)
		if err != nil {
			*budget--
			return err.Error()
		}
		switch n := n.(type) {
		case map[string]any, []any:
			return readable(n, budget)
		case time.Duration:
			*budget--
			return n.String()
		}
		*budget--
		return n
	}
	*budget--
	return fmt.Sprint(v)
}
