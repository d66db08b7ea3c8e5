package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/memberflow/memberflow/activities"
	"github.com/memberflow/memberflow/internal/mail/asmgroup"
	"github.com/memberflow/memberflow/internal/stdwebhooks"
	"github.com/memberflow/memberflow/internal/temporalconn"
	"github.com/memberflow/memberflow/workflows"
)

// Config is the worker's configuration (infra/worker.yaml sets it).
type Config struct {
	TableName        string // TABLE_NAME
	DynamoDBEndpoint string // DYNAMODB_ENDPOINT, for local use only
	Region           string // AWS_REGION
	Temporal         temporalconn.Config
	TaskQueue        string // TEMPORAL_TASK_QUEUE
	SendGridAPIKey   string // SENDGRID_API_KEY (injected from Secrets Manager)
	SendGridBaseURL  string // SENDGRID_BASE_URL
	SandboxMode      bool   // SENDGRID_SANDBOX: staging sends nothing for real
	FromEmail        string // MEMBERFLOW_FROM_EMAIL
	FromName         string // MEMBERFLOW_FROM_NAME
	Brand            activities.Brand
	CodeSecret       string         // MEMBERFLOW_CODE_SECRET (injected from Secrets Manager): keys coupon codes and unsubscribe links
	Environment      string         // MEMBERFLOW_ENV: which SendGrid template ids of the front matter to use (staging, production …)
	ASMGroups        map[string]int // SENDGRID_ASM_GROUPS: {"<email group>": <ASM group id>}
	PublicURL        string         // MEMBERFLOW_PUBLIC_URL: the API's public base URL, for unsubscribe links
	SweepEvery       time.Duration  // MEMBERFLOW_SWEEP_EVERY: how often the ledger sweep runs (default 1h)
	ScanEvery        time.Duration  // MEMBERFLOW_SCAN_EVERY: how often the date and inactivity journeys' scans run (default 1h)
	// JourneyWebhookSecret signs the posts of journeys' webhook steps
	// (Standard Webhooks; "whsec_" + base64). Optional: without it a
	// webhook step fails, naming this variable.
	JourneyWebhookSecret string // MEMBERFLOW_JOURNEY_WEBHOOK_SECRET (injected from Secrets Manager)
	// Analytics is the nightly analytics refresh's schedule and input
	// (MEMBERFLOW_ANALYTICS_AT, _SAMPLE, _PAGE, _MONTHLY_DISCOUNT).
	Analytics workflows.AnalyticsSchedule
}

