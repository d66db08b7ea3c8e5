package loyalty_test

import (
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/templates"
)

func TestDefaultRFMSegments(t *testing.T) {
	p, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.RFM.WindowDays, 365; got != want {
		t.Errorf("window = %d, want %d", got, want)
	}
	want := []string{"champions", "loyal", "cant_lose", "at_risk", "need_attention", "potential_loyalists", "new", "promising", "about_to_sleep", "hibernating", "lost"}
	var got []string
	for _, s := range p.RFM.Segments {
		got = append(got, s.Code)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("segments = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		r, f, m int
		want    string
	}{
		{5, 5, 5, "champions"},
		{4, 4, 4, "champions"},
		{5, 5, 1, "loyal"}, // frequent and recent, spends little
		{3, 4, 5, "loyal"},
		{1, 5, 5, "cant_lose"},
		{2, 5, 4, "cant_lose"},
		{1, 5, 3, "at_risk"}, // frequent once, lower spend
		{2, 3, 1, "at_risk"},
		{3, 3, 3, "need_attention"},
		{5, 2, 5, "potential_loyalists"},
		{4, 3, 1, "potential_loyalists"},
		{5, 1, 5, "new"},
		{4, 1, 1, "promising"},
		{3, 1, 4, "about_to_sleep"},
		{3, 2, 2, "about_to_sleep"},
		{2, 2, 2, "hibernating"},
		{1, 1, 1, "lost"},
		{1, 2, 5, "lost"},
		{0, 1, 1, ""}, // not a score
		{6, 5, 5, ""},
	} {
		if got := p.RFM.Segment(tc.r, tc.f, tc.m); got != tc.want {
			t.Errorf("Segment(%d, %d, %d) = %q, want %q", tc.r, tc.f, tc.m, got, tc.want)
		}
	}
}

func TestLoadProgramRFMNamesTheKey(t *testing.T) {
	base := string(templates.Program)
	champions := "{ code: champions, name: Champions, r: [4, 5], f: [4, 5], m: [4, 5] }"
	lost := "{ code: lost, name: Lost, r: [1, 1], f: [1, 2], m: [1, 5] }"
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"window default", "rfm:\n  window_days: 365\n", "rfm:\n", ""},
		{"window zero", "rfm:\n  window_days: 365", "rfm:\n  window_days: 0", "rfm.window_days: must be 1 or more"},
		{"unknown key", "rfm:\n  window_days: 365", "rfm:\n  window_dayz: 365", "window_dayz"},
		{"unknown segment key", champions, "{ code: champions, name: Champions, r: [4, 5], f: [4, 5], m: [4, 5], x: [1, 5] }", "field x not found"},
		{"no segments", "  segments:\n", "  segmentz:\n", "segmentz"},
		{"bad code", "code: champions", "code: Champions", "rfm.segments[0].code: must be"},
		{"duplicate code", "code: loyal,", "code: champions,", "rfm.segments[1].code: must be unique"},
		{"no name", "name: Champions, ", "", "rfm.segments[0].name: is required"},
		{"range reversed", "r: [4, 5], f: [4, 5], m: [4, 5]", "r: [5, 4], f: [4, 5], m: [4, 5]", "rfm.segments[0].r: must be [low, high]"},
		{"range above 5", "r: [4, 5], f: [4, 5], m: [4, 5]", "r: [4, 5], f: [4, 6], m: [4, 5]", "rfm.segments[0].f: must be [low, high]"},
		{"range zero", "r: [4, 5], f: [4, 5], m: [4, 5]", "r: [4, 5], f: [4, 5], m: [0, 5]", "rfm.segments[0].m: must be [low, high]"},
		{"range a scalar", "r: [4, 5], f: [4, 5], m: [4, 5]", "r: 5, f: [4, 5], m: [4, 5]", "rfm.segments[0].r: must be [low, high]"},
		{"range a string", "r: [4, 5], f: [4, 5], m: [4, 5]", `r: "4-5", f: [4, 5], m: [4, 5]`, "rfm.segments[0].r: must be [low, high]"},
		{"range of three", "r: [4, 5], f: [4, 5], m: [4, 5]", "r: [3, 4, 5], f: [4, 5], m: [4, 5]", "rfm.segments[0].r: must be [low, high]"},
		{"range missing", "r: [4, 5], f: [4, 5], m: [4, 5]", "r: [4, 5], f: [4, 5]", "rfm.segments[0].m: is required"},
		{"not covered", lost, "{ code: lost, name: Lost, r: [1, 1], f: [1, 2], m: [2, 5] }", "rfm.segments: scores [r=1 f=1 m=1 r=1 f=2 m=1] match no segment"},
		{"many not covered", lost, "{ code: lost, name: Lost, r: [1, 1], f: [1, 1], m: [5, 5] }", "and 6 more match no segment"},
		{"never reached", lost, lost + "\n    - { code: gone, name: Gone, r: [1, 1], f: [1, 1], m: [1, 1] }", "rfm.segments[11]: is never reached"},
		{"catch-all first", champions, "{ code: champions, name: Champions, r: [1, 5], f: [1, 5], m: [1, 5] }", "rfm.segments[1]: is never reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.from, tc.to, 1)
			if src == base {
				t.Fatalf("%q not found in program.yaml", tc.from)
			}
			p, err := loyalty.LoadProgram([]byte(src))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if p.RFM.WindowDays != 365 {
					t.Errorf("window = %d, want the default 365", p.RFM.WindowDays)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadProgramWithoutRFM(t *testing.T) {
	base := string(templates.Program)
	i := strings.Index(base, "\nrfm:")
	if i < 0 {
		t.Fatal("program.yaml has no rfm section")
	}
	_, err := loyalty.LoadProgram([]byte(base[:i+1]))
	if want := "rfm.segments: must list at least one segment"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to contain %q", err, want)
	}
}
