package zoo

import (
	"fmt"

	"veil/ir"
)

// He-initialisation gains: 2 for a layer whose output goes through a
// ReLU, 1 for a linear one (logits).
const (
	gainReLU   = 2.0
	gainLinear = 1.0
)

// residualGamma is the BatchNorm scale at the end of every residual
// branch. A branch that preserved its input's second moment would double
// it at every Add (2^66 over ResNet-200); with gamma 0.2 a stage of n
// blocks grows it by about 1.04^n instead, like the small-gamma ("zero
// init residual") initialisations that make deep ResNets trainable.
const residualGamma = 0.2

// --- MNIST networks -------------------------------------------------------

// logReg is the paper's Figure 2: softmax(x·W + b) over flattened MNIST
// digits. The Softmax is left out: fixed.Compile would drop a trailing
// Softmax anyway (it is applied to the revealed logits).
func logReg(seed uint64) (*ir.Graph, error) {
	b := newBuilder("logreg", seed)
	x := b.input("input", ir.Shape{1, 784})
	return b.finish(b.fc("fc", x, 10, gainLinear))
}

// secureML is SecureML's DNN: 784-128-128-10 fully connected with ReLU.
func secureML(seed uint64) (*ir.Graph, error) {
	b := newBuilder("secureml", seed)
	x := b.input("input", ir.Shape{1, 784})
	x = b.relu("relu1", b.fc("fc1", x, 128, gainReLU))
	x = b.relu("relu2", b.fc("fc2", x, 128, gainReLU))
	return b.finish(b.fc("fc3", x, 10, gainLinear))
}

// smallCNN is the two-conv, two-FC MNIST CNN shape shared by MiniONN and
// LeNet: Conv(1→c1, 5×5) ReLU MaxPool2 Conv(c1→c2, 5×5) ReLU MaxPool2
// FC(c2·4·4→hidden) ReLU FC(hidden→10), valid padding, bias everywhere.
func smallCNN(name string, c1, c2, hidden int, seed uint64) (*ir.Graph, error) {
	b := newBuilder(name, seed)
	x := b.input("input", ir.Shape{1, 1, 28, 28})
	x = b.maxPool("pool1", b.relu("relu1", b.conv("conv1", x, c1, 5, 1, 0, 1, true, gainReLU)), 2, 2, 0)
	x = b.maxPool("pool2", b.relu("relu2", b.conv("conv2", x, c2, 5, 1, 0, 1, true, gainReLU)), 2, 2, 0)
	x = b.flatten("flatten", x)
	x = b.relu("relu3", b.fc("fc1", x, hidden, gainReLU))
	return b.finish(b.fc("fc2", x, 10, gainLinear))
}

func miniONN(seed uint64) (*ir.Graph, error) { return smallCNN("minionn", 16, 16, 100, seed) }
func leNet(seed uint64) (*ir.Graph, error)   { return smallCNN("lenet", 20, 50, 500, seed) }

// --- ResNet ---------------------------------------------------------------

// resNetBlocks gives the blocks per stage and whether they are
// bottlenecks, for torchvision's depths and ResNet-200.
var resNetBlocks = map[int]struct {
	blocks     [4]int
	bottleneck bool
}{
	18:  {[4]int{2, 2, 2, 2}, false},
	34:  {[4]int{3, 4, 6, 3}, false},
	50:  {[4]int{3, 4, 6, 3}, true},
	101: {[4]int{3, 4, 23, 3}, true},
	152: {[4]int{3, 8, 36, 3}, true},
	200: {[4]int{3, 24, 36, 3}, true},
}

