package infra

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"gopkg.in/yaml.v3"

	"github.com/memberflow/memberflow/internal/store/dynamo"
)

// Resource renderings used in the expectation tables.
const (
	tableArn       = "GetAtt:Table.Arn"
	tableIndexArns = "Sub:${Table.Arn}/index/*"
	dlqArn         = "GetAtt:DispatchDLQ.Arn"
)

// globalEnv is set for every function through Globals.
var globalEnv = map[string]string{"LOG_LEVEL": "Ref:LogLevel"}

// lambdaFunctions is the contract between each functions/<name>/main.go and
// template.yaml: the environment variables main reads (with what the
// template must set them to), every IAM action the code calls (with the
// resources it may call them on) and the HTTP routes it serves. A function
// that reads a new variable or calls a new API changes this table and the
// template together.
var lambdaFunctions = []struct {
	logicalID string
	env       map[string]string
	grants    map[string][]string
	routes    []string // HttpApi events as "METHOD /path"
}{
	{
		logicalID: "IngestFunction",
		env: map[string]string{
			"TABLE_NAME":         "Ref:Table",
			"WEBHOOK_SECRET_ARN": "Ref:WebhookSecretArn",
		},
		grants: map[string][]string{
			// PutEvents is one TransactWriteItems of Puts, authorised per Put.
			"dynamodb:PutItem":              {tableArn},
			"dynamodb:GetItem":              {tableArn},
			"secretsmanager:GetSecretValue": {"Ref:WebhookSecretArn"},
		},
		routes: []string{"POST /v1/events", "POST /v1/connectors/{platform}"},
	},
	{
		logicalID: "SendgridEventsFunction",
		env: map[string]string{
			"TABLE_NAME":                  "Ref:Table",
			"SENDGRID_WEBHOOK_PUBLIC_KEY": "Ref:SendGridWebhookPublicKey",
			"SENDGRID_ASM_GROUPS":         "Ref:SendGridAsmGroups",
		},
		grants: map[string][]string{
			// RecordSendEvent: reads, then one TransactWriteItems of Puts
			// and an Update; Suppress: a Put; consent changes: GetMember
			// and SaveMember's TransactWriteItems of Puts.
			"dynamodb:GetItem":    {tableArn},
			"dynamodb:PutItem":    {tableArn},
			"dynamodb:UpdateItem": {tableArn},
		},
		routes: []string{"POST /v1/sendgrid/events"},
	},
	{
		logicalID: "ApiFunction",
		env: map[string]string{
			"TABLE_NAME":             "Ref:Table",
			"ADMIN_TOKEN_SECRET_ARN": "Ref:AdminTokenSecretArn",
			"CODE_SECRET_ARN":        "Ref:CodeSecretArn",
			"MEMBERFLOW_BRAND_NAME":  "Ref:BrandName",
			// Email previews link where sends do.
			"MEMBERFLOW_SHOP_URL": "Ref:ShopUrl",
			// Journeys drive enrollment workflows and schedules.
			"TEMPORAL_ADDRESS":        "Ref:TemporalAddress",
			"TEMPORAL_NAMESPACE":      "Ref:TemporalNamespace",
			"TEMPORAL_TLS_SECRET_ARN": "Ref:TemporalTlsSecretArn",
			"TEMPORAL_TASK_QUEUE":     "Ref:TemporalTaskQueue",
		},
		grants: map[string][]string{
			"dynamodb:GetItem": {tableArn, tableIndexArns},
			"dynamodb:Query":   {tableArn, tableIndexArns},
			// Adjustments and publishes: one TransactWriteItems of Puts,
			// Updates and ConditionChecks; so are audit entries (entry,
			// key marker, day).
			"dynamodb:PutItem":              {tableArn},
			"dynamodb:UpdateItem":           {tableArn},
			"dynamodb:ConditionCheckItem":   {tableArn},
			"dynamodb:BatchGetItem":         {tableArn},
			"secretsmanager:GetSecretValue": {"Ref:AdminTokenSecretArn", "Ref:CodeSecretArn", "Ref:TemporalTlsSecretArn"},
		},
		routes: []string{"GET /v1/members/{id}", "GET /v1/members/{id}/ledger", "POST /v1/members/{id}/adjustments", "GET /v1/liability",
			"GET /v1/journeys/{name}/stats", "GET /v1/journeys/{name}/lift", "GET /v1/unsubscribe", "POST /v1/unsubscribe",
			"GET /v1/members/{id}/timeline", "GET /v1/journeys", "GET /v1/journeys/{name}", "GET /v1/journeys/{name}/versions/{n}",
			"POST /v1/journeys/validate", "PUT /v1/journeys/{name}/draft", "POST /v1/journeys", "POST /v1/journeys/{name}/pause",
			"POST /v1/journeys/{name}/resume", "POST /v1/journeys/{name}/archive", "POST /v1/journeys/{name}/enrollments",
			"DELETE /v1/journeys/{name}/enrollments/{member}",
			// The audit log of operator actions, read only.
			"GET /v1/audit",
			// The members' rights: erasure and export.
			"DELETE /v1/members/{id}", "GET /v1/members/{id}/export",
			// The marketer console and what only it reads.
			"GET /ui", "ANY /ui/{proxy+}", "GET /v1/program", "GET /v1/templates", "POST /v1/templates/{name}/preview",
			// Template pushes reported by the CLI, for the audit log.
			"POST /v1/templates/{name}/pushes"},
	},
	{
		// The console's simulations: the api's handler, read only, sized
		// for a CPU-bound run, with its work budget.
		logicalID: "SimulateFunction",
		env: map[string]string{
			"TABLE_NAME":                 "Ref:Table",
			"ADMIN_TOKEN_SECRET_ARN":     "Ref:AdminTokenSecretArn",
			"CODE_SECRET_ARN":            "Ref:CodeSecretArn",
			"MEMBERFLOW_SIMULATE_BUDGET": "3000000",
		},
		grants: map[string][]string{
			"dynamodb:GetItem":              {tableArn, tableIndexArns},
			"dynamodb:Query":                {tableArn, tableIndexArns},
			"secretsmanager:GetSecretValue": {"Ref:AdminTokenSecretArn", "Ref:CodeSecretArn"},
		},
		routes: []string{"POST /v1/journeys/{name}/simulate"},
	},
	{
		logicalID: "DispatchFunction",
		env: map[string]string{
			"TABLE_NAME":              "Ref:Table",
			"TEMPORAL_ADDRESS":        "Ref:TemporalAddress",
			"TEMPORAL_NAMESPACE":      "Ref:TemporalNamespace",
			"TEMPORAL_TLS_SECRET_ARN": "Ref:TemporalTlsSecretArn",
			"TEMPORAL_TASK_QUEUE":     "Ref:TemporalTaskQueue",
			"CODE_SECRET_ARN":         "Ref:CodeSecretArn",
		},
		grants: map[string][]string{
			"dynamodb:GetItem":              {tableArn},
			"dynamodb:PutItem":              {tableArn},
			"dynamodb:UpdateItem":           {tableArn},
			"dynamodb:Query":                {tableArn},
			"dynamodb:ConditionCheckItem":   {tableArn},
			"dynamodb:DeleteItem":           {tableArn},
			"secretsmanager:GetSecretValue": {"Ref:TemporalTlsSecretArn", "Ref:CodeSecretArn"},
			"sqs:SendMessage":               {dlqArn},
		},
	},
}

