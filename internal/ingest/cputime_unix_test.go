//go:build unix

package ingest_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user and system, all
// threads, the garbage collector's included), or false when unknown. On a
// machine shared with other work it measures the handler's cost where
// wall time also counts the waits for a core.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
