package he

import (
	"fmt"

	"veil/tensor"
)

// Conv is a 2-D convolution layer (cross-correlation, NCHW, as
// [tensor.Conv2D] computes it): grouped, depthwise, strided, with
// asymmetric zero padding, any kernel size that fits a polynomial. An
// NHWC layer is run by transposing its input to NCHW and its output back
// (fixed.ToNCHW, fixed.FromNCHW); a bias is added by the server to its
// share of the output.
type Conv struct {
	layerBase
	cp tensor.ConvParams
	pp polyphase
}

// NewConv packs the convolution cp for params, for weights of at most
// weightBits bits: each, read as a signed ℓ-bit number, in
// [−2^(weightBits−1), 2^(weightBits−1)); ℓ bits allow any weights. The
// bound is public (both parties build the layer from it) and the server
// refuses weights beyond it; a smaller one leaves more of the noise
// budget to the packing and may let the queries use fewer moduli. A
// strided convolution is computed as the stride-1 convolution of its
// polyphase decomposition.
func NewConv(params *Params, cp tensor.ConvParams, weightBits int) (*Conv, error) {
	if err := checkConv(cp); err != nil {
		return nil, err
	}
	if err := checkWeightBits(params, weightBits); err != nil {
		return nil, err
	}
	pp := newPolyphase(cp)
	lay, err := newConvLayout(params, pp.inner, weightBits)
	if err != nil {
		return nil, err
	}
	return &Conv{layerBase: newLayerBase(params, weightBits, lay, fmt.Sprintf("conv %+v", cp)), cp: cp, pp: pp}, nil
}

// Shape returns the convolution's geometry.
func (c *Conv) Shape() tensor.ConvParams { return c.cp }

// InputLen returns N·C·H·W.
func (c *Conv) InputLen() int { return c.cp.N * c.cp.C * c.cp.H * c.cp.W }

// WeightLen returns O·C/Group·KH·KW.
func (c *Conv) WeightLen() int { return c.cp.O * c.cp.C / c.cp.Group * c.cp.KH * c.cp.KW }

// OutputLen returns N·O·OH·OW.
func (c *Conv) OutputLen() int { return c.cp.N * c.cp.O * c.cp.OutH() * c.cp.OutW() }

// String describes the layer and its packing.
func (c *Conv) String() string {
	l := c.lay
	q, r := c.Ciphertexts()
	return fmt.Sprintf("conv %dx%dx%dx%d * %dx%dx%dx%d /%dx%d g%d: %dx%d phases, tiles %dx%d of %dx%d outputs, %d groups x %d channels per polynomial, %d filters per kernel; %d+%d ciphertexts on %d moduli, %d+%d bytes",
		c.cp.N, c.cp.C, c.cp.H, c.cp.W, c.cp.O, c.cp.C/c.cp.Group, c.cp.KH, c.cp.KW, c.cp.SH, c.cp.SW, c.cp.Group,
		c.pp.ph, c.pp.pw, l.th, l.tw, l.kh, l.kw, l.gw, l.cw, l.ocw, q, r, c.Moduli(), c.QueryBytes(), c.ResponseBytes())
}

func (c *Conv) convInput(x []uint64) []uint64   { return c.pp.input(x) }
func (c *Conv) convWeights(w []uint64) []uint64 { return c.pp.weights(w) }
func (c *Conv) outIndex(i int) int              { return i }

func (c *Conv) clear(w, x []uint64) []uint64 {
	y := make([]uint64, c.OutputLen())
	tensor.Conv2D(y, x, w, c.cp)
	return y
}
