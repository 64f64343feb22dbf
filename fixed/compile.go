package fixed

import (
	"fmt"
	"math"

	"veil/ir"
)

// PublicShift is the scale of public constants (1/k of an average, the
// slope of a leaky ReLU): they are encoded as round(c·2^PublicShift) and
// the product is scaled down by PublicShift.
const PublicShift = 16

// Compile converts an optimized float graph (see ir.Optimize: no
// BatchNorm or Identity left) into a fixed-point program at scale s.
// A trailing Sigmoid, or Softmax or LogSoftmax over the last axis, is not
// computed securely: it is monotone, so the program outputs its input and
// records it in Post for the output's receiver to apply in the clear.
func Compile(g *ir.Graph, s int) (*Program, error) {
	return CompileWith(g, s, Options{})
}

// Options are the choices of CompileWith beyond the scale.
type Options struct {
	// Ranges holds, for float values of the graph, the interval [min, max]
	// their elements reached on calibration data (see TraceRanges): the
	// domain of the reciprocals, square roots and exponentials of secret
	// values, whose approximations hold on a bounded range only.
	Ranges map[string][2]float64
	// Calibration, when set, are inputs to trace the program's
	// comparison bound on (see TraceCompareBits).
	Calibration []Example
}

// CompileWith is Compile with options.
func CompileWith(g *ir.Graph, s int, opt Options) (*Program, error) {
	if s < 1 || s > 30 {
		return nil, fmt.Errorf("scale %d out of range [1, 30]", s)
	}
	c := &compiler{g: g, s: s, ids: map[string]int{}, weights: map[string]int{}, ranges: opt.Ranges,
		p: &Program{Name: g.Name, Scale: s, PublicShift: PublicShift, Layout: g.Layout.String()}}
	for _, in := range g.Inputs {
		id := c.add(&Tensor{Name: in, Shape: g.Values[in].Shape.Clone(), Kind: KindInput, Scale: s, Node: in})
		c.ids[in] = id
		c.p.Inputs = append(c.p.Inputs, id)
	}
	outputs := append([]string(nil), g.Outputs...)
	producers := map[string]*ir.Node{}
	for _, n := range g.Nodes {
		producers[n.Output] = n
	}
	if len(outputs) == 1 {
		if n := producers[outputs[0]]; n != nil {
			rank := len(g.Values[n.Output].Shape)
			lastAxis := n.Attrs.Axis == -1 || n.Attrs.Axis == rank-1
			switch {
			case n.Op == ir.OpSigmoid:
				c.p.Post = "sigmoid"
			case n.Op == ir.OpSoftmax && lastAxis:
				c.p.Post = "softmax"
			case n.Op == ir.OpLogSoftmax && lastAxis:
				c.p.Post = "logsoftmax"
			}
			if c.p.Post != "" {
				c.post = n
				outputs[0] = n.Inputs[0]
			}
		}
	}
	isOut := map[string]bool{}
	for _, o := range outputs {
		isOut[o] = true
	}
	for _, n := range g.Nodes {
		if n == c.post {
			continue
		}
		if err := c.node(n, isOut[n.Output]); err != nil {
			return nil, err
		}
	}
	for _, o := range outputs {
		id, ok := c.ids[o]
		if !ok {
			return nil, fmt.Errorf("graph output %q is a constant or not computed; nothing to compute securely", o)
		}
		c.p.Outputs = append(c.p.Outputs, id)
	}
	c.p.ComputeStats()
	if err := c.p.Validate(); err != nil {
		return nil, fmt.Errorf("compiled program is invalid: %w", err)
	}
	if len(opt.Calibration) > 0 {
		if err := c.p.TraceCompareBits(opt.Calibration); err != nil {
			return nil, err
		}
	}
	return c.p, nil
}

