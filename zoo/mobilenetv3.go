package zoo

import (
	"fmt"

	"veil/ir"
)

// makeDivisible is torchvision's _make_divisible: v rounded to the nearest
// multiple of divisor (at least divisor), and up by one divisor if that
// loses more than 10%.
func makeDivisible(v float64, divisor int) int {
	n := max(divisor, int(v+float64(divisor)/2)/divisor*divisor)
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// squeezeExcite is torchvision's SqueezeExcitation on x: global average
// pooling, a 1×1 convolution (with bias) to squeeze channels, act, a 1×1
// convolution back, the gate (Hardsigmoid or Sigmoid), and the product
// with x (of two secret values).
func (b *builder) squeezeExcite(p, x string, squeeze int, act, gate func(name, x string) string) string {
	c := b.channels(x)
	s := b.globalAvgPool(p+".avgpool", x)
	s = act(p+".activation", b.conv(p+".fc1", s, squeeze, 1, 1, 0, 1, true, gainReLU))
	s = gate(p+".scale_activation", b.conv(p+".fc2", s, c, 1, 1, 0, 1, true, gainLinear))
	return b.mul(p+".mul", x, s)
}

// mobileNetV3Small is torchvision's mobilenet_v3_small (width 1.0, 1000
// classes; Howard et al. 2019): a 3×3 stride-2 stem with Hardswish, 11
// inverted-residual blocks (expansion 1×1, k×k depthwise, optional
// squeeze-and-excitation with a Hardsigmoid gate, linear 1×1 projection,
// ReLU or Hardswish), a 1×1 convolution to 576 channels, global average
// pooling, and the classifier Linear(576, 1024), Hardswish, Linear(1024,
// 1000). BatchNorm epsilon 1e-3. 2,542,856 parameters.
func mobileNetV3Small(hw int, seed uint64) (*ir.Graph, error) {
	b := newBuilder("mobilenet_v3_small", seed)
	x := b.input("input", ir.Shape{1, 3, hw, hw})
	const eps = 1e-3
	x = b.hardSwish("features.0.2", b.bnEps("features.0.1", b.conv("features.0.0", x, 16, 3, 2, 1, 1, false, gainReLU), 1, eps))
	// input, kernel, expanded, output, SE, Hardswish (else ReLU), stride
	type block struct {
		in, k, exp, out int
		se, hs          bool
		stride          int
	}
	for i, c := range []block{
		{16, 3, 16, 16, true, false, 2},
		{16, 3, 72, 24, false, false, 2},
		{24, 3, 88, 24, false, false, 1},
		{24, 5, 96, 40, true, true, 2},
		{40, 5, 240, 40, true, true, 1},
		{40, 5, 240, 40, true, true, 1},
		{40, 5, 120, 48, true, true, 1},
		{48, 5, 144, 48, true, true, 1},
		{48, 5, 288, 96, true, true, 2},
		{96, 5, 576, 96, true, true, 1},
		{96, 5, 576, 96, true, true, 1},
	} {
		p := fmt.Sprintf("features.%d.block", i+1)
		act := b.relu
		if c.hs {
			act = b.hardSwish
		}
		y, j := x, 0
		if c.exp != c.in {
			y = act(fmt.Sprintf("%s.%d.2", p, j), b.bnEps(fmt.Sprintf("%s.%d.1", p, j), b.conv(fmt.Sprintf("%s.%d.0", p, j), y, c.exp, 1, 1, 0, 1, false, gainReLU), 1, eps))
			j++
		}
		y = act(fmt.Sprintf("%s.%d.2", p, j), b.bnEps(fmt.Sprintf("%s.%d.1", p, j), b.conv(fmt.Sprintf("%s.%d.0", p, j), y, c.exp, c.k, c.stride, (c.k-1)/2, c.exp, false, gainReLU), 1, eps))
		j++
		if c.se {
			y = b.squeezeExcite(fmt.Sprintf("%s.%d", p, j), y, makeDivisible(float64(c.exp)/4, 8), b.relu, b.hardSigmoid)
			j++
		}
		residual := c.stride == 1 && c.in == c.out
		gamma := 1.0
		if residual {
			gamma = residualGamma
		}
		y = b.bnEps(fmt.Sprintf("%s.%d.1", p, j), b.conv(fmt.Sprintf("%s.%d.0", p, j), y, c.out, 1, 1, 0, 1, false, gainReLU), gamma, eps)
		if residual {
			y = b.add(fmt.Sprintf("features.%d.add", i+1), y, x)
		}
		x = y
	}
	x = b.hardSwish("features.12.2", b.bnEps("features.12.1", b.conv("features.12.0", x, 576, 1, 1, 0, 1, false, gainReLU), 1, eps))
	x = b.flatten("flatten", b.globalAvgPool("avgpool", x))
	x = b.hardSwish("classifier.1", b.fc("classifier.0", x, 1024, gainReLU))
	return b.finish(b.fc("classifier.3", x, 1000, gainLinear))
}
