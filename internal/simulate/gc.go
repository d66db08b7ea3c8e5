package simulate

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target (GOGC) a process that does
// nothing but simulate runs with: a year of 10,000 members keeps some
// 300 MB live while the scans allocate fast, so at Go's default of 100
// over a quarter of the CPU time went to collecting (BenchmarkSimulateYear
// profile). At 300 the collector runs about a third as often, for about
// twice the peak memory (1.1 GB instead of 0.6 GB for that year).
const GCPercent = 300

// TuneGC sets the process's collector target to GCPercent, unless GOGC
// is set in the environment, and returns what restores the previous
// target. It is process-wide: for the CLI and benchmarks, never for a
// server that simulates beside other work.
func TuneGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(old) }
}