// logicalIDForDir maps functions/<dir> to its SAM logical id:
// ingest -> IngestFunction, sendgrid-events -> SendgridEventsFunction.
func logicalIDForDir(dir string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(dir, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		rs := []rune(part)
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	return b.String() + "Function"
}

// functionDirs lists functions/<dir> holding a main.go, keyed by logical id.
func functionDirs(t *testing.T, root string) map[string]string {
	t.Helper()
	dirs := map[string]string{}
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if errors.Is(err, fs.ErrNotExist) {
		return dirs
	}
	if err != nil {
		t.Fatalf("list functions/: %v", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "functions", e.Name(), "main.go")); err == nil {
			dirs[logicalIDForDir(e.Name())] = e.Name()
		}
	}
	return dirs
}

// makeTargets returns the targets a Makefile declares literally
// ("a b: deps" declares a and b; variable assignments are ignored).
func makeTargets(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	targets := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "\t") {
			continue // recipe
		}
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		i := strings.Index(line, ":")
		if i < 0 || strings.Contains(line[:i], "=") || strings.HasPrefix(line[i:], ":=") || strings.HasPrefix(line[i:], "::=") {
			continue
		}
		for _, f := range strings.Fields(line[:i]) {
			targets[f] = true
		}
	}
	return targets, sc.Err()
}

