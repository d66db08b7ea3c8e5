package infra

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The contract between cmd/worker and infra/worker.yaml: the environment the
// worker reads, the secrets ECS injects into it, and the IAM actions of its
// task role (the worker process) and execution role (ECS itself).
var (
	workerEnv = map[string]string{
		"TABLE_NAME":            "Ref:TableName",
		"TEMPORAL_ADDRESS":      "Ref:TemporalAddress",
		"TEMPORAL_NAMESPACE":    "Ref:TemporalNamespace",
		"TEMPORAL_TASK_QUEUE":   "Ref:TemporalTaskQueue",
		"MEMBERFLOW_FROM_EMAIL": "Ref:FromEmail",
		"MEMBERFLOW_FROM_NAME":  "Ref:FromName",
		"SENDGRID_BASE_URL":     "Ref:SendGridBaseUrl",
		"SENDGRID_SANDBOX":      "Ref:SendGridSandbox",
		"MEMBERFLOW_SHOP_URL":   "Ref:ShopUrl",
		"MEMBERFLOW_BRAND_NAME": "Ref:BrandName",
		"MEMBERFLOW_ENV":        "Ref:Environment",
		"MEMBERFLOW_PUBLIC_URL": "Ref:PublicUrl",
		"SENDGRID_ASM_GROUPS":   "Ref:SendGridAsmGroups",
	}
	workerSecrets = map[string]string{
		"SENDGRID_API_KEY":  "Ref:SendGridApiKeySecretArn",
		"TEMPORAL_TLS_CERT": "Sub:${TemporalTlsSecretArn}:cert::",
		"TEMPORAL_TLS_KEY":  "Sub:${TemporalTlsSecretArn}:key::",
		// Keys coupon codes; the same secret the Lambdas read by ARN.
		"MEMBERFLOW_CODE_SECRET": "Sub:${CodeSecretArn}:code_secret::",
		// Signs journeys' webhook steps.
		"MEMBERFLOW_JOURNEY_WEBHOOK_SECRET": "Sub:${JourneyWebhookSecretArn}:webhook_secret::",
	}
	workerTaskGrants = map[string][]string{
		"dynamodb:GetItem":    {"Ref:TableArn"},
		"dynamodb:PutItem":    {"Ref:TableArn"},
		"dynamodb:UpdateItem": {"Ref:TableArn"},
		// The ledger sweep queries the due-day index.
		"dynamodb:Query":              {"Ref:TableArn", "Sub:${TableArn}/index/*"},
		"dynamodb:ConditionCheckItem": {"Ref:TableArn"},
		// An update step removing a custom date attribute takes the member
		// out of the date index.
		"dynamodb:DeleteItem": {"Ref:TableArn"},
		// -backfill-calendar-index, once after an upgrade.
		"dynamodb:Scan": {"Ref:TableArn"},
	}
	workerExecutionGrants = map[string][]string{
		"secretsmanager:GetSecretValue": {"Ref:SendGridApiKeySecretArn", "Ref:TemporalTlsSecretArn", "Ref:CodeSecretArn", "Ref:JourneyWebhookSecretArn"},
	}
)

// roleStatements collects the statements a role gets inline and from
// AWS::IAM::Policy resources attached to it.
func roleStatements(tpl *yaml.Node, roleID string) []iamStatement {
	var sts []iamStatement
	for i, p := range items(get(tpl, "Resources", roleID, "Properties", "Policies")) {
		sts = append(sts, statementsOf(fmt.Sprintf("%s Policies[%d]", roleID, i), get(p, "PolicyDocument"))...)
	}
	for _, id := range resourcesOfType(tpl, "AWS::IAM::Policy") {
		props := get(tpl, "Resources", id, "Properties")
		if contains(renderAll(get(props, "Roles")), "Ref:"+roleID) {
			sts = append(sts, statementsOf(id, get(props, "PolicyDocument"))...)
		}
	}
	return sts
}