// resNet is torchvision's ResNet (v1.5: the stride of a bottleneck is on
// its 3×3 conv) at the given depth on hw×hw images.
func resNet(depth, hw int, seed uint64) (*ir.Graph, error) {
	cfg, ok := resNetBlocks[depth]
	if !ok {
		return nil, fmt.Errorf("zoo: no ResNet-%d", depth)
	}
	b := newBuilder(fmt.Sprintf("resnet%d", depth), seed)
	x := b.input("input", ir.Shape{1, 3, hw, hw})
	x = b.relu("relu", b.bn("bn1", b.conv("conv1", x, 64, 7, 2, 3, 1, false, gainReLU), 1))
	x = b.maxPool("maxpool", x, 3, 2, 1)
	expansion := 1
	if cfg.bottleneck {
		expansion = 4
	}
	for stage, n := range cfg.blocks {
		planes := 64 << stage
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("layer%d.%d", stage+1, i)
			stride := 1
			if i == 0 && stage > 0 {
				stride = 2
			}
			identity := x
			if stride != 1 || b.channels(x) != planes*expansion {
				identity = b.bn(p+".downsample.1", b.conv(p+".downsample.0", x, planes*expansion, 1, stride, 0, 1, false, gainReLU), 1)
			}
			var y string
			if cfg.bottleneck {
				y = b.relu(p+".relu1", b.bn(p+".bn1", b.conv(p+".conv1", x, planes, 1, 1, 0, 1, false, gainReLU), 1))
				y = b.relu(p+".relu2", b.bn(p+".bn2", b.conv(p+".conv2", y, planes, 3, stride, 1, 1, false, gainReLU), 1))
				y = b.bn(p+".bn3", b.conv(p+".conv3", y, planes*4, 1, 1, 0, 1, false, gainReLU), residualGamma)
			} else {
				y = b.relu(p+".relu1", b.bn(p+".bn1", b.conv(p+".conv1", x, planes, 3, stride, 1, 1, false, gainReLU), 1))
				y = b.bn(p+".bn2", b.conv(p+".conv2", y, planes, 3, 1, 1, 1, false, gainReLU), residualGamma)
			}
			x = b.relu(p+".relu", b.add(p+".add", y, identity))
		}
	}
	x = b.flatten("flatten", b.globalAvgPool("avgpool", x))
	return b.finish(b.fc("fc", x, 1000, gainLinear))
}

// --- DenseNet-121 ---------------------------------------------------------

// denseNet121 is torchvision's densenet121: growth 32, bn_size 4, blocks
// (6, 12, 24, 16), 64 initial features, compression 0.5. Every dense
// layer concatenates all earlier features of its block (one Concat per
// layer, as torch.cat(prev_features, 1) exports), and its BatchNorm comes
// before its conv (so ir.Optimize lowers it to Mul+Add instead of folding).
func denseNet121(hw int, seed uint64) (*ir.Graph, error) {
	const growth, bnSize = 32, 4
	b := newBuilder("densenet121", seed)
	x := b.input("input", ir.Shape{1, 3, hw, hw})
	x = b.relu("features.relu0", b.bn("features.norm0", b.conv("features.conv0", x, 64, 7, 2, 3, 1, false, gainReLU), 1))
	x = b.maxPool("features.pool0", x, 3, 2, 1)
	for blk, n := range []int{6, 12, 24, 16} {
		feats := []string{x}
		for l := 1; l <= n; l++ {
			p := fmt.Sprintf("features.denseblock%d.denselayer%d", blk+1, l)
			in := feats[0]
			if len(feats) > 1 {
				in = b.concat(p+".cat", feats...)
			}
			y := b.relu(p+".relu1", b.bn(p+".norm1", in, 1))
			y = b.conv(p+".conv1", y, bnSize*growth, 1, 1, 0, 1, false, gainReLU)
			y = b.relu(p+".relu2", b.bn(p+".norm2", y, 1))
			y = b.conv(p+".conv2", y, growth, 3, 1, 1, 1, false, gainReLU)
			feats = append(feats, y)
		}
		x = b.concat(fmt.Sprintf("features.denseblock%d.cat", blk+1), feats...)
		if blk < 3 {
			p := fmt.Sprintf("features.transition%d", blk+1)
			c := b.channels(x)
			y := b.relu(p+".relu", b.bn(p+".norm", x, 1))
			y = b.conv(p+".conv", y, c/2, 1, 1, 0, 1, false, gainReLU)
			x = b.avgPool(p+".pool", y, 2, 2, 0)
		}
	}
	x = b.relu("features.relu5", b.bn("features.norm5", x, 1))
	x = b.flatten("flatten", b.globalAvgPool("avgpool", x))
	return b.finish(b.fc("classifier", x, 1000, gainLinear))
}

// --- SqueezeNet 1.1 -------------------------------------------------------

// squeezeNet11 is torchvision's squeezenet1_1. Its max pools have
// ceil_mode=True, which changes no output size at 224×224 (nor at the
// sizes the tests use), so they are plain MaxPools here, as the ONNX
// importer accepts them.
func squeezeNet11(hw int, seed uint64) (*ir.Graph, error) {
	b := newBuilder("squeezenet1_1", seed)
	x := b.input("input", ir.Shape{1, 3, hw, hw})
	x = b.relu("features.1", b.conv("features.0", x, 64, 3, 2, 0, 1, true, gainReLU))
	fire := func(i int, x string, squeeze, expand int) string {
		p := fmt.Sprintf("features.%d", i)
		s := b.relu(p+".squeeze_activation", b.conv(p+".squeeze", x, squeeze, 1, 1, 0, 1, true, gainReLU))
		e1 := b.relu(p+".expand1x1_activation", b.conv(p+".expand1x1", s, expand, 1, 1, 0, 1, true, gainReLU))
		e3 := b.relu(p+".expand3x3_activation", b.conv(p+".expand3x3", s, expand, 3, 1, 1, 1, true, gainReLU))
		return b.concat(p+".cat", e1, e3)
	}
	x = b.maxPool("features.2", x, 3, 2, 0)
	x = fire(3, x, 16, 64)
	x = fire(4, x, 16, 64)
	x = b.maxPool("features.5", x, 3, 2, 0)
	x = fire(6, x, 32, 128)
	x = fire(7, x, 32, 128)
	x = b.maxPool("features.8", x, 3, 2, 0)
	x = fire(9, x, 48, 192)
	x = fire(10, x, 48, 192)
	x = fire(11, x, 64, 256)
	x = fire(12, x, 64, 256)
	x = b.relu("classifier.2", b.conv("classifier.1", x, 1000, 1, 1, 0, 1, true, gainReLU))
	x = b.flatten("flatten", b.globalAvgPool("classifier.3", x))
	return b.finish(x)
}

