package fixed

import (
	"fmt"
	"math"

	"veil/ir"
)

// This file lowers the float graph's non-linear functions onto the
// program's ops (the compiler's half of "every function on the
// primitives"):
//
//   - exactly, from comparisons: Max, Min (composites), Abs = Max(x, −x),
//     Neg, PRelu = Relu(x) + slope·(x − Relu(x)), HardSigmoid =
//     Clip(α·x + β, 0, 1), HardSwish = x·HardSigmoid(x), ReduceMax
//     (composite), ReduceMin = −ReduceMax(−x);
//   - by Piecewise tables (approx.go; error at most FunctionBound):
//     sigmoid, tanh, SiLU, GELU (erf and tanh forms), softplus, erf, and
//     exp of non-positive values;
//   - by a Piecewise first guess on octaves and Newton's iteration:
//     reciprocal (y ← y·(2 − x·y)), reciprocal square root
//     (y ← y·(3 − x·y²)/2), square root (x·rsqrt(x)), division by a
//     secret value (a·reciprocal(b)) and exp of values that may be
//     positive, on the range of their input that calibration traced
//     (Options.Ranges, widened to powers of two around it); the oracle
//     refuses inputs outside that range, and so the scale sweep and every
//     check refuse data the program was not compiled for;
//   - softmax along an axis: the maximum subtracted (ReduceMax), exp of
//     the non-positive differences, their sum S ∈ [1, n], and the
//     product with 1/S by Newton's iteration on [1, n]; log-softmax the
//     differences less ln S (a Piecewise table on the octaves of
//     [1, n]); ln of other values on their traced range likewise;
//   - Where with a constant condition: the branches times the 0/1
//     condition as public factors; Expand: a broadcasting Add of 0.

