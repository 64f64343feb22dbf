package porthos

import (
	"fmt"

	"veil/mpc"
)

// ShareConvert turns shares of a over Z_L into shares of the same integer
// over Z_{L−1} (n elements; precondition a ≠ L−1, which DReLU guarantees
// by converting only even values). P2 passes nil and gets nil.
//
// P0 and P1 draw from their common stream ("sc") n values r0, n values r1
// and n bits η″; both know r = r0 + r1 and α = wrap(r0, r1).
//
//  1. P_j sends ã_j = a_j + r_j to P2 and keeps β_j = wrap(a_j, r_j).
//  2. P2 computes x = ã0 + ã1 = a + r and δ = wrap(ã0, ã1), and deals
//     the bits of x over Z_p and δ over Z_{L−1} (halved, see Deal).
//  3. PrivateCompare(bits of x, r − 1, η″): P2 learns
//     η' = η″ ⊕ (x > r − 1).
//  4. P2 sends fresh shares of η' over Z_{L−1} to both, from its private
//     randomness (not halved, as in the paper's count).
//
// Then η = η' ⊕ η″ = [x ≥ r] (set to 1 when r = 0, where r − 1 would
// wrap: the fix the public prototype lacks), θ_j = β_j + δ_j + η_j −
// [j=0](α + 1) and y_j = a_j − θ_j over Z_{L−1}.
//
// Correctness: a0 + a1 = a + wL with w = wrap(a0, a1), and L ≡ 1 mod
// L−1, so it suffices that θ0 + θ1 = w; expanding a0 + a1 + r0 + r1 twice
// gives w = β0 + β1 + δ − α − 1 + η, since [a + r ≥ L] = [x < r] = 1 − η.
//
// Cost: 3ℓ·log p + 5ℓ bits per element, 4 rounds.
//
// Security: P2 sees a + r with r uniform and unknown to it, and η' masked
// by η″; PrivateCompare shows it nothing more. Everything P0 and P1
// receive is a fresh uniform share.
func (e *Engine) ShareConvert(n int, a []uint64) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("ShareConvert", n)()
	if e.me != mpc.P2 && len(a) != n {
		return nil, e.fail("ShareConvert", fmt.Errorf("%d shares for %d elements", len(a), n))
	}
	y, err := e.shareConvert(n, a)
	if err != nil {
		return nil, e.fail("ShareConvert", err)
	}
	return y, nil
}

func (e *Engine) shareConvert(n int, a []uint64) ([]uint64, error) {
	if e.me == mpc.P2 {
		return nil, e.shareConvertHelper(n)
	}
	st := e.stream(e.other(), "sc")
	r0, r1 := make([]uint64, n), make([]uint64, n)
	st.Uint64s(r0)
	st.Uint64s(r1)
	eta2 := make([]byte, n)
	for i := range eta2 {
		eta2[i] = byte(st.Bit())
	}
	if testHookSCMask != nil {
		testHookSCMask(r0, r1)
	}
	rj := r0
	var j0 uint64
	if e.me == mpc.P0 {
		j0 = 1
	} else {
		rj = r1
	}
	// Round 1: ã_j to P2.
	e.round()
	at := make([]uint64, n)
	for i := range at {
		at[i] = a[i] + rj[i]
	}
	if err := e.send(mpc.P2, putU64s(nil, at)); err != nil {
		return nil, err
	}
	// Round 2: the dealt bits of x and δ.
	e.round()
	msg, err := e.recv(mpc.P2, e.dealtLen(n, 64+8))
	if err != nil {
		return nil, err
	}
	xb := e.dealtBits("sc.xbits", n, &msg)
	delta := e.dealtRing("sc.delta", n, true, &msg)
	// Round 3: PrivateCompare against r − 1 with mask η″.
	rm1 := make([]uint64, n)
	for i := range rm1 {
		rm1[i] = r0[i] + r1[i] - 1
	}
	if _, err := e.privateCompare(n, xb, rm1, eta2); err != nil {
		return nil, err
	}
	// Round 4: shares of η' from P2.
	e.round()
	msg, err = e.recv(mpc.P2, 8*n)
	if err != nil {
		return nil, err
	}
	y := u64s(msg, n)
	for i, etaP := range y {
		var eta uint64
		switch {
		case rm1[i] == oddMax: // r = 0: x ≥ r always
			eta = j0
		case eta2[i] == 1:
			eta = subOdd(j0, etaP)
		default:
			eta = etaP
		}
		theta := addOdd(addOdd(carry(a[i], rj[i]), delta[i]), eta)
		if j0 == 1 {
			theta = subOdd(theta, carry(r0[i], r1[i])+1)
		}
		y[i] = subOdd(reduceOdd(a[i]), theta)
	}
	return y, nil
}

// testHookSCMask, set only by tests, may change the masks r0, r1 that
// P0 and P1 draw (to force the r = 0 edge case).
var testHookSCMask func(r0, r1 []uint64)

func (e *Engine) shareConvertHelper(n int) error {
	e.round()
	a0, err := e.recv(mpc.P0, 8*n)
	if err != nil {
		return err
	}
	a1, err := e.recv(mpc.P1, 8*n)
	if err != nil {
		return err
	}
	x, delta := u64s(a0, n), u64s(a1, n)
	for i := range x {
		x[i], delta[i] = x[i]+delta[i], carry(x[i], delta[i])
	}
	e.round()
	d := dealer{e: e}
	d.bits("sc.xbits", x)
	d.ring("sc.delta", delta, true)
	if err := d.send(); err != nil {
		return err
	}
	etaP, err := e.privateCompare(n, nil, nil, nil)
	if err != nil {
		return err
	}
	e.round()
	s0, s1 := make([]uint64, n), make([]uint64, n)
	for i, b := range etaP {
		s0[i] = e.priv.OddRing()
		s1[i] = subOdd(uint64(b), s0[i])
	}
	if err := e.send(mpc.P0, putU64s(nil, s0)); err != nil {
		return err
	}
	return e.send(mpc.P1, putU64s(nil, s1))
}
