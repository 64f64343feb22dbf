package he

import (
	"sync"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// encrypt returns a fresh symmetric encryption of the plaintext m (N
// values mod t) under sk at level lv (Q its modulus): the seed of a
// uniform a (in the NTT domain) and b = −a·s + round(Q·m/t) + e in the
// coefficient domain, e centered binomial; b has the rows 0…lv.level
// (a scratch polynomial the caller may release).
// split runs the residue rows side by side.
func (p *Params) encrypt(lv *queryLevel, sk ring.Poly, m []uint64, split bool) (seed [seedLen]byte, b ring.Poly, err error) {
	if seed, err = newSeed(); err != nil {
		return seed, b, err
	}
	prng, err := newPRNG()
	if err != nil {
		return seed, b, err
	}
	r := p.ringQ
	as := p.scratch(lv.level)
	defer p.release(as)
	p.expandUniform(seed, lv.level, as)
	e := make([]int64, p.n)
	sampleErrors(prng, e)
	b = p.scratch(lv.level)
	mask := p.tMask()
	p.limbs(split, lv.level, func(i int) {
		sr := r.SubRings[i]
		sr.MulCoeffsMontgomery(as.Coeffs[i], sk.Coeffs[i], as.Coeffs[i])
		p.ntt[i].inverse(as.Coeffs[i])
		q := p.lit.Q[i]
		row, asRow := b.Coeffs[i], as.Coeffs[i]
		for j := range row {
			v := p.encodeCoeff(&lv.levelConsts, m[j]&mask, i)
			v = addMod(v, liftSmall(e[j], q), q)
			row[j] = addMod(v, q-asRow[j], q)
		}
	})
	return seed, b, nil
}

// limbs runs f for the residue rows 0…level: side by side when split
// (a layer with fewer ciphertexts than cores), else in order.
func (p *Params) limbs(split bool, level int, f func(i int)) {
	if !split {
		for i := 0; i <= level; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 1; i <= level; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); f(i) }()
	}
	f(0)
	wg.Wait()
}

// phase sets out (coefficient domain, rows 0…level) to c₀ + c₁·s for c₀
// in the coefficient domain and c₁ in the NTT domain (out must not be
// c0).
func (p *Params) phase(sk, c0, c1 ring.Poly, level int, out ring.Poly) {
	r := p.ringQ.AtLevel(level)
	r.MulCoeffsMontgomery(c1, sk, out)
	p.inttPoly(out, level)
	r.Add(out, c0, out)
}

// decodeAt returns the plaintext of coefficient j of a phase at level c.
func (p *Params) decodeAt(c *levelConsts, phase ring.Poly, j int) uint64 {
	var r [maxModuli]uint64
	for i := 0; i <= c.level; i++ {
		r[i] = phase.Coeffs[i][j]
	}
	return p.decodeCoeff(c, r[:])
}

// maxModuli bounds the number of moduli (NewParams checks).
const maxModuli = 16
