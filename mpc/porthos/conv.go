package porthos

import (
	"fmt"

	"veil/mpc"
	"veil/tensor"
)

// Conv convolves the shared NCHW image x with the shared filter w
// (O × C/Group × KH × KW) as p describes, and returns shares of the NCHW
// output (no bias, no truncation).
//
// Convolution is bilinear, so this is the Beaver protocol with Φ = Conv
// (see beaver) in one of two forms, whichever sends less:
//
//   - Porthos Algorithm 1: the masks have the shapes of the image and the
//     filter, E and F are opened at those shapes, and each party applies
//     the convolution to them locally. Cost (2|x| + 2|w| + |out|)ℓ bits,
//     i.e. (2m²i + 2f²oi + q²o)ℓ for one square image.
//   - SecureNN's masking of the im2col matrix I(x): every party forms
//     I(x_j) locally and the Beaver product is taken with Φ' = R(w)·I,
//     so the opened mask has the shape of I(x). Cost
//     (2|I(x)| + 2|w| + |out|)ℓ bits, i.e. (2q²f²i + 2f²oi + q²o)ℓ.
//
// Algorithm 1 wins unless the filter windows cover fewer image positions
// than the image has (|I(x)| < |x|, e.g. a 1×1 filter with stride 2).
// Either way: 1 round. Security: that of the Beaver protocol; both forms
// open only masked values.
func (e *Engine) Conv(x, w []uint64, p tensor.ConvParams) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if err := checkConv(p); err != nil {
		return nil, e.fail("Conv", err)
	}
	nx, nw, nz := p.N*p.C*p.H*p.W, p.O*(p.C/p.Group)*p.KH*p.KW, p.N*p.O*p.OutH()*p.OutW()
	defer e.begin("Conv", nz)()
	var z []uint64
	var err error
	if ncols := im2colSize(p); ncols < nx {
		var cols []uint64
		if e.me != mpc.P2 {
			if len(x) != nx {
				return nil, e.fail("Conv", fmt.Errorf("image of %d elements, want %d", len(x), nx))
			}
			cols = make([]uint64, ncols)
			im2col(cols, x, p)
		}
		z, err = e.beaver("conv.cols", ncols, nw, nz, cols, w, func(dst, c, f []uint64) { colConv(dst, c, f, p) })
	} else {
		z, err = e.beaver("conv", nx, nw, nz, x, w, func(dst, a, b []uint64) { tensor.Conv2D(dst, a, b, p) })
	}
	if err != nil {
		return nil, e.fail("Conv", err)
	}
	return z, nil
}

// ConvCost is the number of ring elements Conv sends for p, and whether
// it masks the im2col matrix rather than the image.
func ConvCost(p tensor.ConvParams) (elems int, im2col bool) {
	nx, nw, nz := p.N*p.C*p.H*p.W, p.O*(p.C/p.Group)*p.KH*p.KW, p.N*p.O*p.OutH()*p.OutW()
	if nc := im2colSize(p); nc < nx {
		return 2*nc + 2*nw + nz, true
	}
	return 2*nx + 2*nw + nz, false
}

func checkConv(p tensor.ConvParams) error {
	if p.N < 1 || p.C < 1 || p.H < 1 || p.W < 1 || p.O < 1 || p.KH < 1 || p.KW < 1 || p.SH < 1 || p.SW < 1 ||
		p.Group < 1 || p.C%p.Group != 0 || p.O%p.Group != 0 || p.OutH() < 1 || p.OutW() < 1 {
		return fmt.Errorf("bad convolution %+v", p)
	}
	return nil
}

// im2colSize is |I(x)|: for every group, (C/G·KH·KW) rows of N·OH·OW
// columns.
func im2colSize(p tensor.ConvParams) int {
	return p.C * p.KH * p.KW * p.N * p.OutH() * p.OutW()
}

// im2col writes I(x) as Group matrices of K = C/G·KH·KW rows (row
// ρ = (c·KH + kh)·KW + kw, the filter's own order) and M = N·OH·OW
// columns (κ = (n·OH + oh)·OW + ow); positions in the padding are 0.
func im2col(dst, x []uint64, p tensor.ConvParams) {
	OH, OW := p.OutH(), p.OutW()
	cg := p.C / p.Group
	M := p.N * OH * OW
	for g := 0; g < p.Group; g++ {
		for ci := 0; ci < cg; ci++ {
			c := g*cg + ci
			for kh := 0; kh < p.KH; kh++ {
				for kw := 0; kw < p.KW; kw++ {
					row := dst[((g*cg+ci)*p.KH*p.KW+kh*p.KW+kw)*M:][:M]
					for n := 0; n < p.N; n++ {
						plane := x[(n*p.C+c)*p.H*p.W:]
						for oh := 0; oh < OH; oh++ {
							ih := oh*p.SH - p.PadT + kh
							out := row[(n*OH+oh)*OW:][:OW]
							if ih < 0 || ih >= p.H {
								clear(out)
								continue
							}
							for ow := range out {
								iw := ow*p.SW - p.PadL + kw
								if iw < 0 || iw >= p.W {
									out[ow] = 0
								} else {
									out[ow] = plane[ih*p.W+iw]
								}
							}
						}
					}
				}
			}
		}
	}
}

// colConv sets dst (NCHW output) to R(w)·I for im2col matrices cols.
func colConv(dst, cols, w []uint64, p tensor.ConvParams) {
	OH, OW := p.OutH(), p.OutW()
	cg, og := p.C/p.Group, p.O/p.Group
	K, M := cg*p.KH*p.KW, p.N*OH*OW
	prod := make([]uint64, og*M)
	for g := 0; g < p.Group; g++ {
		tensor.MatMul(prod, w[g*og*K:(g+1)*og*K], cols[g*K*M:(g+1)*K*M], og, K, M)
		for o := 0; o < og; o++ {
			for n := 0; n < p.N; n++ {
				copy(dst[(n*p.O+g*og+o)*OH*OW:][:OH*OW], prod[o*M+n*OH*OW:][:OH*OW])
			}
		}
	}
}
