//go:build !unix

package main

// processUsage is not measured where getrusage does not exist: veil bench
// reports zero CPU time and peak memory there.
func processUsage() (cpuSeconds float64, peakRSS int64) { return 0, 0 }