// effective returns a function property, falling back to Globals.Function.
func effective(tpl *yaml.Node, fnID, prop string) *yaml.Node {
	if v := get(tpl, "Resources", fnID, "Properties", prop); v != nil {
		return v
	}
	return get(tpl, "Globals", "Function", prop)
}

func TestTemplate(t *testing.T) {
	root := repoRoot(t)
	tpl := loadCFN(t, filepath.Join(root, "template.yaml"))
	fnIDs := resourcesOfType(tpl, "AWS::Serverless::Function")

	t.Run("transform", func(t *testing.T) {
		if got := render(get(tpl, "Transform")); got != "AWS::Serverless-2016-10-31" {
			t.Errorf("Transform is %q, want AWS::Serverless-2016-10-31", got)
		}
	})

	t.Run("functions match functions/ directories", func(t *testing.T) {
		dirs := functionDirs(t, root)
		if len(dirs) == 0 {
			t.Errorf("no functions/<name>/main.go found under %s; the template declares %v", root, fnIDs)
		}
		for _, id := range sortedKeys(dirs) {
			t.Run(dirs[id], func(t *testing.T) {
				count := 0
				for _, p := range pairs(get(tpl, "Resources")) {
					if p.key == id {
						count++
					}
				}
				if count != 1 {
					t.Fatalf("functions/%s/main.go needs exactly one resource %s in template.yaml, found %d", dirs[id], id, count)
				}
				res := get(tpl, "Resources", id)
				if got := render(get(res, "Type")); got != "AWS::Serverless::Function" {
					t.Errorf("%s is %q, want AWS::Serverless::Function", id, got)
				}
				if got := render(get(res, "Properties", "CodeUri")); got != "." {
					t.Errorf("%s CodeUri is %q, want \".\" (the Makefile builds from the repository root)", id, got)
				}
				if got := render(get(res, "Metadata", "BuildMethod")); got != "makefile" {
					t.Errorf("%s Metadata.BuildMethod is %q, want makefile", id, got)
				}
			})
		}
		for _, id := range fnIDs {
			if _, ok := dirs[id]; !ok {
				guess := strings.ToLower(strings.TrimSuffix(id, "Function"))
				t.Errorf("template function %s has no functions/%s/main.go (logical id must be the CamelCase directory name + \"Function\")", id, guess)
			}
		}
	})

	t.Run("Makefile declares build targets", func(t *testing.T) {
		targets, err := makeTargets(filepath.Join(root, "Makefile"))
		if err != nil {
			t.Fatalf("read root Makefile (sam build runs its build-<LogicalId> targets): %v", err)
		}
		for _, id := range fnIDs {
			if !targets["build-"+id] {
				t.Errorf("Makefile lacks target build-%s: (BuildMethod makefile runs it to produce $(ARTIFACTS_DIR)/bootstrap)", id)
			}
		}
	})

	t.Run("runtime and architecture", func(t *testing.T) {
		if len(fnIDs) == 0 {
			t.Fatal("template declares no AWS::Serverless::Function")
		}
		for _, id := range fnIDs {
			t.Run(id, func(t *testing.T) {
				if got := render(effective(tpl, id, "Runtime")); got != "provided.al2023" {
					t.Errorf("%s Runtime is %q, want provided.al2023", id, got)
				}
				if got := renderAll(effective(tpl, id, "Architectures")); !reflect.DeepEqual(got, []string{"arm64"}) {
					t.Errorf("%s Architectures is %v, want [arm64]", id, got)
				}
				if got := render(effective(tpl, id, "Handler")); got != "bootstrap" {
					t.Errorf("%s Handler is %q, want bootstrap", id, got)
				}
				if get(tpl, "Resources", id, "Properties", "Role") != nil {
					t.Errorf("%s sets Role; use Policies so the permissions stay visible and checked here", id)
				}
			})
		}
	})

	t.Run("table matches dynamo.TableDefinition", func(t *testing.T) {
		tables := resourcesOfType(tpl, "AWS::DynamoDB::Table")
		if !reflect.DeepEqual(tables, []string{"Table"}) {
			t.Fatalf("want exactly one AWS::DynamoDB::Table named Table, found %v", tables)
		}
		def := dynamo.TableDefinition("t")
		if def == nil {
			t.Fatal("dynamo.TableDefinition returned nil")
		}
		want := shapeFromDefinition(def)
		got := shapeFromTemplate(get(tpl, "Resources", "Table", "Properties"))
		compareShapes(t, want, got)
	})

	t.Run("table durability", func(t *testing.T) {
		table := get(tpl, "Resources", "Table")
		for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if got := render(get(table, policy)); got != "Retain" {
				t.Errorf("Table %s is %q, want Retain", policy, got)
			}
		}
		if got := render(get(table, "Properties", "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")); got != "true" {
			t.Errorf("Table point-in-time recovery is %q, want true", got)
		}
		if got := render(get(table, "Properties", "SSESpecification", "SSEEnabled")); got != "true" {
			t.Errorf("Table SSESpecification.SSEEnabled is %q, want true", got)
		}
	})

	t.Run("environment and permissions", func(t *testing.T) {
		known := map[string]bool{}
		for _, fn := range lambdaFunctions {
			known[fn.logicalID] = true
			t.Run(fn.logicalID, func(t *testing.T) {
				res := get(tpl, "Resources", fn.logicalID)
				if res == nil {
					t.Fatalf("template.yaml lacks %s", fn.logicalID)
				}
				checkEnv(t, tpl, fn.logicalID, fn.env)
				checkPolicies(t, fn.logicalID, get(res, "Properties", "Policies"), fn.grants)
				checkRoutes(t, tpl, fn.logicalID, fn.routes)
			})
		}
		for _, id := range fnIDs {
			if !known[id] {
				t.Errorf("%s has no row in lambdaFunctions (infra/template_test.go): add the env vars its main reads and the IAM actions its code calls", id)
			}
		}
	})

	// A simulation is CPU bound and answers inside API Gateway's 29 s:
	// its function gets the CPU of 3008 MB (the api's 256 MB is about
	// 0.15 vCPU) and a work budget the handler enforces.
	t.Run("simulate function sized", func(t *testing.T) {
		mem, _ := strconv.Atoi(render(effective(tpl, "SimulateFunction", "MemorySize")))
		timeout, _ := strconv.Atoi(render(effective(tpl, "SimulateFunction", "Timeout")))
		if mem < 3008 {
			t.Errorf("SimulateFunction MemorySize is %d MB, want at least 3008 (CPU scales with memory)", mem)
		}
		if timeout < 1 || timeout > 29 {
			t.Errorf("SimulateFunction Timeout is %d s, want up to 29 (API Gateway's limit)", timeout)
		}
		env := get(tpl, "Resources", "SimulateFunction", "Properties", "Environment", "Variables", "MEMBERFLOW_SIMULATE_BUDGET")
		if n, err := strconv.ParseInt(render(env), 10, 64); err != nil || n <= 0 {
			t.Errorf("SimulateFunction MEMBERFLOW_SIMULATE_BUDGET is %q, want a positive number of member-days", render(env))
		}
	})

	t.Run("dispatch stream event", func(t *testing.T) {
		checkDispatchStream(t, tpl)
	})

	t.Run("http api", func(t *testing.T) {
		apis := resourcesOfType(tpl, "AWS::Serverless::HttpApi")
		if !reflect.DeepEqual(apis, []string{"HttpApi"}) {
			t.Fatalf("want one AWS::Serverless::HttpApi named HttpApi, found %v", apis)
		}
		props := get(tpl, "Resources", "HttpApi", "Properties")
		dest := render(get(props, "AccessLogSettings", "DestinationArn"))
		logGroup := strings.TrimSuffix(strings.TrimPrefix(dest, "GetAtt:"), ".Arn")
		if render(get(tpl, "Resources", logGroup, "Type")) != "AWS::Logs::LogGroup" {
			t.Errorf("HttpApi AccessLogSettings.DestinationArn is %q, want !GetAtt <LogGroup>.Arn of an AWS::Logs::LogGroup in the template", dest)
		}
		if render(get(props, "AccessLogSettings", "Format")) == "" {
			t.Error("HttpApi AccessLogSettings.Format is empty")
		}
		if get(props, "CorsConfiguration") != nil {
			t.Error("HttpApi has CorsConfiguration; CORS stays off (storefronts call server to server)")
		}
	})

	t.Run("outputs", func(t *testing.T) {
		for _, name := range []string{"ApiUrl", "TableName", "TableStreamArn", "DispatchDLQUrl"} {
			if get(tpl, "Outputs", name, "Value") == nil {
				t.Errorf("Outputs.%s missing", name)
			}
		}
	})

	t.Run("no secrets", func(t *testing.T) {
		for _, name := range []string{"template.yaml", "samconfig.toml", "infra/worker.yaml", "infra/worker.Dockerfile"} {
			t.Run(name, func(t *testing.T) {
				b, err := os.ReadFile(filepath.Join(root, name))
				if errors.Is(err, fs.ErrNotExist) && name == "samconfig.toml" {
					t.Skip("no samconfig.toml")
				}
				if err != nil {
					t.Fatal(err)
				}
				checkNoSecrets(t, name, string(b))
			})
		}
		checkSecretParameters(t, "template.yaml", tpl)
	})

	t.Run("cfn-lint", func(t *testing.T) {
		runCfnLint(t, filepath.Join(root, "template.yaml"))
	})
}

