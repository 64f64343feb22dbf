package tf

import (
	"errors"
	"fmt"
	"slices"

	"veil/ir"
)

// converters maps each supported TensorFlow op to the function that
// lowers it onto IR nodes.
var converters map[string]func(*builder, *NodeDef) error

func init() {
	identity := (*builder).identity
	converters = map[string]func(*builder, *NodeDef) error{
		"Placeholder": (*builder).placeholder,
		"Const":       (*builder).constant,
		"NoOp": func(*builder, *NodeDef) error {
			return errors.New("NoOp has no outputs; it can only be a control input")
		},

		// Ops that pass their input through at inference.
		"Identity":        identity,
		"StopGradient":    identity,
		"PreventGradient": identity,
		"Snapshot":        identity,
		"CheckNumerics":   identity,
		"EnsureShape":     identity,
		"IdentityN":       (*builder).identityN,

		// Control flow with a constant predicate (control.go).
		"If":          (*builder).ifOp,
		"StatelessIf": (*builder).ifOp,

		// Convolutions and products (ops.go, fused.go, image.go).
		"Conv2D":                     func(b *builder, n *NodeDef) error { return b.conv(n, false, false) },
		"_FusedConv2D":               func(b *builder, n *NodeDef) error { return b.conv(n, false, true) },
		"DepthwiseConv2dNative":      func(b *builder, n *NodeDef) error { return b.conv(n, true, false) },
		"FusedDepthwiseConv2dNative": func(b *builder, n *NodeDef) error { return b.conv(n, true, true) },
		// TensorFlow's own name for the TF.js op above.
		"_FusedDepthwiseConv2dNative": func(b *builder, n *NodeDef) error { return b.conv(n, true, true) },
		"MatMul":                      func(b *builder, n *NodeDef) error { return b.matmul(n, false) },
		"_FusedMatMul":                func(b *builder, n *NodeDef) error { return b.matmul(n, true) },
		"BatchMatMul":                 (*builder).batchMatMul,
		"BatchMatMulV2":               (*builder).batchMatMul,
		"BatchMatMulV3":               (*builder).batchMatMul,
		"BiasAdd":                     (*builder).biasAdd,
		"MaxPool":                     func(b *builder, n *NodeDef) error { return b.pool(n, ir.OpMaxPool) },
		"AvgPool":                     func(b *builder, n *NodeDef) error { return b.pool(n, ir.OpAvgPool) },
		"FusedBatchNorm":              (*builder).batchNorm,
		"FusedBatchNormV2":            (*builder).batchNorm,
		"FusedBatchNormV3":            (*builder).batchNorm,

		// Element-wise arithmetic and activations (elementwise.go).
		"Add":               binaryOp(ir.OpAdd),
		"AddV2":             binaryOp(ir.OpAdd),
		"AddN":              (*builder).addN,
		"Sub":               binaryOp(ir.OpSub),
		"Mul":               (*builder).mul,
		"RealDiv":           (*builder).div,
		"Div":               (*builder).div,
		"FloorDiv":          (*builder).floorDiv,
		"Equal":             binaryOp(ir.OpEqual),
		"Maximum":           (*builder).minMax,
		"Minimum":           (*builder).minMax,
		"Pow":               (*builder).pow,
		"Square":            (*builder).square,
		"SquaredDifference": (*builder).square,
		"Sqrt":              unaryOp(ir.OpSqrt),
		"Rsqrt":             unaryOp(ir.OpRsqrt),
		"Exp":               unaryOp(ir.OpExp),
		"Log":               unaryOp(ir.OpLog),
		"Abs":               unaryOp(ir.OpAbs),
		"Neg":               unaryOp(ir.OpNeg),
		"Reciprocal":        unaryOp(ir.OpReciprocal),
		"Inv":               unaryOp(ir.OpReciprocal),
		"Floor":             unaryOp(ir.OpFloor),
		"Erf":               unaryOp(ir.OpErf),
		"Softplus":          unaryOp(ir.OpSoftplus),
		"Relu":              unaryOp(ir.OpRelu),
		"Relu6":             unaryOp(ir.OpClip),
		"LeakyRelu":         unaryOp(ir.OpLeakyRelu),
		"Prelu":             (*builder).prelu,
		"Sigmoid":           unaryOp(ir.OpSigmoid),
		"Tanh":              unaryOp(ir.OpTanh),
		"Elu":               (*builder).elu,
		"Selu":              (*builder).elu,
		"Softmax":           (*builder).softmax,
		"LogSoftmax":        (*builder).logSoftmax,
		"Cast":              (*builder).cast,

		// Reductions (reduce.go).
		"Mean":   (*builder).reduce,
		"Sum":    (*builder).reduce,
		"Max":    (*builder).reduce,
		"Min":    (*builder).reduce,
		"Prod":   (*builder).reduce,
		"ArgMax": (*builder).argMax,

		// Data movement and shape arithmetic (shapes.go, stridedslice.go).
		"Reshape":       (*builder).reshape,
		"Squeeze":       (*builder).squeeze,
		"ExpandDims":    (*builder).expandDims,
		"ConcatV2":      (*builder).concat,
		"Concat":        (*builder).concat,
		"Pack":          (*builder).pack,
		"Unpack":        (*builder).unpack,
		"Pad":           (*builder).pad,
		"PadV2":         (*builder).pad,
		"MirrorPad":     unsupported("MirrorPad is not supported (only constant padding)"),
		"Slice":         (*builder).sliceOp,
		"StridedSlice":  (*builder).stridedSlice,
		"Transpose":     (*builder).transpose,
		"Tile":          (*builder).tile,
		"Split":         (*builder).split,
		"SplitV":        (*builder).split,
		"GatherV2":      (*builder).gather,
		"Gather":        (*builder).gather,
		"GatherNd":      (*builder).gatherNd,
		"SparseToDense": (*builder).sparseToDense,
		"Shape":         (*builder).shapeOf,
		"Size":          (*builder).sizeOrRank,
		"Rank":          (*builder).sizeOrRank,
		"Fill":          (*builder).fill,
		"Range":         (*builder).rangeOp,
		"ZerosLike":     (*builder).likeOp,
		"OnesLike":      (*builder).likeOp,

		// Image ops (image.go).
		"ResizeBilinear":        (*builder).resize,
		"ResizeNearestNeighbor": (*builder).resize,
		"DepthToSpace":          (*builder).blockShuffle,
		"SpaceToDepth":          (*builder).blockShuffle,
		"Conv2DBackpropInput":   (*builder).convBackpropInput,
	}
}

