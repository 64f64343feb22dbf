package main

import (
	"os"
	"runtime/debug"

	"veil/fixed"
	"veil/internal/rusage"
)

// processUsage returns this process's CPU time (user + system) in seconds
// and its peak resident set size in bytes (see rusage.PeakRSS: VmHWM
// where it exists, so that a party started by veil bench does not report
// the bench process's memory). Where getrusage does not exist veil bench
// reports zero for both.
func processUsage() (cpuSeconds float64, peakRSS int64) {
	u, ok := rusage.Self()
	if !ok {
		return 0, 0
	}
	return u.CPU().Seconds(), rusage.PeakRSS()
}

// workingSetAllowance is the memory a party is expected to need besides
// the model's weights: activations and the comparison protocol's
// temporaries of the largest layer.
const workingSetAllowance = 192 << 20

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
