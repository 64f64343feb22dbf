package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"veil/fixed"
)

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
