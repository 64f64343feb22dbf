//go:build unix

package rusage

import (
	"runtime"
	"syscall"
	"time"
)

func self() (Usage, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}, false
	}
	u := Usage{
		User:   time.Duration(ru.Utime.Nano()),
		System: time.Duration(ru.Stime.Nano()),
		MaxRSS: int64(ru.Maxrss) * 1024, // Linux and the BSDs report kilobytes
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		u.MaxRSS = int64(ru.Maxrss) // darwin reports bytes
	}
	return u, true
}
