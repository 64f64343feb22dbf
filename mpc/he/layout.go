package he

import (
	"fmt"
	"math"

	"veil/tensor"
)

// convLayout is how one convolution of stride 1 is packed into
// polynomials (the package documentation's # Encoding). Both parties
// derive it from the public layer shape, deterministically.
//
// Each image is cut into th×tw tiles of kh×kw outputs, a tile reading
// hw×ww inputs (P = hw·ww). An input polynomial holds, for one image and
// tile, gw groups (a group block) of cw channels each (a channel block):
// pixel (r, q) of channel lc of group gi at coefficient
//
//	gi·D + lc·P + r·ww + q.
//
// A kernel polynomial holds, for the same blocks, ocw output channels
// of each group: tap (a, b) of channel lc of output channel oi of group
// gk at
//
//	(gk + gw·oi)·gw·D + O − lc·P − a·ww − b,  O = (cw−1)·P + (KH−1)·ww + KW − 1.
//
// The product of input group gi with kernel group gk and output channel
// oi lies in [s·D, s·D + O + cw·P) for slot s = gi + gw·gk + gw²·oi, and
// (Cheetah's argument) its coefficient s·D + O + i·ww + j, for an output
// (i, j) of the tile, receives exactly the taps of that output summed
// over the cw channels. With D = O + P, slot s's outputs end where slot
// s+1's product begins and slot s's product ends before slot s+1's
// outputs; the last slot's product wraps around X^N = −1 into
// [0, (S−1)·D + cw·P − N), which stays below slot 0's outputs as long
// as (S−1)·D + cw·P ≤ N for S = gw²·ocw slots. The diagonal slots
// gi = gk carry the outputs; the others, and every other coefficient,
// hold partial sums that the response drops.
type convLayout struct {
	cp             tensor.ConvParams
	oh, ow         int // output size
	cg, og         int // input and output channels per group
	kh, kw         int // outputs per tile
	th, tw         int // tiles per image
	hw, ww         int // tile size: polynomial rows and columns
	cw, gw, ocw    int // channels per block, groups per polynomial, output channels per kernel polynomial
	nb, ngb, nob   int // channel blocks per group, group blocks, output-channel blocks
	slot, off, dim int // slot distance D, the first output's offset O in a slot, ring degree N
	level          int // the queries' level: moduli q_0 … q_level
}

// maxElems bounds every tensor a layer describes.
const maxElems = 1 << 31

// checkConv validates a convolution's geometry.
func checkConv(p tensor.ConvParams) error {
	for _, v := range []int{p.N, p.C, p.H, p.W, p.O, p.KH, p.KW, p.SH, p.SW, p.Group} {
		if v < 1 || v > maxElems {
			return fmt.Errorf("he: convolution %+v: sizes, strides and groups must be positive", p)
		}
	}
	for _, v := range []int{p.PadT, p.PadL, p.PadB, p.PadR} {
		if v < 0 || v > maxElems {
			return fmt.Errorf("he: convolution %+v: negative padding", p)
		}
	}
	if p.C%p.Group != 0 || p.O%p.Group != 0 {
		return fmt.Errorf("he: convolution %+v: channels not divisible by the groups", p)
	}
	if p.H+p.PadT+p.PadB < p.KH || p.W+p.PadL+p.PadR < p.KW {
		return fmt.Errorf("he: convolution %+v: kernel larger than the padded input", p)
	}
	for _, n := range []float64{
		float64(p.N) * float64(p.C) * float64(p.H) * float64(p.W),
		float64(p.O) * float64(p.C/p.Group) * float64(p.KH) * float64(p.KW),
		float64(p.N) * float64(p.O) * float64(p.OutH()) * float64(p.OutW()),
	} {
		if n > maxElems {
			return fmt.Errorf("he: convolution %+v: more than 2^31 elements", p)
		}
	}
	return nil
}

// newConvLayout chooses the packing of cp, a valid convolution of
// stride 1 with weights of at most wbits bits, that costs least (see
// cost) among those whose noise the flood hides, at any query level.
func newConvLayout(params *Params, cp tensor.ConvParams, wbits int) (*convLayout, error) {
	if err := checkConv(cp); err != nil {
		return nil, err
	}
	if cp.SH != 1 || cp.SW != 1 {
		return nil, fmt.Errorf("he: convolution %+v: the packing takes stride 1", cp)
	}
	var best *convLayout
	bestCost := math.Inf(1)
	for level := params.resp.level + 1; level <= params.top.level; level++ {
		maxNNZ := params.maxNNZ(&params.levels[level], wbits)
		convLayouts(cp, params.n, maxNNZ, func(l *convLayout) {
			l.level = level
			if c := l.cost(params); c < bestCost {
				best, bestCost = l, c
			}
		})
	}
	if best == nil {
		if cp.KH*cp.KW > params.n {
			return nil, fmt.Errorf("he: convolution %+v: a %d×%d kernel does not fit a polynomial of %d coefficients", cp, cp.KH, cp.KW, params.n)
		}
		return nil, fmt.Errorf("he: convolution %+v: no packing keeps the noise of %d-bit weights within the flood (at most %d weights per output)", cp, wbits, params.maxNNZ(params.top, wbits))
	}
	return best, nil
}