type compiler struct {
	g       *ir.Graph
	p       *Program
	s       int
	ids     map[string]int // float value → program tensor (scale s)
	weights map[string]int // "name@scale" → weight tensor
	post    *ir.Node
	ranges  map[string][2]float64
	tables  map[string]Instr // Piecewise tables by function name
}

func (c *compiler) add(t *Tensor) int {
	c.p.Tensors = append(c.p.Tensors, t)
	return len(c.p.Tensors) - 1
}

func (c *compiler) value(shape ir.Shape, scale int, node string) int {
	return c.add(&Tensor{Name: fmt.Sprintf("t%d", len(c.p.Tensors)), Shape: shape.Clone(), Kind: KindValue, Scale: scale, Node: node})
}

func (c *compiler) emit(in Instr) int {
	c.p.Instrs = append(c.p.Instrs, in)
	return in.Out
}

// operand returns the program tensor for float value name: a computed
// value, or the constant encoded as a weight at scale.
func (c *compiler) operand(n *ir.Node, name string, scale int) (int, error) {
	if id, ok := c.ids[name]; ok {
		return id, nil
	}
	k := c.g.Const(name)
	if k == nil {
		return 0, n.Errorf("input %q has no value", name)
	}
	if k.DType != ir.Float32 {
		return 0, n.Errorf("input %q is an integer tensor; only float tensors can be fixed-point operands", name)
	}
	return c.weight(n, name, k, scale)
}

// weight encodes constant k (float value name) at scale as a weight
// tensor, once per name and scale.
func (c *compiler) weight(n *ir.Node, name string, k *ir.Tensor, scale int) (int, error) {
	key := fmt.Sprintf("%s@%d", name, scale)
	if id, ok := c.weights[key]; ok {
		return id, nil
	}
	data := make([]uint64, len(k.F))
	for i, v := range k.F {
		if err := checkEncodable(float64(v), scale); err != nil {
			return 0, n.Errorf("weight %q element %d: %v", name, i, err)
		}
		data[i] = Encode(float64(v), scale)
	}
	id := c.add(&Tensor{Name: name, Shape: k.Shape.Clone(), Kind: KindWeight, Scale: scale, Data: data, Node: name, Bits: StorageBits(data)})
	c.weights[key] = id
	return id, nil
}

func (c *compiler) outShape(n *ir.Node) ir.Shape { return c.g.Values[n.Output].Shape }

// scaleDown emits ScaleDown(x) by shift into a new scale-s value.
func (c *compiler) scaleDown(n *ir.Node, x, shift int) int {
	out := c.value(c.p.Tensors[x].Shape, c.s, n.Output)
	return c.emit(Instr{Op: ScaleDown, In: []int{x}, Out: out, Shift: shift, Node: n.Name})
}

func (c *compiler) publicScalar(n *ir.Node, op Op, x int, v int64, scale int) int {
	out := c.value(c.p.Tensors[x].Shape, scale, n.Output)
	return c.emit(Instr{Op: op, In: []int{x}, Out: out, Public: []int64{v}, PublicShape: ir.Shape{}, Node: n.Name})
}