// function compiles node n, one of the functions above, on the program
// tensors in.
func (c *compiler) function(n *ir.Node, in []int) (int, error) {
	s := c.s
	x := in[0]
	out := c.outShape(n)
	switch n.Op {
	case ir.OpSigmoid:
		return c.piecewise(n, x, "sigmoid")
	case ir.OpTanh:
		return c.piecewise(n, x, "tanh")
	case ir.OpSilu:
		return c.piecewise(n, x, "silu")
	case ir.OpGelu:
		if n.Attrs.Approximate {
			return c.piecewise(n, x, "gelu_tanh")
		}
		return c.piecewise(n, x, "gelu")
	case ir.OpSoftplus:
		return c.piecewise(n, x, "softplus")
	case ir.OpErf:
		return c.piecewise(n, x, "erf")
	case ir.OpExp:
		if m := c.g.Producer(n.Inputs[0]); m != nil && m.Op == ir.OpClip && m.Attrs.Max <= 0 {
			return c.piecewise(n, x, "exp_neg") // an ELU's e^min(x, 0)
		}
		r, err := c.rangeOf(n, n.Inputs[0])
		if err != nil {
			return 0, err
		}
		if r[1] <= 0 {
			return c.piecewise(n, x, "exp_neg")
		}
		return c.expGeneral(n, x, r)
	case ir.OpNeg:
		return c.publicScalar(n, MulPublic, x, -1, s), nil
	case ir.OpAbs:
		neg := c.publicScalar(n, MulPublic, x, -1, s)
		return c.emit(Instr{Op: Max, In: []int{x, neg}, Out: c.value(out, s, n.Output), Node: n.Name}), nil
	case ir.OpMax, ir.OpMin:
		a, b := c.broadcastTo(n, in[0], out), c.broadcastTo(n, in[1], out)
		op := Max
		if n.Op == ir.OpMin {
			op = Min
		}
		return c.emit(Instr{Op: op, In: []int{a, b}, Out: c.value(out, s, n.Output), Node: n.Name}), nil
	case ir.OpPRelu:
		r := c.emit(Instr{Op: Relu, In: []int{x}, Out: c.value(out, s, n.Output), Node: n.Name})
		neg := c.emit(Instr{Op: Sub, In: []int{x, r}, Out: c.value(out, s, n.Output), Node: n.Name})
		prod := c.emit(Instr{Op: Mul, In: []int{neg, in[1]}, Out: c.value(out, 2*s, n.Output), Node: n.Name})
		return c.emit(Instr{Op: Add, In: []int{r, c.scaleDown(n, prod, s)}, Out: c.value(out, s, n.Output), Node: n.Name}), nil
	case ir.OpHardSigmoid:
		return c.hardSigmoid(n, x, float64(n.Attrs.Alpha), float64(n.Attrs.Beta)), nil
	case ir.OpHardSwish:
		h := c.hardSigmoid(n, x, 1.0/6, 0.5)
		prod := c.emit(Instr{Op: Mul, In: []int{x, h}, Out: c.value(out, 2*s, n.Output), Node: n.Name})
		return c.scaleDown(n, prod, s), nil
	case ir.OpReduceMax:
		return c.emit(Instr{Op: ReduceMax, In: []int{x}, Out: c.value(out, s, n.Output), Axes: n.Attrs.Axes, KeepDims: n.Attrs.KeepDims, Node: n.Name}), nil
	case ir.OpReduceMin:
		neg := c.publicScalar(n, MulPublic, x, -1, s)
		m := c.emit(Instr{Op: ReduceMax, In: []int{neg}, Out: c.value(out, s, n.Output), Axes: n.Attrs.Axes, KeepDims: n.Attrs.KeepDims, Node: n.Name})
		return c.publicScalar(n, MulPublic, m, -1, s), nil
	case ir.OpSoftmax:
		return c.softmax(n, x, false)
	case ir.OpLogSoftmax:
		return c.softmax(n, x, true)
	case ir.OpLog:
		r, err := c.rangeOf(n, n.Inputs[0])
		if err != nil {
			return 0, err
		}
		// A logarithm grows slowly: its table covers up to 2^40 (a power
		// spectrum's range) with one piece or two per octave.
		lo, hi, err := octaveRange(n, "logarithm", r, s, 40)
		if err != nil {
			return 0, err
		}
		return c.logOn(n, x, lo, hi)
	case ir.OpReciprocal:
		r, err := c.rangeOf(n, n.Inputs[0])
		if err != nil {
			return 0, err
		}
		y, e, err := c.reciprocal(n, x, r)
		if err != nil {
			return 0, err
		}
		return c.lift(n, y, e), nil
	case ir.OpRsqrt, ir.OpSqrt:
		r, err := c.rangeOf(n, n.Inputs[0])
		if err != nil {
			return 0, err
		}
		y, e, err := c.rsqrt(n, x, r, n.Op == ir.OpSqrt)
		if err != nil {
			return 0, err
		}
		if n.Op == ir.OpRsqrt {
			return c.lift(n, y, e), nil
		}
		return c.mul(n, x, y, s+e, s), nil
	}
	return 0, n.Errorf("no secure form")
}

// broadcastTo returns x broadcast to shape (x itself if it has it).
func (c *compiler) broadcastTo(n *ir.Node, x int, shape ir.Shape) int {
	if c.p.Tensors[x].Shape.Equal(shape) {
		return x
	}
	zero := c.emit(Instr{Op: Const, Out: c.value(shape, c.s, n.Output), Public: []int64{0}, PublicShape: ir.Shape{}, Node: n.Name})
	return c.emit(Instr{Op: Add, In: []int{x, zero}, Out: c.value(shape, c.s, n.Output), Node: n.Name})
}

// piecewise emits the named function's Piecewise table on x.
func (c *compiler) piecewise(n *ir.Node, x int, name string) (int, error) {
	in, err := c.table(name)
	if err != nil {
		return 0, n.Errorf("%v", err)
	}
	in.In, in.Out, in.Node = []int{x}, c.value(c.p.Tensors[x].Shape, c.s, n.Output), n.Name
	return c.emit(in), nil
}

// table returns the named function's Piecewise instruction at the
// program's scale, fitted once per program.
func (c *compiler) table(name string) (Instr, error) {
	if c.tables == nil {
		c.tables = map[string]Instr{}
	}
	if in, ok := c.tables[name]; ok {
		return in, nil
	}
	in, err := functionInstr(name, c.s)
	if err != nil {
		return Instr{}, err
	}
	c.tables[name] = in
	return in, nil
}

