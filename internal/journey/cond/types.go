package cond

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/shopspring/decimal"
)

// The CEL types of member and event documents are derived from the Go
// structs the API serves, by their JSON tags, so a condition names exactly
// the fields a marketer sees in GET /v1/members/{id} and in the webhook
// body; a field added to those structs is readable by conditions without
// a second list to keep in step.

var (
	decimalType  = reflect.TypeFor[decimal.Decimal]()
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	textType     = reflect.TypeFor[encoding.TextMarshaler]()
)

// epoch is the timestamp an absent time reads as: CEL's own empty
// timestamp (google.protobuf.Timestamp{}), which keeps `now - t` inside
// the duration range where Go's zero time would overflow it.
var epoch = time.Unix(0, 0).UTC()

// encoder turns a Go value of one type into the value CEL is handed: a
// ref.Val for scalars, map[string]any holding every declared field for
// objects and string-keyed maps, []any for lists.
type encoder func(v reflect.Value) any

// objectType is a CEL object type declared to the checker: a Go struct's
// JSON fields, or an event envelope assembled from its parts.
type objectType struct {
	name   string
	goType reflect.Type // nil for assembled types
	cel    *types.Type
	fields []*field
	byName map[string]*field
}

// field is one JSON field of an object type.
type field struct {
	name  string
	index []int // path through embedded structs; nil for assembled types
	typ   reflect.Type
	cel   *types.Type
	enc   encoder
	// obj is the field's object type when it is a struct or a pointer to
	// one, so that a program reading part of it converts only that part.
	obj *objectType
	// decl is what the provider tells the checker. Without GetFrom the
	// interpreter reads the field as a map key, which is what it is.
	decl *types.FieldType
}

// registry maps Go types to CEL types and holds the object types the
// provider declares. It is filled by NewEnv and only read afterwards.
type registry struct {
	objects map[string]*objectType
	byGo    map[reflect.Type]*objectType
}

func newRegistry() *registry {
	return &registry{objects: map[string]*objectType{}, byGo: map[reflect.Type]*objectType{}}
}

// typeOf returns the CEL type of Go type t and the encoder of its values,
// declaring the object types it reaches.
func (r *registry) typeOf(t reflect.Type) (*types.Type, encoder, error) {
	switch t {
	case decimalType:
		return MoneyType, func(v reflect.Value) any { return Money{v.Interface().(decimal.Decimal)} }, nil
	case timeType:
		return types.TimestampType, func(v reflect.Value) any { return timestamp(v.Interface().(time.Time)) }, nil
	case durationType:
		return types.DurationType, func(v reflect.Value) any { return types.Duration{Duration: time.Duration(v.Int())} }, nil
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && t.Implements(textType) {
		// events.Date and the like are strings on the wire, so they are
		// strings to conditions too; the zero value is absent, "".
		return types.StringType, func(v reflect.Value) any {
			if v.IsZero() {
				return types.String("")
			}
			b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return types.NewErrFromString(err.Error())
			}
			return types.String(b)
		}, nil
	}
	switch t.Kind() {
	case reflect.String:
		return types.StringType, func(v reflect.Value) any { return types.String(v.String()) }, nil
	case reflect.Bool:
		return types.BoolType, func(v reflect.Value) any { return types.Bool(v.Bool()) }, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return types.IntType, func(v reflect.Value) any { return types.Int(v.Int()) }, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return types.UintType, func(v reflect.Value) any { return types.Uint(v.Uint()) }, nil
	case reflect.Float32, reflect.Float64:
		return types.DoubleType, func(v reflect.Value) any { return types.Double(v.Float()) }, nil
	case reflect.Interface:
		return types.DynType, func(v reflect.Value) any {
			if v.IsNil() {
				return types.NullValue
			}
			return r.dyn(v.Elem().Interface())
		}, nil
	case reflect.Pointer:
		elem := t.Elem()
		ct, enc, err := r.typeOf(elem)
		if err != nil {
			return nil, nil, err
		}
		// A nil pointer is an absent part: it reads as its type's zero
		// value, so member.paid.status is "" for a member who never paid.
		return ct, func(v reflect.Value) any {
			if v.IsNil() {
				return enc(reflect.Zero(elem))
			}
			return enc(v.Elem())
		}, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return types.BytesType, func(v reflect.Value) any { return types.Bytes(slices.Clone(v.Bytes())) }, nil
		}
		ct, enc, err := r.typeOf(t.Elem())
		if err != nil {
			return nil, nil, err
		}
		return types.NewListType(ct), func(v reflect.Value) any {
			out := make([]any, v.Len())
			for i := range out {
				out[i] = enc(v.Index(i))
			}
			return out
		}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, nil, fmt.Errorf("map key of %s: conditions read only string-keyed maps", t)
		}
		ct, enc, err := r.typeOf(t.Elem())
		if err != nil {
			return nil, nil, err
		}
		return types.NewMapType(types.StringType, ct), func(v reflect.Value) any {
			out := make(map[string]any, v.Len())
			for it := v.MapRange(); it.Next(); {
				out[it.Key().String()] = enc(it.Value())
			}
			return out
		}, nil
	case reflect.Struct:
		o, err := r.object(t)
		if err != nil {
			return nil, nil, err
		}
		return o.cel, o.encode, nil
	}
	return nil, nil, fmt.Errorf("%s has kind %s, which conditions cannot read", t, t.Kind())
}

