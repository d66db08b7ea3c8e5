package memstore

import (
	"reflect"
	"sync"
)

// deepCopy returns a copy of v that shares nothing a caller could change
// with v: slices, maps and pointers reached through exported fields are
// copied all the way down. Unexported fields (time.Time's location,
// decimal.Decimal's big.Int) belong to packages that never change them in
// place, and are copied as they are.
//
// Items the store reads often (accounts, journey versions) are kept
// decoded from their JSON, as DynamoDB would return them, and handed out
// as deep copies: the same isolation as decoding the JSON on every read,
// without its cost.
func deepCopy[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	if !needsCopy(rv.Type()) {
		return v
	}
	return cloneValue(rv).Interface().(T)
}

func cloneValue(v reflect.Value) reflect.Value {
	t := v.Type()
	if !needsCopy(t) {
		return v
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(cloneValue(v.Elem()))
		return p
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		s := reflect.MakeSlice(t, v.Len(), v.Len())
		if !needsCopy(t.Elem()) {
			reflect.Copy(s, v)
			return s
		}
		for i := range v.Len() {
			s.Index(i).Set(cloneValue(v.Index(i)))
		}
		return s
	case reflect.Array:
		a := reflect.New(t).Elem()
		for i := range v.Len() {
			a.Index(i).Set(cloneValue(v.Index(i)))
		}
		return a
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		m := reflect.MakeMapWithSize(t, v.Len())
		it := v.MapRange()
		for it.Next() {
			m.SetMapIndex(it.Key(), cloneValue(it.Value()))
		}
		return m
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		c := reflect.New(t).Elem()
		c.Set(cloneValue(v.Elem()))
		return c
	case reflect.Struct:
		s := reflect.New(t).Elem()
		s.Set(v)
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && needsCopy(f.Type) {
				s.Field(i).Set(cloneValue(v.Field(i)))
			}
		}
		return s
	}
	return v
}

// copies caches needsCopy by type.
var copies sync.Map // reflect.Type → bool

// needsCopy reports whether a value of t can share something changeable:
// a slice, map, pointer or interface reachable through exported fields.
func needsCopy(t reflect.Type) bool {
	if b, ok := copies.Load(t); ok {
		return b.(bool)
	}
	copies.Store(t, true) // a recursive type refers to itself: copy it
	b := computeNeedsCopy(t)
	copies.Store(t, b)
	return b
}

func computeNeedsCopy(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	case reflect.Array:
		return needsCopy(t.Elem())
	case reflect.Struct:
		// Unexported fields are their package's (time.Time's location,
		// decimal.Decimal's big.Int), which it never changes in place.
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && needsCopy(f.Type) {
				return true
			}
		}
	}
	return false
}