// tableShape is a table's definition as comparable strings.
type tableShape struct {
	billing string
	attrs   []string // NAME:TYPE
	keys    []string // NAME:KEYTYPE
	gsis    []string // NAME keys=... projection=... nonkey=...
	lsis    []string
	stream  string // view type, "" when no stream
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func indexString(name string, keys []string, projection string, nonKey []string) string {
	nonKey = append([]string(nil), nonKey...)
	sort.Strings(nonKey)
	return fmt.Sprintf("%s keys=%s projection=%s nonkey=%s", name, strings.Join(keys, ","), projection, strings.Join(nonKey, ","))
}

func shapeFromDefinition(def *dynamodb.CreateTableInput) tableShape {
	var s tableShape
	s.billing = string(def.BillingMode)
	if s.billing == "" {
		s.billing = "PROVISIONED"
	}
	for _, a := range def.AttributeDefinitions {
		s.attrs = append(s.attrs, str(a.AttributeName)+":"+string(a.AttributeType))
	}
	for _, k := range def.KeySchema {
		s.keys = append(s.keys, str(k.AttributeName)+":"+string(k.KeyType))
	}
	for _, g := range def.GlobalSecondaryIndexes {
		var keys []string
		for _, k := range g.KeySchema {
			keys = append(keys, str(k.AttributeName)+":"+string(k.KeyType))
		}
		var proj string
		var nonKey []string
		if g.Projection != nil {
			proj, nonKey = string(g.Projection.ProjectionType), g.Projection.NonKeyAttributes
		}
		s.gsis = append(s.gsis, indexString(str(g.IndexName), keys, proj, nonKey))
	}
	for _, l := range def.LocalSecondaryIndexes {
		var keys []string
		for _, k := range l.KeySchema {
			keys = append(keys, str(k.AttributeName)+":"+string(k.KeyType))
		}
		var proj string
		var nonKey []string
		if l.Projection != nil {
			proj, nonKey = string(l.Projection.ProjectionType), l.Projection.NonKeyAttributes
		}
		s.lsis = append(s.lsis, indexString(str(l.IndexName), keys, proj, nonKey))
	}
	if ss := def.StreamSpecification; ss != nil && ss.StreamEnabled != nil && *ss.StreamEnabled {
		s.stream = string(ss.StreamViewType)
	}
	return s
}

func shapeFromTemplate(props *yaml.Node) tableShape {
	var s tableShape
	s.billing = render(get(props, "BillingMode"))
	if s.billing == "" {
		s.billing = "PROVISIONED"
	}
	for _, a := range items(get(props, "AttributeDefinitions")) {
		s.attrs = append(s.attrs, render(get(a, "AttributeName"))+":"+render(get(a, "AttributeType")))
	}
	keysOf := func(n *yaml.Node) []string {
		var keys []string
		for _, k := range items(n) {
			keys = append(keys, render(get(k, "AttributeName"))+":"+render(get(k, "KeyType")))
		}
		return keys
	}
	s.keys = keysOf(get(props, "KeySchema"))
	indexes := func(n *yaml.Node) []string {
		var out []string
		for _, ix := range items(n) {
			var nonKey []string
			for _, a := range items(get(ix, "Projection", "NonKeyAttributes")) {
				nonKey = append(nonKey, render(a))
			}
			out = append(out, indexString(render(get(ix, "IndexName")), keysOf(get(ix, "KeySchema")), render(get(ix, "Projection", "ProjectionType")), nonKey))
		}
		return out
	}
	s.gsis = indexes(get(props, "GlobalSecondaryIndexes"))
	s.lsis = indexes(get(props, "LocalSecondaryIndexes"))
	s.stream = render(get(props, "StreamSpecification", "StreamViewType"))
	return s
}

func compareShapes(t *testing.T, want, got tableShape) {
	t.Helper()
	if want.billing != got.billing {
		t.Errorf("BillingMode: template %q, dynamo.TableDefinition %q", got.billing, want.billing)
	}
	if want.stream != got.stream {
		t.Errorf("StreamViewType: template %q, dynamo.TableDefinition %q", got.stream, want.stream)
	}
	sets := []struct {
		what      string
		want, got []string
	}{
		{"AttributeDefinitions", want.attrs, got.attrs},
		{"KeySchema", want.keys, got.keys},
		{"GlobalSecondaryIndexes", want.gsis, got.gsis},
		{"LocalSecondaryIndexes", want.lsis, got.lsis},
	}
	for _, s := range sets {
		missing, extra := setDiff(s.want, s.got)
		for _, m := range missing {
			t.Errorf("%s: template lacks %q (in dynamo.TableDefinition)", s.what, m)
		}
		for _, e := range extra {
			t.Errorf("%s: template has %q, not in dynamo.TableDefinition", s.what, e)
		}
	}
}

func checkEnv(t *testing.T, tpl *yaml.Node, fnID string, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, p := range pairs(get(tpl, "Globals", "Function", "Environment", "Variables")) {
		got[p.key] = render(p.val)
	}
	for _, p := range pairs(get(tpl, "Resources", fnID, "Properties", "Environment", "Variables")) {
		got[p.key] = render(p.val)
	}
	all := map[string]string{}
	for k, v := range globalEnv {
		all[k] = v
	}
	for k, v := range want {
		all[k] = v
	}
	for _, name := range sortedKeys(all) {
		v, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: env %s missing (its main reads it)", fnID, name)
		case v != all[name]:
			t.Errorf("%s: env %s is %q, want %q", fnID, name, v, all[name])
		}
	}
	for _, name := range sortedKeys(got) {
		if _, ok := all[name]; !ok {
			t.Errorf("%s: env %s is set but not in the expectation table (does its main read it?)", fnID, name)
		}
	}
}

