package tf

import (
	"errors"
	"fmt"

	"veil/ir"
)

// Image ops: resizing, depth↔space shuffles and the transposed
// convolution, lowered through the IR's shared builders (ir/build.go) so
// that the ONNX and TensorFlow importers share one implementation.

// resize lowers ResizeBilinear and ResizeNearestNeighbor (images, size)
// onto ir.Graph.AddResize. TensorFlow's attributes map onto ONNX Resize's
// coordinate transformation and rounding exactly
// (tensorflow/core/kernels/image/resize_*_op.cc, with scale = in/out, or
// (in-1)/(out-1) for align_corners):
//
//   - ResizeBilinear, align_corners: in = out·(in-1)/(out-1), ONNX
//     "align_corners".
//   - ResizeBilinear, half_pixel_centers: in = (out+0.5)·scale - 0.5, the
//     neighbours clamped to the edge, ONNX "half_pixel".
//   - ResizeBilinear, neither: in = out·scale, ONNX "asymmetric".
//   - ResizeNearestNeighbor, align_corners: roundf(out·(in-1)/(out-1)), ONNX
//     "align_corners" with "round_prefer_ceil" (coordinates are never
//     negative, so rounding half away from zero is rounding half up).
//   - ResizeNearestNeighbor, half_pixel_centers: floorf((out+0.5)·scale)
//     clamped to [0, in-1] (HalfPixelScalerForNN: the 0.5 is not
//     subtracted because the floor follows), ONNX "tf_half_pixel_for_nn"
//     with "floor".
//   - ResizeNearestNeighbor, neither: floorf(out·scale), ONNX "asymmetric"
//     with "floor".
//
// TensorFlow refuses align_corners together with half_pixel_centers, and
// so does this. The IR computes coordinates in float64 where TensorFlow
// multiplies float32 values; a nearest-neighbour coordinate that lands
// exactly on an integer can round differently in float32.
func (b *builder) resize(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	x := ins[0]
	xs := b.shape(x)
	if len(xs) != 4 {
		return fmt.Errorf("images %v are not 4-D NHWC", xs)
	}
	size, err := b.constInts(ins[1], "size")
	if err != nil {
		return err
	}
	if len(size) != 2 || size[0] < 1 || size[1] < 1 || size[0] > int64(maxTensorElements) || size[1] > int64(maxTensorElements) {
		return fmt.Errorf("size %v: want two positive elements", size)
	}
	if _, err := numElements([]int64{int64(xs[0]), size[0], size[1], int64(xs[3])}); err != nil {
		return err
	}
	align, err := attrBool(n, "align_corners", false)
	if err != nil {
		return err
	}
	half, err := attrBool(n, "half_pixel_centers", false)
	if err != nil {
		return err
	}
	if align && half {
		return errors.New("align_corners and half_pixel_centers are both set; TensorFlow allows at most one")
	}
	spec := ir.ResizeSpec{OutH: int(size[0]), OutW: int(size[1])}
	if n.Op == "ResizeBilinear" {
		spec.Mode = "linear"
		switch {
		case align:
			spec.Coord = "align_corners"
		case half:
			spec.Coord = "half_pixel"
		default:
			spec.Coord = "asymmetric"
		}
	} else {
		spec.Mode = "nearest"
		switch {
		case align:
			spec.Coord, spec.Nearest = "align_corners", "round_prefer_ceil"
		case half:
			spec.Coord, spec.Nearest = "tf_half_pixel_for_nn", "floor"
		default:
			spec.Coord, spec.Nearest = "asymmetric", "floor"
		}
	}
	if err := b.g.AddResize(n.Name, x, n.Name, ir.NHWC, spec); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}

// blockShuffle lowers DepthToSpace and SpaceToDepth (block_size, NHWC):
// TensorFlow's channel order is ONNX's "DCR".
func (b *builder) blockShuffle(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	if err := checkNHWC(n); err != nil {
		return err
	}
	bs, err := attrInt(n, "block_size", 0)
	if err != nil {
		return err
	}
	if bs < 2 || bs > 1<<16 {
		return fmt.Errorf("block_size %d: want at least 2", bs)
	}
	if n.Op == "DepthToSpace" {
		err = b.g.AddDepthToSpace(n.Name, ins[0], n.Name, ir.NHWC, int(bs), "DCR")
	} else {
		err = b.g.AddSpaceToDepth(n.Name, ins[0], n.Name, ir.NHWC, int(bs), "DCR")
	}
	if err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}

// convBackpropInput lowers Conv2DBackpropInput (input_sizes, filter,
// out_backprop), the transposed convolution of Keras' Conv2DTranspose,
// onto ir.Graph.AddConvTranspose: the filter is [KH, KW, C_out, C_in]
// (WeightsHWOI), the pads are those of the forward Conv2D whose input has
// size input_sizes, and the output padding makes up the rest of that size.
func (b *builder) convBackpropInput(n *NodeDef) error {
	ins, err := b.ins(n, 3, 3)
	if err != nil {
		return err
	}
	if err := checkNHWC(n); err != nil {
		return err
	}
	if err := noDilations(n); err != nil {
		return err
	}
	strides, err := windowStrides(n, "strides")
	if err != nil {
		return err
	}
	sizes, err := b.constInts(ins[0], "input_sizes")
	if err != nil {
		return err
	}
	f, x := ins[1], ins[2]
	fs, xs := b.shape(f), b.shape(x)
	if len(xs) != 4 {
		return fmt.Errorf("out_backprop %v is not 4-D NHWC", xs)
	}
	if len(fs) != 4 {
		return fmt.Errorf("filter %v is not 4-D", fs)
	}
	if b.g.Const(f) == nil {
		return errors.New("filter must be a constant")
	}
	if len(sizes) != 4 || sizes[0] != int64(xs[0]) || sizes[3] != int64(fs[2]) {
		return fmt.Errorf("input_sizes %v do not match out_backprop %v and filter %v", sizes, xs, fs)
	}
	if xs[3] != fs[3] {
		return fmt.Errorf("out_backprop %v has %d channels, filter %v expects %d", xs, xs[3], fs, fs[3])
	}
	for _, v := range sizes[1:3] {
		if v < 1 || v > 1<<24 {
			return fmt.Errorf("input_sizes %v out of range", sizes)
		}
	}
	h, w := int(sizes[1]), int(sizes[2])
	// The forward convolution's pads, for its input h×w.
	pads, err := padding(n, ir.Shape{xs[0], h, w, fs[2]}, fs[0], fs[1], strides, true)
	if err != nil {
		return err
	}
	outPad := []int{
		h - (strides[0]*(xs[1]-1) + fs[0] - pads[0] - pads[2]),
		w - (strides[1]*(xs[2]-1) + fs[1] - pads[1] - pads[3]),
	}
	for i, p := range outPad {
		if p < 0 || p >= strides[i] {
			return fmt.Errorf("input_sizes %v cannot come from out_backprop %v with filter %v, strides %v and pads %v", sizes, xs, fs, strides, pads)
		}
	}
	spec := ir.ConvTransposeSpec{Strides: strides, Pads: pads, OutputPadding: outPad, Layout: ir.NHWC, WeightsHWOI: true}
	if err := b.g.AddConvTranspose(n.Name, x, f, "", n.Name, spec); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}
