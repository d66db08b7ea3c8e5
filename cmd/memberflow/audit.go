package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/store"
)

// auditCmd is `memberflow audit`: the operator actions of the audit log,
// oldest first, one line each — when, what, on what, by which token, and
// how it went.
func auditCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", cmp.Or(getenv("MEMBERFLOW_URL"), defaultURL), "base URL of memberflow")
	since := fs.String("since", "", "show entries from this RFC 3339 time (default: the beginning)")
	limit := fs.Int("limit", 100, "entries to show (1 to 500)")
	after := fs.String("after", "", "show the entries after this cursor (printed after a full page)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("audit takes no arguments, got %q", pos)
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *since != "" {
		q.Set("since", *since)
	}
	if *after != "" {
		q.Set("after", *after)
	}
	var page api.AuditPage
	if err := newAPIClient(*base, getenv).call(ctx, http.MethodGet, "/v1/audit?"+q.Encode(), nil, &page); err != nil {
		return err
	}
	rows := make([][]string, 0, len(page.Entries))
	for _, e := range page.Entries {
		rows = append(rows, []string{e.At.UTC().Format(time.RFC3339Nano), e.Action, e.Target, cmp.Or(e.Token, "-"), auditOutcome(e), auditDetail(e)})
	}
	if err := writeRows(stdout, rows); err != nil {
		return err
	}
	if len(page.Entries) == 0 {
		fmt.Fprintln(stderr, "no operator action in the audit log yet")
	}
	if page.Next != "" {
		more := "memberflow audit"
		if *since != "" {
			more += " --since " + *since
		}
		fmt.Fprintf(stderr, "more entries: %s --limit %d --after %s\n", more, *limit, page.Next)
	}
	return nil
}

// auditOutcome is "requested", or "failed 409" with the answer's status.
func auditOutcome(e store.AuditEntry) string {
	if e.Status != 0 {
		return e.Outcome + " " + strconv.Itoa(e.Status)
	}
	return e.Outcome
}

// auditDetail is what the action asked for, as JSON with sorted keys.
func auditDetail(e store.AuditEntry) string {
	if len(e.Detail) == 0 {
		return ""
	}
	b, err := json.Marshal(e.Detail)
	if err != nil {
		return ""
	}
	return string(b)
}
