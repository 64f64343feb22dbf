package ir

import (
	"fmt"
	"math"
)

// Graph builders shared by the importers. Each lowers one framework
// operation (Resize, ConvTranspose, LayerNormalization, Pow, DepthToSpace
// …) onto the existing ops, so that the fixed-point compiler and every
// backend need nothing new: interpolation becomes a MatMul by a constant
// matrix, a transposed convolution an ordinary Conv of a zero-inserted
// input, a normalization the ReduceMean/Rsqrt chain. The values and nodes a
// builder adds are named after the user's node (node, then node/suffix
// made unique with UniqueName); the last one computes out and carries the
// node's own name. A builder's own errors are *NodeError values naming
// node and the framework op the builder implements, so importers can
// relabel them with their op.

// builder adds the nodes of one lowering.
type builder struct {
	g     *Graph
	node  string // the user's node
	op    Op     // the operation lowered, for errors
	final string // the value the node computes; its producer is named node
}

func (b *builder) errorf(format string, args ...any) error {
	return &NodeError{Node: b.node, Op: b.op, Err: fmt.Errorf(format, args...)}
}

// add appends a node computing out, or a fresh value named after suffix
// when out is "", and returns the value's name.
func (b *builder) add(op Op, suffix, out string, a Attrs, ins ...string) (string, error) {
	name := out
	switch out {
	case "":
		out = b.g.UniqueName(b.node + "/" + suffix)
		name = out
	case b.final:
		name = b.node
	}
	return out, b.g.AddNode(&Node{Name: name, Op: op, Inputs: ins, Output: out, Attrs: a})
}

// reserve counts n elements of constants the lowering is about to make
// against the graph's MaxFoldedElements, so that a small model cannot make
// the builders allocate without bound.
func (b *builder) reserve(n int64) error {
	if n < 0 || int64(b.g.folded)+n > MaxFoldedElements {
		return b.errorf("lowering this node would bring the model's computed constants to more than %d elements", MaxFoldedElements)
	}
	b.g.folded += int(n)
	return nil
}

// konst adds a constant named after suffix.
func (b *builder) konst(suffix string, t *Tensor) (string, error) {
	name := b.g.UniqueName(b.node + "/" + suffix)
	return name, b.g.AddConst(name, t)
}

func (b *builder) ints(suffix string, xs ...int) (string, error) {
	v := make([]int64, len(xs))
	for i, x := range xs {
		v[i] = int64(x)
	}
	return b.konst(suffix, IntTensor(Shape{len(v)}, v))
}

// reshape adds a Reshape of x to the static shape s.
func (b *builder) reshape(x, suffix, out string, s Shape) (string, error) {
	c, err := b.ints(suffix+"_shape", s...)
	if err != nil {
		return "", err
	}
	return b.add(OpReshape, suffix, out, Attrs{}, x, c)
}

// slice adds a Slice of x along axis from start to end (step 1).
func (b *builder) slice(x, suffix, out string, axis, start, end int) (string, error) {
	st, err := b.ints(suffix+"_starts", start)
	if err != nil {
		return "", err
	}
	en, err := b.ints(suffix+"_ends", end)
	if err != nil {
		return "", err
	}
	ax, err := b.ints(suffix+"_axes", axis)
	if err != nil {
		return "", err
	}
	return b.add(OpSlice, suffix, out, Attrs{}, x, st, en, ax)
}

// shape returns the static shape of value name.
func (b *builder) shape(name string) (Shape, error) {
	v := b.g.Values[name]
	if v == nil {
		return nil, b.errorf("input %q is not defined", name)
	}
	return v.Shape, nil
}

// last returns out when the step is the last of the lowering, else "".
func last(isLast bool, out string) string {
	if isLast {
		return out
	}
	return ""
}

// ResizeSpec describes a 2-D spatial resize as ONNX's Resize defines it.
type ResizeSpec struct {
	Mode string // "nearest" or "linear" (bilinear)
	// Coord is the coordinate transformation: "half_pixel",
	// "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
	// "asymmetric" or "tf_half_pixel_for_nn".
	Coord string
	// Nearest is the rounding of nearest mode: "round_prefer_floor" (the
	// default when empty), "round_prefer_ceil", "floor" or "ceil".
	Nearest    string
	OutH, OutW int
	// ScaleH and ScaleW are the scale factors the coordinate
	// transformation divides by when the model gives scales rather than
	// sizes (the output is then ⌊scale·input⌋); 0 means OutH/H and OutW/W.
	ScaleH, ScaleW float64
}

