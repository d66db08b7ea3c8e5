// Command sendgrid-events is the Lambda behind POST /v1/sendgrid/events: it
// verifies SendGrid's signed Event Webhook posts and records delivery
// feedback, suppressions and unsubscribes (see internal/sgevents).
package main

import (
	"os"

	"github.com/memberflow/memberflow/internal/lambdaenv"
)

func main() { lambdaenv.StartHTTP("sendgrid-events", os.Getenv, configFromEnv, mounts) }