func (c *compiler) hardSigmoid(n *ir.Node, x int, alpha, beta float64) int {
	s := c.s
	scaled := c.publicScalar(n, MulPublic, x, int64(Encode(alpha, PublicShift)), s+PublicShift)
	y := c.publicScalar(n, AddPublic, c.scaleDown(n, scaled, PublicShift), int64(Encode(beta, s)), s)
	return c.emit(Instr{Op: Clip, In: []int{y}, Out: c.value(c.p.Tensors[x].Shape, s, n.Output), Min: 0, Max: int64(Encode(1, s)), Node: n.Name})
}

// rangeOf returns the traced range of value name, the input of n.
func (c *compiler) rangeOf(n *ir.Node, name string) ([2]float64, error) {
	r, ok := c.ranges[name]
	if !ok {
		return r, n.Errorf("its secure form holds on a bounded range of its input %q, and no range was traced for it: compile with calibration data (the scale sweep traces it)", name)
	}
	return r, nil
}

// octaveRange widens the positive range r to powers of two around it,
// with a factor of two of margin on each side, and checks it at scale s.
func octaveRange(n *ir.Node, what string, r [2]float64, s, maxLog2 int) (lo, hi float64, err error) {
	if !(r[0] > 0) {
		return 0, 0, n.Errorf("%s of a value that reached %g on calibration data: its secure form needs a positive input", what, r[0])
	}
	lo = math.Exp2(math.Floor(math.Log2(r[0] / 2)))
	hi = math.Exp2(math.Ceil(math.Log2(r[1] * 2)))
	lo = math.Max(lo, math.Ldexp(1, 4-s))
	if hi > math.Ldexp(1, maxLog2) || hi/lo > math.Ldexp(1, 60) || hi > math.Ldexp(1, 60-s) {
		return 0, 0, n.Errorf("%s of values in [%g, %g]: beyond the range [2^%d, 2^%d] its secure form supports at scale %d", what, r[0], r[1], 4-s, min(maxLog2, 60-s), s)
	}
	return lo, hi, nil
}

// newtonSteps returns how many Newton steps (each squaring the relative
// error) take a first guess with relative error e0 below 2^−(s+2).
func newtonSteps(e0 float64, s int) int {
	k := 0
	for e := e0; e > math.Ldexp(1, -s-2) && k < 8; e *= e {
		k++
	}
	return k
}

// guess emits a Piecewise first guess of f on the octaves of [lo, hi]
// (quadratic on each) with outputs at scale sOut, with the oracle's
// domain [lo, hi], and returns it with its largest relative error.
func (c *compiler) guess(n *ir.Node, x int, name string, f func(float64) float64, lo, hi float64, sOut int) (int, float64, error) {
	fn := function{name: name, f: f, lo: lo, hi: hi, left: [2]float64{f(lo), 0}, right: [2]float64{f(hi), 0}, degree: 2, octaves: true}
	t, err := fn.fit(c.s, sOut, math.Inf(1))
	if err != nil {
		return 0, 0, n.Errorf("%v", err)
	}
	in := t.instr(name)
	in.Domain = []int64{int64(Encode(lo, c.s)), int64(Encode(hi, c.s))}
	e0 := 0.0
	for i := 0; i <= 4096; i++ {
		v := lo * math.Pow(hi/lo, float64(i)/4096)
		y := Decode(uint64(evalPiecewise(&in, int64(Encode(v, c.s)))), sOut)
		e0 = math.Max(e0, math.Abs(y-f(v))/f(v))
	}
	if e0 >= 0.5 {
		return 0, 0, n.Errorf("first guess of %s on [%g, %g] is off by %.0f%% at scale %d", name, lo, hi, 100*e0, c.s)
	}
	in.In, in.Out, in.Node = []int{x}, c.value(c.p.Tensors[x].Shape, sOut, n.Output), n.Name
	return c.emit(in), e0, nil
}

// mul emits ScaleDown(a·b, shift), a tensor of scale out.
func (c *compiler) mul(n *ir.Node, a, b, shift, out int) int {
	shape := c.p.Tensors[a].Shape
	if sb := c.p.Tensors[b].Shape; sb.Size() > shape.Size() {
		shape = sb
	}
	sc := c.p.Tensors[a].Scale + c.p.Tensors[b].Scale
	prod := c.emit(Instr{Op: Mul, In: []int{a, b}, Out: c.value(shape, sc, n.Output), Node: n.Name})
	return c.emit(Instr{Op: ScaleDown, In: []int{prod}, Out: c.value(shape, out, n.Output), Shift: shift, Node: n.Name})
}

