// Command api is the Lambda behind the bearer-protected /v1 API (members,
// their ledger and adjustments, liability, journey stats) and the
// unsubscribe links, and the marketer console at /ui/. See internal/api and
// internal/console.
package main

import (
	"os"

	"github.com/memberflow/memberflow/internal/lambdaenv"
)

func main() { lambdaenv.StartHTTP("api", os.Getenv, configFromEnv, mounts) }
