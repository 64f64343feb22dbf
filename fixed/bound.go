package fixed

import (
	"fmt"
	"math"

	"veil/ir"
	"veil/tensor"
)

// Error bounds. A secure backend's every ScaleDown may exceed the exact
// one by 1 (the local truncation of secret shares: see mpc/porthos's
// ScaleDown), and its other ops are exact on their operands, so its
// tensors drift from the cleartext executor's. ElementBounds propagates
// a worst-case bound on that drift, element by element (in units of each
// tensor's own scale), through the program, given the cleartext value of
// every tensor (Trace). Holding a bound per element rather than one per
// tensor keeps it finite and much tighter: a ReLU whose input is
// negative by more than its error outputs exactly 0, a comparison far
// from its threshold is exact, a maximum is decided by the elements that
// can win. The rules:
//
//   - ScaleDown by s turns an input error e into at most ⌈e/2^s⌉ + 1:
//     the floors of values at most e apart differ by at most ⌈e/2^s⌉, and
//     the truncation adds 0 or 1, barring its failure event of
//     probability |x|/2^64;
//   - a product adds |b|·e_a + |a|·e_b + e_a·e_b per term, summed over
//     the terms of one output (a convolution or matrix product of the
//     errors with the absolute values);
//   - Add and Sub add the errors, AddPublic keeps them, MulPublic scales
//     them by |constant|, SumPool and ReduceSum sum them over the summed
//     elements; the copies (Reshape, Transpose, Concat, Pad, Slice) move
//     them with their elements; Const is exact;
//   - a non-decreasing op f (ReLU, Clip, the rounded DivPublic) computed
//     exactly on the secure value x' ∈ [x − e, x + e] is off by at most
//     max(f(x) − f(x − e), f(x + e) − f(x)); the maxima and minima (Max,
//     Min, MaxPool, ReduceMax) likewise from the interval of each
//     candidate;
//   - DReLU's bit is exact where the sign of x cannot change, else off
//     by at most 1; Mux is off by its chosen operand's error where its
//     selector is exact, else by at most |x − y| plus the other operand's
//     error; ArgMax is exact where the winner's interval lies above every
//     other candidate's, else off by at most the axis length − 1;
//   - Piecewise: see piecewiseBounder.
//
// The analysis is worst-case: through a deep network the bound of an
// element grows with the product of the layers' absolute weights, far
// beyond the drift a run shows. A bound is +Inf only where a float64
// overflowed; it is never NaN.

// ElementBounds returns the bound of every element of every output of p
// (indexed like p.Outputs) for the cleartext values vals of every tensor
// (Trace).
func (p *Program) ElementBounds(vals [][]uint64) ([][]float64, error) {
	outs := make([][]float64, len(p.Outputs))
	err := p.propagateBounds(vals, func(id int, e []float64) {
		for i, o := range p.Outputs {
			if o == id {
				outs[i] = dense(e, len(vals[id]))
			}
		}
	})
	for i, o := range p.Outputs {
		if outs[i] == nil && err == nil { // an input or a weight
			outs[i] = make([]float64, len(vals[o]))
		}
	}
	return outs, err
}

// ErrorBounds returns, for every tensor of p, the largest bound of
// ElementBounds over its elements (0 for the inputs and weights, which
// are exact). It returns +Inf everywhere if the analysis fails (vals not
// a trace of p).
func (p *Program) ErrorBounds(vals [][]uint64) []float64 {
	eb := make([]float64, len(p.Tensors))
	err := p.propagateBounds(vals, func(id int, e []float64) {
		m := 0.0
		for _, v := range e {
			m = math.Max(m, v)
		}
		eb[id] = m
	})
	if err != nil {
		for i := range eb {
			eb[i] = math.Inf(1)
		}
	}
	return eb
}