// convLayouts calls f with every packing of cp into polynomials of dim
// coefficients that accumulates at most maxNNZ weights per output: each
// tiling with nearly equal tiles, each number of groups and of channels
// per polynomial, with as many output channels per kernel as fit.
func convLayouts(cp tensor.ConvParams, dim, maxNNZ int, f func(*convLayout)) {
	base := convLayout{
		cp: cp, oh: cp.OutH(), ow: cp.OutW(),
		cg: cp.C / cp.Group, og: cp.O / cp.Group,
		dim: dim,
	}
	cws := chunkSizes(base.cg)
	for _, kh := range chunkSizes(base.oh) {
		for _, kw := range chunkSizes(base.ow) {
			l := base
			l.kh, l.kw = kh, kw
			l.th, l.tw = ceilDiv(l.oh, kh), ceilDiv(l.ow, kw)
			l.hw, l.ww = kh-1+cp.KH, kw-1+cp.KW
			plane := l.hw * l.ww
			if plane > dim {
				continue
			}
			for gw := 1; gw <= cp.Group && gw*gw*plane <= dim; gw++ {
				for _, cw := range cws {
					if c, ok := l.with(gw, cw, maxNNZ); ok {
						f(c)
					}
				}
			}
		}
	}
}

// with completes l for gw groups and cw channels per polynomial with as
// many output channels per kernel polynomial as fit, or reports that
// none fits.
func (l convLayout) with(gw, cw, maxNNZ int) (*convLayout, bool) {
	plane := l.hw * l.ww
	if cw*plane > l.dim {
		return nil, false
	}
	l.gw, l.cw = gw, cw
	l.off = (cw-1)*plane + (l.cp.KH-1)*l.ww + l.cp.KW - 1
	l.slot = l.off + plane
	// Slots s < S need (S−1)·D + cw·plane ≤ N: then the products of the
	// last slot that wrap around (negated) land before slot 0's outputs.
	slots := (l.dim-cw*plane)/l.slot + 1
	maxOcw := slots / (gw * gw)
	l.nb = ceilDiv(l.cg, cw)
	perOut := gw * l.nb * cw * l.cp.KH * l.cp.KW
	if perOut > maxNNZ {
		return nil, false
	}
	maxOcw = min(maxOcw, maxNNZ/perOut, l.og)
	if maxOcw < 1 {
		return nil, false
	}
	l.nob = ceilDiv(l.og, maxOcw)
	l.ocw = ceilDiv(l.og, l.nob)
	l.ngb = ceilDiv(l.cp.Group, gw)
	return &l, true
}

