// Package functions_test checks what each Lambda binary links: a function
// links only what its handler uses, because every megabyte of bootstrap
// costs cold-start time, most of all on ingest, the storefront's path.
package functions_test

import (
	"bufio"
	"bytes"
	"cmp"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/memberflow/memberflow/"

// Heavy dependencies, by import path prefix.
const (
	temporal = "go.temporal.io/"
	grpc     = "google.golang.org/grpc"
	sendgrid = "github.com/sendgrid/"
)

// linkRules says, per function, which packages it must not link and the
// exceptions it may. dispatch starts and signals workflows, so Temporal
// (and its gRPC) and journey validation against the email catalog are its
// own business: it has no rule. api drives journeys and links Temporal
// too.
var linkRules = map[string]struct {
	forbidden []string
	allowed   []string // exceptions to forbidden, exact import paths
	// allowedVia exempts a forbidden prefix when every chain to it
	// passes through the given package.
	allowedVia map[string]string
	why        string
}{
	"ingest": {
		forbidden: []string{temporal, grpc, sendgrid},
		why:       "it records webhooks in DynamoDB and nothing else",
	},
	"api": {
		// Marketers drive journeys through the API: resume, archive, api
		// enrollments and removals start or signal enrollment workflows,
		// and a publish keeps the journey's schedule in step, so Temporal
		// is its business (as dispatch's). Validating a journey needs the
		// email catalog, which lives in internal/mail beside the SendGrid
		// client; nothing of the API's own may reach SendGrid.
		forbidden:  []string{sendgrid},
		allowedVia: map[string]string{sendgrid: module + "internal/mail"},
		why:        "it reads and adjusts the ledger and drives journeys; it sends no email",
	},
	"simulate": {
		// It validates drafts against the email catalog (internal/mail,
		// beside the SendGrid client) and links the engine's workflows,
		// which it runs in memory; it sends nothing.
		forbidden:  []string{sendgrid},
		allowedVia: map[string]string{sendgrid: module + "internal/mail"},
		why:        "it simulates journeys in memory; it sends no email",
	},
	"sendgrid-events": {
		forbidden: []string{temporal, grpc, sendgrid},
		// SendGrid's own verifier of the Signed Event Webhook is
		// standard library only; the client and its REST layer are not.
		allowed: []string{"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"},
		why:     "it verifies and records SendGrid's posts; it sends nothing",
	},
}

// graph is `go list -deps` for every function, built as Lambda builds it
// (Makefile LAMBDA_ENV and LAMBDA_FLAGS): package → its imports.
func graph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	g := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			g[f[0]] = f[1:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return g
}

// chains returns, for every package reachable from root without passing
// through skip, the import chain that first reaches it (breadth first, so
// the shortest).
func chains(g map[string][]string, root, skip string) map[string][]string {
	via := map[string][]string{root: {root}}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range g[p] {
			if _, seen := via[imp]; !seen && imp != skip {
				via[imp] = append(slices.Clone(via[p]), imp)
				queue = append(queue, imp)
			}
		}
	}
	return via
}

func short(chain []string) string {
	out := make([]string, len(chain))
	for i, p := range chain {
		out[i] = strings.TrimPrefix(p, module)
	}
	return strings.Join(out, " → ")
}

func TestFunctionsLinkOnlyWhatTheyUse(t *testing.T) {
	g := graph(t)
	// The graph is real: dispatch does reach Temporal, so a rule that
	// finds nothing is not an empty graph finding nothing.
	if _, ok := chains(g, module+"functions/dispatch", "")["go.temporal.io/sdk/client"]; !ok {
		t.Fatalf("functions/dispatch does not reach go.temporal.io/sdk/client: the dependency graph is incomplete (%d packages)", len(g))
	}
	for fn, rule := range linkRules {
		t.Run(fn, func(t *testing.T) {
			root := module + "functions/" + fn
			if _, ok := g[root]; !ok {
				t.Fatalf("%s is not in the graph", root)
			}
			var bad []string
			for _, f := range rule.forbidden {
				for pkg, chain := range chains(g, root, rule.allowedVia[f]) {
					if strings.HasPrefix(pkg, f) && !slices.Contains(rule.allowed, pkg) {
						bad = append(bad, short(chain))
					}
				}
			}
			// The shortest chains come first: they name the import to break.
			slices.SortFunc(bad, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b)) })
			if len(bad) > 0 {
				t.Errorf("functions/%s links %d forbidden packages (%s), e.g.:\n%s", fn, len(bad), rule.why, strings.Join(bad[:min(len(bad), 5)], "\n"))
			}
		})
	}
}