// propagateBounds runs the analysis, calling done with the bounds of
// every instruction's output (nil: all exact) as soon as they are known;
// it frees them after their last use.
func (p *Program) propagateBounds(vals [][]uint64, done func(id int, e []float64)) error {
	if len(vals) != len(p.Tensors) {
		return fmt.Errorf("error bounds: %d traced tensors, the program has %d", len(vals), len(p.Tensors))
	}
	eb := make([][]float64, len(p.Tensors))
	last := p.LastUse()
	for k := range p.Instrs {
		in := &p.Instrs[k]
		for _, id := range append([]int{in.Out}, in.In...) {
			if len(vals[id]) != p.Tensors[id].Shape.Size() {
				return fmt.Errorf("error bounds: instruction %d (%s of node %q): tensor %d not traced", k, in.Op, in.Node, id)
			}
		}
		e, err := p.instrBounds(in, vals, eb)
		if err != nil {
			return fmt.Errorf("error bounds: instruction %d (%s of node %q): %w", k, in.Op, in.Node, err)
		}
		for i, v := range e {
			if math.IsNaN(v) {
				e[i] = math.Inf(1)
			}
		}
		eb[in.Out] = e
		done(in.Out, e)
		for _, id := range in.In {
			if last[id] == k {
				eb[id] = nil
			}
		}
	}
	return nil
}

// instrBounds returns the bounds of in's output from its inputs' (nil:
// exact) and the cleartext values.
func (p *Program) instrBounds(in *Instr, vals [][]uint64, eb [][]float64) ([]float64, error) {
	shape := func(i int) ir.Shape { return p.Tensors[in.In[i]].Shape }
	out := p.Tensors[in.Out].Shape
	n := out.Size()
	x := func(i int) []uint64 { return vals[in.In[i]] }
	e := func(i int) []float64 { return eb[in.In[i]] }
	exact := true
	for i := range in.In {
		exact = exact && e(i) == nil
	}
	switch in.Op {
	case Const:
		return nil, nil
	case ScaleDown:
		r := make([]float64, n)
		unit := math.Ldexp(1, in.Shift)
		for i := range r {
			r[i] = math.Ceil(at(e(0), i)/unit) + 1
		}
		return r, nil
	case Piecewise:
		b := newPiecewiseBounder(in)
		r := make([]float64, n)
		for i, v := range x(0) {
			r[i] = b.bound(int64(v), at(e(0), i))
		}
		return r, nil
	}
	if exact {
		return nil, nil
	}
	switch in.Op {
	case Conv:
		return p.convBounds(in, x(0), x(1), e(0), e(1), eb, out), nil
	case MatMul:
		var r []float64
		if ea := e(0); ea != nil {
			r = matmul(ea, absValues(x(1)), shape(0), shape(1), out)
		}
		if ew := e(1); ew != nil {
			r = addInto(r, matmul(plusAbs(x(0), e(0)), ew, shape(0), shape(1), out))
		}
		return r, nil
	case Mul:
		a, b := x(0), x(1)
		ea, eb := dense(e(0), len(a)), dense(e(1), len(b))
		ai, bi := ir.BroadcastIndex(shape(0), out), ir.BroadcastIndex(shape(1), out)
		r := make([]float64, n)
		for i := range r {
			va, vb := math.Abs(float64(int64(a[ai[i]]))), math.Abs(float64(int64(b[bi[i]])))
			r[i] = mulBound(ea[ai[i]], vb) + mulBound(eb[bi[i]], va) + mulBound(ea[ai[i]], eb[bi[i]])
		}
		return r, nil
	case Add, Sub:
		return broadcast(dense(e(0), len(x(0))), dense(e(1), len(x(1))), shape(0), shape(1), out, func(a, b float64) float64 { return a + b }), nil
	case AddPublic:
		return broadcast(e(0), make([]float64, in.PublicShape.Size()), shape(0), in.PublicShape, out, func(a, _ float64) float64 { return a }), nil
	case MulPublic:
		c := make([]float64, len(in.Public))
		for i, v := range in.Public {
			c[i] = math.Abs(float64(v))
		}
		return broadcast(e(0), c, shape(0), in.PublicShape, out, mulBound), nil
	case Relu:
		return monotoneBounds(x(0), e(0), func(v float64) float64 { return math.Max(v, 0) }), nil
	case Clip:
		lo, hi := float64(in.Min), float64(in.Max)
		return monotoneBounds(x(0), e(0), func(v float64) float64 { return math.Min(math.Max(v, lo), hi) }), nil
	case DivPublic:
		di := ir.BroadcastIndex(in.PublicShape, shape(0))
		r := make([]float64, n)
		for i, v := range x(0) {
			d := float64(in.Public[di[i]])
			r[i] = monotoneBound(float64(int64(v)), e(0)[i], func(u float64) float64 { return math.Floor(u/d + 0.5) })
		}
		return r, nil
	case DReLU:
		r := make([]float64, n)
		for i, v := range x(0) {
			if u, ev := float64(int64(v)), e(0)[i]; (u-ev >= 0) != (u+ev >= 0) {
				r[i] = 1
			}
		}
		return r, nil
	case Mux:
		b, a, c := x(0), x(1), x(2)
		es, ea, ec := e(0), dense(e(1), n), dense(e(2), n)
		r := make([]float64, n)
		for i := range r {
			chosen, other := ea[i], ec[i]
			if b[i] == 0 {
				chosen, other = other, chosen
			}
			r[i] = chosen
			if at(es, i) > 0 {
				r[i] = math.Max(chosen, math.Abs(float64(int64(a[i]-c[i])))+other)
			}
		}
		return r, nil
	case Max, Min:
		a, b := x(0), x(1)
		ea, eb := dense(e(0), n), dense(e(1), n)
		r := make([]float64, n)
		for i := range r {
			r[i] = extremumBound([]uint64{a[i], b[i]}, []float64{ea[i], eb[i]}, in.Op == Min)
		}
		return r, nil
	case MaxPool, SumPool:
		return p.poolBounds(in, x(0), e(0), out), nil
	case ReduceSum, ReduceMax:
		return p.reduceBounds(in, x(0), e(0), n), nil
	case ArgMax:
		return p.argMaxBounds(in, x(0), e(0), n), nil
	case Reshape:
		return e(0), nil
	case Transpose, Concat, Pad, Slice:
		return p.moveBounds(in, eb)
	}
	return nil, fmt.Errorf("no error bound for op %q", in.Op)
}