func (b *builder) placeholder(n *NodeDef) error {
	if _, err := dataInputs(n, 0, 0); err != nil {
		return err
	}
	if t, ok := b.opt.Constants[n.Name]; ok {
		if err := b.g.AddConst(n.Name, t); err != nil {
			return err
		}
		b.vals[n.Name] = n.Name
		return nil
	}
	// Integer inputs (pixels as int32) are fed as real values; the graph's
	// Cast to float then changes nothing.
	if a := n.attr("dtype"); a != nil && a.Kind == AttrType && a.Type != DTFloat && a.Type != DTDouble && a.Type != DTHalf && a.Type != DTBFloat16 && (elemSize(a.Type) == 0 || a.Type == DTBool) {
		return fmt.Errorf("input type %v is not supported (only numeric inputs)", a.Type)
	}
	var shape ir.Shape
	if s, ok := b.opt.InputShapes[n.Name]; ok {
		shape = ir.Shape(slices.Clone(s))
	} else if b.opt.InputShape != nil {
		if b.placeholders != 1 {
			return fmt.Errorf("an input shape without a name is ambiguous: the graph has %d inputs; name each (--input-shape NAME=DIMS)", b.placeholders)
		}
		shape = ir.Shape(slices.Clone(b.opt.InputShape))
	} else {
		a := n.attr("shape")
		if a == nil || a.Kind != AttrShape || a.Shape == nil || a.Shape.UnknownRank {
			return errors.New("input shape is unknown; give it (--input-shape NAME=DIMS)")
		}
		for i, d := range a.Shape.Dims {
			switch {
			case d == -1 && i == 0:
				d = 1
			case d < 0:
				return fmt.Errorf("dimension %d of input shape %v is unknown; give the shape (--input-shape NAME=DIMS)", i, a.Shape)
			case d > int64(maxTensorElements):
				return fmt.Errorf("input shape %v is too large", a.Shape)
			}
			shape = append(shape, int(d))
		}
	}
	if _, err := numElements(int64s(shape)); err != nil {
		return fmt.Errorf("input: %w", err)
	}
	if err := b.g.AddInput(n.Name, shape); err != nil {
		return err
	}
	b.vals[n.Name] = n.Name
	return nil
}

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

