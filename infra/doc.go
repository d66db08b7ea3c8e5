// Package infra holds memberflow's deployment descriptions beyond the SAM
// template at the repository root: the Temporal worker service
// (worker.yaml, worker.Dockerfile) and the tests that keep template.yaml and
// worker.yaml in step with the code (functions, table definition, the
// environment each binary reads and the IAM actions it uses).
package infra