// lift returns x at scale s (from its scale s + e).
func (c *compiler) lift(n *ir.Node, x, e int) int {
	if e == 0 {
		return x
	}
	shape := c.p.Tensors[x].Shape
	return c.emit(Instr{Op: ScaleDown, In: []int{x}, Out: c.value(shape, c.s, n.Output), Shift: e, Node: n.Name})
}

// reciprocal emits 1/x for x in the traced range r, at scale s + e (see
// reciprocalOn).
func (c *compiler) reciprocal(n *ir.Node, x int, r [2]float64) (int, int, error) {
	lo, hi, err := octaveRange(n, "reciprocal", r, c.s, 24)
	if err != nil {
		return 0, 0, err
	}
	return c.reciprocalOn(n, x, lo, hi)
}

// reciprocalOn emits 1/x for x in [lo, hi] (powers of two) and returns
// it at scale s + e with 2^e = hi, so that 1/hi keeps s significant bits
// (a product with it then scales down by s + e).
func (c *compiler) reciprocalOn(n *ir.Node, x int, lo, hi float64) (int, int, error) {
	s := c.s
	e := max(0, int(math.Log2(hi)))
	y, e0, err := c.guess(n, x, "reciprocal", func(v float64) float64 { return 1 / v }, lo, hi, s+e)
	if err != nil {
		return 0, 0, err
	}
	for k := newtonSteps(e0, s); k > 0; k-- {
		t := c.mul(n, x, y, s+e, s) // x·y ≈ 1 at scale s
		z := c.publicScalar(n, AddPublic, c.publicScalar(n, MulPublic, t, -1, s), int64(Encode(2, s)), s)
		y = c.mul(n, y, z, s, s+e)
	}
	return y, e, nil
}

// rsqrt emits 1/√x for x in the traced range r, at scale s + e with
// 2^(2e) ≥ the range's top.
//
// For a square root (x·rsqrt(x)) the domain reaches down to 0: below the
// table's lowest octave, 2^(4−s) at least, the first guess is that
// octave's and x·y stays within √x ≤ 2^((4−s)/2) of √x, the precision a
// square root of a value of a few units has at scale s anyway.
func (c *compiler) rsqrt(n *ir.Node, x int, r [2]float64, forSqrt bool) (int, int, error) {
	s := c.s
	if forSqrt {
		r[0] = math.Max(r[0], math.Ldexp(1, -s))
	}
	lo, hi, err := octaveRange(n, "square root", r, s, 24)
	if err != nil {
		return 0, 0, err
	}
	e := max(0, int(math.Ceil(math.Log2(hi)/2)))
	y, e0, err := c.guess(n, x, "rsqrt", func(v float64) float64 { return 1 / math.Sqrt(v) }, lo, hi, s+e)
	// A square root's table may start higher than the traced minimum, as
	// long as it must to keep its products in the ring: below it the
	// error stays within √lo.
	for forSqrt && err != nil && lo < hi/4 {
		lo *= 2
		y, e0, err = c.guess(n, x, "rsqrt", func(v float64) float64 { return 1 / math.Sqrt(v) }, lo, hi, s+e)
	}
	if err != nil {
		return 0, 0, err
	}
	if forSqrt {
		c.p.Instrs[len(c.p.Instrs)-1].Domain[0] = 0
	}
	for k := newtonSteps(e0, s); k > 0; k-- {
		y2 := c.mul(n, y, y, s, s+2*e)
		t := c.mul(n, x, y2, s+2*e, s) // x·y² ≈ 1 at scale s
		z := c.publicScalar(n, AddPublic, c.publicScalar(n, MulPublic, t, -1, s), int64(Encode(3, s)), s)
		y = c.mul(n, y, z, s+1, s+e)
	}
	return y, e, nil
}