// AddResize adds a resize of the 4-D tensor x in layout to
// spec.OutH × spec.OutW, computing out. It is lowered to MatMuls by
// constant interpolation matrices along W and then H (with Transposes that
// bring each axis last); an axis whose matrix is the identity is skipped.
// Nearest mode is an exact 0/1 selection; linear mode clamps to the edge
// as ONNX's reference does.
func (g *Graph) AddResize(node, x, out string, layout Layout, spec ResizeSpec) error {
	b := &builder{g: g, node: node, op: "Resize", final: out}
	xs, err := b.shape(x)
	if err != nil {
		return err
	}
	if len(xs) != 4 {
		return b.errorf("input must be 4-D (%s), got %v", layout, xs)
	}
	hAx, wAx := layout.SpatialAxes()
	h, w := xs[hAx], xs[wAx]
	if spec.OutH < 1 || spec.OutW < 1 || spec.OutH > MaxElements || spec.OutW > MaxElements {
		return b.errorf("output size %d×%d is not positive", spec.OutH, spec.OutW)
	}
	if h < 1 || w < 1 {
		return b.errorf("input %v has an empty spatial dimension", xs)
	}
	if err := b.reserve(int64(h)*int64(spec.OutH) + int64(w)*int64(spec.OutW)); err != nil {
		return err
	}
	mh, err := resizeMatrix(h, spec.OutH, spec.ScaleH, spec)
	if err != nil {
		return b.errorf("%v", err)
	}
	mw, err := resizeMatrix(w, spec.OutW, spec.ScaleW, spec)
	if err != nil {
		return b.errorf("%v", err)
	}
	type step struct {
		ax   int
		m    *Tensor
		name string
	}
	var steps []step
	if !isIdentity(mw) {
		steps = append(steps, step{wAx, mw, "resize_w"})
	}
	if !isIdentity(mh) {
		steps = append(steps, step{hAx, mh, "resize_h"})
	}
	if len(steps) == 0 {
		_, err := b.add(OpIdentity, "", out, Attrs{}, x)
		return err
	}
	// order[i] is the input axis that axis i of cur holds.
	cur, order := x, []int{0, 1, 2, 3}
	for i, st := range steps {
		if pos := axisPos(order, st.ax); pos != 3 {
			// Move the axis last, keeping the others in order.
			var p []int
			for j := range order {
				if j != pos {
					p = append(p, j)
				}
			}
			p = append(p, pos)
			if cur, err = b.add(OpTranspose, "transpose", "", Attrs{Perm: p}, cur); err != nil {
				return err
			}
			order = []int{order[p[0]], order[p[1]], order[p[2]], order[p[3]]}
		}
		m, err := b.konst(st.name, st.m)
		if err != nil {
			return err
		}
		done := i == len(steps)-1 && order[0] == 0 && order[1] == 1 && order[2] == 2
		if cur, err = b.add(OpMatMul, st.name, last(done, out), Attrs{}, cur, m); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
	back := make([]int, 4)
	for i, ax := range order {
		back[ax] = i
	}
	_, err = b.add(OpTranspose, "", out, Attrs{Perm: back}, cur)
	return err
}

func axisPos(xs []int, x int) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// resizeMatrix returns the [in, out] matrix that resizes a vector of in
// elements to out by right multiplication, per ONNX Resize's reference:
// each output position x maps to the input coordinate
// coordinate(x), whose two neighbours ⌊c⌋ and ⌊c⌋+1 (clamped to the
// edge) get weights 1−r and r (linear) or the rounding's 0/1 (nearest).
func resizeMatrix(in, out int, scale float64, spec ResizeSpec) (*Tensor, error) {
	// lengthResized is what the reference divides by: the float
	// scale·in when the model gives scales, the integer size otherwise.
	lengthResized := float64(out)
	if scale == 0 {
		scale = float64(out) / float64(in)
	} else {
		if !(scale > 0) || math.IsInf(scale, 0) {
			return nil, fmt.Errorf("scale %v is not positive", scale)
		}
		lengthResized = scale * float64(in)
	}
	var coord func(x float64) float64
	switch spec.Coord {
	case "half_pixel":
		coord = func(x float64) float64 { return (x+0.5)/scale - 0.5 }
	case "half_pixel_symmetric":
		adj := float64(out) / lengthResized
		offset := float64(in) / 2 * (1 - adj)
		coord = func(x float64) float64 { return offset + (x+0.5)/scale - 0.5 }
	case "pytorch_half_pixel":
		coord = func(x float64) float64 {
			if lengthResized == 1 {
				return 0 // -0.5 in the reference: the same after clamping
			}
			return (x+0.5)/scale - 0.5
		}
	case "align_corners":
		coord = func(x float64) float64 {
			if lengthResized == 1 {
				return 0
			}
			return x * float64(in-1) / (lengthResized - 1)
		}
	case "asymmetric":
		coord = func(x float64) float64 { return x / scale }
	case "tf_half_pixel_for_nn":
		coord = func(x float64) float64 { return (x + 0.5) / scale }
	default:
		return nil, fmt.Errorf("coordinate_transformation_mode %q is not supported", spec.Coord)
	}
	var weights func(r float64) (lo, hi float64)
	switch spec.Mode {
	case "linear":
		weights = func(r float64) (float64, float64) { return 1 - r, r }
	case "nearest":
		var up func(r float64) bool // whether r rounds to the upper neighbour
		switch spec.Nearest {
		case "", "round_prefer_floor":
			up = func(r float64) bool { return r > 0.5 }
		case "round_prefer_ceil":
			up = func(r float64) bool { return r >= 0.5 }
		case "floor":
			up = func(r float64) bool { return false }
		case "ceil":
			up = func(r float64) bool { return r > 0 }
		default:
			return nil, fmt.Errorf("nearest_mode %q is not supported", spec.Nearest)
		}
		weights = func(r float64) (float64, float64) {
			if up(r) {
				return 0, 1
			}
			return 1, 0
		}
	default:
		return nil, fmt.Errorf("mode %q is not supported (only nearest and linear)", spec.Mode)
	}
	m := make([]float64, in*out)
	clamp := func(i int) int { return min(max(i, 0), in-1) }
	for x := 0; x < out; x++ {
		c := coord(float64(x))
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return nil, fmt.Errorf("output position %d maps to input coordinate %v", x, c)
		}
		// Beyond [-1, in], clamping alone decides (and int(f) cannot
		// overflow).
		c = min(max(c, -1), float64(in))
		f := math.Floor(c)
		lo, hi := weights(c - f)
		i := int(f)
		m[clamp(i)*out+x] += lo
		m[clamp(i+1)*out+x] += hi
	}
	t := NewFloat(Shape{in, out})
	for i, v := range m {
		t.F[i] = float32(v)
	}
	return t, nil
}

