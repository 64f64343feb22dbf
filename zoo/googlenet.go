package zoo

import (
	"fmt"

	"veil/ir"
)

// googLeNet is torchvision's googlenet (Szegedy et al. 2015) with
// aux_logits=False and transform_input=False: every convolution is a
// BasicConv2d (no bias, BatchNorm with epsilon 1e-3, ReLU); the max pools
// have ceil_mode=True; nine Inception modules of four branches (1×1; 1×1
// then 3×3; 1×1 then 3×3, where the paper has 5×5 and torchvision keeps a
// 3×3; 3×3 max pool then 1×1) concatenated; global average pooling,
// dropout (the identity) and Linear(1024, 1000). 6,624,904 parameters.
func googLeNet(hw int, seed uint64) (*ir.Graph, error) {
	b := newBuilder("googlenet", seed)
	x := b.input("input", ir.Shape{1, 3, hw, hw})
	basic := func(p, x string, out, k, stride, pad int) string {
		return b.relu(p+".relu", b.bnEps(p+".bn", b.conv(p+".conv", x, out, k, stride, pad, 1, false, gainReLU), 1, 1e-3))
	}
	inception := func(p, x string, c1, c3r, c3, c5r, c5, pool int) string {
		b1 := basic(p+".branch1", x, c1, 1, 1, 0)
		b2 := basic(p+".branch2.1", basic(p+".branch2.0", x, c3r, 1, 1, 0), c3, 3, 1, 1)
		b3 := basic(p+".branch3.1", basic(p+".branch3.0", x, c5r, 1, 1, 0), c5, 3, 1, 1)
		b4 := basic(p+".branch4.1", b.maxPoolCeil(p+".branch4.0", x, 3, 1, 1), pool, 1, 1, 0)
		return b.concat(p+".cat", b1, b2, b3, b4)
	}
	x = basic("conv1", x, 64, 7, 2, 3)
	x = b.maxPoolCeil("maxpool1", x, 3, 2, 0)
	x = basic("conv2", x, 64, 1, 1, 0)
	x = basic("conv3", x, 192, 3, 1, 1)
	x = b.maxPoolCeil("maxpool2", x, 3, 2, 0)
	for _, m := range []struct {
		name string
		c    [6]int
		pool int // the max pool after the module: 0 none, else its kernel
	}{
		{"3a", [6]int{64, 96, 128, 16, 32, 32}, 0},
		{"3b", [6]int{128, 128, 192, 32, 96, 64}, 3},
		{"4a", [6]int{192, 96, 208, 16, 48, 64}, 0},
		{"4b", [6]int{160, 112, 224, 24, 64, 64}, 0},
		{"4c", [6]int{128, 128, 256, 24, 64, 64}, 0},
		{"4d", [6]int{112, 144, 288, 32, 64, 64}, 0},
		{"4e", [6]int{256, 160, 320, 32, 128, 128}, 2},
		{"5a", [6]int{256, 160, 320, 32, 128, 128}, 0},
		{"5b", [6]int{384, 192, 384, 48, 128, 128}, 0},
	} {
		x = inception("inception"+m.name, x, m.c[0], m.c[1], m.c[2], m.c[3], m.c[4], m.c[5])
		if m.pool > 0 {
			x = b.maxPoolCeil(fmt.Sprintf("maxpool%c", m.name[0]), x, m.pool, 2, 0)
		}
	}
	x = b.flatten("flatten", b.globalAvgPool("avgpool", x))
	return b.finish(b.fc("fc", x, 1000, gainLinear))
}
