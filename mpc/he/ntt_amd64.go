//go:build amd64 && !purego

package he

import "golang.org/x/sys/cpu"

var useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// forwardAsm runs the forward transform with AVX-512 and reports
// whether it could: the stages whose butterflies span eight or more
// coefficients with one root broadcast per group, the last three on
// blocks of 16 coefficients with one root per lane.
func forwardAsm(t *nttTable, p []uint64) bool {
	if !useAVX512 || t.n < 16 {
		return false
	}
	m := 1
	for h := t.n / 2; h >= 8; h /= 2 {
		fwdStageAVX512(&p[0], m, h, &t.fw[m], &t.fwShoup[m], t.q)
		m *= 2
	}
	fwdTailAVX512(&p[0], t.n/16, &t.fw[0], &t.fwShoup[0], t.q)
	return true
}

// inverseAsm is forwardAsm's counterpart for the inverse transform.
func inverseAsm(t *nttTable, p []uint64) bool {
	if !useAVX512 || t.n < 16 {
		return false
	}
	invHeadAVX512(&p[0], t.n/16, &t.bw[0], &t.bwShoup[0], t.q)
	groups := t.n / 16
	for h := 8; h < t.n; h *= 2 {
		invStageAVX512(&p[0], groups, h, &t.bw[groups], &t.bwShoup[groups], t.q)
		groups /= 2
	}
	invScaleAVX512(&p[0], t.n/8, t.nInv, t.nInvShoup, t.q)
	return true
}

// fwdStageAVX512 runs one forward stage: for each of groups groups i,
// h butterflies (x, y) = (u + w·v, u − w·v) on p[2ih+j], p[2ih+h+j] with
// root w[i].
//
//go:noescape
func fwdStageAVX512(p *uint64, groups, h int, w, wq *uint64, q uint64)

// fwdTailAVX512 runs the stages of spans 4, 2 and 1 on blocks of 16
// coefficients and reduces the results to [0, q); w and wq are the
// whole tables of roots and quotients.
//
//go:noescape
func fwdTailAVX512(p *uint64, blocks int, w, wq *uint64, q uint64)

// invHeadAVX512 runs the inverse stages of spans 1, 2 and 4 on blocks of
// 16 coefficients.
//
//go:noescape
func invHeadAVX512(p *uint64, blocks int, w, wq *uint64, q uint64)

// invStageAVX512 runs one inverse stage: for each of groups groups i, h
// butterflies (x, y) = (u + v, w·(u − v)) with root w[i].
//
//go:noescape
func invStageAVX512(p *uint64, groups, h int, w, wq *uint64, q uint64)

// invScaleAVX512 multiplies 8·vecs values by c (Shoup quotient cq) and
// reduces them to [0, q).
//
//go:noescape
func invScaleAVX512(p *uint64, vecs int, c, cq, q uint64)
