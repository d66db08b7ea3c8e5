//go:build !unix

package ingest_test

import "time"

// processCPU is unknown here; BenchmarkIngest then reports wall time only.
func processCPU() (time.Duration, bool) { return 0, false }
