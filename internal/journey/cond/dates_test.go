package cond

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/loyalty"
)

func TestCalendarFunctions(t *testing.T) {
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	review := "2027-01-10"
	doc := loyalty.MemberDocument{Member: loyalty.Member{Timezone: "Asia/Shanghai"}}
	doc.TierOutlook.ReviewOn = review
	// 23:30 UTC on 2 January is already 3 January in Shanghai.
	now := time.Date(2027, 1, 2, 23, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		expr string
		want any
	}{
		{"days_between(now, member.tier_outlook.review_on, member.timezone)", int64(7)},
		{"days_between(now, member.tier_outlook.review_on, 'UTC')", int64(8)},
		{"days_between(now, now + duration('48h'), member.timezone)", int64(2)},
		{"local_date(now, member.timezone)", "2027-01-03"},
		{"local_date(now, '')", "2027-01-02"},
		{"local_date(now + duration('168h'), member.timezone)", "2027-01-10"},
	} {
		p, err := env.Compile(tc.expr, Any, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		v, err := p.Eval(Input{Member: doc, Now: now})
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if v.Result != tc.want {
			t.Errorf("%s = %v (%T), want %v", tc.expr, v.Result, v.Result, tc.want)
		}
	}
	for _, bad := range []string{"days_between(now, 'soon', 'UTC')", "local_date(now, 'Mars/Olympus')"} {
		p, err := env.Compile(bad, Any, nil)
		if err != nil {
			t.Fatalf("%s: %v", bad, err)
		}
		if _, err := p.Eval(Input{Member: doc, Now: now}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if _, err := env.Compile("days_between(now, 3, 'UTC')", Any, nil); err == nil {
		t.Error("days_between with a number compiled")
	}
}

func TestProgramVariable(t *testing.T) {
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	prog := loyalty.ProgramDocument{Currency: "CNY", Paid: loyalty.PaidDocument{Price: decimal.RequireFromString("199"), TierFloorName: "金卡"}}
	p, err := env.Compile("string(program.paid.price) + ' ' + program.currency + ' ' + program.paid.tier_floor_name", Any, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Eval(Input{Program: prog})
	if err != nil || v.Result != "199 CNY 金卡" {
		t.Errorf("= %v, %v", v.Result, err)
	}
	if v.Read["program.currency"] != "CNY" {
		t.Errorf("read %v", v.Read)
	}
	if _, err := env.Compile("program.paid.prize > 1", Bool, nil); err == nil {
		t.Error("an unknown programme field compiled")
	}
}
