package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/store"
)

const journeysUsage = `usage:
  memberflow journeys validate FILE           check a definition (YAML or JSON); one line per problem
  memberflow journeys publish FILE            publish it as the journey's next version (live)
  memberflow journeys list                    every journey: status, live version, active, enrolled
  memberflow journeys show NAME               one journey: state, versions, the live source
  memberflow journeys pause|resume|archive NAME
  memberflow journeys diff NAME A B           unified diff of versions A and B
flags (anywhere): --url URL (default MEMBERFLOW_URL or ` + defaultURL + `); the token is MEMBERFLOW_ADMIN_TOKEN
`

// apiClient calls the running API with the admin token.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// newAPIClient is a client of the API at base, with the admin token of
// the environment (the local stack's default when unset).
func newAPIClient(base string, getenv func(string) string) apiClient {
	return apiClient{
		base:  strings.TrimRight(base, "/"),
		token: cmp.Or(getenv("MEMBERFLOW_ADMIN_TOKEN"), defaultAdminToken),
		http:  &http.Client{Timeout: 60 * time.Second},
	}
}

// apiError is an answer of 300 or above: the status and the API's
// message (and a definition's problems, for a 422).
type apiError struct {
	Status   string
	Message  string
	Problems []api.Problem
}

func (e *apiError) Error() string { return "memberflow answered " + e.Status + ": " + e.Message }

// call sends body (nil for none) to path and decodes a 2xx answer into
// out; any other answer is an *apiError.
func (c apiClient) call(ctx context.Context, method, path string, body []byte, out any) error {
	return c.callWith(ctx, method, path, nil, body, out)
}

// callWith is call with headers of the request's own (an
// Idempotency-Key).
func (c apiClient) callWith(ctx context.Context, method, path string, header map[string]string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is `make run` running?)", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb struct {
			httpx.ErrorBody
			Problems []api.Problem `json:"problems"`
		}
		if json.Unmarshal(raw, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(raw))
		}
		return &apiError{Status: resp.Status, Message: eb.Error, Problems: eb.Problems}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what this build expects: %w", method, path, err)
	}
	return nil
}

// journeysCmd is `memberflow journeys …`: the marketer's HTTP API from
// the command line.
func journeysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("journeys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", cmp.Or(getenv("MEMBERFLOW_URL"), defaultURL), "base URL of memberflow")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fmt.Fprint(stderr, journeysUsage)
		return errors.New("journeys needs a command")
	}
	c := newAPIClient(*base, getenv)
	cmd, rest := pos[0], pos[1:]
	want := func(n int, what string) error {
		if len(rest) != n {
			fmt.Fprint(stderr, journeysUsage)
			return fmt.Errorf("journeys %s needs %s", cmd, what)
		}
		return nil
	}
	switch cmd {
	case "validate", "publish":
		if err := want(1, "exactly one FILE (YAML or JSON)"); err != nil {
			return err
		}
		src, err := os.ReadFile(rest[0])
		if err != nil {
			return err
		}
		if cmd == "validate" {
			return validateJourney(ctx, c, src, stdout)
		}
		return publishJourney(ctx, c, src, stdout)
	case "list":
		if err := want(0, "no arguments"); err != nil {
			return err
		}
		return listJourneys(ctx, c, stdout)
	case "show":
		if err := want(1, "exactly one NAME"); err != nil {
			return err
		}
		return showJourney(ctx, c, rest[0], stdout)
	case "pause", "resume", "archive":
		if err := want(1, "exactly one NAME"); err != nil {
			return err
		}
		return changeJourney(ctx, c, cmd, rest[0], stdout)
	case "diff":
		if err := want(3, "NAME A B (two version numbers)"); err != nil {
			return err
		}
		return diffJourney(ctx, c, rest[0], rest[1], rest[2], stdout)
	}
	fmt.Fprint(stderr, journeysUsage)
	return fmt.Errorf("unknown journeys command %q", cmd)
}

// printProblems writes one line per problem, "path:line:column: rule",
// and returns the error that makes the command fail.
func printProblems(ps []api.Problem, out io.Writer) error {
	for _, p := range ps {
		fmt.Fprintf(out, "%s:%d:%d: %s\n", p.Path, p.Line, p.Column, p.Rule)
	}
	if len(ps) == 1 {
		return errors.New("the journey has 1 problem")
	}
	return fmt.Errorf("the journey has %d problems", len(ps))
}

