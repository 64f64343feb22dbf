//go:build unix

package main

import (
	"runtime"
	"syscall"
)

// processUsage returns this process's CPU time (user + system) in seconds
// and its peak resident set size in bytes. The peak is VmHWM from
// /proc/self/status, the high-water mark of this program image: unlike
// getrusage's ru_maxrss it does not inherit the size of the process that
// started this one (a party started by veil bench would otherwise report
// the bench process's memory).
func processUsage() (cpuSeconds float64, peakRSS int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		cpuSeconds = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
		peakRSS = ru.Maxrss * 1024 // Linux and the BSDs report kilobytes
		if runtime.GOOS == "darwin" {
			peakRSS = ru.Maxrss // darwin reports bytes
		}
	}
	if hwm, ok := vmHWM(); ok {
		peakRSS = hwm
	}
	return cpuSeconds, peakRSS
}