func (b *builder) constant(n *NodeDef) error {
	if _, err := dataInputs(n, 0, 0); err != nil {
		return err
	}
	a := n.attr("value")
	if a == nil || a.Kind != AttrTensor || a.Tensor == nil {
		return errors.New("has no tensor value")
	}
	t := a.Tensor
	shape := make(ir.Shape, len(t.Shape))
	for i, d := range t.Shape {
		shape[i] = int(d)
	}
	size, err := shape.CheckedSize(ir.MaxElements)
	if err != nil {
		return fmt.Errorf("constant: %w", err)
	}
	var v *ir.Tensor
	switch {
	case t.DType.isFloat() && len(t.Floats) == size:
		v = ir.FloatTensor(shape, t.Floats)
	case t.DType.isInt() && len(t.Ints) == size:
		v = ir.IntTensor(shape, t.Ints)
	default:
		return fmt.Errorf("constant of type %v is not supported", t.DType)
	}
	if err := b.g.AddConst(n.Name, v); err != nil {
		return err
	}
	b.vals[n.Name] = n.Name
	return nil
}

// identity makes n's output another name for its input.
func (b *builder) identity(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	b.vals[n.Name] = ins[0]
	return nil
}

// padding returns IR pads [top, left, bottom, right] for a window of kh×kw
// with strides s over the NHWC input x, as n's padding attribute says.
// TensorFlow's SAME pads (out-1)*s + k - in in total, the smaller half
// before.
func padding(n *NodeDef, x ir.Shape, kh, kw int, s []int, allowExplicit bool) ([]int, error) {
	mode, err := attrString(n, "padding", "")
	if err != nil {
		return nil, err
	}
	switch mode {
	case "VALID":
		return []int{0, 0, 0, 0}, nil
	case "SAME":
		th, bh := samePads(x[1], kh, s[0])
		tw, bw := samePads(x[2], kw, s[1])
		return []int{th, tw, bh, bw}, nil
	case "EXPLICIT":
		if !allowExplicit {
			break
		}
		p, err := attrInts(n, "explicit_paddings", nil)
		if err != nil {
			return nil, err
		}
		if len(p) != 8 || p[0] != 0 || p[1] != 0 || p[6] != 0 || p[7] != 0 {
			return nil, fmt.Errorf("explicit_paddings %v: want 8 values, zero for batch and channels", p)
		}
		for _, v := range p {
			if v < 0 || v > 1<<20 {
				return nil, fmt.Errorf("explicit_paddings %v out of range", p)
			}
		}
		return []int{int(p[2]), int(p[4]), int(p[3]), int(p[5])}, nil
	}
	return nil, fmt.Errorf("padding %q is not supported", mode)
}

// samePads splits TensorFlow's SAME padding of a window k with stride s
// over n elements into before and after.
func samePads(n, k, s int) (int, int) {
	out := (n + s - 1) / s
	total := max((out-1)*s+k-n, 0)
	return total / 2, total - total/2
}

// windowStrides reads a 4-element NHWC strides (or ksize) attribute whose
// batch and channel entries must be 1, and returns [H, W].
func windowStrides(n *NodeDef, key string) ([]int, error) {
	s, err := attrInts(n, key, nil)
	if err != nil {
		return nil, err
	}
	if len(s) != 4 || s[0] != 1 || s[3] != 1 || s[1] < 1 || s[2] < 1 || s[1] > 1<<20 || s[2] > 1<<20 {
		return nil, fmt.Errorf("%s %v: want [1, h, w, 1] with positive h and w", key, s)
	}
	return []int{int(s[1]), int(s[2])}, nil
}