func validateJourney(ctx context.Context, c apiClient, src []byte, out io.Writer) error {
	var v api.Validation
	if err := c.call(ctx, http.MethodPost, "/v1/journeys/validate", src, &v); err != nil {
		return err
	}
	if v.Valid {
		fmt.Fprintln(out, "ok")
		return nil
	}
	return printProblems(v.Problems, out)
}

func publishJourney(ctx context.Context, c apiClient, src []byte, out io.Writer) error {
	var p journeys.Published
	err := c.call(ctx, http.MethodPost, "/v1/journeys", src, &p)
	var ae *apiError
	if errors.As(err, &ae) && len(ae.Problems) > 0 {
		return printProblems(ae.Problems, out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "published %s version %d (%d enrollments stay on older versions)\n", p.Name, p.Version, p.OnOlderVersions)
	return nil
}

func listJourneys(ctx context.Context, c apiClient, out io.Writer) error {
	var l api.JourneyList
	if err := c.call(ctx, http.MethodGet, "/v1/journeys", nil, &l); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tLIVE\tACTIVE\tENROLLED")
	for _, j := range l.Journeys {
		live := "-"
		if j.Live > 0 {
			live = strconv.Itoa(j.Live)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", j.Name, j.Status, live, j.Active, j.Enrolled)
	}
	return tw.Flush()
}

func showJourney(ctx context.Context, c apiClient, name string, out io.Writer) error {
	var d journeys.Detail
	if err := c.call(ctx, http.MethodGet, "/v1/journeys/"+url.PathEscape(name), nil, &d); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", d.Name)
	fmt.Fprintf(tw, "status:\t%s\n", d.Status)
	if d.Live > 0 {
		fmt.Fprintf(tw, "live:\tversion %d (latest %d)\n", d.Live, d.Latest)
	} else {
		fmt.Fprintf(tw, "live:\tnone published\n")
	}
	fmt.Fprintf(tw, "enrolled:\t%d (%d active)\n", d.Enrolled, d.Active)
	if d.HasDraft {
		fmt.Fprintf(tw, "draft:\tsaved %s\n", d.DraftSavedAt.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.Versions) > 0 {
		fmt.Fprintln(out, "versions:")
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, v := range d.Versions {
			fmt.Fprintf(tw, "  %d\t%s\t%s\n", v.Version, v.PublishedAt.UTC().Format(time.RFC3339), cmp.Or(v.PublishedBy, "-"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if d.Source != "" {
		fmt.Fprintf(out, "source of version %d:\n%s", d.Live, d.Source)
		if !strings.HasSuffix(d.Source, "\n") {
			fmt.Fprintln(out)
		}
	}
	return nil
}

func changeJourney(ctx context.Context, c apiClient, op, name string, out io.Writer) error {
	var ch journeys.Changed
	if err := c.call(ctx, http.MethodPost, "/v1/journeys/"+url.PathEscape(name)+"/"+op, nil, &ch); err != nil {
		return err
	}
	switch op {
	case "pause":
		fmt.Fprintf(out, "paused %s (%d enrollments in flight are held before their next send or reward)\n", ch.Name, ch.InFlight)
	case "resume":
		fmt.Fprintf(out, "resumed %s (%d held enrollments go on where they were)\n", ch.Name, ch.Resumed)
	default:
		fmt.Fprintf(out, "archived %s (%d enrollments ended)\n", ch.Name, ch.Ended)
	}
	return nil
}

func diffJourney(ctx context.Context, c apiClient, name, a, b string, out io.Writer) error {
	var vs [2]store.JourneyVersion
	for i, arg := range []string{a, b} {
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 {
			return fmt.Errorf("journeys diff: %q is not a version number (1, 2, …)", arg)
		}
		if err := c.call(ctx, http.MethodGet, fmt.Sprintf("/v1/journeys/%s/versions/%d", url.PathEscape(name), n), nil, &vs[i]); err != nil {
			return err
		}
	}
	_, err := io.WriteString(out, udiff.Unified(
		fmt.Sprintf("%s version %d", name, vs[0].Version), fmt.Sprintf("%s version %d", name, vs[1].Version),
		vs[0].Source, vs[1].Source))
	return err
}
