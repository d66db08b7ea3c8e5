package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/memberflow/memberflow/internal/analytics"
)

// cdnowSample is the CDNOW sample the analytics package commits.
var cdnowSample = filepath.Join("..", "..", "internal", "analytics", "testdata", "CDNOW_sample.txt")

// fitLines is the contract of `analytics fit`'s stdout: exactly these two
// lines.
var fitLines = regexp.MustCompile(`^bgnbd: r=(\S+) alpha=(\S+) a=(\S+) b=(\S+) ll=(\S+)\ngammagamma: p=(\S+) q=(\S+) v=(\S+)\n$`)

func runAnalytics(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = analyticsCmd(args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestAnalyticsFitCDNOW(t *testing.T) {
	out, errOut, err := runAnalytics(t, "fit", "--transactions", cdnowSample, "--format", "cdnow", "--calibration-end", "1997-09-30", "--period", "week")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	m := fitLines.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stdout is not the two contract lines:\n%s", out)
	}
	// The literature's CDNOW figures (internal/analytics TestCDNOWFit).
	for i, want := range []float64{0.243, 4.414, 0.793, 2.426, -9582.4, 6.25, 3.74, 15.44} {
		got, err := strconv.ParseFloat(m[i+1], 64)
		if err != nil {
			t.Fatalf("value %q: %v", m[i+1], err)
		}
		if d := got/want - 1; d < -0.002 || d > 0.002 {
			t.Errorf("value %d = %g, literature %g", i+1, got, want)
		}
	}
	if !strings.Contains(errOut, "bgnbd: 2357 customers") || !strings.Contains(errOut, "gammagamma: 946 customers") {
		t.Errorf("stderr does not report the customers:\n%s", errOut)
	}
}

// TestAnalyticsFitCSV writes the CDNOW sample as customer_id,date,amount
// and expects the same fit as from the cdnow layout, in days this time.
func TestAnalyticsFitCSV(t *testing.T) {
	f, err := os.Open(cdnowSample)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	customers, err := analytics.ReadTransactions(f, analytics.FormatCDNOW)
	if err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("customer_id,date,amount\n")
	for _, c := range customers {
		for _, tx := range c.Transactions {
			fmt.Fprintf(&csv, "%s,%s,%s\n", c.ID, tx.Day, tx.Amount)
		}
	}
	path := filepath.Join(t.TempDir(), "cdnow.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := func(file, format string) []string {
		return []string{"fit", "--transactions", file, "--format", format, "--calibration-end", "1997-09-30", "--period", "day"}
	}
	fromCSV, _, err := runAnalytics(t, args(path, "csv")...)
	if err != nil {
		t.Fatal(err)
	}
	fromCDNOW, _, err := runAnalytics(t, args(cdnowSample, "cdnow")...)
	if err != nil {
		t.Fatal(err)
	}
	if fromCSV != fromCDNOW || !fitLines.MatchString(fromCSV) {
		t.Errorf("csv:\n%s\ncdnow:\n%s", fromCSV, fromCDNOW)
	}
	// In days α is 7 times the weekly 4.414.
	if m := fitLines.FindStringSubmatch(fromCSV); m != nil {
		if alpha, _ := strconv.ParseFloat(m[2], 64); alpha < 30.8 || alpha > 31.0 {
			t.Errorf("alpha in days = %g, want about 7 × 4.414 = 30.9", alpha)
		}
	}
}

func TestAnalyticsFitErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badLine := write("bad.csv", "customer_id,date,amount\nm1,2024-01-05,10\nm1,2024-02-30,12\n")
	badCDNOW := write("bad.txt", " 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2\n")
	early := write("early.csv", "m1,2024-01-05,10\nm1,2024-01-09,10\n")
	fit := func(extra ...string) []string { return append([]string{"fit"}, extra...) }
	good := []string{"--transactions", cdnowSample, "--format", "cdnow", "--calibration-end", "1997-09-30"}
	with := func(flag, value string) []string {
		out := append([]string(nil), good...)
		for i := 0; i < len(out); i += 2 {
			if out[i] == flag {
				if value == "" {
					return append(out[:i], out[i+2:]...)
				}
				out[i+1] = value
				return out
			}
		}
		return append(out, flag, value)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "needs a subcommand"},
		{"unknown subcommand", []string{"score"}, `unknown analytics subcommand "score"`},
		{"no transactions", fit(with("--transactions", "")...), "--transactions FILE"},
		{"no format", fit(with("--format", "")...), "--format cdnow or csv"},
		{"bad format", fit(with("--format", "xml")...), `--format: format "xml" is not cdnow or csv`},
		{"no calibration end", fit(with("--calibration-end", "")...), "--calibration-end YYYY-MM-DD"},
		{"bad calibration end", fit(with("--calibration-end", "30/09/1997")...), `--calibration-end: "30/09/1997" is not a date`},
		{"bad period", fit(with("--period", "month")...), `--period: period "month" is not day or week`},
		{"unknown flag", fit(with("--periods", "week")...), "flag provided but not defined: -periods"},
		{"stray argument", fit(append(good, "extra")...), "flags only"},
		{"missing file", fit(with("--transactions", filepath.Join(dir, "none.csv"))...), "--transactions: open"},
		{"bad csv line", fit("--transactions", badLine, "--format", "csv", "--calibration-end", "2024-12-31"), "bad.csv: line 3: date"},
		{"bad cdnow line", fit("--transactions", badCDNOW, "--format", "cdnow", "--calibration-end", "1997-09-30"), "bad.txt: line 2: 4 fields, want 5"},
		{"nothing before the end", fit("--transactions", early, "--format", "csv", "--calibration-end", "2023-12-31"), "no customer"},
		{"too little to fit", fit("--transactions", early, "--format", "csv", "--calibration-end", "2024-12-31"), "bgnbd fit refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runAnalytics(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if out != "" {
				t.Errorf("stdout on error: %q", out)
			}
		})
	}
}

func TestRunAnalytics(t *testing.T) {
	// The top-level command knows the subcommand.
	err := run(context.Background(), []string{"analytics", "nonsense"}, env(nil))
	if err == nil || !strings.Contains(err.Error(), "unknown analytics subcommand") {
		t.Errorf("err = %v", err)
	}
}