func TestWorkerTemplate(t *testing.T) {
	root := repoRoot(t)
	path := filepath.Join(root, "infra", "worker.yaml")
	tpl := loadCFN(t, path)

	tds := resourcesOfType(tpl, "AWS::ECS::TaskDefinition")
	if len(tds) != 1 {
		t.Fatalf("worker.yaml needs exactly one AWS::ECS::TaskDefinition, found %v", tds)
	}
	td := get(tpl, "Resources", tds[0], "Properties")
	roleOf := func(prop string) string {
		return strings.TrimSuffix(strings.TrimPrefix(render(get(td, prop)), "GetAtt:"), ".Arn")
	}

	t.Run("task role", func(t *testing.T) {
		role := roleOf("TaskRoleArn")
		if render(get(tpl, "Resources", role, "Type")) != "AWS::IAM::Role" {
			t.Fatalf("TaskRoleArn is %q, want !GetAtt <Role>.Arn of an AWS::IAM::Role in worker.yaml", render(get(td, "TaskRoleArn")))
		}
		if m := get(tpl, "Resources", role, "Properties", "ManagedPolicyArns"); m != nil {
			t.Errorf("task role %s has managed policies %v; keep it to explicit statements", role, renderAll(m))
		}
		got, problems := grants(roleStatements(tpl, role))
		for _, p := range problems {
			t.Error(p)
		}
		compareGrants(t, "task role "+role, workerTaskGrants, got)
	})

	t.Run("execution role", func(t *testing.T) {
		role := roleOf("ExecutionRoleArn")
		if render(get(tpl, "Resources", role, "Type")) != "AWS::IAM::Role" {
			t.Fatalf("ExecutionRoleArn is %q, want !GetAtt <Role>.Arn of an AWS::IAM::Role in worker.yaml", render(get(td, "ExecutionRoleArn")))
		}
		for _, m := range renderAll(get(tpl, "Resources", role, "Properties", "ManagedPolicyArns")) {
			if !strings.HasSuffix(m, "/service-role/AmazonECSTaskExecutionRolePolicy") {
				t.Errorf("execution role %s has managed policy %s; only AmazonECSTaskExecutionRolePolicy (image pull, logs) is expected", role, m)
			}
		}
		got, problems := grants(roleStatements(tpl, role))
		for _, p := range problems {
			t.Error(p)
		}
		compareGrants(t, "execution role "+role, workerExecutionGrants, got)
	})

	t.Run("container", func(t *testing.T) {
		containers := items(get(td, "ContainerDefinitions"))
		if len(containers) != 1 {
			t.Fatalf("want one container definition, found %d", len(containers))
		}
		c := containers[0]
		env := map[string]string{}
		for _, e := range items(get(c, "Environment")) {
			env[render(get(e, "Name"))] = render(get(e, "Value"))
		}
		secrets := map[string]string{}
		for _, s := range items(get(c, "Secrets")) {
			secrets[render(get(s, "Name"))] = render(get(s, "ValueFrom"))
		}
		for _, tc := range []struct {
			what      string
			want, got map[string]string
		}{
			{"environment variable", workerEnv, env},
			{"injected secret", workerSecrets, secrets},
		} {
			for _, name := range sortedKeys(tc.want) {
				v, ok := tc.got[name]
				switch {
				case !ok:
					t.Errorf("worker %s %s missing (cmd/worker reads it)", tc.what, name)
				case v != tc.want[name]:
					t.Errorf("worker %s %s is %q, want %q", tc.what, name, v, tc.want[name])
				}
			}
			for _, name := range sortedKeys(tc.got) {
				if _, ok := tc.want[name]; !ok {
					t.Errorf("worker %s %s is not in the expectation table (infra/worker_test.go)", tc.what, name)
				}
			}
		}
		if got := render(get(c, "LogConfiguration", "LogDriver")); got != "awslogs" {
			t.Errorf("worker LogDriver is %q, want awslogs", got)
		}
	})

	t.Run("fargate arm64 sizing", func(t *testing.T) {
		checks := []struct{ name, got, want string }{
			{"RuntimePlatform.CpuArchitecture", render(get(td, "RuntimePlatform", "CpuArchitecture")), "ARM64"},
			{"RuntimePlatform.OperatingSystemFamily", render(get(td, "RuntimePlatform", "OperatingSystemFamily")), "LINUX"},
			{"Cpu", render(get(td, "Cpu")), "512"},
			{"Memory", render(get(td, "Memory")), "1024"},
			{"NetworkMode", render(get(td, "NetworkMode")), "awsvpc"},
			{"SendGridBaseUrl default", render(get(tpl, "Parameters", "SendGridBaseUrl", "Default")), "https://api.sendgrid.com"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s is %q, want %q", c.name, c.got, c.want)
			}
		}
		if !contains(renderAll(get(td, "RequiresCompatibilities")), "FARGATE") {
			t.Error("RequiresCompatibilities lacks FARGATE")
		}
	})

	t.Run("service", func(t *testing.T) {
		services := resourcesOfType(tpl, "AWS::ECS::Service")
		if len(services) != 1 {
			t.Fatalf("want one AWS::ECS::Service, found %v", services)
		}
		svc := get(tpl, "Resources", services[0], "Properties")
		dc := render(get(svc, "DesiredCount"))
		if strings.HasPrefix(dc, "Ref:") {
			dc = render(get(tpl, "Parameters", strings.TrimPrefix(dc, "Ref:"), "Default"))
		}
		if dc != "2" {
			t.Errorf("service DesiredCount is %q, want 2", dc)
		}
		for _, f := range []string{"Enable", "Rollback"} {
			if got := render(get(svc, "DeploymentConfiguration", "DeploymentCircuitBreaker", f)); got != "true" {
				t.Errorf("DeploymentCircuitBreaker.%s is %q, want true", f, got)
			}
		}
		if got := render(get(svc, "TaskDefinition")); got != "Ref:"+tds[0] {
			t.Errorf("service TaskDefinition is %q, want !Ref %s", got, tds[0])
		}
	})

	t.Run("no secrets", func(t *testing.T) {
		checkSecretParameters(t, "infra/worker.yaml", tpl)
	})

	t.Run("cfn-lint", func(t *testing.T) {
		runCfnLint(t, path)
	})
}
