package tf

import (
	"errors"
	"fmt"
	"math"

	"veil/ir"
)

// Element-wise lowerings: arithmetic, activations and the clip patterns
// that Keras and TF.js write.

// noBound is the Clip bound that stands for "none" (as model/onnx uses).
const noBound = math.MaxFloat32

func binaryOp(op ir.Op) func(*builder, *NodeDef) error {
	return func(b *builder, n *NodeDef) error {
		ins, err := b.ins(n, 2, 2)
		if err != nil {
			return err
		}
		return b.emit(n, op, ins, ir.Attrs{})
	}
}

func unaryOp(op ir.Op) func(*builder, *NodeDef) error {
	return func(b *builder, n *NodeDef) error {
		ins, err := b.ins(n, 1, 1)
		if err != nil {
			return err
		}
		var a ir.Attrs
		switch n.Op {
		case "Relu6":
			return b.clip(n.Name, ins[0], 0, 6, n)
		case "LeakyRelu":
			if a.Alpha, err = attrFloat(n, "alpha", 0.2); err != nil {
				return err
			}
		}
		return b.emit(n, op, ins, a)
	}
}

// unsupported is the converter of an op that is known but has no
// lowering: the error says why.
func unsupported(why string) func(*builder, *NodeDef) error {
	return func(*builder, *NodeDef) error { return errors.New(why) }
}

// square lowers Square to x·x and SquaredDifference to (x-y)·(x-y).
func (b *builder) square(n *NodeDef) error {
	lo := 1
	if n.Op == "SquaredDifference" {
		lo = 2
	}
	ins, err := b.ins(n, lo, lo)
	if err != nil {
		return err
	}
	d := ins[0]
	if lo == 2 {
		d = b.newName(n.Name + "/diff")
		if err := b.add(ir.OpSub, d, ins, ir.Attrs{}); err != nil {
			return err
		}
	}
	return b.emit(n, ir.OpMul, []string{d, d}, ir.Attrs{})
}

// addN lowers AddN to a chain of Adds.
func (b *builder) addN(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1<<20)
	if err != nil {
		return err
	}
	if len(ins) == 1 {
		b.alias(n, 0, ins[0])
		return nil
	}
	cur := ins[0]
	for i, v := range ins[1:] {
		out := n.Name
		if i < len(ins)-2 {
			out = b.newName(n.Name + "/sum")
		}
		if err := b.add(ir.OpAdd, out, []string{cur, v}, ir.Attrs{}); err != nil {
			return err
		}
		cur = out
	}
	b.alias(n, 0, n.Name)
	return nil
}

// mul lowers Mul, and div lowers RealDiv and Div (on integers, shape
// arithmetic that folds, Div truncates toward zero as TensorFlow's does
// and as the IR's int64 Div does). Both recognize the hard sigmoid of
// Keras' MobileNetV3, Relu6(α·x + β)·(1/6) (or /6), as HardSigmoid, and
// x · HardSigmoid(x) with α = 1/6, β = 1/2 as HardSwish.
func (b *builder) mul(n *NodeDef) error { return b.mulDiv(n, ir.OpMul) }

func (b *builder) div(n *NodeDef) error { return b.mulDiv(n, ir.OpDiv) }

func (b *builder) mulDiv(n *NodeDef, op ir.Op) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	for i := range 2 {
		if op == ir.OpDiv && i == 1 {
			break
		}
		x, c := ins[i], ins[1-i]
		if k, ok := b.scalarConst(c); ok && len(b.shape(c)) <= len(b.shape(x)) && k != 0 {
			if op == ir.OpDiv {
				k = 1 / k
			}
			if y, alpha, beta, ok := b.scaledClip(x, k); ok {
				return b.emit(n, ir.OpHardSigmoid, []string{y}, ir.Attrs{Alpha: alpha, Beta: beta})
			}
		}
		if op == ir.OpMul {
			if p := b.prod[c]; p != nil && p.Op == ir.OpHardSigmoid && p.Inputs[0] == x &&
				near(p.Attrs.Alpha, 1.0/6) && near(p.Attrs.Beta, 0.5) {
				return b.emit(n, ir.OpHardSwish, []string{x}, ir.Attrs{})
			}
		}
	}
	return b.emit(n, op, ins, ir.Attrs{})
}

// near reports whether a and b agree to float32 rounding.
func near(a, b float32) bool { return math.Abs(float64(a)-float64(b)) <= 1e-6*math.Abs(float64(b)) }

// scaledClip recognizes k·Clip(α·y + β, 0, M) with k·M = 1 (k, M > 0),
// which is Clip(k·α·y + k·β, 0, 1), HardSigmoid(y) with slope α·k and
// offset β·k, and returns y and those.
func (b *builder) scaledClip(v string, k float32) (y string, alpha, beta float32, ok bool) {
	p := b.prod[v]
	if p == nil || p.Op != ir.OpClip || p.Attrs.Min != 0 || !(p.Attrs.Max > 0 && k > 0) || !near(k*p.Attrs.Max, 1) {
		return "", 0, 0, false
	}
	y, alpha, beta, ok = b.affine(p.Inputs[0], false)
	return y, alpha * k, beta * k, ok
}