// chunkSizes returns the distinct sizes ⌈n/k⌉, k = 1…n, largest first:
// the ways to cut n items into nearly equal chunks (O(√n) of them).
func chunkSizes(n int) []int {
	var s []int
	for k := 1; ; {
		c := ceilDiv(n, k)
		s = append(s, c)
		if c == 1 {
			return s
		}
		k = ceilDiv(n, c-1) // the first k with a smaller chunk
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Counts.
func (l *convLayout) tiles() int     { return l.th * l.tw }
func (l *convLayout) numInputs() int { return l.cp.N * l.tiles() * l.ngb * l.nb }
func (l *convLayout) numOutputs() int {
	return l.cp.N * l.tiles() * l.ngb * l.nob
}

// nnz bounds the nonzero weight coefficients accumulated into one output
// ciphertext.
func (l *convLayout) nnz() int { return l.gw * l.ocw * l.nb * l.cw * l.cp.KH * l.cp.KW }

// cost estimates the bytes and the work of the packing at its level:
// the query and the responses' c₁ (the outputs' c₀ coefficients are the
// same for every packing), the server's kernel transforms and products.
func (l *convLayout) cost(p *Params) float64 {
	nIn, nOut := float64(l.numInputs()), float64(l.numOutputs())
	bytes := nIn*float64(p.freshBytes(l.level)) + nOut*float64(p.respPolyBytes())
	L, n := float64(l.level+1), float64(p.n)
	ntt := L * n * float64(p.lit.LogN) / 2
	kernels := float64(l.ngb * l.nb * l.nob)
	ops := kernels*ntt + nIn*float64(l.nob)*2*L*n + nIn*ntt + nOut*(3*ntt+2*L*n)
	return bytes + p.bytesPerOp*ops
}

// split returns the image, tile row and column, group block and last
// index of a polynomial index whose innermost dimension has size inner.
func (l *convLayout) split(k, inner int) (n, ti, tj, gb, last int) {
	last, k = k%inner, k/inner
	gb, k = k%l.ngb, k/l.ngb
	tile := k % l.tiles()
	n = k / l.tiles()
	return n, tile / l.tw, tile % l.tw, gb, last
}

// packInput writes input polynomial k's coefficients (values of x, NCHW)
// into dst, which must be zero.
func (l *convLayout) packInput(x []uint64, k int, dst []uint64) {
	cp := l.cp
	n, ti, tj, gb, cb := l.split(k, l.nb)
	plane := l.hw * l.ww
	for gi := 0; gi < l.gw; gi++ {
		g := gb*l.gw + gi
		if g >= cp.Group {
			break
		}
		for lc := 0; lc < l.cw; lc++ {
			c := cb*l.cw + lc
			if c >= l.cg {
				break
			}
			src := x[((n*cp.C+g*l.cg+c)*cp.H)*cp.W:]
			out := dst[gi*l.slot+lc*plane:]
			for r := 0; r < l.hw; r++ {
				row := ti*l.kh + r - cp.PadT
				if row < 0 || row >= cp.H {
					continue
				}
				for q := 0; q < l.ww; q++ {
					col := tj*l.kw + q - cp.PadL
					if col >= 0 && col < cp.W {
						out[r*l.ww+q] = src[row*cp.W+col]
					}
				}
			}
		}
	}
}

// kernel calls set for every coefficient of the kernel polynomial of
// group block gb, channel block cb and output-channel block ob with the
// weight (of w, O×C/G×KH×KW) it holds.
func (l *convLayout) kernel(w []uint64, gb, cb, ob int, set func(coef int, w uint64)) {
	cp := l.cp
	plane := l.hw * l.ww
	for gi := 0; gi < l.gw; gi++ {
		g := gb*l.gw + gi
		if g >= cp.Group {
			break
		}
		for oi := 0; oi < l.ocw; oi++ {
			j := ob*l.ocw + oi
			if j >= l.og {
				break
			}
			o := g*l.og + j
			base := (gi+l.gw*oi)*l.gw*l.slot + l.off
			for lc := 0; lc < l.cw; lc++ {
				c := cb*l.cw + lc
				if c >= l.cg {
					break
				}
				f := w[(o*l.cg+c)*cp.KH*cp.KW:]
				for a := 0; a < cp.KH; a++ {
					for b := 0; b < cp.KW; b++ {
						set(base-lc*plane-a*l.ww-b, f[a*cp.KW+b])
					}
				}
			}
		}
	}
}

// targets calls f, in wire order, for every output that output
// ciphertext k carries: its coefficient and its index in the N×O×OH×OW
// output.
func (l *convLayout) targets(k int, f func(coef, idx int)) {
	cp := l.cp
	n, ti, tj, gb, ob := l.split(k, l.nob)
	for gi := 0; gi < l.gw; gi++ {
		g := gb*l.gw + gi
		if g >= cp.Group {
			break
		}
		for oi := 0; oi < l.ocw; oi++ {
			j := ob*l.ocw + oi
			if j >= l.og {
				break
			}
			base := (gi*(1+l.gw)+l.gw*l.gw*oi)*l.slot + l.off
			plane := (n*cp.O + g*l.og + j) * l.oh
			for a := 0; a < l.kh && ti*l.kh+a < l.oh; a++ {
				oh := ti*l.kh + a
				for b := 0; b < l.kw && tj*l.kw+b < l.ow; b++ {
					f(base+a*l.ww+b, (plane+oh)*l.ow+tj*l.kw+b)
				}
			}
		}
	}
}

// numTargets returns the number of outputs output ciphertext k carries.
func (l *convLayout) numTargets(k int) int {
	cp := l.cp
	_, ti, tj, gb, ob := l.split(k, l.nob)
	groups := min(l.gw, cp.Group-gb*l.gw)
	chans := min(l.ocw, l.og-ob*l.ocw)
	return groups * chans * min(l.kh, l.oh-ti*l.kh) * min(l.kw, l.ow-tj*l.kw)
}