// conv lowers Conv2D, DepthwiseConv2dNative and their fused forms.
func (b *builder) conv(n *NodeDef, depthwise, fused bool) error {
	lo, hi := 2, 2
	if fused {
		lo, hi = 2, 6
	}
	ins, err := b.ins(n, lo, hi)
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
	x, f := ins[0], ins[1]
	xs, fs := b.shape(x), b.shape(f)
	if len(xs) != 4 {
		return fmt.Errorf("input %v is not 4-D NHWC", xs)
	}
	if len(fs) != 4 {
		return fmt.Errorf("filter %v is not 4-D", fs)
	}
	var w string
	group := 1
	if depthwise {
		// [KH, KW, C, M] → [C, M, KH, KW] → [C·M, 1, KH, KW], group C.
		t := b.newName(n.Name + "/filter")
		if err := b.add(ir.OpTranspose, t, []string{f}, ir.Attrs{Perm: []int{2, 3, 0, 1}}); err != nil {
			return err
		}
		shape, err := b.intConst(n.Name+"/filter_shape", ir.Shape{4}, []int64{int64(fs[2] * fs[3]), 1, int64(fs[0]), int64(fs[1])})
		if err != nil {
			return err
		}
		w = b.newName(n.Name + "/filter")
		if err := b.add(ir.OpReshape, w, []string{t, shape}, ir.Attrs{AllowZero: true}); err != nil {
			return err
		}
		group = fs[2]
		if xs[3] != fs[2] {
			return fmt.Errorf("input %v has %d channels, filter %v expects %d", xs, xs[3], fs, fs[2])
		}
	} else {
		// [KH, KW, I, O] → [O, I, KH, KW]; I < C means grouped convolution.
		w = b.newName(n.Name + "/filter")
		if err := b.add(ir.OpTranspose, w, []string{f}, ir.Attrs{Perm: []int{3, 2, 0, 1}}); err != nil {
			return err
		}
		if fs[2] < 1 || xs[3]%fs[2] != 0 {
			return fmt.Errorf("input %v has %d channels, not a multiple of the filter's %d (filter %v)", xs, xs[3], fs[2], fs)
		}
		group = xs[3] / fs[2]
	}
	pads, err := padding(n, xs, fs[0], fs[1], strides, true)
	if err != nil {
		return err
	}
	a := ir.Attrs{Strides: strides, Pads: pads, Group: group, Layout: ir.NHWC}
	convIns := []string{x, w}
	var after []step
	if fused {
		bias, rest, err := b.fusedOps(n, ins[2:], true)
		if err != nil {
			return err
		}
		if bias != "" {
			convIns = append(convIns, bias)
		}
		after = rest
	}
	return b.chain(n, ir.OpConv, convIns, a, after)
}

// matmul lowers MatMul and _FusedMatMul (2-D, optional transposes).
func (b *builder) matmul(n *NodeDef, fused bool) error {
	lo, hi := 2, 2
	if fused {
		lo, hi = 2, 4
	}
	ins, err := b.ins(n, lo, hi)
	if err != nil {
		return err
	}
	operands := ins[:2]
	for i, key := range []string{"transpose_a", "transpose_b"} {
		if len(b.shape(operands[i])) != 2 {
			return fmt.Errorf("operand %d has shape %v; MatMul is 2-D", i, b.shape(operands[i]))
		}
		t, err := attrBool(n, key, false)
		if err != nil {
			return err
		}
		if t {
			name := b.newName(n.Name + "/" + key)
			if err := b.add(ir.OpTranspose, name, []string{operands[i]}, ir.Attrs{Perm: []int{1, 0}}); err != nil {
				return err
			}
			operands[i] = name
		}
	}
	var steps []step
	if fused {
		if _, steps, err = b.fusedOps(n, ins[2:], false); err != nil {
			return err
		}
		if steps[0].op == ir.OpAdd {
			// As BiasAdd: a vector over the product's columns.
			cols := b.shape(operands[1])[1]
			if bs := b.shape(ins[2]); len(bs) != 1 || bs[0] != cols {
				return fmt.Errorf("bias %v does not match the product's %d columns", bs, cols)
			}
		}
	}
	return b.chain(n, ir.OpMatMul, operands, ir.Attrs{}, steps)
}

