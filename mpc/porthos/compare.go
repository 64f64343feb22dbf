package porthos

import (
	"fmt"

	"veil/mpc"
)

// PrivateCompare lets P2 learn β' = β ⊕ (x > r) for n elements, where
//
//   - x is secret, given as its 64 bits shared over Z_p (xbits: this
//     party's n×64 shares, most significant bit first);
//   - r (n values of Z_L) and the bits β (n bytes, 0 or 1) are known to P0
//     and P1 and hidden from P2.
//
// P0 and P1 pass xbits, r and β; P2 passes nil and gets β' (n bytes).
//
// Per element, P0 and P1 draw from their common stream ("pc"): only if the
// element is special (β = 1 and r = L−1) 64 values u_i of Z_p, then 64
// non-zero s_i and a permutation π of the 64 slots. With t = r + β (no
// overflow outside the special case), w_i = x_i ⊕ t_i in shares and
// S_i = Σ_{k>i} w_k:
//
//	β = 0: c_i = 1 + t_i − x_i + S_i, zero exactly at the first differing
//	       bit when x_i = 1, t_i = 0, i.e. iff x > r;
//	β = 1: c_i = 1 − t_i + x_i + S_i, zero iff x < r + 1, i.e. iff x ≤ r;
//	special: c_i = [i ≠ 63] − u_i at P0 and u_i at P1: one zero (x ≤ L−1).
//
// Each c_i lies in [0, 65] over the integers, so it is 0 mod 67 only if it
// is 0. P_j sends d_i = s_i·c_i in the order π (slot k carries the value
// of bit 63 − π(k)) to P2, which outputs 1 iff some d_0 + d_1 = 0 mod p.
//
// Cost: 2·64·8 bits per element (one byte per Z_p value), 1 round.
//
// Security: P2 sees, in random order, at most one zero and otherwise
// uniform non-zero values (the s_i are unknown to it), so it learns only
// β', which is uniform because β is; P0 and P1 receive nothing.
func (e *Engine) PrivateCompare(n int, xbits []byte, r []uint64, beta []byte) ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("PrivateCompare", n)()
	if e.me != mpc.P2 && (len(xbits) != 64*n || len(r) != n || len(beta) != n) {
		return nil, e.fail("PrivateCompare", fmt.Errorf("inputs of %d bits, %d values, %d masks for %d elements", len(xbits), len(r), len(beta), n))
	}
	res, err := e.privateCompare(n, xbits, r, beta)
	if err != nil {
		return nil, e.fail("PrivateCompare", err)
	}
	return res, nil
}

func (e *Engine) privateCompare(n int, xbits []byte, r []uint64, beta []byte) ([]byte, error) {
	e.round()
	if e.me != mpc.P2 {
		return nil, e.send(mpc.P2, e.pcMessage(n, xbits, r, beta))
	}
	d0, err := e.recv(mpc.P0, 64*n)
	if err != nil {
		return nil, err
	}
	d1, err := e.recv(mpc.P1, 64*n)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	for el := range out {
		a, b := d0[64*el:64*el+64], d1[64*el:64*el+64]
		var z byte
		for k := range a {
			if uint32(a[k])+uint32(b[k]) == prime || a[k]|b[k] == 0 {
				z = 1
			}
		}
		out[el] = z
	}
	return out, nil
}

// pcMessage is P0's or P1's message to P2 in PrivateCompare.
//
// Arithmetic: c_i is kept unreduced (below 2 + p + 64·68) and reduced
// once, in d_i = s_i·c_i mod p.
func (e *Engine) pcMessage(n int, xbits []byte, r []uint64, beta []byte) []byte {
	st := e.bytes(e.other(), "pc")
	var j0 uint32 // [j = 0]
	if e.me == mpc.P0 {
		j0 = 1
	}
	out := make([]byte, 64*n)
	var s, u [64]byte
	for el := 0; el < n; el++ {
		x := xbits[64*el : 64*el+64 : 64*el+64]
		d := (*[64]byte)(out[64*el:])
		if beta[el] == 1 && r[el] == oddMax { // special: one zero at bit 63
			st.zp(u[:])
			st.zpStar(s[:])
			for k := range u {
				c := uint32(u[k])
				if j0 == 1 { // [i ≠ 63] − u_i; slot k holds bit i = 63 − k
					c = prime - c
					if k != 0 {
						c++
					}
				}
				d[k] = byte(uint32(s[k]) * c % prime)
			}
			st.shuffle64(d)
			continue
		}
		st.zpStar(s[:])
		t := r[el] + uint64(beta[el])
		var sum uint32 // S_i: the shares of x ⊕ t above bit i, unreduced
		if beta[el] == 0 {
			for k := 0; k < 64; k++ {
				ti, xi := uint32(t>>(63-k))&1, uint32(x[k])
				c := j0*(ti+1) + prime - xi + sum
				d[k] = byte(uint32(s[k]) * c % prime)
				sum += xi + ti*(j0+prime-2*xi) // x_i^j + [j=0]t_i − 2t_i x_i^j
			}
		} else {
			for k := 0; k < 64; k++ {
				ti, xi := uint32(t>>(63-k))&1, uint32(x[k])
				c := j0*(1-ti) + xi + sum
				d[k] = byte(uint32(s[k]) * c % prime)
				sum += xi + ti*(j0+prime-2*xi)
			}
		}
		st.shuffle64(d)
	}
	return out
}
