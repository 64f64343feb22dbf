//go:build unix

package slalom

import "syscall"

// ProcessCPU returns this process's user + system CPU time in seconds
// (getrusage RUSAGE_SELF: every thread of the process, GC included).
func ProcessCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