// convBounds is a Conv's: |w| ⊛ e_x + (|x| + e_x) ⊛ e_w, plus the bias's
// error.
func (p *Program) convBounds(in *Instr, x, w []uint64, ex, ew []float64, eb [][]float64, out ir.Shape) []float64 {
	cp := p.ConvParams(in)
	xs := p.Tensors[in.In[0]].Shape
	nchw := func(v []float64) []float64 {
		if in.Layout == "NHWC" {
			return fromBits(ToNCHW(toBits(v), xs))
		}
		return v
	}
	r := make([]float64, out.Size())
	if ex != nil {
		tensor.Conv2D(r, nchw(ex), absValues(w), cp)
	}
	if ew != nil {
		s := make([]float64, len(r))
		tensor.Conv2D(s, nchw(plusAbs(x, ex)), ew, cp)
		addInto(r, s)
	}
	if len(in.In) == 3 {
		if e := eb[in.In[2]]; e != nil {
			plane := cp.OutH() * cp.OutW()
			for i := range r {
				r[i] += e[(i/plane)%cp.O]
			}
		}
	}
	if in.Layout == "NHWC" {
		r = fromBits(FromNCHW(toBits(r), out))
	}
	return r
}

// poolBounds is a MaxPool's (from the intervals of the window's
// elements) or a SumPool's (the sum of the window's errors).
func (p *Program) poolBounds(in *Instr, x []uint64, e []float64, out ir.Shape) []float64 {
	pp := p.PoolParams(in)
	xs := p.Tensors[in.In[0]].Shape
	if in.Layout == "NHWC" {
		x, e = ToNCHW(x, xs), fromBits(ToNCHW(toBits(e), xs))
	}
	r := make([]float64, out.Size())
	plane, oplane := pp.H*pp.W, pp.OutH()*pp.OutW()
	var vs []uint64
	var es []float64
	pp.Windows(func(o int, idx []int) {
		for nc := 0; nc < pp.NC; nc++ {
			if in.Op == SumPool {
				s := 0.0
				for _, i := range idx {
					s += e[nc*plane+i]
				}
				r[nc*oplane+o] = s
				continue
			}
			vs, es = vs[:0], es[:0]
			for _, i := range idx {
				vs, es = append(vs, x[nc*plane+i]), append(es, e[nc*plane+i])
			}
			r[nc*oplane+o] = extremumBound(vs, es, false)
		}
	})
	if in.Layout == "NHWC" {
		r = fromBits(FromNCHW(toBits(r), out))
	}
	return r
}

