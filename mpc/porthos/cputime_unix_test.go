//go:build unix

package porthos

import "syscall"

// cpuTime is the process's user and system CPU time in nanoseconds (all
// three parties run in this process).
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
