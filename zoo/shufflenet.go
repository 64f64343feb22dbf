package zoo

import (
	"fmt"

	"veil/ir"
)

// shuffleNetV2 is torchvision's shufflenet_v2_x1_0 (Ma et al. 2018):
// a 3×3 stride-2 stem and a max pool, three stages of 4, 8 and 4 units
// (116, 232 and 464 channels), a 1×1 convolution to 1024 channels, the
// mean over H and W and Linear(1024, 1000). A stride-1 unit splits its
// input in two halves (torch.chunk: ONNX Split), keeps one and runs the
// other through 1×1, 3×3 depthwise and 1×1 convolutions; a stride-2 unit
// runs both branches on the whole input. The halves are concatenated and
// their channels shuffled (Reshape to [N, 2, C/2, H, W], Transpose,
// Reshape back). 2,278,604 parameters.
func shuffleNetV2(hw int, seed uint64) (*ir.Graph, error) {
	b := newBuilder("shufflenet_v2_x1_0", seed)
	x := b.input("input", ir.Shape{1, 3, hw, hw})
	x = b.relu("conv1.2", b.bn("conv1.1", b.conv("conv1.0", x, 24, 3, 2, 1, 1, false, gainReLU), 1))
	x = b.maxPool("maxpool", x, 3, 2, 1)
	for stage, s := range [][2]int{{4, 116}, {8, 232}, {4, 464}} {
		n, out := s[0], s[1]
		half := out / 2
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("stage%d.%d", stage+2, i)
			stride := 1
			if i == 0 {
				stride = 2
			}
			var left, right string
			if stride == 1 {
				parts := b.split(p+".chunk", x, 1, b.channels(x)/2, b.channels(x)/2)
				left, right = parts[0], parts[1]
			} else {
				in := b.channels(x)
				left = b.bn(p+".branch1.1", b.conv(p+".branch1.0", x, in, 3, stride, 1, in, false, gainReLU), 1)
				left = b.relu(p+".branch1.4", b.bn(p+".branch1.3", b.conv(p+".branch1.2", left, half, 1, 1, 0, 1, false, gainReLU), 1))
				right = x
			}
			y := b.relu(p+".branch2.2", b.bn(p+".branch2.1", b.conv(p+".branch2.0", right, half, 1, 1, 0, 1, false, gainReLU), 1))
			y = b.bn(p+".branch2.4", b.conv(p+".branch2.3", y, half, 3, stride, 1, half, false, gainReLU), 1)
			y = b.relu(p+".branch2.7", b.bn(p+".branch2.6", b.conv(p+".branch2.5", y, half, 1, 1, 0, 1, false, gainReLU), 1))
			x = b.channelShuffle(p+".shuffle", b.concat(p+".cat", left, y), 2)
		}
	}
	x = b.relu("conv5.2", b.bn("conv5.1", b.conv("conv5.0", x, 1024, 1, 1, 0, 1, false, gainReLU), 1))
	x = b.node("mean", ir.OpReduceMean, ir.Attrs{Axes: []int{2, 3}}, x)
	return b.finish(b.fc("fc", x, 1000, gainLinear))
}

// channelShuffle is ShuffleNet's channel_shuffle as torch exports it:
// view as [N, groups, C/groups, H, W], swap axes 1 and 2, view back.
func (b *builder) channelShuffle(name, x string, groups int) string {
	s := b.shape(x)
	if b.err != nil {
		return ""
	}
	y := b.reshape(name+".view", x, 0, groups, s[1]/groups, s[2], s[3]) // 0: the batch kept
	y = b.transpose(name+".transpose", y, 0, 2, 1, 3, 4)
	return b.reshape(name, y, 0, s[1], s[2], s[3])
}