// batchMatMul lowers BatchMatMul, BatchMatMulV2 and BatchMatMulV3: the
// IR's MatMul, which broadcasts batch dimensions as V2 does, after
// transposing the last two dimensions of an operand marked adj_x or adj_y.
func (b *builder) batchMatMul(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	for i, key := range []string{"adj_x", "adj_y"} {
		r := len(b.shape(ins[i]))
		if r < 2 {
			return fmt.Errorf("operand %d has shape %v; BatchMatMul needs rank 2 or more", i, b.shape(ins[i]))
		}
		t, err := attrBool(n, key, false)
		if err != nil {
			return err
		}
		if t {
			perm := make([]int, r)
			for j := range perm {
				perm[j] = j
			}
			perm[r-2], perm[r-1] = r-1, r-2
			name := b.newName(n.Name + "/" + key)
			if err := b.add(ir.OpTranspose, name, []string{ins[i]}, ir.Attrs{Perm: perm}); err != nil {
				return err
			}
			ins[i] = name
		}
	}
	return b.emit(n, ir.OpMatMul, ins, ir.Attrs{})
}

func (b *builder) biasAdd(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	if err := checkNHWC(n); err != nil {
		return err
	}
	xs, bs := b.shape(ins[0]), b.shape(ins[1])
	if len(bs) != 1 || len(xs) < 1 || xs[len(xs)-1] != bs[0] {
		return fmt.Errorf("bias %v does not match the last dimension of %v", bs, xs)
	}
	return b.emit(n, ir.OpAdd, ins, ir.Attrs{})
}

func (b *builder) pool(n *NodeDef, op ir.Op) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	if err := checkNHWC(n); err != nil {
		return err
	}
	k, err := windowStrides(n, "ksize")
	if err != nil {
		return err
	}
	s, err := windowStrides(n, "strides")
	if err != nil {
		return err
	}
	xs := b.shape(ins[0])
	if len(xs) != 4 {
		return fmt.Errorf("input %v is not 4-D NHWC", xs)
	}
	pads, err := padding(n, xs, k[0], k[1], s, op == ir.OpMaxPool)
	if err != nil {
		return err
	}
	// TensorFlow's average pooling divides by the window's elements inside
	// the input: padding is not counted.
	return b.emit(n, op, ins, ir.Attrs{Kernel: k, Strides: s, Pads: pads, Layout: ir.NHWC})
}

// axes reads constant reduction axes for a value of rank r, normalized to
// [0, r).
func (b *builder) axes(v string, r int, what string) ([]int, error) {
	xs, err := b.constInts(v, what)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(xs))
	for i, a := range xs {
		if a < -int64(r) || a >= int64(r) {
			return nil, fmt.Errorf("%s %v out of range for rank %d", what, xs, r)
		}
		if a < 0 {
			a += int64(r)
		}
		out[i] = int(a)
	}
	return out, nil
}

func (b *builder) reshape(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	if _, err := b.constInts(ins[1], "shape"); err != nil {
		return err
	}
	// TensorFlow's 0 is a zero-sized dimension, not "copy" as in ONNX.
	return b.emit(n, ir.OpReshape, ins, ir.Attrs{AllowZero: true})
}

func (b *builder) squeeze(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	xs := b.shape(ins[0])
	dims, err := attrInts(n, "squeeze_dims", nil)
	if err != nil {
		return err
	}
	if len(dims) == 0 {
		if dims, err = attrInts(n, "axis", nil); err != nil {
			return err
		}
	}
	drop := make([]bool, len(xs))
	for _, d := range dims {
		if d < -int64(len(xs)) || d >= int64(len(xs)) {
			return fmt.Errorf("squeeze_dims %v out of range for shape %v", dims, xs)
		}
		if d < 0 {
			d += int64(len(xs))
		}
		if xs[d] != 1 {
			return fmt.Errorf("cannot squeeze dimension %d of shape %v: it is not 1", d, xs)
		}
		drop[d] = true
	}
	out := []int64{}
	for i, s := range xs {
		if !drop[i] && !(len(dims) == 0 && s == 1) {
			out = append(out, int64(s))
		}
	}
	shape, err := b.intConst(n.Name+"/shape", ir.Shape{len(out)}, out)
	if err != nil {
		return err
	}
	return b.emit(n, ir.OpReshape, []string{ins[0], shape}, ir.Attrs{AllowZero: true})
}

