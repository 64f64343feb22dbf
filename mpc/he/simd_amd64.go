//go:build amd64 && !purego

package he

import "golang.org/x/sys/cpu"

var useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// useIFMA reports AVX-512 IFMA's 52-bit multiply-adds, which the
// products of limbs below 2^52 use (mont_amd64.s).
var useIFMA = useAVX512 && cpu.X86.HasAVX512IFMA

// forwardAsm runs the forward transform with AVX-512 and reports
// whether it could: the stages whose butterflies span eight or more
// coefficients with one root broadcast per group, the last three on
// blocks of 16 coefficients with one root per lane.
func forwardAsm(t *nttTable, p []uint64) bool {
	if !useAVX512 || t.n < 16 {
		return false
	}
	stage, tail, wq := fwdStageAVX512, fwdTailAVX512, t.fwShoup
	if t.ifma {
		stage, tail, wq = fwdStageIFMA, fwdTailIFMA, t.fwShoup52
	}
	m := 1
	for h := t.n / 2; h >= 8; h /= 2 {
		stage(&p[0], m, h, &t.fw[m], &wq[m], t.q)
		m *= 2
	}
	tail(&p[0], t.n/16, &t.fw[0], &wq[0], t.q)
	return true
}

// inverseAsm is forwardAsm's counterpart for the inverse transform.
func inverseAsm(t *nttTable, p []uint64) bool {
	if !useAVX512 || t.n < 16 {
		return false
	}
	head, stage, scale, wq, nq := invHeadAVX512, invStageAVX512, invScaleAVX512, t.bwShoup, t.nInvShoup
	if t.ifma {
		head, stage, scale, wq, nq = invHeadIFMA, invStageIFMA, invScaleIFMA, t.bwShoup52, t.nInvShoup52
	}
	head(&p[0], t.n/16, &t.bw[0], &wq[0], t.q)
	groups := t.n / 16
	for h := 8; h < t.n; h *= 2 {
		stage(&p[0], groups, h, &t.bw[groups], &wq[groups], t.q)
		groups /= 2
	}
	scale(&p[0], t.n/8, t.nInv, nq, t.q)
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

// The IFMA counterparts of the transforms' routines above, for moduli
// below 2^50 (tables of 52-bit Shoup quotients ⌊w·2^52/q⌋).
//
//go:noescape
func fwdStageIFMA(p *uint64, groups, h int, w, wq *uint64, q uint64)

//go:noescape
func fwdTailIFMA(p *uint64, blocks int, w, wq *uint64, q uint64)

//go:noescape
func invHeadIFMA(p *uint64, blocks int, w, wq *uint64, q uint64)

//go:noescape
func invStageIFMA(p *uint64, groups, h int, w, wq *uint64, q uint64)

//go:noescape
func invScaleIFMA(p *uint64, vecs int, c, cq, q uint64)

// mulAddPairAsm runs mulAddPairRow with AVX-512 and reports whether it
// could.
func mulAddPairAsm(k, x0, x1, acc0, acc1 []uint64, q, qInv uint64) bool {
	n := len(k)
	if !useAVX512 || n%8 != 0 || n == 0 {
		return false
	}
	_, _, _, _ = x0[n-1], x1[n-1], acc0[n-1], acc1[n-1]
	mulAddPairAVX512(&k[0], &x0[0], &x1[0], &acc0[0], &acc1[0], len(k)/8, q, qInv)
	return true
}

// mulAddPair52Asm runs mulAddPair52Row with AVX-512 IFMA for q < 2^52
// and reports whether it could; qInv = q^-1 mod 2^52.
func mulAddPair52Asm(k, x0, x1, acc0, acc1 []uint64, q, qInv uint64) bool {
	n := len(k)
	if !useIFMA || q>>52 != 0 || n%8 != 0 || n == 0 {
		return false
	}
	_, _, _, _ = x0[n-1], x1[n-1], acc0[n-1], acc1[n-1]
	mulAddPairIFMA(&k[0], &x0[0], &x1[0], &acc0[0], &acc1[0], len(k)/8, q, qInv)
	return true
}

// reduceAsm runs reduceRow with AVX-512 and reports whether it could.
func reduceAsm(acc []uint64, q uint64) bool {
	if !useAVX512 || len(acc)%8 != 0 || len(acc) == 0 {
		return false
	}
	reduceAVX512(&acc[0], len(acc)/8, q)
	return true
}

// mulAddPairAVX512 adds Montgomery products k·x0 and k·x1 to acc0 and
// acc1 (8·vecs words each), keeping them in [0, 2q); qInv = q^-1 mod 2^64.
//
//go:noescape
func mulAddPairAVX512(k, x0, x1, acc0, acc1 *uint64, vecs int, q, qInv uint64)

// mulAddPairIFMA adds Montgomery products k·x0·2^-52 and k·x1·2^-52 to
// acc0 and acc1 (8·vecs words each, q < 2^52), keeping them in [0, 2q);
// qInv = q^-1 mod 2^52.
//
//go:noescape
func mulAddPairIFMA(k, x0, x1, acc0, acc1 *uint64, vecs int, q, qInv uint64)

// reduceAVX512 reduces 8·vecs words from [0, 2q) to [0, q).
//
//go:noescape
func reduceAVX512(p *uint64, vecs int, q uint64)
