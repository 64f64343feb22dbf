package parallel

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestEach(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000} {
		seen := make([]atomic.Int32, n)
		if err := Each(n, func(i int) error { seen[i].Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		for i := range seen {
			if seen[i].Load() != 1 {
				t.Fatalf("n %d: index %d ran %d times", n, i, seen[i].Load())
			}
		}
	}
	errA, errB := errors.New("a"), errors.New("b")
	err := Each(100, func(i int) error {
		switch i {
		case 30:
			return errB
		case 20:
			return errA
		}
		return nil
	})
	if err != errA {
		t.Errorf("error %v, want the lowest index's", err)
	}
	want := errors.New("no state")
	if err := EachWith(5, func() (int, error) { return 0, want }, func(int, int) error { return nil }); err != want {
		t.Errorf("state error %v", err)
	}
}

func TestRanges(t *testing.T) {
	for _, c := range []struct{ n, grain int }{{0, 1}, {1, 1}, {2, 1}, {7, 1}, {10, 1}, {32, 1}, {200, 64}, {1000, 1}, {1000, 5000}} {
		seen := make([]atomic.Int32, c.n)
		Ranges(c.n, c.grain, func(lo, hi int) {
			if lo >= hi && c.n > 0 {
				t.Errorf("%+v: empty range [%d, %d)", c, lo, hi)
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
		})
		for i := range seen {
			if seen[i].Load() != 1 {
				t.Fatalf("%+v: index %d covered %d times", c, i, seen[i].Load())
			}
		}
	}
}
