package porthos

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"veil/fixed"
	"veil/mpc"
)

// trace runs prog in the clear (fixed.Program.Trace) and returns every
// tensor's values; its outputs equal prog.Run's.
func trace(t testing.TB, prog *fixed.Program, inputs ...[]uint64) [][]uint64 {
	t.Helper()
	vals, err := prog.Trace(inputs...)
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// simulate runs prog in the clear except that every ScaleDown is the
// protocol's: the value is split into a uniform share and the rest, and
// each part truncated as P0 and P1 truncate theirs (see ScaleDown). Since
// every other instruction is exact on its operands (checkSteps), this
// draws from the distribution of the secure execution's outputs.
func simulate(t testing.TB, prog *fixed.Program, r *rand.Rand, input []uint64) []uint64 {
	t.Helper()
	vals := make([][]uint64, len(prog.Tensors))
	vals[prog.Inputs[0]] = input
	for id, tt := range prog.Tensors {
		if tt.Kind == fixed.KindWeight {
			vals[id] = tt.Data
		}
	}
	for k := range prog.Instrs {
		in := &prog.Instrs[k]
		args := make([][]uint64, len(in.In))
		for i, id := range in.In {
			args[i] = vals[id]
		}
		if in.Op == fixed.ScaleDown {
			x := args[0]
			x0 := make([]uint64, len(x))
			for i := range x0 {
				x0[i] = r.Uint64()
			}
			x1 := make([]uint64, len(x))
			for i := range x1 {
				x1[i] = x[i] - x0[i]
			}
			y0, y1 := truncate(mpc.P0, x0, in.Shift), truncate(mpc.P1, x1, in.Shift)
			for i := range y0 {
				y0[i] += y1[i]
			}
			vals[in.Out] = y0
			continue
		}
		out, err := prog.Apply(in, args)
		if err != nil {
			t.Fatal(err)
		}
		vals[in.Out] = out
	}
	return vals[prog.Outputs[0]]
}

// deviation is the largest |secure − clear| over two encoded vectors.
func deviation(a, b []uint64) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("lengths %d and %d", len(a), len(b)))
	}
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(int64(a[i]-b[i]))))
	}
	return m
}
