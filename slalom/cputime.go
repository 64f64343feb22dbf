package slalom

import "veil/internal/rusage"

// ProcessCPU returns this process's user + system CPU time in seconds
// (getrusage RUSAGE_SELF: every thread of the process, GC included), or
// 0 where getrusage does not exist (the work ratios of bench need a Unix
// system).
func ProcessCPU() float64 { return rusage.CPU().Seconds() }
