// Package tensor holds veil's dense kernels over the ring Z_2^64: matrix
// products, convolution and pooling on uint64 values whose arithmetic
// wraps modulo 2^64. Every secure backend and the cleartext fixed-point
// executor call these same kernels, so a share of a linear layer is
// computed exactly as the layer itself.
//
// Values are two's-complement fixed-point numbers: a uint64 v stands for
// int64(v) / 2^s at scale s.
package tensor

// Number is an element type the linear kernels work on: uint64 for the
// ring Z_2^64 (arithmetic wraps), float32 for the float interpreter.
type Number interface{ ~uint64 | ~float32 | ~float64 }

// MatMul sets dst (m×n) to a (m×k) times b (k×n) (modulo 2^64 for uint64).
func MatMul[T Number](dst, a, b []T, m, k, n int) {
	if d, ok := any(dst).([]uint64); ok {
		matMulU64(d, any(a).([]uint64), any(b).([]uint64), m, k, n)
		return
	}
	dst = dst[:m*n]
	clear(dst)
	for i := 0; i < m; i++ {
		row := dst[i*n : (i+1)*n]
		for p := 0; p < k; p++ {
			av := a[i*k+p]
			if av == 0 {
				continue
			}
			br := b[p*n : (p+1)*n]
			for j := range row {
				row[j] += av * br[j]
			}
		}
	}
}

// ConvParams describes a 2-D grouped convolution of an N×C×H×W input
// (NCHW) with O filters of C/Group×KH×KW, strides SH, SW and zero padding
// PadT, PadL, PadB, PadR.
type ConvParams struct {
	N, C, H, W             int
	O, KH, KW              int
	SH, SW                 int
	PadT, PadL, PadB, PadR int
	Group                  int
}

// OutH is the output height.
func (p ConvParams) OutH() int { return (p.H+p.PadT+p.PadB-p.KH)/p.SH + 1 }

// OutW is the output width.
func (p ConvParams) OutW() int { return (p.W+p.PadL+p.PadR-p.KW)/p.SW + 1 }

// Conv2D sets dst (N×O×OH×OW) to the convolution (cross-correlation) of x
// with w as p describes (modulo 2^64 for uint64).
func Conv2D[T Number](dst, x, w []T, p ConvParams) {
	if d, ok := any(dst).([]uint64); ok && conv2DU64(d, any(x).([]uint64), any(w).([]uint64), p) {
		return
	}
	OH, OW := p.OutH(), p.OutW()
	dst = dst[:p.N*p.O*OH*OW]
	macs := p.N * p.O * OH * OW * (p.C / p.Group) * p.KH * p.KW
	if d, ok := any(dst).([]uint64); ok {
		xu, wu := any(x).([]uint64), any(w).([]uint64)
		parallelPlanes(p.N*p.O, macs, func(lo, hi int) { convPlanesU64(d, xu, wu, p, lo, hi) })
		return
	}
	parallelPlanes(p.N*p.O, macs, func(lo, hi int) { convPlanes(dst, x, w, p, lo, hi) })
}

// convPlanes computes the output planes lo ≤ n·O + o < hi of Conv2D
// directly.
func convPlanes[T Number](dst, x, w []T, p ConvParams, lo, hi int) {
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
					lo, hi := validRange(OW, p.W, kw, p.SW, p.PadL)
					for oh := 0; oh < OH; oh++ {
						ih := oh*p.SH - p.PadT + kh
						if ih < 0 || ih >= p.H {
							continue
						}
						row := in[ih*p.W:]
						out := plane[oh*OW:]
						for ow := lo; ow < hi; ow++ {
							out[ow] += wv * row[ow*p.SW-p.PadL+kw]
						}
					}
				}
			}
		}
	}
}

// validRange returns the output positions [lo, hi) whose input index
// o*s − p + k lies in [0, n).
func validRange(outN, n, k, s, p int) (int, int) {
	lo := 0
	if p-k > 0 {
		lo = (p - k + s - 1) / s
	}
	hi := outN
	if m := n - 1 + p - k; m < 0 {
		hi = 0
	} else if m/s+1 < hi {
		hi = m/s + 1
	}
	lo = min(lo, outN) // a window wholly in the leading padding
	return lo, max(lo, hi)
}

// PoolParams describes a 2-D pooling window over N·C planes of H×W.
type PoolParams struct {
	NC, H, W               int
	KH, KW, SH, SW         int
	PadT, PadL, PadB, PadR int
}

// OutH is the output height.
func (p PoolParams) OutH() int { return (p.H+p.PadT+p.PadB-p.KH)/p.SH + 1 }

// OutW is the output width.
func (p PoolParams) OutW() int { return (p.W+p.PadL+p.PadR-p.KW)/p.SW + 1 }

// Windows calls f for every output position with the flat input indices
// (within one plane) of the real (unpadded) elements of its window.
func (p PoolParams) Windows(f func(out int, idx []int)) {
	OH, OW := p.OutH(), p.OutW()
	idx := make([]int, 0, p.KH*p.KW)
	for oh := 0; oh < OH; oh++ {
		for ow := 0; ow < OW; ow++ {
			idx = idx[:0]
			for kh := 0; kh < p.KH; kh++ {
				ih := oh*p.SH - p.PadT + kh
				if ih < 0 || ih >= p.H {
					continue
				}
				for kw := 0; kw < p.KW; kw++ {
					iw := ow*p.SW - p.PadL + kw
					if iw >= 0 && iw < p.W {
						idx = append(idx, ih*p.W+iw)
					}
				}
			}
			f(oh*OW+ow, idx)
		}
	}
}

// MaxPool sets dst to the signed maximum over each window's real elements.
func MaxPool(dst, x []uint64, p PoolParams) {
	plane, oplane := p.H*p.W, p.OutH()*p.OutW()
	p.Windows(func(o int, idx []int) {
		for nc := 0; nc < p.NC; nc++ {
			in := x[nc*plane:]
			m := int64(in[idx[0]])
			for _, i := range idx[1:] {
				m = max(m, int64(in[i]))
			}
			dst[nc*oplane+o] = uint64(m)
		}
	})
}

// SumPool sets dst to the sum over each window's real elements.
func SumPool(dst, x []uint64, p PoolParams) {
	plane, oplane := p.H*p.W, p.OutH()*p.OutW()
	p.Windows(func(o int, idx []int) {
		for nc := 0; nc < p.NC; nc++ {
			in := x[nc*plane:]
			var s uint64
			for _, i := range idx {
				s += in[i]
			}
			dst[nc*oplane+o] = s
		}
	})
}

// ScaleDown divides every signed value by 2^shift, rounding toward −∞
// (an arithmetic shift): the cleartext semantics of truncation.
func ScaleDown(dst, x []uint64, shift int) {
	for i, v := range x {
		dst[i] = uint64(int64(v) >> shift)
	}
}

// Relu sets dst[i] = max(x[i], 0) on signed values.
func Relu(dst, x []uint64) {
	for i, v := range x {
		if int64(v) < 0 {
			v = 0
		}
		dst[i] = v
	}
}