func checkPolicies(t *testing.T, fnID string, policies *yaml.Node, want map[string][]string) {
	t.Helper()
	var sts []iamStatement
	for i, p := range items(policies) {
		where := fmt.Sprintf("%s Policies[%d]", fnID, i)
		if p.Kind == yaml.MappingNode && get(p, "Statement") != nil {
			sts = append(sts, statementsOf(where, p)...)
			continue
		}
		// Managed policy names/ARNs and SAM policy templates hide their
		// actions from this check; explicit statements keep them auditable.
		t.Errorf("%s is %s; use an explicit `- Statement:` list (no managed or template policies)", where, render(p))
	}
	got, problems := grants(sts)
	for _, pr := range problems {
		t.Error(pr)
	}
	compareGrants(t, fnID, want, got)
}

func checkRoutes(t *testing.T, tpl *yaml.Node, fnID string, want []string) {
	t.Helper()
	var got []string
	for _, ev := range pairs(get(tpl, "Resources", fnID, "Properties", "Events")) {
		if render(get(ev.val, "Type")) != "HttpApi" {
			continue
		}
		props := get(ev.val, "Properties")
		got = append(got, strings.ToUpper(render(get(props, "Method")))+" "+render(get(props, "Path")))
		if api := render(get(props, "ApiId")); api != "Ref:HttpApi" {
			t.Errorf("%s event %s: ApiId is %q, want !Ref HttpApi (the implicit API would skip access logging)", fnID, ev.key, api)
		}
	}
	missing, extra := setDiff(want, got)
	for _, r := range missing {
		t.Errorf("%s: HttpApi route %s missing", fnID, r)
	}
	for _, r := range extra {
		t.Errorf("%s: HttpApi route %s not in the expectation table", fnID, r)
	}
}

