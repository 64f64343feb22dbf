package main

import "syscall"

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