func (c *compiler) node(n *ir.Node, isOutput bool) error {
	s := c.s
	out := c.outShape(n)
	layout := n.Attrs.Layout.String()
	ops := func(scales ...int) ([]int, error) {
		ids := make([]int, len(n.Inputs))
		for i, in := range n.Inputs {
			sc := s
			if i < len(scales) {
				sc = scales[i]
			}
			id, err := c.operand(n, in, sc)
			if err != nil {
				return nil, err
			}
			ids[i] = id
		}
		return ids, nil
	}
	var res int
	switch n.Op {
	case ir.OpConv:
		in, err := ops(s, s, 2*s)
		if err != nil {
			return err
		}
		if len(in) == 3 && c.p.Tensors[in[2]].Kind != KindWeight {
			return n.Errorf("a computed (non-constant) bias is not supported")
		}
		prod := c.value(out, 2*s, n.Output)
		c.emit(Instr{Op: Conv, In: in, Out: prod, Strides: n.Attrs.Strides, Pads: n.Attrs.Pads, Group: n.Attrs.Group, Layout: layout, Node: n.Name})
		res = c.scaleDown(n, prod, s)
	case ir.OpDiv:
		if c.g.Const(n.Inputs[1]) == nil {
			in, err := ops()
			if err != nil {
				return err
			}
			if res, err = c.divide(n, in[0], in[1]); err != nil {
				return err
			}
			break
		}
		fallthrough
	case ir.OpMatMul, ir.OpMul:
		op := map[ir.Op]Op{ir.OpMatMul: MatMul, ir.OpMul: Mul, ir.OpDiv: Mul}[n.Op]
		var in []int
		if n.Op == ir.OpDiv {
			k := c.g.Const(n.Inputs[1])
			inv := ir.NewFloat(k.Shape)
			for i, v := range k.Floats() {
				if v == 0 {
					return n.Errorf("division by zero constant")
				}
				inv.F[i] = 1 / v
			}
			a, err := c.operand(n, n.Inputs[0], s)
			if err != nil {
				return err
			}
			b, err := c.weight(n, n.Inputs[1]+"/reciprocal", inv, s)
			if err != nil {
				return err
			}
			in = []int{a, b}
		} else {
			var err error
			if in, err = ops(); err != nil {
				return err
			}
		}
		prod := c.value(out, 2*s, n.Output)
		c.emit(Instr{Op: op, In: in, Out: prod, Node: n.Name})
		res = c.scaleDown(n, prod, s)
	case ir.OpAdd, ir.OpSub:
		in, err := ops()
		if err != nil {
			return err
		}
		op := Add
		if n.Op == ir.OpSub {
			op = Sub
		}
		res = c.emit(Instr{Op: op, In: in, Out: c.value(out, s, n.Output), Node: n.Name})
	case ir.OpRelu:
		in, err := ops()
		if err != nil {
			return err
		}
		res = c.emit(Instr{Op: Relu, In: in, Out: c.value(out, s, n.Output), Node: n.Name})
	case ir.OpClip:
		in, err := ops()
		if err != nil {
			return err
		}
		res = c.clip(n, in[0], float64(n.Attrs.Min), float64(n.Attrs.Max))
	case ir.OpLeakyRelu:
		in, err := ops()
		if err != nil {
			return err
		}
		x := in[0]
		alpha := float64(n.Attrs.Alpha)
		r := c.emit(Instr{Op: Relu, In: []int{x}, Out: c.value(out, s, n.Output), Node: n.Name})
		a := c.publicScalar(n, MulPublic, x, int64(Encode(alpha, PublicShift)), s+PublicShift)
		b := c.publicScalar(n, MulPublic, r, int64(Encode(1-alpha, PublicShift)), s+PublicShift)
		sum := c.emit(Instr{Op: Add, In: []int{a, b}, Out: c.value(out, s+PublicShift, n.Output), Node: n.Name})
		res = c.scaleDown(n, sum, PublicShift)
	case ir.OpMaxPool:
		in, err := ops()
		if err != nil {
			return err
		}
		res = c.emit(Instr{Op: MaxPool, In: in, Out: c.value(out, s, n.Output), Kernel: n.Attrs.Kernel, Strides: n.Attrs.Strides, Pads: n.Attrs.Pads, Layout: layout, Node: n.Name})
	case ir.OpAvgPool:
		in, err := ops()
		if err != nil {
			return err
		}
		sum := c.emit(Instr{Op: SumPool, In: in, Out: c.value(out, s, n.Output), Kernel: n.Attrs.Kernel, Strides: n.Attrs.Strides, Pads: n.Attrs.Pads, Layout: layout, Node: n.Name})
		shift := meanShift(n.Attrs.Kernel[0] * n.Attrs.Kernel[1])
		recip, rshape := avgPoolReciprocals(n.Attrs, c.g.Values[n.Inputs[0]].Shape, out, shift)
		scaled := c.value(out, s+shift, n.Output)
		c.emit(Instr{Op: MulPublic, In: []int{sum}, Out: scaled, Public: recip, PublicShape: rshape, Node: n.Name})
		res = c.scaleDown(n, scaled, shift)
	case ir.OpReduceMean, ir.OpReduceSum:
		in, err := ops()
		if err != nil {
			return err
		}
		sum := c.emit(Instr{Op: ReduceSum, In: in, Out: c.value(out, s, n.Output), Axes: n.Attrs.Axes, KeepDims: n.Attrs.KeepDims, Node: n.Name})
		res = sum
		if n.Op == ir.OpReduceMean {
			k := c.g.Values[n.Inputs[0]].Shape.Size() / max(1, out.Size())
			shift := meanShift(k)
			scaled := c.publicScalar(n, MulPublic, sum, int64(Encode(1/float64(k), shift)), s+shift)
			res = c.scaleDown(n, scaled, shift)
		}
	case ir.OpArgMax:
		if !isOutput {
			return n.Errorf("ArgMax is supported only as a graph output")
		}
		in, err := ops()
		if err != nil {
			return err
		}
		res = c.emit(Instr{Op: ArgMax, In: in, Out: c.value(out, 0, n.Output), Axis: n.Attrs.Axis, KeepDims: n.Attrs.KeepDims, SelectLast: n.Attrs.SelectLast, Node: n.Name})
	case ir.OpReshape:
		in, err := c.operand(n, n.Inputs[0], s)
		if err != nil {
			return err
		}
		res = c.emit(Instr{Op: Reshape, In: []int{in}, Out: c.value(out, s, n.Output), Shape: out.Clone(), Node: n.Name})
	case ir.OpTranspose:
		in, err := ops()
		if err != nil {
			return err
		}
		perm := n.Attrs.Perm
		if perm == nil {
			r := len(out)
			perm = make([]int, r)
			for i := range perm {
				perm[i] = r - 1 - i
			}
		}
		res = c.emit(Instr{Op: Transpose, In: in, Out: c.value(out, s, n.Output), Perm: perm, Node: n.Name})
	case ir.OpConcat:
		in, err := ops()
		if err != nil {
			return err
		}
		res = c.emit(Instr{Op: Concat, In: in, Out: c.value(out, s, n.Output), Axis: n.Attrs.Axis, Node: n.Name})
	case ir.OpPad:
		in, err := ops()
		if err != nil {
			return err
		}
		res = c.emit(Instr{Op: Pad, In: in, Out: c.value(out, s, n.Output), Pads: n.Attrs.Pads, PadValue: padValue(float64(n.Attrs.PadValue), s), Node: n.Name})
	case ir.OpGather:
		x, err := c.operand(n, n.Inputs[0], s)
		if err != nil {
			return err
		}
		if res, err = c.gather(n, x); err != nil {
			return err
		}
	case ir.OpSlice:
		vals := make([]*ir.Value, len(n.Inputs))
		for i, name := range n.Inputs {
			vals[i] = c.g.Values[name]
		}
		starts, steps, _, err := ir.SliceParams(n, vals)
		if err != nil {
			return err
		}
		x, err := c.operand(n, n.Inputs[0], s)
		if err != nil {
			return err
		}
		res = c.emit(Instr{Op: Slice, In: []int{x}, Out: c.value(out, s, n.Output), Starts: starts, Steps: steps, Node: n.Name})
	case ir.OpWhere:
		var err error
		if res, err = c.where(n); err != nil {
			return err
		}
	case ir.OpExpand:
		x, err := c.operand(n, n.Inputs[0], s)
		if err != nil {
			return err
		}
		res = c.broadcastTo(n, x, out)
	case ir.OpSigmoid, ir.OpTanh, ir.OpSilu, ir.OpGelu, ir.OpSoftplus, ir.OpErf, ir.OpExp, ir.OpLog, ir.OpLogSoftmax,
		ir.OpHardSigmoid, ir.OpHardSwish, ir.OpMax, ir.OpMin, ir.OpAbs, ir.OpNeg, ir.OpPRelu,
		ir.OpReduceMax, ir.OpReduceMin, ir.OpSoftmax, ir.OpReciprocal, ir.OpRsqrt, ir.OpSqrt:
		in, err := ops()
		if err != nil {
			return err
		}
		if res, err = c.function(n, in); err != nil {
			return err
		}
	case ir.OpBatchNorm, ir.OpIdentity:
		return n.Errorf("must be removed by ir.Optimize before fixed-point conversion")
	default:
		return n.Errorf("not supported by the fixed-point backend")
	}
	c.ids[n.Output] = res
	return nil
}

