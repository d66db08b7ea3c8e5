// Command ingest is the Lambda behind POST /v1/events: it verifies, validates
// and records storefront webhooks (see internal/ingest).
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
		slog.Error("ingest: configuration", "err", err)
		os.Exit(1)
	}
	h, err := env.IngestHandler(ctx)
	if err != nil {
		slog.Error("ingest: start", "err", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}
