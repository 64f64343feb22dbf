// Package parallel runs the loops of veil's kernels and protocols on
// every core: one worker per GOMAXPROCS.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Each runs f(i) for every i in [0, n) on all cores, each worker taking
// the next index, and returns the error of the lowest index that failed.
func Each(n int, f func(i int) error) error {
	return EachWith(n, func() (struct{}, error) { return struct{}{}, nil }, func(_ struct{}, i int) error { return f(i) })
}

// EachWith is Each with a state per worker, made by newState before the
// worker's first index (scratch buffers, a worker's own evaluator); an
// error from newState is returned.
func EachWith[S any](n int, newState func() (S, error), f func(s S, i int) error) error {
	if n <= 0 {
		return nil
	}
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var stateErr atomic.Pointer[error]
	work := func() {
		s, err := newState()
		if err != nil {
			stateErr.CompareAndSwap(nil, &err)
			return
		}
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			errs[i] = f(s, i)
		}
	}
	// One worker on the calling goroutine, the others on their own: a
	// single index, or a single core, starts no goroutine.
	for range min(runtime.GOMAXPROCS(0), n) - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	if e := stateErr.Load(); e != nil {
		return *e
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Ranges splits [0, n) into one contiguous range per core and runs f on
// each at once, the last on the calling goroutine; below grain elements
// it calls f(0, n) alone.
func Ranges(n, grain int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if n < grain || workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers-1; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(n*w/workers, n*(w+1)/workers)
		}()
	}
	f(n*(workers-1)/workers, n)
	wg.Wait()
}