// object declares struct type t as an object type named after it
// ("loyalty.PaidView") with its JSON fields.
func (r *registry) object(t reflect.Type) (*objectType, error) {
	if o, ok := r.byGo[t]; ok {
		return o, nil
	}
	if t.Name() == "" {
		return nil, fmt.Errorf("anonymous struct %s: conditions read only named types", t)
	}
	name := t.String()
	if other, ok := r.objects[name]; ok {
		return nil, fmt.Errorf("object type %s would name both %s and %v", name, t.PkgPath(), other.goType)
	}
	o := &objectType{name: name, goType: t, cel: types.NewObjectType(name), byName: map[string]*field{}}
	// Registered before its fields so that a recursive type terminates.
	r.byGo[t], r.objects[name] = o, o
	for _, jf := range jsonFields(t) {
		ct, enc, err := r.typeOf(jf.typ)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", name, jf.name, err)
		}
		o.add(&field{name: jf.name, index: jf.index, typ: jf.typ, cel: ct, enc: enc, obj: r.byGo[deref(jf.typ)]})
	}
	return o, nil
}

// assemble declares an object type that no single Go struct describes,
// such as an event envelope whose data has the type of one event type.
func (r *registry) assemble(name string, fields ...*field) (*objectType, error) {
	if _, ok := r.objects[name]; ok {
		return nil, fmt.Errorf("object type %s is declared twice", name)
	}
	o := &objectType{name: name, cel: types.NewObjectType(name), byName: map[string]*field{}}
	for _, f := range fields {
		o.add(f)
	}
	r.objects[name] = o
	return o, nil
}

func (o *objectType) add(f *field) {
	f.decl = &types.FieldType{Type: f.cel}
	o.fields = append(o.fields, f)
	o.byName[f.name] = f
}

// encode is the encoder of a struct value: a map with every field, those
// behind nil pointers (embedded or not) at their zero values.
func (o *objectType) encode(v reflect.Value) any {
	m := make(map[string]any, len(o.fields))
	for _, f := range o.fields {
		m[f.name] = f.enc(f.of(v))
	}
	return m
}

// need is the part of an object a program can observe: all of it, or
// some fields, each with its own need. A program that reads
// member.paid.status needs only that; converting the rest of a member
// with years of enrollments would be most of the evaluation's cost, and
// the program cannot tell the difference.
type need struct {
	all    bool
	fields map[string]*need
}

// add records that the program reads the path and everything under it.
func (n *need) add(path []string) {
	for _, s := range path {
		if n.all {
			return
		}
		if n.fields == nil {
			n.fields = map[string]*need{}
		}
		child, ok := n.fields[s]
		if !ok {
			child = &need{}
			n.fields[s] = child
		}
		n = child
	}
	n.all, n.fields = true, nil
}

// encodeNeed is encode restricted to what n needs.
func (o *objectType) encodeNeed(v reflect.Value, n *need) map[string]any {
	if n.all {
		return o.encode(v).(map[string]any)
	}
	m := make(map[string]any, len(n.fields))
	for name, child := range n.fields {
		f, ok := o.byName[name]
		if !ok {
			continue
		}
		m[name] = f.encodeNeed(f.of(v), child)
	}
	return m
}

// encodeNeed converts the field's value fv, restricted to what n needs
// when the field is an object.
func (f *field) encodeNeed(fv reflect.Value, n *need) any {
	if f.obj == nil || n.all {
		return f.enc(fv)
	}
	for fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			fv = reflect.Zero(fv.Type().Elem())
			break
		}
		fv = fv.Elem()
	}
	return f.obj.encodeNeed(fv, n)
}

// deref returns t without its pointers.
func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// of returns the field of struct value v, or its zero value when an
// embedded pointer on the way is nil.
func (f *field) of(v reflect.Value) reflect.Value {
	fv := v.Field(f.index[0])
	for _, i := range f.index[1:] {
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				return reflect.Zero(f.typ)
			}
			fv = fv.Elem()
		}
		fv = fv.Field(i)
	}
	return fv
}

// zero is the value of an object with every field at its zero value, for
// object literals that name only some fields.
func (o *objectType) zero() map[string]any {
	m := make(map[string]any, len(o.fields))
	for _, f := range o.fields {
		m[f.name] = f.enc(reflect.Zero(f.typ))
	}
	return m
}

// jsonField is one field of a struct as encoding/json sees it.
type jsonField struct {
	name   string
	index  []int
	typ    reflect.Type
	tagged bool
}

