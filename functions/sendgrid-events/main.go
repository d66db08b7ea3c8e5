// Command sendgrid-events is the Lambda behind POST /v1/sendgrid/events: it
// verifies SendGrid's signed Event Webhook posts and records delivery
// feedback, suppressions and unsubscribes (see internal/sgevents).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/memberflow/memberflow/internal/lambdaenv"
)

func main() {
	ctx := context.Background()
	env, err := lambdaenv.Load(ctx, os.Getenv)
	if err != nil {
		slog.Error("sendgrid-events: configuration", "err", err)
		os.Exit(1)
	}
	h, err := env.SendgridEventsHandler(ctx)
	if err != nil {
		slog.Error("sendgrid-events: start", "err", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}
