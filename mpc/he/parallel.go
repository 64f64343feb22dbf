package he

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallel calls f(i) for i in [0, n) on up to GOMAXPROCS goroutines,
// each with its own state from newState, and returns the error of the
// lowest i that failed (the others still run to completion).
func parallel[S any](n int, newState func() (S, error), f func(s S, i int) error) error {
	if n == 0 {
		return nil
	}
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var stateErr atomic.Pointer[error]
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
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
		}()
	}
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

// none is the state of a loop that needs none.
func none() (struct{}, error) { return struct{}{}, nil }
