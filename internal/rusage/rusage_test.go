package rusage

import (
	"runtime"
	"testing"
	"time"
)

// burn spends about d of CPU time in this goroutine.
func burn(d time.Duration) {
	x := 1.0
	for start := time.Now(); time.Since(start) < d; {
		for i := 0; i < 1000; i++ {
			x = x*1.0000001 + 1e-9
		}
	}
	_ = x
}

// TestCPUGrows: the CPU time grows with work where getrusage exists, and
// is zero (with ok false) where it does not.
func TestCPUGrows(t *testing.T) {
	u0, ok := Self()
	if !ok {
		if runtime.GOOS != "windows" && runtime.GOOS != "js" && runtime.GOOS != "wasip1" && runtime.GOOS != "plan9" {
			t.Fatalf("getrusage failed on %s", runtime.GOOS)
		}
		if u0 != (Usage{}) || CPU() != 0 {
			t.Fatalf("usage %+v without getrusage", u0)
		}
		return
	}
	// Work until 50 ms of CPU time are counted, within 10 s of wall time
	// (a loaded machine gives this process less than the wall time).
	var u1 Usage
	for start := time.Now(); time.Since(start) < 10*time.Second; {
		burn(10 * time.Millisecond)
		if u1, _ = Self(); u1.CPU()-u0.CPU() >= 50*time.Millisecond {
			break
		}
	}
	if d := u1.CPU() - u0.CPU(); d < 50*time.Millisecond {
		t.Fatalf("CPU time grew by %v over 10 s of work", d)
	}
	if u1.User < u0.User || u1.System < u0.System {
		t.Fatalf("CPU time went back: %+v then %+v", u0, u1)
	}
	if c := CPU(); c < u1.CPU() {
		t.Fatalf("CPU() = %v, below the earlier %v", c, u1.CPU())
	}
}

// TestPeakRSS: a live process has a plausible peak resident set (more
// than a megabyte, less than a terabyte) where it can be measured.
func TestPeakRSS(t *testing.T) {
	if _, ok := Self(); !ok {
		t.Skip("no getrusage here")
	}
	if p := PeakRSS(); p < 1<<20 || p > 1<<40 {
		t.Fatalf("peak RSS %d bytes", p)
	}
	if u, _ := Self(); u.MaxRSS < 1<<20 {
		t.Fatalf("ru_maxrss %d bytes (kilobytes not converted?)", u.MaxRSS)
	}
}
