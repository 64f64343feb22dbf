package fixed

import (
	"testing"
)

// TestFunctionErrors measures every approximated function's largest error
// over every input of its range and 8 beyond each end, at several
// scales, against the documented bound (FunctionBound), and checks that
// the lowering computes exactly what the oracle does.
func TestFunctionErrors(t *testing.T) {
	for _, s := range []int{8, 12, 16} {
		for name, fn := range functions {
			in, err := functionInstr(name, s)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := fn.lo-8, fn.hi+8
			if fn.mirror != nil {
				lo = -hi
			}
			if name == "exp_neg" {
				hi = 0
			}
			w, at := maxError(&in, fn.f, lo, hi, s)
			bound := FunctionBound(fn.degree, s)
			if w > bound {
				t.Errorf("%s at scale %d: error %.3g at %g, more than the bound %.3g", name, s, w, at, bound)
			}
		}
	}
}