// jsonFields lists the fields encoding/json encodes for struct type t, in
// its order and by its rules: embedded structs without a name tag are
// flattened, a shallower field hides a deeper one of the same name, and
// two at the same depth hide each other unless exactly one is tagged.
func jsonFields(t reflect.Type) []jsonField {
	type queued struct {
		t     reflect.Type
		index []int
	}
	var all []jsonField
	depthOf := map[string]int{}
	count := map[string]int{}
	taggedAt := map[string]int{}
	visited := map[reflect.Type]bool{}
	next := []queued{{t: t}}
	for depth := 0; len(next) > 0; depth++ {
		current := next
		next = nil
		for _, q := range current {
			if visited[q.t] {
				continue
			}
			visited[q.t] = true
			for i := range q.t.NumField() {
				sf := q.t.Field(i)
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
					if name == "" && ft.Kind() == reflect.Struct {
						next = append(next, queued{t: ft, index: append(slices.Clone(q.index), i)})
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tagged := name != ""
				if !tagged {
					name = sf.Name
				}
				if d, seen := depthOf[name]; seen && d < depth {
					continue
				}
				depthOf[name] = depth
				count[name]++
				if tagged {
					taggedAt[name]++
				}
				all = append(all, jsonField{name: name, index: append(slices.Clone(q.index), i), typ: sf.Type, tagged: tagged})
			}
		}
	}
	var out []jsonField
	for _, f := range all {
		switch {
		case len(f.index)-1 != depthOf[f.name]:
			// Hidden by a shallower field.
		case count[f.name] == 1:
			out = append(out, f)
		case taggedAt[f.name] == 1 && f.tagged:
			out = append(out, f)
		}
	}
	// encoding/json orders fields by index sequence.
	slices.SortFunc(out, func(a, b jsonField) int { return slices.Compare(a.index, b.index) })
	return out
}

// timestamp is t as CEL reads it; the zero time is the epoch. The
// monotonic clock reading is dropped: it is not part of the instant, and
// would show in the values a decision reports.
func timestamp(t time.Time) types.Timestamp {
	if t.IsZero() {
		return types.Timestamp{Time: epoch}
	}
	return types.Timestamp{Time: t.Round(0)}
}

// dyn converts a Go value whose type is only known at run time (JSON
// decoded into any, or a struct behind an interface) to what CEL is
// handed.
func (r *registry) dyn(x any) any {
	switch v := x.(type) {
	case nil:
		return types.NullValue
	case ref.Val:
		return v
	case string:
		return types.String(v)
	case bool:
		return types.Bool(v)
	case float64:
		return types.Double(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return types.Int(i)
		}
		f, err := v.Float64()
		if err != nil && !math.IsInf(f, 0) {
			return types.NewErrFromString(fmt.Sprintf("number %s: %v", v, err))
		}
		return types.Double(f)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = r.dyn(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = r.dyn(e)
		}
		return out
	}
	rv := reflect.ValueOf(x)
	t := rv.Type()
	for t.Kind() == reflect.Pointer {
		if rv.IsNil() {
			t = t.Elem()
			rv = reflect.Zero(t)
			break
		}
		rv, t = rv.Elem(), t.Elem()
	}
	if o, ok := r.byGo[t]; ok {
		return o.encode(rv)
	}
	switch t {
	case decimalType, timeType, durationType:
		_, enc, _ := r.typeOf(t)
		return enc(rv)
	}
	switch t.Kind() {
	case reflect.String:
		return types.String(rv.String())
	case reflect.Bool:
		return types.Bool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return types.Int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return types.Uint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return types.Double(rv.Float())
	}
	return types.NewErrFromString(fmt.Sprintf("a value of Go type %s cannot be read by conditions", t))
}

// provider declares the object types to the checker and builds object
// literals; everything else (well-known types) is the base registry's.
type provider struct {
	*types.Registry
	reg *registry
}

// FindStructType implements types.Provider.
func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if o, ok := p.reg.objects[name]; ok {
		return types.NewTypeTypeWithParam(o.cel), true
	}
	return p.Registry.FindStructType(name)
}

// FindStructFieldNames implements types.Provider.
func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if o, ok := p.reg.objects[name]; ok {
		names := make([]string, len(o.fields))
		for i, f := range o.fields {
			names[i] = f.name
		}
		return names, true
	}
	return p.Registry.FindStructFieldNames(name)
}

// FindStructFieldType implements types.Provider.
func (p *provider) FindStructFieldType(name, fieldName string) (*types.FieldType, bool) {
	if o, ok := p.reg.objects[name]; ok {
		f, ok := o.byName[fieldName]
		if !ok {
			return nil, false
		}
		return f.decl, true
	}
	return p.Registry.FindStructFieldType(name, fieldName)
}

// NewValue implements types.Provider: an object literal is the object's
// map with the fields it does not name at their zero values, like any
// other object a condition reads.
func (p *provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	o, ok := p.reg.objects[name]
	if !ok {
		return p.Registry.NewValue(name, fields)
	}
	m := o.zero()
	for k, v := range fields {
		if _, ok := o.byName[k]; !ok {
			return types.NewErr("no such field %s in %s", k, name)
		}
		m[k] = v
	}
	return p.Registry.NativeToValue(m)
}
