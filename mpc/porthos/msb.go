package porthos

import (
	"fmt"

	"veil/mpc"
)

// ComputeMSB turns shares of y over Z_{L−1} (n elements, any y in
// [0, L−2]) into shares over Z_L of its most significant bit, 0 or 1.
// P2 passes nil and gets nil.
//
// P0 and P2 draw r0 ∈ Z_{L−1} ("msb.r"), P1 and P2 draw r1; r = r0 + r1
// mod L−1 is known only to P2 and never sent. P0 and P1 draw bits β
// ("msb").
//
//  1. P2 deals the 64 bits of r over Z_p and LSB(r) over Z_L (halved,
//     data-independent). P_j sends c_j = 2y_j + r_j to the other; both
//     learn c = 2y + r mod L−1.
//  2. PrivateCompare(bits of r, c, β): P2 learns β' = β ⊕ (r > c).
//  3. P2 deals β' over Z_L.
//  4. γ = β' ⊕ β = [r > c] and δ = LSB(r) ⊕ LSB(c) are linear in the
//     shares; θ = Mult(γ, δ).
//
// The output is γ + δ − 2θ = γ ⊕ δ = MSB(y): for y in [0, L−2],
// MSB(y) = LSB(2y mod L−1), and 2y mod L−1 = c − r + (L−1)·[r > c] has,
// L−1 being odd, the LSB LSB(c) ⊕ LSB(r) ⊕ [r > c]. The result is exact.
//
// Cost: 3ℓ·log p + 9ℓ bits per element, 4 rounds.
//
// Security: c is uniform to P0 and P1, since neither knows all of r; P2
// learns only β', masked by β; every dealt share is uniform.
func (e *Engine) ComputeMSB(n int, y []uint64) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("ComputeMSB", n)()
	if e.me != mpc.P2 && len(y) != n {
		return nil, e.fail("ComputeMSB", fmt.Errorf("%d shares for %d elements", len(y), n))
	}
	m, err := e.computeMSB(n, y)
	if err != nil {
		return nil, e.fail("ComputeMSB", err)
	}
	return m, nil
}

func (e *Engine) computeMSB(n int, y []uint64) ([]uint64, error) {
	if e.me == mpc.P2 {
		return nil, e.computeMSBHelper(n)
	}
	rj := make([]uint64, n)
	rs := e.stream(mpc.P2, "msb.r")
	for i := range rj {
		rj[i] = rs.OddRing()
	}
	bs := e.stream(e.other(), "msb")
	beta := make([]byte, n)
	for i := range beta {
		beta[i] = byte(bs.Bit())
	}
	var j0 uint64
	if e.me == mpc.P0 {
		j0 = 1
	}
	// Round 1: exchange c_j; P2's deals of r's bits and LSB arrive.
	e.round()
	c := make([]uint64, n)
	for i := range c {
		c[i] = addOdd(addOdd(y[i], y[i]), rj[i])
	}
	if err := e.send(e.other(), putU64s(nil, c)); err != nil {
		return nil, err
	}
	in, err := e.recv(e.other(), 8*n)
	if err != nil {
		return nil, err
	}
	msg, err := e.recv(mpc.P2, e.dealtLen(n, 64+8))
	if err != nil {
		return nil, err
	}
	rb := e.dealtBits("msb.rbits", n, &msg)
	rho := e.dealtRing("msb.lsb", n, false, &msg)
	for i := range c {
		c[i] = addOdd(c[i], uint64Of(in, i))
	}
	// Round 2: PrivateCompare(r, c, β).
	if _, err := e.privateCompare(n, rb, c, beta); err != nil {
		return nil, err
	}
	// Round 3: P2's deal of β'.
	e.round()
	msg, err = e.recv(mpc.P2, e.dealtLen(n, 8))
	if err != nil {
		return nil, err
	}
	gamma := e.dealtRing("msb.bp", n, false, &msg)
	delta := rho
	for i := range gamma {
		if beta[i] == 1 { // γ = β' ⊕ 1
			gamma[i] = j0 - gamma[i]
		}
		if c[i]&1 == 1 { // δ = LSB(r) ⊕ 1
			delta[i] = j0 - delta[i]
		}
	}
	// Round 4: θ = γ·δ.
	theta, err := e.mulElem(n, gamma, delta)
	if err != nil {
		return nil, err
	}
	for i := range theta {
		theta[i] = gamma[i] + delta[i] - 2*theta[i]
	}
	return theta, nil
}

func (e *Engine) computeMSBHelper(n int) error {
	r0, r1 := e.stream(mpc.P0, "msb.r"), e.stream(mpc.P1, "msb.r")
	r := make([]uint64, n)
	for i := range r {
		r[i] = r0.OddRing()
	}
	lsb := make([]uint64, n)
	for i := range r {
		r[i] = addOdd(r[i], r1.OddRing())
		lsb[i] = r[i] & 1
	}
	e.round()
	d := dealer{e: e}
	d.bits("msb.rbits", r)
	d.ring("msb.lsb", lsb, false)
	if err := d.send(); err != nil {
		return err
	}
	bp, err := e.privateCompare(n, nil, nil, nil)
	if err != nil {
		return err
	}
	e.round()
	v := make([]uint64, n)
	for i, b := range bp {
		v[i] = uint64(b)
	}
	d = dealer{e: e}
	d.ring("msb.bp", v, false)
	if err := d.send(); err != nil {
		return err
	}
	_, err = e.mulElem(n, nil, nil)
	return err
}

func uint64Of(b []byte, i int) uint64 {
	_ = b[8*i+7]
	return uint64(b[8*i]) | uint64(b[8*i+1])<<8 | uint64(b[8*i+2])<<16 | uint64(b[8*i+3])<<24 |
		uint64(b[8*i+4])<<32 | uint64(b[8*i+5])<<40 | uint64(b[8*i+6])<<48 | uint64(b[8*i+7])<<56
}
