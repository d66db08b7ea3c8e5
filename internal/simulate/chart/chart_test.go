package chart

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/simulate"
)

// report is the simulate package's hand-built golden report.
func report(t *testing.T) *simulate.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "handbuilt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r simulate.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestWrite(t *testing.T) {
	r := report(t)
	for _, format := range []string{"svg", "png"} {
		var a, b bytes.Buffer
		if err := Write(&a, r, format); err != nil {
			t.Fatal(err)
		}
		if err := Write(&b, r, format); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: two charts of one report differ", format)
		}
		switch format {
		case "svg":
			if !strings.Contains(a.String(), "<svg") || !strings.Contains(a.String(), "activation") || !strings.Contains(a.String(), "svip_upsell") {
				t.Errorf("the SVG has no chart with both journeys in its legend")
			}
		case "png":
			if !bytes.HasPrefix(a.Bytes(), []byte("\x89PNG")) {
				t.Error("not a PNG")
			}
		}
	}
	if err := Write(&bytes.Buffer{}, r, "gif"); err == nil || !strings.Contains(err.Error(), "must be svg or png") {
		t.Errorf("gif: %v", err)
	}
	// A report of no days still draws.
	if err := Write(&bytes.Buffer{}, &simulate.Report{Journeys: []string{"a"}}, "svg"); err != nil {
		t.Errorf("empty report: %v", err)
	}
}