// padValue encodes a Pad's constant at scale s, with ±∞ and values
// beyond ±2^60 (TensorFlow pads with −∞ before a max pool) held at ±2^60:
// inside the comparison domain, and below any value a max could pick.
func padValue(v float64, s int) int64 {
	const lim = 1 << 60
	if v*math.Ldexp(1, s) >= lim || math.IsInf(v, 1) {
		return lim
	}
	if v*math.Ldexp(1, s) <= -lim || math.IsInf(v, -1) {
		return -lim
	}
	return int64(Encode(v, s))
}

// MaxGatherRuns bounds the runs of consecutive indices a Gather of
// secret data may have: each becomes a Slice.
const MaxGatherRuns = 4096

// gather compiles a Gather of the program tensor x at constant indices
// (a class token x[:, 0], a channel selection): data movement, a Slice
// per run of consecutive indices along the axis, their Concat, and a
// Reshape to Gather's shape. Indices computed from secret data would
// reveal where they point; they are refused.
func (c *compiler) gather(n *ir.Node, x int) (int, error) {
	idx := c.g.Const(n.Inputs[1])
	if idx == nil {
		return 0, n.Errorf("Gather at computed indices is not supported in fixed point (the indices would have to stay secret); only constant indices")
	}
	xs := c.p.Tensors[x].Shape
	a := n.Attrs.Axis
	if a < 0 {
		a += len(xs)
	}
	is, err := idx.Ints()
	if err != nil {
		return 0, n.Errorf("indices: %v", err)
	}
	var runs [][2]int // [start, end) along the axis
	for _, i := range is {
		if i < 0 {
			i += int64(xs[a])
		}
		if i < 0 || i >= int64(xs[a]) {
			return 0, n.Errorf("index %d out of range for axis %d of size %d", i, a, xs[a])
		}
		if k := len(runs) - 1; k >= 0 && runs[k][1] == int(i) {
			runs[k][1]++
			continue
		}
		runs = append(runs, [2]int{int(i), int(i) + 1})
	}
	if len(runs) == 0 || len(runs) > MaxGatherRuns {
		return 0, n.Errorf("Gather of %d runs of indices (limit %d)", len(runs), MaxGatherRuns)
	}
	parts := make([]int, len(runs))
	for k, r := range runs {
		starts, steps := make([]int, len(xs)), make([]int, len(xs))
		for d := range steps {
			steps[d] = 1
		}
		starts[a] = r[0]
		shape := xs.Clone()
		shape[a] = r[1] - r[0]
		parts[k] = c.emit(Instr{Op: Slice, In: []int{x}, Out: c.value(shape, c.s, n.Output), Starts: starts, Steps: steps, Node: n.Name})
	}
	y := parts[0]
	if len(parts) > 1 {
		shape := xs.Clone()
		shape[a] = len(is)
		y = c.emit(Instr{Op: Concat, In: parts, Out: c.value(shape, c.s, n.Output), Axis: a, Node: n.Name})
	}
	out := c.outShape(n)
	if !c.p.Tensors[y].Shape.Equal(out) {
		y = c.emit(Instr{Op: Reshape, In: []int{y}, Out: c.value(out, c.s, n.Output), Shape: out.Clone(), Node: n.Name})
	}
	return y, nil
}