// floorDiv lowers FloorDiv: Floor(x/y) on floats, and on integer
// constants floor division computed here.
func (b *builder) floorDiv(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	x, y := b.g.Values[ins[0]], b.g.Values[ins[1]]
	if x.DType == ir.Int64 || y.DType == ir.Int64 {
		if x.Const == nil || y.Const == nil {
			return errors.New("integer FloorDiv of values that are not constants is not supported")
		}
		q := b.newName(n.Name + "/quotient")
		if err := b.add(ir.OpDiv, q, ins, ir.Attrs{}); err != nil {
			return err
		}
		// Truncated quotient minus one where the signs differ and the
		// division is inexact: the IR's Div truncates.
		qt, sh := b.g.Const(q), b.shape(q)
		xi := broadcastInts(x.Const, sh)
		yi := broadcastInts(y.Const, sh)
		out := make([]int64, len(qt.I))
		for i, v := range qt.I {
			if xi[i]%yi[i] != 0 && (xi[i] < 0) != (yi[i] < 0) {
				v--
			}
			out[i] = v
		}
		if _, err := b.constTensor(n.Name, ir.IntTensor(sh, out)); err != nil {
			return err
		}
		b.alias(n, 0, n.Name)
		return nil
	}
	q := b.newName(n.Name + "/quotient")
	if err := b.add(ir.OpDiv, q, ins, ir.Attrs{}); err != nil {
		return err
	}
	return b.emit(n, ir.OpFloor, []string{q}, ir.Attrs{})
}

// broadcastInts returns the integer elements of constant t broadcast to
// shape s (which t must broadcast to).
func broadcastInts(t *ir.Tensor, s ir.Shape) []int64 {
	xs, _ := t.Ints()
	out := make([]int64, s.Size())
	r := len(s)
	off := r - len(t.Shape)
	idx := make([]int, r)
	for i := range out {
		j := 0
		for ax := off; ax < r; ax++ {
			d := t.Shape[ax-off]
			k := idx[ax]
			if d == 1 {
				k = 0
			}
			j = j*d + k
		}
		out[i] = xs[j]
		for ax := r - 1; ax >= 0; ax-- {
			idx[ax]++
			if idx[ax] < s[ax] {
				break
			}
			idx[ax] = 0
		}
	}
	return out
}

// minMax lowers Maximum and Minimum. Against a constant with one element
// (clip_by_value, Relu-like bounds) it is a one-sided Clip, which merges
// with a Clip from the other side into one; otherwise it is the IR's
// broadcasting Max or Min.
func (b *builder) minMax(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	x, c := ins[0], ins[1]
	if b.g.Const(x) != nil && b.g.Const(c) == nil {
		x, c = c, x
	}
	v, ok := b.scalarConst(c)
	if ok && b.g.Const(x) == nil && b.g.Values[x].DType == ir.Float32 && len(b.shape(c)) <= len(b.shape(x)) {
		lo, hi := float32(-noBound), float32(noBound)
		if n.Op == "Maximum" {
			lo = v
		} else {
			hi = v
		}
		return b.clip(n.Name, x, lo, hi, n)
	}
	op := ir.OpMax
	if n.Op == "Minimum" {
		op = ir.OpMin
	}
	return b.emit(n, op, ins, ir.Attrs{})
}

// clip adds Clip(x, lo, hi) as IR value out, the output of TF node n.
// Clip of a Clip whose range overlaps is one Clip of the intersection
// (the inner one is pruned when nothing else reads it), and Clip to
// [0, 1] of α·x + β with scalar constants α and β is HardSigmoid(x): the
// Keras hard_sigmoid that clip_by_value writes.
func (b *builder) clip(out, x string, lo, hi float32, n *NodeDef) error {
	if p := b.prod[x]; p != nil && p.Op == ir.OpClip && p.Attrs.Min <= hi && lo <= p.Attrs.Max {
		x, lo, hi = p.Inputs[0], max(lo, p.Attrs.Min), min(hi, p.Attrs.Max)
	}
	if lo == 0 && hi == 1 {
		if y, alpha, beta, ok := b.affine(x, true); ok {
			return b.emit(n, ir.OpHardSigmoid, []string{y}, ir.Attrs{Alpha: alpha, Beta: beta})
		}
	}
	return b.emit(n, ir.OpClip, []string{x}, ir.Attrs{Min: lo, Max: hi})
}

