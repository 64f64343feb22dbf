package porthos

import (
	"fmt"

	"veil/mpc"
	"veil/tensor"
)

// The local operations: linear maps of the shares that need no message.
// Each party applies them to its own share (P2, which holds none, gets
// nil). Security: nothing is sent. Cost: 0 bits, 0 rounds.
//
// The executor applies the program's broadcasting forms of these through
// fixed.Program.Apply; these are the plain element-wise forms.

// Add returns shares of x + y.
func (e *Engine) Add(x, y []uint64) ([]uint64, error) {
	return e.zip("Add", x, y, func(a, b uint64) uint64 { return a + b })
}

// Sub returns shares of x − y.
func (e *Engine) Sub(x, y []uint64) ([]uint64, error) {
	return e.zip("Sub", x, y, func(a, b uint64) uint64 { return a - b })
}

// AddPublic returns shares of x + c for a public vector c: only P0 adds
// it.
func (e *Engine) AddPublic(x, c []uint64) ([]uint64, error) {
	if e.me == mpc.P1 {
		return e.zip("AddPublic", x, c, func(a, _ uint64) uint64 { return a })
	}
	return e.zip("AddPublic", x, c, func(a, b uint64) uint64 { return a + b })
}

// MulPublic returns shares of x ⊙ c for a public vector c (no
// truncation; a public fixed-point constant is followed by ScaleDown).
func (e *Engine) MulPublic(x, c []uint64) ([]uint64, error) {
	return e.zip("MulPublic", x, c, func(a, b uint64) uint64 { return a * b })
}

func (e *Engine) zip(op string, x, y []uint64, f func(a, b uint64) uint64) ([]uint64, error) {
	if e.me == mpc.P2 {
		return nil, nil
	}
	if len(x) != len(y) {
		return nil, e.fail(op, fmt.Errorf("operands of %d and %d elements", len(x), len(y)))
	}
	z := make([]uint64, len(x))
	for i := range z {
		z[i] = f(x[i], y[i])
	}
	return z, nil
}

// SumPool returns shares of the sum over every pooling window's real
// elements of the NCHW planes x: the numerator of an average pool, whose
// public reciprocal is then applied by MulPublic and ScaleDown.
func (e *Engine) SumPool(x []uint64, pp tensor.PoolParams) ([]uint64, error) {
	if e.me == mpc.P2 {
		return nil, nil
	}
	if len(x) != pp.NC*pp.H*pp.W {
		return nil, e.fail("SumPool", fmt.Errorf("%d shares for %d planes of %d×%d", len(x), pp.NC, pp.H, pp.W))
	}
	z := make([]uint64, pp.NC*pp.OutH()*pp.OutW())
	tensor.SumPool(z, x, pp)
	return z, nil
}

// ReduceSum returns shares of the sums of consecutive groups of size k
// of x (len(x) a multiple of k).
func (e *Engine) ReduceSum(x []uint64, k int) ([]uint64, error) {
	if e.me == mpc.P2 {
		return nil, nil
	}
	if k < 1 || len(x)%k != 0 {
		return nil, e.fail("ReduceSum", fmt.Errorf("%d shares in groups of %d", len(x), k))
	}
	z := make([]uint64, len(x)/k)
	for i, v := range x {
		z[i/k] += v
	}
	return z, nil
}
