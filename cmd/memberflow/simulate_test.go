package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/simulate"
)

var simulateNow = func() time.Time { return time.Date(2027, 2, 1, 12, 0, 0, 0, time.UTC) }

func runSimulate(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = simulateCmd(context.Background(), args, &out, &errOut, simulateNow)
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSimulateRefusesBadArguments(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "name: paced\npriority: 40\ntrigger: { api: {} }\nsteps:\n  - id: hello\n    send: { email: no_such_template }\n")
	cohort := writeFile(t, "members.csv", "member_id,registered,birthday,timezone,tier,consent\nc-1,2026-01-01,,,V7,true\n")
	behaviour := writeFile(t, "behaviour.yaml", "email:\n  opn: 0.4\n")
	for _, tc := range []struct {
		name   string
		args   []string
		want   string
		stderr string
	}{
		{"no journey", []string{"--members", "10"}, "at least one journey", ""},
		{"members", []string{"activation", "--members", "0"}, "--members: must be from 1", ""},
		{"days", []string{"activation", "--days", "0"}, "--days: must be from 1", ""},
		{"start", []string{"activation", "--start", "2027-02-30"}, `--start: "2027-02-30" must be a date YYYY-MM-DD`, ""},
		{"unknown name", []string{"welcome"}, "welcome: no such file, nor a shipped journey (activation, at_risk_rescue, birthday, member_day, svip_upsell, tier_expiry, trial, winback)", ""},
		{"missing file", []string{"nowhere/x.yaml"}, "no such file", ""},
		{"invalid file", []string{bad}, "1 problem(s); nothing was simulated", bad + ":steps[0].send.email:6:"},
		{"twice", []string{"activation", "activation"}, "journey activation is named twice", ""},
		{"cohort", []string{"activation", "--cohort", cohort}, "cohort line 2, column tier: \"V7\" must be a tier", ""},
		{"behaviour", []string{"activation", "--behaviour", behaviour}, "behaviour line 2: email.opn: unknown key", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runSimulate(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
			// Problems go to stderr: stdout is the report alone (JSON
			// with --json), so nothing when there is none.
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q, want it to name %q", errOut, tc.stderr)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}

// finalLine is the line a simulation ends with.
var finalLine = regexp.MustCompile(`(?m)^simulate: (\d+) members, (\d+) days, (\d+) sends, (\d+\.\d\d) CNY reward cost, \d+\.\d s\n\z`)

func TestSimulateShippedJourneys(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := runSimulate(t, "activation", "winback", filepath.Join("..", "..", "templates", "journeys", "trial.yaml"),
		"--members", "150", "--days", "90", "--seed", "4", "--start", "2027-01-01", "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if errOut != "" {
		t.Errorf("progress in a pipe: %q", errOut)
	}
	m := finalLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stdout does not end with the final line:\n%s", out)
	}
	if m[1] != "150" || m[2] != "90" {
		t.Errorf("final line %q", m[0])
	}
	if !strings.HasPrefix(out, "# Simulation: activation, trial, winback\n") {
		t.Errorf("the report does not start with its title:\n%s", out[:min(len(out), 200)])
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, string(md)) {
		t.Error("report.md is not what stdout printed")
	}
	var r simulate.Report
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	if got := r.FinalLine(0); !strings.HasPrefix(m[0], strings.TrimSuffix(got, "0.0 s")) {
		t.Errorf("the final line %q does not agree with report.json's %q", m[0], got)
	}
	svg, err := os.ReadFile(filepath.Join(dir, simulate.ChartFile))
	if err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("chart: %v", err)
	}

	// --json: stdout is the report alone, the final line on stderr.
	out, errOut, err = runSimulate(t, "activation", "winback", "trial", "--members", "150", "--days", "90", "--seed", "4", "--start", "2027-01-01", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(js) {
		t.Error("--json printed another report than report.json")
	}
	if !finalLine.MatchString(errOut) {
		t.Errorf("stderr with --json: %q", errOut)
	}
}