// affine recognizes v = y·α + β (or β + α·y, y·α - β, y/α + β …) with
// scalar constants α and β, as computed by IR nodes, and returns y, α
// and β. Unless needMul, v = y + β also counts (α = 1).
func (b *builder) affine(v string, needMul bool) (y string, alpha, beta float32, ok bool) {
	p := b.prod[v]
	if p == nil || (p.Op != ir.OpAdd && p.Op != ir.OpSub) {
		return "", 0, 0, false
	}
	m, c := p.Inputs[0], p.Inputs[1]
	beta, ok = b.scalarConst(c)
	if !ok && p.Op == ir.OpAdd {
		m, c = c, m
		beta, ok = b.scalarConst(c)
	}
	if !ok || len(b.shape(c)) > len(b.shape(m)) {
		return "", 0, 0, false
	}
	if p.Op == ir.OpSub {
		beta = -beta
	}
	q := b.prod[m]
	if q == nil || (q.Op != ir.OpMul && q.Op != ir.OpDiv) {
		return m, 1, beta, !needMul && b.g.Const(m) == nil
	}
	y, c = q.Inputs[0], q.Inputs[1]
	alpha, ok = b.scalarConst(c)
	if !ok && q.Op == ir.OpMul {
		y, c = c, y
		alpha, ok = b.scalarConst(c)
	}
	if !ok || len(b.shape(c)) > len(b.shape(y)) || alpha == 0 {
		return m, 1, beta, !needMul && b.g.Const(m) == nil
	}
	if q.Op == ir.OpDiv {
		alpha = 1 / alpha
	}
	return y, alpha, beta, true
}

// prelu lowers TF.js's Prelu (x, alpha).
func (b *builder) prelu(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	return b.emit(n, ir.OpPRelu, ins, ir.Attrs{})
}

// pow lowers Pow with a constant exponent (one value, or all elements
// equal) through ir.Graph.AddPow, which turns the exponents that are cheap
// in fixed point into products, square roots and reciprocals (LayerNorm's
// Pow(x - mean, 2)). A Pow of two constants is computed here.
func (b *builder) pow(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	c := b.g.Const(ins[1])
	if c == nil {
		return errors.New("exponent must be a constant")
	}
	if x := b.g.Const(ins[0]); x != nil && c.Len() == 1 && len(c.Shape) <= len(x.Shape) {
		e := float64(c.Floats()[0])
		out := make([]float32, x.Len())
		for i, v := range x.Floats() {
			out[i] = float32(math.Pow(float64(v), e))
		}
		if _, err := b.constTensor(n.Name, ir.FloatTensor(x.Shape, out)); err != nil {
			return err
		}
		b.alias(n, 0, n.Name)
		return nil
	}
	es := c.Floats()
	if len(es) == 0 {
		return errors.New("exponent is empty")
	}
	for _, e := range es {
		if e != es[0] {
			return fmt.Errorf("exponent %v must have all elements equal", c.Shape)
		}
	}
	if s, err := ir.BroadcastShapes(b.shape(ins[0]), c.Shape); err != nil || !s.Equal(b.shape(ins[0])) {
		return fmt.Errorf("exponent of shape %v does not broadcast to the base's %v", c.Shape, b.shape(ins[0]))
	}
	if err := b.g.AddPow(n.Name, ins[0], n.Name, es[0]); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}

// logSoftmax lowers LogSoftmax (over the last axis) to Log(Softmax(x)).
func (b *builder) logSoftmax(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	if len(b.shape(ins[0])) < 1 {
		return errors.New("input is a scalar")
	}
	sm := b.newName(n.Name + "/softmax")
	if err := b.add(ir.OpSoftmax, sm, ins, ir.Attrs{Axis: -1}); err != nil {
		return err
	}
	return b.emit(n, ir.OpLog, []string{sm}, ir.Attrs{})
}

// cast lowers Cast: float types are the IR's float32, integer and boolean
// types its int64. A cast to DT_BOOL is x != 0, computed here for
// constants.
func (b *builder) cast(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	a := n.attr("DstT")
	if a == nil || a.Kind != AttrType {
		return errors.New("attribute DstT is missing")
	}
	x := b.g.Values[ins[0]]
	var to ir.DType
	switch {
	case a.Type.isFloat():
		to = ir.Float32
	case a.Type == DTBool:
		c := x.Const
		if c == nil {
			return errors.New("Cast to DT_BOOL of a value that is not a constant is not supported")
		}
		f := c.Floats()
		out := make([]int64, len(f))
		for i, v := range f {
			if v != 0 {
				out[i] = 1
			}
		}
		if _, err := b.constTensor(n.Name, ir.IntTensor(x.Shape, out)); err != nil {
			return err
		}
		b.alias(n, 0, n.Name)
		return nil
	case a.Type.isInt():
		to = ir.Int64
	default:
		return fmt.Errorf("DstT %v is not supported", a.Type)
	}
	if x.DType == to {
		b.alias(n, 0, ins[0])
		return nil
	}
	return b.emit(n, ir.OpCast, ins, ir.Attrs{To: to})
}