// isIdentity reports whether m is a square identity matrix.
func isIdentity(m *Tensor) bool {
	n := m.Shape[0]
	if m.Shape[1] != n {
		return false
	}
	for i, v := range m.F {
		diag := i/n == i%n
		if diag && v != 1 || !diag && v != 0 {
			return false
		}
	}
	return true
}

// ConvTransposeSpec holds the attributes of a 2-D transposed convolution
// (ONNX ConvTranspose, TensorFlow Conv2DBackpropInput), dilation 1.
//
// The output size along each spatial axis is
// Strides·(in−1) + OutputPadding + K − Pads[begin] − Pads[end]. A
// negative pad widens the output on its side with elements that no input
// reaches (ONNX's reference gives such pads for an output_shape larger
// than the natural one).
//
// TensorFlow's Conv2DBackpropInput(input_sizes, filter, out_backprop)
// maps onto it as: x = out_backprop, WeightsHWOI set (the filter is
// [KH, KW, C_out, C_in]), Pads those of the forward Conv2D whose input
// has the size input_sizes gives (SAME: total = max((⌈H/s⌉−1)·s + K − H,
// 0), begin = total/2; VALID: 0), and OutputPadding = H − the size above
// without it.
type ConvTransposeSpec struct {
	Strides       []int // [SH, SW]; nil means 1
	Pads          []int // [top, left, bottom, right]; nil means 0; may be negative
	OutputPadding []int // [H, W], added at the bottom and right; nil means 0
	Group         int   // 0 or 1: dense
	Layout        Layout
	// WeightsHWOI says w is [KH, KW, C_out/group, C_in] (TensorFlow) rather
	// than ONNX's [C_in, C_out/group, KH, KW].
	WeightsHWOI bool
}

