// Package rusage reads this process's resource usage (getrusage
// RUSAGE_SELF), once for every package that measures CPU time or peak
// memory: the benchmarks, veil bench's party reports and Slalom's work
// ratios.
//
// getrusage exists only on Unix systems. Elsewhere (Windows, wasm)
// [Self] reports false and the helpers return zero, so that the module
// builds and runs everywhere and only the measurements are missing.
package rusage

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// Usage is a process's resource usage so far.
type Usage struct {
	// User and System are the CPU time spent in user and kernel mode by
	// every thread of the process (the garbage collector's included).
	User, System time.Duration
	// MaxRSS is the peak resident set size in bytes, as getrusage
	// reports it (normalized: Linux and the BSDs count kilobytes, darwin
	// bytes). On Linux it may include the size of the process that
	// started this one; see [PeakRSS].
	MaxRSS int64
}

// CPU is the process's total CPU time: user plus system.
func (u Usage) CPU() time.Duration { return u.User + u.System }

// Self returns this process's usage; ok is false where getrusage does
// not exist or fails, and the usage is then zero.
func Self() (u Usage, ok bool) { return self() }

// CPU returns this process's user + system CPU time, or 0 where it
// cannot be measured.
func CPU() time.Duration {
	u, _ := Self()
	return u.CPU()
}

// PeakRSS returns this process's peak resident set size in bytes: VmHWM
// from /proc/self/status where it exists (the high-water mark of this
// program image: unlike getrusage's ru_maxrss it does not inherit the
// size of the process that started this one, so a party started by veil
// bench does not report the bench process's memory), else
// [Usage.MaxRSS], else 0.
func PeakRSS() int64 {
	if hwm, ok := vmHWM(); ok {
		return hwm
	}
	u, _ := Self()
	return u.MaxRSS
}

// vmHWM reads the peak resident set size from /proc/self/status.
func vmHWM() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err == nil
			}
		}
	}
	return 0, false
}
