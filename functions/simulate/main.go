// Command simulate is the Lambda behind POST /v1/journeys/{name}/simulate
// (internal/api's simulate.go): the console's "Simulate" panel. It is the
// api's handler in a function of its own, sized for a CPU-bound run
// (template.yaml: more memory, hence more CPU, than the api's) and with
// read-only table access: a simulation has a store of its own and writes
// nothing. API Gateway sends it that one route.
package main

import (
	"os"

	"github.com/memberflow/memberflow/internal/lambdaenv"
)

func main() { lambdaenv.StartHTTP("simulate", os.Getenv, configFromEnv, mounts) }