// AddConvTranspose adds a transposed convolution of x by the constant
// weights w (and bias, "" for none), computing out, exactly as ONNX
// ConvTranspose defines it. It is lowered to an ordinary Conv by the
// flipped, transposed kernel of a zero-inserted input: Reshape to put a
// unit axis after each spatial axis, Pad it with Strides−1 zeros, Reshape
// back (a Slice trims what the padding does not absorb), and Conv with
// padding K−1−Pads.
func (g *Graph) AddConvTranspose(node, x, w, bias, out string, a ConvTransposeSpec) error {
	b := &builder{g: g, node: node, op: "ConvTranspose", final: out}
	xs, err := b.shape(x)
	if err != nil {
		return err
	}
	if len(xs) != 4 {
		return b.errorf("input must be 4-D (%s), got %v", a.Layout, xs)
	}
	wt := g.Const(w)
	if wt == nil {
		return b.errorf("weights %q must be a constant", w)
	}
	if len(wt.Shape) != 4 {
		return b.errorf("weights must be 4-D, got %v", wt.Shape)
	}
	if a.WeightsHWOI {
		wt = Transpose(wt.asType(Float32), []int{3, 2, 0, 1})
	}
	group := max(a.Group, 1)
	ws := wt.Shape // [C_in, C_out/group, KH, KW]
	cin := xs[a.Layout.ChannelAxis()]
	if ws[0] != cin || cin%group != 0 || a.Group < 0 {
		return b.errorf("input %v with %d channels, weights %v and group %d are inconsistent", xs, cin, ws, a.Group)
	}
	kh, kw := ws[2], ws[3]
	if kh < 1 || kw < 1 {
		return b.errorf("kernel %d×%d is empty", kh, kw)
	}
	strides, pads, opad := []int{1, 1}, []int{0, 0, 0, 0}, []int{0, 0}
	for _, f := range []struct {
		name string
		v    []int
		dst  []int
		lo   int
	}{{"strides", a.Strides, strides, 1}, {"pads", a.Pads, pads, -MaxElements}, {"output_padding", a.OutputPadding, opad, 0}} {
		if f.v == nil {
			continue
		}
		if len(f.v) != len(f.dst) {
			return b.errorf("%s %v: want %d values", f.name, f.v, len(f.dst))
		}
		for _, v := range f.v {
			if v < f.lo || v > MaxElements {
				return b.errorf("%s %v are not supported", f.name, f.v)
			}
		}
		copy(f.dst, f.v)
	}
	// The Conv weights: [C_out, C_in/group, KH, KW], flipped spatially.
	if err := b.reserve(int64(wt.Len())); err != nil {
		return err
	}
	cog, cig := ws[1], cin/group
	cw := NewFloat(Shape{cog * group, cig, kh, kw})
	wf := wt.Floats()
	for gi := 0; gi < group; gi++ {
		for i := 0; i < cig; i++ {
			for o := 0; o < cog; o++ {
				for y := 0; y < kh; y++ {
					for z := 0; z < kw; z++ {
						src := (((gi*cig+i)*cog+o)*kh+y)*kw + z
						dst := (((gi*cog+o)*cig+i)*kh+(kh-1-y))*kw + (kw - 1 - z)
						cw.F[dst] = wf[src]
					}
				}
			}
		}
	}
	cwName, err := b.konst("weights", cw)
	if err != nil {
		return err
	}
	hAx, wAx := a.Layout.SpatialAxes()
	k := []int{kh, kw}
	sp := []int{xs[hAx], xs[wAx]}
	for i := range sp {
		if o := strides[i]*(sp[i]-1) + opad[i] + k[i] - pads[i] - pads[i+2]; o < 1 || sp[i] < 1 {
			return b.errorf("output size %d along spatial axis %d is not positive (input %v)", o, i, xs)
		}
	}
	cur := x
	if strides[0] > 1 || strides[1] > 1 {
		// [N, C, H, W] → [N, C, H, 1, W, 1] → pad to [N, C, H, SH, W, SW]
		// → [N, C, H·SH, W·SW]: each element followed by stride−1 zeros.
		six, hu, wu := Shape{xs[0], xs[1], xs[2], 1, xs[3], 1}, 3, 5
		if a.Layout == NHWC {
			six, hu, wu = Shape{xs[0], xs[1], 1, xs[2], 1, xs[3]}, 2, 4
		}
		p6 := make([]int, 12) // [begin…, end…]
		p6[6+hu], p6[6+wu] = strides[0]-1, strides[1]-1
		if cur, err = b.reshape(cur, "unit_axes", "", six); err != nil {
			return err
		}
		if cur, err = b.add(OpPad, "zeros", "", Attrs{Pads: p6}, cur); err != nil {
			return err
		}
		flat := xs.Clone()
		flat[hAx], flat[wAx] = xs[hAx]*strides[0], xs[wAx]*strides[1]
		if cur, err = b.reshape(cur, "zero_inserted", "", flat); err != nil {
			return err
		}
	}
	// The zero-inserted signal holds (in−1)·s+1 elements and s−1 trailing
	// zeros; the Conv wants K−1−pad_begin zeros before and
	// K−1−pad_end+output_padding after.
	convPads := make([]int, 4)
	for i, ax := range []int{hAx, wAx} {
		n := sp[i] * strides[i]
		front := k[i] - 1 - pads[i]
		back := k[i] - 1 - pads[i+2] + opad[i] - (strides[i] - 1)
		start, end := max(0, -front), n-max(0, -back)
		if start > 0 || end < n {
			if end <= start {
				return b.errorf("pads %v remove the whole input", pads)
			}
			if cur, err = b.slice(cur, "crop", "", ax, start, end); err != nil {
				return err
			}
		}
		convPads[i], convPads[i+2] = max(0, front), max(0, back)
	}
	ins := []string{cur, cwName}
	if bias != "" {
		ins = append(ins, bias)
	}
	_, err = b.add(OpConv, "", out, Attrs{Strides: []int{1, 1}, Pads: convPads, Group: group, Layout: a.Layout}, ins...)
	return err
}