// ConfigFromEnv reads Config with explicit defaults.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	or := func(k, def string) string { return cmp.Or(getenv(k), def) }
	// `memberflow replay` reads the connection through the same function,
	// so the deploy's replay check talks to the worker's namespace.
	conn, connErr := temporalconn.ConfigFromEnv(getenv)
	c := Config{
		TableName:            getenv("TABLE_NAME"),
		DynamoDBEndpoint:     getenv("DYNAMODB_ENDPOINT"),
		Region:               getenv("AWS_REGION"),
		Temporal:             conn,
		TaskQueue:            or("TEMPORAL_TASK_QUEUE", workflows.DefaultTaskQueue),
		SendGridAPIKey:       getenv("SENDGRID_API_KEY"),
		CodeSecret:           getenv("MEMBERFLOW_CODE_SECRET"),
		JourneyWebhookSecret: getenv("MEMBERFLOW_JOURNEY_WEBHOOK_SECRET"),
		SendGridBaseURL:      or("SENDGRID_BASE_URL", "https://api.sendgrid.com"),
		FromEmail:            getenv("MEMBERFLOW_FROM_EMAIL"),
		FromName:             getenv("MEMBERFLOW_FROM_NAME"),
		Brand: activities.Brand{
			Name:    or("MEMBERFLOW_BRAND_NAME", getenv("MEMBERFLOW_FROM_NAME")),
			ShopURL: getenv("MEMBERFLOW_SHOP_URL"),
		},
	}
	if v := getenv("SENDGRID_SANDBOX"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("SENDGRID_SANDBOX must be true or false, got %q", v)
		}
		c.SandboxMode = b
	}
	analytics, analyticsErr := workflows.AnalyticsScheduleFromEnv(getenv)
	c.Analytics = analytics
	missing := []error{connErr, analyticsErr}
	c.Environment = getenv("MEMBERFLOW_ENV")
	c.PublicURL = getenv("MEMBERFLOW_PUBLIC_URL")
	groups, err := asmgroup.Parse(getenv("SENDGRID_ASM_GROUPS"))
	if err != nil {
		missing = append(missing, fmt.Errorf("SENDGRID_ASM_GROUPS: %w", err))
	}
	c.ASMGroups = groups
	if u, err := url.Parse(c.PublicURL); c.PublicURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		missing = append(missing, fmt.Errorf("MEMBERFLOW_PUBLIC_URL must be an absolute URL such as https://api.example.com, got %q", c.PublicURL))
	}
	for _, iv := range []struct {
		env  string
		into *time.Duration
	}{{"MEMBERFLOW_SWEEP_EVERY", &c.SweepEvery}, {"MEMBERFLOW_SCAN_EVERY", &c.ScanEvery}} {
		every, err := time.ParseDuration(or(iv.env, "1h"))
		if err != nil || every < time.Minute {
			missing = append(missing, fmt.Errorf("%s must be a duration of at least 1m such as 1h, got %q", iv.env, getenv(iv.env)))
		}
		*iv.into = every
	}
	// A scan looks back 24 hours: runs further apart would miss members.
	if c.ScanEvery > workflows.DefaultCatchUp/2 {
		missing = append(missing, fmt.Errorf("MEMBERFLOW_SCAN_EVERY must be at most %s (half the scans' %s catch-up window), got %s", workflows.DefaultCatchUp/2, workflows.DefaultCatchUp, c.ScanEvery))
	}
	if err := stdwebhooks.CheckSecret([]byte(c.JourneyWebhookSecret)); err != nil {
		missing = append(missing, fmt.Errorf("MEMBERFLOW_JOURNEY_WEBHOOK_SECRET: %w", err))
	}
	for _, req := range []struct{ name, value string }{
		{"TABLE_NAME", c.TableName},
		{"TEMPORAL_ADDRESS", c.Temporal.Address},
		{"SENDGRID_API_KEY", c.SendGridAPIKey},
		{"MEMBERFLOW_FROM_EMAIL", c.FromEmail},
		{"MEMBERFLOW_SHOP_URL", c.Brand.ShopURL},
		{"MEMBERFLOW_CODE_SECRET", c.CodeSecret},
		{"MEMBERFLOW_ENV", c.Environment},
		{"MEMBERFLOW_PUBLIC_URL", c.PublicURL},
	} {
		if req.value == "" {
			missing = append(missing, fmt.Errorf("%s is required", req.name))
		}
	}
	return c, errors.Join(missing...)
}

// Flags are the worker's command-line switches; without any it runs the
// worker.
type Flags struct {
	// BackfillCalendarIndex runs the one-off GSI2 backfill against the
	// table and exits instead of starting the worker.
	BackfillCalendarIndex bool
}

// ParseFlags reads Flags from args (without the program name), writing
// what is wrong, and the usage, to out.
func ParseFlags(args []string, out io.Writer) (Flags, error) {
	var f Flags
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.BoolVar(&f.BackfillCalendarIndex, "backfill-calendar-index", false,
		"give members and accounts written before GSI2 their calendar index attributes, then exit")
	if err := fs.Parse(args); err != nil {
		return Flags{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments %q", fs.Args())
		fmt.Fprintln(out, err)
		fs.Usage()
		return Flags{}, err
	}
	return f, nil
}
