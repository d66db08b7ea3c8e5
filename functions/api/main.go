// Command api is the Lambda behind the bearer-protected /v1 API (members;
// journeys and stats later). See internal/api.
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
		slog.Error("api: configuration", "err", err)
		os.Exit(1)
	}
	h, err := env.APIHandler(ctx)
	if err != nil {
		slog.Error("api: start", "err", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}