// divide emits a/b for a secret b whose traced range is positive or
// negative.
func (c *compiler) divide(n *ir.Node, a, b int) (int, error) {
	r, err := c.rangeOf(n, n.Inputs[1])
	if err != nil {
		return 0, err
	}
	neg := r[1] < 0
	if neg {
		b = c.publicScalar(n, MulPublic, b, -1, c.s)
		r = [2]float64{-r[1], -r[0]}
	}
	inv, e, err := c.reciprocal(n, b, r)
	if err != nil {
		return 0, err
	}
	if neg {
		inv = c.publicScalar(n, MulPublic, inv, -1, c.s+e)
	}
	return c.mul(n, a, inv, c.s+e, c.s), nil
}

// expGeneral emits e^x for x in the traced range r that reaches above 0:
// a Piecewise fit on [−16, hi] relative to e^x, refusing hi > 8.
func (c *compiler) expGeneral(n *ir.Node, x int, r [2]float64) (int, error) {
	hi := math.Exp2(math.Ceil(math.Log2(r[1] * 2)))
	if hi > 8 {
		return 0, n.Errorf("Exp of values up to %g: its secure form supports inputs up to 8 (e^8 ≈ 2981)", r[1])
	}
	fn := function{name: "exp", f: math.Exp, lo: -16, hi: hi, left: [2]float64{0, 0}, right: [2]float64{math.Exp(hi), 0}, degree: 4, relative: true}
	t, err := fn.fit(c.s, c.s, math.Ldexp(1, -c.s-2))
	if err != nil {
		return 0, n.Errorf("%v", err)
	}
	in := t.instr("exp")
	in.Domain = []int64{math.MinInt64 / 4, int64(Encode(hi, c.s))}
	in.In, in.Out, in.Node = []int{x}, c.value(c.p.Tensors[x].Shape, c.s, n.Output), n.Name
	return c.emit(in), nil
}

// logOn emits ln x for x in [lo, hi] (powers of two): a Piecewise table
// of degree 4 (3 or 2 on ranges too wide for it) on the octaves of the
// range, halved until each piece is within a quarter unit, with the
// oracle's domain [lo, hi].
func (c *compiler) logOn(n *ir.Node, x int, lo, hi float64) (int, error) {
	// One Horner shift serves every octave, so the small octaves'
	// coefficients grow with the range; a lower degree (more pieces)
	// keeps the products in the ring where degree 4 would not.
	var t table
	var err error
	for d := 4; d >= 2; d-- {
		fn := function{name: "log", f: math.Log, lo: lo, hi: hi, left: [2]float64{math.Log(lo), 0}, right: [2]float64{math.Log(hi), 0}, degree: d, octaves: true}
		if t, err = fn.fit(c.s, c.s, math.Ldexp(1, -c.s-2)); err == nil {
			break
		}
	}
	if err != nil {
		return 0, n.Errorf("%v", err)
	}
	in := t.instr("log")
	in.Domain = []int64{int64(Encode(lo, c.s)), int64(Encode(hi, c.s))}
	in.In, in.Out, in.Node = []int{x}, c.value(c.p.Tensors[x].Shape, c.s, n.Output), n.Name
	return c.emit(in), nil
}

// where emits Where(cond, a, b) for a constant condition: cond·a +
// (1 − cond)·b with the condition's 0/1 values as public factors.
func (c *compiler) where(n *ir.Node) (int, error) {
	cond := c.g.Const(n.Inputs[0])
	if cond == nil {
		return 0, n.Errorf("Where on a condition computed from the data is not supported in fixed point (only constant conditions)")
	}
	out := c.outShape(n)
	var sel [2][]int64
	for _, v := range cond.Floats() {
		b := int64(0)
		if v != 0 {
			b = 1
		}
		sel[0], sel[1] = append(sel[0], b), append(sel[1], 1-b)
	}
	var terms [2]int
	for i := range terms {
		x, err := c.operand(n, n.Inputs[1+i], c.s)
		if err != nil {
			return 0, err
		}
		x = c.broadcastTo(n, x, out)
		terms[i] = c.emit(Instr{Op: MulPublic, In: []int{x}, Out: c.value(out, c.s, n.Output), Public: sel[i], PublicShape: cond.Shape.Clone(), Node: n.Name})
	}
	return c.emit(Instr{Op: Add, In: terms[:], Out: c.value(out, c.s, n.Output), Node: n.Name}), nil
}

