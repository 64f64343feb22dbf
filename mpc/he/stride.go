package he

import "veil/tensor"

// Strided convolutions are computed by polyphase decomposition: with
// stride s and kernel K along a dimension, write each kernel offset as
// k = s·u + a with phase a < min(s, K); then
//
//	y[o] = Σ_k w[k]·x[s·o + k] = Σ_a Σ_u w[s·u + a]·x_a[o + u],  x_a[i] = x[s·i + a],
//
// a stride-1 convolution of the phase images x_a (as extra input
// channels) with kernels of ⌈K/s⌉ taps. Every coefficient of an output
// polynomial is then an output (no decimation), and the input rows and
// columns that no window reads (s > K) are never sent. The phase images
// take the zero padding in, so the inner convolution has none.

// polyphase is a convolution and the stride-1 one it is computed as.
type polyphase struct {
	outer, inner tensor.ConvParams
	ph, pw       int // phases per input channel along H and W
}

// newPolyphase returns the decomposition of cp; a convolution of stride
// 1 is its own.
func newPolyphase(cp tensor.ConvParams) polyphase {
	if cp.SH == 1 && cp.SW == 1 {
		return polyphase{outer: cp, inner: cp, ph: 1, pw: 1}
	}
	ph, pw := min(cp.SH, cp.KH), min(cp.SW, cp.KW)
	kh, kw := ceilDiv(cp.KH, cp.SH), ceilDiv(cp.KW, cp.SW)
	return polyphase{outer: cp, ph: ph, pw: pw, inner: tensor.ConvParams{
		N: cp.N, C: cp.C * ph * pw, H: cp.OutH() - 1 + kh, W: cp.OutW() - 1 + kw,
		O: cp.O, KH: kh, KW: kw, SH: 1, SW: 1, Group: cp.Group,
	}}
}

func (d *polyphase) identity() bool { return d.outer == d.inner }

// input returns the phase images of x (N×C×H×W): channel c's phase
// (a, b) is inner channel c·ph·pw + a·pw + b.
func (d *polyphase) input(x []uint64) []uint64 {
	if d.identity() {
		return x
	}
	o, in := d.outer, d.inner
	y := make([]uint64, in.N*in.C*in.H*in.W)
	for n := 0; n < o.N; n++ {
		for c := 0; c < o.C; c++ {
			src := x[(n*o.C+c)*o.H*o.W:]
			for a := 0; a < d.ph; a++ {
				for b := 0; b < d.pw; b++ {
					dst := y[((n*in.C+(c*d.ph+a)*d.pw+b)*in.H)*in.W:]
					for i := 0; i < in.H; i++ {
						r := o.SH*i + a - o.PadT
						if r < 0 || r >= o.H {
							continue
						}
						for j := 0; j < in.W; j++ {
							if q := o.SW*j + b - o.PadL; q >= 0 && q < o.W {
								dst[i*in.W+j] = src[r*o.W+q]
							}
						}
					}
				}
			}
		}
	}
	return y
}

// weights returns the phase kernels of w (O×C/G×KH×KW), zero where a
// phase has fewer taps.
func (d *polyphase) weights(w []uint64) []uint64 {
	if d.identity() {
		return w
	}
	o, in := d.outer, d.inner
	cg := o.C / o.Group
	v := make([]uint64, in.O*in.C/in.Group*in.KH*in.KW)
	for f := 0; f < o.O; f++ {
		for c := 0; c < cg; c++ {
			src := w[(f*cg+c)*o.KH*o.KW:]
			for a := 0; a < d.ph; a++ {
				for b := 0; b < d.pw; b++ {
					dst := v[((f*cg+c)*d.ph*d.pw+a*d.pw+b)*in.KH*in.KW:]
					for u := 0; u < in.KH; u++ {
						for t := 0; t < in.KW; t++ {
							if kh, kw := o.SH*u+a, o.SW*t+b; kh < o.KH && kw < o.KW {
								dst[u*in.KW+t] = src[kh*o.KW+kw]
							}
						}
					}
				}
			}
		}
	}
	return v
}
