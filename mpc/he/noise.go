package he

import (
	"math"
	"math/big"
)

// Noise and flooding, worst case.
//
// A fresh ciphertext of m has phase round(Q·m/t) + e = Q·m/t + ε + e with
// |e| ≤ errBound (centered binomial) and |ε| ≤ 1/2. The server
// multiplies by plaintext weight polynomials whose coefficients are the
// weights lifted to (−t/2, t/2]; the product of the weight polynomial w
// with Q·m/t is Q·(w·m mod t)/t modulo Q (the multiple of t in w·m
// becomes a multiple of Q), so an output coefficient carries
//
//	data noise ≤ nnz · 2^(b−1) · (errBound + 1)    the products
//	           + (2N + 1) · errBound               re-randomisation u·e₀ + e₂·s + e₁
//	           + 1                                 rounding of W·x_S − r
//
// where nnz counts every nonzero coefficient of every weight polynomial
// accumulated into that ciphertext (also those whose products land
// outside the output's coefficients: every input coefficient carries
// noise). The server then adds a flood uniform in [−F, F) with
// F = 2^floodBits, the same for every layer, so that the client's view
// of the noise is statistically independent of the weights: a layer is
// admissible only if its data noise is at most F/2^StatBits, so each
// revealed coefficient's noise is within statistical distance 2^−StatBits
// of the flood alone.
//
// The weights are those of the layer's public bound b (|w| ≤ 2^(b−1),
// b = ℓ for any weights), so the products' term is nnz·2^(b−1)·(errBound
// + 1). Each query level, the moduli q_0 … q_j with modulus Q, has its
// own flood. With E = F + data noise, decryption at the level needs
// E < Q/(2t); the flood is the largest power of two with 4·t·E < Q.
// Switching down to
// Q' = q_0⋯q_{r−1} scales the noise by Q'/Q and adds the rounding of c₀
// and of c₁·s, at most (1 + ‖s‖₁)/2 ≤ (N+1)/2 for the last dropped
// modulus, the earlier ones' shrunk by the later divisions: less than
// R = N/2 + 2 in all; the set must also satisfy 4·t·(E·Q'/Q + R) < Q'.
// Both margins are a factor 2 below the decryption limit. For the default
// set at ℓ = 64, F = 2^137 on all four moduli (layers of any weights up
// to nnz ≈ 2^29.5) and 2^77 on three (16-bit weights up to nnz ≈ 2^17.5).

// dataNoise returns the worst-case noise of an output coefficient whose
// weight polynomials hold nnz nonzero coefficients in total, each weight
// of magnitude at most 2^(wbits−1).
func (p *Params) dataNoise(nnz, wbits int) *big.Int {
	b := new(big.Int).Lsh(big.NewInt(int64(nnz)), uint(wbits-1))
	b.Mul(b, big.NewInt(errBound+1))
	b.Add(b, big.NewInt(int64(2*p.n+1)*errBound+1))
	return b
}

// newQueryLevel returns the constants of queries at level l, with the
// largest flood its noise budget allows.
func (p *Params) newQueryLevel(l int) queryLevel {
	lv := queryLevel{levelConsts: p.newLevelConsts(l)}
	t := new(big.Int).Lsh(big.NewInt(1), uint(p.lit.LogT))
	for f := lv.q.BitLen(); f > p.lit.StatBits; f-- {
		b := new(big.Int).Lsh(big.NewInt(1), uint(f-p.lit.StatBits))
		e := new(big.Int).Lsh(big.NewInt(1), uint(f))
		e.Add(e, b)
		if p.fits(lv.q, e, t) {
			lv.floodBits, lv.maxNoise = f, b
			break
		}
	}
	for _, q := range p.lit.Q {
		qi := new(big.Int).SetUint64(q)
		lv.floodOff = append(lv.floodOff, new(big.Int).Mod(new(big.Int).Lsh(big.NewInt(1), uint(lv.floodBits)), qi).Uint64())
	}
	return lv
}

// fits reports whether a total noise e at the modulus q decrypts, with a
// factor 2 of margin, at q and after the switch to the response moduli.
func (p *Params) fits(q, e, t *big.Int) bool {
	qr := p.resp.q
	lhs := new(big.Int).Mul(e, t)
	lhs.Lsh(lhs, 2)
	if lhs.Cmp(q) >= 0 {
		return false
	}
	// 4·t·(e·Q'/Q + R) < Q'  ⇔  4·t·(e·Q' + R·Q) < Q·Q'
	l := new(big.Int).Mul(e, qr)
	l.Add(l, new(big.Int).Mul(big.NewInt(p.switchNoise()), q))
	l.Mul(l, t)
	l.Lsh(l, 2)
	return l.Cmp(new(big.Int).Mul(q, qr)) < 0
}

// switchNoise bounds the rounding noise of the modulus switch:
// (N+1)/2 for the last dropped modulus plus less than 1 for the earlier
// ones, divided by it.
func (p *Params) switchNoise() int64 { return int64(p.n/2 + 2) }

// maxNNZ returns the largest nnz of weights of at most wbits bits whose
// data noise the flood of level lv hides (0 if none).
func (p *Params) maxNNZ(lv *queryLevel, wbits int) int {
	if lv.maxNoise == nil {
		return 0
	}
	r := new(big.Int).Sub(lv.maxNoise, big.NewInt(int64(2*p.n+1)*errBound+1))
	if r.Sign() <= 0 {
		return 0
	}
	r.Rsh(r, uint(wbits-1))
	r.Quo(r, big.NewInt(errBound+1))
	if !r.IsInt64() || r.Int64() > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(r.Int64())
}

// FloodBits returns log2 of the flooding magnitude F at the top level:
// the server adds to every revealed coefficient noise uniform in
// [−F, F). A layer on fewer moduli floods with less.
func (p *Params) FloodBits() int { return p.top.floodBits }

// MaxNNZ returns the largest number of nonzero weight coefficients one
// output ciphertext may accumulate, weights of any ℓ-bit value, for its
// noise to stay hidden by the top level's flood (see the package
// documentation); layers are packed within it.
func (p *Params) MaxNNZ() int { return p.maxNNZ(p.top, p.lit.LogT) }
