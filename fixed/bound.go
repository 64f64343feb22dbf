package fixed

import (
	"fmt"
	"math"
)

// ErrorBounds propagates a worst-case bound on |secure − cleartext| (in
// units of each tensor's own scale, over all its elements) through p,
// for a backend whose every ScaleDown may exceed the exact one by 1 (the
// local truncation of secret shares: see mpc/porthos's ScaleDown) and
// whose other ops are exact on their operands, given the cleartext
// values of every tensor (Trace):
//
//   - ScaleDown by s turns an input error E into at most ⌈E/2^s⌉ + 1: the
//     floor of values at most E apart differs by at most ⌈E/2^s⌉, and the
//     truncation adds 0 or 1, barring its failure event of probability
//     |x|/2^64;
//   - a product adds |b|·E_a + |a|·E_b + E_a·E_b per term, summed over the
//     terms of one output (the filter window, the inner dimension);
//   - Add and Sub add the errors; AddPublic, ReLU, MaxPool and the copies
//     keep them (ReLU and max are 1-Lipschitz and computed exactly on the
//     shares); MulPublic multiplies by the largest |constant|; SumPool and
//     ReduceSum by the number of summed elements;
//   - ArgMax and DReLU output an index or a bit: the bound is 0 when the
//     input is exact and +Inf otherwise (a near tie may then flip it); Mux
//     keeps the larger of its operands' bounds when its selector is exact
//     and is unbounded otherwise; Const is exact.
func (p *Program) ErrorBounds(vals [][]uint64) []float64 {
	prog := p
	eb := make([]float64, len(prog.Tensors))
	maxAbs := func(id int) float64 {
		m := 0.0
		for _, v := range vals[id] {
			m = math.Max(m, math.Abs(float64(int64(v))))
		}
		return m + eb[id]
	}
	for k := range prog.Instrs {
		in := &prog.Instrs[k]
		e := func(i int) float64 { return eb[in.In[i]] }
		var b float64
		switch in.Op {
		case Conv, MatMul:
			x, w := in.In[0], in.In[1]
			var terms int
			var w1, x1 float64 // largest Σ|w| over one output's terms; Σ|x| likewise
			if in.Op == Conv {
				ws := prog.Tensors[w].Shape
				terms = ws[1] * ws[2] * ws[3]
				for o := 0; o < ws[0]; o++ {
					s := 0.0
					for _, v := range vals[w][o*terms : (o+1)*terms] {
						s += math.Abs(float64(int64(v)))
					}
					w1 = math.Max(w1, s)
				}
				x1 = float64(terms) * maxAbs(x)
			} else {
				xs, ws := prog.Tensors[x].Shape, prog.Tensors[w].Shape
				terms = xs[len(xs)-1]
				cols := 1
				if len(ws) > 1 {
					cols = ws[len(ws)-1]
				}
				colSum := make([]float64, cols*(len(vals[w])/(terms*cols)))
				for i, v := range vals[w] {
					batch, col := i/(terms*cols), i%cols
					colSum[batch*cols+col] += math.Abs(float64(int64(v)))
				}
				for _, s := range colSum {
					w1 = math.Max(w1, s)
				}
				x1 = float64(terms) * maxAbs(x)
			}
			b = mulBound(e(0), w1+float64(terms)*eb[w]) + mulBound(eb[w], x1)
		case Mul:
			b = mulBound(e(0), maxAbs(in.In[1])) + mulBound(e(1), maxAbs(in.In[0])) + mulBound(e(0), e(1))
		case Add, Sub:
			b = e(0) + e(1)
		case MulPublic:
			m := 0.0
			for _, c := range in.Public {
				m = math.Max(m, math.Abs(float64(c)))
			}
			b = mulBound(e(0), m)
		case ScaleDown:
			b = math.Ceil(e(0)/math.Ldexp(1, in.Shift)) + 1
		case SumPool:
			b = e(0) * float64(in.Kernel[0]*in.Kernel[1])
		case ReduceSum:
			b = e(0) * float64(prog.Tensors[in.In[0]].Shape.Size()/prog.Tensors[in.Out].Shape.Size())
		case ArgMax, DReLU:
			if e(0) > 0 {
				b = math.Inf(1)
			}
		case Mux:
			b = math.Max(e(1), e(2))
			if e(0) > 0 {
				b = math.Inf(1)
			}
		case Const:
			b = 0
		case Max, Min:
			b = max(e(0), e(1))
		case Piecewise:
			b = piecewiseBound(in, vals[in.In[0]], e(0))
		case Concat:
			for i := range in.In {
				b = math.Max(b, e(i))
			}
		default: // AddPublic, Relu, MaxPool, Reshape, Transpose, Pad, Slice
			b = e(0)
		}
		eb[in.Out] = b
	}
	return eb
}

// VerifyOutput checks the decoded first output (Post applied) that a
// backend whose ScaleDowns may be off by one (see ErrorBounds) computed
// for input x against the cleartext executor's: the same top-1 and,
// without Post, every value within the propagated bound. It returns the
// largest deviation in units of the output's scale.
func (p *Program) VerifyOutput(x []float32, secure []float64) (float64, error) {
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
	bound := p.ErrorBounds(vals)[out]
	unit := math.Ldexp(1, -p.Tensors[out].Scale)
	dev := 0.0
	for i := range clear {
		dev = math.Max(dev, math.Abs(secure[i]-clear[i])/unit)
	}
	if dev > bound {
		return dev, fmt.Errorf("outputs %g units from cleartext, bound %g", dev, bound)
	}
	return dev, nil
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
