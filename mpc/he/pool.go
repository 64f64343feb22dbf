package he

import (
	"sync"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// polyPool keeps polynomials of every modulus between the ciphertexts
// of a layer and between layers: a query, an evaluation and a
// decryption each take several scratch polynomials per ciphertext,
// which would otherwise be allocated and zeroed (64 KiB a row) each
// time.
type polyPool struct{ pool sync.Pool }

// scratch returns a polynomial of rows 0…level of p's ring; its
// coefficients are arbitrary.
func (p *Params) scratch(level int) ring.Poly {
	if v, ok := p.polys.pool.Get().(*ring.Poly); ok {
		return ring.Poly{Coeffs: v.Coeffs[:level+1]}
	}
	return ring.Poly{Coeffs: p.ringQ.NewPoly().Coeffs[:level+1]}
}

// release returns pol, from scratch, to the pool; the caller must not
// use it after.
func (p *Params) release(pol ring.Poly) {
	if cap(pol.Coeffs) != len(p.lit.Q) {
		return // not the pool's
	}
	p.polys.pool.Put(&ring.Poly{Coeffs: pol.Coeffs[:cap(pol.Coeffs)]})
}