// AddLayerNorm adds layer normalization of x over the axes from axis to the
// last, computing out: (x − mean)·rsqrt(var + eps)·scale + bias, with
// scale and bias broadcast to x ("" for none). It is the chain ReduceMean,
// Sub, Mul, ReduceMean, Add(eps), Rsqrt, Mul, Mul(scale), Add(bias).
func (g *Graph) AddLayerNorm(node, x, scale, bias, out string, axis int, eps float32) error {
	return g.AddLayerNormStats(node, x, scale, bias, out, "", "", axis, eps)
}

// AddLayerNormStats is AddLayerNorm that also names the mean and
// rsqrt(var + eps) it computes (shaped as x with the normalized axes of
// size 1) mean and invStdDev, as ONNX LayerNormalization's optional
// outputs; "" leaves either unnamed.
func (g *Graph) AddLayerNormStats(node, x, scale, bias, out, mean, invStdDev string, axis int, eps float32) error {
	b := &builder{g: g, node: node, op: "LayerNorm", final: out}
	xs, err := b.shape(x)
	if err != nil {
		return err
	}
	ax, err := normAxis(axis, len(xs))
	if err != nil {
		return b.errorf("%v", err)
	}
	var axes []int
	for i := ax; i < len(xs); i++ {
		axes = append(axes, i)
	}
	return b.normalize(x, scale, bias, out, mean, invStdDev, axes, eps)
}

// AddInstanceNorm adds instance normalization of x (channels at the
// layout's channel axis: 1 for NCHW, last for NHWC) over its spatial axes,
// computing out, with per-channel scale and bias ([C]; "" for none). It is
// the decomposition AddLayerNorm uses.
func (g *Graph) AddInstanceNorm(node, x, scale, bias, out string, layout Layout, eps float32) error {
	b := &builder{g: g, node: node, op: "InstanceNorm", final: out}
	xs, err := b.shape(x)
	if err != nil {
		return err
	}
	if len(xs) < 3 {
		return b.errorf("input must have spatial dimensions, got %v", xs)
	}
	cAx := 1
	if layout == NHWC {
		cAx = len(xs) - 1
	}
	var axes []int
	for i := 1; i < len(xs); i++ {
		if i != cAx {
			axes = append(axes, i)
		}
	}
	// [C] parameters broadcast against the channel axis: [C, 1, …, 1] in
	// NCHW, as they are in NHWC.
	param := func(p, what string) (string, error) {
		if p == "" {
			return "", nil
		}
		ps, err := b.shape(p)
		if err != nil {
			return "", err
		}
		if !ps.Equal(Shape{xs[cAx]}) {
			return "", b.errorf("%s has shape %v, want [%d]", what, ps, xs[cAx])
		}
		if layout == NHWC {
			return p, nil
		}
		s := Shape{xs[cAx]}
		for range xs[2:] {
			s = append(s, 1)
		}
		return b.reshape(p, what, "", s)
	}
	if scale, err = param(scale, "scale"); err != nil {
		return err
	}
	if bias, err = param(bias, "bias"); err != nil {
		return err
	}
	return b.normalize(x, scale, bias, out, "", "", axes, eps)
}

// normalize adds (x − mean)·rsqrt(var + eps)·scale + bias over axes,
// naming the mean meanOut and the rsqrt invOut when they are not "".
func (b *builder) normalize(x, scale, bias, out, meanOut, invOut string, axes []int, eps float32) error {
	red := Attrs{Axes: axes, KeepDims: true}
	mean, err := b.add(OpReduceMean, "mean", meanOut, red, x)
	if err != nil {
		return err
	}
	d, err := b.add(OpSub, "centered", "", Attrs{}, x, mean)
	if err != nil {
		return err
	}
	sq, err := b.add(OpMul, "square", "", Attrs{}, d, d)
	if err != nil {
		return err
	}
	v, err := b.add(OpReduceMean, "variance", "", red, sq)
	if err != nil {
		return err
	}
	e, err := b.konst("epsilon", FloatTensor(Shape{}, []float32{eps}))
	if err != nil {
		return err
	}
	if v, err = b.add(OpAdd, "variance_eps", "", Attrs{}, v, e); err != nil {
		return err
	}
	r, err := b.add(OpRsqrt, "rsqrt", invOut, Attrs{}, v)
	if err != nil {
		return err
	}
	y, err := b.add(OpMul, "normalized", last(scale == "" && bias == "", out), Attrs{}, d, r)
	if err != nil {
		return err
	}
	if scale != "" {
		if y, err = b.add(OpMul, "scaled", last(bias == "", out), Attrs{}, y, scale); err != nil {
			return err
		}
	}
	if bias != "" {
		_, err = b.add(OpAdd, "", out, Attrs{}, y, bias)
	}
	return err
}

