package zoo

import (
	"fmt"
	"math"

	"veil/ir"
)

// MobileNetV1 is Keras' MobileNet (Howard et al. 2017; keras.applications
// MobileNet, alpha 1.0, depth multiplier 1, 224×224, 1000 classes):
// a 3×3 stride-2 convolution, then 13 depthwise-separable blocks, each a
// 3×3 depthwise convolution and a 1×1 pointwise one, every convolution
// without bias and followed by BatchNorm and ReLU6; global average
// pooling and a 1000-way classifier (Keras' 1×1 convolution with bias on
// the pooled 1×1 map, here the equivalent MatMul + Add; dropout is the
// identity at inference). Stride-2 convolutions pad bottom and right by
// one, as Keras' 'same' padding and ZeroPadding2D((0, 1), (0, 1)) do.
// 4,253,864 parameters, counting BatchNorm's four per channel as Keras
// does; 569 M multiply-adds.
func MobileNetV1(seed uint64) (*ir.Graph, error) { return mobileNetV1(seed, false) }

// MobileNetV1Sep is MobileNetV1 without BatchNorm and ReLU6 between each
// depthwise convolution and the pointwise one after it (the depthwise
// convolution gets a bias instead): the Slalom paper's "MobileNet-sep",
// whose separable blocks are each one linear map. (The Slalom code's
// mobilenet_sep builds full 3×3 convolutions instead; this is the
// architecture the paper describes.)
func MobileNetV1Sep(seed uint64) (*ir.Graph, error) { return mobileNetV1(seed, true) }

func mobileNetV1(seed uint64, sep bool) (*ir.Graph, error) {
	name := "mobilenet_v1"
	if sep {
		name = "mobilenet_v1_sep"
	}
	b := newBuilder(name, seed)
	x := b.input("input", ir.Shape{1, 3, 224, 224})
	conv := func(name, x string, out, k, stride, group int, bnRelu bool) string {
		in := b.channels(x)
		if b.err != nil {
			return ""
		}
		fanIn := in / group * k * k
		w := b.constant(name+".weight", ir.Shape{out, in / group, k, k}, b.normal(out*fanIn, math.Sqrt(gainReLU/float64(fanIn))))
		pads := []int{0, 0, 0, 0}
		switch {
		case k == 3 && stride == 2:
			pads = []int{0, 0, 1, 1}
		case k == 3:
			pads = []int{1, 1, 1, 1}
		}
		ins := []string{x, w}
		if !bnRelu {
			ins = append(ins, b.constant(name+".bias", ir.Shape{out}, b.uniform(out, -0.1, 0.1)))
		}
		c := b.node(name, ir.OpConv, ir.Attrs{Kernel: []int{k, k}, Strides: []int{stride, stride}, Pads: pads, Group: group, Layout: ir.NCHW}, ins...)
		if !bnRelu {
			return c
		}
		return b.relu6(name+".relu6", b.bn(name+".bn", c, 1))
	}
	x = conv("conv1", x, 32, 3, 2, 1, true)
	for i, s := range [][2]int{{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1}, {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}} {
		c := b.channels(x)
		x = conv(fmt.Sprintf("conv_dw_%d", i+1), x, c, 3, s[1], c, !sep)
		x = conv(fmt.Sprintf("conv_pw_%d", i+1), x, s[0], 1, 1, 1, true)
	}
	x = b.flatten("flatten", b.globalAvgPool("global_average_pooling2d", x))
	return b.finish(b.fc("conv_preds", x, 1000, gainLinear))
}

// MobileNetV1Network describes MobileNetV1 for benchmarks.
var MobileNetV1Network = Network{Name: "mobilenetv1", Input: imageNet, Build: MobileNetV1,
	Paper: "MobileNet v1 (Howard et al. 2017) as keras.applications.MobileNet, alpha 1.0, 224×224: 13 depthwise-separable blocks with BatchNorm and ReLU6; the Slalom paper's MobileNet"}

// MobileNetV1SepNetwork describes MobileNetV1Sep for benchmarks.
var MobileNetV1SepNetwork = Network{Name: "mobilenetv1-sep", Input: imageNet, Build: MobileNetV1Sep,
	Paper: "MobileNet v1 with no BatchNorm or activation between each depthwise and pointwise convolution (the Slalom paper's MobileNet-sep)"}
