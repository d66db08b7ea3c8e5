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
	if needsCopy(rv.Type()) {
		unshare(rv)
	}
	return v
}

// unshare replaces, in place, what the settable v shares through its
// exported fields (slices, maps, pointers, interfaces) with copies. The
// values are copied whole first and then fixed up where they share, so a
// slice of structs is one allocation, not one a struct.
func unshare(v reflect.Value) {
	t := v.Type()
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(v.Elem())
		if needsCopy(t.Elem()) {
			unshare(p.Elem())
		}
		v.Set(p)
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		s := reflect.MakeSlice(t, v.Len(), v.Len())
		reflect.Copy(s, v)
		if needsCopy(t.Elem()) {
			for i := range s.Len() {
				unshare(s.Index(i))
			}
		}
		v.Set(s)
	case reflect.Array:
		if needsCopy(t.Elem()) {
			for i := range v.Len() {
				unshare(v.Index(i))
			}
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(t, v.Len())
		deep := needsCopy(t.Elem())
		it := v.MapRange()
		for it.Next() {
			e := it.Value()
			if deep {
				c := reflect.New(t.Elem()).Elem()
				c.Set(e)
				unshare(c)
				e = c
			}
			m.SetMapIndex(it.Key(), e)
		}
		v.Set(m)
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := v.Elem()
		if !needsCopy(e.Type()) {
			return
		}
		c := reflect.New(e.Type()).Elem()
		c.Set(e)
		unshare(c)
		v.Set(c)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && needsCopy(f.Type) {
				unshare(v.Field(i))
			}
		}
	}
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
