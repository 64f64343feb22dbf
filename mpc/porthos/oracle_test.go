package porthos

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"veil/fixed"
	"veil/mpc"
)

// trace runs prog in the clear, instruction by instruction with the
// cleartext executor's own semantics (fixed.Program.Apply), and returns
// every tensor's values; its outputs equal prog.Run's.
func trace(t testing.TB, prog *fixed.Program, inputs ...[]uint64) [][]uint64 {
	t.Helper()
	vals := make([][]uint64, len(prog.Tensors))
	for i, id := range prog.Inputs {
		vals[id] = inputs[i]
	}
	for id, tt := range prog.Tensors {
		if tt.Kind == fixed.KindWeight {
			vals[id] = tt.Data
		}
	}
	for k := range prog.Instrs {
		in := &prog.Instrs[k]
		args := make([][]uint64, len(in.In))
		for i, id := range in.In {
			args[i] = vals[id]
		}
		out, err := prog.Apply(in, args)
		if err != nil {
			t.Fatalf("instruction %d: %v", k, err)
		}
		vals[in.Out] = out
	}
	return vals
}

// errorBounds propagates a worst-case bound on |secure − cleartext| (in
// units of each tensor's own scale, over all its elements) through prog,
// given the cleartext values of every tensor:
//
//   - ScaleDown by s turns an input error E into at most ⌈E/2^s⌉ + 1: the
//     floor of values at most E apart differs by at most ⌈E/2^s⌉, and the
//     protocol's truncation adds 0 or 1 (see ScaleDown), barring its
//     failure event of probability |x|/2^64;
//   - a product adds |b|·E_a + |a|·E_b + E_a·E_b per term, summed over the
//     terms of one output (the filter window, the inner dimension);
//   - Add and Sub add the errors; AddPublic, ReLU, MaxPool and the copies
//     keep them (ReLU and max are 1-Lipschitz and computed exactly on the
//     shares); MulPublic multiplies by the largest |constant|; SumPool and
//     ReduceSum by the number of summed elements;
//   - ArgMax outputs an index: its bound is 0 when its input is exact and
//     +Inf otherwise (a near tie may then flip it).
func errorBounds(prog *fixed.Program, vals [][]uint64) []float64 {
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
		case fixed.Conv, fixed.MatMul:
			x, w := in.In[0], in.In[1]
			var terms int
			var w1, x1 float64 // largest Σ|w| over one output's terms; Σ|x| likewise
			if in.Op == fixed.Conv {
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
			b = e(0)*(w1+float64(terms)*eb[w]) + eb[w]*x1
		case fixed.Mul:
			b = e(0)*maxAbs(in.In[1]) + e(1)*maxAbs(in.In[0]) + e(0)*e(1)
		case fixed.Add, fixed.Sub:
			b = e(0) + e(1)
		case fixed.MulPublic:
			m := 0.0
			for _, c := range in.Public {
				m = math.Max(m, math.Abs(float64(c)))
			}
			b = e(0) * m
		case fixed.ScaleDown:
			b = math.Ceil(e(0)/math.Ldexp(1, in.Shift)) + 1
		case fixed.SumPool:
			b = e(0) * float64(in.Kernel[0]*in.Kernel[1])
		case fixed.ReduceSum:
			b = e(0) * float64(prog.Tensors[in.In[0]].Shape.Size()/prog.Tensors[in.Out].Shape.Size())
		case fixed.ArgMax:
			if e(0) > 0 {
				b = math.Inf(1)
			}
		case fixed.Concat:
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

// simulate runs prog in the clear except that every ScaleDown is the
// protocol's: the value is split into a uniform share and the rest, and
// each part truncated as P0 and P1 truncate theirs (see ScaleDown). Since
// every other instruction is exact on its operands (checkSteps), this
// draws from the distribution of the secure execution's outputs.
func simulate(t testing.TB, prog *fixed.Program, r *rand.Rand, input []uint64) []uint64 {
	t.Helper()
	vals := make([][]uint64, len(prog.Tensors))
	vals[prog.Inputs[0]] = input
	for id, tt := range prog.Tensors {
		if tt.Kind == fixed.KindWeight {
			vals[id] = tt.Data
		}
	}
	for k := range prog.Instrs {
		in := &prog.Instrs[k]
		args := make([][]uint64, len(in.In))
		for i, id := range in.In {
			args[i] = vals[id]
		}
		if in.Op == fixed.ScaleDown {
			x := args[0]
			x0 := make([]uint64, len(x))
			for i := range x0 {
				x0[i] = r.Uint64()
			}
			x1 := make([]uint64, len(x))
			for i := range x1 {
				x1[i] = x[i] - x0[i]
			}
			y0, y1 := truncate(mpc.P0, x0, in.Shift), truncate(mpc.P1, x1, in.Shift)
			for i := range y0 {
				y0[i] += y1[i]
			}
			vals[in.Out] = y0
			continue
		}
		out, err := prog.Apply(in, args)
		if err != nil {
			t.Fatal(err)
		}
		vals[in.Out] = out
	}
	return vals[prog.Outputs[0]]
}

// deviation is the largest |secure − clear| over two encoded vectors.
func deviation(a, b []uint64) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("lengths %d and %d", len(a), len(b)))
	}
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(int64(a[i]-b[i]))))
	}
	return m
}