func checkDispatchStream(t *testing.T, tpl *yaml.Node) {
	t.Helper()
	var streams []pair
	for _, ev := range pairs(get(tpl, "Resources", "DispatchFunction", "Properties", "Events")) {
		if render(get(ev.val, "Type")) == "DynamoDB" {
			streams = append(streams, ev)
		}
	}
	if len(streams) != 1 {
		t.Fatalf("DispatchFunction needs exactly one event of Type DynamoDB, found %d", len(streams))
	}
	props := get(streams[0].val, "Properties")
	checks := []struct {
		name, got, want string
	}{
		{"Stream", render(get(props, "Stream")), "GetAtt:Table.StreamArn"},
		{"StartingPosition", render(get(props, "StartingPosition")), "TRIM_HORIZON"},
		{"BisectBatchOnFunctionError", render(get(props, "BisectBatchOnFunctionError")), "true"},
		{"DestinationConfig.OnFailure.Destination", render(get(props, "DestinationConfig", "OnFailure", "Destination")), dlqArn},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("DispatchFunction stream %s is %q, want %q", c.name, c.got, c.want)
		}
	}
	if !contains(renderAll(get(props, "FunctionResponseTypes")), "ReportBatchItemFailures") {
		t.Error("DispatchFunction stream FunctionResponseTypes lacks ReportBatchItemFailures (the handler returns BatchItemFailures)")
	}
	if r := render(get(props, "MaximumRetryAttempts")); r == "" || r == "-1" {
		t.Errorf("DispatchFunction stream MaximumRetryAttempts is %q; a finite number keeps a poison record from blocking its shard", r)
	}
	// A burst must not queue behind one batch at a time per shard.
	if n, err := strconv.Atoi(render(get(props, "ParallelizationFactor"))); err != nil || n < 2 || n > 10 {
		t.Errorf("DispatchFunction stream ParallelizationFactor is %q, want 2..10 batches of a shard at once", render(get(props, "ParallelizationFactor")))
	}
	if got := render(get(tpl, "Resources", "DispatchDLQ", "Type")); got != "AWS::SQS::Queue" {
		t.Errorf("DispatchDLQ is %q, want an AWS::SQS::Queue", got)
	}
	filters := items(get(props, "FilterCriteria", "Filters"))
	if len(filters) != 1 {
		t.Fatalf("DispatchFunction stream needs one FilterCriteria filter, found %d", len(filters))
	}
	var got any
	if err := json.Unmarshal([]byte(render(get(filters[0], "Pattern"))), &got); err != nil {
		t.Fatalf("DispatchFunction filter pattern is not JSON: %v", err)
	}
	var want any
	_ = json.Unmarshal([]byte(`{"eventName":["INSERT"],"dynamodb":{"NewImage":{"entity":{"S":["event"]}}}}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DispatchFunction filter pattern is %v, want INSERT records whose NewImage.entity is \"event\": %v", got, want)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// secretPatterns are shapes of credentials that must never be committed.
var secretPatterns = []struct {
	what string
	re   *regexp.Regexp
}{
	{"SendGrid API key", regexp.MustCompile(`SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`)},
	{"PEM block", regexp.MustCompile(`-----BEGIN [A-Z0-9 ]+-----`)},
	{"AWS access key id", regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"AWS secret access key", regexp.MustCompile(`(?i)aws_secret_access_key`)},
	{"bearer token", regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9._~+/-]{20,}`)},
	// A long run of base64/hex-like characters with letters and digits mixed,
	// not an ARN, URL or CloudFormation expression.
	{"high-entropy string", regexp.MustCompile(`\b[A-Za-z0-9+/_-]{40,}={0,2}`)},
}

