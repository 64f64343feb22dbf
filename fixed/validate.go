package fixed

import (
	"fmt"
	"math"

	"veil/ir"
)

// Validate checks that p is well-formed: every instruction reads tensors
// already defined, writes a fresh value, and its output shape is what its
// op computes from its input shapes; weights hold as many values as their
// shape says; public constants broadcast. A program read from a file is
// validated before it runs, so a corrupt file is an error, not a panic.
func (p *Program) Validate() error { return p.validate(true) }

// ValidateStructure checks p as Validate does, except that weight tensors
// need not carry data: the check of a party that runs the program with
// the weights kept elsewhere (Slalom's device, whose linear layers have
// weights of their own). As in Validate, and unlike ValidatePublic, which
// counts weights as inputs live from the start, weights count against
// MaxParams only.
func (p *Program) ValidateStructure() error { return p.validate(false) }

func (p *Program) validate(needData bool) error {
	if p.Scale < 1 || p.Scale > 30 {
		return fmt.Errorf("scale %d out of range [1, 30]", p.Scale)
	}
	if err := p.Preprocess.check(); err != nil {
		return fmt.Errorf("preprocessing: %w", err)
	}
	if b := p.CompareBits; b != 0 && (b < MinCompareBits || b > MaxCompareBits) {
		return fmt.Errorf("comparison bound 2^%d outside 2^%d…2^%d", b, MinCompareBits, MaxCompareBits)
	}
	n := len(p.Tensors)
	defined := make([]bool, n)
	for id, t := range p.Tensors {
		if t == nil {
			return fmt.Errorf("tensor %d is missing", id)
		}
		if len(t.Shape) > maxRank {
			return fmt.Errorf("tensor %d (%q) has rank %d, more than %d", id, t.Name, len(t.Shape), maxRank)
		}
		if err := checkShape(t.Shape); err != nil {
			return fmt.Errorf("tensor %d (%q): %w", id, t.Name, err)
		}
		if t.Bits < 0 || t.Bits > 64 {
			return fmt.Errorf("tensor %d (%q) declares %d bits, want 1 to 64 (or 0: none)", id, t.Name, t.Bits)
		}
		switch t.Kind {
		case KindWeight:
			if t.NumValues() != t.Shape.Size() && (needData || t.HasValues()) {
				return fmt.Errorf("weight %q has %d values for shape %v", t.Name, t.NumValues(), t.Shape)
			}
			if err := t.checkBits(); err != nil {
				return err
			}
			defined[id] = true
		case KindInput, KindValue:
		default:
			return fmt.Errorf("tensor %d (%q) has unknown kind %q", id, t.Name, t.Kind)
		}
	}
	for _, id := range p.Inputs {
		if id < 0 || id >= n || p.Tensors[id].Kind != KindInput {
			return fmt.Errorf("program input %d is not an input tensor", id)
		}
		defined[id] = true
	}
	for k := range p.Instrs {
		in := &p.Instrs[k]
		if err := p.checkInstr(in, defined); err != nil {
			return fmt.Errorf("instruction %d (%s from node %q): %w", k, in.Op, in.Node, err)
		}
		defined[in.Out] = true
	}
	if len(p.Outputs) == 0 {
		return fmt.Errorf("program has no outputs")
	}
	for _, id := range p.Outputs {
		if id < 0 || id >= n || !defined[id] {
			return fmt.Errorf("program output %d is never computed", id)
		}
	}
	switch p.Post {
	case "", "softmax", "sigmoid", "logsoftmax":
	default:
		return fmt.Errorf("unknown output post-processing %q", p.Post)
	}
	return p.checkResources()
}

// maxRank bounds the rank of every tensor of a program.
const maxRank = 64

// compareDomain is 2^61: the comparison ops' operands lie in
// [−compareDomain, compareDomain) (see Op).
const compareDomain = 1 << 61

