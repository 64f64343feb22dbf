package zoo

import (
	"fmt"

	"veil/ir"
)

// efficientNetB0 is torchvision's efficientnet_b0 (Tan & Le 2019; width
// and depth 1.0, 1000 classes): a 3×3 stride-2 stem, 16 MBConv blocks in
// seven stages (expansion 1×1, k×k depthwise, squeeze-and-excitation to a
// quarter of the block's input channels with SiLU and a Sigmoid gate,
// linear 1×1 projection, a residual Add where stride is 1 and the widths
// match; stochastic depth is the identity at inference), a 1×1
// convolution to 1280 channels, global average pooling and Linear(1280,
// 1000). SiLU is x·Sigmoid(x), as torch exports it. BatchNorm epsilon
// 1e-3. 5,288,548 parameters.
func efficientNetB0(hw int, seed uint64) (*ir.Graph, error) {
	b := newBuilder("efficientnet_b0", seed)
	x := b.input("input", ir.Shape{1, 3, hw, hw})
	const eps = 1e-3
	x = b.silu("features.0.2", b.bnEps("features.0.1", b.conv("features.0.0", x, 32, 3, 2, 1, 1, false, gainReLU), 1, eps))
	// expand ratio, kernel, stride, output channels, layers
	for stage, s := range [][5]int{{1, 3, 1, 16, 1}, {6, 3, 2, 24, 2}, {6, 5, 2, 40, 2}, {6, 3, 2, 80, 3}, {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}} {
		expand, k, stride, out, n := s[0], s[1], s[2], s[3], s[4]
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("features.%d.%d.block", stage+1, i)
			st := stride
			if i > 0 {
				st = 1
			}
			in := b.channels(x)
			hidden := in * expand
			y, j := x, 0
			if expand != 1 {
				y = b.silu(fmt.Sprintf("%s.%d.2", p, j), b.bnEps(fmt.Sprintf("%s.%d.1", p, j), b.conv(fmt.Sprintf("%s.%d.0", p, j), y, hidden, 1, 1, 0, 1, false, gainReLU), 1, eps))
				j++
			}
			y = b.silu(fmt.Sprintf("%s.%d.2", p, j), b.bnEps(fmt.Sprintf("%s.%d.1", p, j), b.conv(fmt.Sprintf("%s.%d.0", p, j), y, hidden, k, st, (k-1)/2, hidden, false, gainReLU), 1, eps))
			j++
			y = b.squeezeExcite(fmt.Sprintf("%s.%d", p, j), y, max(1, in/4), b.silu, b.sigmoid)
			j++
			residual := st == 1 && in == out
			gamma := 1.0
			if residual {
				gamma = residualGamma
			}
			y = b.bnEps(fmt.Sprintf("%s.%d.1", p, j), b.conv(fmt.Sprintf("%s.%d.0", p, j), y, out, 1, 1, 0, 1, false, gainReLU), gamma, eps)
			if residual {
				y = b.add(fmt.Sprintf("features.%d.%d.add", stage+1, i), y, x)
			}
			x = y
		}
	}
	x = b.silu("features.8.2", b.bnEps("features.8.1", b.conv("features.8.0", x, 1280, 1, 1, 0, 1, false, gainReLU), 1, eps))
	x = b.flatten("flatten", b.globalAvgPool("avgpool", x))
	return b.finish(b.fc("classifier.1", x, 1000, gainLinear))
}