// clip lowers min(max(x, lo), hi) to ReLUs:
// lo + Relu(x − lo) − Relu(x − hi).
func (c *compiler) clip(n *ir.Node, x int, lo, hi float64) int {
	s := c.s
	shape := c.p.Tensors[x].Shape
	inf := func(v float64) bool { return math.Abs(v) >= 1e30 || math.IsInf(v, 0) }
	if inf(lo) && inf(hi) {
		return x
	}
	if inf(lo) { // min(x, hi) = x − Relu(x − hi)
		t := c.publicScalar(n, AddPublic, x, -int64(Encode(hi, s)), s)
		r := c.emit(Instr{Op: Relu, In: []int{t}, Out: c.value(shape, s, n.Output), Node: n.Name})
		return c.emit(Instr{Op: Sub, In: []int{x, r}, Out: c.value(shape, s, n.Output), Node: n.Name})
	}
	low := x
	if lo != 0 {
		low = c.publicScalar(n, AddPublic, x, -int64(Encode(lo, s)), s)
	}
	res := c.emit(Instr{Op: Relu, In: []int{low}, Out: c.value(shape, s, n.Output), Node: n.Name})
	if !inf(hi) {
		t := c.publicScalar(n, AddPublic, x, -int64(Encode(hi, s)), s)
		r := c.emit(Instr{Op: Relu, In: []int{t}, Out: c.value(shape, s, n.Output), Node: n.Name})
		res = c.emit(Instr{Op: Sub, In: []int{res, r}, Out: c.value(shape, s, n.Output), Node: n.Name})
	}
	if lo != 0 {
		res = c.publicScalar(n, AddPublic, res, int64(Encode(lo, s)), s)
	}
	return res
}

