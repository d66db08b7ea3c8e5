package memstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/loyalty"
)

func TestDeepCopySharesNothingChangeable(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("+08", 8*3600))
	a := loyalty.Account{MemberID: "m-1", Lots: []loyalty.Lot{{ID: "l1", Points: 5}}, CouponsIssued: map[string]int{"C15": 1},
		Paid: &loyalty.Paid{Plan: "svip", EndsAt: at}, Badges: []string{"first"}, Principal: decimal.RequireFromString("12.50"), TierSince: at}
	c := deepCopy(a)
	if !reflect.DeepEqual(a, c) {
		t.Fatalf("copy %+v differs from %+v", c, a)
	}
	c.Lots[0].Points = 99
	c.CouponsIssued["C15"] = 7
	c.Paid.Plan = "other"
	c.Badges[0] = "changed"
	if a.Lots[0].Points != 5 || a.CouponsIssued["C15"] != 1 || a.Paid.Plan != "svip" || a.Badges[0] != "first" {
		t.Errorf("changing the copy changed the original: %+v", a)
	}
	if !c.TierSince.Equal(at) || c.TierSince.Location() != at.Location() || !c.Principal.Equal(a.Principal) {
		t.Errorf("values with unexported fields changed: %v %v", c.TierSince, c.Principal)
	}
}

// Copies reach through slices of structs, map values and interfaces:
// an order's lines, a map of slices, a document attribute holding a map.
func TestDeepCopyReachesNestedValues(t *testing.T) {
	type inner struct {
		Tags  []string
		Attrs map[string]any
		Arr   [2][]int
	}
	type outer struct {
		Items  []inner
		ByKey  map[string][]int
		Any    any
		Ptr    *inner
		hidden []int
	}
	o := outer{Items: []inner{{Tags: []string{"a"}, Attrs: map[string]any{"m": map[string]any{"k": []any{1.0}}}, Arr: [2][]int{{1}, {2}}}},
		ByKey: map[string][]int{"x": {1, 2}}, Any: []string{"s"}, Ptr: &inner{Tags: []string{"p"}}, hidden: []int{3}}
	c := deepCopy(o)
	if !reflect.DeepEqual(o, c) {
		t.Fatalf("copy %+v differs from %+v", c, o)
	}
	c.Items[0].Tags[0] = "changed"
	c.Items[0].Attrs["m"].(map[string]any)["k"].([]any)[0] = 2.0
	c.Items[0].Arr[1][0] = 9
	c.ByKey["x"][0] = 9
	c.Any.([]string)[0] = "changed"
	c.Ptr.Tags[0] = "changed"
	want := outer{Items: []inner{{Tags: []string{"a"}, Attrs: map[string]any{"m": map[string]any{"k": []any{1.0}}}, Arr: [2][]int{{1}, {2}}}},
		ByKey: map[string][]int{"x": {1, 2}}, Any: []string{"s"}, Ptr: &inner{Tags: []string{"p"}}, hidden: []int{3}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("changing the copy changed the original: %+v", o)
	}
	// Unexported fields are their package's and are shared as they are.
	if &c.hidden[0] != &o.hidden[0] {
		t.Errorf("an unexported slice was copied")
	}
}
