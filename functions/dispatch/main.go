// Command dispatch is the Lambda consuming the table's stream: it updates
// member projections and starts or signals journey workflows. See
// internal/dispatch.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/memberflow/memberflow/internal/lambdaenv"
)

func main() {
	ctx := context.Background()
	env, cfg, err := lambdaenv.Load(ctx, os.Getenv, configFromEnv)
	if err != nil {
		slog.Error("dispatch: configuration", "err", err)
		os.Exit(1)
	}
	h, err := newHandler(ctx, env, cfg)
	if err != nil {
		slog.Error("dispatch: start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
