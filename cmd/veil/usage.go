package main

import (
	"os"
	"runtime/debug"
	"syscall"

	"veil/fixed"
)

// processUsage returns this process's CPU time (user + system) in seconds
// and its peak resident set size in bytes.
func processUsage() (cpuSeconds float64, peakRSS int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	return cpu, ru.Maxrss * 1024 // Linux reports kilobytes
}

// workingSetAllowance is the memory a party is expected to need besides
// the model's weights: activations and the comparison protocol's
// temporaries of the largest layer.
const workingSetAllowance = 320 << 20

// setMemoryLimit gives the Go runtime a soft memory limit of the weights
// (the server's) plus workingSetAllowance, so that the garbage collector
// works harder near it instead of letting the heap grow to twice the live
// data; a party that really needs more still gets it. An explicit
// GOMEMLIMIT in the environment wins.
func setMemoryLimit(prog *fixed.Program) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(workingSetAllowance)
	if prog != nil {
		for _, t := range prog.Tensors {
			limit += int64(8 * len(t.Data))
		}
	}
	debug.SetMemoryLimit(limit)
}