func (b *builder) concat(n *NodeDef) error {
	ins, err := b.ins(n, 2, 1<<20)
	if err != nil {
		return err
	}
	axisIn, vals := ins[len(ins)-1], ins[:len(ins)-1]
	if n.Op == "Concat" {
		axisIn, vals = ins[0], ins[1:]
	}
	ax, err := b.constInts(axisIn, "axis")
	if err != nil {
		return err
	}
	if len(ax) != 1 {
		return fmt.Errorf("axis has %d elements, want 1", len(ax))
	}
	r := len(b.shape(vals[0]))
	if ax[0] < -int64(r) || ax[0] >= int64(r) {
		return fmt.Errorf("axis %d out of range for rank %d", ax[0], r)
	}
	return b.emit(n, ir.OpConcat, vals, ir.Attrs{Axis: int(ax[0])})
}

func (b *builder) pad(n *NodeDef) error {
	lo, hi := 2, 2
	if n.Op == "PadV2" {
		lo, hi = 3, 3
	}
	ins, err := b.ins(n, lo, hi)
	if err != nil {
		return err
	}
	r := len(b.shape(ins[0]))
	p, err := b.constInts(ins[1], "paddings")
	if err != nil {
		return err
	}
	if ps := b.shape(ins[1]); len(ps) != 2 || ps[0] != r || ps[1] != 2 {
		return fmt.Errorf("paddings has shape %v, want [%d, 2]", ps, r)
	}
	pads := make([]int, 2*r)
	for i := 0; i < r; i++ {
		if p[2*i] < 0 || p[2*i+1] < 0 || p[2*i] > 1<<20 || p[2*i+1] > 1<<20 {
			return fmt.Errorf("paddings %v out of range", p)
		}
		pads[i], pads[r+i] = int(p[2*i]), int(p[2*i+1])
	}
	a := ir.Attrs{Pads: pads}
	if n.Op == "PadV2" {
		c := b.g.Const(ins[2])
		if c == nil || c.Len() != 1 {
			return errors.New("constant_values must be a constant scalar")
		}
		a.PadValue = c.Floats()[0]
	}
	return b.emit(n, ir.OpPad, ins[:1], a)
}

func (b *builder) batchNorm(n *NodeDef) error {
	ins, err := b.ins(n, 5, 5)
	if err != nil {
		return err
	}
	training, err := attrBool(n, "is_training", true)
	if err != nil {
		return err
	}
	if training {
		return errors.New("is_training=true is not supported (inference only)")
	}
	if err := checkNHWC(n); err != nil {
		return err
	}
	eps, err := attrFloat(n, "epsilon", 0.0001)
	if err != nil {
		return err
	}
	if len(b.shape(ins[0])) < 1 {
		return errors.New("input is a scalar")
	}
	return b.emit(n, ir.OpBatchNorm, ins, ir.Attrs{Epsilon: eps, Axis: -1})
}

func (b *builder) softmax(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	if len(b.shape(ins[0])) < 1 {
		return errors.New("input is a scalar")
	}
	return b.emit(n, ir.OpSoftmax, ins, ir.Attrs{Axis: -1})
}

func (b *builder) argMax(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	ax, err := b.axes(ins[1], len(b.shape(ins[0])), "dimension")
	if err != nil {
		return err
	}
	if len(ax) != 1 {
		return fmt.Errorf("dimension has %d elements, want 1", len(ax))
	}
	return b.emit(n, ir.OpArgMax, ins[:1], ir.Attrs{Axis: ax[0]})
}

// noDilations refuses a convolution whose dilations are not all 1.
func noDilations(n *NodeDef) error {
	d, err := attrInts(n, "dilations", []int64{1, 1, 1, 1})
	if err != nil {
		return err
	}
	for _, v := range d {
		if v != 1 {
			return fmt.Errorf("dilations %v are not supported (only 1)", d)
		}
	}
	return nil
}
