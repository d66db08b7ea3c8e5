// Command ingest is the Lambda behind POST /v1/events: it verifies, validates
// and records storefront webhooks (see internal/ingest).
package main

import (
	"os"

	"github.com/memberflow/memberflow/internal/lambdaenv"
)

func main() { lambdaenv.StartHTTP("ingest", os.Getenv, configFromEnv, mounts) }