// softmax emits softmax along n's axis, or its logarithm (x − max −
// ln Σ e^(x−max), the sum in [1, n]).
func (c *compiler) softmax(n *ir.Node, x int, logarithm bool) (int, error) {
	s := c.s
	shape := c.p.Tensors[x].Shape
	axis := n.Attrs.Axis
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) {
		return 0, n.Errorf("axis %d of shape %v", n.Attrs.Axis, shape)
	}
	kept := shape.Clone()
	kept[axis] = 1
	m := c.emit(Instr{Op: ReduceMax, In: []int{x}, Out: c.value(kept, s, n.Output), Axes: []int{axis}, KeepDims: true, Node: n.Name})
	d := c.emit(Instr{Op: Sub, In: []int{x, m}, Out: c.value(shape, s, n.Output), Node: n.Name})
	e, err := c.piecewise(n, d, "exp_neg")
	if err != nil {
		return 0, err
	}
	sum := c.emit(Instr{Op: ReduceSum, In: []int{e}, Out: c.value(kept, s, n.Output), Axes: []int{axis}, KeepDims: true, Node: n.Name})
	// S ≥ e^0 = 1 up to the table's error, and at most the axis length.
	top := math.Exp2(math.Ceil(math.Log2(float64(shape[axis]) + 1)))
	if logarithm {
		l, err := c.logOn(n, sum, 0.5, top)
		if err != nil {
			return 0, err
		}
		return c.emit(Instr{Op: Sub, In: []int{d, l}, Out: c.value(shape, s, n.Output), Node: n.Name}), nil
	}
	inv, ex, err := c.reciprocalOn(n, sum, 0.5, top)
	if err != nil {
		return 0, err
	}
	return c.mul(n, e, inv, s+ex, s), nil
}

// TraceRanges runs the float graph on the examples (each holding every
// input of the graph, in order, concatenated) and returns, for the
// input of every node whose secure form needs one (Reciprocal, Sqrt,
// Rsqrt, Exp, Log, and the divisor of a Div by a computed value), the
// interval its elements reached: the Ranges of CompileWith.
func TraceRanges(g *ir.Graph, xs []Example) (map[string][2]float64, error) {
	var names []string
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		var v string
		switch n.Op {
		case ir.OpReciprocal, ir.OpSqrt, ir.OpRsqrt, ir.OpExp, ir.OpLog:
			v = n.Inputs[0]
		case ir.OpDiv:
			if g.Const(n.Inputs[1]) == nil {
				v = n.Inputs[1]
			}
		}
		if v != "" && !seen[v] {
			seen[v] = true
			names = append(names, v)
		}
	}
	ranges := map[string][2]float64{}
	if len(names) == 0 {
		return ranges, nil
	}
	if len(xs) == 0 {
		return nil, fmt.Errorf("tracing ranges of %d values: no calibration examples", len(names))
	}
	t := *g
	t.Outputs = names
	for _, nm := range names {
		ranges[nm] = [2]float64{math.Inf(1), math.Inf(-1)}
	}
	for i, x := range xs {
		// An example holds every input, in order, concatenated.
		feed := map[string]*ir.Tensor{}
		flat := x.Input
		for _, in := range g.Inputs {
			shape := g.Values[in].Shape
			if len(flat) < shape.Size() {
				return nil, fmt.Errorf("tracing ranges, example %d: %d values for the inputs, fewer than they hold", i, len(x.Input))
			}
			feed[in], flat = ir.FloatTensor(shape, flat[:shape.Size()]), flat[shape.Size():]
		}
		if len(flat) != 0 {
			return nil, fmt.Errorf("tracing ranges, example %d: %d values for the inputs, more than they hold", i, len(x.Input))
		}
		outs, err := ir.Run(&t, feed)
		if err != nil {
			return nil, fmt.Errorf("tracing ranges, example %d: %w", i, err)
		}
		for j, o := range outs {
			r := ranges[names[j]]
			for _, v := range o.Floats() {
				r[0], r[1] = math.Min(r[0], float64(v)), math.Max(r[1], float64(v))
			}
			ranges[names[j]] = r
		}
	}
	return ranges, nil
}
