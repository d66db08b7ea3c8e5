package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memberflow/memberflow/internal/api"
)

// timelineCmd is `memberflow timeline MEMBER`: every decision about the
// member, newest first, one line each — why they did or did not get
// something.
func timelineCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("timeline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", cmp.Or(getenv("MEMBERFLOW_URL"), defaultURL), "base URL of memberflow")
	limit := fs.Int("limit", 100, "entries to show (1 to 500)")
	before := fs.String("before", "", "show the entries older than this cursor (printed after a full page)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("timeline needs exactly one MEMBER id, got %d", len(pos))
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *before != "" {
		q.Set("before", *before)
	}
	var page api.TimelinePage
	if err := newAPIClient(*base, getenv).call(ctx, http.MethodGet, "/v1/members/"+url.PathEscape(pos[0])+"/timeline?"+q.Encode(), nil, &page); err != nil {
		return err
	}
	rows := make([][]string, 0, len(page.Entries))
	for _, e := range page.Entries {
		rows = append(rows, []string{e.At.UTC().Format(time.RFC3339), enrollmentLabel(e), cmp.Or(e.Step, "-"), e.Kind, decisionDetail(e)})
	}
	if err := writeRows(stdout, rows); err != nil {
		return err
	}
	if len(page.Entries) == 0 {
		fmt.Fprintf(stderr, "nothing was decided about %s yet\n", page.MemberID)
	}
	if page.Next != "" {
		fmt.Fprintf(stderr, "older entries: memberflow timeline %s --before %s\n", page.MemberID, page.Next)
	}
	return nil
}

// enrollmentLabel names the enrollment an entry is about:
// journey@version#enrollment.
func enrollmentLabel(e api.TimelineItem) string {
	if e.Journey == "" {
		return "-"
	}
	return fmt.Sprintf("%s@%d#%d", e.Journey, e.Version, e.Enrollment)
}

// decisionDetail is the reason, the deferral's end and the values that
// decided, as far as there are any.
func decisionDetail(e api.TimelineItem) string {
	var parts []string
	if e.Reason != "" {
		parts = append(parts, e.Reason)
	}
	if !e.Until.IsZero() {
		parts = append(parts, "until "+e.Until.UTC().Format(time.RFC3339))
	}
	if len(e.Values) > 0 {
		// encoding/json sorts the keys: the same values print the same.
		b, err := json.Marshal(e.Values)
		if err == nil {
			parts = append(parts, string(b))
		}
	}
	return strings.Join(parts, " ")
}

// writeRows prints rows as aligned columns, without the padding a short
// last column leaves at the end of a line.
func writeRows(out io.Writer, rows [][]string) error {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(table.String()) {
		if _, err := fmt.Fprintln(out, strings.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	return nil
}