// AddPow adds x raised to a constant exponent, computing out, for the
// exponents that are cheap in fixed point: 1 (Identity), 2 and 3 (Mul),
// 0.5 (Sqrt), −1 (Reciprocal) and −0.5 (Rsqrt).
func (g *Graph) AddPow(node, x, out string, exponent float32) error {
	b := &builder{g: g, node: node, op: "Pow", final: out}
	var err error
	switch exponent {
	case 1:
		_, err = b.add(OpIdentity, "", out, Attrs{}, x)
	case 2:
		_, err = b.add(OpMul, "", out, Attrs{}, x, x)
	case 3:
		var sq string
		if sq, err = b.add(OpMul, "square", "", Attrs{}, x, x); err == nil {
			_, err = b.add(OpMul, "", out, Attrs{}, sq, x)
		}
	case 0.5:
		_, err = b.add(OpSqrt, "", out, Attrs{}, x)
	case -1:
		_, err = b.add(OpReciprocal, "", out, Attrs{}, x)
	case -0.5:
		_, err = b.add(OpRsqrt, "", out, Attrs{}, x)
	default:
		return b.errorf("exponent %v is not supported (only 1, 2, 3, 0.5, -1 and -0.5)", exponent)
	}
	return err
}

// AddDepthToSpace adds DepthToSpace with block size block of the 4-D x in
// layout, computing out. mode is "DCR" (ONNX's default and TensorFlow's
// order: the channel index is (i·block + j)·C′ + c for output pixel offset
// (i, j) and output channel c) or "CRD" (c·block² + i·block + j).
func (g *Graph) AddDepthToSpace(node, x, out string, layout Layout, block int, mode string) error {
	b := &builder{g: g, node: node, op: "DepthToSpace", final: out}
	xs, err := b.blockShape(x, block)
	if err != nil {
		return err
	}
	cAx := layout.ChannelAxis()
	if xs[cAx]%(block*block) != 0 {
		return b.errorf("channels %d are not a multiple of blocksize² %d", xs[cAx], block*block)
	}
	n, c2 := xs[0], xs[cAx]/(block*block)
	var six Shape
	var perm []int
	var res Shape
	switch {
	case layout == NCHW && mode == "DCR":
		h, w := xs[2], xs[3]
		six, perm, res = Shape{n, block, block, c2, h, w}, []int{0, 3, 4, 1, 5, 2}, Shape{n, c2, h * block, w * block}
	case layout == NCHW && mode == "CRD":
		h, w := xs[2], xs[3]
		six, perm, res = Shape{n, c2, block, block, h, w}, []int{0, 1, 4, 2, 5, 3}, Shape{n, c2, h * block, w * block}
	case layout == NHWC && mode == "DCR":
		h, w := xs[1], xs[2]
		six, perm, res = Shape{n, h, w, block, block, c2}, []int{0, 1, 3, 2, 4, 5}, Shape{n, h * block, w * block, c2}
	case layout == NHWC && mode == "CRD":
		h, w := xs[1], xs[2]
		six, perm, res = Shape{n, h, w, c2, block, block}, []int{0, 1, 4, 2, 5, 3}, Shape{n, h * block, w * block, c2}
	default:
		return b.errorf("mode %q is not supported (only DCR and CRD)", mode)
	}
	return b.shuffle(x, out, six, perm, res)
}

