//go:build !unix

package porthos

// cpuTime is not measured where getrusage does not exist.
func cpuTime() int64 { return 0 }
