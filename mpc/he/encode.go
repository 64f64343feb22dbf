package he

import "math/bits"

// The plaintext ring is Z_t, t = 2^ℓ, and Q is odd, so no integer Δ has
// Δ·t = Q. A plaintext m ∈ [0, t) is encoded as round(Q·m/t), written
// ⌊Q/t⌋·m + round((Q mod t)·m/t) so that it takes two word products per
// modulus, and decoded as round(t·φ/Q) mod t from the phase φ. Products
// with integer polynomials stay exact: w·(Q·m/t) ≡ Q·(w·m mod t)/t
// (mod Q), so the only error is the rounding (|ε| ≤ 1/2) times the
// weights, which the noise budget counts.

// encodeCoeff returns round(Q·m/t) mod q_i for Q of level c, m < t:
// by Barrett and Montgomery reductions, without a division or a branch
// on m (a secret share).
func (p *Params) encodeCoeff(c *levelConsts, m uint64, i int) uint64 {
	q, u := p.lit.Q[i], p.barrett[i]
	d := montMul(c.deltaQMont[i], reduce64(m, q, u), q, p.ringQ.SubRings[i].MRedConstant)
	return addMod(d, reduce64(p.roundDivT(c.qModT, m), q, u), q)
}

// reduce64 returns a mod q for q < 2^62, given u = ⌊2^64/q⌋: the
// estimate ⌊a·u/2^64⌋ of ⌊a/q⌋ is short by at most one, so a − est·q
// lies in [0, 2q), and one branch-free subtraction finishes.
func reduce64(a, q, u uint64) uint64 {
	h, _ := bits.Mul64(a, u)
	r := a - h*q
	return min(r, r-q)
}

// montMul returns a·b·2^-64 mod q for a, b < q < 2^62, given qInv =
// q^-1 mod 2^64 (Montgomery: m = lo(a·b)·qInv makes a·b − m·q a
// multiple of 2^64, so its high word hi(a·b) − hi(m·q) is exact, in
// (−q, q)), without a branch.
func montMul(a, b, q, qInv uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	mh, _ := bits.Mul64(lo*qInv, q)
	r := hi - mh + q
	return min(r, r-q)
}

// roundDivT returns round(a·m/t) for a, m < t.
func (p *Params) roundDivT(a, m uint64) uint64 {
	hi, lo := bits.Mul64(a, m)
	l := uint(p.lit.LogT)
	if l == 64 {
		return hi + lo>>63
	}
	return (hi<<(64-l) | lo>>l) + (lo>>(l-1))&1
}

// decodeCoeff returns round(t·φ/Q) mod t for the phase φ given by its
// residues r_i modulo the moduli of level c.
//
// With z_i = r_i·(Q/q_i)^−1 mod q_i, φ/Q ≡ Σ z_i/q_i (mod 1), so
// t·φ/Q ≡ Σ t·z_i/q_i (mod t). Each term is computed to 64 fractional
// bits (error < 2^−64 each); the phase of a decryptable ciphertext is
// within t·|noise|/Q ≤ 1/4 of an integer, far from the rounding boundary.
func (p *Params) decodeCoeff(c *levelConsts, r []uint64) uint64 {
	l := uint(p.lit.LogT)
	var whole, fracHi, fracLo uint64
	for i := 0; i <= c.level; i++ {
		q := p.lit.Q[i]
		hi, lo := bits.Mul64(r[i], c.yHat[i])
		z := bits.Rem64(hi, lo, q)
		// t·z = (z >> (64−ℓ), z << ℓ) as a 128-bit number; z < q so the
		// quotient by q fits a word.
		var th, tl uint64
		if l == 64 {
			th = z
		} else {
			th, tl = z>>(64-l), z<<l
		}
		quo, rem := bits.Div64(th, tl, q)
		frac, _ := bits.Div64(rem, 0, q)
		whole += quo
		var carry uint64
		fracLo, carry = bits.Add64(fracLo, frac, 0)
		fracHi += carry
	}
	whole += fracHi + fracLo>>63
	return whole & p.tMask()
}
