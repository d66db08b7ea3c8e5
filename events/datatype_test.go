package events

import (
	"reflect"
	"testing"
)

func TestDataType(t *testing.T) {
	for _, tc := range []struct {
		t    Type
		want reflect.Type
	}{
		{OrderPaid, reflect.TypeFor[OrderPaidData]()},
		{MemberRegistered, reflect.TypeFor[MemberRegisteredData]()},
		{SubscriptionCancelled, reflect.TypeFor[SubscriptionCancelledData]()},
		{MemberSegmentChanged, reflect.TypeFor[MemberSegmentChangedData]()},
		{"shop.custom_event", nil},
		{"", nil},
	} {
		if got := DataType(tc.t); got != tc.want {
			t.Errorf("DataType(%q) = %v, want %v", tc.t, got, tc.want)
		}
	}
	// Every known type has a struct, the type DecodeData decodes into.
	for _, typ := range Types() {
		dt := DataType(typ)
		if dt == nil || dt.Kind() != reflect.Struct {
			t.Errorf("DataType(%s) = %v, want a struct", typ, dt)
			continue
		}
		v, err := Envelope{ID: "e", Type: typ, Data: []byte("{}")}.DecodeData()
		if err != nil {
			t.Errorf("DecodeData of an empty %s: %v", typ, err)
			continue
		}
		if got := reflect.TypeOf(v).Elem(); got != dt {
			t.Errorf("DecodeData(%s) gives %v, DataType says %v", typ, got, dt)
		}
	}
}
