//go:build !unix

package slalom

// ProcessCPU would return this process's CPU time; without getrusage it
// returns 0 (the work ratios of bench need a Unix system).
func ProcessCPU() float64 { return 0 }
