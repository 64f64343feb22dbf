package tensor

import (
	"time"

	"veil/internal/rusage"
)

// cpuTime is the user+system CPU time of the process so far.
func cpuTime() time.Duration { return rusage.CPU() }
