package porthos

import (
	"context"
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
	out, err := prog.Execute(context.Background(), &simulated{r: r}, [][]uint64{input}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// simulated is the cleartext backend with the protocol's ScaleDown.
type simulated struct {
	fixed.Cleartext
	r *rand.Rand
}

func (s *simulated) Exec(k int, in *fixed.Instr, args []fixed.Value) (fixed.Value, error) {
	if in.Op != fixed.ScaleDown {
		return s.Cleartext.Exec(k, in, args)
	}
	x := args[0].([]uint64)
	x0 := make([]uint64, len(x))
	for i := range x0 {
		x0[i] = s.r.Uint64()
	}
	x1 := make([]uint64, len(x))
	for i := range x1 {
		x1[i] = x[i] - x0[i]
	}
	y0, y1 := mpc.TruncateShare(mpc.P0, x0, in.Shift), mpc.TruncateShare(mpc.P1, x1, in.Shift)
	for i := range y0 {
		y0[i] += y1[i]
	}
	return y0, nil
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
