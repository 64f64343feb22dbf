package slalom

import (
	"sync"

	"veil/tensor"
)

// The linear kernels over Z_P. Operands are residues in [0, P); every dot
// product has at most lazyTerms = 2^16 products (the compiler checks the
// layer depth), so tensor's uint64 kernels accumulate exactly and one
// reduction per output suffices.

// Forward computes f(x) (+ b when bias) mod P for residues x. It is the
// device's kernel, and T's when T computes a layer itself (the baseline,
// and U = f(R) offline).
func Forward(l *Layer, x []uint64, bias bool) []uint64 {
	y := make([]uint64, l.OutLen())
	switch l.Kind {
	case Dense:
		tensor.MatMul(y, x, l.W, 1, l.N, l.M)
	case Separable:
		dw, pw := l.parts()
		d := Forward(dw, x, false)
		tensor.Conv2D(y, d, pw.W, pw.Conv)
	default:
		tensor.Conv2D(y, x, l.W, l.Conv)
	}
	plane := len(y) / l.Channels()
	for i := range y {
		v := y[i]
		if bias {
			v = v%P + l.B[i/plane]
		}
		y[i] = v % P
	}
	return y
}

type layerCache struct {
	sepOnce        sync.Once
	dwPart, pwPart *Layer
	tOnce          sync.Once
	wT             []uint64 // [C·KH·KW, O]: the transposed weights of a Conv
}

// Transpose computes f^T(s) mod P (no bias): the adjoint of the layer, so
// that ⟨f(x), s⟩ = ⟨x, f^T(s)⟩ for every x. It costs as much as the layer.
func Transpose(l *Layer, s []uint64) []uint64 {
	switch l.Kind {
	case Dense:
		// s̃ = W·s: n×m times m×1.
		out := make([]uint64, l.N)
		tensor.MatMul(out, l.W, s, l.N, l.M, 1)
		for i := range out {
			out[i] %= P
		}
		return out
	case Conv:
		return convTranspose(l, s)
	case Separable:
		dw, pw := l.parts()
		return depthwiseTranspose(dw, convTranspose(pw, s))
	default:
		return depthwiseTranspose(l, s)
	}
}

func (l *Layer) transposedWeights() []uint64 {
	l.tOnce.Do(func() {
		c := l.Conv
		k := c.C * c.KH * c.KW
		l.wT = make([]uint64, k*c.O)
		for o := 0; o < c.O; o++ {
			for j := 0; j < k; j++ {
				l.wT[j*c.O+o] = l.W[o*k+j]
			}
		}
	})
	return l.wT
}

// convTranspose: cols = W^T·S ([C·KH·KW, P] = [C·KH·KW, O]·[O, OH·OW]),
// then col2im adds every column entry to the input position it came from.
// Done in bands of output rows to bound memory.
func convTranspose(l *Layer, s []uint64) []uint64 {
	c := l.Conv
	oh, ow := c.OutH(), c.OutW()
	k := c.C * c.KH * c.KW
	wT := l.transposedWeights()
	out := make([]uint64, c.C*c.H*c.W)
	band := max(1, (1<<22)/(k*ow)) // output rows per band (≈32 MiB of columns)
	cols := make([]uint64, k*min(band, oh)*ow)
	sb := make([]uint64, c.O*min(band, oh)*ow)
	for r0 := 0; r0 < oh; r0 += band {
		r1 := min(oh, r0+band)
		np := (r1 - r0) * ow
		for o := 0; o < c.O; o++ {
			copy(sb[o*np:(o+1)*np], s[o*oh*ow+r0*ow:o*oh*ow+r1*ow])
		}
		tensor.MatMul(cols[:k*np], wT, sb[:c.O*np], k, c.O, np)
		for i := range cols[:k*np] {
			cols[i] %= P
		}
		for ci := 0; ci < c.C; ci++ {
			for kh := 0; kh < c.KH; kh++ {
				for kw := 0; kw < c.KW; kw++ {
					row := cols[((ci*c.KH+kh)*c.KW+kw)*np:][:np]
					for y := r0; y < r1; y++ {
						ih := y*c.SH - c.PadT + kh
						if ih < 0 || ih >= c.H {
							continue
						}
						dst := out[(ci*c.H+ih)*c.W:][:c.W]
						src := row[(y-r0)*ow:][:ow]
						for x := 0; x < ow; x++ {
							iw := x*c.SW - c.PadL + kw
							if iw >= 0 && iw < c.W {
								dst[iw] += src[x] // < 2^24 each, at most C·KH·KW ≤ 2^16 terms

							}
						}
					}
				}
			}
		}
	}
	for i := range out {
		out[i] %= P
	}
	return out
}

// depthwiseTranspose is the adjoint of a depthwise convolution (channel
// multiplier m = O/C): every output value scatters into its window.
func depthwiseTranspose(l *Layer, s []uint64) []uint64 {
	c := l.Conv
	oh, ow := c.OutH(), c.OutW()
	mult := c.O / c.C
	acc := make([]uint64, c.C*c.H*c.W)
	for o := 0; o < c.O; o++ {
		ci := o / mult
		w := l.W[o*c.KH*c.KW:][:c.KH*c.KW]
		dst := acc[ci*c.H*c.W:][:c.H*c.W]
		so := s[o*oh*ow:][:oh*ow]
		for kh := 0; kh < c.KH; kh++ {
			for kw := 0; kw < c.KW; kw++ {
				wv := w[kh*c.KW+kw]
				for y := 0; y < oh; y++ {
					ih := y*c.SH - c.PadT + kh
					if ih < 0 || ih >= c.H {
						continue
					}
					row := dst[ih*c.W:][:c.W]
					sr := so[y*ow:][:ow]
					for x := 0; x < ow; x++ {
						iw := x*c.SW - c.PadL + kw
						if iw >= 0 && iw < c.W {
							row[iw] += wv * sr[x] // ≤ mult·KH·KW products per entry
						}
					}
				}
			}
		}
		if (o+1)%mult == 0 {
			for i := range dst {
				dst[i] %= P
			}
		}
	}
	return acc
}