// reduceBounds is a ReduceSum's (the sum of the errors) or a ReduceMax's
// (from the intervals) over each group of reduced elements.
func (p *Program) reduceBounds(in *Instr, x []uint64, e []float64, n int) []float64 {
	idx := reduceIndex(p.Tensors[in.In[0]].Shape, in.Axes)
	r := make([]float64, n)
	if in.Op == ReduceSum {
		for i, v := range e {
			r[idx[i]] += v
		}
		return r
	}
	groups := make([][]int, n)
	for i, j := range idx {
		groups[j] = append(groups[j], i)
	}
	var vs []uint64
	var es []float64
	for j, g := range groups {
		vs, es = vs[:0], es[:0]
		for _, i := range g {
			vs, es = append(vs, x[i]), append(es, e[i])
		}
		r[j] = extremumBound(vs, es, false)
	}
	return r
}

// argMaxBounds is 0 where the winner's interval lies above every other
// candidate's, else the axis length − 1.
func (p *Program) argMaxBounds(in *Instr, x []uint64, e []float64, n int) []float64 {
	xs := p.Tensors[in.In[0]].Shape
	ax := in.Axis
	if ax < 0 {
		ax += len(xs)
	}
	inner := 1
	for _, d := range xs[ax+1:] {
		inner *= d
	}
	dim := xs[ax]
	r := make([]float64, n)
	for o := 0; o < n/inner; o++ {
		for j := 0; j < inner; j++ {
			base := o*dim*inner + j
			best := 0
			for k := 1; k < dim; k++ {
				if v, b := int64(x[base+k*inner]), int64(x[base+best*inner]); v > b || in.SelectLast && v == b {
					best = k
				}
			}
			lo := float64(int64(x[base+best*inner])) - e[base+best*inner]
			for k := 0; k < dim; k++ {
				if i := base + k*inner; k != best && float64(int64(x[i]))+e[i] >= lo {
					r[o*inner+j] = float64(dim - 1)
					break
				}
			}
		}
	}
	return r
}

// moveBounds moves the errors of a copy (Transpose, Concat, Pad, Slice)
// with their elements: the cleartext op itself on their bits, padding
// with exact zeros.
func (p *Program) moveBounds(in *Instr, eb [][]float64) ([]float64, error) {
	args := make([][]uint64, len(in.In))
	for i, id := range in.In {
		args[i] = toBits(dense(eb[id], p.Tensors[id].Shape.Size()))
	}
	mv := *in
	if mv.Op == Pad && mv.Mode == "" {
		mv.PadValue = 0 // the bits of +0.0
	}
	r, err := p.exec(&mv, args)
	if err != nil {
		return nil, err
	}
	return fromBits(r), nil
}

// extremumBound bounds the error of the maximum (the minimum if min) of
// the candidates vs (cleartext) with errors es (nil: exact): the secure
// maximum lies between the largest lower end and the largest upper end
// of the candidates' intervals, and the winner's own interval makes the
// upper end the farther from the cleartext maximum.
func extremumBound(vs []uint64, es []float64, min bool) float64 {
	if len(vs) == 0 {
		return 0
	}
	sign := 1.0
	if min {
		sign = -1
	}
	m, hi := math.Inf(-1), math.Inf(-1)
	for j, u := range vs {
		v := sign * float64(int64(u))
		m, hi = math.Max(m, v), math.Max(hi, v+at(es, j))
	}
	return hi - m
}

