package porthos

import "veil/internal/rusage"

// cpuTime is the process's user and system CPU time in nanoseconds (all
// three parties run in this process), or 0 where it is not measured.
func cpuTime() int64 { return int64(rusage.CPU()) }
