package main

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	full := map[string]string{
		"TABLE_NAME": "t", "TEMPORAL_ADDRESS": "ns.tmprl.cloud:7233", "SENDGRID_API_KEY": "k",
		"MEMBERFLOW_FROM_EMAIL": "hello@example.com", "MEMBERFLOW_SHOP_URL": "https://shop.example.com",
		"MEMBERFLOW_FROM_NAME": "Shop", "SENDGRID_SANDBOX": "true", "MEMBERFLOW_CODE_SECRET": "0123456789abcdef",
		"MEMBERFLOW_ENV": "staging", "MEMBERFLOW_PUBLIC_URL": "https://api.example.com", "SENDGRID_ASM_GROUPS": `{"activation": 12345}`,
	}
	c, err := ConfigFromEnv(func(k string) string { return full[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !c.SandboxMode || c.SendGridBaseURL != "https://api.sendgrid.com" || c.TaskQueue != "memberflow" || c.Brand.Name != "Shop" || c.SweepEvery != time.Hour || c.ScanEvery != time.Hour || c.CodeSecret != "0123456789abcdef" || c.ASMGroups["activation"] != 12345 || c.Environment != "staging" {
		t.Errorf("config = %+v", c)
	}

	_, err = ConfigFromEnv(func(string) string { return "" })
	for _, name := range []string{"TABLE_NAME", "TEMPORAL_ADDRESS", "SENDGRID_API_KEY", "MEMBERFLOW_FROM_EMAIL", "MEMBERFLOW_SHOP_URL", "MEMBERFLOW_CODE_SECRET", "MEMBERFLOW_ENV", "MEMBERFLOW_PUBLIC_URL"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
	for k, bad := range map[string]string{"MEMBERFLOW_PUBLIC_URL": "api.example.com", "SENDGRID_ASM_GROUPS": `{"activation": 0}`, "TEMPORAL_TLS_CERT": "CERT",
		"MEMBERFLOW_JOURNEY_WEBHOOK_SECRET": "whsec_c2hvcnQ="} {
		good := full[k]
		full[k] = bad
		if _, err := ConfigFromEnv(func(k string) string { return full[k] }); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: err = %v", k, bad, err)
		}
		full[k] = good
	}
	full["MEMBERFLOW_SWEEP_EVERY"] = "30s"
	if _, err := ConfigFromEnv(func(k string) string { return full[k] }); err == nil || !strings.Contains(err.Error(), "MEMBERFLOW_SWEEP_EVERY") {
		t.Errorf("MEMBERFLOW_SWEEP_EVERY=30s: err = %v", err)
	}
	full["MEMBERFLOW_SWEEP_EVERY"] = ""
	full["MEMBERFLOW_SCAN_EVERY"] = "5s"
	if _, err := ConfigFromEnv(func(k string) string { return full[k] }); err == nil || !strings.Contains(err.Error(), "MEMBERFLOW_SCAN_EVERY") {
		t.Errorf("MEMBERFLOW_SCAN_EVERY=5s: err = %v", err)
	}
	full["MEMBERFLOW_SCAN_EVERY"] = "13h"
	if _, err := ConfigFromEnv(func(k string) string { return full[k] }); err == nil || !strings.Contains(err.Error(), "at most 12h") {
		t.Errorf("MEMBERFLOW_SCAN_EVERY=13h: err = %v", err)
	}
	full["MEMBERFLOW_SCAN_EVERY"] = ""
	// A page of 2000 analytics records can pass DynamoDB's 400 KB item
	// limit; 1000 is the most, and the default.
	full["MEMBERFLOW_ANALYTICS_PAGE"] = "2000"
	if _, err := ConfigFromEnv(func(k string) string { return full[k] }); err == nil || !strings.Contains(err.Error(), "MEMBERFLOW_ANALYTICS_PAGE must be a whole number from 1 to 1000") {
		t.Errorf("MEMBERFLOW_ANALYTICS_PAGE=2000: err = %v", err)
	}
	full["MEMBERFLOW_ANALYTICS_PAGE"] = "1000"
	if c, err := ConfigFromEnv(func(k string) string { return full[k] }); err != nil || c.Analytics.Input.PageSize != 1000 {
		t.Errorf("MEMBERFLOW_ANALYTICS_PAGE=1000: page %d, err = %v", c.Analytics.Input.PageSize, err)
	}
	full["MEMBERFLOW_ANALYTICS_PAGE"] = ""
	full["SENDGRID_SANDBOX"] = "maybe"
	if _, err := ConfigFromEnv(func(k string) string { return full[k] }); err == nil {
		t.Error("SENDGRID_SANDBOX=maybe was accepted")
	}
}

func TestConfigFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    Flags
		wantErr bool
	}{
		{name: "none runs the worker", args: nil, want: Flags{}},
		{name: "backfill", args: []string{"-backfill-calendar-index"}, want: Flags{BackfillCalendarIndex: true}},
		{name: "double dash", args: []string{"--backfill-calendar-index=true"}, want: Flags{BackfillCalendarIndex: true}},
		{name: "unknown flag", args: []string{"-backfill"}, wantErr: true},
		{name: "stray argument", args: []string{"backfill-calendar-index"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			got, err := ParseFlags(tc.args, &out)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("err = %v, want error: %t", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("flags = %+v, want %+v", got, tc.want)
			}
			if tc.wantErr && !strings.Contains(out.String(), "-backfill-calendar-index") {
				t.Errorf("usage not written on error; wrote %q", out.String())
			}
		})
	}
}
