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
