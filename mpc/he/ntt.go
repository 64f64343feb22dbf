package he

import (
	"math/bits"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// nttTable transforms the rows of one RNS limb exactly as Lattigo's
// standard NTT of the same SubRing does (the same roots in the same
// bit-reversed order, outputs fully reduced). The transforms are the
// hot loop of the server's weight encoding; with AVX-512 (ntt_amd64.s)
// they run eight of Harvey's lazy butterflies at once, each with
// Shoup's multiplication by a precomputed root (with IFMA's 52-bit
// products where q < 2^50),
//
//	w·v mod q ∈ [0, 2q) = w·v − ⌊v·⌊w·2^64/q⌋/2^64⌋·q (mod 2^64),
//
// values staying in [0, 4q) between stages (below 2^63 for the moduli
// of at most 61 bits that NewParams admits). Elsewhere, and under the
// purego tag, Lattigo's own transforms run: they are the reference the
// assembly is tested against.
type nttTable struct {
	s *ring.SubRing
	n int
	q uint64
	// Forward and backward roots, the root of group i of the stage with
	// m groups at index m+i, with their Shoup quotients ⌊w·2^64/q⌋.
	fw, fwShoup     []uint64
	bw, bwShoup     []uint64
	nInv, nInvShoup uint64
	// ifma: q < 2^50 and the CPU has AVX-512 IFMA, so the assembly
	// multiplies with 52-bit quotients ⌊w·2^52/q⌋ instead
	// (ntt_amd64.s).
	ifma                 bool
	fwShoup52, bwShoup52 []uint64
	nInvShoup52          uint64
}

// newNTTTable derives the table of s from its Montgomery-form roots.
func newNTTTable(s *ring.SubRing) *nttTable {
	q, n := s.Modulus, s.N
	t := &nttTable{s: s, n: n, q: q}
	fromMont := func(x uint64) uint64 { return ring.MRed(x, 1, q, s.MRedConstant) }
	t.fw, t.fwShoup = make([]uint64, n), make([]uint64, n)
	t.bw, t.bwShoup = make([]uint64, n), make([]uint64, n)
	for i := range n {
		t.fw[i] = fromMont(s.RootsForward[i])
		t.fwShoup[i] = shoupQuotient(t.fw[i], q)
		t.bw[i] = fromMont(s.RootsBackward[i])
		t.bwShoup[i] = shoupQuotient(t.bw[i], q)
	}
	t.nInv = fromMont(s.NInv)
	t.nInvShoup = shoupQuotient(t.nInv, q)
	if useIFMA && q>>50 == 0 {
		t.ifma = true
		t.fwShoup52, t.bwShoup52 = make([]uint64, n), make([]uint64, n)
		for i := range n {
			t.fwShoup52[i] = shoupQuotient52(t.fw[i], q)
			t.bwShoup52[i] = shoupQuotient52(t.bw[i], q)
		}
		t.nInvShoup52 = shoupQuotient52(t.nInv, q)
	}
	return t
}

// shoupQuotient returns ⌊w·2^64/q⌋ for w < q.
func shoupQuotient(w, q uint64) uint64 {
	quo, _ := bits.Div64(w, 0, q)
	return quo
}

// shoupQuotient52 returns ⌊w·2^52/q⌋ for w < q.
func shoupQuotient52(w, q uint64) uint64 {
	quo, _ := bits.Div64(w>>12, w<<52, q)
	return quo
}

// forward sets p (n coefficients in [0, 2q)) to its NTT, in [0, q).
func (t *nttTable) forward(p []uint64) {
	p = p[:t.n]
	if !forwardAsm(t, p) {
		t.s.NTT(p, p)
	}
}

// inverse sets p (n values in [0, 2q)) to its inverse NTT, in [0, q).
func (t *nttTable) inverse(p []uint64) {
	p = p[:t.n]
	if !inverseAsm(t, p) {
		t.s.INTT(p, p)
	}
}

// nttPoly transforms rows 0…level of pol in place.
func (p *Params) nttPoly(pol ring.Poly, level int) {
	for i := 0; i <= level; i++ {
		p.ntt[i].forward(pol.Coeffs[i])
	}
}

// inttPoly inverts the transform of rows 0…level of pol in place.
func (p *Params) inttPoly(pol ring.Poly, level int) {
	for i := 0; i <= level; i++ {
		p.ntt[i].inverse(pol.Coeffs[i])
	}
}