// AddSpaceToDepth adds SpaceToDepth, the inverse of AddDepthToSpace in the
// same mode (ONNX's SpaceToDepth and TensorFlow's are "DCR").
func (g *Graph) AddSpaceToDepth(node, x, out string, layout Layout, block int, mode string) error {
	b := &builder{g: g, node: node, op: "SpaceToDepth", final: out}
	xs, err := b.blockShape(x, block)
	if err != nil {
		return err
	}
	hAx, wAx := layout.SpatialAxes()
	if xs[hAx]%block != 0 || xs[wAx]%block != 0 {
		return b.errorf("spatial size %d×%d is not a multiple of blocksize %d", xs[hAx], xs[wAx], block)
	}
	n, c := xs[0], xs[layout.ChannelAxis()]
	h, w := xs[hAx]/block, xs[wAx]/block
	var six Shape
	var perm []int
	var res Shape
	switch {
	case layout == NCHW && mode == "DCR":
		six, perm, res = Shape{n, c, h, block, w, block}, []int{0, 3, 5, 1, 2, 4}, Shape{n, c * block * block, h, w}
	case layout == NCHW && mode == "CRD":
		six, perm, res = Shape{n, c, h, block, w, block}, []int{0, 1, 3, 5, 2, 4}, Shape{n, c * block * block, h, w}
	case layout == NHWC && mode == "DCR":
		six, perm, res = Shape{n, h, block, w, block, c}, []int{0, 1, 3, 2, 4, 5}, Shape{n, h, w, c * block * block}
	case layout == NHWC && mode == "CRD":
		six, perm, res = Shape{n, h, block, w, block, c}, []int{0, 1, 3, 5, 2, 4}, Shape{n, h, w, c * block * block}
	default:
		return b.errorf("mode %q is not supported (only DCR and CRD)", mode)
	}
	return b.shuffle(x, out, six, perm, res)
}

// blockShape checks the input and block size of DepthToSpace/SpaceToDepth.
func (b *builder) blockShape(x string, block int) (Shape, error) {
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	if len(xs) != 4 {
		return nil, b.errorf("input must be 4-D, got %v", xs)
	}
	if block < 1 || block > MaxElements/block {
		return nil, b.errorf("blocksize %d is not valid", block)
	}
	return xs, nil
}

// shuffle adds Reshape(six) → Transpose(perm) → Reshape(res).
func (b *builder) shuffle(x, out string, six Shape, perm []int, res Shape) error {
	r, err := b.reshape(x, "blocks", "", six)
	if err != nil {
		return err
	}
	if r, err = b.add(OpTranspose, "transpose", "", Attrs{Perm: perm}, r); err != nil {
		return err
	}
	_, err = b.reshape(r, "", out, res)
	return err
}

// AddTile adds x repeated repeats[i] times along each axis i, computing
// out, as a Concat of copies per repeated axis.
func (g *Graph) AddTile(node, x, out string, repeats []int) error {
	b := &builder{g: g, node: node, op: "Tile", final: out}
	xs, err := b.shape(x)
	if err != nil {
		return err
	}
	if len(repeats) != len(xs) {
		return b.errorf("repeats %v for an input of rank %d", repeats, len(xs))
	}
	var axes []int
	for i, r := range repeats {
		if r < 0 {
			return b.errorf("repeats %v has a negative value", repeats)
		}
		if r == 0 {
			return b.errorf("repeats %v has a zero: the output would be empty", repeats)
		}
		if r > MaxElements/max(1, xs[i]) {
			return b.errorf("repeats %v make the output too large", repeats)
		}
		if r > 1 {
			axes = append(axes, i)
		}
	}
	if len(axes) == 0 {
		_, err := b.add(OpIdentity, "", out, Attrs{}, x)
		return err
	}
	cur := x
	for k, ax := range axes {
		if cur, err = b.repeat(cur, ax, repeats[ax], last(k == len(axes)-1, out)); err != nil {
			return err
		}
	}
	return nil
}

// repeat concatenates r copies of x along axis: in one Concat for a few
// copies, else by doubling (x, x·2, x·4 …, concatenated by r's bits), so
// that the nodes stay few however large r is.
func (b *builder) repeat(x string, axis, r int, out string) (string, error) {
	const few = 64
	var parts []string
	if r <= few {
		parts = make([]string, r)
		for i := range parts {
			parts[i] = x
		}
	} else {
		pow := x
		for bits := r; ; {
			if bits&1 != 0 {
				parts = append(parts, pow)
			}
			if bits >>= 1; bits == 0 {
				break
			}
			var err error
			if pow, err = b.add(OpConcat, "tile_double", "", Attrs{Axis: axis}, pow, pow); err != nil {
				return "", err
			}
		}
	}
	return b.add(OpConcat, "tile", out, Attrs{Axis: axis}, parts...)
}

