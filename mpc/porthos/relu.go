package porthos

import (
	"fmt"

	"veil/mpc"
)

// DReLU returns shares over Z_L of D = [signed(a) ≥ 0] (0 or 1) for n
// shared elements, under the precondition signed(a) ∈ [−2^62, 2^62)
// (outside it the result is 1 − a_62).
//
// Steps: z = 2a (local), ShareConvert(z) (z is even, so z ≠ L−1 as
// ShareConvert requires), m = ComputeMSB, D = 1 − m. MSB(2a mod L) is bit
// 62 of a, which is the sign bit exactly on the precondition's range;
// doubling avoids excluding the common value −1 = L−1.
//
// Cost: 6ℓ·log p + 14ℓ bits per element, 8 rounds.
//
// Security: a sequential composition of ShareConvert and ComputeMSB,
// each of which hands out only fresh uniform shares; P2 learns only
// masked bits (η' and β').
func (e *Engine) DReLU(n int, a []uint64) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("DReLU", n)()
	if e.me != mpc.P2 && len(a) != n {
		return nil, e.fail("DReLU", fmt.Errorf("%d shares for %d elements", len(a), n))
	}
	if e.cmp == CompareFast {
		d, _, err := e.fastCmp(n, a, nil, 0)
		if err != nil {
			return nil, e.fail("DReLU", err)
		}
		return d, nil
	}
	d, err := e.drelu(n, a)
	if err != nil {
		return nil, e.fail("DReLU", err)
	}
	return d, nil
}

func (e *Engine) drelu(n int, a []uint64) ([]uint64, error) {
	var z []uint64
	if e.me != mpc.P2 {
		z = make([]uint64, n)
		for i, v := range a {
			z[i] = 2 * v
		}
	}
	y, err := e.shareConvert(n, z)
	if err != nil {
		return nil, err
	}
	m, err := e.computeMSB(n, y)
	if err != nil {
		return nil, err
	}
	if e.me == mpc.P2 {
		return nil, nil
	}
	var j0 uint64
	if e.me == mpc.P0 {
		j0 = 1
	}
	for i := range m {
		m[i] = j0 - m[i]
	}
	return m, nil
}

// ReLU returns shares of max(a, 0) = a·DReLU(a) for n shared elements,
// exact under DReLU's precondition. The product with the 0/1 bit is a
// plain Beaver product with no truncation.
//
// Cost: 6ℓ·log p + 19ℓ bits per element, 9 rounds. Security: DReLU
// followed by a Beaver product.
//
// With CompareFast (see SetCompare) DReLU and ReLU run fastCmp instead:
// exact for every input, 641 (DReLU) and 833 (ReLU) bits per element and
// 7 rounds.
func (e *Engine) ReLU(n int, a []uint64) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("ReLU", n)()
	if e.me != mpc.P2 && len(a) != n {
		return nil, e.fail("ReLU", fmt.Errorf("%d shares for %d elements", len(a), n))
	}
	if e.cmp == CompareFast {
		var ys [][]uint64
		if e.me != mpc.P2 {
			ys = [][]uint64{a}
		}
		_, p, err := e.fastCmp(n, a, ys, 1)
		if err != nil {
			return nil, e.fail("ReLU", err)
		}
		if e.me == mpc.P2 {
			return nil, nil
		}
		return p[0], nil
	}
	d, err := e.drelu(n, a)
	if err != nil {
		return nil, e.fail("ReLU", err)
	}
	y, err := e.mulElem(n, a, d)
	if err != nil {
		return nil, e.fail("ReLU", err)
	}
	return y, nil
}

// SelectShare returns shares of x where the shared bit alpha is 0 and of
// y where it is 1: x + Mult(alpha, y − x), with alpha 0/1 over Z_L and no
// truncation.
//
// Cost: 5ℓ bits per element, 1 round. Security: one Beaver product.
func (e *Engine) SelectShare(n int, alpha, x, y []uint64) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("SelectShare", n)()
	var d []uint64
	if e.me != mpc.P2 {
		if len(alpha) != n || len(x) != n || len(y) != n {
			return nil, e.fail("SelectShare", fmt.Errorf("inputs of %d, %d, %d shares for %d elements", len(alpha), len(x), len(y), n))
		}
		d = make([]uint64, n)
		for i := range d {
			d[i] = y[i] - x[i]
		}
	}
	t, err := e.mulElem(n, alpha, d)
	if err != nil {
		return nil, e.fail("SelectShare", err)
	}
	for i := range t {
		t[i] += x[i]
	}
	return t, nil
}