func (p *Program) checkInstr(in *Instr, defined []bool) error {
	n := len(p.Tensors)
	if in.Out < 0 || in.Out >= n || p.Tensors[in.Out].Kind != KindValue || defined[in.Out] {
		return fmt.Errorf("output %d is not a fresh value tensor", in.Out)
	}
	if !in.Op.known() {
		return fmt.Errorf("unknown op")
	}
	arity := map[Op][2]int{Conv: {2, 3}, MatMul: {2, 2}, Mul: {2, 2}, Add: {2, 2}, Sub: {2, 2}, Concat: {1, 1 << 20}, Const: {0, 0}, Mux: {3, 3}, Max: {2, 2}, Min: {2, 2}}
	lo, hi := 1, 1
	if a, ok := arity[in.Op]; ok {
		lo, hi = a[0], a[1]
	}
	if len(in.In) < lo || len(in.In) > hi {
		return fmt.Errorf("takes %d..%d inputs, has %d", lo, hi, len(in.In))
	}
	vals := make([]*ir.Value, len(in.In))
	for i, id := range in.In {
		if id < 0 || id >= n || !defined[id] {
			return fmt.Errorf("input %d is not defined before use", id)
		}
		vals[i] = &ir.Value{Name: fmt.Sprint(id), Shape: p.Tensors[id].Shape, DType: ir.Float32}
	}
	want := p.Tensors[in.Out].Shape
	layout := ir.NCHW
	switch in.Layout {
	case "", "NCHW":
	case "NHWC":
		layout = ir.NHWC
	default:
		return fmt.Errorf("unknown layout %q", in.Layout)
	}
	node := &ir.Node{Name: in.Node, Inputs: make([]string, len(in.In)), Attrs: ir.Attrs{
		Strides: in.Strides, Pads: in.Pads, Kernel: in.Kernel, Group: in.Group, Layout: layout,
		Axis: in.Axis, Axes: in.Axes, KeepDims: in.KeepDims, Perm: in.Perm}}
	var got ir.Shape
	var err error
	infer := func(op ir.Op) {
		node.Op = op
		got, _, err = ir.InferShape(node, vals)
	}
	switch in.Op {
	case Conv:
		infer(ir.OpConv)
	case MatMul:
		infer(ir.OpMatMul)
	case Mul, Add, Sub:
		infer(ir.OpAdd)
	case MaxPool, SumPool:
		infer(ir.OpMaxPool)
	case ReduceSum, ReduceMax:
		infer(ir.OpReduceSum)
	case Max, Min:
		if !vals[0].Shape.Equal(vals[1].Shape) {
			return fmt.Errorf("operands of shapes %v and %v (the compiler broadcasts them first)", vals[0].Shape, vals[1].Shape)
		}
		got = vals[0].Shape
	case Piecewise:
		if err := checkPiecewise(in); err != nil {
			return err
		}
		got = vals[0].Shape
	case ArgMax:
		infer(ir.OpArgMax)
	case Transpose:
		if len(in.Perm) != len(vals[0].Shape) {
			return fmt.Errorf("perm %v for rank %d", in.Perm, len(vals[0].Shape))
		}
		infer(ir.OpTranspose)
	case Concat:
		infer(ir.OpConcat)
	case Pad:
		if in.Mode != "" && in.Mode != "edge" {
			return fmt.Errorf("unknown pad mode %q", in.Mode)
		}
		infer(ir.OpPad)
		if err == nil && in.Mode == "edge" {
			for d, n := range vals[0].Shape {
				if n == 0 && (in.Pads[d] > 0 || in.Pads[d+len(vals[0].Shape)] > 0) {
					return fmt.Errorf("edge padding of the empty axis %d", d)
				}
			}
		}
	case Mux:
		for i, v := range vals[1:] {
			if !v.Shape.Equal(vals[0].Shape) {
				return fmt.Errorf("operand %d has shape %v, the selector %v", i+1, v.Shape, vals[0].Shape)
			}
		}
		got = vals[0].Shape
	case Const:
		if err := checkShape(in.PublicShape); err != nil {
			return fmt.Errorf("public constant: %w", err)
		}
		if len(in.Public) != in.PublicShape.Size() {
			return fmt.Errorf("%d public values for shape %v", len(in.Public), in.PublicShape)
		}
		if b, err := ir.BroadcastShapes(want, in.PublicShape); err != nil || !b.Equal(want) {
			return fmt.Errorf("public constant of shape %v does not broadcast to %v", in.PublicShape, want)
		}
		got = want
	case ScaleDown, Relu, DReLU:
		got = vals[0].Shape
		if in.Op == ScaleDown && (in.Shift < 1 || in.Shift > 62) {
			return fmt.Errorf("shift %d out of range", in.Shift)
		}
	case Clip:
		if in.Min > in.Max || in.Min < -compareDomain || in.Max >= compareDomain {
			return fmt.Errorf("clip bounds [%d, %d] are not an interval of the comparison domain", in.Min, in.Max)
		}
		got = vals[0].Shape
	case DivPublic:
		for _, d := range in.Public {
			if d < 1 || d > 1<<DivPublicBits {
				return fmt.Errorf("divisor %d out of [1, 2^%d]", d, DivPublicBits)
			}
		}
		fallthrough
	case AddPublic, MulPublic:
		if err := checkShape(in.PublicShape); err != nil {
			return fmt.Errorf("public constant: %w", err)
		}
		if len(in.Public) != in.PublicShape.Size() {
			return fmt.Errorf("%d public values for shape %v", len(in.Public), in.PublicShape)
		}
		got, err = ir.BroadcastShapes(vals[0].Shape, in.PublicShape)
	case Reshape:
		got = in.Shape
		if err := checkShape(in.Shape); err != nil {
			return fmt.Errorf("reshape target: %w", err)
		}
		if in.Shape.Size() != vals[0].Shape.Size() {
			return fmt.Errorf("cannot reshape %v to %v", vals[0].Shape, in.Shape)
		}
	case Slice:
		x := vals[0].Shape
		if len(in.Starts) != len(x) || len(in.Steps) != len(x) || len(want) != len(x) {
			return fmt.Errorf("slice starts %v steps %v do not match rank %d", in.Starts, in.Steps, len(x))
		}
		for d := range x {
			// |step| and the count are both at most MaxTensorElements, so
			// the last index below cannot overflow.
			if in.Steps[d] == 0 || in.Steps[d] < -MaxTensorElements || in.Steps[d] > MaxTensorElements {
				return fmt.Errorf("slice step %d on axis %d", in.Steps[d], d)
			}
			if want[d] == 0 {
				continue
			}
			first, lastIdx := in.Starts[d], in.Starts[d]+(want[d]-1)*in.Steps[d]
			if first < 0 || first >= x[d] || lastIdx < 0 || lastIdx >= x[d] {
				return fmt.Errorf("slice of axis %d runs outside [0, %d)", d, x[d])
			}
		}
		got = want
	default:
		return fmt.Errorf("unknown op")
	}
	if err != nil {
		return err
	}
	if !got.Equal(want) {
		return fmt.Errorf("output shape %v, but the op computes %v", want, got)
	}
	if in.Op == Conv && len(in.In) == 3 {
		if w := p.Tensors[in.In[1]].Shape; !p.Tensors[in.In[2]].Shape.Equal(ir.Shape{w[0]}) {
			return fmt.Errorf("bias shape %v, want [%d]", p.Tensors[in.In[2]].Shape, w[0])
		}
	}
	return nil
}

// check refuses preprocessing no image loader could apply.
func (pp *Preprocess) check() error {
	if pp == nil {
		return nil
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	for _, vs := range [][]float64{pp.Mean, pp.Std} {
		if len(vs) > 4 {
			return fmt.Errorf("%d per-channel values", len(vs))
		}
		for _, v := range vs {
			if !finite(v) {
				return fmt.Errorf("mean or std %g", v)
			}
		}
	}
	for _, v := range pp.Std {
		if v == 0 {
			return fmt.Errorf("std of 0")
		}
	}
	if len(pp.Resize) != 0 && (len(pp.Resize) != 2 || pp.Resize[0] < 1 || pp.Resize[1] < 1 || pp.Resize[0] > 1<<16 || pp.Resize[1] > 1<<16) {
		return fmt.Errorf("resize %v", pp.Resize)
	}
	if pp.Channels != 0 && pp.Channels != 1 && pp.Channels != 3 {
		return fmt.Errorf("channels %d", pp.Channels)
	}
	return nil
}