// AddSplit adds the parts of x along axis with the given sizes (which
// must add up to the axis), computing outs[i] as a Slice each (named
// after outs[i] when there are several; an empty name skips a part).
func (g *Graph) AddSplit(node, x string, outs []string, axis int, sizes []int) error {
	b := &builder{g: g, node: node, op: "Split"}
	if len(outs) == 1 {
		b.final = outs[0]
	}
	xs, err := b.shape(x)
	if err != nil {
		return err
	}
	ax, err := normAxis(axis, len(xs))
	if err != nil {
		return b.errorf("%v", err)
	}
	if len(sizes) != len(outs) {
		return b.errorf("%d sizes for %d outputs", len(sizes), len(outs))
	}
	sum := 0
	for _, s := range sizes {
		if s < 0 || s > MaxElements {
			return b.errorf("split sizes %v are not valid", sizes)
		}
		sum += s
	}
	if sum != xs[ax] {
		return b.errorf("split sizes %v add up to %d, axis %d has %d", sizes, sum, ax, xs[ax])
	}
	start := 0
	for i, s := range sizes {
		if outs[i] == "" {
			start += s
			continue
		}
		if _, err := b.slice(x, "split", outs[i], ax, start, start+s); err != nil {
			return err
		}
		start += s
	}
	return nil
}

// AddElu adds scale·ELU_α(x) — x for x > 0, α·(e^x − 1) otherwise — as
// Relu(x) + α·(Exp(min(x, 0)) − 1), times scale unless it is 1: ONNX's
// Elu (scale 1) and Selu, TensorFlow's Elu and Selu. The exponential sees
// only non-positive values (a Clip to (−∞, 0]), which the fixed-point
// compiler computes without a traced range.
func (g *Graph) AddElu(node, x, out string, alpha, scale float32) error {
	b := &builder{g: g, node: node, op: "Elu", final: out}
	r, err := b.add(OpRelu, "pos", "", Attrs{}, x)
	if err != nil {
		return err
	}
	m, err := b.add(OpClip, "neg", "", Attrs{Min: -math.MaxFloat32, Max: 0}, x)
	if err != nil {
		return err
	}
	e, err := b.add(OpExp, "exp", "", Attrs{}, m)
	if err != nil {
		return err
	}
	minus1, err := b.konst("minus1", FloatTensor(Shape{}, []float32{-1}))
	if err != nil {
		return err
	}
	em1, err := b.add(OpAdd, "expm1", "", Attrs{}, e, minus1)
	if err != nil {
		return err
	}
	a, err := b.konst("alpha", FloatTensor(Shape{}, []float32{alpha}))
	if err != nil {
		return err
	}
	neg, err := b.add(OpMul, "scaled", "", Attrs{}, em1, a)
	if err != nil {
		return err
	}
	if scale == 1 {
		_, err = b.add(OpAdd, "", out, Attrs{}, r, neg)
		return err
	}
	sum, err := b.add(OpAdd, "sum", "", Attrs{}, r, neg)
	if err != nil {
		return err
	}
	s, err := b.konst("scale", FloatTensor(Shape{}, []float32{scale}))
	if err != nil {
		return err
	}
	_, err = b.add(OpMul, "", out, Attrs{}, sum, s)
	return err
}

// AddGatherND adds GatherND (batch_dims 0) of x at the constant indices
// idx (an integer tensor whose last dimension k indexes x's first k
// dimensions), computing out: x reshaped so that its first k dimensions
// are one, and a Gather along it at the flattened indices, which has
// GatherND's shape [idx.Shape[:-1]…, x.Shape[k:]…]. The fixed-point
// compiler turns that Gather into data movement.
func (g *Graph) AddGatherND(node, x, out string, idx *Tensor) error {
	b := &builder{g: g, node: node, op: "GatherND", final: out}
	xs, err := b.shape(x)
	if err != nil {
		return err
	}
	is, err := idx.Ints()
	if err != nil {
		return b.errorf("indices: %v", err)
	}
	if len(idx.Shape) == 0 {
		return b.errorf("indices are a scalar")
	}
	k := idx.Shape[len(idx.Shape)-1]
	if k < 1 || k > len(xs) {
		return b.errorf("indices of depth %d for data of rank %d", k, len(xs))
	}
	flat := make([]int64, len(is)/k)
	for p := range flat {
		var l int64
		for j := range k {
			i := is[p*k+j]
			if i < 0 {
				i += int64(xs[j])
			}
			if i < 0 || i >= int64(xs[j]) {
				return b.errorf("index %d out of range for dimension %d of size %d", is[p*k+j], j, xs[j])
			}
			l = l*int64(xs[j]) + i
		}
		flat[p] = l
	}
	lead := 1
	for _, d := range xs[:k] {
		lead *= d
	}
	x2, err := b.reshape(x, "flat", "", append(Shape{lead}, xs[k:]...))
	if err != nil {
		return err
	}
	if err := b.reserve(int64(len(flat))); err != nil {
		return err
	}
	li, err := b.konst("indices", IntTensor(idx.Shape[:len(idx.Shape)-1].Clone(), flat))
	if err != nil {
		return err
	}
	_, err = b.add(OpGather, "", out, Attrs{Axis: 0}, x2, li)
	return err
}
