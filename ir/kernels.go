package ir

import (
	"math"

	"veil/tensor"
)

// convFloat computes a 2-D grouped convolution (cross-correlation, as in
// every framework) of x in layout l with weights w [O, I/group, KH, KW],
// adding bias if non-nil. pads are [top, left, bottom, right].
func convFloat(x, w *Tensor, bias []float32, strides, pads []int, group int, l Layout, out Shape) *Tensor {
	if l == NHWC {
		xc := Transpose(x, []int{0, 3, 1, 2})
		oc := Shape{out[0], out[3], out[1], out[2]}
		r := convFloat(xc, w, bias, strides, pads, group, NCHW, oc)
		return Transpose(r, []int{0, 2, 3, 1})
	}
	w4 := w.Shape
	p := tensor.ConvParams{N: x.Shape[0], C: x.Shape[1], H: x.Shape[2], W: x.Shape[3], O: w4[0], KH: w4[2], KW: w4[3],
		SH: strides[0], SW: strides[1], PadT: pads[0], PadL: pads[1], PadB: pads[2], PadR: pads[3], Group: group}
	y := NewFloat(out)
	tensor.Conv2D(y.F, x.F, w.F, p)
	if bias != nil {
		plane := out[2] * out[3]
		for i := range y.F {
			y.F[i] += bias[(i/plane)%p.O]
		}
	}
	return y
}

// poolFloat computes max or average pooling of x as the node's attributes
// say. Padding never wins a max; average pooling divides by the window
// size when CountIncludePad, else by the number of real elements.
func poolFloat(x *Tensor, a Attrs, isMax bool, out Shape) *Tensor {
	if a.Layout == NHWC {
		xc := Transpose(x, []int{0, 3, 1, 2})
		b := a
		b.Layout = NCHW
		r := poolFloat(xc, b, isMax, Shape{out[0], out[3], out[1], out[2]})
		return Transpose(r, []int{0, 2, 3, 1})
	}
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	OH, OW := out[2], out[3]
	KH, KW := a.Kernel[0], a.Kernel[1]
	sh, sw, pt, pl := a.Strides[0], a.Strides[1], a.Pads[0], a.Pads[1]
	y := NewFloat(out)
	for nc := 0; nc < N*C; nc++ {
		in := x.F[nc*H*W : (nc+1)*H*W]
		dst := y.F[nc*OH*OW : (nc+1)*OH*OW]
		for oh := 0; oh < OH; oh++ {
			for ow := 0; ow < OW; ow++ {
				m := float32(math.Inf(-1))
				var s float32
				cnt := 0
				for kh := 0; kh < KH; kh++ {
					ih := oh*sh - pt + kh
					if ih < 0 || ih >= H {
						continue
					}
					for kw := 0; kw < KW; kw++ {
						iw := ow*sw - pl + kw
						if iw < 0 || iw >= W {
							continue
						}
						v := in[ih*W+iw]
						m = max(m, v)
						s += v
						cnt++
					}
				}
				switch {
				case isMax:
					dst[oh*OW+ow] = m
				case a.CountIncludePad:
					// Window positions inside the padded input.
					hs, ws := oh*sh-pt, ow*sw-pl
					he, we := min(hs+KH, H+a.Pads[2]), min(ws+KW, W+a.Pads[3])
					dst[oh*OW+ow] = s / float32((he-hs)*(we-ws))
				default:
					dst[oh*OW+ow] = s / float32(max(cnt, 1))
				}
			}
		}
	}
	return y
}

// matMulFloat multiplies a and b with numpy matmul semantics.
func matMulFloat(a, b *Tensor, out Shape) *Tensor {
	as, bs := a.Shape, b.Shape
	if len(as) == 1 {
		as = Shape{1, as[0]}
	}
	if len(bs) == 1 {
		bs = Shape{bs[0], 1}
	}
	M, K, N := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	batch, _ := BroadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	nb := batch.Size()
	// Flat batch index of each operand.
	ai := broadcastIndex(as[:len(as)-2], batch)
	bi := broadcastIndex(bs[:len(bs)-2], batch)
	y := make([]float32, nb*M*N)
	for p := 0; p < nb; p++ {
		A := a.F[ai[p]*M*K : (ai[p]+1)*M*K]
		B := b.F[bi[p]*K*N : (bi[p]+1)*K*N]
		tensor.MatMul(y[p*M*N:(p+1)*M*N], A, B, M, K, N)
	}
	return FloatTensor(out, y)
}
