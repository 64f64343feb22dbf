// Package zoo builds the benchmark networks of the CrypTFlow paper
// (Section VI) as float graphs with seeded random weights: the cost of
// secure inference (ReLU comparisons, multiplications, communication)
// depends only on the architecture, not on the weight values.
//
// Every graph looks like an ONNX import of the PyTorch/torchvision model
// (NCHW, batch 1; every network but ViT takes a batch through
// Graph.WithBatch): Conv (with a bias, or followed by BatchNorm), BatchNorm
// with inference statistics, Relu, Clip(0, 6) for ReLU6, MaxPool,
// AvgPool, ReduceMean over H and W for global average pooling, Concat,
// Add for residuals, Reshape to flatten, and MatMul + Add for fully
// connected layers. Run ir.Optimize before fixed.Compile.
//
// Weights are He-initialised (N(0, 2/fan_in) before a ReLU) from a PCG
// generator seeded by the caller; BatchNorm statistics are close to mean
// 0, variance 1 and the last BatchNorm of every residual branch has a
// small scale, so activations stay O(1) through ResNet-200 in float and in
// fixed point.
package zoo

import (
	"fmt"
	"strings"

	"veil/ir"
)

// Network describes one builder.
type Network struct {
	Name  string
	Input ir.Shape
	// Build returns the network with weights drawn from seed; the same
	// seed gives the same weights.
	Build func(seed uint64) (*ir.Graph, error)
	// Paper says where the architecture comes from.
	Paper string
}

var imageNet = ir.Shape{1, 3, 224, 224}

func resNetNetwork(depth int, paper string) Network {
	return Network{
		Name:  fmt.Sprintf("resnet%d", depth),
		Input: imageNet,
		Build: func(seed uint64) (*ir.Graph, error) { return resNet(depth, 224, seed) },
		Paper: paper,
	}
}

var networks = []Network{
	{Name: "logreg", Input: ir.Shape{1, 784}, Build: logReg,
		Paper: "CrypTFlow Fig. 2 / Table VIII: logistic regression on MNIST, 784→10 (softmax left to the output's receiver)"},
	{Name: "secureml", Input: ir.Shape{1, 784}, Build: secureML,
		Paper: "SecureML (Mohassel & Zhang 2017) 3-layer DNN as in CrypTFlow Table V: FC 784→128→128→10 with ReLU"},
	{Name: "minionn", Input: ir.Shape{1, 1, 28, 28}, Build: miniONN,
		Paper: "MiniONN (Liu et al. 2017) MNIST 4-layer CNN as in CrypTFlow Tables V–VI / SecureNN: Conv 1→16 5×5, ReLU, MaxPool 2, Conv 16→16 5×5, ReLU, MaxPool 2, FC 256→100, ReLU, FC 100→10"},
	{Name: "lenet", Input: ir.Shape{1, 1, 28, 28}, Build: leNet,
		Paper: "LeNet (LeCun et al.) 4-layer MNIST CNN as in CrypTFlow Tables V and VIII: Conv 1→20 5×5, ReLU, MaxPool 2, Conv 20→50 5×5, ReLU, MaxPool 2, FC 800→500, ReLU, FC 500→10"},
	{Name: "squeezenet", Input: imageNet,
		Build: func(seed uint64) (*ir.Graph, error) { return squeezeNet11(224, seed) },
		Paper: "SqueezeNet 1.1 (Iandola et al. 2016) as torchvision squeezenet1_1: 26 convolutions, CrypTFlow Section VI-A"},
	resNetNetwork(18, "ResNet-18 (He et al. 2016) as torchvision resnet18; CrypTFlow Fig. 10"),
	resNetNetwork(34, "ResNet-34 (He et al. 2016) as torchvision resnet34; CrypTFlow Fig. 10"),
	resNetNetwork(50, "ResNet-50 (He et al. 2016) as torchvision resnet50 (v1.5): 53 convolutions and one FC, CrypTFlow Section VI-A"),
	resNetNetwork(101, "ResNet-101 (He et al. 2016) as torchvision resnet101; CrypTFlow Fig. 10"),
	resNetNetwork(152, "ResNet-152 (He et al. 2016) as torchvision resnet152; CrypTFlow Fig. 10"),
	resNetNetwork(200, "ResNet-200 (He et al. 2016, 'Identity Mappings') with torchvision's post-activation bottleneck blocks [3, 24, 36, 3]; CrypTFlow Fig. 10 (65 million parameters)"),
	{Name: "densenet121", Input: imageNet,
		Build: func(seed uint64) (*ir.Graph, error) { return denseNet121(224, seed) },
		Paper: "DenseNet-121 (Huang et al. 2017) as torchvision densenet121; CrypTFlow Section VI-A"},
	{Name: "mobilenetv2", Input: imageNet,
		Build: func(seed uint64) (*ir.Graph, error) { return mobileNetV2(224, seed) },
		Paper: "MobileNetV2 (Sandler et al. 2018) as torchvision mobilenet_v2, width 1.0, ReLU6 as Clip(0, 6)"},
	{Name: "vgg16", Input: imageNet, Build: vgg16,
		Paper: "VGG-16 (Simonyan & Zisserman 2015, configuration D) as torchvision vgg16, without BatchNorm"},
	{Name: "mobilenetv3small", Input: imageNet,
		Build: func(seed uint64) (*ir.Graph, error) { return mobileNetV3Small(224, seed) },
		Paper: "MobileNetV3-Small (Howard et al. 2019) as torchvision mobilenet_v3_small: Hardswish, squeeze-and-excitation with Hardsigmoid gates"},
	{Name: "efficientnetb0", Input: imageNet,
		Build: func(seed uint64) (*ir.Graph, error) { return efficientNetB0(224, seed) },
		Paper: "EfficientNet-B0 (Tan & Le 2019) as torchvision efficientnet_b0: MBConv blocks, SiLU as x·Sigmoid(x), squeeze-and-excitation with Sigmoid gates"},
	{Name: "googlenet", Input: imageNet,
		Build: func(seed uint64) (*ir.Graph, error) { return googLeNet(224, seed) },
		Paper: "GoogLeNet / Inception v1 (Szegedy et al. 2015) as torchvision googlenet(aux_logits=False): BatchNorm after every convolution, ceil-mode max pools"},
	{Name: "shufflenetv2", Input: imageNet,
		Build: func(seed uint64) (*ir.Graph, error) { return shuffleNetV2(224, seed) },
		Paper: "ShuffleNetV2 1.0× (Ma et al. 2018) as torchvision shufflenet_v2_x1_0: channel split (Split), channel shuffle (Reshape, Transpose, Reshape)"},
	{Name: "vit", Input: imageNet,
		Build: func(seed uint64) (*ir.Graph, error) { return vitTi16(224, seed) },
		Paper: "Vision Transformer (Dosovitskiy et al. 2021) with torchvision's vit_b_16 structure at ViT-Ti/16 width (DeiT-Ti: 12 layers, 3 heads, hidden 192, MLP 768): LayerNorm, softmax attention, GELU; needs traced ranges (LayerNorm's rsqrt)"},
}

// Names returns the names of every network, in a stable order (MNIST
// networks first, then the ImageNet ones).
func Names() []string {
	names := make([]string, len(networks))
	for i, n := range networks {
		names[i] = n.Name
	}
	return names
}

// Lookup returns the network named name (case-insensitive).
func Lookup(name string) (Network, error) {
	for _, n := range networks {
		if strings.EqualFold(n.Name, name) {
			return n, nil
		}
	}
	return Network{}, fmt.Errorf("zoo: no network %q (have %s)", name, strings.Join(Names(), ", "))
}