// --- MobileNetV2 ----------------------------------------------------------

// mobileNetV2 is torchvision's mobilenet_v2 (width 1.0, 1000 classes, the
// architecture of both IMAGENET1K_V1 and _V2 weights): inverted residual
// blocks with ReLU6 (Clip 0..6), a linear bottleneck, and a residual Add
// where stride is 1 and the widths match.
func mobileNetV2(hw int, seed uint64) (*ir.Graph, error) {
	b := newBuilder("mobilenet_v2", seed)
	x := b.input("input", ir.Shape{1, 3, hw, hw})
	x = b.relu6("features.0.2", b.bn("features.0.1", b.conv("features.0.0", x, 32, 3, 2, 1, 1, false, gainReLU), 1))
	idx := 1
	for _, s := range [][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}} {
		t, c, n, stride := s[0], s[1], s[2], s[3]
		for i := 0; i < n; i++ {
			st := 1
			if i == 0 {
				st = stride
			}
			p := fmt.Sprintf("features.%d.conv", idx)
			in := b.channels(x)
			hidden := in * t
			y := x
			j := 0
			if t != 1 {
				y = b.relu6(fmt.Sprintf("%s.%d.2", p, j), b.bn(fmt.Sprintf("%s.%d.1", p, j), b.conv(fmt.Sprintf("%s.%d.0", p, j), y, hidden, 1, 1, 0, 1, false, gainReLU), 1))
				j++
			}
			y = b.relu6(fmt.Sprintf("%s.%d.2", p, j), b.bn(fmt.Sprintf("%s.%d.1", p, j), b.conv(fmt.Sprintf("%s.%d.0", p, j), y, hidden, 3, st, 1, hidden, false, gainReLU), 1))
			j++
			gamma := 1.0
			residual := st == 1 && in == c
			if residual {
				gamma = residualGamma
			}
			y = b.bn(fmt.Sprintf("%s.%d", p, j+1), b.conv(fmt.Sprintf("%s.%d", p, j), y, c, 1, 1, 0, 1, false, gainReLU), gamma)
			if residual {
				y = b.add(fmt.Sprintf("features.%d.add", idx), x, y)
			}
			x = y
			idx++
		}
	}
	x = b.relu6(fmt.Sprintf("features.%d.2", idx), b.bn(fmt.Sprintf("features.%d.1", idx), b.conv(fmt.Sprintf("features.%d.0", idx), x, 1280, 1, 1, 0, 1, false, gainReLU), 1))
	x = b.flatten("flatten", b.globalAvgPool("avgpool", x))
	return b.finish(b.fc("classifier.1", x, 1000, gainLinear))
}

// --- VGG-16 ---------------------------------------------------------------

// vgg16 is torchvision's vgg16 (configuration D, no BatchNorm) on 224×224
// images. Its AdaptiveAvgPool2d((7, 7)) is the identity on the 7×7 feature
// map of a 224×224 input and is left out; Dropout is the identity at
// inference.
func vgg16(seed uint64) (*ir.Graph, error) {
	b := newBuilder("vgg16", seed)
	x := b.input("input", ir.Shape{1, 3, 224, 224})
	i := 0
	for _, v := range []int{64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1} {
		if v < 0 {
			x = b.maxPool(fmt.Sprintf("features.%d", i), x, 2, 2, 0)
			i++
			continue
		}
		x = b.relu(fmt.Sprintf("features.%d", i+1), b.conv(fmt.Sprintf("features.%d", i), x, v, 3, 1, 1, 1, true, gainReLU))
		i += 2
	}
	x = b.flatten("flatten", x)
	x = b.relu("classifier.1", b.fc("classifier.0", x, 4096, gainReLU))
	x = b.relu("classifier.4", b.fc("classifier.3", x, 4096, gainReLU))
	return b.finish(b.fc("classifier.6", x, 1000, gainLinear))
}