func checkNoSecrets(t *testing.T, name, text string) {
	t.Helper()
	for _, p := range secretPatterns {
		for _, m := range p.re.FindAllString(text, -1) {
			if p.what == "high-entropy string" && !(strings.ContainsAny(m, "0123456789") && strings.IndexFunc(m, unicode.IsLetter) >= 0) {
				continue
			}
			t.Errorf("%s contains what looks like a %s (%.12s...); reference secrets by ARN instead", name, p.what, m)
		}
	}
}

// checkSecretParameters: a parameter named like a secret must be a reference
// (name ending in Arn) without a default value.
func checkSecretParameters(t *testing.T, name string, tpl *yaml.Node) {
	t.Helper()
	secretish := regexp.MustCompile(`(?i)(secret|token|password|apikey|privatekey|cert)`)
	for _, p := range pairs(get(tpl, "Parameters")) {
		if !secretish.MatchString(p.key) {
			continue
		}
		if !strings.HasSuffix(p.key, "Arn") {
			t.Errorf("%s: parameter %s looks like a secret value; pass secrets by ARN (name it ...Arn)", name, p.key)
		}
		if d := render(get(p.val, "Default")); d != "" {
			t.Errorf("%s: parameter %s has a default %q; secret references are given per deployment", name, p.key, d)
		}
	}
}

// cfnLintInstall says how to get cfn-lint; PyPI is reachable from the
// developers' machines and CI, not from every sandbox.
const cfnLintInstall = "pip install cfn-lint (or pipx)"

// runCfnLint lints a template with cfn-lint: errors fail, warnings are
// logged. Without cfn-lint the test is skipped, or fails under
// MEMBERFLOW_REQUIRE_LOCAL=1 (make test) so the lint cannot pass by not
// running.
func runCfnLint(t *testing.T, path string) {
	t.Helper()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		skipUnlessRequired(t, fmt.Sprintf("cfn-lint is not on PATH, so %s was not linted: install it with %s", filepath.Base(path), cfnLintInstall))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--format", "parseable", "--", path).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		// cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational.
		code := exit.ExitCode()
		if code&2 != 0 || code&1 != 0 || code < 0 {
			t.Errorf("cfn-lint %s failed (exit %d):\n%s", filepath.Base(path), code, out)
			return
		}
		t.Logf("cfn-lint %s reported warnings (exit %d):\n%s", filepath.Base(path), code, out)
	default:
		t.Fatalf("run cfn-lint: %v\n%s", err, out)
	}
}