// meanShift is the shift at which a mean over k values multiplies by
// round(2^shift/k): PublicShift plus ⌊log2 k⌋, so that the factor keeps
// 16 significant bits however large the window (a global pool over 36×64
// at PublicShift alone is off by 1.5%), at most 24.
func meanShift(k int) int {
	l := 0
	for k > 1 {
		k >>= 1
		l++
	}
	return min(PublicShift+l, 24)
}

// avgPoolReciprocals returns round(2^shift / count) for every output
// position, shaped to broadcast over the pooled tensor.
func avgPoolReciprocals(a ir.Attrs, in, out ir.Shape, shift int) ([]int64, ir.Shape) {
	hAx, wAx := a.Layout.SpatialAxes()
	H, W, OH, OW := in[hAx], in[wAx], out[hAx], out[wAx]
	rec := make([]int64, OH*OW)
	for oh := 0; oh < OH; oh++ {
		for ow := 0; ow < OW; ow++ {
			hs, ws := oh*a.Strides[0]-a.Pads[0], ow*a.Strides[1]-a.Pads[1]
			var cnt int
			if a.CountIncludePad {
				he, we := min(hs+a.Kernel[0], H+a.Pads[2]), min(ws+a.Kernel[1], W+a.Pads[3])
				cnt = (he - hs) * (we - ws)
			} else {
				he, we := min(hs+a.Kernel[0], H), min(ws+a.Kernel[1], W)
				cnt = (he - max(hs, 0)) * (we - max(ws, 0))
			}
			rec[oh*OW+ow] = int64(Encode(1/float64(max(cnt, 1)), shift))
		}
	}
	shape := ir.Shape{1, 1, OH, OW}
	if a.Layout == ir.NHWC {
		shape = ir.Shape{1, OH, OW, 1}
	}
	return rec, shape
}
