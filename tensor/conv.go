package tensor

import (
	"sync"

	"veil/internal/parallel"
)

// Convolutions over Z_2^64 with enough filters per group run as matrix
// products: the image is unrolled (im2col) into a K×M matrix, K =
// C/Group·KH·KW, M = N·OH·OW, and each group's filters, already an
// og×K row-major matrix, multiply it with the blocked kernel. Depthwise
// and other thin convolutions stay direct, split over the cores by output
// plane.

var (
	// convMinFilters is the least number of filters per group for which
	// Conv2D on uint64 goes through im2col and MatMul.
	convMinFilters = 4
	// convMinMACs is the least convolution size worth that detour.
	convMinMACs = 1 << 14
)

type convBufs struct{ cols, prod []uint64 }

var convPool = sync.Pool{New: func() any { return new(convBufs) }}

// conv2DU64 computes Conv2D through im2col and matMulU64 when that pays,
// and reports whether it did.
func conv2DU64(dst, x, w []uint64, p ConvParams) bool {
	OH, OW := p.OutH(), p.OutW()
	cg, og := p.C/p.Group, p.O/p.Group
	K, M := cg*p.KH*p.KW, p.N*OH*OW
	if og < convMinFilters || og*K*M*p.Group < convMinMACs {
		return false
	}
	dst = dst[:p.N*p.O*OH*OW]
	x, w = x[:p.N*p.C*p.H*p.W], w[:p.O*K]
	// A 1×1, stride 1, unpadded filter over one image needs no unrolling.
	pointwise := p.N == 1 && p.KH == 1 && p.KW == 1 && p.SH == 1 && p.SW == 1 &&
		p.PadT == 0 && p.PadL == 0 && p.PadB == 0 && p.PadR == 0
	var cols, prod []uint64
	bufs := convPool.Get().(*convBufs)
	defer convPool.Put(bufs)
	if !pointwise {
		bufs.cols = grow(bufs.cols, K*M)
		cols = bufs.cols
	}
	if p.N > 1 {
		bufs.prod = grow(bufs.prod, og*M)
		prod = bufs.prod
	}
	for g := 0; g < p.Group; g++ {
		wg := w[g*og*K : (g+1)*og*K]
		if pointwise {
			cols = x[g*cg*p.H*p.W : (g+1)*cg*p.H*p.W]
		} else {
			im2colGroup(cols, x, p, g)
		}
		if p.N == 1 {
			matMulU64(dst[g*og*M:(g+1)*og*M], wg, cols, og, K, M)
			continue
		}
		matMulU64(prod, wg, cols, og, K, M)
		plane := OH * OW
		for o := 0; o < og; o++ {
			for n := 0; n < p.N; n++ {
				copy(dst[(n*p.O+g*og+o)*plane:][:plane], prod[o*M+n*plane:][:plane])
			}
		}
	}
	return true
}

// im2colGroup writes group g's unrolled image into dst: K = C/Group·KH·KW
// rows (row (ci·KH + kh)·KW + kw, the filter's own order) of M = N·OH·OW
// columns (column (n·OH + oh)·OW + ow); padding positions are 0.
func im2colGroup(dst, x []uint64, p ConvParams, g int) {
	OH, OW := p.OutH(), p.OutW()
	cg := p.C / p.Group
	M := p.N * OH * OW
	for ci := 0; ci < cg; ci++ {
		c := g*cg + ci
		for kh := 0; kh < p.KH; kh++ {
			for kw := 0; kw < p.KW; kw++ {
				row := dst[((ci*p.KH+kh)*p.KW+kw)*M:][:M]
				lo, hi := validRange(OW, p.W, kw, p.SW, p.PadL)
				for n := 0; n < p.N; n++ {
					plane := x[(n*p.C+c)*p.H*p.W:][:p.H*p.W]
					for oh := 0; oh < OH; oh++ {
						out := row[(n*OH+oh)*OW:][:OW]
						ih := oh*p.SH - p.PadT + kh
						if ih < 0 || ih >= p.H {
							clear(out)
							continue
						}
						clear(out[:lo])
						clear(out[hi:])
						in := plane[ih*p.W:][:p.W]
						if lo == hi { // the window lies wholly in the padding
							continue
						}
						if p.SW == 1 {
							copy(out[lo:hi], in[lo-p.PadL+kw:])
							continue
						}
						for ow := lo; ow < hi; ow++ {
							out[ow] = in[ow*p.SW-p.PadL+kw]
						}
					}
				}
			}
		}
	}
}

// parallelPlanes runs f over [0, planes) split into runtime.GOMAXPROCS
// contiguous ranges when the work (macs in all) is big enough.
func parallelPlanes(planes, macs int, f func(lo, hi int)) {
	if macs < parallelMACs {
		f(0, planes)
		return
	}
	parallel.Ranges(planes, 1, f)
}

// convPlanesU64 is convPlanes for uint64, unit column strides going
// through axpyU64.
func convPlanesU64(dst, x, w []uint64, p ConvParams, lo, hi int) {
	if p.SW != 1 {
		convPlanes(dst, x, w, p, lo, hi)
		return
	}
	OH, OW := p.OutH(), p.OutW()
	cg, og := p.C/p.Group, p.O/p.Group
	for no := lo; no < hi; no++ {
		n, o := no/p.O, no%p.O
		plane := dst[no*OH*OW : (no+1)*OH*OW]
		clear(plane)
		g := o / og
		for ci := 0; ci < cg; ci++ {
			c := g*cg + ci
			in := x[(n*p.C+c)*p.H*p.W : (n*p.C+c+1)*p.H*p.W]
			for kh := 0; kh < p.KH; kh++ {
				for kw := 0; kw < p.KW; kw++ {
					wv := w[((o*cg+ci)*p.KH+kh)*p.KW+kw]
					if wv == 0 {
						continue
					}
					l, h := validRange(OW, p.W, kw, 1, p.PadL)
					if l >= h {
						continue
					}
					for oh := 0; oh < OH; oh++ {
						ih := oh*p.SH - p.PadT + kh
						if ih < 0 || ih >= p.H {
							continue
						}
						axpyU64(plane[oh*OW+l:oh*OW+h], in[ih*p.W+l-p.PadL+kw:], wv)
					}
				}
			}
		}
	}
}