// monotoneBounds applies monotoneBound element-wise.
func monotoneBounds(x []uint64, e []float64, f func(float64) float64) []float64 {
	r := make([]float64, len(x))
	for i, v := range x {
		r[i] = monotoneBound(float64(int64(v)), e[i], f)
	}
	return r
}

// monotoneBound is the error of a non-decreasing f computed exactly at a
// value within e of x: max(f(x) − f(x − e), f(x + e) − f(x)).
func monotoneBound(x, e float64, f func(float64) float64) float64 {
	if e == 0 {
		return 0
	}
	if math.IsInf(e, 1) {
		return e
	}
	y := f(x)
	return math.Max(y-f(x-e), f(x+e)-y)
}

// at is e[i], or 0 when e is nil (exact).
func at(e []float64, i int) float64 {
	if e == nil {
		return 0
	}
	return e[i]
}

// dense is e, or n zeros when e is nil (exact).
func dense(e []float64, n int) []float64 {
	if e == nil {
		return make([]float64, n)
	}
	return e
}

// absValues is |v| of signed ring values as float64.
func absValues(v []uint64) []float64 {
	r := make([]float64, len(v))
	for i, u := range v {
		r[i] = math.Abs(float64(int64(u)))
	}
	return r
}

// plusAbs is |v| + e element-wise: the largest magnitude of a secure
// value.
func plusAbs(v []uint64, e []float64) []float64 {
	r := absValues(v)
	for i := range e {
		r[i] += e[i]
	}
	return r
}

// addInto adds s into r (r nil: s) and returns r.
func addInto(r, s []float64) []float64 {
	if r == nil {
		return s
	}
	for i := range r {
		r[i] += s[i]
	}
	return r
}

// toBits and fromBits carry float64 values through the cleartext copies
// bit for bit.
func toBits(v []float64) []uint64 {
	r := make([]uint64, len(v))
	for i, f := range v {
		r[i] = math.Float64bits(f)
	}
	return r
}

func fromBits(v []uint64) []float64 {
	r := make([]float64, len(v))
	for i, u := range v {
		r[i] = math.Float64frombits(u)
	}
	return r
}

// mulBound is the bound e·m of an error e scaled by m ≥ 0, which is 0
// when either is (an unbounded error times a factor 0 is no error, not
// NaN).
func mulBound(e, m float64) float64 {
	if e == 0 || m == 0 {
		return 0
	}
	return e * m
}

// VerifyOutput checks the decoded first output (Post applied) that a
// backend whose ScaleDowns may be off by one (see ElementBounds)
// computed for input x against the cleartext executor's: every
// comparison within the program's traced bound (CheckCompareBound), the
// same top-1 and, without Post, every value within its own propagated
// bound. It returns the largest deviation in units of the output's scale.
func (p *Program) VerifyOutput(x []float32, secure []float64) (float64, error) {
	if err := p.CheckCompareBound(x); err != nil {
		return 0, err
	}
	vals, err := p.Trace(p.EncodeInput(x))
	if err != nil {
		return 0, err
	}
	out := p.Outputs[0]
	clear := p.ApplyPost(p.DecodeOutput(0, vals[out]))
	if len(clear) != len(secure) {
		return 0, fmt.Errorf("%d secure outputs, %d cleartext", len(secure), len(clear))
	}
	if Top1(clear) != Top1(secure) {
		return 0, fmt.Errorf("top-1 %d, cleartext %d", Top1(secure), Top1(clear))
	}
	if p.Post != "" {
		return 0, nil
	}
	bounds, err := p.ElementBounds(vals)
	if err != nil {
		return 0, err
	}
	unit := math.Ldexp(1, -p.Tensors[out].Scale)
	dev := 0.0
	for i := range clear {
		d := math.Abs(secure[i]-clear[i]) / unit
		if d > bounds[0][i] {
			return d, fmt.Errorf("output %d is %g units from cleartext, beyond its bound %g", i, d, bounds[0][i])
		}
		dev = math.Max(dev, d)
	}
	return dev, nil
}
